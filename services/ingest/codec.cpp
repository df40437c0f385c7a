#include "codec.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace dm::ingest {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
char lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::optional<std::string> normalise_dev_eui(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::string out(text);
  for (auto& c : out) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    c = lower(c);
  }
  return out;
}

std::string snake_case(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 4);
  for (std::size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    // "loRa" is one word (LoRa), not "lo_ra".
    if (key.substr(i, 4) == "loRa" || key.substr(i, 4) == "LoRa") {
      if (!out.empty() && out.back() != '_') out += '_';
      out += "lora";
      i += 3;
      if (i + 1 < key.size() && is_upper(key[i + 1])) out += '_';
      continue;
    }
    if (is_upper(c)) {
      bool prev_upper = i > 0 && is_upper(key[i - 1]);
      bool next_lower = i + 1 < key.size() && !is_upper(key[i + 1]);
      // A new word starts at an upper-case letter after a lower-case one, or at the last
      // capital of an acronym followed by lower case ("IDs" stays one word at the end).
      if (!out.empty() && out.back() != '_' && (!prev_upper || next_lower)) out += '_';
      out += lower(c);
    } else {
      out += c;
    }
  }
  return out;
}

std::string uuid_from_bytes(std::string_view bytes) {
  std::string h = hex_encode(bytes);
  if (h.size() != 32) return h;
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

bool valid_dedup_id(std::string_view id) {
  auto allowed = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  };
  return !id.empty() && id.size() <= kMaxDedupId && std::all_of(id.begin(), id.end(), allowed);
}

}  // namespace dm::ingest
