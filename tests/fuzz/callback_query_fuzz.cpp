// libFuzzer target: OAuth callback query parsing, the state check in ConnectionManager::complete,
// and token response parsing (RELIABILITY row 15). Input layout: byte 0 selects the mode; the rest is
// the query (modes 0-1) or the token endpoint's answer (mode 2: byte 1 picks the HTTP status).
#include <cstddef>
#include <cstdint>
#include <string>

#include "../auth/memory_vault.hpp"
#include "auth/connection_manager.hpp"
#include "auth/flow.hpp"

namespace {

using namespace weft;  // NOLINT(google-build-using-namespace) — fuzz harness brevity

std::string g_body;  // what the fake token endpoint answers in mode 1

Result<Json> lookup(const std::string&) {
  return json::parse(R"({"auth":{"kind":"oauth2","authorize_url":"http://127.0.0.1:9/a",
    "token_url":"http://127.0.0.1:9/t","pkce":true}})");
}

struct Harness {
  test::MemoryVault vault;
  auth::ConnectionManager mgr{vault, lookup, [](http::Request) -> Result<http::Response> {
                                http::Response r;
                                r.status = 200;
                                r.body = g_body;
                                return r;
                              }};
  Harness() { (void)mgr.add({"c", "x", "id", "secret", "", {}}); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  if (size < 2) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 3) {
    case 0: {
      auto p = auth::parse_callback(rest);
      (void)p;
      break;
    }
    case 1: {
      // A real pending state, then the fuzzed query with it appended half the time.
      g_body = R"({"access_token":"a","refresh_token":"r","expires_in":3600})";
      std::string q = rest;
      if (data[1] & 1) {  // only then is a state created, so pending states do not pile up
        auto start = h.mgr.authorize("c", "http://127.0.0.1:9/cb");
        if (!start) return 0;
        q += "&state=" + start->state;
      }
      auto r = h.mgr.complete(q);
      (void)r;
      break;
    }
    default: {
      static const int kStatuses[] = {200, 201, 400, 401, 403, 429, 500, 503};
      auto t = auth::parse_token_response(kStatuses[data[1] % 8], rest, 1'800'000'000);
      (void)t;
      break;
    }
  }
  return 0;
}
