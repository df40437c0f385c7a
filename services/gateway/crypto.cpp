#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace dm::gateway {
namespace {
std::string pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  std::string out(32, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                        EVP_sha256(), static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");  // a broken OpenSSL is a bug, not input
  }
  return out;
}
}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hash_password(std::string_view password, int iterations) {
  std::string salt = random_bytes(16);
  return "pbkdf2_sha256$" + std::to_string(iterations) + "$" + base64url_encode(salt) + "$" +
         base64url_encode(pbkdf2(password, salt, iterations));
}

bool verify_password(std::string_view password, std::string_view stored) {
  constexpr std::string_view kScheme = "pbkdf2_sha256$";
  if (stored.substr(0, kScheme.size()) != kScheme) return false;
  stored.remove_prefix(kScheme.size());
  auto d1 = stored.find('$');
  if (d1 == std::string_view::npos) return false;
  auto d2 = stored.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int iterations = 0;
  auto digits = stored.substr(0, d1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), iterations);
  // Bounded so that a corrupted row cannot make one login take minutes.
  if (ec != std::errc() || p != digits.data() + digits.size() || iterations < 1 || iterations > 10000000) return false;
  auto salt = base64url_decode(stored.substr(d1 + 1, d2 - d1 - 1));
  auto expected = base64url_decode(stored.substr(d2 + 1));
  if (!salt || !expected || expected->size() != 32) return false;
  return constant_time_equal(pbkdf2(password, *salt, iterations), *expected);
}

}  // namespace dm::gateway
