// The plugin registry against real .so files built from fixtures/fixture_connector.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/json.hpp"
#include "core/log.hpp"
#include "plugin/registry.hpp"
#include "poco_host_services.hpp"
#include "support/test_support.hpp"

namespace weft::plugin {
namespace {

std::string fixture(const std::string& name) { return std::string(PLUGIN_FIXTURE_DIR) + "/" + name + ".so"; }

Json parse(const std::string& text) {
  auto doc = json::parse(text);
  EXPECT_TRUE(doc.ok()) << doc.status().to_string();
  return doc.ok() ? *doc : Json();
}

// The one refusal line for a file that must not load.
std::string refusal(const std::string& path) {
  Registry registry;
  Status st = registry.load_file(path);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(registry.connectors().empty());
  return st.message();
}

class GoodConnector : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(registry.load_file(fixture("good")).ok()); }
  Result<Json> invoke(const std::string& uses, const std::string& input) {
    const ActionInfo* op = registry.find(uses);
    EXPECT_NE(op, nullptr) << uses;
    if (op == nullptr) return Status(Code::kNotFound, uses);
    return registry.invoke(*op, parse(input), ctx);
  }
  Registry registry;
  InvokeContext ctx{"run-1", "step-1", "", "", std::nullopt};
};

TEST(PluginRefusal, TextFileNamedSoIsNotASharedLibrary) {
  test::TempDir dir;
  std::string path = dir.write("x.so", "this is text, not ELF\n");
  EXPECT_EQ(refusal(path), path + ": not a shared library");
}

TEST(PluginRefusal, MissingEntrySymbolIsNamed) {
  EXPECT_EQ(refusal(fixture("no_entry")), fixture("no_entry") + ": missing symbol weft_connector_entry");
}

TEST(PluginRefusal, OtherAbiMajorIsRefused) {
  EXPECT_EQ(refusal(fixture("abi_major")), fixture("abi_major") + ": ABI major 2, host supports 1");
}

TEST(PluginRefusal, NewerAbiMinorIsRefused) {
  std::string line = refusal(fixture("abi_minor"));
  EXPECT_EQ(line.rfind(fixture("abi_minor") + ": ABI minor 1 is newer than the host's 1.0", 0), 0u) << line;
}

TEST(PluginRefusal, TableSmallerThanTheAbiNeedsIsRefused) {
  std::string line = refusal(fixture("small_table"));
  EXPECT_EQ(line.rfind(fixture("small_table") + ": connector table is ", 0), 0u) << line;
  EXPECT_NE(line.find(" bytes, ABI 1.0 needs at least "), std::string::npos) << line;
  // The size it claims is named, and is smaller than the minimum named after it.
  const auto at = line.find("table is ") + 9;
  const long claimed = std::stol(line.substr(at));
  const long needed = std::stol(line.substr(line.rfind(' ') + 1));
  EXPECT_LT(claimed, needed) << line;
}

TEST(PluginRefusal, InvalidManifestJsonIsRefused) {
  std::string line = refusal(fixture("bad_json"));
  EXPECT_EQ(line, fixture("bad_json") + ": invalid manifest JSON: unexpected end of text");
}

TEST(PluginRefusal, ManifestBreakingTheSchemaNamesThePath) {
  std::string line = refusal(fixture("bad_manifest"));
  EXPECT_EQ(line.rfind(fixture("bad_manifest") + ": manifest breaks schema at /actions/x/input: ", 0), 0u) << line;
  EXPECT_NE(line.find("'type'"), std::string::npos) << line;
}

TEST(PluginRefusal, InvalidActionInputSchemaIsRefused) {
  std::string line = refusal(fixture("bad_input_schema"));
  EXPECT_EQ(line.rfind(fixture("bad_input_schema") + ": action x input schema invalid: ", 0), 0u) << line;
}

TEST(PluginRefusal, EntryPointThatThrowsIsCaught) {
  EXPECT_EQ(refusal(fixture("entry_throws")), fixture("entry_throws") + ": entry point threw: entry exploded");
}

