// `weft validate` and `weft run` as a user sees them: the real binary, the real `http` connector
// (connectors/http, action http.request) and a real HTTP server on 127.0.0.1, the run history read
// back from the SQLite file under --home.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "store/run_store.hpp"
#include "support/test_support.hpp"

namespace weft {
namespace {

// Serves /profile (JSON), /greetings (records the body), /boom (500 with a JSON error) and /text.
class Provider {
 public:
  Provider()
      : server_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          const std::string body = test::read_body(req);
          const std::string uri = req.getURI();
          {
            std::lock_guard lock(mu_);
            seen_.push_back(req.getMethod() + " " + uri + " " + body);
          }
          if (uri.rfind("/profile", 0) == 0) {
            resp.setContentType("application/json");
            resp.send() << R"({"name":"Ada","id":7})";
          } else if (uri == "/greetings") {
            resp.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
            resp.setContentType("application/json");
            resp.send() << R"({"ok":true})";
          } else if (uri == "/whoami") {  // a careless provider that echoes the credential back
            resp.setStatus(req.has("X-Api-Key") ? Poco::Net::HTTPResponse::HTTP_OK
                                                : Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
            resp.setContentType("application/json");
            resp.send() << R"({"key":")" << req.get("X-Api-Key", "") << R"("})";
          } else if (uri == "/leak-error") {
            resp.setStatus(Poco::Net::HTTPResponse::HTTP_FORBIDDEN);
            resp.setContentType("text/plain");
            resp.send() << "key " << req.get("X-Api-Key", "") << " is not allowed here";
          } else if (uri == "/boom") {
            resp.setStatus(Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
            resp.setContentType("application/json");
            resp.send() << R"({"error":"database on fire"})";
          } else {
            resp.setContentType("text/plain");
            resp.send() << "plain text";
          }
        }) {}

