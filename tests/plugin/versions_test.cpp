// Connector versions in one registry (a new version beside the old, pinned runs, drain and
// unload) and the child-process probe, against real .so files: fixtures/versioned_connector.cpp
// built as 1.0.0 and 1.1.0, and fixture_connector.cpp modes whose entry aborts, crashes or hangs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "core/json.hpp"
#include "plugin/probe.hpp"
#include "plugin/registry.hpp"
#include "support/test_support.hpp"

namespace weft::plugin {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(PLUGIN_FIXTURE_DIR) + "/" + name + ".so"; }

// A private copy of a fixture (its own dlopen image).
std::string copy_of(const test::TempDir& dir, const std::string& name, const std::string& as) {
  const std::string to = dir.path() + "/" + as;
  fs::copy_file(fixture(name), to, fs::copy_options::overwrite_existing);
  return to;
}

std::string version_from(const ActionCatalog& catalog, const std::string& uses = "versioned.version",
                         const std::string& input = "{}") {
  const ActionInfo* op = catalog.find(uses);
  if (op == nullptr) return "(not loaded)";
  auto in = json::parse(input);
  auto out = catalog.invoke(*op, *in, InvokeContext{"run", "step", "", "", std::nullopt});
  if (!out) return out.status().to_string();
  return json::get_string(*out, "version");
}

TEST(ConnectorVersions, WithoutReplaceTwoFilesWithOneIdAreADuplicateNamingBothPaths) {
  test::TempDir dir;
  const std::string v1 = copy_of(dir, "versions/versioned_v1", "a.so");
  const std::string v2 = copy_of(dir, "versions/versioned_v2", "b.so");
  Registry registry;
  ASSERT_TRUE(registry.load_file(v1).ok());
  Status st = registry.load_file(v2);
  EXPECT_EQ(st.message(), v2 + ": duplicate connector id 'versioned' (already loaded from " + v1 + ")");
  EXPECT_EQ(version_from(registry), "1.0.0");
}

TEST(ConnectorVersions, ANewVersionServesNewPinsWhileAPinnedRunKeepsTheOldUntilItLetsGo) {
  test::TempDir dir;
  const std::string src = dir.path() + "/versioned.so";
  Registry registry;
  ASSERT_TRUE(
      registry.load_file(src, {true, copy_of(dir, "versions/versioned_v1", "img1.so"), {}}).status.ok());
  auto run_on_v1 = registry.pin();
  ASSERT_NE(run_on_v1, nullptr);

  // The v1 run is in flight inside the connector when v2 arrives.
  const std::string gate = dir.path() + "/gate";
  auto in_flight = std::async(std::launch::async, [&] {
    return version_from(*run_on_v1, "versioned.wait", R"({"path":")" + gate + R"("})");
  });

  const std::string v2 = dir.path() + "/versioned-1.1.so";
  LoadOutcome out = registry.load_file(v2, {true, copy_of(dir, "versions/versioned_v2", "img2.so"), {}});
  ASSERT_TRUE(out.status.ok()) << out.status.message();
  EXPECT_EQ(out.previous_version, "1.0.0");
  EXPECT_EQ(out.version, "1.1.0");
  EXPECT_EQ(out.draining_runs, 1);
  out.previous.reset();

  EXPECT_EQ(registry.connector("versioned")->version, "1.1.0");
  EXPECT_EQ(version_from(registry), "1.1.0");
  EXPECT_EQ(version_from(*registry.pin()), "1.1.0");
  EXPECT_EQ(version_from(*run_on_v1), "1.0.0");  // later steps of the old run: still v1
  ASSERT_EQ(registry.draining().size(), 1u);
  EXPECT_EQ(registry.draining()[0].version, "1.0.0");
  EXPECT_EQ(registry.draining()[0].runs, 1);
  EXPECT_EQ(registry.unloaded_after_draining(), 0);

  std::ofstream(gate) << "go";
  EXPECT_EQ(in_flight.get(), "1.0.0");
  run_on_v1.reset();  // the run finished: its version unloads
  EXPECT_EQ(registry.unloaded_after_draining(), 1);
  EXPECT_TRUE(registry.draining().empty());
  EXPECT_EQ(version_from(registry), "1.1.0");
}

