// ip_range.cpp — prefix matching over the raw address bytes.
#include "http/ip_range.hpp"

#include <cstring>

namespace weft::http {
namespace {

bool prefix_equal(const unsigned char* a, const unsigned char* b, unsigned bits) {
  const unsigned full = bits / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<IpRange> IpRange::parse(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, "'" + text + "' is not a CIDR range (" + why +
                                              "; expected ADDRESS/PREFIX like 10.20.0.0/16 or fd00::/8, "
                                              "or a single address)");
  };
  const auto slash = text.find('/');
  const std::string address = text.substr(0, slash);
  Poco::Net::IPAddress ip;
  if (address == "::")  // the unspecified IPv6 address, which Poco's parser refuses
    ip = Poco::Net::IPAddress(Poco::Net::IPAddress::IPv6);
  else if (address.empty() || !Poco::Net::IPAddress::tryParse(address, ip))
    return bad("not an IP address");
  IpRange r;
  r.v6_ = ip.family() == Poco::Net::IPAddress::IPv6;
  const unsigned max = r.v6_ ? 128 : 32;
  r.prefix_ = max;
  if (slash != std::string::npos) {
    const std::string bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos)
      return bad("the prefix length must be a number");
    const unsigned n = static_cast<unsigned>(std::stoul(bits));
    if (n > max) return bad("the prefix length is at most " + std::to_string(max));
    r.prefix_ = n;
  }
  std::memcpy(r.bytes_.data(), ip.addr(), r.v6_ ? 16 : 4);
  return r;
}

bool IpRange::contains(const Poco::Net::IPAddress& addr) const {
  std::array<unsigned char, 16> b{};
  if (addr.family() == Poco::Net::IPAddress::IPv4) {
    if (v6_) return false;
    std::memcpy(b.data(), addr.addr(), 4);
    return prefix_equal(b.data(), bytes_.data(), prefix_);
  }
  std::memcpy(b.data(), addr.addr(), 16);
  if (!v6_) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b.data(), kMapped, 12) != 0) return false;
    return prefix_equal(b.data() + 12, bytes_.data(), prefix_);
  }
  return prefix_equal(b.data(), bytes_.data(), prefix_);
}

}  // namespace weft::http