TEST(PluginRefusal, FailingCreateQuotesTheConnector) {
  EXPECT_EQ(refusal(fixture("create_fails")),
            fixture("create_fails") + ": create failed: api_base must start with https://");
}

TEST(PluginRefusal, MissingPathIsOneLine) {
  Registry registry;
  auto refused = registry.load({"/nonexistent/weft-connectors"});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].message(), "/nonexistent/weft-connectors: no such file or directory");
}

TEST(PluginRefusal, DuplicateIdKeepsTheFirstLoaded) {
  Registry registry;
  ASSERT_TRUE(registry.load_file(fixture("good")).ok());
  Status st = registry.load_file(fixture("good_copy"));
  EXPECT_EQ(st.message(), fixture("good_copy") + ": duplicate connector id 'good' (already loaded from " +
                              fixture("good") + ")");
  ASSERT_EQ(registry.connectors().size(), 1u);
  EXPECT_EQ(registry.connector("good")->path, fixture("good"));
}

TEST(PluginRefusal, DirectoryLoadsTheGoodAndGivesOneLinePerBadFile) {
  Registry registry;
  auto refused = registry.load({PLUGIN_FIXTURE_DIR});
  // good.so sorts before good_copy.so, so the copy is the duplicate.
  EXPECT_EQ(refused.size(), 10u);  // every fixture but good.so
  for (const auto& st : refused) {
    EXPECT_EQ(st.message().rfind(std::string(PLUGIN_FIXTURE_DIR) + "/", 0), 0u) << st.message();
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  }
  ASSERT_EQ(registry.connectors().size(), 1u);
  EXPECT_EQ(registry.connectors()[0]->path, fixture("good"));
  EXPECT_NE(registry.find("good.echo"), nullptr);
}

TEST_F(GoodConnector, ManifestIsExposedForTheCli) {
  auto info = registry.connector("good");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->version, "1.2.3");
  EXPECT_EQ(info->name, "Good");
  EXPECT_EQ(info->description, "A connector for the tests.");
  EXPECT_EQ(info->auth_kind, "none");
  EXPECT_EQ(json::stringify(info->settings_defaults), R"({"greeting":"hi"})");
  ASSERT_EQ(info->triggers.size(), 1u);
  EXPECT_EQ(info->triggers[0]->uses, "good.poll");
  EXPECT_EQ(info->triggers[0]->kind, OperationKind::kTrigger);
  EXPECT_EQ(info->triggers[0]->default_interval_seconds, 30);
  ASSERT_FALSE(info->actions.empty());
  const ActionInfo* echo = registry.find("good.echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->title, "Echo");
  EXPECT_FALSE(echo->requires_connection);
  EXPECT_TRUE(registry.find("good.throws")->requires_connection);
  EXPECT_EQ(json::get_string(echo->input_schema(), "type"), "object");
  EXPECT_EQ(registry.find("good.nope"), nullptr);
  EXPECT_EQ(registry.find("nope.echo"), nullptr);
  EXPECT_EQ(registry.find("good"), nullptr);
}

