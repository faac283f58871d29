// redact.hpp — known secret values are replaced wherever output is written (logs, errors, run
// history, CLI output). The vault registers every secret it decrypts; writers call redact().
//
//   redact::add_secret(access_token);
//   log_line = redact::apply(log_line);   // "...Bearer [REDACTED]..."
#pragma once

#include <string>
#include <string_view>

namespace weft::redact {

inline constexpr std::string_view kMask = "[REDACTED]";

// Remembers a secret value (process-wide, thread-safe). Values shorter than 6 bytes are ignored:
// masking them would garble ordinary text and they are not credentials worth the name.
void add_secret(std::string_view value);
// Forgets a secret (after rotation the old value may still be masked; forgetting is optional).
void remove_secret(std::string_view value);
// Returns text with every known secret replaced by kMask. Thread-safe.
std::string apply(std::string_view text);
// Number of secrets known (for tests).
std::size_t secret_count();

}  // namespace weft::redact
