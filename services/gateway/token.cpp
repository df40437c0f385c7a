#include "token.hpp"

#include "crypto.hpp"
#include "dm/json/json.hpp"

namespace dm::gateway {
namespace {
// The only header we ever produce; verify_token parses headers rather than comparing
// bytes, so other libraries' HS256 tokens (different member order) would still verify.
const std::string kHeader = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
// Tokens issued a little in the future (clock skew between replicas) are still accepted.
constexpr std::int64_t kLeewaySeconds = 30;

Error bad(std::string why) { return Error(Errc::unauthorized, std::move(why)); }
}  // namespace

std::string issue_token(std::string_view key, const Claims& c) {
  json::Writer w;
  w.start_object()
      .field("sub", c.sub)
      .field("role", role_name(c.role))
      .field("typ", kAccessType)
      .field("jti", c.jti)
      .field("iat", c.iat)
      .field("exp", c.exp)
      .field("ver", c.ver)
      .end_object();
  std::string signing_input = kHeader + "." + base64url_encode(w.view());
  return signing_input + "." + base64url_encode(hmac_sha256(key, signing_input));
}

Result<Claims> verify_token(std::string_view key, std::string_view token, std::int64_t now) {
  if (token.size() > 4096) return bad("token too long");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return bad("not a JWT");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return bad("not a JWT");

  auto header_text = base64url_decode(token.substr(0, d1));
  if (!header_text) return bad("header is not base64url");
  auto header = json::parse(*header_text, {.max_bytes = 1024, .max_depth = 2});
  if (!header || !header->IsObject()) return bad("header is not a JSON object");
  auto alg = json::get_string(*header, "alg");
  if (!alg || *alg != "HS256") return bad("algorithm is not HS256");
  if (json::find(*header, "crit")) return bad("critical header parameters are not supported");

  auto signature = base64url_decode(token.substr(d2 + 1));
  if (!signature) return bad("signature is not base64url");
  if (!constant_time_equal(hmac_sha256(key, token.substr(0, d2)), *signature)) return bad("bad signature");

  // Signed by us from here on; still check everything, as a key may sign other token kinds.
  auto payload_text = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload_text) return bad("payload is not base64url");
  auto payload = json::parse(*payload_text, {.max_bytes = 2048, .max_depth = 2});
  if (!payload || !payload->IsObject()) return bad("payload is not a JSON object");
  auto typ = json::get_string(*payload, "typ");
  if (!typ || *typ != kAccessType) return bad("not an access token");
  auto sub = json::get_string(*payload, "sub");
  auto role = json::get_string(*payload, "role");
  auto jti = json::get_string(*payload, "jti");
  auto iat = json::get_int(*payload, "iat");
  auto exp = json::get_int(*payload, "exp");
  auto ver = json::get_int(*payload, "ver");
  if (!sub || !role || !jti || !iat || !exp || !ver) return bad("missing or mistyped claims");
  auto parsed_role = parse_role(*role);
  if (!parsed_role || sub->empty() || jti->empty()) return bad("invalid claims");
  if (*exp <= now) return bad("expired");
  if (*iat > now + kLeewaySeconds) return bad("issued in the future");
  return Claims{std::string(*sub), *parsed_role, std::string(*jti), *iat, *exp, *ver};
}

}  // namespace dm::gateway
