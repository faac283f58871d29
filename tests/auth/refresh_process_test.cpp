// Token refresh across real `weft` processes (the CLI binary) sharing one SQLite vault, against the
// strict rotating OAuth test server (tests/support/oauth_server.hpp): RELIABILITY row 4 (kill -9
// between the token response and the commit) and row 3 across processes (one expired token, several
// processes, exactly one refresh).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "auth/connection_manager.hpp"
#include "core/json.hpp"
#include "engine/engine.hpp"
#include "poco_transport.hpp"
#include "support/oauth_server.hpp"
#include "support/test_support.hpp"
#include "vault/vault.hpp"
#include "vault_test_util.hpp"

extern char** environ;

namespace weft::auth {
namespace {

constexpr const char* kRedirect = "http://127.0.0.1:9/oauth/callback";

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The shipped manifests, as the CLI reads them.
Result<Json> lookup(const std::string& id) {
  std::ifstream in(test::source_dir() + "/connectors/" + id + "/" + id + ".manifest.json");
  if (!in) return Status(Code::kNotFound, "unknown connector '" + id + "'");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// Starts WEFT_CLI with args (stdout and stderr to a file) without waiting for it.
pid_t spawn_weft(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv_s = {WEFT_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, WEFT_CLI, &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class RefreshProcesses : public ::testing::Test {
 protected:
  void start(test::OAuthServerOptions o) { server = std::make_unique<test::OAuthServer>(std::move(o)); }

  // Adds and authorizes a connection through a manager on the SQLite vault in home (as
  // `weft connections add` + `authorize` would), then closes the vault.
  void connect(const std::string& name, const std::string& connector,
               std::map<std::string, std::string> settings, test::OAuthServer* via = nullptr) {
    test::OAuthServer& srv = via != nullptr ? *via : *server;
    settings["authorize_url"] = srv.url("/authorize");
    settings["token_url"] = srv.url("/token");
    auto v = vault::open_sqlite(home.path());
    ASSERT_TRUE(v) << v.status().to_string();
    ConnectionManager mgr(**v, lookup, test::poco_transport());
    Status added = mgr.add({name, connector, "client-1", "secret-1", "", settings});
    if (added.code() != Code::kAlreadyExists) {
      ASSERT_TRUE(added.ok()) << added.to_string();
    }
    auto start = mgr.authorize(name, kRedirect);
    ASSERT_TRUE(start) << start.status().to_string();
    auto done = mgr.complete(srv.approve(start->url));
    ASSERT_TRUE(done) << done.status().to_string();
  }

  struct Stored {
    vault::ConnectionRecord rec;
    std::map<std::string, std::string> secrets;
  };
  Stored stored(const std::string& name) {
    Stored s;
    auto v = vault::open_sqlite(home.path());
    EXPECT_TRUE(v) << v.status().to_string();
    if (!v) return s;
    auto rec = (*v)->get(name);
    EXPECT_TRUE(rec) << rec.status().to_string();
    if (rec) s.rec = *rec;
    auto sec = (*v)->secrets(name);
    if (sec) s.secrets = *sec;
    return s;
  }
  std::string integrity() { return vault::testing::RawDb(home.path()).scalar("PRAGMA integrity_check"); }

  test::ProcessResult weft(std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", home.path()});
    return test::run_weft(args);
  }

  test::TempDir home;
  std::unique_ptr<test::OAuthServer> server;
};

// Row 4: the server rotated the pair and answered, but the process died before committing it.
TEST_F(RefreshProcesses, KilledBetweenTokenResponseAndCommitLeavesNeedsReauthNeverAnOldTokenReplay) {
  start({.style = test::OAuthStyle::kRestream});
  connect("rs", "restream", {});
  const std::string old_refresh = stored("rs").secrets.at(vault::kRefreshToken);
  const int before = server->token_requests();

  server->hold_token_answers(true);
  const pid_t pid =
      spawn_weft({"--home", home.path(), "connections", "refresh", "rs"}, home.path() + "/first.log");
  ASSERT_GT(pid, 0);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server->held() == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(server->held(), 1) << "the refresh never reached the server";
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  server->hold_token_answers(false);
  EXPECT_FALSE(server->refresh_token_live(old_refresh));  // the server did rotate it away

  EXPECT_EQ(integrity(), "ok");
  Stored after_kill = stored("rs");
  ASSERT_TRUE(after_kill.rec.refresh_intent.has_value()) << "no trace of the interrupted refresh";
  EXPECT_EQ(after_kill.secrets.at(vault::kRefreshToken), old_refresh);  // the new pair was never stored

  // The next process must not send the rotated-out token.
  auto again = weft({"connections", "refresh", "rs"});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_NE(again.err.find("a token refresh was interrupted"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("weft connections authorize rs"), std::string::npos) << again.err;
  EXPECT_EQ(server->token_requests(), before + 1);
  EXPECT_EQ(server->reused_refresh_tokens(), 0);
  EXPECT_FALSE(server->grant_revoked());

  Stored marked = stored("rs");
  EXPECT_EQ(marked.rec.state, vault::ConnectionState::kNeedsReauth);
  EXPECT_NE(marked.rec.last_error.find("interrupted"), std::string::npos);
  auto list = weft({"connections", "list", "--json"});
  EXPECT_NE(list.out.find("needs_reauth"), std::string::npos) << list.out;

  // Re-authorizing repairs it; refreshes then work again.
  connect("rs", "restream", {});
  EXPECT_FALSE(stored("rs").rec.refresh_intent.has_value());
  auto ok = weft({"connections", "refresh", "rs"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(server->reused_refresh_tokens(), 0);
}

// Row 4 at several points: kill -9 at varied moments of `weft connections refresh` against a slow
// token endpoint. Afterwards the vault is sound and the connection is on a pair the server still
// accepts, or it needs re-authorization; a rotated-out token is never presented.
TEST_F(RefreshProcesses, KillLoopAtVariedPointsNeverReplaysARotatedOutToken) {
  start({.style = test::OAuthStyle::kRestream, .token_delay = std::chrono::milliseconds(150)});
  connect("rs", "restream", {});
  std::mt19937 rng{20261202};  // fixed seed: the same kill schedule every run
  std::uniform_int_distribution<int> delay_ms(0, 700);
  int on_old_or_new_pair = 0, needs_reauth = 0;
  for (int round = 0; round < 8; ++round) {
    const pid_t pid =
        spawn_weft({"--home", home.path(), "connections", "refresh", "rs"}, home.path() + "/loop.log");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    (void)wait_exit(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let a held-up answer go nowhere

    ASSERT_EQ(integrity(), "ok") << "round " << round;
    // A later, unkilled process decides from what the vault holds.
    auto next = weft({"connections", "refresh", "rs"});
    Stored s = stored("rs");
    if (s.rec.state == vault::ConnectionState::kActive) {
      EXPECT_EQ(next.exit_code, 0) << "round " << round << ": " << next.err;
      EXPECT_TRUE(server->refresh_token_live(s.secrets.at(vault::kRefreshToken))) << "round " << round;
      ++on_old_or_new_pair;
    } else {
      EXPECT_EQ(s.rec.state, vault::ConnectionState::kNeedsReauth) << "round " << round;
      EXPECT_EQ(next.exit_code, 1) << "round " << round;
      ++needs_reauth;
      connect("rs", "restream", {});
    }
    ASSERT_EQ(server->reused_refresh_tokens(), 0) << "round " << round;
  }
  std::printf("kill loop: %d rounds kept a valid pair, %d needed re-authorization\n", on_old_or_new_pair,
              needs_reauth);
}

// Row 3 across processes: four `weft run` processes call through one expired token of a strict
// rotating provider; one refresh, and every process succeeds with the new token.
TEST_F(RefreshProcesses, SeveralProcessesOnOneExpiredTokenCauseExactlyOneRefresh) {
  start({.style = test::OAuthStyle::kGeneric, .token_delay = std::chrono::milliseconds(400)});
  connect("gen", "http", {{"auth", "oauth2"}, {"rotates_refresh_token", "true"}});
  {
    auto v = vault::open_sqlite(home.path());
    ASSERT_TRUE(v);
    auto rec = (*v)->get("gen");
    ASSERT_TRUE(rec);
    rec->access_expires_at = system_now() - 10;  // expired for everyone
    ASSERT_TRUE((*v)->update(*rec, {}, rec->generation).ok());
  }
  const std::string flow = home.write("me.yaml",
                                      "name: me\nsteps:\n  - id: me\n    uses: http.request\n"
                                      "    connection: gen\n    with:\n      method: GET\n"
                                      "      url: " +
                                          server->url("/api/me") + "\n");
  const int before = server->token_requests();
  constexpr int kProcesses = 4;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcesses; ++i) {
    pids.push_back(
        spawn_weft({"--home", home.path(), "run", flow}, home.path() + "/run" + std::to_string(i) + ".log"));
    ASSERT_GT(pids.back(), 0);
  }
  for (int i = 0; i < kProcesses; ++i) {
    EXPECT_EQ(wait_exit(pids[i]), 0) << vault::testing::read_file(home.path() + "/run" + std::to_string(i) +
                                                                  ".log");
  }
  EXPECT_EQ(server->token_requests(), before + 1);
  EXPECT_EQ(server->reused_refresh_tokens(), 0);
  EXPECT_FALSE(server->grant_revoked());
  EXPECT_EQ(server->api_requests(), kProcesses);  // each succeeded first time with the new token
  Stored s = stored("gen");
  EXPECT_EQ(s.rec.state, vault::ConnectionState::kActive);
  EXPECT_FALSE(s.rec.refresh_intent.has_value());
  EXPECT_TRUE(server->refresh_token_live(s.secrets.at(vault::kRefreshToken)));
}

// No retries against the token endpoint: a 503 or a 429 gets exactly one request from the real
// CLI (its engine wiring), the call fails saying what the endpoint answered, tokens stay as they were.
TEST_F(RefreshProcesses, TokenEndpointAnswering503Or429GetsExactlyOneRequestAndStoredTokensStayUnchanged) {
  start({.style = test::OAuthStyle::kRestream});
  connect("rs", "restream", {});
  const Stored before = stored("rs");
  struct Case {
    test::TokenFault fault;
    std::string says;
  };
  for (const Case& c : {Case{test::TokenFault::kServerError, "HTTP 503"},
                        Case{test::TokenFault::kRateLimitSeconds, "rate limiting (429)"}}) {
    const int requests = server->token_requests();
    server->fail_next(c.fault);
    auto r = weft({"connections", "refresh", "rs"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(server->token_requests(), requests + 1) << c.says;
    const Stored after = stored("rs");
    EXPECT_EQ(after.secrets, before.secrets) << c.says;
    EXPECT_EQ(after.rec.state, vault::ConnectionState::kActive) << c.says;
    EXPECT_FALSE(after.rec.refresh_intent.has_value()) << "an error answer leaves no intent behind";
  }
  EXPECT_TRUE(server->refresh_token_live(before.secrets.at(vault::kRefreshToken)));
  EXPECT_EQ(weft({"connections", "refresh", "rs"}).exit_code, 0);
}

// A 429 from one provider's token endpoint pauses that endpoint only: another token endpoint (its own
// origin) is still reached, while a second refresh against the first fails fast without a request.
TEST_F(RefreshProcesses, TokenEndpointCooldownIsPerOrigin) {
  start({.style = test::OAuthStyle::kRestream});
  test::OAuthServer other({.style = test::OAuthStyle::kRestream});
  connect("first", "restream", {});
  connect("second", "restream", {}, &other);
  engine::Options eo{.home = home.path(), .connector_dirs = {test::connector_dir()}};
  eo.http.overall_deadline = std::chrono::milliseconds(3000);  // a 300 s cooldown is past every deadline
  auto e = engine::Engine::open(eo);
  ASSERT_TRUE(e) << e.status().to_string();
  server->fail_next(test::TokenFault::kRateLimitLong);
  Status limited = (*e)->connections().refresh("first");
  EXPECT_EQ(limited.code(), Code::kRateLimited) << limited.to_string();
  EXPECT_EQ(server->token_requests(), 2);  // the code exchange and the one refresh

  Status elsewhere = (*e)->connections().refresh("second");
  EXPECT_TRUE(elsewhere.ok()) << elsewhere.to_string();

  Status again = (*e)->connections().refresh("first");
  EXPECT_EQ(again.code(), Code::kRateLimited) << again.to_string();
  EXPECT_EQ(server->token_requests(), 2);  // paused locally: not sent
}

}  // namespace
}  // namespace weft::auth
