#pragma once
// ChirpStack v4 `up` event bodies for load and tests: one device out of `devices`,
// a unique deduplicationId each time, and a decoded temperature so flows have data.
#include <cstdint>
#include <string>

namespace dm::tools {

// devEui is "<prefix>" followed by the device index in hex, 16 hex digits in all.
std::string make_uplink(std::uint64_t sequence, std::uint32_t device_index, const std::string& dev_eui_prefix,
                        double temperature);
std::string dev_eui_for(std::uint32_t device_index, const std::string& prefix);

}  // namespace dm::tools
