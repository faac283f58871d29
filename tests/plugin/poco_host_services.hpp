// A small HostServices test double that performs real HTTP with Poco (no credentials, no retries)
// and keeps state in memory, so connectors can be tested against test::LocalServer.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <map>
#include <mutex>
#include <sstream>

#include "plugin/host_services.hpp"

namespace weft::plugin::fakes {

class PocoHostServices : public HostServices {
 public:
  Result<Json> http(const ActionInfo&, const InvokeContext&, const Json& request) override {
    try {
      Poco::URI uri(json::get_string(request, "url"));
      if (auto q = json::as_object(json::get(request, "query")); !q.isNull()) {
        for (const auto& [k, v] : *q) uri.addQueryParameter(k, v.convert<std::string>());
      }
      Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
      Json timeout = json::get(request, "timeout_ms");
      session.setTimeout(Poco::Timespan(0, 1000 * (timeout.isEmpty() ? 5000 : timeout.convert<int>())));
      Poco::Net::HTTPRequest req(json::get_string(request, "method"), uri.getPathAndQuery(),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
      if (auto h = json::as_object(json::get(request, "headers")); !h.isNull()) {
        for (const auto& [k, v] : *h) req.set(k, v.convert<std::string>());
      }
      std::string body = json::get_string(request, "body");
      if (!body.empty()) req.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(req) << body;
      Poco::Net::HTTPResponse resp;
      std::istream& in = session.receiveResponse(resp);
      std::string text;
      Poco::StreamCopier::copyToString(in, text);
      auto headers = json::new_object();
      for (const auto& [k, v] : resp) headers->set(k, v);
      return json::object({{"status", static_cast<int>(resp.getStatus())}, {"headers", headers}, {"body", text}});
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, e.displayText());
    }
  }
  Result<Json> settings(const ActionInfo&, const InvokeContext&) override { return json::object(); }
  Result<std::optional<Json>> state_get(const ActionInfo&, const InvokeContext&, const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = state_.find(key);
    if (it == state_.end()) return std::optional<Json>();
    return std::optional<Json>(it->second);
  }
  Status state_set(const ActionInfo&, const InvokeContext&, const std::string& key, const Json& value) override {
    std::lock_guard lock(mu_);
    state_[key] = value;
    return Status::Ok();
  }
  void log(const ActionInfo*, const InvokeContext*, LogLevel, std::string_view) override {}

 private:
  std::mutex mu_;
  std::map<std::string, Json> state_;
};

}  // namespace weft::plugin::fakes
