// The generic HTTP connector: action `request` sends one request through the host (which adds the
// connection's credentials, paces and retries) and returns {status, headers, body}.
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Handler.h>
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

// A Poco::JSON handler that keeps nothing: the parser checks a document's syntax and builds no tree.
class SyntaxOnly final : public Poco::JSON::Handler {
 public:
  void reset() override {}
  void startObject() override {}
  void endObject() override {}
  void startArray() override {}
  void endArray() override {}
  void key(const std::string&) override {}
  void null() override {}
  void value(int) override {}
  void value(unsigned) override {}
  void value(Poco::Int64) override {}
  void value(Poco::UInt64) override {}
  void value(const std::string&) override {}
  void value(double) override {}
  void value(bool) override {}
};

// Whether text is a JSON object or array that the host's parser takes as is, so the output can
// carry it verbatim instead of a parsed and re-written copy. Poco's parser refuses what follows the
// document and (with its usual handler) a bare scalar at the top, hence the first-byte check.
bool is_json_document(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (text[first] != '{' && text[first] != '[')) return false;
  try {
    Poco::JSON::Parser parser(new SyntaxOnly);  // Poco's Ptr takes ownership
    parser.parse(text);
    return true;
  } catch (const Poco::Exception&) {
    return false;  // a server that labels text as JSON: the text is handed over instead
  }
}

// The request goes to the host and the output to the engine as JSON text written here, member by
// member: neither is built as a Poco object first.
std::string request(weft::sdk::Call& call, std::string_view input_text) {
  Object::Ptr input = parse(input_text, "the input").extract<Object::Ptr>();
  if (input->has("json") && input->has("body")) {
    throw weft::sdk::Error("invalid_argument", "give either json or body, not both");
  }
  const std::string method = input->getValue<std::string>("method");
  const std::string url = input->getValue<std::string>("url");

  std::string req = "{";
  weft::poco_json::append_key(req, "method");
  weft::poco_json::append_string(req, method);
  weft::poco_json::append_key(req, "url");
  weft::poco_json::append_string(req, url);
  Object::Ptr headers = input->has("headers") ? input->getObject("headers") : Object::Ptr(new Object());
  if (input->has("json")) {
    bool has_type = false;
    for (const auto& [name, value] : *headers) has_type |= Poco::icompare(name, "content-type") == 0;
    if (!has_type) headers->set("Content-Type", std::string("application/json"));
    weft::poco_json::append_key(req, "body");
    weft::poco_json::append_string(req, to_json(input->get("json")));
  } else if (input->has("body")) {
    weft::poco_json::append_key(req, "body");
    weft::poco_json::append_string(req, input->getValue<std::string>("body"));
  }
  weft::poco_json::append_key(req, "headers");
  req += to_json(headers);
  if (input->has("query")) {
    weft::poco_json::append_key(req, "query");
    req += '{';
    for (const auto& [name, value] : *input->getObject("query")) {
      weft::poco_json::append_key(req, name);
      weft::poco_json::append_string(req, value.convert<std::string>());
    }
    req += '}';
  }
  if (input->has("timeout_ms")) {
    weft::poco_json::append_key(req, "timeout_ms");
    req += to_json(input->get("timeout_ms"));
  }
  req += '}';

  Object::Ptr resp = parse(call.http(req), "the host's HTTP response").extract<Object::Ptr>();
  const int status = resp->getValue<int>("status");
  Object::Ptr resp_headers = resp->has("headers") ? resp->getObject("headers") : Object::Ptr(new Object());
  const std::string body = resp->has("body") ? resp->getValue<std::string>("body") : std::string();

  const bool fail_on_status = !input->has("fail_on_status") || input->getValue<bool>("fail_on_status");
  if (fail_on_status && (status < 200 || status > 299)) {
    throw weft::sdk::Error("http_status", "HTTP " + std::to_string(status) + " from " + method + " " +
                                              without_query(url) + ": " + excerpt(body));
  }

  // {status, headers, body}: a JSON body (by its content type, and if it parses) as the document
  // itself, anything else as text.
  std::string out = "{";
  weft::poco_json::append_key(out, "status");
  out += std::to_string(status);
  weft::poco_json::append_key(out, "headers");
  out += to_json(resp_headers);
  weft::poco_json::append_key(out, "body");
  if (!body.empty() && is_json_content_type(resp_headers) && is_json_document(body)) {
    out += body;
  } else {
    weft::poco_json::append_string(out, body);
  }
  out += '}';
  return out;
}

class HttpConnector : public weft::sdk::Connector {
 public:
  explicit HttpConnector(std::string_view /*settings*/) { on("request", &request); }
};

}  // namespace

WEFT_CONNECTOR(HttpConnector, kManifest)
