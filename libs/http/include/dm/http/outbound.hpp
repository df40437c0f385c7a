#pragma once
// Outbound safety for user-configured destinations (integrations, storages): a URL or
// host that resolves to loopback, private, link-local (169.254.169.254 included),
// multicast, unspecified or reserved space — directly or in an IPv4-mapped/embedded IPv6
// form — is refused unless an operator allow-list (hosts or CIDRs) permits it. Every
// resolved address is checked, and callers connect only to the addresses returned here,
// so a name cannot be re-resolved to something else between check and connect.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/core/result.hpp"

namespace dm::http {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
  std::string text() const;
};

// Parses a numeric address the way connect() would see it: inet_aton forms for IPv4
// ("127.1", "0x7f000001", "2130706433") and IPv6 with or without brackets.
std::optional<IpAddress> parse_ip(std::string_view text);

// Why `address` is not a public unicast destination ("loopback", "private", ...), or
// nullopt when it is.
std::optional<std::string> special_range(const IpAddress& address);

class OutboundPolicy {
 public:
  OutboundPolicy() = default;
  // "127.0.0.1, 10.0.0.0/8, localhost, ::1/128": hosts (exact, case-insensitive) or CIDRs.
  // A bad entry → invalid_argument naming it.
  static Result<OutboundPolicy> parse(std::string_view allow_list);

  bool host_allowed(std::string_view host) const;
  bool address_allowed(const IpAddress& address) const;
  bool empty() const { return hosts_.empty() && networks_.empty(); }

 private:
  struct Network {
    IpAddress base;
    int prefix = 0;
  };
  std::vector<std::string> hosts_;
  std::vector<Network> networks_;
};

// Resolves host:port and checks every address. Errors: forbidden ("<host> resolves to
// <addr> (loopback), which is not allowed ..."), unavailable (cannot resolve).
Result<std::vector<IpAddress>> resolve_checked(const OutboundPolicy& policy, std::string_view host, int port);
// The check alone, for addresses resolved elsewhere (asynchronously): the same errors.
Result<std::vector<IpAddress>> check_addresses(const OutboundPolicy& policy, std::string_view host,
                                               std::vector<IpAddress> addresses);

// The save-time check of a URL: http/https only, and when the host is an address or
// resolves now, every address must be allowed. A name that does not resolve yet passes
// (it is checked again on every send). Errors: invalid_argument (scheme/URL), forbidden.
Result<void> check_outbound_url(const OutboundPolicy& policy, std::string_view url);

}  // namespace dm::http
