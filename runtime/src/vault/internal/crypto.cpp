#include "vault/internal/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <sys/random.h>

#include <cctype>
#include <cerrno>
#include <memory>

namespace weft::vault::internal {
namespace {

constexpr unsigned char kRecordVersion = 1;
constexpr std::size_t kHeaderBytes = 1 + kKeyIdBytes;
constexpr std::size_t kBase64KeyChars = 44;  // 32 bytes -> 43 characters + one '='

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

bool from_hex(std::string_view hex, unsigned char* out, std::size_t n) {
  if (hex.size() != n * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < n; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

std::string associated_data(std::string_view header, std::string_view context, std::string_view field) {
  std::string ad;
  ad.reserve(header.size() + context.size() + 1 + field.size());
  ad.append(header).append(context).push_back('\0');
  ad.append(field);
  return ad;
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* u8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Random bytes from the kernel's generator (getrandom(2), blocking only until it is seeded at boot),
// the source OpenSSL's own generator seeds from; the vault needs only a few (keys, nonces, tokens).
bool fill_random(unsigned char* out, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

MasterKey::MasterKey(const std::array<unsigned char, kKeyBytes>& bytes) : bytes_(bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes_.data(), bytes_.size(), digest);
  id_ = to_hex(digest, kKeyIdBytes);
}

MasterKey::~MasterKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Result<MasterKey> MasterKey::generate() {
  std::array<unsigned char, kKeyBytes> b{};
  if (!fill_random(b.data(), b.size())) return {Code::kInternal, "the system random generator failed"};
  MasterKey k(b);
  OPENSSL_cleanse(b.data(), b.size());
  return k;
}

Result<MasterKey> MasterKey::from_base64(std::string_view text, const std::string& origin) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  const std::string how =
      origin + " must be the base64 of exactly 32 random bytes (44 characters ending in '='); create one with "
               "`head -c 32 /dev/urandom | base64`";
  if (text.empty()) return {Code::kInvalidArgument, origin + " is empty; " + how};
  if (text.size() != kBase64KeyChars) {
    return {Code::kInvalidArgument, origin + " has " + std::to_string(text.size()) + " characters; " + how};
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alpha = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
    if (i + 1 == text.size() ? c != '=' : !alpha) {
      return {Code::kInvalidArgument, origin + " is not valid base64 of 32 bytes; " + how};
    }
  }
  unsigned char decoded[kBase64KeyChars] = {};
  // EVP_DecodeBlock counts the padding byte: 44 characters decode to 33 with the last one padding.
  const int n = EVP_DecodeBlock(decoded, u8(text), static_cast<int>(text.size()));
  if (n != static_cast<int>(kKeyBytes) + 1) {
    OPENSSL_cleanse(decoded, sizeof decoded);
    return {Code::kInvalidArgument, origin + " is not valid base64 of 32 bytes; " + how};
  }
  std::array<unsigned char, kKeyBytes> b{};
  std::copy(decoded, decoded + kKeyBytes, b.begin());
  OPENSSL_cleanse(decoded, sizeof decoded);
  MasterKey k(b);
  OPENSSL_cleanse(b.data(), b.size());
  // Reject non-canonical encodings (stray low bits in the last character) so one key has one text.
  if (k.to_base64() != text) return {Code::kInvalidArgument, origin + " is not canonical base64 of 32 bytes; " + how};
  return k;
}

std::string MasterKey::to_base64() const {
  std::string out(kBase64KeyChars + 1, '\0');
  const int n = EVP_EncodeBlock(u8(out), bytes_.data(), static_cast<int>(bytes_.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> seal(const MasterKey& key, std::string_view context, std::string_view field,
                         std::string_view plaintext) {
  std::string rec(kHeaderBytes + kNonceBytes + plaintext.size() + kTagBytes, '\0');
  rec[0] = static_cast<char>(kRecordVersion);
  from_hex(key.id(), u8(rec) + 1, kKeyIdBytes);
  unsigned char* nonce = u8(rec) + kHeaderBytes;
  if (!fill_random(nonce, kNonceBytes)) return {Code::kInternal, "the system random generator failed"};
  const std::string ad = associated_data(std::string_view(rec.data(), kHeaderBytes), context, field);

  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  unsigned char* ct = nonce + kNonceBytes;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes().data(), nonce) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(ad), static_cast<int>(ad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), ct, &len, u8(plaintext), static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                                ct + plaintext.size()) == 1;
  if (!ok) return {Code::kInternal, "AES-256-GCM encryption failed in OpenSSL"};
  return rec;
}

std::string sealed_key_id(std::string_view record) {
  if (record.size() < kHeaderBytes + kNonceBytes + kTagBytes || static_cast<unsigned char>(record[0]) != kRecordVersion) {
    return "";
  }
  return to_hex(u8(record) + 1, kKeyIdBytes);
}

Result<std::string> open_sealed(const Keyring& keys, std::string_view context, std::string_view field,
                                std::string_view record) {
  const std::string id = sealed_key_id(record);
  if (id.empty()) return {Code::kDataLoss, "cannot decrypt: the sealed record is truncated or of an unknown format"};
  auto it = keys.find(id);
  if (it == keys.end()) {
    return {Code::kDataLoss, "cannot decrypt: wrong master key (vault was sealed with key " + id + ")"};
  }
  const unsigned char* nonce = u8(record) + kHeaderBytes;
  const unsigned char* ct = nonce + kNonceBytes;
  const std::size_t ct_len = record.size() - kHeaderBytes - kNonceBytes - kTagBytes;
  std::string tag(record.substr(record.size() - kTagBytes));
  const std::string ad = associated_data(record.substr(0, kHeaderBytes), context, field);

  std::string pt(ct_len, '\0');
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, it->second.bytes().data(), nonce) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(ad), static_cast<int>(ad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), u8(pt), &len, ct, static_cast<int>(ct_len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), u8(pt) + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(pt.data(), pt.size());
    return {Code::kDataLoss, "cannot decrypt: the record failed authentication (tampered with, or moved from another "
                             "connection or field)"};
  }
  return pt;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(u8(data), data.size(), digest);
  return to_hex(digest, sizeof digest);
}

Result<std::string> random_hex(std::size_t n) {
  std::string b(n, '\0');
  if (!fill_random(u8(b), n)) return {Code::kInternal, "the system random generator failed"};
  return to_hex(u8(b), n);
}

}  // namespace weft::vault::internal
