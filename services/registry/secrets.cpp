#include "secrets.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "dm/core/encoding.hpp"

namespace dm::registry {
namespace {

constexpr std::string_view kPrefix = "enc:v1:";
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

Error crypto_error(const std::string& what) { return make_error(Errc::internal, "secret " + what); }

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

json::Value* find_mutable(json::Value& root, const JsonPath& path) {
  json::Value* v = &root;
  for (const auto& key : path) {
    if (!v->IsObject()) return nullptr;
    auto it = v->FindMember(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
  }
  return v;
}

const json::Value* find_path(const json::Value& root, const JsonPath& path) {
  return find_mutable(const_cast<json::Value&>(root), path);
}

void set_string(json::Document& doc, const JsonPath& path, std::string_view text) {
  if (auto* v = find_mutable(doc, path)) {
    v->SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), doc.GetAllocator());
  }
}

// The sealed value stored at `path` of the previous config, if any.
std::optional<std::string> previous_sealed(const json::Value* previous, const JsonPath& path) {
  if (!previous) return std::nullopt;
  const auto* v = find_path(*previous, path);
  if (!v || !v->IsString() || !SecretBox::is_sealed(json::view(*v))) return std::nullopt;
  return std::string(json::view(*v));
}

constexpr const char* kKeepWithoutStored =
    "'********' keeps the stored secret, but none is stored here: send the secret itself";
constexpr const char* kRetargeted =
    "the destination changed, so this secret must be sent again: '********' keeps a stored secret only for the "
    "destination it was given for";

// The stored URL at `path` of the previous config, opened (or as it is, if it was kept in clear).
Result<std::optional<std::string>> previous_url(const json::Value* previous, const JsonPath& path,
                                                const SecretBox& box) {
  if (!previous) return std::optional<std::string>();
  const auto* v = find_path(*previous, path);
  if (!v || !v->IsString()) return std::optional<std::string>();
  if (!SecretBox::is_sealed(json::view(*v))) return std::optional<std::string>(std::string(json::view(*v)));
  DM_ASSIGN_OR_RETURN(auto opened, box.open(json::view(*v)));
  return std::optional<std::string>(std::move(opened));
}

bool has_masked_part(std::string_view url) {
  for (const auto& p : http::url_secrets(url)) {
    if (url.substr(p.begin, p.end - p.begin) == kMask) return true;
  }
  return false;
}

struct Sealing {
  json::Document& stored;
  json::Document& shown;
  const json::Value* previous;
  bool same_destination;
  const SecretBox& box;
  std::vector<SecretProblem>& problems;
};

// One secret value (not a URL): sealed, or its stored ciphertext kept for the mask.
Result<void> seal_value(Sealing& s, const SecretField& secret, const std::string& value) {
  if (value == kMask) {
    auto kept = previous_sealed(s.previous, secret.path);
    if (!kept) {
      s.problems.push_back({.path = secret.path, .message = kKeepWithoutStored});
    } else if (!s.same_destination) {
      s.problems.push_back({.path = secret.path, .message = kRetargeted});
    } else {
      set_string(s.stored, secret.path, *kept);  // unchanged ciphertext
      set_string(s.shown, secret.path, kMask);
    }
    return ok();
  }
  DM_ASSIGN_OR_RETURN(auto sealed, s.box.seal(value));
  set_string(s.stored, secret.path, sealed);
  set_string(s.shown, secret.path, kMask);
  return ok();
}

// A URL: kept in clear without secrets; else sealed whole, its masked parts taken from the
// stored URL, and the stored ciphertext kept when the URL comes out unchanged.
Result<void> seal_url(Sealing& s, const SecretField& secret, std::string value) {
  if (!http::url_has_secrets(value)) return ok();  // already in both documents as it is
  if (has_masked_part(value)) {
    if (s.previous && !s.same_destination) {
      s.problems.push_back({.path = secret.path, .message = kRetargeted});
      return ok();
    }
    DM_ASSIGN_OR_RETURN(auto old, previous_url(s.previous, secret.path, s.box));
    auto restored = http::unmask_url(value, old.value_or(""));
    if (!restored) {
      s.problems.push_back({.path = secret.path, .message = restored.error().message});
      return ok();
    }
    if (old == *restored) {
      if (auto kept = previous_sealed(s.previous, secret.path)) {
        set_string(s.stored, secret.path, *kept);
        set_string(s.shown, secret.path, http::mask_url(*restored));
        return ok();
      }
    }
    value = std::move(restored).value();
  }
  DM_ASSIGN_OR_RETURN(auto sealed, s.box.seal(value));
  set_string(s.stored, secret.path, sealed);
  set_string(s.shown, secret.path, http::mask_url(value));
  return ok();
}

}  // namespace

