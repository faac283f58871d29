// Vault behaviour in one process: records, sealing, tampering, keys and their files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>

#include "core/redact.hpp"
#include "support/test_support.hpp"
#include "vault/vault.hpp"
#include "vault_test_util.hpp"

namespace weft::vault {
namespace {

using testing::file_exists;
using testing::file_mode;
using testing::key_id_of;
using testing::new_key_text;
using testing::RawDb;
using testing::read_file;
using testing::sample_record;
using testing::ScopedEnv;

class VaultTest : public ::testing::Test {
 protected:
  std::unique_ptr<Vault> open() {
    auto v = open_sqlite(home.path());
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? std::move(*v) : nullptr;
  }
  std::string key_path() const { return home.path() + "/master.key"; }

  ScopedEnv no_env{"WEFT_MASTER_KEY", std::nullopt};
  test::TempDir home;
};

const std::map<std::string, std::string> kSecrets = {
    {kClientSecret, "client-secret-7f3a9c1e"},
    {kAccessToken, "access-token-b81d2e44"},
    {kRefreshToken, "refresh-token-c09a7713"},
};

TEST_F(VaultTest, CreateGetSecretsRoundTrip) {
  auto v = open();
  ConnectionRecord rec = sample_record("my-rs");
  ASSERT_TRUE(v->create(rec, kSecrets).ok());

  auto got = v->get("my-rs");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->connector, "restream");
  EXPECT_EQ(got->state, ConnectionState::kActive);
  EXPECT_EQ(got->settings, rec.settings);
  EXPECT_EQ(got->scopes, rec.scopes);
  EXPECT_EQ(got->access_expires_at, rec.access_expires_at);
  EXPECT_EQ(got->refresh_expires_at, rec.refresh_expires_at);
  EXPECT_EQ(got->generation, 1);
  EXPECT_GT(got->created_at, 0);

  auto secrets = v->secrets("my-rs");
  ASSERT_TRUE(secrets.ok()) << secrets.status().to_string();
  EXPECT_EQ(*secrets, kSecrets);
  // Every decrypted secret is known to redaction.
  EXPECT_EQ(redact::apply("Bearer access-token-b81d2e44"), "Bearer [REDACTED]");

  // A second process-level open sees the same data.
  v.reset();
  auto again = open();
  EXPECT_EQ(*again->secrets("my-rs"), kSecrets);
  auto all = again->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, "my-rs");
}

TEST_F(VaultTest, CreateTwiceIsAlreadyExistsAndUnknownIsNotFound) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("a"), {}).ok());
  EXPECT_EQ(v->create(sample_record("a"), {}).code(), Code::kAlreadyExists);
  EXPECT_EQ(v->get("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(v->secrets("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(v->update(sample_record("nope"), {}).code(), Code::kNotFound);
  EXPECT_EQ(v->remove("nope").code(), Code::kNotFound);
}

TEST_F(VaultTest, BadConnectionNamesAreRefusedBeforeTouchingStorage) {
  auto v = open();
  for (const std::string& bad : std::vector<std::string>{"", "../etc", "a/b", "/abs", "Upper", "-lead", "a b", std::string(65, 'a'),
                                std::string("nul\0x", 5)}) {
    Status s = v->create(sample_record(bad), {});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("invalid connection name"), std::string::npos);
    EXPECT_EQ(v->get(bad).status().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(v->create(sample_record(std::string(64, 'a')), {}).ok());
  EXPECT_TRUE(v->create(sample_record("0_ok-name"), {}).ok());
}

TEST_F(VaultTest, UpdateWritesRecordAndSecretChangesAndBumpsGeneration) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  ConnectionRecord r = *v->get("c");
  r.state = ConnectionState::kNeedsReauth;
  r.last_error = "invalid_grant";
  r.settings.erase("token_url");
  r.access_expires_at.reset();
  ASSERT_TRUE(v->update(r, {{kAccessToken, "access-token-new-000111"}, {kRefreshToken, std::nullopt}}, 1).ok());

  auto got = *v->get("c");
  EXPECT_EQ(got.generation, 2);
  EXPECT_EQ(got.state, ConnectionState::kNeedsReauth);
  EXPECT_EQ(got.last_error, "invalid_grant");
  EXPECT_EQ(got.settings.count("token_url"), 0u);
  EXPECT_FALSE(got.access_expires_at.has_value());
  auto secrets = *v->secrets("c");
  EXPECT_EQ(secrets.at(kAccessToken), "access-token-new-000111");
  EXPECT_EQ(secrets.count(kRefreshToken), 0u);
  EXPECT_EQ(secrets.at(kClientSecret), "client-secret-7f3a9c1e");
}

TEST_F(VaultTest, StaleGenerationIsFailedPreconditionAndChangesNothing) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  ConnectionRecord r = *v->get("c");
  ASSERT_TRUE(v->update(r, {{kAccessToken, "first-writer-token"}}, 1).ok());
  Status late = v->update(r, {{kAccessToken, "second-writer-token"}}, 1);
  EXPECT_EQ(late.code(), Code::kFailedPrecondition);
  EXPECT_NE(late.message().find("generation 2, expected 1"), std::string::npos) << late.message();
  EXPECT_EQ(v->secrets("c")->at(kAccessToken), "first-writer-token");
  EXPECT_EQ(v->get("c")->generation, 2);
}

