// Integrations over real HTTP through the gateway, secrets at rest, and the internal routes
// (integrations and storages) that other services call over NATS.
#include "api_fixture.hpp"
#include "dm/testing/collector.hpp"
#include "listener.hpp"
#include "registry_rpc.hpp"

using dm::test::Api;
using dm::test::As;
using dm::test::NatsReply;
using dm::test::Reply;
using dm::test::sql;
using dm::test::total;
using dm::test::unique;

namespace {

std::int64_t count_integrations(Api& api) { return total(api.get("/api/v1/integrations?limit=1")); }

std::string stored_config(const std::string& id) {
  return sql("SELECT config::text FROM registry.integrations WHERE id = '" + id + "'");
}
std::string stored_public(const std::string& id) {
  return sql("SELECT config_public::text FROM registry.integrations WHERE id = '" + id + "'");
}
std::string stored_field(const std::string& table, const std::string& id, const std::string& path) {
  return sql("SELECT config #>> '" + path + "' FROM registry." + table + " WHERE id = '" + id + "'");
}

// The dispatcher's view: the internal routes over NATS.
NatsReply registry_rpc(const std::string& target, dm::testing::Stack& stack = dm::test::stack()) {
  return dm::test::registry_rpc(target, "integration-dispatcher", stack);
}

const char* kHttpConfig = R"({"url":"https://example.com/hook","headers":{"Authorization":"Bearer abc123secret",)"
                          R"("Content-Type":"application/json","X-Custom-Token":"tok-999"}})";

std::string create_http(Api& api, const std::string& name) {
  auto r = api.post("/api/v1/integrations", R"({"name":")" + name + R"(","type":"http","config":)" + kHttpConfig + "}");
  REQUIRE(r.status == 201);
  return r.str("id");
}

std::string create_mqtt(Api& api, const std::string& name) {
  auto r = api.post("/api/v1/integrations",
                    R"({"name":")" + name +
                        R"(","type":"mqtt","config":{"host":"broker.local",)"
                        R"("topic":"devices/{dev_eui}/up","username":"dm","password":"mqtt-pa55word"}})");
  REQUIRE(r.status == 201);
  return r.str("id");
}

void require_http_masked(const dm::json::Value& doc) {
  const auto& headers = doc["config"]["headers"];
  REQUIRE(headers["Authorization"] == "********");
  REQUIRE(headers["X-Custom-Token"] == "********");
  REQUIRE(headers["Content-Type"] == "application/json");
}

}  // namespace

