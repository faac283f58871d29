// EngineServices in-process over the real engine (built connectors, vault and run store in a
// TempDir home) and a loopback upstream: workflow loading and its bad paths, inputs, schedules.
#include "daemon/engine_services.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "auth/connection_manager.hpp"
#include "support/oauth_server.hpp"
#include "support/test_support.hpp"

namespace weft::daemon {
namespace {

struct Fixture {
  test::TempDir dir;
  test::LocalServer upstream{[](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << R"({"ok":true})";
  }};
  std::unique_ptr<engine::Engine> engine;
  Metrics metrics;
  std::unique_ptr<EngineServices> services;

  Fixture() {
    dir.write("flows/.keep", "");
    auto e = engine::Engine::open({.home = dir.path() + "/home", .connector_dirs = {test::connector_dir()}});
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    engine = std::move(*e);
    declare_engine_metrics(metrics);
    services = std::make_unique<EngineServices>(*engine, dir.path() + "/flows", &metrics);
  }
  std::string flow(const std::string& name, const std::string& on, const std::string& extra = "") {
    return "name: " + name + "\n" + extra + "on:\n" + on +
           "steps:\n  - id: call\n    uses: http.request\n    with:\n      method: GET\n      url: " +
           upstream.url("/x") + "\n";
  }
  std::vector<std::string> names() {
    std::vector<std::string> out;
    auto list = services->list_workflows();
    EXPECT_TRUE(list.ok());
    for (const auto& w : *json::as_array(*list)) out.push_back(json::get_string(w, "name"));
    return out;
  }
};

TEST(EngineServices, ABrokenEditKeepsThePreviousVersionServingAndIsReported) {
  Fixture f;
  const std::string path = f.dir.write("flows/a.yaml", f.flow("a", "  webhook: {}\n"));
  ASSERT_TRUE(f.services->reload().ok());
  EXPECT_EQ(f.names(), std::vector<std::string>{"a"});

  f.dir.write("flows/a.yaml", "name: a\nsteps: [\n");
  auto r = f.services->reload();
  ASSERT_TRUE(r.ok());
  const std::string summary = json::stringify(*r);
  EXPECT_NE(summary.find(path), std::string::npos) << summary;
  EXPECT_EQ(f.names(), std::vector<std::string>{"a"});
  auto run = f.services->trigger_workflow("a", json::object({{"type", "webhook"}}), false);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(json::get_string(*run, "status"), "succeeded");
}

// A synchronous run is answered with text written straight from its record; it must be the text of
// the record's object form, for a real run and for records with odd strings, nulls and no steps.
TEST(EngineServices, RunTextIsTheRecordObjectsTextByteForByte) {
  Fixture f;
  f.dir.write("flows/a.yaml", f.flow("a", "  webhook: {}\n"));
  ASSERT_TRUE(f.services->reload().ok());
  Json trigger = json::object({{"type", std::string("webhook")},
                               {"body", json::object({{"k", std::string("v\"\n\xC3\xA9")}})},
                               {"headers", json::object({{"X-A", std::string("1")}})}});
  auto text = f.services->run_workflow_text("a", trigger);
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  auto back = json::parse(*text);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(json::get_string(*back, "status"), "succeeded");
  auto stored = f.engine->runs().get_run(json::get_string(*back, "id"));
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  // What was answered is what was recorded (the stored objects come back with sorted keys).
  auto stored_back = json::parse(run_to_text(*stored, true));
  ASSERT_TRUE(stored_back.ok());
  EXPECT_EQ(json::stringify(*back), json::stringify(*stored_back));
  EXPECT_EQ(run_to_text(*stored, true), json::stringify(run_to_json(*stored, true)));
  EXPECT_EQ(run_to_text(*stored, false), json::stringify(run_to_json(*stored, false)));

  store::RunRecord odd;
  odd.id = "r\\1";
  odd.workflow = "w\t";
  odd.status = store::RunStatus::kFailed;
  odd.error = std::string("bad \x01 byte");
  odd.started_at_ms = -1;
  odd.finished_at_ms = 9007199254740993;
  store::StepRecord step;
  step.index = 3;
  step.step_id = "s";
  step.uses = "x.y";
  step.input = json::object({{"list", Json(json::new_array())}, {"n", 1.5}});
  step.error = "\"quoted\"";
  odd.steps = {step, store::StepRecord{}};
  EXPECT_EQ(run_to_text(odd, true), json::stringify(run_to_json(odd, true)));
  EXPECT_EQ(run_to_text(store::RunRecord{}, true), json::stringify(run_to_json(store::RunRecord{}, true)));

  EXPECT_EQ(f.services->run_workflow_text("nope", trigger).status().code(), Code::kNotFound);
}

TEST(EngineServices, TwoFilesWithOneNameTheFirstWinsTheSecondIsRefused) {
  Fixture f;
  f.dir.write("flows/1.yaml", f.flow("same", "  webhook: {}\n"));
  f.dir.write("flows/2.yaml", f.flow("same", "  webhook:\n    async: true\n"));
  auto r = f.services->reload();
  ASSERT_TRUE(r.ok());
  EXPECT_NE(json::stringify(*r).find("is used by another file"), std::string::npos);
  EXPECT_FALSE(f.services->webhook_is_async("same"));
}

TEST(EngineServices, UnknownSignatureKindAndBadCronAreRefusedNamingTheFile) {
  Fixture f;
  f.dir.write("flows/sig.yaml", f.flow("sig", "  webhook:\n    secret: s\n    signature: md5\n"));
  f.dir.write("flows/cron.yaml", f.flow("cron", "  schedule: \"61 * * * *\"\n"));
  auto r = f.services->reload();
  ASSERT_TRUE(r.ok());
  const std::string summary = json::stringify(*r);
  EXPECT_NE(summary.find("on.webhook.signature 'md5' is unknown (use hmac-sha256 or shared-secret)"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("cron.yaml: on.schedule:"), std::string::npos) << summary;
  EXPECT_TRUE(f.names().empty());
}

TEST(EngineServices, WebhookPolicyComesFromTheWorkflowAndUnknownWorkflowsAreNotFound) {
  Fixture f;
  f.dir.write("flows/h.yaml", f.flow("h", "  webhook:\n    secret: s3\n    signature: shared-secret\n"));
  f.dir.write("flows/c.yaml", f.flow("c", "  schedule: \"*/5 * * * *\"\n"));
  ASSERT_TRUE(f.services->reload().ok());
  auto p = f.services->webhook_policy("h");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, WebhookPolicy::Kind::kSharedSecret);
  EXPECT_EQ(p->secret, "s3");
  EXPECT_EQ(f.services->webhook_policy("c").status().code(), Code::kNotFound);  // no webhook trigger
  EXPECT_EQ(f.services->webhook_policy("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(f.services->trigger_workflow("nope", json::object(), false).status().code(), Code::kNotFound);
}

TEST(EngineServices, InputsThatDoNotFitTheWorkflowAreInvalidAndRunNothing) {
  Fixture f;
  f.dir.write("flows/i.yaml", f.flow("i", "  webhook: {}\n", "inputs:\n  count:\n    type: integer\n"));
  ASSERT_TRUE(f.services->reload().ok()) << f.names().size();
  ASSERT_EQ(f.names(), std::vector<std::string>{"i"});
  auto bad = f.services->trigger_workflow(
      "i", json::object({{"type", "api"}, {"inputs", json::object({{"count", "many"}})}}), false);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("count"), std::string::npos) << bad.status().message();
  EXPECT_EQ(f.upstream.requests(), 0);
  auto runs = f.services->list_runs(json::object());
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(json::as_array(*runs)->size(), 0u);
}

TEST(EngineServices, ADueScheduleStartsOneRecordedRun) {
  Fixture f;
  f.dir.write("flows/tick.yaml",
              f.flow("tick", "  schedule: {cron: \"* * * * *\", timezone: Europe/Paris}\n"));
  ASSERT_TRUE(f.services->reload().ok());
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  EXPECT_EQ(f.services->fire_due_schedules(now + std::chrono::minutes(2)), 1);
  ASSERT_TRUE(f.services->shutdown(std::chrono::seconds(20)));  // waits for the background run
  auto runs = f.services->list_runs(json::object({{"workflow", "tick"}}));
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(json::as_array(*runs)->size(), 1u);
  Json run = json::as_array(*runs)->get(0);
  EXPECT_EQ(json::get_string(run, "status"), "succeeded");
  EXPECT_EQ(json::get_string(json::get(run, "trigger"), "type"), "cron");
  EXPECT_EQ(f.upstream.requests(), 1);
  EXPECT_EQ(f.metrics.counter("weft_runs_total", "").value({"succeeded"}), 1);
}

TEST(EngineServices, AfterShutdownNoNewRunStarts) {
  Fixture f;
  f.dir.write("flows/a.yaml", f.flow("a", "  webhook:\n    async: true\n"));
  ASSERT_TRUE(f.services->reload().ok());
  ASSERT_TRUE(f.services->shutdown(std::chrono::seconds(1)));
  auto r = f.services->trigger_workflow("a", json::object({{"type", "webhook"}}), true);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(f.upstream.requests(), 0);
}

TEST(EngineServices, ExpiringTokensAreRefreshedAheadAndARefusedGrantIsNotRetried) {
  Fixture f;
  test::OAuthServer oauth({.access_ttl = 100});
  auto& conns = f.engine->connections();
  ASSERT_TRUE(conns
                  .add({"acme",
                        "http",
                        "client-1",
                        "secret-1",
                        "",
                        {{"auth", "oauth2"},
                         {"authorize_url", oauth.url("/authorize")},
                         {"token_url", oauth.url("/token")}}})
                  .ok());
  auto start = conns.authorize("acme", "http://127.0.0.1:9/oauth/callback");
  ASSERT_TRUE(start.ok()) << start.status().to_string();
  auto done = conns.complete(oauth.approve(start->url));
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  ASSERT_EQ(oauth.token_requests(), 1);
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();

  // Expires in ~100 s: nothing to do with a 10 s horizon, one refresh with a 300 s one.
  EXPECT_EQ(f.services->refresh_expiring(std::chrono::seconds(10), now), 0);
  EXPECT_EQ(oauth.token_requests(), 1);
  EXPECT_EQ(f.services->refresh_expiring(std::chrono::seconds(300), now), 1);
  EXPECT_EQ(oauth.token_requests(), 2);
  EXPECT_EQ(f.metrics.counter("weft_token_refreshes_total", "").value({"http", "ok"}), 1);

  // A refused grant: needs_reauth, and later passes leave the token endpoint alone.
  oauth.fail_next(test::TokenFault::kInvalidGrant);
  EXPECT_EQ(f.services->refresh_expiring(std::chrono::seconds(300), now), 0);
  const int after_refusal = oauth.token_requests();
  EXPECT_EQ(f.services->refresh_expiring(std::chrono::seconds(300), now), 0);
  EXPECT_EQ(oauth.token_requests(), after_refusal);
  auto list = f.services->list_connections();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(json::get_string(json::as_array(*list)->get(0), "state"), "needs_reauth");
}

TEST(EngineServices, BackgroundRunsAreBoundedAndTheExtraOneIsRateLimited) {
  std::atomic<bool> release{false};
  test::LocalServer slow([&](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    for (int i = 0; i < 2000 && !release.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  Fixture f;
  f.services = std::make_unique<EngineServices>(*f.engine, f.dir.path() + "/flows", &f.metrics, 1);
  f.dir.write("flows/a.yaml",
              "name: a\non:\n  webhook:\n    async: true\nsteps:\n  - id: call\n    uses: http.request\n"
              "    with:\n      method: GET\n      url: " +
                  slow.url("/x") + "\n");
  ASSERT_TRUE(f.services->reload().ok());
  auto first = f.services->trigger_workflow("a", json::object({{"type", "webhook"}}), true);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  auto second = f.services->trigger_workflow("a", json::object({{"type", "webhook"}}), true);
  EXPECT_EQ(second.status().code(), Code::kRateLimited);
  EXPECT_NE(second.status().message().find("1 runs are already in flight"), std::string::npos);
  release = true;
  EXPECT_TRUE(f.services->shutdown(std::chrono::seconds(20)));
  EXPECT_EQ(slow.requests(), 1);
}

TEST(EngineServices, PolledItemsRunOnceEachAndNotAgainAfterACrashBeforeTheCursorWasStored) {
  test::TempDir dir;
  std::atomic<int> calls{0};
  test::LocalServer upstream([&](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    ++calls;
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  auto e = engine::Engine::open(
      {.home = dir.path() + "/home", .connector_dirs = {test::connector_dir(), DAEMON_FIXTURE_DIR}});
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  dir.write("flows/poll.yaml",
            "name: poll\non:\n  uses: ticker.ticks\n  interval: 1s\nsteps:\n  - id: call\n"
            "    uses: http.request\n    with:\n      method: GET\n      url: " +
                upstream.url("/n") + "\n      query:\n        n: ${{ trigger.item.n }}\n");
  EngineServices services(**e, dir.path() + "/flows", nullptr);
  auto loaded = services.reload();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(json::get(*loaded, "workflows").convert<int>(), 1) << json::stringify(*loaded);

  auto first = services.poll_once("poll");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(*first, 3);
  EXPECT_EQ(calls.load(), 3);
  auto again = services.poll_once("poll");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(*again, 0);  // the cursor moved past every item
  EXPECT_EQ(calls.load(), 3);

  // The process died after recording the runs but before storing the cursor: the same items come
  // back and none runs twice.
  ASSERT_TRUE((*e)->runs().state_delete("poll:poll", "cursor").ok());
  auto replay = services.poll_once("poll");
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  EXPECT_EQ(*replay, 0);
  EXPECT_EQ(calls.load(), 3);
  auto runs = services.list_runs(json::object({{"workflow", "poll"}}));
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(json::as_array(*runs)->size(), 3u);
  EXPECT_EQ(services.poll_once("nope").status().code(), Code::kNotFound);
}

TEST(EngineServices, MetricsShowHttpCallsRetriesAndCooldownsPerConnector) {
  Fixture f;
  // A provider that rate-limits the first call (Retry-After: 0, so the retry is immediate).
  auto seen = std::make_shared<std::atomic<int>>(0);
  test::LocalServer limited([seen](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    if (seen->fetch_add(1) == 0) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS);
      resp.set("Retry-After", "0");
      resp.send() << R"({"error":"slow down"})";
      return;
    }
    resp.send() << R"({"ok":true})";
  });
  f.dir.write("flows/limited.yaml",
              "name: limited\non:\n  webhook: {}\nsteps:\n  - id: call\n    uses: http.request\n"
              "    with:\n      method: GET\n      url: " +
                  limited.url("/x") + "\n");
  ASSERT_TRUE(f.services->reload().ok());
  for (int i = 0; i < 2; ++i) {
    auto run = f.services->trigger_workflow("limited", json::object({{"type", "webhook"}}), false);
    ASSERT_TRUE(run.ok()) << run.status().to_string();
    EXPECT_EQ(json::get_string(*run, "status"), "succeeded") << json::stringify(*run);
  }
  EXPECT_EQ(limited.requests(), 3);

  const std::string text = f.metrics.render();
  EXPECT_NE(text.find("# TYPE weft_http_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weft_http_requests_total{connector=\"http\",outcome=\"2xx\"} 2\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("outcome=\"error\""), std::string::npos) << text;
  EXPECT_NE(text.find("weft_http_retries_total{connector=\"http\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weft_rate_limit_cooldowns_total{connector=\"http\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weft_http_wait_seconds_total{connector=\"http\"} "), std::string::npos) << text;
  EXPECT_EQ(text.find("connector:http"), std::string::npos) << "labelled by connector id, not limiter key";
  // A second scrape reports the same totals (snapshot copied, not added again).
  EXPECT_NE(f.metrics.render().find("weft_http_retries_total{connector=\"http\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace weft::daemon

namespace weft::daemon {
namespace {

// Item: an async run is answered with an id only once it is recorded. The upstream holds the step,
// so the background thread is inside the run (or not started yet) while the record is checked.
TEST(EngineServices, AnAsyncRunIsRecordedBeforeItsIdIsReturned) {
  std::atomic<bool> release{false};
  test::LocalServer slow([&](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    for (int i = 0; i < 2000 && !release.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  Fixture f;
  f.dir.write("flows/a.yaml",
              "name: a\non:\n  webhook:\n    async: true\nsteps:\n  - id: call\n    uses: http.request\n"
              "    with:\n      method: GET\n      url: " +
                  slow.url("/x") +
                  "\n  - id: after\n    uses: http.request\n    with:\n      method: GET\n"
                  "      url: " +
                  slow.url("/y") + "\n");
  ASSERT_TRUE(f.services->reload().ok());
  for (int i = 0; i < 20; ++i) {
    auto started = f.services->trigger_workflow("a", json::object({{"type", "webhook"}}), true);
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    const std::string id = json::get_string(*started, "id");
    // No wait: the record must already be there, with every step.
    auto rec = f.engine->runs().get_run(id);
    ASSERT_TRUE(rec.ok()) << "run " << id
                          << " was answered before it was recorded: " << rec.status().to_string();
    EXPECT_EQ(rec->status, store::RunStatus::kRunning);
    EXPECT_EQ(rec->steps.size(), 2u);
    EXPECT_EQ(rec->workflow, "a");
  }
  release = true;
  EXPECT_TRUE(f.services->shutdown(std::chrono::seconds(30)));
  store::RunQuery q;
  q.workflow = "a";
  auto runs = f.engine->runs().list_runs(q);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 20u);
  for (const auto& r : *runs) EXPECT_EQ(r.status, store::RunStatus::kSucceeded) << r.id << " " << r.error;
  EXPECT_EQ(slow.requests(), 40);  // each run executed every step once, from the first
}

// A run still going when the drain gives up is marked interrupted; a `resume: true` one is left
// running for the next start.
TEST(EngineServices, RunsStillGoingAtShutdownAreMarkedInterruptedUnlessResumable) {
  std::atomic<bool> release{false};
  std::atomic<int> arrived{0};
  test::LocalServer slow([&](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    ++arrived;
    for (int i = 0; i < 4000 && !release.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  Fixture f;
  const std::string body =
      "steps:\n  - id: call\n    uses: http.request\n    with:\n      method: GET\n      url: " +
      slow.url("/x") + "\n";
  f.dir.write("flows/plain.yaml", "name: plain\non:\n  webhook:\n    async: true\n" + body);
  f.dir.write("flows/again.yaml", "name: again\nresume: true\non:\n  webhook:\n    async: true\n" + body);
  ASSERT_TRUE(f.services->reload().ok());
  auto a = f.services->trigger_workflow("plain", json::object({{"type", "webhook"}}), true);
  auto b = f.services->trigger_workflow("again", json::object({{"type", "webhook"}}), true);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 2000 && arrived.load() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(arrived.load(), 2);
  EXPECT_FALSE(f.services->shutdown(std::chrono::milliseconds(100)));
  EXPECT_EQ(f.services->interrupt_unfinished("drain_timeout expired"), 1);
  auto plain = f.engine->runs().get_run(json::get_string(*a, "id"));
  auto again = f.engine->runs().get_run(json::get_string(*b, "id"));
  ASSERT_TRUE(plain.ok() && again.ok());
  EXPECT_EQ(plain->status, store::RunStatus::kInterrupted);
  EXPECT_NE(plain->error.find("drain_timeout expired"), std::string::npos) << plain->error;
  EXPECT_EQ(again->status, store::RunStatus::kRunning);
  release = true;
  EXPECT_TRUE(f.services->shutdown(std::chrono::seconds(30)));
}

}  // namespace
}  // namespace weft::daemon
