// ome_api.hpp — OvenMediaEngine / OvenStudio pure helpers, header-only so tests compile them.
#pragma once

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cstdint>

#include "provider_call.hpp"

namespace weft::connectors::ome {

// The message of OME's {statusCode, message} error body (OvenStudio uses the same shape).
inline std::string error_message(const Var& body) { return generic_error_message(body); }

// The signed URL in an OvenStudio answer. Its exact shape is unverified, so this accepts a bare
// URL text, a JSON string, or a string member url / signedUrl / signed_url at the top or under
// `response` (or `response` itself being the string). "" when none is found.
inline std::string signed_url_of(const std::string& body) {
  auto is_url = [](const std::string& s) {
    return s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0;
  };
  if (is_url(body)) return body;
  if (body.size() > 2 && body.front() == '"' && body.back() == '"' && is_url(body.substr(1, body.size() - 2)))
    return body.substr(1, body.size() - 2);  // a bare JSON string (URLs need no unescaping here)
  Var v = try_parse(body);
  if (v.isString() && is_url(v.convert<std::string>())) return v.convert<std::string>();
  ObjectPtr o = as_object(v);
  for (int depth = 0; o && depth < 2; ++depth) {
    for (const char* k : {"url", "signedUrl", "signed_url"}) {
      if (o->has(k) && o->get(k).isString() && is_url(o->getValue<std::string>(k)))
        return o->getValue<std::string>(k);
    }
    if (o->has("response") && o->get("response").isString() && is_url(o->getValue<std::string>("response")))
      return o->getValue<std::string>("response");
    o = as_object(o->get("response"));
  }
  return {};
}

// OvenStudio's latest accepted expiry (its dates are 32-bit epoch seconds).
inline constexpr std::int64_t kOvenStudioMaxEpoch = 2147483647;  // 2038-01-19T03:14:07Z

// now + seconds as yyyy-mm-ddThh:mm:ssZ, clamped to kOvenStudioMaxEpoch. Throws
// Error("invalid_argument") when seconds is not positive.
inline std::string utc_after(std::int64_t now, std::int64_t seconds) {
  if (seconds <= 0) throw sdk::Error("invalid_argument", "valid_for_seconds must be positive");
  std::int64_t t = std::min(now + std::min<std::int64_t>(seconds, kOvenStudioMaxEpoch), kOvenStudioMaxEpoch);
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(t)),
                                         "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace weft::connectors::ome
