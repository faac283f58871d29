// The examples/ workflows and the OAuth2 connectors end to end through the real engine
// (engine::Engine::open on a TempDir home): the built .so files in its plugin::Registry, connections
// in its vault authorized with its auth::ConnectionManager against the sandbox's authorize/token
// endpoints, HTTP through its http::Client (retries, Retry-After) with the connection's AuthHook,
// and runs through workflow::Executor recorded in its SQLite run store.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/connection_manager.hpp"
#include "core/json.hpp"
#include "daemon/engine_services.hpp"
#include "engine/engine.hpp"
#include "http/client.hpp"
#include "plugin/registry.hpp"
#include "sandbox.hpp"
#include "store/run_store.hpp"
#include "support/test_support.hpp"
#include "vault/vault.hpp"
#include "workflow/executor.hpp"
#include "workflow/workflow.hpp"
#include "workflow/yaml_loader.hpp"

namespace weft::test {
namespace {

// Dies with a readable message instead of dereferencing a failed Result.
template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r.ok()) throw std::runtime_error(what + ": " + r.status().message());
  return std::move(*r);
}

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(box_.start(error)) << error;
    engine::Options options{.home = home_.path() + "/home", .connector_dirs = {connector_dir()}};
    options.http.backoff_base = std::chrono::milliseconds(10);
    options.http.backoff_cap = std::chrono::milliseconds(50);
    engine_ = must(engine::Engine::open(options), "engine");
    ASSERT_TRUE(engine_->load_diagnostics().empty()) << engine_->load_diagnostics().front();
    executor_ = std::make_unique<workflow::Executor>(engine_->catalog(), engine_->runs());
  }

  void TearDown() override { executor_.reset(); }

  std::string s(const std::string& path) const { return box_.url(path); }

  // A raw call to the sandbox (authorize redirects and control endpoints).
  std::pair<int, std::string> raw(const std::string& method, const std::string& path_or_url,
                                  const std::string& body = "", std::string* location = nullptr) {
    Poco::URI uri(path_or_url.rfind("http", 0) == 0 ? path_or_url : s(path_or_url));
    Poco::Net::HTTPClientSession session("127.0.0.1", uri.getPort());
    Poco::Net::HTTPRequest req(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    if (method == "POST") {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::string out;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), out);
    if (location != nullptr) *location = resp.get("Location", "");
    return {resp.getStatus(), out};
  }

  long long counter(const std::string& name) {
    auto doc = json::parse(raw("GET", "/_control/counters").second);
    if (!doc) return -1;
    Json v = json::get(*doc, name);
    return v.isEmpty() ? 0 : v.convert<long long>();
  }

  // add + authorize (the sandbox approves at once) + complete: the connection becomes active.
  void connect_oauth(const std::string& name, const std::string& connector,
                     const std::map<std::string, std::string>& settings) {
    auth::AddRequest add{name, connector, "sandbox-client", "sandbox-secret", "", settings};
    Status added = engine_->connections().add(add);
    ASSERT_TRUE(added.ok()) << added.message();
    auto start = engine_->connections().authorize(name, "http://127.0.0.1:9/oauth/callback");
    ASSERT_TRUE(start.ok()) << start.status().message();
    std::string location;
    ASSERT_EQ(raw("GET", start->url, "", &location).first, 302);
    Poco::URI redirect(location);
    auto done = engine_->connections().complete(redirect.getRawQuery());
    ASSERT_TRUE(done.ok()) << done.status().message();
    EXPECT_EQ(*done, name);
  }

  void connect_all() {
    connect_oauth("my-restream", "restream",
                  {{"authorize_url", s("/restream/login")},
                   {"token_url", s("/restream/oauth/token")},
                   {"revoke_url", s("/restream/oauth/revoke")},
                   {"api_base", s("/restream")}});
    connect_oauth("my-livepush", "livepush",
                  {{"authorize_url", s("/livepush/id/oauth2/authorize")},
                   {"token_url", s("/livepush/tokens/oauth2/access_token")},
                   {"api_base", s("/livepush/octopus")},
                   {"accounts_base", s("/livepush/squid")}});
    auth::AddRequest ome{
        "my-ome", "ovenmediaengine",  "",
        "",       "ome-access-token", {{"api_base", s("/ome")}, {"signed_policy_secret", "1kU^b6"}}};
    Status st = engine_->connections().add(ome);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  Result<Json> call(const std::string& uses, const std::string& connection, const std::string& input) {
    const plugin::ActionInfo* op = engine_->registry().find(uses);
    if (op == nullptr) return Status(Code::kNotFound, uses + " is not loaded");
    plugin::InvokeContext ctx;
    ctx.run_id = "test";
    ctx.step_id = "call";
    ctx.connection = connection;
    return engine_->registry().invoke(*op, must(json::parse(input), "input"), ctx);
  }

  workflow::Workflow example(const std::string& file) {
    return must(workflow::load(source_dir() + "/examples/" + file, engine_->registry()), file);
  }

  store::RunRecord run(const workflow::Workflow& wf, const std::string& trigger_json,
                       const std::vector<std::string>& inputs = {}) {
    workflow::RunRequest req;
    req.inputs = must(workflow::inputs_from_strings(wf, inputs), "inputs");
    if (trigger_json != "null") req.trigger = must(json::parse(trigger_json), "trigger");  // null: `weft run`
    return must(executor_->run(wf, req), "run");
  }

  static std::string describe(const store::RunRecord& r) {
    std::string out = std::string("run ") + store::to_string(r.status) + " " + r.error;
    for (const auto& st : r.steps)
      out += "\n  " + st.step_id + " " + store::to_string(st.status) + " " + st.error + " " +
             json::stringify(st.output);
    return out;
  }

  static Json output_of(const store::RunRecord& r, const std::string& step) {
    for (const auto& st : r.steps)
      if (st.step_id == step) return st.output;
    return Json();
  }

  sandbox::Sandbox box_{sandbox::Options{}};
  TempDir home_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<workflow::Executor> executor_;
};

