#pragma once
// Outbound safety for user-configured destinations (integrations, storages): one guard for
// every destination type (HTTP and InfluxDB URLs, MQTT hosts, PostgreSQL URLs), at save and at
// connect. A destination that resolves to anything but public unicast space is refused unless
// an operator allow-list (hosts or CIDRs) permits it: loopback, private, CGNAT, link-local
// (169.254.169.254 included), documentation, benchmarking, multicast, broadcast, unspecified
// and reserved IPv4; and in IPv6 the same, ULA, site-local, Teredo, discard, NAT64 local use,
// every IPv4-mapped, -translated or -compatible form, and NAT64 or 6to4 addresses that embed
// a refused IPv4 (special_range names the reason). Every resolved address is checked, and
// callers connect only to the addresses returned here, so a name cannot be re-resolved to
// something else between check and connect.
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
// The same for a host and port given apart (MQTT brokers): forbidden when the host is an
// address or resolves now and any address is refused; a name that does not resolve yet passes.
Result<void> check_outbound_host(const OutboundPolicy& policy, std::string_view host, int port);

// The server a postgresql:// (or postgres://) URL names, read the way libpq reads it.
struct PostgresTarget {
  std::string host;  // a name or an address (IPv6 without brackets), percent-decoded
  int port = 5432;
};

// Only the URL's authority may name the server, so that checking it is checking where libpq
// goes: refused (invalid_argument, naming the reason) are an empty host (a Unix socket), a
// socket path, a host or port list ("h1,h2"), and every query parameter that is not on a
// short list of harmless ones (host, hostaddr and port would redirect the connection;
// service, servicefile, passfile and the ssl* file paths make libpq read local files). The
// dispatcher connects with hostaddr set to an address that resolve_checked approved for
// this host and port, so that neither DNS nor libpq's environment (PGHOSTADDR) can send
// the connection elsewhere.
Result<PostgresTarget> postgres_target(std::string_view url);
// The save-time check of a PostgreSQL URL: postgres_target, then check_outbound_host.
Result<void> check_postgres_url(const OutboundPolicy& policy, std::string_view url);

}  // namespace dm::http