// RELIABILITY row 4: the refresh intent is a durable field of the record, set and cleared by update()
// in the same transaction as the token pair.
TEST_F(VaultTest, RefreshIntentIsStoredWithTheRecordAndClearedWithTheNewPair) {
  {
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
    EXPECT_FALSE(v->get("c")->refresh_intent.has_value());
    ConnectionRecord r = *v->get("c");
    r.refresh_intent = ConnectionRecord::RefreshIntent{"vm:123:abc", 1'800'000'000'123};
    ASSERT_TRUE(v->update(r, {}, r.generation).ok());
  }
  auto v = open();  // another process: the intent was committed
  ConnectionRecord r = *v->get("c");
  ASSERT_TRUE(r.refresh_intent.has_value());
  EXPECT_EQ(r.refresh_intent->owner, "vm:123:abc");
  EXPECT_EQ(r.refresh_intent->since_ms, 1'800'000'000'123);
  r.refresh_intent.reset();
  ASSERT_TRUE(
      v->update(r, {{kAccessToken, "new-access"}, {kRefreshToken, "new-refresh"}}, r.generation).ok());
  EXPECT_FALSE(v->get("c")->refresh_intent.has_value());
  EXPECT_EQ(v->secrets("c")->at(kRefreshToken), "new-refresh");
}

// A vault.db written before the intent columns existed opens, gains them, and keeps its records.
TEST_F(VaultTest, AVaultWithoutTheIntentColumnsIsUpgradedInPlace) {
  {
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  }
  {
    RawDb raw(home.path());
    raw.scalar("ALTER TABLE connections DROP COLUMN refresh_intent_since_ms");
    raw.scalar("ALTER TABLE connections DROP COLUMN refresh_intent_owner");
    EXPECT_EQ(
        raw.scalar("SELECT count(*) FROM pragma_table_info('connections') WHERE name LIKE 'refresh_intent%'"),
        "0");
  }
  auto v = open();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->secrets("c")->at(kRefreshToken), kSecrets.at(kRefreshToken));
  ConnectionRecord r = *v->get("c");
  EXPECT_FALSE(r.refresh_intent.has_value());
  r.refresh_intent = ConnectionRecord::RefreshIntent{"owner", 1};
  ASSERT_TRUE(v->update(r, {}, r.generation).ok());
  EXPECT_EQ(v->get("c")->refresh_intent->owner, "owner");
  EXPECT_EQ(RawDb(home.path()).scalar("PRAGMA integrity_check"), "ok");
}

