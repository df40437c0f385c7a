#pragma once
// Secrets inside integration and storage configs (passwords, private keys, tokens, header
// values, credentials in URLs — what is secret is dm/http/secrets.hpp's rule): sealed at rest
// with AES-256-GCM, masked in API answers.
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
#include "dm/http/secrets.hpp"
#include "dm/json/json.hpp"

namespace dm::registry {

// What the API shows instead of a secret; sent back by a client, it means "keep the stored one".
inline constexpr std::string_view kMask = http::kSecretMask;

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

// Member names from the config root to a secret value, e.g. {"headers", "Authorization"}.
using JsonPath = std::vector<std::string>;

struct SecretField {
  JsonPath path;
  // A URL that may hold secrets (userinfo, credential-like query values): sealed whole when it
  // does, shown with only those parts masked; a URL without any is kept and shown as it is.
  bool url = false;
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
// URL: a secret part equal to the mask) keeps the value stored at the same path of `previous`
// (the stored config of the same type) — unchanged ciphertext when nothing else changed — but
// only when `same_destination`: a config that now points elsewhere must carry every secret in
// clear, or the stored secrets would be delivered to wherever an editor points it. A mask
// that cannot keep anything is a client mistake, reported in `problems` (then the result is
// meaningless). Crypto failures are errors.
Result<SealedConfig> seal_config(const json::Value& plain, const std::vector<SecretField>& secrets,
                                 const json::Value* previous, bool same_destination, const SecretBox& box,
                                 std::vector<SecretProblem>& problems);

// A stored config brought under today's rule: secrets still in clear (stored before the rule
// covered them) are sealed, sealed ones are kept as they are, and the shown form is masked
// anew. The same input gives the same output, so running it again changes nothing.
Result<SealedConfig> reseal_config(const json::Value& stored, const std::vector<SecretField>& secrets,
                                   const SecretBox& box);

// The stored config with its sealed secrets opened (for the services that deliver with it).
// Only the given paths are opened, so a plain value that merely looks sealed stays as it is.
Result<std::string> open_config(const json::Value& stored, const std::vector<SecretField>& secrets,
                                const SecretBox& box);

}  // namespace dm::registry
