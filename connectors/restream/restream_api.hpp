// restream_api.hpp — Restream-specific pure helpers, header-only so tests compile them directly.
#pragma once

#include <algorithm>

#include "provider_call.hpp"

namespace weft::connectors::restream {

// The message of Restream's error body {"error":{"statusCode","message","name"}}, as
// "message (name)"; also reads RFC 6749 {"error":"…","error_description":"…"} bodies.
inline std::string error_message(const Var& body) {
  ObjectPtr o = as_object(body);
  if (!o) return {};
  if (ObjectPtr e = as_object(o->get("error"))) {
    std::string msg = e->optValue<std::string>("message", "");
    std::string name = e->optValue<std::string>("name", "");
    if (!name.empty()) return msg.empty() ? name : msg + " (" + name + ")";
    return msg;
  }
  std::string err = o->optValue<std::string>("error", "");
  std::string desc = o->optValue<std::string>("error_description", o->optValue<std::string>("message", ""));
  if (!err.empty() && !desc.empty()) return desc + " (" + err + ")";
  return err.empty() ? desc : err;
}

}  // namespace weft::connectors::restream