// The trigger document the daemon's poller gives a workflow for one polled item.
std::string poll_trigger(const std::string& uses, const std::string& item_json) {
  return R"({"type":"poll","uses":")" + uses + R"(","item":)" + item_json + "}";
}

TEST_F(ExamplesTest, EveryExampleWorkflowValidatesAgainstTheBuiltConnectors) {
  int seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir() + "/examples")) {
    // weft.yaml is the daemon's configuration, not a workflow (tests/daemon checks it).
    if (entry.path().extension() != ".yaml" || entry.path().filename() == "weft.yaml") continue;
    ++seen;
    auto doc = workflow::load_yaml_file(entry.path().string());
    ASSERT_TRUE(doc.ok()) << doc.status().message();
    std::string problems;
    for (const auto& p : workflow::validate(*doc, engine_->registry())) problems += p.to_string() + "\n";
    EXPECT_TRUE(problems.empty()) << problems;
  }
  EXPECT_GE(seen, 4);
}

TEST_F(ExamplesTest, RestreamEventLiveRetitlesEnabledChannelsAndLogsTheKeysServer) {
  connect_all();
  auto created = json::parse(raw("POST", "/_control/restream/events", R"({"title":"Launch day"})").second);
  ASSERT_TRUE(created.ok());
  std::string id = json::get_string(*created, "id");
  auto started = json::parse(raw("POST", "/_control/restream/events/" + id + "/start").second);
  ASSERT_TRUE(started.ok());

  auto r = run(example("restream_event_live.yaml"), poll_trigger("restream.event_started", json::stringify(*started)));
  ASSERT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
  EXPECT_EQ(json::get(output_of(r, "retitle"), "count").convert<int>(), 2);
  Json server = output_of(r, "server");
  EXPECT_EQ(json::get_string(server, "srt_host"), "live.restream.io");
  EXPECT_EQ(json::get_string(server, "event_id"), id);
  for (const char* ch : {"101", "102"}) {
    auto meta = call("restream.get_channel_meta", "my-restream", std::string(R"({"channel_id":)") + ch + "}");
    ASSERT_TRUE(meta.ok()) << meta.status().message();
    EXPECT_EQ(json::get_string(*meta, "title"), "Live now: Launch day");
  }
}

