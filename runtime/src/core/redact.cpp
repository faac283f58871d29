#include "core/redact.hpp"

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <set>

namespace weft::redact {
namespace {
constexpr std::size_t kMinSecretLength = 6;

struct Registry {
  std::shared_mutex mu;
  // Longest first, so a secret that contains another is masked whole.
  std::set<std::string, bool (*)(const std::string&, const std::string&)> values{
      [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; }};
};

Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

void add_secret(std::string_view value) {
  if (value.size() < kMinSecretLength) return;
  auto& r = registry();
  std::unique_lock lock(r.mu);
  r.values.emplace(value);
}

void remove_secret(std::string_view value) {
  auto& r = registry();
  std::unique_lock lock(r.mu);
  r.values.erase(std::string(value));
}

std::string apply(std::string_view text) {
  std::string out(text);
  auto& r = registry();
  std::shared_lock lock(r.mu);
  for (const auto& secret : r.values) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kMask);
      pos += kMask.size();
    }
  }
  return out;
}

std::size_t secret_count() {
  auto& r = registry();
  std::shared_lock lock(r.mu);
  return r.values.size();
}

}  // namespace weft::redact
