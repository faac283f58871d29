#include "connector_host.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <valijson/adapters/poco_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "support/test_support.hpp"

#ifdef WEFT_VIA_REGISTRY
#include "core/json.hpp"
#include "plugin/registry.hpp"
#endif

// The opaque call context of the ABI, defined here for this test host.
struct weft_call_ctx {
  weft::test::ConnectorHost* host;
  std::string operation;
};

namespace weft::test {

namespace {
using Var = Poco::Dynamic::Var;
using ObjectPtr = Poco::JSON::Object::Ptr;

std::string stringify(const Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(v, out);
  return out.str();
}

// Performs a weft_host.http request (JSON text) for host and returns the response JSON text.
// Throws std::exception when no response was had.
std::string loopback_http(ConnectorHost& host, const std::string& request_json) {
  {
    ObjectPtr req = Poco::JSON::Parser().parse(request_json).extract<ObjectPtr>();
    // The path is sent exactly as the connector encoded it: Poco::URI would decode %2F into '/'.
    const std::string url = req->getValue<std::string>("url");
    Poco::URI uri(url);
    auto path_start = url.find('/', url.find("://") + 3);
    std::string path_etc = path_start == std::string::npos ? "/" : url.substr(path_start);
    if (ObjectPtr q = req->getObject("query")) {
      for (const auto& [k, v] : *q) {
        std::string ek, ev;
        Poco::URI::encode(k, "&=+#", ek);
        Poco::URI::encode(v.convert<std::string>(), "&=+#", ev);
        path_etc += (path_etc.find('?') == std::string::npos ? "?" : "&") + ek + "=" + ev;
      }
    }
    if (uri.getHost() != "127.0.0.1") throw std::runtime_error("test host only calls 127.0.0.1");
    std::string method = req->optValue<std::string>("method", "GET");
    bool auth = req->optValue<bool>("auth", true);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest hreq(method, path_etc, Poco::Net::HTTPMessage::HTTP_1_1);
    std::map<std::string, std::string> sent;
    if (ObjectPtr h = req->getObject("headers"))
      for (const auto& [k, v] : *h) hreq.set(k, v.convert<std::string>());
    if (auth && !host.auth.first.empty()) hreq.set(host.auth.first, host.auth.second);
    std::string body;
    if (req->has("json")) {
      body = stringify(req->get("json"));
      hreq.setContentType("application/json");
    } else if (req->has("body")) {
      body = req->getValue<std::string>("body");
    }
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
      hreq.setContentLength(static_cast<std::streamsize>(body.size()));
    for (const auto& [k, v] : hreq) sent[k] = v;
    host.requests.push_back(method + " " + uri.getScheme() + "://" + uri.getAuthority() + path_etc +
                            (auth ? " auth" : " noauth"));
    host.request_headers.push_back(sent);
    session.sendRequest(hreq) << body;
    Poco::Net::HTTPResponse hresp;
    std::string rbody;
    Poco::StreamCopier::copyToString(session.receiveResponse(hresp), rbody);
    ObjectPtr resp = new Poco::JSON::Object;
    resp->set("status", static_cast<int>(hresp.getStatus()));
    ObjectPtr headers = new Poco::JSON::Object;
    for (const auto& [k, v] : hresp) headers->set(k, v);
    resp->set("headers", headers);
    resp->set("body", rbody);
    return stringify(resp);
  }
}

#ifndef WEFT_VIA_REGISTRY
bool fill(weft_buf* out, const std::string& s) {
  out->ptr = static_cast<char*>(std::malloc(s.size() + 1));
  if (out->ptr == nullptr) return false;
  std::memcpy(out->ptr, s.data(), s.size());
  out->len = s.size();
  return true;
}

weft_status error(weft_buf* out, const std::string& code, const std::string& message) {
  ObjectPtr o = new Poco::JSON::Object;
  o->set("code", code);
  o->set("message", message);
  fill(out, stringify(o));
  return WEFT_ERROR;
}

void* host_alloc(size_t n) { return std::malloc(n == 0 ? 1 : n); }
void host_free(void* p) { std::free(p); }
void host_log(weft_call_ctx*, weft_log_level, const char*, size_t) {}

weft_status host_http(weft_call_ctx* ctx, const char* req_json, size_t len, weft_buf* out) {
  try {
    fill(out, loopback_http(*ctx->host, std::string(req_json, len)));
    return WEFT_OK;
  } catch (const std::exception& e) {
    return error(out, "unavailable", e.what());
  }
}

weft_status host_context(weft_call_ctx* ctx, weft_buf* out) {
  ObjectPtr o = new Poco::JSON::Object;
  o->set("connector", ctx->host->manifest->getValue<std::string>("id"));
  o->set("operation", ctx->operation);
  o->set("connection", "test");
  o->set("settings", ctx->host->settings);
  o->set("run_id", "run-1");
  o->set("step_id", "step-1");
  o->set("deadline_ms", Var());
  fill(out, stringify(o));
  return WEFT_OK;
}

weft_status host_state_get(weft_call_ctx* ctx, const char* key, size_t len, weft_buf* out) {
  auto it = ctx->host->state.find(std::string(key, len));
  fill(out, it == ctx->host->state.end() ? "null" : it->second);
  return WEFT_OK;
}

weft_status host_state_set(weft_call_ctx* ctx, const char* key, size_t len, const char* value, size_t vlen) {
  ctx->host->state[std::string(key, len)] = std::string(value, vlen);
  return WEFT_OK;
}

const weft_host kHost{sizeof(weft_host), WEFT_ABI_MAJOR, WEFT_ABI_MINOR, host_alloc,     host_free,
                      host_log,          host_http,      host_context,   host_state_get, host_state_set};

// Schema check of doc against schema; "" when it fits, else the first violations.
std::string violations(const Var& schema_doc, const Var& doc) {
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::PocoJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::PocoJsonAdapter target(doc);
  if (validator.validate(schema, target, &results)) return {};
  std::string out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    std::string path;
    for (const auto& p : e.context) path += p;
    out += path + ": " + e.description + "; ";
  }
  return out;
}
#endif  // !WEFT_VIA_REGISTRY
}  // namespace

