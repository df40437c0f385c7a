// Policy "register": an unknown dev_eui becomes a registry device named after ChirpStack's
// deviceInfo.deviceName, and its event is stored with the new id.
#include "ingest_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("policy register: unknown devices are registered automatically") {
  testing::Stack s({"registry", "gateway", "ingest"},
                   {{"INGEST_SECRET", kSecret}, {"INGEST_UNKNOWN_DEVICE_POLICY", "register"}});
  Api api(s);
  Webhook hook(s);
  auto eui = new_eui();
  auto r = hook.post(uplink(eui, "g1", 1, "auto-" + eui));
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::string id = r.str("device_id");
  REQUIRE(id.size() == 36);
  auto device = api.get("/api/v1/devices/" + id);
  REQUIRE(device.status == 200);
  CHECK(device.str("name") == "auto-" + eui);
  CHECK(device.str("dev_eui") == eui);
  // The next event finds it in the cache.
  auto again = hook.post(uplink(eui, "g2", 2, "auto-" + eui));
  CHECK(again.str("device_id") == id);
}
