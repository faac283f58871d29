// crypto.hpp — the vault's sealing primitives: AES-256-GCM over libcrypto (OpenSSL EVP).
//
//   auto key = MasterKey::generate();
//   std::string rec = seal(key, "my-conn", "access_token", "tok");   // version|key id|nonce|ct|tag
//   Result<std::string> pt = open_sealed(keyring, "my-conn", "access_token", rec);
//
// Poco::Crypto's Cipher has no way to pass GCM associated data in 1.11, so EVP is used directly.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace weft::vault::internal {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 12;  // 96-bit GCM nonce, random per seal
inline constexpr std::size_t kTagBytes = 16;    // 128-bit tag
inline constexpr std::size_t kKeyIdBytes = 8;   // first 8 bytes of SHA-256(key)

// A 256-bit master key; wiped on destruction. Copyable (the keyring holds copies).
class MasterKey {
 public:
  MasterKey() = default;
  explicit MasterKey(const std::array<unsigned char, kKeyBytes>& bytes);
  MasterKey(const MasterKey& other) = default;
  MasterKey& operator=(const MasterKey& other) = default;
  ~MasterKey();

  // A fresh key from the OS CSPRNG (getrandom(2)). kInternal when the RNG fails.
  static Result<MasterKey> generate();
  // Strict standard base64 of exactly 32 bytes (surrounding whitespace ignored). kInvalidArgument
  // naming `origin` (e.g. "WEFT_MASTER_KEY") otherwise; the message never contains the input.
  static Result<MasterKey> from_base64(std::string_view text, const std::string& origin);

  std::string to_base64() const;
  // 16 lowercase hex characters.
  const std::string& id() const { return id_; }
  const std::array<unsigned char, kKeyBytes>& bytes() const { return bytes_; }

 private:
  std::array<unsigned char, kKeyBytes> bytes_{};
  std::string id_;
};

// Keys by id. The vault usually holds one; two while a rotation is being completed.
using Keyring = std::map<std::string, MasterKey>;

// Seals plaintext for (context, field). Record layout: 0x01 | key id (8) | nonce (12) | ct | tag (16).
// The associated data is the 9-byte header + context + "\0" + field, so the record cannot be moved to
// another row or field, nor relabelled with another key id. kInternal only if OpenSSL fails.
Result<std::string> seal(const MasterKey& key, std::string_view context, std::string_view field,
                         std::string_view plaintext);

// The key id a sealed record names, or "" when the record is too short / of an unknown version.
std::string sealed_key_id(std::string_view record);

// Opens a record sealed by seal(). kDataLoss when its key is not in the keyring (message names the
// key id) or when authentication fails (tampered, truncated or moved).
Result<std::string> open_sealed(const Keyring& keys, std::string_view context, std::string_view field,
                                std::string_view record);

// Lowercase hex of SHA-256(data).
std::string sha256_hex(std::string_view data);
// n random bytes from the OS CSPRNG, as lowercase hex (2n characters).
Result<std::string> random_hex(std::size_t n);

}  // namespace weft::vault::internal
