// The outbound address guard: pure address arithmetic plus getaddrinfo, no Beast.
#include "dm/http/outbound.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "dm/core/strings.hpp"
#include "dm/http/client.hpp"
#include "dm/http/message.hpp"

namespace dm::http {
namespace {

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
  // RFC 6890's special-purpose registry, less the globally reachable anycast entries that no
  // integration has a reason to name; the first match gives the reason.
  static const Range kRanges[] = {
      {v4(0, 0, 0, 0), 8, "unspecified"},
      {v4(10, 0, 0, 0), 8, "private"},
      {v4(100, 64, 0, 0), 10, "shared address space (CGNAT)"},
      {v4(127, 0, 0, 0), 8, "loopback"},
      {v4(169, 254, 0, 0), 16, "link-local"},
      {v4(172, 16, 0, 0), 12, "private"},
      {v4(192, 0, 0, 0), 24, "IETF protocol assignments"},
      {v4(192, 0, 2, 0), 24, "documentation"},
      {v4(192, 88, 99, 0), 24, "6to4 relay anycast"},
      {v4(192, 168, 0, 0), 16, "private"},
      {v4(198, 18, 0, 0), 15, "benchmarking"},
      {v4(198, 51, 100, 0), 24, "documentation"},
      {v4(203, 0, 113, 0), 24, "documentation"},
      {v4(224, 0, 0, 0), 4, "multicast"},
      {v4(255, 255, 255, 255), 32, "broadcast"},
      {v4(240, 0, 0, 0), 4, "reserved"},
  };
  for (const auto& r : kRanges) {
    if (in_prefix(ip, r.base, r.prefix)) return std::string(r.why);
  }
  return std::nullopt;
}

// IPv6 forms that carry an IPv4 address in their last (or, for 6to4, second and third) 16 bits.
enum class Embedding { none, mapped, translated, compatible, nat64, six_to_four };

Embedding embedding_of(const IpAddress& ip) {
  const auto& b = ip.bytes;
  auto zero = [&](int from, int to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](auto x) { return x == 0; });
  };
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return Embedding::mapped;                   // ::ffff:0:0/96
  if (zero(0, 8) && b[8] == 0xff && b[9] == 0xff && zero(10, 12)) return Embedding::translated;  // ::ffff:0:0:0/96
  if (zero(0, 12)) return Embedding::compatible;                                                 // ::/96
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12)) return Embedding::nat64;
  if (b[0] == 0x20 && b[1] == 0x02) return Embedding::six_to_four;  // 2002::/16
  return Embedding::none;
}

// The IPv4 address carried inside an IPv6 one, if any.
std::optional<IpAddress> embedded_v4(const IpAddress& ip) {
  const auto& b = ip.bytes;
  switch (embedding_of(ip)) {
    case Embedding::none:
      return std::nullopt;
    case Embedding::six_to_four:
      return v4(b[2], b[3], b[4], b[5]);
    default:
      return v4(b[12], b[13], b[14], b[15]);
  }
}

// Mapped, translated and compatible addresses name an IPv4 destination in IPv6 clothing; no
// integration needs them, and refusing them whatever they carry leaves no room for a stack that
// reads them differently from us. NAT64 and 6to4 addresses are what DNS64 and old tunnels hand
// out for public hosts, so only a refused IPv4 inside them is refused.
std::optional<std::string> special_embedding(const IpAddress& ip) {
  auto kind = embedding_of(ip);
  if (kind == Embedding::none) return std::nullopt;
  auto inner = *embedded_v4(ip);
  if (auto why = special_v4(inner)) return "embeds " + inner.text() + ", " + *why;
  switch (kind) {
    case Embedding::mapped:
      return "IPv4-mapped";
    case Embedding::translated:
      return "IPv4-translated";
    case Embedding::compatible:
      return "IPv4-compatible";
    default:
      return std::nullopt;
  }
}

std::optional<std::string> special_v6(const IpAddress& ip) {
  const auto& b = ip.bytes;
  bool all_zero = std::all_of(b.begin(), b.begin() + 15, [](auto x) { return x == 0; });
  if (all_zero && b[15] == 0) return "unspecified";
  if (all_zero && b[15] == 1) return "loopback";
  if (embedding_of(ip) != Embedding::none) return special_embedding(ip);
  struct Range {
    IpAddress base;
    int prefix;
    const char* why;
  };
  auto v6 = [](std::initializer_list<std::uint8_t> head) {
    IpAddress a;
    a.v6 = true;
    std::copy(head.begin(), head.end(), a.bytes.begin());
    return a;
  };
  static const Range kRanges[] = {
      {v6({0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}), 48, "NAT64 local use"},
      {v6({0x01, 0x00}), 64, "discard-only"},
      {v6({0x20, 0x01, 0x00, 0x00}), 32, "Teredo"},
      {v6({0x20, 0x01, 0x0d, 0xb8}), 32, "documentation"},
      {v6({0x20, 0x01}), 23, "IETF protocol assignments"},
      {v6({0x3f, 0xff}), 20, "documentation"},
      {v6({0xfc}), 7, "unique local (private)"},
      {v6({0xfe, 0x80}), 10, "link-local"},
      {v6({0xfe, 0xc0}), 10, "site-local"},
      {v6({0xff}), 8, "multicast"},
  };
  for (const auto& r : kRanges) {
    if (in_prefix(ip, r.base, r.prefix)) return std::string(r.why);
  }
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
  return check_outbound_host(policy, parsed.host, parsed.port);
}

