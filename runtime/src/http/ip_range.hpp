// ip_range.hpp — CIDR ranges for the SSRF guard's exemptions: "10.20.0.0/16", "fd00::/8", or a
// single address ("127.0.0.1" = /32, "::1" = /128). Classification only; nothing is connected.
//
//   auto r = http::IpRange::parse("10.20.0.0/16");    // invalid_argument when malformed
//   bool in = r->contains(Poco::Net::IPAddress("10.20.3.4"));
#pragma once

#include <Poco/Net/IPAddress.h>

#include <array>
#include <string>

#include "core/status.hpp"

namespace weft::http {

class IpRange {
 public:
  // ADDRESS[/PREFIX], PREFIX 0-32 for IPv4 and 0-128 for IPv6. Bits past the prefix are ignored
  // (10.20.1.0/16 is 10.20.0.0/16). invalid_argument naming the text and the expected form.
  static Result<IpRange> parse(const std::string& text);
  // True when addr lies in the range. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as
  // its IPv4 address, so a v4 range covers it too.
  bool contains(const Poco::Net::IPAddress& addr) const;
  bool v6() const { return v6_; }
  unsigned prefix() const { return prefix_; }

 private:
  bool v6_ = false;
  unsigned prefix_ = 0;
  std::array<unsigned char, 16> bytes_{};  // v4 uses the first 4
};

}  // namespace weft::http
