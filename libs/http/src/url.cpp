// URL parsing for the client, kept apart from the Beast code so it compiles in a blink.
#include <charconv>

#include "dm/http/client.hpp"

namespace dm::http {

namespace {

Error bad_url(std::string_view url, std::string_view why) {
  return make_error(Errc::invalid_argument, "invalid URL '" + std::string(url) + "': " + std::string(why));
}

// Control characters and spaces would let a URL smuggle header lines into a request.
bool has_forbidden_chars(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return true;
  }
  return false;
}

}  // namespace

Result<Url> parse_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return bad_url(url, "expected http:// or https://");
  Url out;
  for (char c : url.substr(0, sep)) out.scheme.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  if (out.scheme != "http" && out.scheme != "https") return bad_url(url, "unsupported scheme '" + out.scheme + "'");
  out.port = out.scheme == "https" ? 443 : 80;

  std::string_view rest = url.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view remainder = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return bad_url(url, "credentials in URLs are not supported");
  if (authority.empty()) return bad_url(url, "no host");

  std::string_view host;
  std::string_view port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(url, "unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url(url, "unexpected characters after IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad_url(url, "no host");
  if (has_forbidden_chars(host)) return bad_url(url, "invalid host");
  out.host = std::string(host);
  if (!port.empty()) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return bad_url(url, "invalid port '" + std::string(port) + "'");
    }
    out.port = value;
  }

  remainder = remainder.substr(0, remainder.find('#'));
  if (has_forbidden_chars(remainder)) return bad_url(url, "spaces or control characters in the path");
  if (remainder.empty()) {
    out.target = "/";
  } else if (remainder.front() == '?') {
    out.target = "/" + std::string(remainder);
  } else {
    out.target = std::string(remainder);
  }
  return out;
}

}  // namespace dm::http
