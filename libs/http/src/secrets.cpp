// The one rule for what is secret in a destination's headers and URLs (see secrets.hpp).
#include "dm/http/secrets.hpp"

#include <algorithm>
#include <cctype>

#include "dm/core/strings.hpp"
#include "dm/http/message.hpp"

namespace dm::http {
namespace {

// Where the authority of "scheme://authority/..." is, or nullopt without "://".
std::optional<std::pair<std::size_t, std::size_t>> authority_span(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::size_t start = sep + 3;
  std::size_t end = url.find_first_of("/?#", start);
  return std::pair{start, end == std::string_view::npos ? url.size() : end};
}

void add_userinfo(std::string_view url, std::vector<UrlSecret>& out) {
  auto authority = authority_span(url);
  if (!authority) return;
  auto [start, end] = *authority;
  // The last '@' ends the userinfo: a password may hold '@' where a host never does.
  auto at = url.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos || at == 0) return;
  auto colon = url.substr(start, at).find(':');
  if (colon == std::string_view::npos) {
    out.push_back({"userinfo", start, start + at});  // "token@host": the whole userinfo
  } else if (colon + 1 < at) {
    out.push_back({"password", start + colon + 1, start + at});  // the user name stays readable
  }
}

void add_query(std::string_view url, std::vector<UrlSecret>& out) {
  auto authority = authority_span(url);
  auto q = url.find('?', authority ? authority->second : 0);
  if (q == std::string_view::npos) return;
  auto fragment = url.find('#', q);
  std::size_t end = fragment == std::string_view::npos ? url.size() : fragment;
  for (std::size_t pos = q + 1; pos < end;) {
    auto amp = url.find('&', pos);
    std::size_t pair_end = amp == std::string_view::npos || amp > end ? end : amp;
    auto eq = url.find('=', pos);
    if (eq != std::string_view::npos && eq < pair_end && eq + 1 < pair_end) {
      // Decoded as the receiver decodes it, so "%74oken" is a token too.
      std::string name = percent_decode(url.substr(pos, eq - pos), true);
      if (is_credential_name(name)) out.push_back({"query parameter '" + name + "'", eq + 1, pair_end});
    }
    pos = pair_end + 1;
  }
}

std::string replaced(std::string_view url, const std::vector<UrlSecret>& parts,
                     const std::vector<std::string>& values) {
  std::string out;
  std::size_t at = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out.append(url.substr(at, parts[i].begin - at));
    out.append(values[i]);
    at = parts[i].end;
  }
  out.append(url.substr(at));
  return out;
}

}  // namespace

bool is_harmless_header(std::string_view name) {
  static const char* const kHarmless[] = {
      "accept",           "accept-charset",   "accept-encoding", "accept-language", "cache-control",
      "content-encoding", "content-language", "content-length",  "content-type",    "date",
      "user-agent",       "x-correlation-id", "x-request-id",
  };
  return std::any_of(std::begin(kHarmless), std::end(kHarmless), [&](const char* h) { return iequals(name, h); });
}

bool is_credential_name(std::string_view name) {
  std::string n = lower(name);
  for (const char* exact : {"p", "pw", "code"}) {
    if (n == exact) return true;
  }
  for (const char* part :
       {"token", "key", "secret", "pass", "pwd", "sig", "auth", "cred", "session", "jwt", "private"}) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

std::vector<UrlSecret> url_secrets(std::string_view url) {
  std::vector<UrlSecret> out;
  add_userinfo(url, out);
  add_query(url, out);
  return out;
}

bool url_has_secrets(std::string_view url) { return !url_secrets(url).empty(); }

std::string mask_url(std::string_view url) {
  auto parts = url_secrets(url);
  return replaced(url, parts, std::vector<std::string>(parts.size(), std::string(kSecretMask)));
}

Result<std::string> unmask_url(std::string_view url, std::string_view previous) {
  auto parts = url_secrets(url);
  auto old_parts = url_secrets(previous);
  std::vector<std::string> values;
  std::string missing;
  for (const auto& p : parts) {
    std::string value(url.substr(p.begin, p.end - p.begin));
    if (value == kSecretMask) {
      auto old = std::find_if(old_parts.begin(), old_parts.end(), [&](const UrlSecret& o) { return o.part == p.part; });
      if (old == old_parts.end()) {
        missing += (missing.empty() ? "" : ", ") + p.part;
      } else {
        value = std::string(previous.substr(old->begin, old->end - old->begin));
      }
    }
    values.push_back(std::move(value));
  }
  if (!missing.empty()) {
    return make_error(Errc::invalid_argument, "'********' keeps a stored secret, but none is stored for the " +
                                                  missing + ": send the secret itself");
  }
  return replaced(url, parts, values);
}

}  // namespace dm::http