// Create, get, list, update and delete as every kind does them: crud_test.cpp.
TEST_CASE("integrations: http configs with secrets masked in every answer and sealed at rest") {
  Api api;
  std::string name = unique("webhook");
  auto created =
      api.post("/api/v1/integrations",
               R"({"name":")" + name + R"(","description":"to the cloud","type":"http","config":)" + kHttpConfig + "}");
  REQUIRE(created.status == 201);
  std::string id = created.str("id");
  REQUIRE(created.str("type") == "http");
  REQUIRE(created.str("status") == "active");
  REQUIRE(created["last_error"].IsNull());
  REQUIRE(created["version"].GetInt() == 1);
  const auto& config = created["config"];
  REQUIRE(config["url"] == "https://example.com/hook");
  REQUIRE(config["method"] == "POST");  // defaults filled in
  REQUIRE(config["timeout_ms"].GetInt() == 10000);
  REQUIRE(config["verify_tls"].GetBool());
  REQUIRE(config["ca_cert"].IsNull());
  require_http_masked(created.json);
  REQUIRE(created.body.find("abc123secret") == std::string::npos);

  auto got = api.get("/api/v1/integrations/" + id);
  REQUIRE(got.status == 200);
  require_http_masked(got.json);
  REQUIRE(got.body == created.body);

  auto list = api.get("/api/v1/integrations?search=" + name);
  REQUIRE(total(list) == 1);
  require_http_masked(list.json[0]);
  REQUIRE(list.body.find("tok-999") == std::string::npos);
  REQUIRE(total(api.get("/api/v1/integrations?type=http&status=active&search=" + name)) == 1);
  REQUIRE(total(api.get("/api/v1/integrations?type=mqtt&search=" + name)) == 0);
  REQUIRE(total(api.get("/api/v1/integrations?status=error&search=" + name)) == 0);

  auto at_rest = stored_config(id) + stored_public(id);
  REQUIRE(at_rest.find("abc123secret") == std::string::npos);
  REQUIRE(at_rest.find("tok-999") == std::string::npos);
  REQUIRE(stored_field("integrations", id, "{headers,Authorization}").starts_with("enc:v1:"));
  REQUIRE(stored_field("integrations", id, "{headers,Content-Type}").starts_with("application/json"));

  // A rename keeps the description, the config and its masks.
  auto renamed = api.patch("/api/v1/integrations/" + id, R"({"name":")" + name + R"(-renamed"})");
  REQUIRE(renamed.status == 200);
  REQUIRE(renamed["version"].GetInt() == 2);
  REQUIRE(renamed.str("description") == "to the cloud");
  require_http_masked(renamed.json);
  REQUIRE(renamed["config"]["url"] == "https://example.com/hook");

  // Another destination: the stored secret cannot come along masked.
  auto retargeted = api.put("/api/v1/integrations/" + id,
                            R"({"config":{"url":"http://93.184.216.34:8080/in","method":"put","timeout_ms":500,)"
                            R"("verify_tls":false,"headers":{"Authorization":"********"}}})");
  REQUIRE(retargeted.status == 422);
  REQUIRE(retargeted.has_error_for("Authorization"));
  auto reconfigured = api.put("/api/v1/integrations/" + id,
                              R"({"config":{"url":"http://93.184.216.34:8080/in","method":"put","timeout_ms":500,)"
                              R"("verify_tls":false,"headers":{"Authorization":"Bearer for-the-new-place"}}})");
  REQUIRE(reconfigured.status == 200);
  REQUIRE(reconfigured["config"]["method"] == "PUT");
  REQUIRE(reconfigured["config"]["timeout_ms"].GetInt() == 500);
  REQUIRE(reconfigured["config"]["headers"]["Authorization"] == "********");
  REQUIRE_FALSE(reconfigured["config"]["headers"].HasMember("X-Custom-Token"));  // a config is replaced whole
  REQUIRE(reconfigured["version"].GetInt() == 3);

  // Sent back as read: read-only fields are ignored, masked secrets keep their values.
  std::string sealed = stored_field("integrations", id, "{headers,Authorization}");
  REQUIRE(sealed.starts_with("enc:v1:"));
  auto echoed = api.put("/api/v1/integrations/" + id, api.get("/api/v1/integrations/" + id).body);
  REQUIRE(echoed.status == 200);
  REQUIRE(echoed["config"]["headers"]["Authorization"] == "********");
  REQUIRE(stored_field("integrations", id, "{headers,Authorization}") == sealed);
}

TEST_CASE("integrations: mqtt defaults, TLS material and the mask round trip") {
  Api api;
  std::string id = create_mqtt(api, unique("broker"));
  auto got = api.get("/api/v1/integrations/" + id);
  const auto& config = got["config"];
  REQUIRE(config["port"].GetInt() == 1883);
  REQUIRE(config["qos"].GetInt() == 1);
  REQUIRE(config["retain"].GetBool() == false);
  REQUIRE(config["use_tls"].GetBool() == false);
  REQUIRE(config["password"] == "********");
  REQUIRE(config["username"] == "dm");
  REQUIRE(config["client_key"].IsNull());
  REQUIRE(stored_config(id).find("mqtt-pa55word") == std::string::npos);
  std::string sealed = stored_field("integrations", id, "{password}");
  REQUIRE(sealed.starts_with("enc:v1:"));

  // The mask keeps the stored secret: the very same ciphertext, not a re-encryption.
  auto kept = api.patch(
      "/api/v1/integrations/" + id,
      R"({"config":{"host":"broker.local","topic":"t/{device_name}","username":"dm","password":"********"}})");
  REQUIRE(kept.status == 200);
  REQUIRE(kept["config"]["topic"] == "t/{device_name}");
  REQUIRE(kept["config"]["password"] == "********");
  REQUIRE(stored_field("integrations", id, "{password}") == sealed);

  auto changed = api.patch("/api/v1/integrations/" + id,
                           R"({"config":{"host":"broker.local","topic":"t","username":"dm","password":"new-pa55"}})");
  REQUIRE(changed.status == 200);
  REQUIRE(stored_field("integrations", id, "{password}") != sealed);
  REQUIRE(stored_config(id).find("new-pa55") == std::string::npos);

  std::string pem_key = "-----BEGIN PRIVATE KEY-----\\nMIIBVQIBADANBg\\n-----END PRIVATE KEY-----\\n";
  std::string pem_cert = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
  auto tls = api.patch("/api/v1/integrations/" + id,
                       R"({"config":{"host":"broker.local","topic":"t","use_tls":true,"qos":2,"retain":true,)"
                       R"("client_id":"dm-1","ca_cert":")" +
                           pem_cert + R"(","client_cert":")" + pem_cert + R"(","client_key":")" + pem_key + R"("}})");
  REQUIRE(tls.status == 200);
  REQUIRE(tls["config"]["port"].GetInt() == 8883);
  REQUIRE(tls["config"]["client_key"] == "********");
  REQUIRE(tls["config"]["client_cert"].IsString());
  REQUIRE(tls["config"]["password"].IsNull());
  REQUIRE(tls.body.find("MIIBVQIBADANBg") == std::string::npos);
  REQUIRE(stored_config(id).find("MIIBVQIBADANBg") == std::string::npos);
}

