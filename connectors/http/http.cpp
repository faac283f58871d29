// The generic HTTP connector: action `request` sends one request through the host (which adds the
// connection's credentials, paces and retries) and returns {status, headers, body}.
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <string>
#include <string_view>

#include "weft/poco_json.hpp"
#include "weft/sdk.hpp"

namespace {

// The generated manifest.inc is a string literal; cppcheck does not see it.
// cppcheck-suppress internalAstError
const char kManifest[] =
#include "manifest.inc"
    ;

constexpr std::size_t kExcerptChars = 200;

using Poco::JSON::Object;

std::string to_json(const Poco::Dynamic::Var& v) { return weft::poco_json::condense(v); }

Poco::Dynamic::Var parse(std::string_view text, const char* what) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(std::string(text));
  } catch (const Poco::Exception& e) {
    throw weft::sdk::Error("invalid_response", std::string(what) + " is not valid JSON: " + e.displayText());
  }
}

// A short, single-line piece of a response body for an error message.
std::string excerpt(const std::string& body) {
  std::string out = body.substr(0, kExcerptChars);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (body.size() > kExcerptChars) out += "...";
  return out;
}

// The URL without its query string: enough to say which call failed without echoing parameters
// that may carry tokens.
std::string without_query(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

bool is_json_content_type(const Object::Ptr& headers) {
  for (const auto& [name, value] : *headers) {
    if (Poco::icompare(name, "content-type") != 0 || !value.isString()) continue;
    std::string type = Poco::toLower(value.extract<std::string>());
    type = type.substr(0, type.find(';'));
    Poco::trimInPlace(type);
    return type == "application/json" || type == "text/json" ||
           (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
  }
  return false;
}

std::string request(weft::sdk::Call& call, std::string_view input_text) {
  Object::Ptr input = parse(input_text, "the input").extract<Object::Ptr>();
  if (input->has("json") && input->has("body")) {
    throw weft::sdk::Error("invalid_argument", "give either json or body, not both");
  }
  const std::string method = input->getValue<std::string>("method");
  const std::string url = input->getValue<std::string>("url");

  Object::Ptr req = new Object(Poco::JSON_PRESERVE_KEY_ORDER);  // Poco's Ptr takes ownership
  req->set("method", method);
  req->set("url", url);
  Object::Ptr headers = input->has("headers") ? input->getObject("headers") : Object::Ptr(new Object());
  if (input->has("json")) {
    bool has_type = false;
    for (const auto& [name, value] : *headers) has_type |= Poco::icompare(name, "content-type") == 0;
    if (!has_type) headers->set("Content-Type", std::string("application/json"));
    req->set("body", to_json(input->get("json")));
  } else if (input->has("body")) {
    req->set("body", input->getValue<std::string>("body"));
  }
  req->set("headers", headers);
  if (input->has("query")) {
    Object::Ptr query = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [name, value] : *input->getObject("query")) query->set(name, value.convert<std::string>());
    req->set("query", query);
  }
  if (input->has("timeout_ms")) req->set("timeout_ms", input->get("timeout_ms"));

  Object::Ptr resp = parse(call.http(to_json(req)), "the host's HTTP response").extract<Object::Ptr>();
  const int status = resp->getValue<int>("status");
  Object::Ptr resp_headers = resp->has("headers") ? resp->getObject("headers") : Object::Ptr(new Object());
  const std::string body = resp->has("body") ? resp->getValue<std::string>("body") : std::string();

  const bool fail_on_status = !input->has("fail_on_status") || input->getValue<bool>("fail_on_status");
  if (fail_on_status && (status < 200 || status > 299)) {
    throw weft::sdk::Error("http_status", "HTTP " + std::to_string(status) + " from " + method + " " +
                                              without_query(url) + ": " + excerpt(body));
  }

  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("status", status);
  out->set("headers", resp_headers);
  Poco::Dynamic::Var parsed = body;
  if (!body.empty() && is_json_content_type(resp_headers)) {
    try {
      Poco::JSON::Parser parser;
      parsed = parser.parse(body);
    } catch (const Poco::Exception&) {
      // A server that labels text as JSON: hand the text over rather than fail a 2xx call.
    }
  }
  out->set("body", parsed);
  return to_json(out);
}

class HttpConnector : public weft::sdk::Connector {
 public:
  explicit HttpConnector(std::string_view /*settings*/) { on("request", &request); }
};

}  // namespace

WEFT_CONNECTOR(HttpConnector, kManifest)
