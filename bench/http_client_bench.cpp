// http_client_bench — throughput and per-call overhead of http::Client against a loopback
// keep-alive server, next to a bare Poco session doing the same exchange.
//
//   BM_ClientGetKeepAlive     http::Client, pooled connection (the normal case)
//   BM_ClientGetNoPool        http::Client, pool size 0: a new TCP connection per call
//   BM_ClientGetPaced         http::Client with a limiter_key and a generous rate (limiter cost)
//   BM_PocoSessionKeepAlive   one Poco HTTPClientSession reused: the floor; Client − this = overhead
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "http/client.hpp"

namespace {

constexpr const char* kBody = R"({"id":42,"name":"bench","ok":true})";

class Echo : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    Poco::NullOutputStream sink;
    Poco::StreamCopier::copyStream(req.stream(), sink);
    resp.setContentType("application/json");
    resp.sendBuffer(kBody, std::char_traits<char>::length(kBody));
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Echo;  // Poco takes ownership
  }
};

// One keep-alive server on 127.0.0.1 for the whole run.
class Server {
 public:
  Server() {
    socket_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
    socket_.listen(64);
    auto* params = new Poco::Net::HTTPServerParams;  // Poco takes ownership
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);                                               // unlimited
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory, socket_, params);  // Poco owns the factory
    server_->start();
  }
  ~Server() { server_->stopAll(true); }
  unsigned short port() const { return socket_.address().port(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

 private:
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

Server& server() {
  static Server s;
  return s;
}

void run_client(benchmark::State& state, weft::http::Client& client, const weft::http::CallOptions& opts) {
  const std::string url = server().url("/v1/items?page=1");
  for (auto _ : state) {
    auto r = client.send({"GET", url, {{"Accept", "application/json"}}, "", std::nullopt}, opts);
    if (!r.ok() || r->status != 200) {
      state.SkipWithError(r.ok() ? "unexpected status" : r.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(r->body.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ClientGetKeepAlive(benchmark::State& state) {
  weft::http::Client client;
  run_client(state, client, {});
}
BENCHMARK(BM_ClientGetKeepAlive)->UseRealTime();

void BM_ClientGetNoPool(benchmark::State& state) {
  weft::http::ClientOptions o;
  o.pool_size_per_origin = 0;
  weft::http::Client client(o);
  run_client(state, client, {});
}
BENCHMARK(BM_ClientGetNoPool)->UseRealTime();

void BM_ClientGetPaced(benchmark::State& state) {
  weft::http::Client client;
  weft::http::CallOptions opts;
  opts.limiter_key = "conn:bench";
  opts.rate = weft::http::RateSpec{1000000, 1};
  run_client(state, client, opts);
}
BENCHMARK(BM_ClientGetPaced)->UseRealTime();

void BM_PocoSessionKeepAlive(benchmark::State& state) {
  Poco::Net::HTTPClientSession session("127.0.0.1", server().port());
  session.setKeepAlive(true);
  for (auto _ : state) {
    Poco::Net::HTTPRequest req("GET", "/v1/items?page=1", Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Accept", "application/json");
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PocoSessionKeepAlive)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
