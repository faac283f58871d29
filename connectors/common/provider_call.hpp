// provider_call.hpp — what the provider connectors (restream, livepush, ovenmediaengine) share:
// JSON in and out with Poco::JSON, settings from the call context, URL building with encoded path
// segments, the host HTTP request, and turning a provider's error body into a weft::sdk::Error
// that quotes the provider. Header-only so a test can compile it without loading a .so.
//
//   auto in = weft::connectors::parse_object(input, "input");
//   std::string url = base + "/v2/user/channel/" + weft::connectors::url_segment(id);
//   auto reply = weft::connectors::send(call, {.method = "GET", .url = url});
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "retry_after.hpp"
#include "weft/poco_json.hpp"
#include "weft/sdk.hpp"

namespace weft::connectors {

using Var = Poco::Dynamic::Var;
using Object = Poco::JSON::Object;
using Array = Poco::JSON::Array;
using ObjectPtr = Poco::JSON::Object::Ptr;
using ArrayPtr = Poco::JSON::Array::Ptr;

inline std::string stringify(const Var& v) { return weft::poco_json::condense(v); }

// Parses JSON text; nullopt-like empty Var on bad syntax (never throws).
inline Var try_parse(std::string_view text) {
  try {
    return Poco::JSON::Parser().parse(std::string(text));
  } catch (...) {
    return Var();
  }
}

inline ObjectPtr as_object(const Var& v) {
  if (v.type() == typeid(ObjectPtr)) return v.extract<ObjectPtr>();
  return {};
}
inline ArrayPtr as_array(const Var& v) {
  if (v.type() == typeid(ArrayPtr)) return v.extract<ArrayPtr>();
  return {};
}

// The handler's input as an object; throws Error("invalid_argument") naming `what` otherwise.
inline ObjectPtr parse_object(std::string_view text, const std::string& what) {
  ObjectPtr o = as_object(try_parse(text.empty() ? std::string_view("{}") : text));
  if (!o) throw sdk::Error("invalid_argument", what + " is not a JSON object");
  return o;
}

// A string member (numbers are accepted and printed, since ids arrive as either). Throws
// Error("invalid_argument") when required and missing or empty.
inline std::string get_string(const ObjectPtr& o, const std::string& key, bool required = true) {
  if (o && o->has(key) && !o->get(key).isEmpty()) {
    const Var& v = o->get(key);
    if (v.isString() || v.isNumeric()) {
      std::string s = v.convert<std::string>();
      if (!s.empty() || !required) return s;
    }
  }
  if (required)
    throw sdk::Error("invalid_argument", "input field '" + key + "' is required (a non-empty string)");
  return {};
}

// Percent-encodes one path segment: everything but RFC 3986 unreserved characters.
inline std::string url_segment(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]%\" <>\\^`{|}", out);
  return out;
}

inline std::string query_component(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]%\" <>\\^`{|}", out);
  return out;
}

// The connection's settings from the call context (an empty object when there are none).
inline ObjectPtr settings(sdk::Call& call) {
  ObjectPtr ctx = as_object(try_parse(call.context()));
  if (ctx && ctx->has("settings")) {
    if (ObjectPtr s = as_object(ctx->get("settings"))) return s;
  }
  return new Object;
}

// A URL setting without its trailing '/', so paths can be appended. Throws Error("failed_precondition")
// naming the setting when it is missing or not http(s).
inline std::string base_url(const ObjectPtr& settings, const std::string& key) {
  std::string v = get_string(settings, key, false);
  if (v.empty())
    throw sdk::Error(
        "failed_precondition",
        "setting '" + key + "' is not set; add it with `weft connections add … --set " + key + "=URL`");
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
    throw sdk::Error("failed_precondition",
                     "setting '" + key + "' must be an http:// or https:// URL, got '" + v + "'");
  while (!v.empty() && v.back() == '/') v.pop_back();
  return v;
}

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> query;
  std::map<std::string, std::string> headers;
  Var json;  // sent as the JSON body when not empty
  bool has_json = false;
  bool auth = true;  // false: the host adds no credentials (the connector sends its own)
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// The host request JSON for r (see weft_host.http).
inline std::string request_json(const HttpRequest& r) {
  ObjectPtr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("method", r.method);
  std::string url = r.url;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : r.query) {
    url += sep + query_component(k) + "=" + query_component(v);
    sep = '&';
  }
  o->set("url", url);
  ObjectPtr headers = new Object;
  headers->set("Accept", "application/json");
  for (const auto& [k, v] : r.headers) headers->set(k, v);
  o->set("headers", headers);
  if (r.has_json) o->set("json", r.json);
  if (!r.auth) o->set("auth", false);
  return stringify(o);
}

inline HttpReply parse_reply(const std::string& response_json) {
  ObjectPtr o = as_object(try_parse(response_json));
  if (!o || !o->has("status")) throw sdk::Error("host_error", "the host returned a malformed HTTP response");
  HttpReply r;
  r.status = o->getValue<int>("status");
  if (ObjectPtr h = as_object(o->get("headers")))
    for (const auto& [k, v] : *h) r.headers[k] = v.convert<std::string>();
  if (o->has("body") && o->get("body").isString()) r.body = o->getValue<std::string>("body");
  return r;
}

