#pragma once
// What counts as a secret in a user-configured destination, in one place for every service
// that stores, shows or records one: the registry seals and masks integration and storage
// configs with it, and the dispatcher's delivery history can mask what it sent by the same
// rule.
//
//   - header values are secrets unless the header is on a short list of harmless ones
//     (is_harmless_header): an unknown header may carry a signature or a token under any name;
//   - in a URL, the userinfo (the password of "user:password@", or a lone "token@") and the
//     values of query parameters whose names look like credentials (is_credential_name) are
//     secrets; the rest of the URL (scheme, host, port, path) stays readable.
//
// Secrets in a URL's path (Slack-style webhook URLs) cannot be told from ordinary paths and are
// not recognised: such endpoints are best given their secret in a header.
#include <string>
#include <string_view>
#include <vector>

#include "dm/core/result.hpp"

namespace dm::http {

// What answers show instead of a secret; a client sending it back means "keep the stored one".
inline constexpr std::string_view kSecretMask = "********";

// Content-Type, Accept, User-Agent, X-Request-Id and a few more whose values describe a
// message, never authenticate it (case-insensitive). Every other header value is a secret.
bool is_harmless_header(std::string_view name);

// A parameter name that looks like it names a credential: it contains token, key, secret,
// pass, pwd, sig, auth, cred, session, jwt or private, or is p, pw or code (InfluxDB 1.x's
// password, Azure Functions' key); case-insensitive, percent-decoded by the caller.
bool is_credential_name(std::string_view name);

// One secret part of a URL.
struct UrlSecret {
  std::string part;       // for messages: "password", "userinfo", "query parameter 'token'"
  std::size_t begin = 0;  // the value is url.substr(begin, end - begin); never empty
  std::size_t end = 0;
};

// The secret parts of `url`, in order of position.
std::vector<UrlSecret> url_secrets(std::string_view url);
bool url_has_secrets(std::string_view url);
// `url` with the value of every secret part replaced by kSecretMask.
std::string mask_url(std::string_view url);
// `url` with every secret part whose value is kSecretMask replaced by the value of the same
// part of `previous` (the stored URL). invalid_argument naming the parts `previous` lacks.
Result<std::string> unmask_url(std::string_view url, std::string_view previous);

}  // namespace dm::http
