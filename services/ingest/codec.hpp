#pragma once
// Small pure helpers the ChirpStack parser needs: DevEUIs, the lowerCamelCase → snake_case key
// mapping of protobuf JSON, UUIDs from bytes, deduplication ids. (base64, hex and SHA-256 are
// dm/core/encoding.hpp's.)
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/encoding.hpp"

namespace dm::ingest {

// 16 hex digits (any case) → lower case; nullopt otherwise.
std::optional<std::string> normalise_dev_eui(std::string_view text);
// "spreadingFactor" → "spreading_factor"; "loRaSNR" → "lora_snr"; "gatewayID" → "gateway_id".
std::string snake_case(std::string_view key);
// 16 bytes → "8e1321f0-6aba-4403-8285-229b8bcdd11d".
std::string uuid_from_bytes(std::string_view bytes);

// A deduplicationId kept as sent: it becomes part of the Nats-Msg-Id header and a text
// column, so only [A-Za-z0-9._:-], at most kMaxDedupId bytes. ChirpStack sends UUIDs.
inline constexpr std::size_t kMaxDedupId = 128;
bool valid_dedup_id(std::string_view id);

}  // namespace dm::ingest
