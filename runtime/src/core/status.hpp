// status.hpp — errors as values.
//
// Expected failures (bad input, a provider's 4xx, a refused plugin) are returned, not thrown.
//   Result<int> r = parse_port("80a");
//   if (!r) return r.status();           // propagate
//   use(*r);
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace weft {

enum class Code {
  kOk,
  kInvalidArgument,   // the user's input is wrong (bad YAML, schema violation, bad flag)
  kNotFound,          // a named thing does not exist
  kAlreadyExists,
  kFailedPrecondition,  // the state forbids it (connection needs re-auth, ...)
  kUnauthenticated,
  kPermissionDenied,
  kUnavailable,       // network, DNS, connect, TLS, a 5xx that can be retried
  kDeadlineExceeded,
  kRateLimited,
  kResourceExhausted,  // too big, too deep
  kDataLoss,          // a stored record is corrupt or cannot be decrypted
  kInternal,
};

// Stable lowercase name of a code, used in JSON output ("invalid_argument", ...).
const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message", or "ok".
  std::string to_string() const;

  // Returns a copy whose message is prefix + ": " + message.
  Status with_context(const std::string& prefix) const {
    if (ok()) return *this;
    return {code_, prefix + ": " + message_};
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT
  Result(Code code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  // The error, or Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weft

// Returns early with the status when expr is not ok.
#define WEFT_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::weft::Status weft_status_ = (expr);   \
    if (!weft_status_.ok()) return weft_status_; \
  } while (0)