// What the daemon does with `on: {uses: restream.event_started}`: poll, run once per item, keep the
// cursor; an event fires one run however many polls see it.
TEST_F(ExamplesTest, EventStartedTriggerFiresTheExampleOncePerEventAcrossPolls) {
  connect_all();
  workflow::Workflow wf = example("restream_event_live.yaml");
  const plugin::ActionInfo* trigger = engine_->registry().find("restream.event_started");
  ASSERT_NE(trigger, nullptr);
  plugin::InvokeContext ctx;
  ctx.connection = "my-restream";
  ctx.state_scope = "restream-event-live";
  Json cursor;
  int runs = 0;
  auto poll_and_run = [&]() {
    auto polled = engine_->registry().poll(*trigger, Json(json::new_object()), cursor, ctx);
    if (!polled.ok()) throw std::runtime_error(polled.status().message());
    auto items = json::as_array(json::get(*polled, "items"));
    for (std::size_t i = 0; i < items->size(); ++i) {
      auto r = run(wf, poll_trigger("restream.event_started", json::stringify(items->get(i))));
      EXPECT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
      ++runs;
    }
    cursor = json::get(*polled, "cursor");  // stored after the runs are recorded
    return items->size();
  };
  EXPECT_EQ(poll_and_run(), 0u);  // the first poll only records what is already live
  auto created = json::parse(raw("POST", "/_control/restream/events", R"({"title":"Launch"})").second);
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(raw("POST", "/_control/restream/events/" + json::get_string(*created, "id") + "/start").first,
            200);
  EXPECT_EQ(poll_and_run(), 1u);
  EXPECT_EQ(poll_and_run(), 0u);
  EXPECT_EQ(runs, 1);
  auto not_a_trigger =
      engine_->registry().poll(*engine_->registry().find("restream.get_profile"), Json(), Json(), ctx);
  EXPECT_EQ(not_a_trigger.status().code(), Code::kInvalidArgument);
}