TEST_F(VaultTest, RemovePurgesSecretsSettingsAndLeases) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("gone"), kSecrets).ok());
  ASSERT_TRUE(*v->try_lease("gone", "me", 60000));
  ASSERT_TRUE(v->remove("gone").ok());
  EXPECT_EQ(v->get("gone").status().code(), Code::kNotFound);
  RawDb raw(home.path());
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM secrets"), "0");
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM settings"), "0");
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM leases"), "0");
  // Re-creating the name starts from nothing.
  ASSERT_TRUE(v->create(sample_record("gone"), {}).ok());
  EXPECT_TRUE(v->secrets("gone")->empty());
}

TEST_F(VaultTest, FlippedCiphertextByteIsDataLoss) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  RawDb raw(home.path());
  std::string blob = raw.sealed("c", kAccessToken);
  ASSERT_GT(blob.size(), 30u);
  for (std::size_t pos : {std::size_t{0}, std::size_t{5}, std::size_t{15}, std::size_t{25}, blob.size() - 1}) {
    std::string bad = blob;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
    raw.set_sealed("c", kAccessToken, bad);
    auto s = v->secrets("c");
    EXPECT_EQ(s.status().code(), Code::kDataLoss) << "byte " << pos;
    EXPECT_NE(s.status().message().find("cannot decrypt"), std::string::npos);
  }
  raw.set_sealed("c", kAccessToken, blob.substr(0, 20));  // truncated
  EXPECT_EQ(v->secrets("c").status().code(), Code::kDataLoss);
  raw.set_sealed("c", kAccessToken, blob);
  EXPECT_TRUE(v->secrets("c").ok());
}

TEST_F(VaultTest, CiphertextMovedToAnotherRowOrFieldIsDataLoss) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("alice"), kSecrets).ok());
  ASSERT_TRUE(v->create(sample_record("mallory"), {{kAccessToken, "mallory-token-123456"}}).ok());
  RawDb raw(home.path());
  const std::string alice_access = raw.sealed("alice", kAccessToken);
  const std::string alice_refresh = raw.sealed("alice", kRefreshToken);

  raw.set_sealed("mallory", kAccessToken, alice_access);  // another row
  auto moved = v->secrets("mallory");
  EXPECT_EQ(moved.status().code(), Code::kDataLoss);
  EXPECT_NE(moved.status().message().find("moved"), std::string::npos) << moved.status().message();

  raw.set_sealed("alice", kRefreshToken, alice_access);  // another field of the same row
  EXPECT_EQ(v->secrets("alice").status().code(), Code::kDataLoss);
  raw.set_sealed("alice", kRefreshToken, alice_refresh);
  EXPECT_TRUE(v->secrets("alice").ok());
}

TEST_F(VaultTest, NoPlaintextSecretInTheRawDatabaseFiles) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  ASSERT_TRUE(v->update(*v->get("c"), {{kAccessToken, "access-token-second-9911"}}).ok());
  ASSERT_TRUE(v->put_auth_state({"state-value-abcdef123", "c", "pkce-verifier-0123456789abcdef", "http://127.0.0.1/cb",
                                 static_cast<std::int64_t>(std::time(nullptr)) + 600})
                  .ok());
  ASSERT_TRUE(v->rotate_key().ok());
  const std::string bytes = read_file(home.path() + "/vault.db") + read_file(home.path() + "/vault.db-wal");
  ASSERT_FALSE(bytes.empty());
  for (const char* plain : {"client-secret-7f3a9c1e", "access-token-b81d2e44", "refresh-token-c09a7713",
                                  "access-token-second-9911", "pkce-verifier-0123456789abcdef", "state-value-abcdef123"}) {
    EXPECT_EQ(bytes.find(plain), std::string::npos) << plain << " is stored in clear";
  }
  const std::string key = read_file(key_path());
  EXPECT_EQ(bytes.find(key.substr(0, 43)), std::string::npos);
}

