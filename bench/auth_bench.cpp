// auth_bench — the cost of putting credentials on a request, and a thousand callers on one expired
// token (exactly one refresh request; time until every caller holds the new token).
#include <benchmark/benchmark.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "../tests/auth/memory_vault.hpp"
#include "../tests/auth/poco_transport.hpp"
#include "../tests/support/oauth_server.hpp"
#include "auth/connection_manager.hpp"

namespace {

using namespace weft;  // NOLINT(google-build-using-namespace) — benchmark brevity

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<Json> lookup(const std::string&) {
  return json::parse(R"({"auth":{"kind":"oauth2","authorize_url":"https://x.invalid/a",
    "token_url":"https://x.invalid/t","rotates_refresh_token":true}})");
}

// apply() on a warm connection: the token is cached in memory, nothing is decrypted or sent.
void BM_ApplyWarm(benchmark::State& state) {
  test::MemoryVault vault;
  auth::ConnectionManager mgr(vault, lookup, [](http::Request) -> Result<http::Response> {
    return Status(Code::kUnavailable, "not used");
  });
  if (!mgr.add({"c", "x", "id", "secret", "", {}}).ok()) state.SkipWithError("add failed");
  auto rec = vault.get("c");
  rec->state = vault::ConnectionState::kActive;
  rec->access_expires_at = system_now() + 3600;
  if (!vault
           .update(*rec, {{vault::kAccessToken, "warm-access-token"}, {vault::kRefreshToken, "r"}},
                   std::nullopt)
           .ok()) {
    state.SkipWithError("update failed");
  }
  http::AuthHook* hook = *mgr.hook("c");
  http::Request req;
  req.url = "https://api.example/v1/x";
  for (auto _ : state) {
    req.headers.clear();
    benchmark::DoNotOptimize(hook->apply(req));
  }
  state.counters["vault_secret_reads"] = vault.secret_reads();
}
BENCHMARK(BM_ApplyWarm)->Threads(1)->Threads(2);

// 1,000 callers on an expired token against a rotating OAuth2 server on 127.0.0.1 (Arg 1), and the
// same 1,000 threads on a fresh token (Arg 0): the difference is what the single refresh costs them
// all; the rest is waking and joining 1,000 threads on this machine.
void BM_ThousandCallersOnExpiredToken(benchmark::State& state) {
  const bool expired = state.range(0) == 1;
  constexpr int kCallers = 1000;
  int refreshes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    test::OAuthServer server({.style = test::OAuthStyle::kRestream});
    test::MemoryVault vault;
    std::atomic<std::int64_t> offset{0};
    auth::ManagerOptions mo;
    mo.now = [&] { return system_now() + offset.load(); };
    auth::ConnectionManager mgr(vault, lookup, test::poco_transport(), mo);
    (void)mgr.add({"c",
                   "x",
                   "client-1",
                   "secret-1",
                   "",
                   {{"authorize_url", server.url("/authorize")}, {"token_url", server.url("/token")}}});
    auto start = mgr.authorize("c", "http://127.0.0.1:9/cb");
    if (!start || !mgr.complete(server.approve(start->url))) {
      state.SkipWithError("authorize failed");
      break;
    }
    http::AuthHook* hook = *mgr.hook("c");
    if (expired) offset = 7200;
    std::atomic<int> failed{0};
    std::barrier sync(kCallers + 1);
    std::vector<std::thread> threads;
    threads.reserve(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      threads.emplace_back([&] {
        http::Request req;
        req.url = server.url("/api/me");
        sync.arrive_and_wait();
        if (!hook->apply(req).ok()) ++failed;
      });
    }
    const int before = server.token_requests();
    state.ResumeTiming();
    sync.arrive_and_wait();
    for (auto& t : threads) t.join();
    state.PauseTiming();
    refreshes = server.token_requests() - before;
    if (failed.load() != 0) state.SkipWithError("a caller failed");
    state.ResumeTiming();
  }
  state.counters["refresh_requests"] = refreshes;
}
BENCHMARK(BM_ThousandCallersOnExpiredToken)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
