// The outbound address guard: pure address arithmetic plus getaddrinfo, no Beast.
#include "dm/http/outbound.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "dm/http/client.hpp"

namespace dm::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.bytes[0] = a, ip.bytes[1] = b, ip.bytes[2] = c, ip.bytes[3] = d;
  return ip;
}

bool in_prefix(const IpAddress& ip, const IpAddress& base, int prefix) {
  if (ip.v6 != base.v6) return false;
  for (int i = 0; i < prefix; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((ip.bytes[byte] >> bit) & 1) != ((base.bytes[byte] >> bit) & 1)) return false;
  }
  return true;
}

std::optional<std::string> special_v4(const IpAddress& ip) {
  struct Range {
    IpAddress base;
    int prefix;
    const char* why;
  };
  static const Range kRanges[] = {
      {v4(0, 0, 0, 0), 8, "unspecified"},
      {v4(10, 0, 0, 0), 8, "private"},
      {v4(100, 64, 0, 0), 10, "shared address space"},
      {v4(127, 0, 0, 0), 8, "loopback"},
      {v4(169, 254, 0, 0), 16, "link-local"},
      {v4(172, 16, 0, 0), 12, "private"},
      {v4(192, 0, 0, 0), 24, "IETF protocol assignments"},
      {v4(192, 168, 0, 0), 16, "private"},
      {v4(198, 18, 0, 0), 15, "benchmarking"},
      {v4(224, 0, 0, 0), 4, "multicast"},
      {v4(240, 0, 0, 0), 4, "reserved"},
  };
  for (const auto& r : kRanges) {
    if (in_prefix(ip, r.base, r.prefix)) return std::string(r.why);
  }
  return std::nullopt;
}

// The IPv4 address carried inside an IPv6 one (mapped, compatible, NAT64, 6to4), if any.
std::optional<IpAddress> embedded_v4(const IpAddress& ip) {
  const auto& b = ip.bytes;
  auto zero = [&](int from, int to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](auto x) { return x == 0; });
  };
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return v4(b[12], b[13], b[14], b[15]);  // ::ffff:a.b.c.d
  if (zero(0, 12)) return v4(b[12], b[13], b[14], b[15]);                                    // ::a.b.c.d
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12))
    return v4(b[12], b[13], b[14], b[15]);
  if (b[0] == 0x20 && b[1] == 0x02) return v4(b[2], b[3], b[4], b[5]);  // 6to4
  return std::nullopt;
}

std::optional<std::string> special_v6(const IpAddress& ip) {
  const auto& b = ip.bytes;
  bool all_zero = std::all_of(b.begin(), b.begin() + 15, [](auto x) { return x == 0; });
  if (all_zero && b[15] == 0) return "unspecified";
  if (all_zero && b[15] == 1) return "loopback";
  if (auto inner = embedded_v4(ip)) {
    if (auto why = special_v4(*inner)) return "embeds " + inner->text() + ", " + *why;
    return std::nullopt;
  }
  if (b[0] == 0xff) return "multicast";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
  if ((b[0] & 0xfe) == 0xfc) return "private";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return "Teredo";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation";
  return std::nullopt;
}

IpAddress from_sockaddr(const sockaddr* sa) {
  IpAddress ip;
  if (sa->sa_family == AF_INET6) {
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  } else {
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  }
  return ip;
}

}  // namespace

std::string IpAddress::text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  std::string host(strip_brackets(text));
  if (host.empty()) return std::nullopt;
  IpAddress ip;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), &a6, 16);
    return ip;
  }
  in_addr a4{};
  if (inet_aton(host.c_str(), &a4) != 0) {  // the lenient forms connect() would accept too
    std::memcpy(ip.bytes.data(), &a4, 4);
    return ip;
  }
  return std::nullopt;
}

std::optional<std::string> special_range(const IpAddress& address) {
  return address.v6 ? special_v6(address) : special_v4(address);
}

Result<OutboundPolicy> OutboundPolicy::parse(std::string_view allow_list) {
  OutboundPolicy p;
  std::size_t pos = 0;
  while (pos <= allow_list.size()) {
    auto comma = allow_list.find(',', pos);
    auto item = allow_list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? allow_list.size() + 1 : comma + 1;
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (item.empty()) continue;
    auto slash = item.find('/');
    auto ip = parse_ip(item.substr(0, slash));
    if (!ip) {
      bool name = slash == std::string_view::npos && std::all_of(item.begin(), item.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
                  });
      if (!name)
        return make_error(Errc::invalid_argument, "OUTBOUND_ALLOW: '" + std::string(item) + "' is not a host or CIDR");
      p.hosts_.push_back(lower(item));
      continue;
    }
    int max = ip->v6 ? 128 : 32, prefix = max;
    if (slash != std::string_view::npos) {
      std::string bits(item.substr(slash + 1));
      if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), ::isdigit) ||
          std::stoi(bits) > max) {
        return make_error(Errc::invalid_argument, "OUTBOUND_ALLOW: bad prefix length in '" + std::string(item) + "'");
      }
      prefix = std::stoi(bits);
    }
    p.networks_.push_back({*ip, prefix});
  }
  return p;
}

bool OutboundPolicy::host_allowed(std::string_view host) const {
  auto h = lower(strip_brackets(host));
  return std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end();
}

bool OutboundPolicy::address_allowed(const IpAddress& address) const {
  auto matches = [&](const IpAddress& ip) {
    return std::any_of(networks_.begin(), networks_.end(),
                       [&](const Network& n) { return in_prefix(ip, n.base, n.prefix); });
  };
  if (matches(address)) return true;
  if (address.v6) {
    if (auto inner = embedded_v4(address)) return matches(*inner);
  }
  return false;
}

Result<std::vector<IpAddress>> check_addresses(const OutboundPolicy& policy, std::string_view host,
                                               std::vector<IpAddress> addresses) {
  std::string name(strip_brackets(host));
  if (addresses.empty()) return make_error(Errc::unavailable, "cannot resolve " + name + ": no addresses");
  if (policy.host_allowed(name)) return addresses;
  for (const auto& ip : addresses) {
    auto why = special_range(ip);
    if (why && !policy.address_allowed(ip)) {
      return make_error(Errc::forbidden, "destination " + name + " resolves to " + ip.text() + " (" + *why +
                                             "), which is not allowed; an operator can permit it in OUTBOUND_ALLOW");
    }
  }
  return addresses;
}

Result<std::vector<IpAddress>> resolve_checked(const OutboundPolicy& policy, std::string_view host, int port) {
  std::string name(strip_brackets(host));
  std::vector<IpAddress> out;
  if (auto literal = parse_ip(name)) {
    out.push_back(*literal);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) return make_error(Errc::unavailable, "cannot resolve " + name + ": " + gai_strerror(rc));
    for (auto* ai = res; ai; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) out.push_back(from_sockaddr(ai->ai_addr));
    }
    freeaddrinfo(res);
  }
  return check_addresses(policy, name, std::move(out));
}

Result<void> check_outbound_url(const OutboundPolicy& policy, std::string_view url) {
  DM_ASSIGN_OR_RETURN(Url parsed, parse_url(url));
  auto checked = resolve_checked(policy, parsed.host, parsed.port);
  if (!checked && checked.error().code == Errc::forbidden) return checked.take_error();
  return ok();
}

}  // namespace dm::http