TEST_F(VaultTest, MissingKeyFileIsCreatedWithMode0600) {
  ASSERT_FALSE(file_exists(key_path()));
  auto v = open();
  ASSERT_TRUE(v);
  EXPECT_EQ(file_mode(key_path()), 0600);
  EXPECT_EQ(file_mode(home.path() + "/vault.db"), 0600);
  const std::string text = read_file(key_path());
  EXPECT_EQ(text.size(), 45u);  // 44 base64 characters and a newline
  EXPECT_FALSE(key_id_of(text.substr(0, 44)).empty());
}

TEST_F(VaultTest, KeyFileReadableByOthersIsRefused) {
  { ASSERT_TRUE(open()); }
  for (mode_t mode : {0644, 0640, 0604, 0602}) {
    ASSERT_EQ(::chmod(key_path().c_str(), mode), 0);
    auto v = open_sqlite(home.path());
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(v.status().message(), key_path() + " is readable by others (mode " + octal + "); run chmod 600 " +
                                        key_path());
  }
  ASSERT_EQ(::chmod(key_path().c_str(), 0600), 0);
  EXPECT_TRUE(open_sqlite(home.path()).ok());
}

TEST_F(VaultTest, WrongKeyFileGivesTheClearMessageAtOpen) {
  {
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  }
  const std::string sealed_id = key_id_of(read_file(key_path()).substr(0, 44));
  const std::string other = new_key_text();
  home.write("master.key", other + "\n");
  ASSERT_EQ(::chmod(key_path().c_str(), 0600), 0);
  auto v = open_sqlite(home.path());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kDataLoss);
  EXPECT_NE(v.status().message().find("cannot decrypt: wrong master key (vault was sealed with key " + sealed_id + ")"),
            std::string::npos)
      << v.status().message();
  EXPECT_EQ(v.status().message().find(other), std::string::npos);
}

TEST_F(VaultTest, WrongEnvKeyGivesTheClearMessage) {
  const std::string k1 = new_key_text();
  {
    ScopedEnv env("WEFT_MASTER_KEY", k1);
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
    EXPECT_FALSE(file_exists(key_path())) << "the env key must not create a key file";
  }
  ScopedEnv env("WEFT_MASTER_KEY", new_key_text());
  auto v = open_sqlite(home.path());
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("cannot decrypt: wrong master key (vault was sealed with key " + key_id_of(k1) +
                                      ")"),
            std::string::npos)
      << v.status().message();
}

TEST_F(VaultTest, MissingKeyFileForAnExistingVaultIsRefusedNotRecreated) {
  { ASSERT_TRUE(open()); }
  ASSERT_EQ(::unlink(key_path().c_str()), 0);
  auto v = open_sqlite(home.path());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(v.status().message().find("is missing"), std::string::npos) << v.status().message();
  EXPECT_FALSE(file_exists(key_path()));
}