Poco::JSON::Object::Ptr Invocation::object() const {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

#ifdef WEFT_VIA_REGISTRY

// HostServices for the registry: the same loopback HTTP, settings and state as the C host table.
class TestServices : public plugin::HostServices {
 public:
  explicit TestServices(ConnectorHost& host) : host_(host) {}
  Result<Json> http(const plugin::ActionInfo&, const plugin::InvokeContext&, const Json& request) override {
    try {
      return json::parse(loopback_http(host_, json::stringify(request)));
    } catch (const std::exception& e) {
      return Status(Code::kUnavailable, e.what());
    }
  }
  Result<Json> settings(const plugin::ActionInfo&, const plugin::InvokeContext&) override {
    return Json(host_.settings);
  }
  Result<std::optional<Json>> state_get(const plugin::ActionInfo&, const plugin::InvokeContext&,
                                        const std::string& key) override {
    auto it = host_.state.find(key);
    if (it == host_.state.end()) return std::optional<Json>();
    auto v = json::parse(it->second);
    if (!v) return v.status();
    return std::optional<Json>(*v);
  }
  Status state_set(const plugin::ActionInfo&, const plugin::InvokeContext&, const std::string& key,
                   const Json& value) override {
    host_.state[key] = json::stringify(value);
    return Status::Ok();
  }
  void log(const plugin::ActionInfo*, const plugin::InvokeContext*, plugin::LogLevel,
           std::string_view) override {}

 private:
  ConnectorHost& host_;
};

struct ConnectorHost::Impl {
  explicit Impl(ConnectorHost& host) : services(host), registry(&services) {}
  TestServices services;
  plugin::Registry registry;
};

ConnectorHost::ConnectorHost(const std::string& id) : id_(id), impl_(std::make_unique<Impl>(*this)) {
  std::string path = connector_dir() + "/" + id + ".so";
  Status loaded = impl_->registry.load_file(path);
  if (!loaded.ok()) {
    ADD_FAILURE() << "the registry refused " << path << ": " << loaded.message();
    return;
  }
  auto info = impl_->registry.connector(id);
  manifest = info->manifest().extract<ObjectPtr>();
  settings = new Poco::JSON::Object;
  if (auto defaults = json::as_object(info->settings_defaults))
    for (const auto& [k, v] : *defaults) settings->set(k, v);
}

ConnectorHost::~ConnectorHost() = default;

Invocation ConnectorHost::invoke(const std::string& operation, const std::string& input_json) {
  Invocation r;
  const plugin::ActionInfo* op = impl_->registry.find(id_ + "." + operation);
  if (op == nullptr) {
    ADD_FAILURE() << "the registry has no " << id_ << "." << operation;
    return r;
  }
  auto input = json::parse(input_json);
  if (!input) {
    ADD_FAILURE() << "bad test input: " << input.status().message();
    return r;
  }
  plugin::InvokeContext ctx;
  ctx.run_id = "run-1";
  ctx.step_id = "step-1";
  ctx.connection = "test";
  Result<Json> out = Status(Code::kInternal, "not called");
  if (op->kind == plugin::OperationKind::kTrigger) {  // input is the ABI's {params, cursor}
    ctx.state_scope = operation;
    out = impl_->registry.poll(*op, json::get(*input, "params"), json::get(*input, "cursor"), ctx);
  } else {
    out = impl_->registry.invoke(*op, *input, ctx);
  }
  r.ok = out.ok();
  if (out.ok()) {
    r.json = json::stringify(*out);
  } else {
    r.code = code_name(out.status().code());
    r.message = out.status().message();
    r.json = r.code + ": " + r.message;
  }
  return r;
}

#else  // the bare dlopen host

struct ConnectorHost::Impl {};

ConnectorHost::ConnectorHost(const std::string& id) : id_(id) {
  static std::mutex mu;
  static std::map<std::string, const weft_connector*> loaded;
  std::lock_guard<std::mutex> lock(mu);
  if (!loaded.count(id)) {
    std::string path = connector_dir() + "/" + id + ".so";
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
    if (handle == nullptr) {
      ADD_FAILURE() << "dlopen " << path << ": " << dlerror();
      return;
    }
    auto entry = reinterpret_cast<weft_connector_entry_fn>(dlsym(handle, WEFT_ENTRY_SYMBOL));
    if (entry == nullptr) {
      ADD_FAILURE() << path << " has no " << WEFT_ENTRY_SYMBOL;
      return;
    }
    loaded[id] = entry(&kHost);
  }
  table_ = loaded[id];
  if (table_ == nullptr) {
    ADD_FAILURE() << id << ": entry returned null";
    return;
  }
  manifest = Poco::JSON::Parser()
                 .parse(std::string(table_->manifest_json, table_->manifest_len))
                 .extract<ObjectPtr>();
  settings = new Poco::JSON::Object;
  if (ObjectPtr s = manifest->getObject("settings"))
    for (const auto& [k, v] : *s) {
      ObjectPtr def = v.extract<ObjectPtr>();
      if (def->has("default")) settings->set(k, def->get("default"));
    }
  weft_buf err{nullptr, 0};
  std::string defaults = stringify(settings);
  if (table_->create(defaults.data(), defaults.size(), &instance_, &err) != WEFT_OK) {
    ADD_FAILURE() << id << ": create failed: " << std::string(err.ptr, err.len);
    std::free(err.ptr);
  }
}

ConnectorHost::~ConnectorHost() {
  if (table_ != nullptr && instance_ != nullptr) table_->destroy(instance_);
}

Invocation ConnectorHost::invoke(const std::string& operation, const std::string& input_json) {
  Invocation r;
  if (table_ == nullptr || instance_ == nullptr) return r;
  ObjectPtr op = manifest->getObject("actions")->getObject(operation);
  bool trigger = false;
  if (!op && manifest->has("triggers")) {
    op = manifest->getObject("triggers")->getObject(operation);
    trigger = true;
  }
  if (!op) {
    ADD_FAILURE() << "no operation " << operation << " in the manifest";
    return r;
  }
  Var input = Poco::JSON::Parser().parse(input_json);
  Var params = trigger ? input.extract<ObjectPtr>()->get("params") : input;
  if (!params.isEmpty()) {
    std::string bad = violations(op->get("input"), params);
    EXPECT_TRUE(bad.empty()) << operation << " input violates its schema: " << bad;
  }
  weft_call_ctx ctx{this, operation};
  weft_buf out{nullptr, 0};
  weft_status st =
      table_->invoke(instance_, operation.c_str(), input_json.data(), input_json.size(), &ctx, &out);
  r.json = out.ptr == nullptr ? "" : std::string(out.ptr, out.len);
  std::free(out.ptr);
  r.ok = st == WEFT_OK;
  if (!r.ok) {
    ObjectPtr e = r.object();
    r.code = e->optValue<std::string>("code", "");
    r.message = e->optValue<std::string>("message", "");
    return r;
  }
  Var output = Poco::JSON::Parser().parse(r.json);
  if (trigger) {
    ObjectPtr o = output.extract<ObjectPtr>();
    EXPECT_TRUE(o->has("cursor")) << operation << " output has no cursor";
    for (const auto& item : *o->getArray("items")) {
      std::string bad = violations(op->get("output"), item);
      EXPECT_TRUE(bad.empty()) << operation << " item violates the output schema: " << bad;
    }
  } else {
    std::string bad = violations(op->get("output"), output);
    EXPECT_TRUE(bad.empty()) << operation << " output violates its schema: " << bad << "\n" << r.json;
  }
  return r;
}

#endif  // WEFT_VIA_REGISTRY

}  // namespace weft::test
