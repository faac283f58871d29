// key_file.hpp — the master key on disk: <home>/master.key holds the base64 key and a newline,
// mode 0600. Files with group/other permission bits are refused, never "fixed" silently.
#pragma once

#include <optional>
#include <string>

#include "core/status.hpp"
#include "vault/internal/crypto.hpp"

namespace weft::vault::internal {

// Reads a key file. nullopt when it does not exist; kPermissionDenied when group or others have
// any access ("<path> is readable by others (mode 0644); run chmod 600 <path>"); kInvalidArgument
// when it does not hold a key; kUnavailable when it cannot be read.
Result<std::optional<MasterKey>> read_key_file(const std::string& path);

// Creates path holding a fresh key, atomically (complete temp file hard-linked into place, so a
// concurrent reader never sees a half-written key and two creators cannot both win). When path
// already exists, returns the key it holds instead.
Result<MasterKey> create_key_file(const std::string& path);

// Replaces (or creates) path with key: temp file 0600 + fsync + rename + fsync of the directory.
Status write_key_file(const std::string& path, const MasterKey& key);

// Removes path (missing is fine) and syncs its directory.
Status remove_key_file(const std::string& path);

}  // namespace weft::vault::internal
