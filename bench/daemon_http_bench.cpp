// Requests per second of the daemon's HTTP front on loopback: router + admin-token check + JSON
// response, over one keep-alive connection, and the bare router match and cron next-fire cost.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <benchmark/benchmark.h>

#include "daemon/cron.hpp"
#include "daemon/http_server.hpp"

namespace {

using weft::daemon::Request;
using weft::daemon::Response;

weft::daemon::Router make_router() {
  weft::daemon::Router r;
  for (const char* p : {"/v1/connectors", "/v1/connections", "/v1/workflows", "/v1/runs", "/v1/reload"})
    r.add("GET", p, [](const Request&) { return Response::json(200, weft::json::object()); });
  r.add("GET", "/v1/runs/{id}", [](const Request& q) {
    return Response::json(200, weft::json::object({{"id", q.param("id")}, {"status", "succeeded"}}));
  });
  return r;
}

void BM_RouterMatch(benchmark::State& state) {
  auto r = make_router();
  for (auto _ : state) benchmark::DoNotOptimize(r.match("GET", "/v1/runs/r-12345"));
}
BENCHMARK(BM_RouterMatch);

void BM_AuthenticatedGetOverKeepAlive(benchmark::State& state) {
  auto r = make_router();
  weft::daemon::ServerOptions o;
  o.port = 0;
  o.admin_token = std::string(64, 'a');
  o.max_keep_alive_requests = 1 << 30;
  auto server = weft::daemon::HttpServer::start(o, r, nullptr);
  if (!server) {
    state.SkipWithError(server.status().message().c_str());
    return;
  }
  Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
  session.setKeepAlive(true);
  for (auto _ : state) {
    Poco::Net::HTTPRequest req("GET", "/v1/runs/r-1", Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Authorization", "Bearer " + o.admin_token);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AuthenticatedGetOverKeepAlive)->UseRealTime();

void BM_CronNextFireInTimeZone(benchmark::State& state) {
  auto s = weft::daemon::CronSchedule::parse("*/15 9-17 * * MON-FRI", "Europe/Paris");
  auto t = std::chrono::sys_seconds(std::chrono::seconds(1772355600));
  for (auto _ : state) benchmark::DoNotOptimize(s->next_after(t));
}
BENCHMARK(BM_CronNextFireInTimeZone);

}  // namespace

BENCHMARK_MAIN();
