#include "dm/core/uuid.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace dm {

std::string uuid_v7(SysTime at) {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<std::uint8_t>(0x70 | ((a >> 8) & 0x0f));  // version 7, 12 random bits
  bytes[7] = static_cast<std::uint8_t>(a);
  bytes[8] = static_cast<std::uint8_t>(0x80 | ((b >> 56) & 0x3f));  // variant 10, 62 random bits
  for (int i = 9; i < 16; ++i) bytes[i] = static_cast<std::uint8_t>(b >> (8 * (15 - i)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace dm