  std::string url(const std::string& path = "") const { return server_.url(path); }
  int requests() const { return server_.requests(); }
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
  test::LocalServer server_;  // last: stopped first, while the members its handler uses still live
};

class WorkflowCli : public ::testing::Test {
 protected:
  std::string home() const { return dir.path() + "/home"; }
  test::ProcessResult weft(std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", home()});
    return test::run_weft(args);
  }
  static Json parse(const std::string& text) {
    auto v = json::parse(text);
    EXPECT_TRUE(v.ok()) << "not JSON: " << text;
    return v.ok() ? *v : Json();
  }
  static Json step(const Json& run, std::size_t i) {
    auto steps = json::as_array(json::get(run, "steps"));
    if (steps.isNull() || i >= steps->size()) return Json();
    return steps->get(static_cast<unsigned>(i));
  }
  std::string example() const { return test::source_dir() + "/examples/hello.yaml"; }
  test::TempDir dir;
};

TEST_F(WorkflowCli, RunSucceedsAgainstALocalServerAndPrintsEveryStep) {
  Provider provider;
  auto r = weft({"run", example(), "--input", "base_url=" + provider.url(), "--input", "who=Ada", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const Json run = parse(r.out);
  EXPECT_EQ(json::get_string(run, "status"), "succeeded");
  EXPECT_TRUE(json::get(run, "error").isEmpty());
  EXPECT_EQ(json::get_string(run, "workflow"), "hello");

  const Json profile = step(run, 0);
  EXPECT_EQ(json::get_string(profile, "id"), "profile");
  EXPECT_EQ(json::get_string(profile, "status"), "succeeded");
  EXPECT_EQ(json::get_string(json::get(json::get(profile, "output"), "body"), "name"), "Ada");
  EXPECT_EQ(json::get(json::get(profile, "output"), "status").convert<int>(), 200);
  EXPECT_TRUE(json::get(profile, "duration_ms").isNumeric());
  EXPECT_TRUE(json::get(profile, "error").isEmpty());

  const Json greet = step(run, 1);
  EXPECT_EQ(json::get_string(greet, "status"), "succeeded");
  EXPECT_EQ(json::get(json::get(greet, "output"), "status").convert<int>(), 201);

  // What the provider received: the query from the input, the JSON body built from step one's
  // output, a whole-value expression kept as a number.
  const auto seen = provider.seen();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0], "GET /profile?name=Ada ");
  EXPECT_NE(seen[1].find(R"("text":"Hello, Ada!")"), std::string::npos) << seen[1];
  EXPECT_NE(seen[1].find(R"("profile_status":200)"), std::string::npos) << seen[1];
}

TEST_F(WorkflowCli, EveryRunAndStepIsRecordedUnderTheHome) {
  Provider provider;
  auto first = weft({"run", example(), "--input", "base_url=" + provider.url(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = weft({"run", example(), "--input", "base_url=" + provider.url() + "/nowhere", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;  // a text body has no name: greet is skipped

  auto store = store::open_sqlite(home() + "/runs.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto runs = (*store)->list_runs({.workflow = "hello", .status = std::nullopt, .limit = 10});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 2U);

  auto stored = (*store)->get_run(json::get_string(parse(second.out), "run_id"));
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(stored->status, store::RunStatus::kSucceeded);
  ASSERT_EQ(stored->steps.size(), 2U);
  EXPECT_EQ(stored->steps[0].status, store::StepStatus::kSucceeded);
  EXPECT_EQ(json::get_string(stored->steps[0].output, "body"), "plain text");
  EXPECT_EQ(stored->steps[1].status, store::StepStatus::kSkipped);
  EXPECT_EQ(json::get_string(stored->inputs, "who"), "world");  // the declared default
  EXPECT_GT(stored->finished_at_ms, 0);
}

TEST_F(WorkflowCli, RunFailsWithExitOneWhenTheServerAnswers500) {
  Provider provider;
  const std::string flow = dir.write("boom.yaml", R"(name: boom
inputs:
  base: {type: string}
steps:
  - id: call
    uses: http.request
    with: {method: POST, url: "${{ inputs.base }}/boom", json: {x: 1}}
  - id: after
    uses: http.request
    with: {method: GET, url: "${{ inputs.base }}/profile"}
)");
  auto r = weft({"run", flow, "--input", "base=" + provider.url(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const Json run = parse(r.out);
  EXPECT_EQ(json::get_string(run, "status"), "failed");
  EXPECT_NE(json::get_string(run, "error").find("step 'call' failed"), std::string::npos) << r.out;
  EXPECT_EQ(json::get_string(step(run, 0), "status"), "failed");
  EXPECT_NE(json::get_string(step(run, 0), "error").find("500"), std::string::npos) << r.out;
  EXPECT_EQ(json::get_string(step(run, 1), "status"), "skipped");
  EXPECT_EQ(provider.requests(), 1);  // the step after the failure never ran

  auto store = store::open_sqlite(home() + "/runs.db");
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->get_run(json::get_string(run, "run_id"));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, store::RunStatus::kFailed);
}

TEST_F(WorkflowCli, FailOnStatusFalseTurnsA500IntoOutput) {
  Provider provider;
  const std::string flow = dir.write("soft.yaml", R"(name: soft
inputs:
  base: {type: string}
steps:
  - id: call
    uses: http.request
    with: {method: GET, url: "${{ inputs.base }}/boom", fail_on_status: false}
  - id: report
    uses: http.request
    if: ${{ steps.call.output.status >= 500 }}
    with: {method: POST, url: "${{ inputs.base }}/greetings", json: "${{ steps.call.output.body }}"}
)");
  auto r = weft({"run", flow, "--input", "base=" + provider.url(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto seen = provider.seen();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1], R"(POST /greetings {"error":"database on fire"})");
}

TEST_F(WorkflowCli, HumanOutputIsAShortTable) {
  Provider provider;
  auto r = weft({"run", example(), "--input", "base_url=" + provider.url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("STEP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("STATUS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("profile"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("http.request"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("succeeded"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("{"), std::string::npos) << "no JSON dumps in the table: " << r.out;
}

TEST_F(WorkflowCli, ConnectionSecretsAreNeverPrintedNorStored) {
  constexpr const char* kToken = "wf-cli-token-5f3a9c";
  Provider provider;
  auto add = weft({"connections", "add", "key1", "--connector", "http", "--token", kToken, "--set",
                   "auth=api_token", "--set", "header=X-Api-Key", "--set", "scheme="});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  const std::string flow = dir.write("secret.yaml", R"(name: secret
inputs:
  base: {type: string}
steps:
  - id: who
    uses: http.request
    connection: key1
    with: {method: GET, url: "${{ inputs.base }}/whoami"}
  - id: leak
    uses: http.request
    connection: key1
    with: {method: GET, url: "${{ inputs.base }}/leak-error"}
)");
  auto r = weft({"run", flow, "--input", "base=" + provider.url(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the second step's 403 fails the run
  const auto seen = provider.seen();
  ASSERT_EQ(seen.size(), 2U);  // the credential did reach the provider ...
  const Json run = parse(r.out);
  EXPECT_EQ(json::get_string(step(run, 0), "status"), "succeeded");
  EXPECT_EQ(json::get_string(step(run, 1), "status"), "failed");
  // ... and is neither printed (output, error, human table) nor written to the run history.
  EXPECT_EQ((r.out + r.err).find(kToken), std::string::npos) << r.out << r.err;
  auto human = weft({"run", flow, "--input", "base=" + provider.url()});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_EQ((human.out + human.err).find(kToken), std::string::npos) << human.out << human.err;
  for (const auto& entry : std::filesystem::directory_iterator(home())) {
    if (entry.path().filename().string().rfind("runs.db", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(kToken), std::string::npos) << entry.path();
  }
}

TEST_F(WorkflowCli, BadInputsAreUsageErrors) {
  auto unknown = weft({"run", example(), "--input", "colour=red"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown input 'colour' (declared: base_url (string), who (string))"),
            std::string::npos)
      << unknown.err;
  auto malformed = weft({"run", example(), "--input", "novalue"});
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_NE(malformed.err.find("not key=value"), std::string::npos) << malformed.err;

  const std::string typed = dir.write("typed.yaml",
                                      "name: t\ninputs:\n  n: {type: integer, required: true}\nsteps:\n"
                                      "  - id: a\n    uses: http.request\n"
                                      "    with: {method: GET, url: 'http://127.0.0.1:1/${{ inputs.n }}'}\n");
  auto wrong_type = weft({"run", typed, "--input", "n=many"});
  EXPECT_EQ(wrong_type.exit_code, 2);
  EXPECT_NE(wrong_type.err.find("input 'n' must be an integer, got 'many'"), std::string::npos)
      << wrong_type.err;
  auto missing = weft({"run", typed});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("input 'n' is required"), std::string::npos) << missing.err;
  EXPECT_EQ(weft({"run", example(), "--input"}).exit_code, 2);

  // 10,000 levels of JSON: refused by depth, and the error is one short line, not the document.
  const std::string deep_flow =
      dir.write("deep.yaml",
                "name: d\ninputs:\n  p: {type: array}\nsteps:\n"
                "  - id: a\n    uses: http.request\n"
                "    with: {method: POST, url: 'http://127.0.0.1:1/', json: '${{ inputs.p }}'}\n");
  auto deep = weft({"run", deep_flow, "--input", "p=" + std::string(10000, '[') + std::string(10000, ']')});
  EXPECT_EQ(deep.exit_code, 2);
  EXPECT_NE(deep.err.find("input 'p' must be a JSON array such as [1,2]"), std::string::npos) << deep.err;
  EXPECT_NE(deep.err.find("(20000 bytes)': JSON nesting is deeper than 512 levels"), std::string::npos)
      << deep.err;
  EXPECT_LT(deep.err.size(), 400U);
  // Nothing was run, so nothing was recorded.
  auto store = store::open_sqlite(home() + "/runs.db");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->list_runs({})->empty());
}

TEST_F(WorkflowCli, RunOfAMissingFileOrInvalidYamlFailsBeforeRunningAnything) {
  auto missing = weft({"run", dir.path() + "/nope.yaml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.yaml: no such file"), std::string::npos) << missing.err;

  auto broken =
      weft({"run", dir.write("broken.yaml", "name: b\nsteps:\n  - id: a\n   uses: http.request\n")});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("broken.yaml:4:"), std::string::npos) << broken.err;
  EXPECT_EQ(broken.out, "");

  auto invalid = weft({"run", dir.write("w.yaml", "name: w\nsteps:\n  - id: a\n    uses: nosuch.action\n")});
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_NE(invalid.err.find("w.yaml:4:11: unknown action 'nosuch.action'"), std::string::npos)
      << invalid.err;
  EXPECT_NE(invalid.err.find("w.yaml has 1 problem; nothing was run"), std::string::npos) << invalid.err;
}

TEST_F(WorkflowCli, RunUsageErrors) {
  EXPECT_EQ(weft({"run"}).exit_code, 2);
  EXPECT_EQ(weft({"run", "a.yaml", "b.yaml"}).exit_code, 2);
  EXPECT_EQ(weft({"run", "a.yaml", "--bogus"}).exit_code, 2);
}

TEST_F(WorkflowCli, ConnectorsDirectoryThatDoesNotExistIsOneClearError) {
  auto r = weft({"--connectors", dir.path() + "/no-such-dir", "validate", example()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("connectors directory '" + dir.path() + "/no-such-dir' does not exist"),
            std::string::npos)
      << r.err;
  auto run = weft({"--connectors", dir.path() + "/no-such-dir", "run", example()});
  EXPECT_EQ(run.exit_code, 1);
}

TEST_F(WorkflowCli, TheExampleValidates) {
  auto r = weft({"validate", example()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok: " + example() + " (2 steps)"), std::string::npos) << r.out;
}

TEST_F(WorkflowCli, ValidateReportsEveryProblemKindWithItsPosition) {
  const std::string path = dir.write("w.yaml", R"(name: w
steps:
  - id: fetch
    uses: http.request
    with:
      method: FETCH
      url: "${{ steps.later.output.url }}"
  - id: fetch
    uses: nosuch.action
  - id: later
    uses: http.request
    with:
      method: GET
      url: "http://127.0.0.1/${{ inputs.x"
    colour: red
)");
  auto r = weft({"validate", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const std::string& e = r.err;
  EXPECT_NE(e.find(path + ":6:15: with/method:"), std::string::npos) << e;  // breaks the input schema
  EXPECT_NE(e.find(path + ":7:12: steps.later is not run before step 'fetch' (hint:"), std::string::npos)
      << e;
  EXPECT_NE(e.find(path + ":8:9: duplicate step id 'fetch' (hint: already used at line 3"), std::string::npos)
      << e;
  EXPECT_NE(e.find(path + ":9:11: unknown action 'nosuch.action' (hint:"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":14:30: bad expression: unbalanced '${{'"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":15:5: unknown key 'colour' in steps/2"), std::string::npos) << e;
  // In file order.
  EXPECT_LT(e.find(":6:15:"), e.find(":7:12:"));
  EXPECT_LT(e.find(":9:11:"), e.find(":15:5:"));
}

TEST_F(WorkflowCli, ValidateRefusesBadFiles) {
  auto missing = weft({"validate", dir.path() + "/nope.yaml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.yaml: no such file"), std::string::npos) << missing.err;

  auto empty = weft({"validate", dir.write("e.yaml", "")});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("e.yaml:1:1: the file is empty (hint:"), std::string::npos) << empty.err;

  auto tabs = weft({"validate", dir.write("t.yaml", "name: x\nsteps:\n\t- id: a\n")});
  EXPECT_EQ(tabs.exit_code, 1);
  EXPECT_NE(tabs.err.find("t.yaml:3:1: a tab is used for indentation"), std::string::npos) << tabs.err;

  auto list = weft({"validate", dir.write("l.yaml", "- a\n- b\n")});
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_NE(list.err.find("l.yaml:1:1: the top level is a list"), std::string::npos) << list.err;

  auto big = weft({"validate", dir.write("big.yaml", std::string(10 * 1024 * 1024, '#'))});
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.err.find("big.yaml:1:1: the file is 10485760 bytes; a workflow may be at most 1 MiB"),
            std::string::npos)
      << big.err;

  auto no_uses = weft({"validate", dir.write("n.yaml", "name: n\nsteps:\n  - id: a\n    with: {x: 1}\n")});
  EXPECT_EQ(no_uses.exit_code, 1);
  EXPECT_NE(no_uses.err.find("n.yaml:3:5:"), std::string::npos) << no_uses.err;
  EXPECT_NE(no_uses.err.find("uses"), std::string::npos) << no_uses.err;

  auto bad_utf8 = weft({"validate", dir.write("u.yaml", "name: \"caf\xC3\x28\"\nsteps: []\n")});
  EXPECT_EQ(bad_utf8.exit_code, 1);
  EXPECT_NE(bad_utf8.err.find("u.yaml:1:"), std::string::npos) << bad_utf8.err;
}

TEST_F(WorkflowCli, ValidateSeveralFilesJson) {
  auto r = weft({"validate", "--json", example(), dir.write("b.yaml", "- x\n")});
  EXPECT_EQ(r.exit_code, 1);
  const Json out = parse(r.out);
  EXPECT_FALSE(json::get(out, "ok").convert<bool>());
  auto files = json::as_array(json::get(out, "files"));
  ASSERT_FALSE(files.isNull());
  ASSERT_EQ(files->size(), 2U);
  EXPECT_TRUE(json::get(files->get(0), "ok").convert<bool>());
  EXPECT_FALSE(json::get(files->get(1), "ok").convert<bool>());
  EXPECT_NE(r.out.find(R"("message":"the top level is a list)"), std::string::npos) << r.out;
}

TEST_F(WorkflowCli, ValidateNeedsAFile) { EXPECT_EQ(weft({"validate"}).exit_code, 2); }

}  // namespace
}  // namespace weft