TEST_F(GoodConnector, InvokeReturnsTheConnectorsOutput) {
  auto out = invoke("good.echo", R"({"text":"héllo","count":2})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(json::stringify(*out), R"({"count":2,"text":"héllo"})");
}

TEST_F(GoodConnector, InputViolationNamesPathAndRule) {
  auto out = invoke("good.echo", R"({"text":"x","tags":["a",7]})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(out.status().message(), "good.echo input at /tags/1: Value type not permitted by 'type' constraint.");

  auto missing = invoke("good.echo", R"({"count":-1})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("at /count: Expected number greater than or equal to"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("at (root): Missing required property 'text'."), std::string::npos)
      << missing.status().message();

  auto issues = registry.validate_input(*registry.find("good.echo"), parse(R"({"text":"x","extra":1})"));
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].path, "");
  EXPECT_NE(issues[0].message.find("'extra'"), std::string::npos) << issues[0].message;
  EXPECT_TRUE(registry.validate_input(*registry.find("good.echo"), parse(R"({"text":"x"})")).empty());
}

// Inputs that fitted are remembered by their text so a constant `with:` skips the schema check on
// later runs; a remembered fit must never let a misfit through, however the two interleave, and
// more distinct inputs than the memo holds must still all be checked right.
TEST_F(GoodConnector, RememberedFitsNeverLetAMisfitThrough) {
  const std::string fit = R"({"text":"x","count":2})";
  const std::string misfit = R"({"text":"x","count":-2})";  // count has a minimum of 0
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(invoke("good.echo", fit).ok()) << round;
    auto bad = invoke("good.echo", misfit);
    ASSERT_FALSE(bad.ok()) << round;
    EXPECT_NE(bad.status().message().find("at /count"), std::string::npos) << bad.status().message();
  }
  // Past the memo's size, misfits between each fit still fail and every fit still passes.
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(invoke("good.echo", R"({"text":"t)" + std::to_string(i) + R"("})").ok()) << i;
    EXPECT_FALSE(invoke("good.echo", R"({"text":)" + std::to_string(i) + "}").ok()) << i;
  }
  // An input longer than the memo keeps (4 KB of text) is checked every time.
  const std::string long_text(5000, 'a');
  EXPECT_TRUE(invoke("good.echo", R"({"text":")" + long_text + R"("})").ok());
  EXPECT_FALSE(invoke("good.echo", R"({"text":")" + long_text + R"(","count":-1})").ok());

  // From many threads at once: the same two texts over and over.
  std::atomic<int> passed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (invoke("good.echo", fit).ok()) ++passed;
        if (!invoke("good.echo", misfit).ok()) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed.load(), 800);
  EXPECT_EQ(refused.load(), 800);
}

// The daemon keeps manifests and schemas as text and compiles an operation's schemas on first use:
// what the CLI and the API show is the manifest as the connector gave it, and the first validations
// (from many threads at once) give the same answers as the later ones.
TEST_F(GoodConnector, ManifestAndSchemasKeptAsTextParseBackWhole) {
  auto info = registry.connector("good");
  ASSERT_NE(info, nullptr);
  Json manifest = info->manifest();
  ASSERT_TRUE(json::is_object(manifest));
  EXPECT_EQ(json::get_string(manifest, "id"), "good");
  EXPECT_EQ(json::get_string(manifest, "version"), "1.2.3");
  const ActionInfo* echo = registry.find("good.echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(json::stringify(echo->input_schema()),
            json::stringify(json::get(json::get(json::get(manifest, "actions"), "echo"), "input")));
  EXPECT_TRUE(json::is_object(echo->output_schema()));

  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto issues = registry.validate_input(*echo, parse(R"({"text":"x","tags":["a",7]})"));
      const bool bad = std::any_of(issues.begin(), issues.end(),
                                   [](const SchemaIssue& i) { return i.path == "/tags/1"; });
      const bool good = registry.validate_input(*echo, parse(R"({"text":"x"})")).empty();
      if (bad && good) ++right;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(right.load(), 8);
}

