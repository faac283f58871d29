// ome_api.hpp — OvenMediaEngine / OvenStudio pure helpers, header-only so tests compile them.
#pragma once

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

}  // namespace weft::connectors::ome