TEST(ConnectorVersions, TheSameFileChangedInPlaceReplacesEvenWithTheSameVersion) {
  test::TempDir dir;
  const std::string src = dir.path() + "/versioned.so";
  Registry registry;
  ASSERT_TRUE(
      registry.load_file(src, {true, copy_of(dir, "versions/versioned_v1", "img1.so"), {}}).status.ok());
  LoadOutcome again = registry.load_file(src, {true, copy_of(dir, "versions/versioned_v1", "img2.so"), {}});
  ASSERT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(again.previous_version, "1.0.0");
  again.previous.reset();
  EXPECT_EQ(registry.unloaded_after_draining(), 1);  // no run held it
  EXPECT_EQ(version_from(registry), "1.0.0");
}

TEST(ConnectorVersions, AnotherFileWithTheSameVersionOrAKeptIdIsRefusedAndTheOldKeepsServing) {
  test::TempDir dir;
  Registry registry;
  const std::string a = dir.path() + "/a.so";
  const std::string b = dir.path() + "/b.so";
  ASSERT_TRUE(
      registry.load_file(a, {true, copy_of(dir, "versions/versioned_v1", "img1.so"), {}}).status.ok());
  LoadOutcome same = registry.load_file(b, {true, copy_of(dir, "versions/versioned_v1", "img2.so"), {}});
  EXPECT_EQ(same.status.message(), b + ": connector 'versioned' 1.0.0 is already loaded from " + a +
                                       "; a new version needs a new version number");
  LoadOutcome kept =
      registry.load_file(b, {true, copy_of(dir, "versions/versioned_v2", "img3.so"), {"versioned"}});
  EXPECT_NE(kept.status.message().find("duplicate connector id 'versioned'"), std::string::npos);
  // A broken file never replaces: the loaded version keeps serving.
  LoadOutcome broken = registry.load_file(a, {true, copy_of(dir, "abi_major", "img4.so"), {}});
  EXPECT_FALSE(broken.status.ok());
  EXPECT_EQ(version_from(registry), "1.0.0");
  EXPECT_EQ(registry.connector("versioned")->path, a);
}

ProbeOptions probe_options(const test::TempDir& scratch, std::chrono::milliseconds timeout) {
  return ProbeOptions{{WEFT_CLI, "__probe-connector"}, timeout, scratch.path()};
}

TEST(ConnectorProbe, AGoodConnectorPassesAndEveryWayOfDyingIsNamed) {
  test::TempDir scratch;
  const auto r = probe_files({{fixture("good"), "good.so"},
                              {fixture("crashing/entry_aborts"), "aborts.so"},
                              {fixture("crashing/entry_segfaults"), "segfaults.so"},
                              {fixture("crashing/entry_hangs"), "hangs.so"},
                              {fixture("abi_major"), "abi.so"},
                              {fixture("entry_throws"), "throws.so"}},
                             probe_options(scratch, std::chrono::milliseconds(1500)));
  ASSERT_EQ(r.size(), 6u);
  EXPECT_TRUE(r[0].ok()) << r[0].message();
  EXPECT_EQ(r[1].message(), "aborts.so: connector init crashed (signal 6 SIGABRT); refused");
  EXPECT_EQ(r[2].message(), "segfaults.so: connector init crashed (signal 11 SIGSEGV); refused");
  EXPECT_EQ(r[3].message(), "hangs.so: connector init did not return within 1.5 s; refused");
  EXPECT_EQ(r[4].message(), "abi.so: ABI major 2, host supports 1");
  EXPECT_EQ(r[5].message(), "throws.so: entry point threw: entry exploded");
  EXPECT_TRUE(fs::is_empty(scratch.path()));  // the children's output files are removed
}

TEST(ConnectorProbe, FilesAreProbedInParallel) {
  test::TempDir scratch;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = probe_files({{fixture("crashing/entry_hangs"), "1.so"},
                              {fixture("crashing/entry_hangs"), "2.so"},
                              {fixture("crashing/entry_hangs"), "3.so"},
                              {fixture("crashing/entry_hangs"), "4.so"}},
                             probe_options(scratch, std::chrono::milliseconds(600)));
  const auto took = std::chrono::steady_clock::now() - t0;
  for (const auto& s : r) EXPECT_NE(s.message().find("did not return within 0.6 s"), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(2000));  // one timeout, not four
}

TEST(ConnectorProbe, AnUnstartableProbeRefusesWithTheReason) {
  test::TempDir scratch;
  const auto r = probe_files({{fixture("good"), "good.so"}},
                             ProbeOptions{{scratch.path() + "/no-such-weft", "__probe-connector"},
                                          std::chrono::milliseconds(1000),
                                          scratch.path()});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].message().find("good.so: cannot start the connector probe"), std::string::npos)
      << r[0].message();
}

}  // namespace
}  // namespace weft::plugin
