// http_bridge.hpp — translates the JSON of weft_host.http (connector_abi.h) to and from the HTTP
// client's types.
//
//   Result<http::Request> req = http_bridge::request_from_json(request_json);
//   Json resp = http_bridge::response_to_json(*client.send(*req, opts));
//   std::string text = http_bridge::response_to_text(*client.send(*req, opts));  // the same, as text
#pragma once

#include "core/json.hpp"
#include "core/status.hpp"
#include "http/client.hpp"

namespace weft::http_bridge {

// Builds a request from {"method", "url", "headers"?, "query"?, "body"? | "json"?, "timeout_ms"?}.
// kInvalidArgument naming the member when something is missing or of the wrong type. A "json" body
// is serialised and sent with Content-Type: application/json unless a content type is given.
Result<http::Request> request_from_json(const Json& request);

// Whether the request asked to be sent with the connection's credentials ("auth", default true).
bool wants_auth(const Json& request);

// {"status": n, "headers": {lower-case name: value}, "body": "text"}; repeated headers are joined
// with ", ".
Json response_to_json(const http::Response& response);

// The same document as JSON text, written straight from the response (what
// json::stringify(response_to_json(response)) gives, without building the object first).
std::string response_to_text(const http::Response& response);

// The ABI's error object {"code", "message"} for a failed call.
Json error_to_json(const Status& status);

}  // namespace weft::http_bridge
