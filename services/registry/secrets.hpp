#pragma once
// Secrets inside integration and storage configs (passwords, private keys, tokens,
// Authorization-like headers): sealed at rest with AES-256-GCM, masked in API answers.
//
// A sealed value is the JSON string "enc:v1:<base64(nonce | ciphertext | tag)>" stored in
// place of the plaintext inside the config JSONB, so the config keeps its shape and the
// dispatcher (via the registry's internal routes) gets it back opened. The key is
// HKDF-SHA256(SECRET_KEY, salt "dm-registry", info "secrets-v1"); "v1" names both the
// format and the derivation, so a later key scheme can live beside this one.
//
// OpenSSL stays in secrets.cpp.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/core/result.hpp"
#include "dm/json/json.hpp"

namespace dm::registry {

// What the API shows instead of a secret; sent back by a client, it means "keep the stored one".
inline constexpr std::string_view kMask = "********";

class SecretBox {
 public:
  explicit SecretBox(std::string_view secret_key);
  ~SecretBox();
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // A fresh random nonce per call: sealing the same text twice gives different strings.
  Result<std::string> seal(std::string_view plaintext) const;
  // Errc::internal when the value is not ours, was altered, or was sealed with another key.
  Result<std::string> open(std::string_view sealed) const;
  static bool is_sealed(std::string_view value);

 private:
  std::array<unsigned char, 32> key_{};
  bool ready_ = false;  // false if key derivation failed: every call then fails, nothing crashes
};

// Headers whose values are credentials: Authorization, Proxy-Authorization, X-API-Key,
// X-Auth-Token, Cookie, or any name containing "secret", "token", "password" or "key"
// (case-insensitive).
bool is_secret_header(std::string_view name);

// URL userinfo password ("scheme://user:password@host/..."), if there is one.
std::optional<std::string> url_password(std::string_view url);
// The URL with its password replaced (only called when url_password() has a value).
std::string replace_url_password(std::string_view url, std::string_view password);
// The URL as the API shows it: password masked, the rest readable.
std::string mask_url_password(std::string_view url);

// Member names from the config root to a secret value, e.g. {"headers", "Authorization"}.
using JsonPath = std::vector<std::string>;

struct SecretField {
  JsonPath path;
  bool url = false;  // a URL with a password: sealed whole, shown with only the password masked
};

struct SecretProblem {
  JsonPath path;
  std::string message;
};

struct SealedConfig {
  std::string stored;  // secrets sealed: what the database keeps
  std::string shown;   // secrets masked: what the API answers
};

// Seals the non-empty string secrets of a validated config. A secret equal to the mask (for a
// URL: a password equal to the mask) keeps the value sealed at the same path of `previous`
// (the stored config of the same type), unchanged; without one it is a client mistake,
// reported in `problems` (then the result is meaningless). Crypto failures are errors.
Result<SealedConfig> seal_config(const json::Value& plain, const std::vector<SecretField>& secrets,
                                 const json::Value* previous, const SecretBox& box,
                                 std::vector<SecretProblem>& problems);

// The stored config with its sealed secrets opened (for the services that deliver with it).
// Only the given paths are opened, so a plain value that merely looks sealed stays as it is.
Result<std::string> open_config(const json::Value& stored, const std::vector<SecretField>& secrets,
                                const SecretBox& box);

}  // namespace dm::registry
