// Keeps weft_test_support non-empty before any support code exists.