TEST_F(ExamplesTest, MorningDigestPostsTomorrowsEventsToTheWebhook) {
  connect_all();
  std::mutex mu;
  std::vector<std::string> posted;
  LocalServer hook([&](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    std::lock_guard<std::mutex> lock(mu);
    posted.push_back(read_body(req));
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  auto r = run(example("restream_morning_digest.yaml"), "null", {"webhook_url=" + hook.url("/digest")});
  ASSERT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(posted.size(), 1u);
  auto body = json::parse(posted[0]);
  ASSERT_TRUE(body.ok()) << posted[0];
  // The sandbox seeds one event scheduled a day from now: always tomorrow (UTC).
  EXPECT_THAT(json::get_string(*body, "text"), ::testing::EndsWith("Restream event(s) tomorrow"));
  auto events = json::as_array(json::get(*body, "events"));
  ASSERT_FALSE(events.isNull());
  EXPECT_EQ(json::get_string(*body, "text"), std::to_string(events->size()) + " Restream event(s) tomorrow");
  EXPECT_TRUE(json::is_object(json::get(*body, "window")));
}

TEST_F(ExamplesTest, LivepushWebhookCreatesAStreamAndEnablesADestination) {
  connect_all();
  auto dests = call("livepush.list_destinations", "my-livepush", "{}");
  ASSERT_TRUE(dests.ok()) << dests.status().message();
  auto list = json::as_array(json::get(*dests, "destinations"));
  ASSERT_FALSE(list.isNull());
  ASSERT_GT(list->size(), 0u);
  std::string dest = json::get_string(list->get(0), "id");

  auto r = run(example("livepush_stream_on_webhook.yaml"),
               R"({"type":"webhook","body":{"name":"Hook show","destination_id":")" + dest + R"("}})");
  ASSERT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
  std::string stream = json::get_string(output_of(r, "stream"), "id");
  EXPECT_EQ(stream.rfind("st_", 0), 0u) << stream;
  EXPECT_EQ(json::get(output_of(r, "destination"), "enabled").convert<bool>(), true);
  auto got = call("livepush.get_stream", "my-livepush", R"({"stream_id":")" + stream + R"("})");
  ASSERT_TRUE(got.ok()) << got.status().message();

  auto bad = run(example("livepush_stream_on_webhook.yaml"),
                 R"({"type":"webhook","body":{"name":"Hook show","destination_id":"pb_missing"}})");
  EXPECT_EQ(bad.status, store::RunStatus::kFailed);
  EXPECT_THAT(describe(bad), ::testing::HasSubstr("Livepush answered HTTP 404"));
}

TEST_F(ExamplesTest, OmeRecordOnPublishStartsARecordingAndSignsAPlaybackUrl) {
  connect_all();
  ASSERT_EQ(raw("POST", "/_control/ome/vhosts/default/apps/app/streams/cam1/publish").first, 200);
  auto r = run(example("ome_record_on_publish.yaml"), poll_trigger("ovenmediaengine.stream_started", R"({"vhost":"default","app":"app","name":"cam1"})"));
  ASSERT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
  std::string url = json::get_string(output_of(r, "playback"), "url");
  EXPECT_EQ(url.rfind("ws://127.0.0.1:3333/app/cam1?policy=", 0), 0u) << url;
  EXPECT_NE(url.find("&signature="), std::string::npos);
  auto records = call("ovenmediaengine.list_records", "my-ome", R"({"app":"app"})");
  ASSERT_TRUE(records.ok()) << records.status().message();
  EXPECT_NE(json::stringify(*records).find("rec-cam1"), std::string::npos) << json::stringify(*records);

  auto again = run(example("ome_record_on_publish.yaml"), poll_trigger("ovenmediaengine.stream_started", R"({"vhost":"default","app":"app","name":"cam1"})"));
  EXPECT_EQ(again.status, store::RunStatus::kFailed);  // the recording id is taken: OME answers 409
  EXPECT_THAT(describe(again), ::testing::HasSubstr("OvenMediaEngine answered HTTP 409"));
}

// Polling triggers across restarts, per connector trigger: the daemon's poller (EngineServices)
// keeps the cursor in the home's SQLite run store ("poll:<workflow>"/"cursor"). A fresh engine
// and poller over the same home poll again: nothing seen before fires twice, a new item fires once.
struct TriggerCase {
  std::string uses, connection, with;
  std::function<void()> make_item;  // makes one new item the trigger reports
};

TEST_F(ExamplesTest, PollingTriggerCursorsSurviveARestartOfTheEngine) {
  connect_all();
  int n = 0;
  auto new_event = [&](bool finish) {
    auto created =
        raw("POST", "/_control/restream/events", R"({"title":"Show )" + std::to_string(++n) + "\"}");
    ASSERT_EQ(created.first, 201);
    const std::string id = json::get_string(must(json::parse(created.second), "event"), "id");
    ASSERT_EQ(raw("POST", "/_control/restream/events/" + id + (finish ? "/finish" : "/start")).first, 200);
  };
  std::vector<TriggerCase> cases = {
      {"restream.event_started", "my-restream", "{}", [&] { new_event(false); }},
      {"restream.event_finished", "my-restream", "{}", [&] { new_event(true); }},
      {"livepush.stream_created", "my-livepush", "{}",
       [&] {
         auto r = call("livepush.create_stream", "my-livepush",
                       R"({"name":"Stream )" + std::to_string(++n) + "\"}");
         ASSERT_TRUE(r.ok()) << r.status().message();
       }},
      {"ovenmediaengine.stream_started", "my-ome", "{vhost: default, app: app}",
       [&] {
         ASSERT_EQ(raw("POST",
                       "/_control/ome/vhosts/default/apps/app/streams/cam" + std::to_string(++n) + "/publish")
                       .first,
                   200);
       }},
  };
  const std::string flows = home_.path() + "/flows";
  std::filesystem::create_directories(flows);
  for (const auto& c : cases) {
    const std::string name = c.uses.substr(c.uses.find('.') + 1) + "-" + c.uses.substr(0, c.uses.find('.'));
    std::ofstream(flows + "/" + name + ".yaml")
        << "name: " << name << "\non:\n  uses: " << c.uses << "\n  connection: " << c.connection
        << "\n  interval: 1h\n  with: " << c.with << "\nsteps:\n  - id: note\n    uses: http.request\n"
        << "    with: {method: GET, url: \"" << s("/_control/counters") << "\"}\n";
  }
  auto runs_of = [](daemon::EngineServices& services, const std::string& name) {
    auto runs = services.list_runs(json::object({{"workflow", name}}));
    EXPECT_TRUE(runs.ok()) << runs.status().message();
    return runs.ok() ? json::as_array(*runs)->size() : 0u;
  };
  {
    daemon::EngineServices services(*engine_, flows, nullptr);
    auto loaded = services.reload();
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    ASSERT_EQ(json::get(*loaded, "workflows").convert<int>(), 4) << json::stringify(*loaded);
    for (const auto& c : cases) {
      SCOPED_TRACE(c.uses + " before the restart");
      const std::string name = c.uses.substr(c.uses.find('.') + 1) + "-" + c.uses.substr(0, c.uses.find('.'));
      auto first = services.poll_once(name);  // records what exists, fires nothing
      ASSERT_TRUE(first.ok()) << first.status().message();
      EXPECT_EQ(*first, 0);
      c.make_item();
      auto fired = services.poll_once(name);
      ASSERT_TRUE(fired.ok()) << fired.status().message();
      EXPECT_EQ(*fired, 1);
      EXPECT_EQ(runs_of(services, name), 1u);
      auto stored = engine_->runs().state_get("poll:" + name, "cursor");
      ASSERT_TRUE(stored.ok());
      EXPECT_TRUE(stored->has_value()) << "no cursor stored for " << name;
    }
  }
  // The restart: everything in memory goes; the home (runs.db, vault) stays.
  executor_.reset();
  engine_.reset();
  engine::Options options{.home = home_.path() + "/home", .connector_dirs = {connector_dir()}};
  engine_ = must(engine::Engine::open(options), "engine after the restart");
  daemon::EngineServices services(*engine_, flows, nullptr);
  ASSERT_TRUE(services.reload().ok());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.uses + " after the restart");
    const std::string name = c.uses.substr(c.uses.find('.') + 1) + "-" + c.uses.substr(0, c.uses.find('.'));
    // A new item while the engine was down. With the stored cursor the next poll fires it and only
    // it: a lost cursor would make this a first poll (records, fires nothing), a cursor not
    // applied would fire the item seen before the restart again.
    c.make_item();
    auto fired = services.poll_once(name);
    ASSERT_TRUE(fired.ok()) << fired.status().message();
    EXPECT_EQ(*fired, 1);
    auto quiet = services.poll_once(name);
    ASSERT_TRUE(quiet.ok());
    EXPECT_EQ(*quiet, 0);
    EXPECT_EQ(runs_of(services, name), 2u);  // one before, one after the restart
    c.make_item();
    auto later = services.poll_once(name);
    ASSERT_TRUE(later.ok());
    EXPECT_EQ(*later, 1);
    EXPECT_EQ(runs_of(services, name), 3u);
  }
}

