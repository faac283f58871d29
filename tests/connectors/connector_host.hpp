// connector_host.hpp — loads a built connector .so with dlopen and plays the host for it: real
// HTTP (Poco, loopback only) with the connection's credentials added, the call context with
// settings, per-trigger state, and input/output validation against the manifest's schemas.
// With WEFT_VIA_REGISTRY defined, the .so is loaded by plugin::Registry instead, served by a
// HostServices with the same HTTP, settings and state.
//
//   ConnectorHost h("restream");
//   h.settings->set("api_base", sandbox.url("/restream"));
//   h.auth = {"Authorization", "Bearer " + token};
//   auto r = h.invoke("get_profile", "{}");   // r.ok, r.object()->getValue<std::string>("username")
#pragma once

#include <Poco/JSON/Object.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weft/connector_abi.h"

namespace weft::test {

struct Invocation {
  bool ok = false;
  std::string json;     // output, or the error object
  std::string code;     // error code when !ok
  std::string message;  // error message when !ok
  Poco::JSON::Object::Ptr object() const;
};

class ConnectorHost {
 public:
#ifdef WEFT_VIA_REGISTRY
  // Actions go through plugin::Registry (its loader, schema checks and error mapping); error codes
  // are the registry's Code names.
  static constexpr bool kViaRegistry = true;
#else
  // Actions and triggers go through the C table of a dlopen'ed library; error codes are the
  // connector's own.
  static constexpr bool kViaRegistry = false;
#endif
  // dlopens <connector_dir>/<id>.so (kept loaded for the process) and creates an instance.
  // Fails the current test (ADD_FAILURE) when loading fails.
  explicit ConnectorHost(const std::string& id);
  ~ConnectorHost();
  ConnectorHost(const ConnectorHost&) = delete;
  ConnectorHost& operator=(const ConnectorHost&) = delete;

  // Runs operation with input. Input and output are checked against the manifest's schemas; a
  // violation is a test failure naming the operation (the real registry refuses them too).
  Invocation invoke(const std::string& operation, const std::string& input_json);

  Poco::JSON::Object::Ptr manifest;
  Poco::JSON::Object::Ptr settings;          // defaults from the manifest; tests override
  std::pair<std::string, std::string> auth;  // header added when a request has auth != false
  std::map<std::string, std::string> state;  // state_get/set
  std::vector<std::string> requests;         // "METHOD url [auth|noauth]" of every HTTP call
  std::vector<std::map<std::string, std::string>> request_headers;

  struct Impl;

 private:
  std::string id_;
  std::unique_ptr<Impl> impl_;
  const weft_connector* table_ = nullptr;
  void* instance_ = nullptr;
};

}  // namespace weft::test
