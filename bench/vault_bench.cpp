// vault_bench — cost of the vault's hot paths: sealing/opening one secret (AES-256-GCM), a durable
// update() of a token pair (WAL + synchronous=FULL: one fsync per commit), and secrets() lookup.
// The vault lives in a fresh directory under $TMPDIR (or /tmp); fsync cost depends on that disk.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "vault/internal/crypto.hpp"
#include "vault/vault.hpp"

namespace {

namespace vault = weft::vault;

class BenchHome {
 public:
  BenchHome() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/weft-vault-bench-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~BenchHome() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<vault::Vault> open_with_connection(const BenchHome& home) {
  ::unsetenv("WEFT_MASTER_KEY");
  auto v = vault::open_sqlite(home.path());
  if (!v) return nullptr;
  vault::ConnectionRecord r;
  r.name = "bench";
  r.connector = "restream";
  r.state = vault::ConnectionState::kActive;
  (void)(*v)->create(r, {{vault::kClientSecret, std::string(40, 'c')},
                         {vault::kAccessToken, std::string(200, 'a')},
                         {vault::kRefreshToken, std::string(64, 'r')}});
  return std::move(*v);
}

void BM_Seal(benchmark::State& state) {
  auto key = vault::internal::MasterKey::generate();
  const std::string secret(static_cast<std::size_t>(state.range(0)), 's');
  for (auto _ : state) {
    auto sealed = vault::internal::seal(*key, "bench", "access_token", secret);
    benchmark::DoNotOptimize(sealed);
  }
}
BENCHMARK(BM_Seal)->Arg(64)->Arg(2048);

void BM_Open(benchmark::State& state) {
  auto key = vault::internal::MasterKey::generate();
  const vault::internal::Keyring ring{{key->id(), *key}};
  const std::string secret(static_cast<std::size_t>(state.range(0)), 's');
  const std::string sealed = *vault::internal::seal(*key, "bench", "access_token", secret);
  for (auto _ : state) {
    auto plain = vault::internal::open_sealed(ring, "bench", "access_token", sealed);
    benchmark::DoNotOptimize(plain);
  }
}
BENCHMARK(BM_Open)->Arg(64)->Arg(2048);

// One durable write of a new access/refresh pair, as after a token refresh.
void BM_UpdateTokenPairDurable(benchmark::State& state) {
  BenchHome home;
  auto v = open_with_connection(home);
  if (!v) {
    state.SkipWithError("cannot open the vault");
    return;
  }
  auto rec = *v->get("bench");
  long i = 0;
  for (auto _ : state) {
    ++i;
    auto s = v->update(rec, {{vault::kAccessToken, "access-" + std::to_string(i) + std::string(180, 'a')},
                             {vault::kRefreshToken, "refresh-" + std::to_string(i) + std::string(50, 'r')}});
    if (!s.ok()) state.SkipWithError(s.message().c_str());
  }
}
BENCHMARK(BM_UpdateTokenPairDurable)->Unit(benchmark::kMicrosecond);

// Decrypting a connection's three secrets, as before every connector call.
void BM_SecretsLookup(benchmark::State& state) {
  BenchHome home;
  auto v = open_with_connection(home);
  if (!v) {
    state.SkipWithError("cannot open the vault");
    return;
  }
  for (auto _ : state) {
    auto s = v->secrets("bench");
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SecretsLookup)->Unit(benchmark::kMicrosecond);

void BM_TryLease(benchmark::State& state) {
  BenchHome home;
  auto v = open_with_connection(home);
  if (!v) {
    state.SkipWithError("cannot open the vault");
    return;
  }
  for (auto _ : state) {
    auto got = v->try_lease("bench", "owner", 30000);
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_TryLease)->Unit(benchmark::kMicrosecond);

// Rotating the key of a vault with 100 connections of 3 secrets each.
void BM_RotateKey100Connections(benchmark::State& state) {
  BenchHome home;
  auto v = open_with_connection(home);
  if (!v) {
    state.SkipWithError("cannot open the vault");
    return;
  }
  for (int i = 0; i < 99; ++i) {
    vault::ConnectionRecord r;
    r.name = "c" + std::to_string(i);
    r.connector = "restream";
    (void)v->create(r, {{vault::kClientSecret, std::string(40, 'c')},
                        {vault::kAccessToken, std::string(200, 'a')},
                        {vault::kRefreshToken, std::string(64, 'r')}});
  }
  for (auto _ : state) {
    auto id = v->rotate_key();
    if (!id) state.SkipWithError(id.status().message().c_str());
  }
}
BENCHMARK(BM_RotateKey100Connections)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
