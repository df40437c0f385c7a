#include "uplink.hpp"

#include <cstdio>
#include <random>

#include "dm/core/time.hpp"

namespace dm::tools {

std::string dev_eui_for(std::uint32_t device_index, const std::string& prefix) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016x", device_index);
  std::string eui = prefix + std::string(hex).substr(prefix.size());
  return eui.substr(0, 16);
}

std::string make_uplink(std::uint64_t sequence, std::uint32_t device_index, const std::string& prefix,
                        double temperature) {
  // A process-unique salt keeps deduplicationIds unique across load-tool runs too.
  static const std::uint64_t kSalt = std::random_device{}() * 0x9e3779b97f4a7c15ULL;
  char dedup[40];
  std::snprintf(dedup, sizeof dedup, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(kSalt >> 32),
                static_cast<unsigned>(kSalt & 0xffff), static_cast<unsigned>((kSalt >> 16) & 0xfff),
                static_cast<unsigned>(device_index & 0xfff), static_cast<unsigned long long>(sequence));
  std::string eui = dev_eui_for(device_index, prefix);
  char body[1400];
  std::snprintf(
      body, sizeof body,
      R"({"deduplicationId":"%s","time":"%s","deviceInfo":{"tenantId":"52f14cd4-c6f1-4fbd-8f87-4025e1d49242",)"
      R"("tenantName":"ChirpStack","applicationId":"17c82e96-be03-4f38-aef3-f83d48582d97","applicationName":"load",)"
      R"("deviceProfileId":"14855bf7-d10d-4aee-b618-ebfcb64dc7ad","deviceProfileName":"load-profile",)"
      R"("deviceName":"load-%u","devEui":"%s","tags":{}},"devAddr":"00189440","adr":true,"dr":5,"fCnt":%llu,)"
      R"("fPort":1,"confirmed":false,"data":"AQID","object":{"temperature":%.1f,"humidity":40},)"
      R"("rxInfo":[{"gatewayId":"0016c001f153a14c","uplinkId":4217106255,"rssi":-36,"snr":10.5,)"
      R"("context":"E3OWOQ==","metadata":{"region_name":"eu868","region_common_name":"EU868"}}],)"
      R"("txInfo":{"frequency":867100000,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7,"codeRate":"CR_4_5"}}}})",
      dedup, format_rfc3339(now()).c_str(), device_index, eui.c_str(), static_cast<unsigned long long>(sequence),
      temperature);
  return body;
}

}  // namespace dm::tools