TEST_F(ExamplesTest, RateLimitBurstDuringAWorkflowIsSurvivedByWaiting) {
  connect_all();
  const long long api_before = counter("livepush.api");
  ASSERT_EQ(raw("POST", "/_control/rate-limit", R"({"burst":2,"format":"seconds","seconds":1})").first, 200);
  const auto started = std::chrono::steady_clock::now();
  auto r = run(example("livepush_stream_on_webhook.yaml"), R"({"type":"webhook","body":{"name":"Burst"}})",
               {"destination_id=pb_youtube1"});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(counter("rate_limited"), 2);
  ASSERT_EQ(r.status, store::RunStatus::kSucceeded) << describe(r);
  // Survived by waiting: each 429 said "Retry-After: 1" and came before the next attempt, so the
  // run took at least 2 s (a lower bound; retrying at once would take a few ms).
  EXPECT_GE(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 2000);
  // No storm: the two steps' calls reached the API once each after the two 429s; the sandbox saw
  // 2 + 2 requests in all, whatever the client's retry budget.
  EXPECT_EQ(counter("livepush.api") - api_before, 2);
  EXPECT_LE(counter("livepush.api") - api_before + counter("rate_limited"), 4);
  // Both 429s were waited out and the (non-idempotent) create was sent exactly once.
  auto streams = call("livepush.list_streams", "my-livepush", "{}");
  ASSERT_TRUE(streams.ok());
  int named = 0;
  for (const auto& v : *json::as_array(json::get(*streams, "streams")))
    if (json::stringify(v).find("\"Burst\"") != std::string::npos) ++named;
  EXPECT_EQ(named, 1);
}

TEST_F(ExamplesTest, RateLimitWithAnHttpDateIsHonouredToo) {
  connect_all();
  ASSERT_EQ(raw("POST", "/_control/rate-limit", R"({"burst":1,"format":"date","seconds":1})").first, 200);
  auto r = call("restream.get_profile", "my-restream", "{}");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(json::get_string(*r, "username"), "sandbox");
  EXPECT_EQ(counter("rate_limited"), 1);
}