SecretBox::SecretBox(std::string_view secret_key) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (!kctx) return;
  std::string key(secret_key);
  std::string salt = "dm-registry";
  std::string info = "secrets-v1";
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  ready_ = !secret_key.empty() && EVP_KDF_derive(kctx, key_.data(), key_.size(), params) == 1;
  EVP_KDF_CTX_free(kctx);
  OPENSSL_cleanse(key.data(), key.size());
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

bool SecretBox::is_sealed(std::string_view value) { return value.starts_with(kPrefix); }

Result<std::string> SecretBox::seal(std::string_view plaintext) const {
  if (!ready_) return crypto_error("key is not available");
  if (plaintext.size() > (1u << 24)) return crypto_error("too large");
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonceBytes) != 1) return crypto_error("nonce generation failed");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonceBytes + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, bytes + kNonceBytes + plaintext.size()) != 1) {
    return crypto_error("encryption failed");
  }
  return std::string(kPrefix) + base64_encode(out);
}

Result<std::string> SecretBox::open(std::string_view sealed) const {
  if (!ready_) return crypto_error("key is not available");
  if (!is_sealed(sealed)) return crypto_error("is not sealed");
  auto raw = base64_decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return crypto_error("is malformed");
  std::size_t text_len = raw->size() - kNonceBytes - kTagBytes;
  auto* bytes = reinterpret_cast<unsigned char*>(raw->data());
  std::string out(text_len, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes + kNonceBytes,
                        static_cast<int>(text_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, bytes + kNonceBytes + text_len) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return crypto_error("cannot be decrypted (altered, or sealed with another SECRET_KEY)");
  }
  return out;
}

Result<SealedConfig> seal_config(const json::Value& plain, const std::vector<SecretField>& secrets,
                                 const json::Value* previous, bool same_destination, const SecretBox& box,
                                 std::vector<SecretProblem>& problems) {
  json::Document stored;
  stored.CopyFrom(plain, stored.GetAllocator());
  json::Document shown;
  shown.CopyFrom(plain, shown.GetAllocator());
  Sealing sealing{.stored = stored,
                  .shown = shown,
                  .previous = previous,
                  .same_destination = same_destination,
                  .box = box,
                  .problems = problems};
  for (const auto& secret : secrets) {
    const auto* v = find_path(plain, secret.path);
    if (!v || !v->IsString() || v->GetStringLength() == 0) continue;  // null or empty: nothing to hide
    std::string value(json::view(*v));
    if (secret.url) {
      DM_TRY(seal_url(sealing, secret, std::move(value)));
    } else {
      DM_TRY(seal_value(sealing, secret, value));
    }
  }
  return SealedConfig{.stored = json::to_string(stored), .shown = json::to_string(shown)};
}

Result<SealedConfig> reseal_config(const json::Value& stored_config, const std::vector<SecretField>& secrets,
                                   const SecretBox& box) {
  json::Document stored;
  stored.CopyFrom(stored_config, stored.GetAllocator());
  json::Document shown;
  shown.CopyFrom(stored_config, shown.GetAllocator());
  for (const auto& secret : secrets) {
    const auto* v = find_path(stored_config, secret.path);
    if (!v || !v->IsString() || v->GetStringLength() == 0) continue;
    std::string value(json::view(*v));
    bool sealed = SecretBox::is_sealed(value);
    std::string plain = value;
    if (sealed) {
      DM_ASSIGN_OR_RETURN(plain, box.open(value));
    }
    if (secret.url && !http::url_has_secrets(plain)) {
      set_string(shown, secret.path, plain);  // nothing secret in it (sealed under an older rule: kept so)
      continue;
    }
    if (!sealed) {
      DM_ASSIGN_OR_RETURN(auto fresh, box.seal(plain));
      set_string(stored, secret.path, fresh);
    }
    set_string(shown, secret.path, secret.url ? http::mask_url(plain) : std::string(kMask));
  }
  return SealedConfig{.stored = json::to_string(stored), .shown = json::to_string(shown)};
}

Result<std::string> open_config(const json::Value& stored, const std::vector<SecretField>& secrets,
                                const SecretBox& box) {
  json::Document doc;
  doc.CopyFrom(stored, doc.GetAllocator());
  for (const auto& secret : secrets) {
    auto* v = find_mutable(doc, secret.path);
    if (!v || !v->IsString() || !SecretBox::is_sealed(json::view(*v))) continue;
    DM_ASSIGN_OR_RETURN(auto plain, box.open(json::view(*v)));
    v->SetString(plain.data(), static_cast<rapidjson::SizeType>(plain.size()), doc.GetAllocator());
  }
  return json::to_string(doc);
}

}  // namespace dm::registry
