// fake_catalog.hpp — an ActionCatalog without a .so: a few actions with real JSON Schemas (checked
// with valijson, as the plugin catalog does) and handlers written in the test.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <valijson/adapters/poco_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "plugin/catalog.hpp"

namespace weft::test {

class FakeCatalog final : public plugin::ActionCatalog {
 public:
  using Handler = std::function<Result<Json>(const Json& input, const plugin::InvokeContext& ctx)>;

  FakeCatalog() {
    add("demo.echo", R"({"type":"object","required":["text"],"additionalProperties":false,
         "properties":{"text":{"type":"string"},"count":{"type":"integer","minimum":1},
         "tags":{"type":"array","items":{"type":"string"}},"flag":{"type":"boolean"}}})",
        false, [](const Json& in, const plugin::InvokeContext&) -> Result<Json> {
          return json::object({{"echo", json::get(in, "text")}, {"count", json::get(in, "count")}});
        });
    add("demo.fail", R"({"type":"object"})", false,
        [](const Json&, const plugin::InvokeContext&) -> Result<Json> {
          return Status(Code::kUnavailable, "the provider answered 503");
        });
    add("demo.slow", R"({"type":"object"})", false,
        [](const Json&, const plugin::InvokeContext&) -> Result<Json> {
          std::this_thread::sleep_for(std::chrono::milliseconds(60));
          return json::object({{"slow", true}});
        });
    add("demo.private", R"({"type":"object","properties":{"channel":{"type":"string"}}})", true,
        [](const Json& in, const plugin::InvokeContext& ctx) -> Result<Json> {
          return json::object({{"connection", ctx.connection}, {"channel", json::get(in, "channel")}});
        });
    add("demo.new_item", R"({"type":"object"})", false, nullptr, plugin::OperationKind::kTrigger);
    add("demo.new_post", R"({"type":"object","additionalProperties":false,
         "properties":{"include_existing":{"type":"boolean"},"limit":{"type":"integer","minimum":1}}})",
        true, nullptr, plugin::OperationKind::kTrigger);
  }

  void add(const std::string& uses, const std::string& schema, bool needs_connection, Handler h,
           plugin::OperationKind kind = plugin::OperationKind::kAction) {
    auto e = std::make_unique<Entry>();
    e->info.uses = uses;
    e->info.connector = uses.substr(0, uses.find('.'));
    e->info.name = uses.substr(uses.find('.') + 1);
    e->info.kind = kind;
    e->info.requires_connection = needs_connection;
    e->info.auth_kind = needs_connection ? "oauth2" : "none";
    e->info.input_schema_json = schema;
    const Json parsed = e->info.input_schema();
    valijson::SchemaParser parser;
    valijson::adapters::PocoJsonAdapter adapter(parsed);
    parser.populateSchema(adapter, e->schema);
    e->handler = std::move(h);
    entries_[uses] = std::move(e);
  }

  const plugin::ActionInfo* find(std::string_view uses) const override {
    auto it = entries_.find(std::string(uses));
    return it == entries_.end() ? nullptr : &it->second->info;
  }

  std::vector<plugin::SchemaIssue> validate_input(const plugin::ActionInfo& op,
                                                  const Json& input) const override {
    std::vector<plugin::SchemaIssue> out;
    const Entry& e = *entries_.at(op.uses);
    valijson::Validator v;
    valijson::ValidationResults results;
    valijson::adapters::PocoJsonAdapter target(input);
    if (v.validate(e.schema, target, &results)) return out;
    valijson::ValidationResults::Error err;
    while (results.popError(err)) {
      std::string path;
      for (const auto& c : err.context) {
        if (c != "<root>") path += "/" + c.substr(1, c.size() - 2);
      }
      if (err.description.rfind("Failed to validate", 0) == 0) continue;
      out.push_back({path, err.description});
    }
    return out;
  }

  Result<Json> invoke(const plugin::ActionInfo& op, const Json& input,
                      const plugin::InvokeContext& ctx) const override {
    ++invocations;
    {
      std::lock_guard lock(mu);
      inputs.push_back(json::stringify(input));
      contexts.push_back(ctx);
    }
    auto issues = validate_input(op, input);
    if (!issues.empty())
      return Status(Code::kInvalidArgument, "input" + issues[0].path + ": " + issues[0].message);
    return entries_.at(op.uses)->handler(input, ctx);
  }

  mutable std::atomic<int> invocations{0};
  mutable std::mutex mu;
  mutable std::vector<std::string> inputs;
  mutable std::vector<plugin::InvokeContext> contexts;

 private:
  struct Entry {
    plugin::ActionInfo info;
    valijson::Schema schema;
    Handler handler;
  };
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace weft::test