TEST_F(VaultTest, MalformedEnvKeyIsInvalidArgumentWithoutEchoingIt) {
  for (const std::string& bad : std::vector<std::string>{"", "short", "c2hvcnQ=", std::string(44, 'A'), std::string(43, 'A') + "!",
                                // 32 bytes but with a non-canonical final character
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
                                // valid base64, but of 33 bytes
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    ScopedEnv env("WEFT_MASTER_KEY", bad);
    auto v = open_sqlite(home.path());
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(v.status().message().find("WEFT_MASTER_KEY"), std::string::npos);
    if (bad.size() > 3) {
      EXPECT_EQ(v.status().message().find(bad), std::string::npos);
    }
  }
  // Surrounding whitespace (a trailing newline from `base64`) is fine.
  ScopedEnv env("WEFT_MASTER_KEY", new_key_text() + "\n");
  EXPECT_TRUE(open_sqlite(home.path()).ok());
}

TEST_F(VaultTest, RotateKeyReSealsEverySecretAndRetiresTheOldKey) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("a"), kSecrets).ok());
  ASSERT_TRUE(v->create(sample_record("b"), {{kApiToken, "api-token-5544332211"}}).ok());
  const std::string old_key = read_file(key_path());
  const std::string old_id = key_id_of(old_key.substr(0, 44));

  auto rotated = v->rotate_key_detailed();
  ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
  EXPECT_FALSE(rotated->pending);
  EXPECT_TRUE(rotated->new_master_key.empty());
  EXPECT_EQ(rotated->old_key_id, old_id);
  EXPECT_NE(rotated->new_key_id, old_id);
  EXPECT_EQ(key_id_of(read_file(key_path()).substr(0, 44)), rotated->new_key_id);
  EXPECT_EQ(file_mode(key_path()), 0600);
  EXPECT_FALSE(file_exists(key_path() + ".next"));
  EXPECT_EQ(*v->secrets("a"), kSecrets);  // the same handle keeps working

  RawDb raw(home.path());
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM key_checks"), "1");
  v.reset();
  auto reopened = open();
  EXPECT_EQ(*reopened->secrets("a"), kSecrets);
  EXPECT_EQ(reopened->secrets("b")->at(kApiToken), "api-token-5544332211");

  // The old key opens nothing any more.
  reopened.reset();
  home.write("master.key", old_key);
  ASSERT_EQ(::chmod(key_path().c_str(), 0600), 0);
  auto with_old = open_sqlite(home.path());
  ASSERT_FALSE(with_old.ok());
  EXPECT_NE(with_old.status().message().find("wrong master key (vault was sealed with key " + rotated->new_key_id),
            std::string::npos);
}

TEST_F(VaultTest, EnvKeyRotationKeepsOldKeyWorkingUntilTheNewOneIsUsed) {
  const std::string k1 = new_key_text();
  Vault::KeyRotation rotated;
  {
    ScopedEnv env("WEFT_MASTER_KEY", k1);
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("a"), kSecrets).ok());
    auto r = v->rotate_key_detailed();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    rotated = *r;
    EXPECT_TRUE(rotated.pending);
    EXPECT_EQ(key_id_of(rotated.new_master_key), rotated.new_key_id);
    EXPECT_EQ(rotated.old_key_id, key_id_of(k1));
    // Old key: still reads and writes.
    EXPECT_EQ(*v->secrets("a"), kSecrets);
    ASSERT_TRUE(v->update(*v->get("a"), {{kAccessToken, "written-before-switch"}}).ok());
  }
  {
    ScopedEnv env("WEFT_MASTER_KEY", k1);
    EXPECT_EQ(open()->secrets("a")->at(kAccessToken), "written-before-switch");
  }
  {
    ScopedEnv env("WEFT_MASTER_KEY", rotated.new_master_key);
    auto v = open();  // completes the rotation
    ASSERT_TRUE(v);
    EXPECT_EQ(v->secrets("a")->at(kAccessToken), "written-before-switch");
    EXPECT_EQ(v->secrets("a")->at(kClientSecret), "client-secret-7f3a9c1e");
  }
  RawDb raw(home.path());
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM wrapped_keys"), "0");
  ScopedEnv env("WEFT_MASTER_KEY", k1);
  auto old = open_sqlite(home.path());
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("wrong master key (vault was sealed with key " + rotated.new_key_id),
            std::string::npos);
}

