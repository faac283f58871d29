// restream_api.hpp — Restream-specific pure helpers, header-only so tests compile them directly.
#pragma once

#include <Poco/Timestamp.h>

#include <algorithm>
#include <cstdint>

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

// A closed-open time window [from, to) in epoch seconds.
struct Window {
  std::int64_t from = 0;
  std::int64_t to = 0;
};

// The window list_upcoming_events filters on: day_offset (0 today, 1 tomorrow …) is a whole
// calendar day at utc_offset_minutes from UTC; scheduled_after / scheduled_before (epoch seconds)
// narrow it or stand alone. now is epoch seconds. Throws Error("invalid_argument") for an empty
// window.
inline Window window_of(const ObjectPtr& in, std::int64_t now) {
  constexpr std::int64_t kDay = 86400;
  Window w{INT64_MIN, INT64_MAX};
  if (in->has("day_offset")) {
    std::int64_t offset_s = in->optValue<int>("utc_offset_minutes", 0) * std::int64_t{60};
    std::int64_t local = now + offset_s;
    std::int64_t local_midnight = local - ((local % kDay) + kDay) % kDay;
    w.from = local_midnight + in->getValue<int>("day_offset") * kDay - offset_s;
    w.to = w.from + kDay;
  }
  if (in->has("scheduled_after")) w.from = std::max(w.from, in->getValue<std::int64_t>("scheduled_after"));
  if (in->has("scheduled_before")) w.to = std::min(w.to, in->getValue<std::int64_t>("scheduled_before"));
  if (w.from >= w.to)
    throw sdk::Error("invalid_argument",
                     "the time window is empty: scheduled_after must be before scheduled_before "
                     "and inside the day_offset day");
  return w;
}

// The events whose scheduledFor (epoch seconds) lies in w, in their order.
inline ArrayPtr scheduled_within(const ArrayPtr& events, const Window& w) {
  ArrayPtr out = new Array;
  for (const auto& v : *events) {
    ObjectPtr e = as_object(v);
    if (!e || !e->has("scheduledFor") || !e->get("scheduledFor").isNumeric()) continue;
    std::int64_t t = e->getValue<std::int64_t>("scheduledFor");
    if (t >= w.from && t < w.to) out->add(v);
  }
  return out;
}

struct HostPort {
  std::string host;
  int port = 0;
};

// Host and port of a URL such as "srt://live.restream.io:2010?streamid=…"; empty when unparsable.
inline HostPort host_port(const std::string& url) {
  try {
    if (url.empty()) return {};
    Poco::URI u(url);
    return {u.getHost(), u.getPort()};
  } catch (...) {
    return {};
  }
}

}  // namespace weft::connectors::restream
