// security.hpp — the daemon's secrets at rest and at the door: the admin token file and webhook
// signatures.
//
//   Result<std::string> tok = ensure_admin_token(home + "/admin.token");   // created once, 0600
//   Status s = verify_webhook(policy, raw_body, request_header_lookup);    // unauthenticated on mismatch
#pragma once

#include <functional>
#include <string>

#include "core/status.hpp"

namespace weft::daemon {

// Returns the admin token stored at path, creating it on first call (32 random bytes as 64 hex
// characters, written to a temp file with mode 0600 and renamed into place, so a reader never sees
// half a token). permission_denied when the existing file is readable or writable by group/others;
// data_loss when it is empty or not a token. Safe against concurrent first starts (rename is atomic;
// the loser re-reads the winner's token).
Result<std::string> ensure_admin_token(const std::string& path);

// How a workflow's webhook proves the caller knows a secret.
struct WebhookPolicy {
  enum class Kind { kNone, kSharedSecret, kHmacSha256 } kind = Kind::kNone;
  std::string secret;
  // kSharedSecret: the header holding the secret verbatim. kHmacSha256: the header holding
  // "sha256=<hex of HMAC-SHA256(secret, raw body)>" (GitHub style).
  std::string header = "x-weft-signature";
};

// ok, or unauthenticated with a message that never contains the secret or the expected value.
// header_value(lowercase name) returns "" when absent. Comparisons are constant-time.
Status verify_webhook(const WebhookPolicy& policy, const std::string& raw_body,
                      const std::function<std::string(const std::string&)>& header_value);

// Lowercase hex HMAC-SHA256(key, data); used by verify_webhook and by tests/clients to sign.
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace weft::daemon
