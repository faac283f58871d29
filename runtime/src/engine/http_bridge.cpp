#include "engine/http_bridge.hpp"

#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "weft/poco_json.hpp"

namespace weft::http_bridge {

namespace {
constexpr long long kMaxTimeoutMs = 10LL * 60 * 1000;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A scalar JSON value as the text sent on the wire (strings as is, numbers and booleans printed).
Result<std::string> scalar_text(const Json& v, const std::string& where) {
  if (v.isString()) return v.extract<std::string>();
  if (v.isBoolean()) return std::string(v.convert<bool>() ? "true" : "false");
  if (v.isNumeric()) return json::stringify(v);
  return Status(Code::kInvalidArgument, where + " must be a string, number or boolean");
}
}  // namespace

Result<http::Request> request_from_json(const Json& request) {
  if (!json::is_object(request)) return Status(Code::kInvalidArgument, "http request must be a JSON object");
  http::Request req;
  Json method = json::get(request, "method");
  if (!method.isEmpty()) {
    if (!method.isString()) return Status(Code::kInvalidArgument, "http request 'method' must be a string");
    req.method = method.extract<std::string>();
    std::transform(req.method.begin(), req.method.end(), req.method.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    bool token = !req.method.empty() && std::all_of(req.method.begin(), req.method.end(), [](unsigned char c) {
      return std::isupper(c) != 0;
    });
    if (!token) return Status(Code::kInvalidArgument, "http request 'method' is not an HTTP method: " + req.method);
  }
  Json url = json::get(request, "url");
  if (!url.isString() || url.extract<std::string>().empty()) {
    return Status(Code::kInvalidArgument, "http request needs a non-empty string 'url'");
  }
  req.url = url.extract<std::string>();

  if (auto query = json::as_object(json::get(request, "query")); !query.isNull()) {
    try {
      Poco::URI uri(req.url);
      for (const auto& name : query->getNames()) {
        Json v = query->get(name);
        if (v.isEmpty()) continue;
        auto text = scalar_text(v, "query parameter '" + name + "'");
        if (!text) return text.status();
        uri.addQueryParameter(name, *text);
      }
      req.url = uri.toString();
    } catch (const Poco::Exception& e) {
      return Status(Code::kInvalidArgument, "http request 'url' is not a valid URL: " + e.displayText());
    }
  } else if (!json::get(request, "query").isEmpty()) {
    return Status(Code::kInvalidArgument, "http request 'query' must be an object");
  }

  bool has_content_type = false;
  if (auto headers = json::as_object(json::get(request, "headers")); !headers.isNull()) {
    for (const auto& name : headers->getNames()) {
      Json v = headers->get(name);
      if (v.isEmpty()) continue;
      auto text = scalar_text(v, "header '" + name + "'");
      if (!text) return text.status();
      if (lower(name) == "content-type") has_content_type = true;
      req.headers.emplace_back(name, *text);
    }
  } else if (!json::get(request, "headers").isEmpty()) {
    return Status(Code::kInvalidArgument, "http request 'headers' must be an object");
  }

  Json body = json::get(request, "body");
  Json json_body = json::get(request, "json");
  if (!body.isEmpty() && !json_body.isEmpty()) {
    return Status(Code::kInvalidArgument, "http request has both 'body' and 'json'; give one");
  }
  if (!body.isEmpty()) {
    if (!body.isString()) return Status(Code::kInvalidArgument, "http request 'body' must be a string");
    req.body = body.extract<std::string>();
  } else if (json::as_object(request)->has("json")) {
    req.body = json_body.isEmpty() ? "null" : json::stringify(json_body);
    if (!has_content_type) req.headers.emplace_back("Content-Type", "application/json");
  }

  Json timeout = json::get(request, "timeout_ms");
  if (!timeout.isEmpty()) {
    if (!timeout.isNumeric()) return Status(Code::kInvalidArgument, "http request 'timeout_ms' must be a number");
    long long ms = timeout.convert<long long>();
    if (ms <= 0 || ms > kMaxTimeoutMs) {
      return Status(Code::kInvalidArgument, "http request 'timeout_ms' must be between 1 and 600000");
    }
    req.timeout = std::chrono::milliseconds(ms);
  }
  return req;
}

bool wants_auth(const Json& request) {
  Json a = json::get(request, "auth");
  if (a.isBoolean()) return a.convert<bool>();
  return true;
}

namespace {
// A response's headers as the connector sees them: names lower-cased, a repeated header once, its
// values joined with ", " in the order they came.
std::vector<std::pair<std::string, std::string>> merged_headers(const http::Response& response) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(response.headers.size());
  for (const auto& [name, value] : response.headers) {
    std::string key = lower(name);
    auto same = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == key; });
    if (same != headers.end()) {
      same->second += ", " + value;
    } else {
      headers.emplace_back(std::move(key), value);
    }
  }
  return headers;
}
}  // namespace

Json response_to_json(const http::Response& response) {
  auto headers = json::new_object();
  for (const auto& [name, value] : merged_headers(response)) headers->set(name, value);
  return json::object({{"status", response.status}, {"headers", headers}, {"body", response.body}});
}

std::string response_to_text(const http::Response& response) {
  const auto headers = merged_headers(response);
  std::string out;
  out.reserve(64 + response.body.size() + 48 * headers.size());
  out += "{\"status\":";
  out += std::to_string(response.status);
  out += ",\"headers\":{";
  for (const auto& [name, value] : headers) {
    poco_json::append_key(out, name);
    poco_json::append_string(out, value);
  }
  out += "},\"body\":";
  poco_json::append_string(out, response.body);
  out += '}';
  return out;
}

Json error_to_json(const Status& status) {
  return json::object({{"code", std::string(code_name(status.code()))}, {"message", status.message()}});
}

}  // namespace weft::http_bridge
