// poco_transport.hpp — a minimal auth::Transport over Poco for tests and benchmarks (plain http://
// to 127.0.0.1 only; the real one is http::Client, wired by the engine).
//
//   auth::Transport t = test::poco_transport();
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <sstream>

#include "auth/connection_manager.hpp"

namespace weft::test {

inline Result<http::Response> poco_send(http::Request req) {
  try {
    Poco::URI uri(req.url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest preq(req.method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : req.headers) preq.set(k, v);
    if (!req.body.empty() || req.method == "POST")
      preq.setContentLength(static_cast<std::streamsize>(req.body.size()));
    session.sendRequest(preq) << req.body;
    Poco::Net::HTTPResponse presp;
    std::istream& in = session.receiveResponse(presp);
    http::Response out;
    out.status = static_cast<int>(presp.getStatus());
    for (const auto& [k, v] : presp) out.headers.emplace_back(k, v);
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in, body);
    out.body = body.str();
    return out;
  } catch (const Poco::Net::ConnectionRefusedException&) {
    // Worded like http::Client's, so http::never_processed() recognises it.
    return Status(Code::kUnavailable, "connection refused to " + req.url);
  } catch (const Poco::Exception& e) {
    return Status(Code::kUnavailable, "request to " + req.url + " failed: " + e.displayText());
  }
}

inline auth::Transport poco_transport() {
  return [](http::Request r) { return poco_send(std::move(r)); };
}

}  // namespace weft::test
