// cmd_vault.cpp — `weft vault rotate-key`: re-seal every secret under a new master key.
//
// With a key file (<home>/master.key) the rotation completes here and only the new key id is
// printed. With WEFT_MASTER_KEY the vault cannot change the caller's environment, so the new key
// itself is printed once (that is the point of the command in this case); records stay readable
// with the old key until a weft process starts with the new one, which completes the rotation.
#include <ostream>

#include "cli/command.hpp"
#include "core/json.hpp"
#include "vault/vault.hpp"

namespace weft::cli {
namespace {

int run_rotate_key(Invocation& inv) {
  if (!inv.check_positionals(0, 0)) return kExitUsage;
  auto vault = vault::open_sqlite(inv.global.home);
  if (!vault) return inv.fail(vault.status().message());
  auto r = (*vault)->rotate_key_detailed();
  if (!r) return inv.fail("key rotation failed: " + r.status().message());

  if (inv.global.json) {
    Json doc = json::object({{"old_key_id", r->old_key_id}, {"new_key_id", r->new_key_id}, {"pending", r->pending}});
    if (!r->new_master_key.empty()) json::as_object(doc)->set("new_master_key", r->new_master_key);
    inv.out << json::stringify(doc) << "\n";
    return kExitOk;
  }
  if (!r->pending) {
    inv.out << "Rotated the vault master key: every secret is now sealed with key " << r->new_key_id
            << " (was " << r->old_key_id << ").\n";
    return kExitOk;
  }
  inv.out << "New master key (key id " << r->new_key_id << "). It is shown only this once:\n\n  "
          << r->new_master_key << "\n\n"
          << "Set WEFT_MASTER_KEY to it wherever weft runs. Until then the current key (" << r->old_key_id
          << ") keeps working; the first weft process started with the new key re-seals every secret, "
             "after which the old key is refused.\n";
  return kExitOk;
}

const Registrar kRotateKey("vault rotate-key", "", "Re-seal every secret in the vault under a new master key",
                           run_rotate_key);

}  // namespace
}  // namespace weft::cli