// Sends r through the host. Returns the reply for every HTTP status; throws the host's error when
// there was no response.
inline HttpReply send(sdk::Call& call, const HttpRequest& r) {
  return parse_reply(call.http(request_json(r)));
}

// Extracts the provider's human message from an error body, or "" when it has none.
using MessageOf = std::function<std::string(const Var& body)>;

// The message of the common JSON error shapes: {"message"}, {"error": "…", "error_description"},
// {"error": {"message"}}; "" when none is found.
inline std::string generic_error_message(const Var& body) {
  ObjectPtr o = as_object(body);
  if (!o) return {};
  auto str = [](const ObjectPtr& obj, const char* k) {
    return obj && obj->has(k) && obj->get(k).isString() ? obj->getValue<std::string>(k) : std::string();
  };
  if (ObjectPtr e = as_object(o->get("error"))) return str(e, "message");
  std::string msg = str(o, "message");
  if (msg.empty()) msg = str(o, "error_description");
  std::string err = str(o, "error");
  if (!err.empty() && !msg.empty()) return msg + " (" + err + ")";
  return msg.empty() ? err : msg;
}

// The weft error code (core/status.hpp names, which the registry maps to its Code) of a provider's
// HTTP status, so the engine can tell a missing thing from a bad token from an outage.
inline std::string code_for_status(int status) {
  switch (status) {
    case 400:
    case 422: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 409: return "already_exists";
    case 429: return "rate_limited";
    default: return status >= 500 ? "unavailable" : "failed_precondition";
  }
}

// Throws sdk::Error for an HTTP status >= 400, quoting the provider's message with the status:
// "<provider> answered HTTP 404: Channel not found"; the code comes from code_for_status. A 429
// keeps its Retry-After (delta-seconds or an HTTP-date, see retry_after.hpp) as retry_after_ms.
inline void check(const HttpReply& r, const std::string& provider, const MessageOf& message_of) {
  if (r.status < 400) return;
  std::string msg = message_of(try_parse(r.body));
  if (msg.empty()) msg = r.body.substr(0, 200);
  if (msg.empty()) msg = "(empty body)";
  long long retry_ms = -1;
  if (r.status == 429) {
    for (const auto& [k, v] : r.headers) {
      std::string lk = k;
      for (auto& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lk != "retry-after") continue;
      if (auto ms = retry_after_ms(v)) retry_ms = *ms;  // seconds or an HTTP-date
    }
  }
  throw sdk::Error(code_for_status(r.status), provider + " answered HTTP " + std::to_string(r.status) + ": " + msg,
                   retry_ms);
}

// The body as JSON; throws Error("provider_error") when a 2xx body is not JSON.
inline Var json_body(const HttpReply& r, const std::string& provider) {
  if (r.body.empty()) return Var();
  Var v = try_parse(r.body);
  if (v.isEmpty())
    throw sdk::Error("provider_error", provider + " answered HTTP " + std::to_string(r.status) +
                                           " with a body that is not JSON: " + r.body.substr(0, 120));
  return v;
}

// Items of a list answer: a bare array, or an array under one of the keys (e.g. {"data": […]}).
inline ArrayPtr list_of(const Var& v, const std::vector<std::string>& keys = {"data", "items"}) {
  if (ArrayPtr a = as_array(v)) return a;
  if (ObjectPtr o = as_object(v))
    for (const auto& k : keys)
      if (ArrayPtr a = as_array(o->get(k))) return a;
  return new Array;
}

// Polling trigger helper: the items whose id is not in the cursor's "seen" list, and the new cursor.
// The cursor keeps at most max_seen ids (the newest), so it stays bounded. A null cursor (first
// poll) emits nothing by default and only records what exists: a new trigger fires on new items.
struct PollResult {
  ArrayPtr items;
  ObjectPtr cursor;
};
inline PollResult poll_new(const std::vector<std::pair<std::string, Var>>& current, const Var& cursor,
                           bool emit_on_first_poll = false, std::size_t max_seen = 500) {
  PollResult out{new Array, new Object};
  std::vector<std::string> seen;
  bool first = true;
  if (ObjectPtr c = as_object(cursor)) {
    if (ArrayPtr s = as_array(c->get("seen"))) {
      first = false;
      for (const auto& v : *s) seen.push_back(v.convert<std::string>());
    }
  }
  std::set<std::string> known(seen.begin(), seen.end());
  for (const auto& [id, item] : current) {
    if (known.count(id)) continue;
    if (!first || emit_on_first_poll) out.items->add(item);
    seen.push_back(id);
    known.insert(id);
  }
  if (seen.size() > max_seen) seen.erase(seen.begin(), seen.end() - static_cast<std::ptrdiff_t>(max_seen));
  ArrayPtr s = new Array;
  for (const auto& id : seen) s->add(id);
  out.cursor->set("seen", s);
  return out;
}

// The trigger input {params, cursor}.
inline std::pair<ObjectPtr, Var> trigger_input(std::string_view input) {
  ObjectPtr in = parse_object(input, "trigger input");
  ObjectPtr params = as_object(in->get("params"));
  if (!params) params = new Object;
  return {params, in->has("cursor") ? in->get("cursor") : Var()};
}

inline std::string poll_output(const PollResult& r) {
  ObjectPtr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("items", r.items);
  o->set("cursor", r.cursor);
  return stringify(o);
}

}  // namespace weft::connectors