Result<void> check_outbound_host(const OutboundPolicy& policy, std::string_view host, int port) {
  auto checked = resolve_checked(policy, host, port);
  if (!checked && checked.error().code == Errc::forbidden) return checked.take_error();
  return ok();
}

namespace {

Error bad_pg(std::string_view why) {
  return make_error(Errc::invalid_argument, "connection URL refused: " + std::string(why));
}

// Query parameters that neither name the server nor make libpq read local files.
bool harmless_pg_parameter(std::string_view key) {
  static const char* const kAllowed[] = {
      "application_name",
      "channel_binding",
      "client_encoding",
      "connect_timeout",
      "dbname",
      "fallback_application_name",
      "gssencmode",
      "keepalives",
      "keepalives_count",
      "keepalives_idle",
      "keepalives_interval",
      "options",
      "password",
      "ssl_max_protocol_version",
      "ssl_min_protocol_version",
      "sslcompression",
      "sslmode",
      "sslsni",
      "target_session_attrs",
      "tcp_user_timeout",
      "user",
  };
  return std::any_of(std::begin(kAllowed), std::end(kAllowed), [&](const char* k) { return key == k; });
}

Result<void> check_pg_query(std::string_view query) {
  for (std::size_t pos = 0; pos < query.size();) {
    auto amp = query.find('&', pos);
    auto pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? query.size() : amp + 1;
    // libpq decodes keys too, so "host%61ddr" is hostaddr.
    std::string key = percent_decode(pair.substr(0, pair.find('=')));
    if (!harmless_pg_parameter(key)) {
      return bad_pg("the parameter '" + key +
                    "' is not accepted (only the host and port before the path name the server)");
    }
  }
  return ok();
}

// host[:port] of libpq's netloc, percent-decoded as libpq decodes them.
Result<PostgresTarget> parse_pg_netloc(std::string_view netloc) {
  PostgresTarget t;
  std::string_view port;
  if (!netloc.empty() && netloc.front() == '[') {
    auto close = netloc.find(']');
    if (close == std::string_view::npos) return bad_pg("unterminated IPv6 address");
    t.host = percent_decode(netloc.substr(1, close - 1));
    auto after = netloc.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad_pg("unexpected characters after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = netloc.find(':');
    t.host = percent_decode(netloc.substr(0, colon));
    if (colon != std::string_view::npos) port = netloc.substr(colon + 1);
  }
  if (t.host.empty()) return bad_pg("no host (libpq would use a local socket)");
  if (t.host.front() == '/') return bad_pg("a socket path is not a server");
  bool plain = std::all_of(t.host.begin(), t.host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':';
  });
  if (!plain) return bad_pg("the host should be one name or address");
  std::string digits = percent_decode(port);
  if (!digits.empty()) {
    if (digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit) || std::stoi(digits) < 1 ||
        std::stoi(digits) > 65535) {
      return bad_pg("the port should be one number from 1 to 65535");
    }
    t.port = std::stoi(digits);
  }
  return t;
}

}  // namespace

Result<PostgresTarget> postgres_target(std::string_view url) {
  std::string_view rest = url;
  if (!rest.starts_with("postgresql://") && !rest.starts_with("postgres://")) return bad_pg("expected postgresql://");
  rest.remove_prefix(rest.find("://") + 3);
  if (rest.find_first_of("#\\") != std::string_view::npos) return bad_pg("unexpected characters");
  // As libpq: the credentials end at the first '@' before any '/', even after a '?'.
  auto slash = rest.find('/');
  auto at = rest.substr(0, slash).find('@');
  if (at != std::string_view::npos) {
    if (rest.substr(0, at).find('?') != std::string_view::npos) return bad_pg("'?' before the host");
    rest.remove_prefix(at + 1);
  }
  // libpq's netloc ends at '/' or '?'; a ',' would start another host.
  auto end = rest.find_first_of("/?");
  auto netloc = rest.substr(0, end);
  if (netloc.find_first_of(",@") != std::string_view::npos) return bad_pg("one host only, and '@' only once");
  DM_ASSIGN_OR_RETURN(auto target, parse_pg_netloc(netloc));
  auto question = rest.find('?');
  if (question != std::string_view::npos) DM_TRY(check_pg_query(rest.substr(question + 1)));
  return target;
}

Result<void> check_postgres_url(const OutboundPolicy& policy, std::string_view url) {
  DM_ASSIGN_OR_RETURN(auto target, postgres_target(url));
  return check_outbound_host(policy, target.host, target.port);
}

}  // namespace dm::http
