// signed_policy.hpp — OvenMediaEngine SignedPolicy, computed locally (no server call).
//
// policy    = Base64URL(policy JSON), no padding; times are epoch milliseconds.
// signature = Base64URL(HMAC-SHA1(secret, URL with an explicit port and the policy parameter,
//             without the signature parameter)), no padding.
//
//   auto s = weft::connectors::ome::sign("ws://host/app/stream", "secret", {.url_expire_ms = 1700000000000});
//   s.url == "ws://host:80/app/stream?policy=…&signature=…"
#pragma once

#include <Poco/Base64Encoder.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA1Engine.h>

#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace weft::connectors::ome {

struct Policy {
  std::int64_t url_expire_ms = 0;  // required
  std::optional<std::int64_t> url_activate_ms;
  std::optional<std::int64_t> stream_expire_ms;
  std::optional<std::string> allow_ip;  // CIDR
};

inline std::string base64url_nopad(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc.rdbuf()->setLineLength(0);
  enc << bytes;
  enc.close();
  return out.str();
}

inline std::string hmac_sha1(const std::string& key, const std::string& message) {
  Poco::HMACEngine<Poco::SHA1Engine> hmac(key);
  hmac.update(message);
  const auto& d = hmac.digest();
  return std::string(d.begin(), d.end());
}

// The policy JSON with url_expire first, in the order OME's docs print it.
inline std::string policy_json(const Policy& p) {
  std::string out = "{\"url_expire\":" + std::to_string(p.url_expire_ms);
  if (p.url_activate_ms) out += ",\"url_activate\":" + std::to_string(*p.url_activate_ms);
  if (p.stream_expire_ms) out += ",\"stream_expire\":" + std::to_string(*p.stream_expire_ms);
  if (p.allow_ip) {
    out += ",\"allow_ip\":\"";
    for (char c : *p.allow_ip)
      if (c != '"' && c != '\\') out.push_back(c);  // a CIDR never holds these
    out += "\"";
  }
  return out + "}";
}

// The default port of a scheme OME serves, or 0 when unknown.
inline int default_port(const std::string& scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "rtmp") return 1935;
  if (scheme == "rtmps") return 443;
  if (scheme == "rtsp") return 554;
  return 0;
}

// url with its port written out ("ws://h/x" -> "ws://h:80/x"). Throws std::invalid_argument when
// url has no scheme or host, or no port and a scheme whose default port is unknown (e.g. srt).
inline std::string with_explicit_port(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos || sep == 0) throw std::invalid_argument("URL '" + url + "' has no scheme");
  std::string scheme = url.substr(0, sep);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto host_start = sep + 3;
  auto host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  std::string authority = url.substr(host_start, host_end - host_start);
  if (authority.empty()) throw std::invalid_argument("URL '" + url + "' has no host");
  auto bracket = authority.rfind(']');
  auto colon = authority.rfind(':');
  bool has_port = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  if (has_port) return url;
  int port = default_port(scheme);
  if (port == 0)
    throw std::invalid_argument("URL '" + url + "' needs an explicit port (scheme " + scheme + ")");
  return url.substr(0, host_end) + ":" + std::to_string(port) + url.substr(host_end);
}

struct Signed {
  std::string url;        // with policy and signature
  std::string policy;     // the Base64URL policy
  std::string signature;  // the Base64URL signature
  std::string policy_json;
};

// Signs url (which must not already carry the policy or signature parameters).
inline Signed sign(const std::string& url, const std::string& secret, const Policy& p,
                   const std::string& policy_key = "policy", const std::string& signature_key = "signature") {
  if (secret.empty()) throw std::invalid_argument("the SignedPolicy secret is empty");
  if (p.url_expire_ms <= 0)
    throw std::invalid_argument("url_expire must be a positive epoch time in milliseconds");
  Signed s;
  s.policy_json = policy_json(p);
  s.policy = base64url_nopad(s.policy_json);
  std::string base = with_explicit_port(url);
  auto hash = base.find('#');
  std::string fragment = hash == std::string::npos ? "" : base.substr(hash);
  base = base.substr(0, hash);
  std::string to_sign =
      base + (base.find('?') == std::string::npos ? "?" : "&") + policy_key + "=" + s.policy;
  s.signature = base64url_nopad(hmac_sha1(secret, to_sign));
  s.url = to_sign + "&" + signature_key + "=" + s.signature + fragment;
  return s;
}

}  // namespace weft::connectors::ome
