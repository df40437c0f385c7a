#pragma once
// Small pure encoders the ChirpStack parser needs: strict base64, hex, SHA-256, and the
// lowerCamelCase → snake_case key mapping of protobuf JSON.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dm::ingest {

// Standard (and URL-safe) alphabet, padding optional; nullopt when not valid base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
std::string hex_encode(std::string_view bytes);  // lower case
// 16 hex digits (any case) → lower case; nullopt otherwise.
std::optional<std::string> normalise_dev_eui(std::string_view text);
// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// "spreadingFactor" → "spreading_factor"; "loRaSNR" → "lora_snr"; "gatewayID" → "gateway_id".
std::string snake_case(std::string_view key);
// 16 bytes → "8e1321f0-6aba-4403-8285-229b8bcdd11d".
std::string uuid_from_bytes(std::string_view bytes);

// A deduplicationId kept as sent: it becomes part of the Nats-Msg-Id header and a text
// column, so only [A-Za-z0-9._:-], at most kMaxDedupId bytes. ChirpStack sends UUIDs.
inline constexpr std::size_t kMaxDedupId = 128;
bool valid_dedup_id(std::string_view id);

}  // namespace dm::ingest