TEST_F(GoodConnector, OutputViolationIsAClearError) {
  auto out = invoke("good.bad_output", "{}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "good.bad_output output breaks its schema at /text: Value type not permitted by 'type' constraint.");
}

TEST_F(GoodConnector, ExceptionInsideInvokeBecomesAStepError) {
  auto out = invoke("good.throws", "{}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "good.throws failed (connector_exception): boom inside invoke");
}

TEST_F(GoodConnector, ExceptionCrossingTheBoundaryIsCaughtByTheHost) {
  auto out = invoke("good.escape", "{}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInternal);
  EXPECT_NE(out.status().message().find("escaped the boundary"), std::string::npos) << out.status().message();
  EXPECT_TRUE(invoke("good.any", "{}").ok());  // and the connector keeps working
}

TEST_F(GoodConnector, MalformedJsonOutputIsAClearError) {
  auto out = invoke("good.malformed", "{}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInternal);
  EXPECT_EQ(out.status().message().rfind("good.malformed: the connector returned invalid JSON output", 0), 0u)
      << out.status().message();
  EXPECT_NE(out.status().message().find("{not json"), std::string::npos);
}

TEST_F(GoodConnector, ConnectorErrorObjectMapsToStatus) {
  auto out = invoke("good.fails", "{}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kRateLimited);
  EXPECT_EQ(out.status().message(), "good.fails failed (rate_limited): slow down (retry after 1500 ms)");
}

TEST_F(GoodConnector, TenThousandDeepInputIsRefusedCleanly) {
  std::string text = std::string(10000, '[') + std::string(10000, ']');
  auto parsed = json::parse(text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Code::kResourceExhausted);

  // Built in memory, bypassing the parser: the registry still refuses before validating.
  Json deep = json::new_array();
  for (int i = 0; i < 10000; ++i) {
    auto outer = json::new_array();
    outer->add(deep);
    deep = outer;
  }
  auto out = registry.invoke(*registry.find("good.any"), deep, ctx);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(out.status().message(), "good.any input nests deeper than 512 levels");
}

TEST_F(GoodConnector, ContextCarriesRunStepAndSettingsDefaultsWithoutServices) {
  std::vector<std::string> lines;
  log::set_sink([&](const std::string& line) { lines.push_back(line); });
  auto out = invoke("good.context", "{}");
  log::reset_sink();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(json::stringify(json::get(*out, "context")),
            R"({"connection":null,"connector":"good","deadline_ms":null,"operation":"context","run_id":"run-1",)"
            R"("settings":{"greeting":"hi"},"step_id":"step-1"})");
  EXPECT_EQ(json::stringify(json::get(*out, "created_with")), R"({"greeting":"hi"})");
  bool logged = false;
  for (const auto& line : lines) {
    logged |= line.find("reading context") != std::string::npos && line.find("run=run-1") != std::string::npos &&
              line.find("step=step-1") != std::string::npos && line.find("connector=good") != std::string::npos;
  }
  EXPECT_TRUE(logged);
}

TEST_F(GoodConnector, HttpWithoutHostServicesIsAnErrorNotACrash) {
  auto out = invoke("good.http", R"({"method":"GET","url":"http://127.0.0.1:1/"})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kUnavailable);
  EXPECT_EQ(out.status().message(), "good.http failed (unavailable): no host services");
}

TEST(PluginHost, StateAndDeadlineGoThroughHostServices) {
  fakes::PocoHostServices services;
  Registry registry(&services);
  ASSERT_TRUE(registry.load_file(fixture("good")).ok());
  InvokeContext ctx{"run-2", "step-2", "my-conn", "poll", std::chrono::steady_clock::now() + std::chrono::minutes(1)};
  auto first = registry.invoke(*registry.find("good.state"), parse(R"({"page":1})"), ctx);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(json::stringify(*first), R"({"after":{"page":1},"before":null})");
  auto second = registry.invoke(*registry.find("good.state"), parse(R"({"page":2})"), ctx);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(json::stringify(*second), R"({"after":{"page":2},"before":{"page":1}})");

  auto context = registry.invoke(*registry.find("good.context"), json::object(), ctx);
  ASSERT_TRUE(context.ok()) << context.status().to_string();
  Json c = json::get(*context, "context");
  EXPECT_EQ(json::get_string(c, "connection"), "my-conn");
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  Poco::Int64 deadline = json::get(c, "deadline_ms").convert<Poco::Int64>();
  EXPECT_GT(deadline, now_ms);
  EXPECT_LE(deadline, now_ms + 61000);
}

TEST_F(GoodConnector, ConcurrentInvokesFromEightThreadsAllSucceed) {
  constexpr int kThreads = 8;
  constexpr int kCalls = 200;
  const ActionInfo* echo = registry.find("good.echo");
  const ActionInfo* bad = registry.find("good.bad_output");
  std::atomic<int> good{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        Json input = json::object({{"text", "t" + std::to_string(t) + "-" + std::to_string(i)}});
        auto out = registry.invoke(*echo, input, ctx);
        if (out.ok() && json::get_string(*out, "text") == "t" + std::to_string(t) + "-" + std::to_string(i)) ++good;
        if (!registry.invoke(*bad, json::object(), ctx).ok()) ++failed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), kThreads * kCalls);
  EXPECT_EQ(failed.load(), kThreads * kCalls);
}

}  // namespace
}  // namespace weft::plugin
