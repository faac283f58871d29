// Vault behaviour across processes: kill -9 during key rotation and during writes, leases and
// auth states contended by several processes. Children are fork()ed and only touch their own
// Vault (never a handle opened by the parent); they report through their exit code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <functional>
#include <random>
#include <set>

#include "support/test_support.hpp"
#include "vault/vault.hpp"
#include "vault_test_util.hpp"

namespace weft::vault {
namespace {

using testing::key_id_of;
using testing::RawDb;
using testing::read_file;
using testing::sample_record;
using testing::ScopedEnv;

constexpr int kChildOpenFailed = 2;
constexpr int kChildOpFailed = 3;
constexpr int kChildExclusionBroken = 4;

// Runs body in a child process; the child exits with body's return value.
pid_t spawn(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

// Waits for pid; its exit code, or 128 + signal.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string token(const char* kind, long i) { return std::string(kind) + "-" + std::to_string(i) + "-padding-xyz"; }

// The serial number a token() carries.
std::string serial_of(const std::string& t) {
  const auto a = t.find('-');
  const auto b = t.find('-', a + 1);
  return t.substr(a + 1, b - a - 1);
}

class VaultProcessTest : public ::testing::Test {
 protected:
  static constexpr int kConnections = 4;
  static std::string conn(int i) { return "conn-" + std::to_string(i); }

  void seed() {
    auto v = open_sqlite(home.path());
    ASSERT_TRUE(v.ok()) << v.status().to_string() << "\n" << describe_keys();
    for (int i = 0; i < kConnections; ++i) {
      ASSERT_TRUE((*v)->create(sample_record(conn(i)), {{kClientSecret, "client-secret-" + std::to_string(i) + "-abc"},
                                                        {kAccessToken, token("access", 0)},
                                                        {kRefreshToken, token("refresh", 0)}})
                      .ok());
    }
  }

  // Every secret opens, every token pair belongs together, and SQLite finds the file sound.
  void expect_consistent() {
    auto v = open_sqlite(home.path());
    ASSERT_TRUE(v.ok()) << v.status().to_string() << "\n" << describe_keys();
    for (int i = 0; i < kConnections; ++i) {
      auto s = (*v)->secrets(conn(i));
      ASSERT_TRUE(s.ok()) << conn(i) << ": " << s.status().to_string();
      EXPECT_EQ(s->at(kClientSecret), "client-secret-" + std::to_string(i) + "-abc");
      EXPECT_EQ(serial_of(s->at(kAccessToken)), serial_of(s->at(kRefreshToken))) << "a half-written token pair";
    }
    RawDb raw(home.path());
    EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
  }

  int updater() {
    auto v = open_sqlite(home.path());
    if (!v) return kChildOpenFailed;
    for (long i = 1;; ++i) {
      const std::string name = conn(static_cast<int>(i % kConnections));
      auto rec = (*v)->get(name);
      if (!rec) return kChildOpFailed;
      Status s = (*v)->update(*rec, {{kAccessToken, token("access", i)}, {kRefreshToken, token("refresh", i)}});
      if (!s.ok()) {
        std::fprintf(stderr, "updater: %s\n", s.to_string().c_str());
        return kChildOpFailed;
      }
    }
  }

  int rotator() {
    for (;;) {
      // Re-opening each time also exercises open() right after another process was killed.
      auto v = open_sqlite(home.path());
      if (!v) {
        std::fprintf(stderr, "rotator: %s\n", v.status().to_string().c_str());
        return kChildOpenFailed;
      }
      auto r = (*v)->rotate_key();
      if (!r) {
        std::fprintf(stderr, "rotator: %s\n", r.status().to_string().c_str());
        return kChildOpFailed;
      }
    }
  }

  std::string current_key_id() const { return key_id_of(read_file(home.path() + "/master.key").substr(0, 44)); }

  // The key files and key records, for failure messages.
  std::string describe_keys() const {
    std::string out;
    for (const char* f : {"master.key", "master.key.next"}) {
      const std::string path = home.path() + "/" + f;
      out += std::string(f) + ": " + (testing::file_exists(path) ? key_id_of(read_file(path).substr(0, 44)) : "absent") + "\n";
    }
    RawDb raw(home.path());
    out += "key_checks: " + raw.scalar("SELECT group_concat(key_id) FROM key_checks") + "\n";
    out += "meta: " + raw.scalar("SELECT group_concat(key || '=' || value) FROM meta") + "\n";
    out += "secret keys: " + raw.scalar("SELECT group_concat(DISTINCT hex(substr(sealed, 2, 8))) FROM secrets") + "\n";
    return out;
  }

  std::int64_t generation_sum() const {
    RawDb raw(home.path());
    return std::stoll(raw.scalar("SELECT coalesce(sum(generation), 0) FROM connections"));
  }

  // Polls pred every millisecond, up to 20 s (a bound for a loaded machine, not a timing check).
  static void wait_until(const std::function<bool()>& pred) {
    for (int i = 0; i < 20'000 && !pred(); ++i) ::usleep(1000);
  }

  ScopedEnv no_env{"WEFT_MASTER_KEY", std::nullopt};
  test::TempDir home;
  std::mt19937 rng{20261125};  // fixed seed: the same kill schedule every run
};

TEST_F(VaultProcessTest, KillDuringKeyRotationUnderWriteLoadLeavesEverySecretReadable) {
  seed();
  std::uniform_int_distribution<int> delay_us(1'000, 60'000);
  std::set<std::string> key_ids{current_key_id()};
  int interrupted_renames = 0;
  for (int round = 0; round < 10; ++round) {
    const std::string before = current_key_id();
    const pid_t rot = spawn([this] { return rotator(); });
    const pid_t upd = spawn([this] { return updater(); });
    // Odd rounds first wait for one finished rotation, so progress does not depend on machine load.
    if (round % 2 == 1) wait_until([&] { return current_key_id() != before; });
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(rot, SIGKILL);
    ::usleep(static_cast<useconds_t>(delay_us(rng) / 10));
    ::kill(upd, SIGKILL);
    EXPECT_EQ(wait_for(rot), 128 + SIGKILL) << "the rotator stopped on its own (see stderr)";
    EXPECT_EQ(wait_for(upd), 128 + SIGKILL) << "the updater stopped on its own (see stderr)";
    if (testing::file_exists(home.path() + "/master.key.next")) ++interrupted_renames;
    expect_consistent();
    key_ids.insert(current_key_id());
    if (HasFailure()) break;
  }
  EXPECT_GT(key_ids.size(), 1u) << "no rotation completed: the test did not exercise anything";
  std::printf("rotations seen: %zu key ids; rounds killed with master.key.next on disk: %d\n", key_ids.size(),
              interrupted_renames);
}

TEST_F(VaultProcessTest, KillDuringUpdatesNeverLeavesAHalfWrittenTokenPair) {
  seed();
  std::uniform_int_distribution<int> delay_us(1'000, 40'000);
  for (int round = 0; round < 10; ++round) {
    const std::int64_t before = generation_sum();
    const pid_t upd = spawn([this] { return updater(); });
    if (round % 2 == 1) wait_until([&] { return generation_sum() != before; });
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(upd, SIGKILL);
    EXPECT_EQ(wait_for(upd), 128 + SIGKILL);
    expect_consistent();
    if (HasFailure()) break;
  }
  EXPECT_GT(generation_sum(), kConnections) << "no update committed: the test did not exercise anything";
}

TEST_F(VaultProcessTest, ProcessOpenedBeforeAnotherRotatesKeepsReadingAndWriting) {
  seed();
  auto v = open_sqlite(home.path());
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE((*v)->secrets(conn(0)).ok());
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = spawn([this] {
      auto other = open_sqlite(home.path());
      return other && (*other)->rotate_key().ok() ? 0 : kChildOpFailed;
    });
    ASSERT_EQ(wait_for(pid), 0);
  }
  auto s = (*v)->secrets(conn(1));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE((*v)->update(*(*v)->get(conn(1)), {{kAccessToken, token("access", 7)}, {kRefreshToken, token("refresh", 7)}})
                  .ok());
  v->reset();
  expect_consistent();
  auto again = open_sqlite(home.path());
  EXPECT_EQ((*again)->secrets(conn(1))->at(kAccessToken), token("access", 7));
}

TEST_F(VaultProcessTest, LeaseIsExclusiveBetweenProcesses) {
  seed();
  {
    auto v = open_sqlite(home.path());
    ASSERT_TRUE(*(*v)->try_lease(conn(0), "parent", 60000));
    const pid_t pid = spawn([this] {
      auto other = open_sqlite(home.path());
      if (!other) return kChildOpenFailed;
      auto got = (*other)->try_lease(conn(0), "child", 60000);
      return got.ok() && !*got ? 0 : kChildExclusionBroken;
    });
    EXPECT_EQ(wait_for(pid), 0) << "a second process took a held lease";
    ASSERT_TRUE((*v)->release_lease(conn(0), "parent").ok());
  }
  // Two processes contend: the holder marks a file with O_EXCL, so overlap would be seen.
  const std::string marker = home.path() + "/holder";
  auto contender = [this, &marker](const std::string& owner) {
    auto v = open_sqlite(home.path());
    if (!v) return kChildOpenFailed;
    for (int held = 0; held < 15;) {
      auto got = (*v)->try_lease(conn(1), owner, 60000);
      if (!got) return kChildOpFailed;
      if (!*got) {
        ::usleep(200);
        continue;
      }
      const int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
      if (fd < 0) return kChildExclusionBroken;
      ::close(fd);
      ::usleep(1000);
      ::unlink(marker.c_str());
      if (!(*v)->release_lease(conn(1), owner).ok()) return kChildOpFailed;
      ++held;
    }
    return 0;
  };
  const pid_t a = spawn([&] { return contender("proc-a"); });
  const pid_t b = spawn([&] { return contender("proc-b"); });
  EXPECT_EQ(wait_for(a), 0);
  EXPECT_EQ(wait_for(b), 0);
}

TEST_F(VaultProcessTest, AuthStateIsTakenByExactlyOneOfSeveralProcesses) {
  seed();
  {
    auto v = open_sqlite(home.path());
    ASSERT_TRUE((*v)->put_auth_state({"contended-state", conn(0), "verifier-1234567890",
                                      "http://127.0.0.1/cb", static_cast<std::int64_t>(std::time(nullptr)) + 600})
                    .ok());
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    pids.push_back(spawn([this] {
      auto v = open_sqlite(home.path());
      if (!v) return kChildOpenFailed;
      auto got = (*v)->take_auth_state("contended-state");
      if (got.ok()) return got->code_verifier == "verifier-1234567890" ? 0 : kChildOpFailed;
      return got.status().code() == Code::kNotFound ? 1 : kChildOpFailed;
    }));
  }
  int winners = 0, losers = 0;
  for (pid_t p : pids) {
    const int rc = wait_for(p);
    if (rc == 0) ++winners;
    else if (rc == 1) ++losers;
    else ADD_FAILURE() << "child exited with " << rc;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(losers, 3);
}

}  // namespace
}  // namespace weft::vault