TEST_CASE("integrations: the type changes only with a new config") {
  Api api;
  std::string id = create_http(api, unique("switch"));
  auto original = api.get("/api/v1/integrations/" + id);
  auto alone = api.patch("/api/v1/integrations/" + id, R"({"type":"mqtt"})");
  REQUIRE(alone.status == 422);
  REQUIRE(alone.has_error_for("config"));
  // The old type's secrets cannot be kept across a type change.
  auto masked = api.patch("/api/v1/integrations/" + id,
                          R"({"type":"mqtt","config":{"host":"h","topic":"t","username":"u","password":"********"}})");
  REQUIRE(masked.status == 422);
  REQUIRE(masked.has_error_for("password"));
  REQUIRE(api.get("/api/v1/integrations/" + id).body == original.body);

  auto switched = api.patch("/api/v1/integrations/" + id, R"({"type":"mqtt","config":{"host":"h","topic":"t"}})");
  REQUIRE(switched.status == 200);
  REQUIRE(switched.str("type") == "mqtt");
  REQUIRE(switched["config"]["port"].GetInt() == 1883);
}

TEST_CASE("integrations: bad input is refused and changes nothing") {
  Api api;
  std::string id = create_mqtt(api, unique("stable"));
  auto original = api.get("/api/v1/integrations/" + id);
  std::string sealed = stored_config(id);
  auto before = count_integrations(api);

  auto post = [&](const std::string& body) { return api.post("/api/v1/integrations", body); };
  auto http = [&](const std::string& config) {
    return post(R"({"name":"bad-http","type":"http","config":)" + config + "}");
  };
  auto mqtt = [&](const std::string& config) {
    return post(R"({"name":"bad-mqtt","type":"mqtt","config":)" + config + "}");
  };
  auto refused = [](const Reply& r, const char* field) {
    INFO(r.body);
    REQUIRE(r.status == 422);
    REQUIRE(r.has_error_for(field));
  };

  refused(post(R"({"type":"http","config":{"url":"http://x"}})"), "name");
  refused(post(R"({"name":"n","config":{"url":"http://x"}})"), "type");
  refused(post(R"({"name":"n","type":"smtp","config":{}})"), "type");
  refused(post(R"({"name":"n","type":"http","config":"http://x"})"), "config");
  refused(post(R"({"name":"n","type":"http"})"), "url");  // the config's required keys are named
  refused(post(R"({"name":"n","type":"http","config":{"url":"http://x"},"enabled":true})"), "enabled");
  refused(post(R"({"name":["n"],"type":"http","config":{"url":"http://x"}})"), "name");

  auto unknown_key = http(R"({"url":"http://x","retries":3})");
  refused(unknown_key, "retries");
  REQUIRE(unknown_key["detail"][0]["loc"][1] == "config");

  refused(http(R"({"url":"ftp://example.com/x"})"), "url");
  refused(http(R"({"url":"not a url"})"), "url");
  refused(http(R"({"url":"http://user:pw@example.com/"})"), "url");
  refused(http(R"({"url":5})"), "url");
  refused(http(R"({"url":"http://x","method":"DELETE"})"), "method");
  refused(http(R"({"url":"http://x","timeout_ms":0})"), "timeout_ms");
  refused(http(R"({"url":"http://x","timeout_ms":60001})"), "timeout_ms");
  refused(http(R"({"url":"http://x","timeout_ms":"1000"})"), "timeout_ms");
  refused(http(R"({"url":"http://x","verify_tls":"no"})"), "verify_tls");
  refused(http(R"({"url":"http://x","ca_cert":"not a certificate"})"), "ca_cert");
  refused(http(R"({"url":"http://x","headers":["Authorization"]})"), "headers");
  refused(http(R"({"url":"http://x","headers":{"X-Count":5}})"), "X-Count");
  refused(http(R"({"url":"http://x","headers":{"Bad Name":"v"}})"), "Bad Name");
  refused(http(R"({"url":"http://x","headers":{"X-A":"line\r\nInjected: yes"}})"), "X-A");
  refused(http(R"({"url":"http://x","headers":{"Content-Length":"5"}})"), "Content-Length");
  refused(http(R"({"url":"http://x","headers":{"Authorization":"********"}})"), "Authorization");

  refused(mqtt(R"({"topic":"t"})"), "host");
  refused(mqtt(R"({"host":"h"})"), "topic");
  refused(mqtt(R"({"host":"mqtt://h","topic":"t"})"), "host");
  refused(mqtt(R"({"host":"h","topic":"t","port":0})"), "port");
  refused(mqtt(R"({"host":"h","topic":"t","port":70000})"), "port");
  refused(mqtt(R"({"host":"h","topic":"t","port":"1883"})"), "port");
  refused(mqtt(R"({"host":"h","topic":"t","qos":3})"), "qos");
  refused(mqtt(R"({"host":"h","topic":"t","qos":-1})"), "qos");
  refused(mqtt(R"({"host":"h","topic":"t","retain":1})"), "retain");
  refused(mqtt(R"({"host":"h","topic":"devices/#"})"), "topic");
  refused(mqtt(R"({"host":"h","topic":"devices/+/up"})"), "topic");
  refused(mqtt(R"({"host":"h","topic":"devices/{device_id}"})"), "topic");
  refused(mqtt(R"({"host":"h","topic":"t","password":"p"})"), "password");
  refused(mqtt(R"({"host":"h","topic":"t","username":"u","password":"********"})"), "password");
  refused(mqtt(R"({"host":"h","topic":"t","ca_cert":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"})"),
          "ca_cert");
  refused(mqtt(R"({"host":"h","topic":"t","keepalive":60})"), "keepalive");

  REQUIRE(post(R"({"name":"n","type":"http","config":{"url":)").status == 422);
  REQUIRE(post("[]").status == 422);

  auto put = [&](const std::string& body) { return api.put("/api/v1/integrations/" + id, body); };
  refused(put(R"({"config":{"host":"h","topic":"t","qos":5}})"), "qos");
  refused(put(R"({"config":{"host":"h","topic":"t","qos":1,"extra":1}})"), "extra");
  refused(put(R"({"type":"ftp"})"), "type");
  refused(put(R"({"name":""})"), "name");
  refused(put(R"({"status":"paused","colour":"red"})"), "colour");
  REQUIRE(put(R"({"name":)").status == 422);
  REQUIRE(api.get("/api/v1/integrations?type=smtp").status == 422);
  REQUIRE(api.get("/api/v1/integrations?status=broken").status == 422);

  REQUIRE(api.get("/api/v1/integrations/" + id).body == original.body);
  REQUIRE(stored_config(id) == sealed);
  REQUIRE(count_integrations(api) == before);
}

TEST_CASE("internal routes answer configs with secrets opened, only over NATS") {
  Api api;
  std::string http_id = create_http(api, unique("internal-http"));
  auto http_doc = registry_rpc("/internal/v1/integrations/" + http_id);
  REQUIRE(http_doc.status == 200);
  REQUIRE(http_doc.json["config"]["headers"]["Authorization"] == "Bearer abc123secret");
  REQUIRE(http_doc.json["config"]["headers"]["X-Custom-Token"] == "tok-999");
  REQUIRE(http_doc.json["config"]["method"] == "POST");
  REQUIRE(http_doc.json["id"] == http_id.c_str());

  std::string mqtt_id = create_mqtt(api, unique("internal-mqtt"));
  REQUIRE(api.patch("/api/v1/integrations/" + mqtt_id,
                    R"({"config":{"host":"broker.local","topic":"t2","username":"dm","password":"********"}})")
              .status == 200);
  auto mqtt_doc = registry_rpc("/internal/v1/integrations/" + mqtt_id);
  REQUIRE(mqtt_doc.status == 200);
  REQUIRE(mqtt_doc.json["config"]["password"] == "mqtt-pa55word");
  REQUIRE(mqtt_doc.json["config"]["topic"] == "t2");

  auto storage = api.post(
      "/api/v1/storages",
      R"({"name":")" + unique("internal-pg") +
          R"(","type":"postgresql","config":)"
          R"({"connection_url":"postgresql://writer:pg-pa55@db.local:5432/metrics","table":"public.readings"}})");
  REQUIRE(storage.status == 201);
  std::string storage_id = storage.str("id");
  REQUIRE(api.patch("/api/v1/storages/" + storage_id,
                    R"({"config":{"connection_url":"postgresql://writer:********@db.local:5432/metrics",)"
                    R"("table":"readings"}})")
              .status == 200);
  auto storage_doc = registry_rpc("/internal/v1/storages/" + storage_id);
  REQUIRE(storage_doc.status == 200);
  REQUIRE(storage_doc.json["config"]["connection_url"] == "postgresql://writer:pg-pa55@db.local:5432/metrics");
  REQUIRE(storage_doc.json["config"]["table"] == "readings");

  REQUIRE(registry_rpc("/internal/v1/integrations/00000000-0000-0000-0000-000000000000").status == 404);
  REQUIRE(registry_rpc("/internal/v1/storages/nope").status == 404);
  // Not public: the gateway has no such route.
  REQUIRE(api.get("/internal/v1/integrations/" + http_id).status == 404);
  REQUIRE(api.get("/api/v1/internal/v1/integrations/" + http_id).status == 404);
}

// --- Security: the findings of issue 18, each shown to fail ------------------------------

namespace {
// Registry, gateway and dispatcher, with loopback allowed as a destination so that an
// attacker's listener on 127.0.0.1 would be reachable: what stops the attack must be the
// re-targeting rule, not the outbound guard.
dm::testing::Stack& delivery_stack() {
  static dm::testing::Stack s({"registry", "gateway", "integration-dispatcher"}, {{"OUTBOUND_ALLOW", "127.0.0.1"}});
  return s;
}

std::string hook_config(int port, const std::string& auth, const std::string& signature, const std::string& token) {
  return R"({"url":"http://127.0.0.1:)" + std::to_string(port) + "/hook?token=" + token +
         R"(","headers":{"Authorization":")" + auth + R"(","Authentication":")" + auth + R"(","X-Hub-Signature":")" +
         signature + R"(","Content-Type":"application/json"}})";
}
}  // namespace

TEST_CASE("security: an editor cannot re-point an admin's HTTP integration and have /test deliver its secrets") {
  dm::test::Listener admins_target, attackers;
  Api admin(delivery_stack());
  Api editor(delivery_stack(), As::editor);
  auto made = admin.post(
      "/api/v1/integrations",
      R"({"name":")" + unique("admins-hook") + R"(","type":"http","config":)" +
          hook_config(admins_target.port(), "Bearer admin-secret-4711", "sha256=admin-sig-4711", "admin-token-4711") +
          "}");
  REQUIRE(made.status == 201);
  std::string id = made.str("id");
  std::string path = "/api/v1/integrations/" + id;

  // What the editor sees: every secret masked, the URL's token included.
  auto seen = editor.get(path);
  REQUIRE(seen.status == 200);
  CHECK(seen.body.find("4711") == std::string::npos);
  std::string masked_url = seen["config"]["url"].GetString();
  CHECK(masked_url == "http://127.0.0.1:" + std::to_string(admins_target.port()) + "/hook?token=********");

  // The attack: the same document back, pointed at the editor's listener.
  std::string attack = seen.body;
  std::string admins_host = "127.0.0.1:" + std::to_string(admins_target.port()) + "/";
  auto host_at = attack.find(admins_host);
  REQUIRE(host_at != std::string::npos);
  attack.replace(host_at, admins_host.size(), "127.0.0.1:" + std::to_string(attackers.port()) + "/");
  auto refused = editor.put(path, attack);
  INFO(refused.body);
  REQUIRE(refused.status == 422);
  for (const char* field : {"Authorization", "Authentication", "X-Hub-Signature", "url"}) {
    INFO(field);
    CHECK(refused.has_error_for(field));
  }
  CHECK_FALSE(refused.has_error_for("Content-Type"));
  // A new path on the same host is another destination too.
  std::string other_path = seen.body;
  other_path.replace(other_path.find("/hook?"), 6, "/other?");
  CHECK(editor.put(path, other_path).status == 422);

  // /test sends what is stored: to the admin's target, and nothing at all to the attacker.
  auto tested = editor.post(path + "/test", "");
  INFO(tested.body);
  REQUIRE(tested.status == 200);
  CHECK(tested["delivered"].GetBool());
  CHECK(admins_target.connections() == 1);
  CHECK(admins_target.received().find("Bearer admin-secret-4711") != std::string::npos);
  CHECK(attackers.connections() == 0);

  // Sent back unchanged, the masks keep the stored secrets (nothing to re-enter).
  auto echoed = editor.put(path, seen.body);
  REQUIRE(echoed.status == 200);
  auto internal = registry_rpc("/internal/v1/integrations/" + id, delivery_stack());
  CHECK(internal.json["config"]["headers"]["Authorization"] == "Bearer admin-secret-4711");

  // With secrets of their own, the editor may point it anywhere allowed: the admin's are gone.
  auto own =
      editor.put(path, R"({"config":)" +
                           hook_config(attackers.port(), "Bearer editor-own", "sha256=editor-own", "editor-own") + "}");
  REQUIRE(own.status == 200);
  REQUIRE(editor.post(path + "/test", "").status == 200);
  CHECK(attackers.connections() == 1);
  CHECK(attackers.received().find("editor-own") != std::string::npos);
  CHECK(attackers.received().find("4711") == std::string::npos);
}

TEST_CASE("security: MQTT and storage passwords cannot follow a new destination") {
  Api admin;
  Api editor(As::editor);
  auto mqtt = admin.post("/api/v1/integrations",
                         R"({"name":")" + unique("admins-broker") +
                             R"(","type":"mqtt","config":{"host":"93.184.216.34","port":1883,"topic":"t",)"
                             R"("username":"dm","password":"mqtt-admin-4711"}})");
  REQUIRE(mqtt.status == 201);
  std::string mqtt_path = "/api/v1/integrations/" + mqtt.str("id");
  auto mqtt_config = [](const std::string& host, int port, bool tls) {
    return R"({"config":{"host":")" + host + R"(","port":)" + std::to_string(port) + R"(,"use_tls":)" +
           (tls ? "true" : "false") + R"(,"topic":"t","username":"dm","password":"********"}})";
  };
  for (const auto& body : {mqtt_config("93.184.216.35", 1883, false), mqtt_config("93.184.216.34", 1884, false),
                           mqtt_config("93.184.216.34", 1883, true)}) {
    INFO(body);
    auto r = editor.patch(mqtt_path, body);
    CHECK(r.status == 422);
    CHECK(r.has_error_for("password"));
  }
  CHECK(editor.patch(mqtt_path, mqtt_config("93.184.216.34", 1883, false)).status == 200);
  auto mqtt_doc = registry_rpc("/internal/v1/integrations/" + mqtt.str("id"));
  CHECK(mqtt_doc.json["config"]["host"] == "93.184.216.34");
  CHECK(mqtt_doc.json["config"]["password"] == "mqtt-admin-4711");

  auto pg = admin.post("/api/v1/storages", R"({"name":")" + unique("admins-pg") +
                                               R"(","type":"postgresql","config":{"connection_url":)"
                                               R"("postgresql://writer:pg-admin-4711@93.184.216.34:5432/metrics",)"
                                               R"("table":"readings"}})");
  REQUIRE(pg.status == 201);
  std::string pg_path = "/api/v1/storages/" + pg.str("id");
  for (const char* url : {"postgresql://writer:********@93.184.216.35:5432/metrics",
                          "postgresql://writer:********@93.184.216.34:5433/metrics",
                          "postgresql://writer:********@93.184.216.34:5432/other",
                          "postgresql://writer:********@93.184.216.34:5432/metrics?sslmode=disable"}) {
    INFO(url);
    auto r = editor.patch(pg_path, R"({"config":{"connection_url":")" + std::string(url) + R"(","table":"t"}})");
    CHECK(r.status == 422);
    CHECK(r.has_error_for("connection_url"));
  }
  auto influx = admin.post("/api/v1/storages", R"({"name":")" + unique("admins-influx") +
                                                   R"(","type":"influxdb","config":{"url":"http://93.184.216.34:8086",)"
                                                   R"("org":"o","bucket":"b","token":"influx-admin-4711",)"
                                                   R"("measurement":"m","fields":{"v":"v"}}})");
  REQUIRE(influx.status == 201);
  auto moved = editor.patch("/api/v1/storages/" + influx.str("id"),
                            R"({"config":{"url":"http://93.184.216.35:8086","org":"o","bucket":"b",)"
                            R"("token":"********","measurement":"m","fields":{"v":"v"}}})");
  CHECK(moved.status == 422);
  CHECK(moved.has_error_for("token"));
  auto pg_doc = registry_rpc("/internal/v1/storages/" + pg.str("id"));
  CHECK(pg_doc.json["config"]["connection_url"] == "postgresql://writer:pg-admin-4711@93.184.216.34:5432/metrics");
}

TEST_CASE("security: every header value but harmless ones, and URL credentials, are secrets") {
  Api admin;
  Api viewer(As::viewer);
  auto made = admin.post("/api/v1/integrations",
                         R"({"name":")" + unique("masked") +
                             R"(","type":"http","config":)"
                             R"({"url":"https://93.184.216.34/in?api_key=q-4711&tenant=acme",)"
                             R"("headers":{"Authentication":"a-4711","X-Hub-Signature":"s-4711","X-Tenant":"t-4711",)"
                             R"("User-Agent":"dm/1","Accept":"application/json"}}})");
  REQUIRE(made.status == 201);
  std::string id = made.str("id");
  CHECK(made.body.find("4711") == std::string::npos);
  auto seen = viewer.get("/api/v1/integrations/" + id);
  CHECK(seen.body.find("4711") == std::string::npos);
  CHECK(seen["config"]["url"] == "https://93.184.216.34/in?api_key=********&tenant=acme");
  CHECK(seen["config"]["headers"]["X-Hub-Signature"] == "********");
  CHECK(seen["config"]["headers"]["X-Tenant"] == "********");
  CHECK(seen["config"]["headers"]["User-Agent"] == "dm/1");
  CHECK(seen["config"]["headers"]["Accept"] == "application/json");
  CHECK(viewer.get("/api/v1/integrations?limit=1000").body.find("4711") == std::string::npos);
  CHECK((stored_config(id) + stored_public(id)).find("4711") == std::string::npos);
  // The dispatcher still gets them opened.
  auto internal = registry_rpc("/internal/v1/integrations/" + id);
  CHECK(internal.json["config"]["url"] == "https://93.184.216.34/in?api_key=q-4711&tenant=acme");
  CHECK(internal.json["config"]["headers"]["X-Hub-Signature"] == "s-4711");
  // The masked URL sent back keeps its token.
  REQUIRE(admin.put("/api/v1/integrations/" + id, seen.body).status == 200);
  CHECK(registry_rpc("/internal/v1/integrations/" + id).json["config"]["url"] ==
        "https://93.184.216.34/in?api_key=q-4711&tenant=acme");
}

TEST_CASE("security: integrations stored before the rule are sealed and masked when the registry starts") {
  Api admin;
  std::string name = unique("legacy");
  // As an older registry stored it: only Authorization-like headers were secrets.
  sql("INSERT INTO registry.integrations (name, type, config, config_public) VALUES ('" + name +
      "', 'http', "
      "'{\"url\":\"https://93.184.216.34/in?token=old-4711\",\"method\":\"POST\",\"headers\":"
      "{\"X-Hub-Signature\":\"sig-4711\",\"Content-Type\":\"application/json\"},\"timeout_ms\":10000,"
      "\"verify_tls\":true,\"ca_cert\":null}', "
      "'{\"url\":\"https://93.184.216.34/in?token=old-4711\",\"method\":\"POST\",\"headers\":"
      "{\"X-Hub-Signature\":\"sig-4711\",\"Content-Type\":\"application/json\"},\"timeout_ms\":10000,"
      "\"verify_tls\":true,\"ca_cert\":null}')");
  auto id = sql("SELECT id FROM registry.integrations WHERE name = '" + name + "'");
  id = id.substr(id.find_first_not_of(" \n"), 36);
  REQUIRE(admin.get("/api/v1/integrations/" + id).body.find("sig-4711") != std::string::npos);  // as it was
  auto& s = dm::test::stack();
  s.stop("registry");
  s.start("registry");
  REQUIRE(s.wait_ready("registry", std::chrono::seconds(30)));
  CHECK((stored_config(id) + stored_public(id)).find("4711") == std::string::npos);
  Reply seen;
  // The gateway's read cache is cleared by the registry's announcement; wait for it.
  REQUIRE(dm::testing::eventually([&] {
    seen = admin.get("/api/v1/integrations/" + id);
    return seen.status == 200 && seen.body.find("4711") == std::string::npos;
  }));
  CHECK(seen["config"]["headers"]["X-Hub-Signature"] == "********");
  CHECK(seen["config"]["url"] == "https://93.184.216.34/in?token=********");
  auto internal = registry_rpc("/internal/v1/integrations/" + id);
  CHECK(internal.json["config"]["headers"]["X-Hub-Signature"] == "sig-4711");
  CHECK(internal.json["config"]["url"] == "https://93.184.216.34/in?token=old-4711");
}

TEST_CASE("security: MQTT brokers and storage URLs pass the outbound guard when saved") {
  Api editor(As::editor);
  auto mqtt = [&](const std::string& host) {
    return editor.post(
        "/api/v1/integrations",
        R"({"name":")" + unique("mqtt-guard") + R"(","type":"mqtt","config":{"host":")" + host + R"(","topic":"t"}})");
  };
  for (const char* host : {"127.0.0.1", "localhost", "[::1]", "::ffff:7f00:1", "[::ffff:0:7f00:1]", "169.254.169.254",
                           "10.0.0.1", "203.0.113.5", "100.64.0.1", "0.0.0.0", "[fd00::1]"}) {
    INFO(host);
    auto r = mqtt(host);
    CHECK(r.status == 422);
    CHECK(r.has_error_for("host"));
  }
  CHECK(mqtt("93.184.216.34").status == 201);

  auto storage = [&](const std::string& type, const std::string& config) {
    return editor.post("/api/v1/storages",
                       R"({"name":")" + unique("guard") + R"(","type":")" + type + R"(","config":)" + config + "}");
  };
  auto pg = [&](const std::string& url) {
    return storage("postgresql", R"({"connection_url":")" + url + R"(","table":"t"})");
  };
  for (const char* url : {
           "postgresql://u:p@203.0.113.5/db?hostaddr=127.0.0.1&port=55432",  // the finding
           "postgresql://u:p@93.184.216.34/db?hostaddr=127.0.0.1&port=55432",
           "postgresql://u:p@93.184.216.34/db?host=127.0.0.1",
           "postgresql://u:p@93.184.216.34/db?service=x",
           "postgresql://u:p@93.184.216.34/db?passfile=/root/.pgpass",
           "postgresql://u:p@93.184.216.34,127.0.0.1/db",
           "postgresql://u:p@%2Fvar%2Frun%2Fpostgresql/db",
           "postgresql:///db",
           "postgresql://u:p@127.0.0.1:5432/db",
           "postgresql://u:p@[::ffff:0:7f00:1]:5432/db",
       }) {
    INFO(url);
    auto r = pg(url);
    CHECK(r.status == 422);
    CHECK(r.has_error_for("connection_url"));
  }
  CHECK(pg("postgresql://u:p@93.184.216.34:5432/db?sslmode=require").status == 201);
  for (const char* url : {"http://127.0.0.1:8086", "http://[::ffff:7f00:1]:8086", "http://198.51.100.1:8086"}) {
    INFO(url);
    auto r = storage("influxdb",
                     R"({"url":")" + std::string(url) + R"(","database":"d","measurement":"m","fields":{"v":"v"}})");
    CHECK(r.status == 422);
    CHECK(r.has_error_for("url"));
  }
}
