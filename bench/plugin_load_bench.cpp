// Plugin loading and invoke overhead. Target: 50 connectors load in <= 50 ms.
//   plugin_load_bench --benchmark_filter=Load
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "core/json.hpp"
#include "core/log.hpp"
#include "plugin/registry.hpp"

namespace {

namespace fs = std::filesystem;
constexpr int kConnectors = 50;

// A temp dir holding kConnectors copies of the bench connector, removed at exit.
class Copies {
 public:
  Copies() {
    dir_ = fs::temp_directory_path() / ("weft-plugin-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (int i = 0; i < kConnectors; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "bench_%02d.so", i);
      fs::copy_file(BENCH_CONNECTOR, dir_ / name, fs::copy_options::overwrite_existing);
    }
  }
  ~Copies() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

const Copies& copies() {
  static Copies c;
  return c;
}

void BM_Load50Connectors(benchmark::State& state) {
  weft::log::set_level(weft::log::Level::kError);
  const std::string dir = copies().path();
  for (auto _ : state) {
    auto registry = std::make_unique<weft::plugin::Registry>();
    auto refused = registry->load({dir});
    if (!refused.empty() || registry->connectors().size() != kConnectors) {
      state.SkipWithError(refused.empty() ? "not all loaded" : refused[0].message().c_str());
      break;
    }
    state.PauseTiming();  // unloading is not what is measured
    registry.reset();
    state.ResumeTiming();
  }
  state.counters["connectors"] = kConnectors;
}
BENCHMARK(BM_Load50Connectors)->Unit(benchmark::kMillisecond);

void BM_InvokeTrivialAction(benchmark::State& state) {
  weft::plugin::Registry registry;
  if (!registry.load({copies().path() + "/bench_00.so"}).empty()) {
    state.SkipWithError("load failed");
    return;
  }
  const weft::plugin::ActionInfo* op = registry.find("bench_00.noop");
  weft::Json input = weft::json::object();
  weft::plugin::InvokeContext ctx;
  for (auto _ : state) {
    auto out = registry.invoke(*op, input, ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_InvokeTrivialAction)->ThreadRange(1, 2);

void BM_InvokeValidatedAction(benchmark::State& state) {
  weft::plugin::Registry registry;
  if (!registry.load({copies().path() + "/bench_00.so"}).empty()) {
    state.SkipWithError("load failed");
    return;
  }
  const weft::plugin::ActionInfo* op = registry.find("bench_00.create_item");
  auto input = weft::json::parse(R"({"name":"a thing","tags":["x","y","z"],"priority":"high"})");
  weft::plugin::InvokeContext ctx;
  for (auto _ : state) {
    auto out = registry.invoke(*op, *input, ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_InvokeValidatedAction);

}  // namespace

BENCHMARK_MAIN();
