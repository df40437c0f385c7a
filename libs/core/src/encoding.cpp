#include "dm/core/encoding.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace dm {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlSafe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The value of a base64 digit in either alphabet (or only the URL-safe one), or -1.
int digit(char c, bool url_only) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  if (!url_only && c == '+') return 62;
  if (!url_only && c == '/') return 63;
  return -1;
}

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  std::size_t left = bytes.size() - i;
  if (left == 0) return out;
  std::uint32_t n = byte(i) << 16 | (left == 2 ? byte(i + 1) << 8 : 0);
  out += alphabet[(n >> 18) & 63];
  out += alphabet[(n >> 12) & 63];
  if (left == 2) out += alphabet[(n >> 6) & 63];
  if (pad) out.append(3 - left, '=');
  return out;
}

// Decodes `text` (no padding); `strict_bits`: the bits left over must be zero.
std::optional<std::string> decode(std::string_view text, bool url_only, bool strict_bits) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = digit(c, url_only);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (strict_bits && bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) { return encode(bytes, kStandard, true); }

std::optional<std::string> base64_decode(std::string_view text) {
  std::size_t end = text.size();
  int pad = 0;
  while (end > 0 && text[end - 1] == '=' && pad < 2) {
    --end;
    ++pad;
  }
  // With padding the whole length is a multiple of 4.
  if (pad > 0 && text.size() % 4 != 0) return std::nullopt;
  return decode(text.substr(0, end), false, false);
}

std::string base64url_encode(std::string_view bytes) { return encode(bytes, kUrlSafe, false); }

std::optional<std::string> base64url_decode(std::string_view text) { return decode(text, true, true); }

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), len));
}

}  // namespace dm