TEST_F(VaultTest, AuthStateIsSingleUseAndExpires) {
  auto v = open();
  ASSERT_TRUE(v->create(sample_record("c"), {}).ok());
  const std::int64_t now = std::time(nullptr);
  ASSERT_TRUE(v->put_auth_state({"st-1", "c", "verifier-abcdefghijklmnop", "http://127.0.0.1:9/cb", now + 600}).ok());
  EXPECT_EQ(v->put_auth_state({"st-1", "c", "x", "y", now + 600}).code(), Code::kAlreadyExists);
  ASSERT_TRUE(v->put_auth_state({"st-old", "c", "", "http://127.0.0.1:9/cb", now - 1}).ok());

  auto taken = v->take_auth_state("st-1");
  ASSERT_TRUE(taken.ok()) << taken.status().to_string();
  EXPECT_EQ(taken->connection, "c");
  EXPECT_EQ(taken->code_verifier, "verifier-abcdefghijklmnop");
  EXPECT_EQ(taken->redirect_uri, "http://127.0.0.1:9/cb");
  EXPECT_EQ(taken->expires_at, now + 600);
  EXPECT_EQ(v->take_auth_state("st-1").status().code(), Code::kNotFound);   // replay
  EXPECT_EQ(v->take_auth_state("st-old").status().code(), Code::kNotFound);  // expired
  EXPECT_EQ(v->take_auth_state("never-issued").status().code(), Code::kNotFound);
  EXPECT_EQ(v->take_auth_state("").status().code(), Code::kNotFound);
  EXPECT_EQ(v->put_auth_state({"st-2", "../x", "", "", now + 60}).code(), Code::kInvalidArgument);
}

TEST_F(VaultTest, LeaseIsExclusiveUntilReleasedOrExpired) {
  auto v = open();
  EXPECT_TRUE(*v->try_lease("c", "owner-a", 60000));
  EXPECT_TRUE(*v->try_lease("c", "owner-a", 60000));  // re-entrant for the holder
  EXPECT_FALSE(*v->try_lease("c", "owner-b", 60000));
  ASSERT_TRUE(v->release_lease("c", "owner-b").ok());  // not the holder: no effect
  EXPECT_FALSE(*v->try_lease("c", "owner-b", 60000));
  ASSERT_TRUE(v->release_lease("c", "owner-a").ok());
  EXPECT_TRUE(*v->try_lease("c", "owner-b", 1));
  // An expired lease is free: wait for the 1 ms lease by polling, not by timing.
  bool taken = false;
  for (int i = 0; i < 1000 && !taken; ++i) taken = *v->try_lease("c", "owner-a", 60000);
  EXPECT_TRUE(taken);
  EXPECT_EQ(v->try_lease("c", "", 10).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(v->try_lease("c", "x", 0).status().code(), Code::kInvalidArgument);
}

TEST_F(VaultTest, CliRotateKeyPrintsTheKeyIdButNeverTheKey) {
  {
    auto v = open();
    ASSERT_TRUE(v->create(sample_record("c"), kSecrets).ok());
  }
  auto r = test::run_weft({"--home", home.path(), "vault", "rotate-key"}, {{"WEFT_MASTER_KEY", ""}});
  // An empty WEFT_MASTER_KEY is malformed, not "unset": the user gets told.
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("WEFT_MASTER_KEY is empty"), std::string::npos) << r.err;

  r = test::run_weft({"--home", home.path(), "vault", "rotate-key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string key = read_file(key_path()).substr(0, 44);
  EXPECT_NE(r.out.find(key_id_of(key)), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(key), std::string::npos);
  EXPECT_EQ(r.err.find(key), std::string::npos);
  EXPECT_EQ(*open()->secrets("c"), kSecrets);
}

TEST_F(VaultTest, CliRotateKeyWithEnvKeyPrintsTheNewKeyToSet) {
  const std::string k1 = new_key_text();
  {
    ScopedEnv env("WEFT_MASTER_KEY", k1);
    ASSERT_TRUE(open()->create(sample_record("c"), kSecrets).ok());
  }
  auto r = test::run_weft({"--home", home.path(), "--json", "vault", "rotate-key"}, {{"WEFT_MASTER_KEY", k1}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pos = r.out.find("\"new_master_key\":\"");
  ASSERT_NE(pos, std::string::npos) << r.out;
  const std::string k2 = r.out.substr(pos + 18, 44);
  EXPECT_NE(r.out.find("\"pending\":true"), std::string::npos) << r.out;
  ScopedEnv env("WEFT_MASTER_KEY", k2);
  EXPECT_EQ(*open()->secrets("c"), kSecrets);
}

}  // namespace
}  // namespace weft::vault