// RELIABILITY.md row 6 per OAuth connector: a broken token answer is a clear error and the stored
// pair stays as it was (the connection keeps working); expires_in "3600" as a string is accepted.
TEST_F(ExamplesTest, BrokenTokenAnswersAreClearErrorsAndKeepTheStoredPair) {
  connect_all();
  for (const std::string name : {"my-restream", "my-livepush"}) {
    for (const std::string mode :
         {"missing_access_token", "negative_expires_in", "huge_expires_in", "html", "truncated"}) {
      SCOPED_TRACE(name + " " + mode);
      auto before = engine_->vault().secrets(name);
      ASSERT_TRUE(before.ok());
      ASSERT_EQ(raw("POST", "/_control/token-fault", R"({"mode":")" + mode + R"("})").first, 200);
      Status st = engine_->connections().refresh(name);
      EXPECT_FALSE(st.ok());
      EXPECT_FALSE(st.message().empty());
      auto after = engine_->vault().secrets(name);
      ASSERT_TRUE(after.ok());
      EXPECT_EQ(after->at(vault::kAccessToken), before->at(vault::kAccessToken));
      EXPECT_EQ(after->at(vault::kRefreshToken), before->at(vault::kRefreshToken));
      EXPECT_EQ(engine_->vault().get(name)->state, vault::ConnectionState::kActive);
    }
    ASSERT_EQ(raw("POST", "/_control/token-fault", R"({"mode":"expires_in_string"})").first, 200);
    Status st = engine_->connections().refresh(name);
    EXPECT_TRUE(st.ok()) << name << ": " << st.message();
    auto r = call(name == "my-restream" ? "restream.get_profile" : "livepush.get_account", name, "{}");
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().message();
  }
}

// RELIABILITY.md row 13 per connector: Retry-After as an HTTP-date in the past and as garbage is
// survived (retry at once / back-off); one far beyond the deadline fails at once, clearly.
TEST_F(ExamplesTest, RetryAfterVariantsAreHonouredOrFailFastPerConnector) {
  connect_all();
  const std::vector<std::pair<std::string, std::string>> calls = {{"my-restream", "restream.get_profile"},
                                                                  {"my-livepush", "livepush.get_account"},
                                                                  {"my-ome", "ovenmediaengine.list_vhosts"}};
  long long limited = 0;
  for (const auto& [connection, uses] : calls) {
    SCOPED_TRACE(uses);
    for (const std::string format : {"past-date", "garbage"}) {
      ASSERT_EQ(raw("POST", "/_control/rate-limit", R"({"burst":1,"format":")" + format + R"("})").first,
                200);
      auto r = call(uses, connection, "{}");
      EXPECT_TRUE(r.ok()) << format << ": " << r.status().message();
      EXPECT_EQ(counter("rate_limited"), ++limited);
    }
    ASSERT_EQ(
        raw("POST", "/_control/rate-limit", R"({"burst":1,"format":"seconds","seconds":1000000000})").first,
        200);
    auto far = call(uses, connection, "{}");
    ASSERT_FALSE(far.ok());
    EXPECT_THAT(far.status().message(), ::testing::HasSubstr("rate limited"));
    EXPECT_EQ(counter("rate_limited"), ++limited);  // one 429, no retry storm
  }
}

// authorize → call → expire → refresh → call, per OAuth connector.
TEST_F(ExamplesTest, RestreamAuthorizeCallExpireRefreshCall) {
  connect_all();
  ASSERT_TRUE(call("restream.get_profile", "my-restream", "{}").ok());
  EXPECT_EQ(counter("restream.token.refresh_token"), 0);
  ASSERT_EQ(raw("POST", "/_control/restream/expire-tokens").first, 200);
  auto after = call("restream.list_channels", "my-restream", "{}");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(counter("restream.token.refresh_token"), 1);  // one reactive refresh on the 401
  ASSERT_TRUE(call("restream.get_profile", "my-restream", "{}").ok());
  EXPECT_EQ(counter("restream.token.refresh_token"), 1);  // the rotated pair is in use
  auto rec = engine_->vault().get("my-restream");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, vault::ConnectionState::kActive);
}

TEST_F(ExamplesTest, LivepushAuthorizeCallExpireRefreshCall) {
  connect_all();
  ASSERT_TRUE(call("livepush.get_account", "my-livepush", "{}").ok());
  ASSERT_EQ(raw("POST", "/_control/livepush/expire-tokens").first, 200);
  auto after = call("livepush.list_streams", "my-livepush", "{}");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(counter("livepush.token.refresh_token"), 1);
  ASSERT_TRUE(call("livepush.get_account", "my-livepush", "{}").ok());
  EXPECT_EQ(counter("livepush.token.refresh_token"), 1);
}

TEST_F(ExamplesTest, RevokedRestreamGrantNeedsReauthWithAClearMessage) {
  connect_all();
  ASSERT_EQ(raw("POST", "/_control/restream/revoke-all").first, 200);
  auto r = call("restream.get_profile", "my-restream", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("weft connections authorize my-restream"));
  auto rec = engine_->vault().get("my-restream");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, vault::ConnectionState::kNeedsReauth);
}

}  // namespace
}  // namespace weft::test
