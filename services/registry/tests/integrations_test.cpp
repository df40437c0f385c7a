// Integrations over real HTTP through the gateway, secrets at rest, and the internal routes
// (integrations and storages) that other services call over NATS.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_fixture.hpp"

using dm::test::Api;
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

// One request to the registry over NATS, as another service makes it: the test speaks the
// NATS text protocol itself because the internal routes are not reachable through the gateway.
struct NatsReply {
  int status = 0;
  dm::json::Document json;
};

std::string read_line(int fd, std::string& buffer) {
  for (;;) {
    auto end = buffer.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      return line;
    }
    char chunk[4096];
    auto n = ::recv(fd, chunk, sizeof chunk, 0);
    REQUIRE(n > 0);
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

void send_all(int fd, const std::string& data) {
  REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
}

NatsReply registry_rpc(const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(dm::test::stack().nats().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string buffer;
  REQUIRE(read_line(fd, buffer).starts_with("INFO "));
  std::string headers = "NATS/1.0\r\nDm-Method: GET\r\nDm-Target: " + target + "\r\n\r\n";
  send_all(fd,
           "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n"
           "SUB _INBOX.registry-test 1\r\n"
           "HPUB dm.rpc.registry _INBOX.registry-test " +
               std::to_string(headers.size()) + " " + std::to_string(headers.size()) + "\r\n" + headers + "\r\n");
  NatsReply out;
  for (;;) {
    std::string line = read_line(fd, buffer);
    if (line == "PING") {
      send_all(fd, "PONG\r\n");
      continue;
    }
    REQUIRE_FALSE(line.starts_with("-ERR"));
    if (!line.starts_with("HMSG ")) continue;
    auto total_bytes = std::stoul(line.substr(line.rfind(' ') + 1));
    auto space = line.rfind(' ', line.rfind(' ') - 1);
    auto header_bytes = std::stoul(line.substr(space + 1, line.rfind(' ') - space - 1));
    while (buffer.size() < total_bytes + 2) {
      char chunk[4096];
      auto n = ::recv(fd, chunk, sizeof chunk, 0);
      REQUIRE(n > 0);
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    std::string head = buffer.substr(0, header_bytes);
    std::string body = buffer.substr(header_bytes, total_bytes - header_bytes);
    auto at = head.find("Dm-Status: ");
    REQUIRE(at != std::string::npos);
    out.status = std::stoi(head.substr(at + 11, 3));
    auto doc = dm::json::parse(body);
    if (doc) out.json = std::move(doc).value();
    break;
  }
  ::close(fd);
  return out;
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

void flow_using(const std::string& flow, const std::string& kind, const std::string& id) {
  sql("WITH f AS (INSERT INTO registry.flows (name, enabled) VALUES ('" + flow +
      "', true) RETURNING id) "
      "INSERT INTO registry.flow_refs (flow_id, node_id, kind, entity_id) SELECT id, 'n1', '" +
      kind + "', '" + id + "' FROM f");
}

}  // namespace

TEST_CASE("integrations: http CRUD with secrets masked in every answer and sealed at rest") {
  Api api;
  std::string name = unique("webhook");
  auto created =
      api.post("/api/v1/integrations",
               R"({"name":")" + name + R"(","description":"to the cloud","type":"http","config":)" + kHttpConfig + "}");
  REQUIRE(created.status == 201);
  std::string id = created.str("id");
  REQUIRE(created.headers.get("Location").value_or("") == "/api/v1/integrations/" + id);
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

  SECTION("partial updates") {
    auto renamed = api.patch("/api/v1/integrations/" + id, R"({"name":")" + name + R"(-renamed"})");
    REQUIRE(renamed.status == 200);
    REQUIRE(renamed["version"].GetInt() == 2);
    REQUIRE(renamed.str("description") == "to the cloud");
    require_http_masked(renamed.json);
    REQUIRE(renamed["config"]["url"] == "https://example.com/hook");

    auto reconfigured = api.put("/api/v1/integrations/" + id,
                                R"({"config":{"url":"http://93.184.216.34:8080/in","method":"put","timeout_ms":500,)"
                                R"("verify_tls":false,"headers":{"Authorization":"********"}}})");
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

  SECTION("delete") {
    REQUIRE(api.del("/api/v1/integrations/" + id).status == 204);
    REQUIRE(api.get("/api/v1/integrations/" + id).status == 404);
    REQUIRE(api.del("/api/v1/integrations/" + id).status == 404);
  }
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

TEST_CASE("integrations: duplicate names are conflicts") {
  Api api;
  std::string name = unique("dup-int");
  create_http(api, name);
  std::string other = create_mqtt(api, name + "-other");
  auto before = count_integrations(api);
  auto dup =
      api.post("/api/v1/integrations", R"({"name":")" + name + R"(","type":"mqtt","config":{"host":"h","topic":"t"}})");
  REQUIRE(dup.status == 409);
  REQUIRE(dup.str("detail") == "An integration named '" + name + "' already exists");
  auto original = api.get("/api/v1/integrations/" + other);
  REQUIRE(api.patch("/api/v1/integrations/" + other, R"({"name":")" + name + R"("})").status == 409);
  REQUIRE(api.get("/api/v1/integrations/" + other).body == original.body);
  REQUIRE(count_integrations(api) == before);
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
  REQUIRE(api.get("/api/v1/integrations/not-a-uuid").status == 404);
  REQUIRE(api.patch("/api/v1/integrations/not-a-uuid", R"({"name":"x"})").status == 404);
  REQUIRE(api.del("/api/v1/integrations/not-a-uuid").status == 404);
  REQUIRE(api.get("/api/v1/integrations/00000000-0000-0000-0000-000000000000").status == 404);
  REQUIRE(api.patch("/api/v1/integrations/00000000-0000-0000-0000-000000000000", R"({"name":"x"})").status == 404);
  REQUIRE(api.get("/api/v1/integrations?type=smtp").status == 422);
  REQUIRE(api.get("/api/v1/integrations?status=broken").status == 422);
  REQUIRE(api.get("/api/v1/integrations?limit=1001").status == 422);

  REQUIRE(api.get("/api/v1/integrations/" + id).body == original.body);
  REQUIRE(stored_config(id) == sealed);
  REQUIRE(count_integrations(api) == before);
}

TEST_CASE("integrations: an enabled flow that uses an integration prevents its deletion") {
  Api api;
  std::string id = create_http(api, unique("used-int"));
  std::string flow = unique("flow-using-integration");
  flow_using(flow, "integration", id);
  auto refused = api.del("/api/v1/integrations/" + id);
  REQUIRE(refused.status == 409);
  REQUIRE(refused.str("detail").find(flow) != std::string::npos);
  REQUIRE(api.get("/api/v1/integrations/" + id).status == 200);
  sql("UPDATE registry.flows SET enabled = false WHERE name = '" + flow + "'");
  REQUIRE(api.del("/api/v1/integrations/" + id).status == 204);
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
                    R"({"config":{"host":"h2","topic":"t","username":"dm","password":"********"}})")
              .status == 200);
  auto mqtt_doc = registry_rpc("/internal/v1/integrations/" + mqtt_id);
  REQUIRE(mqtt_doc.status == 200);
  REQUIRE(mqtt_doc.json["config"]["password"] == "mqtt-pa55word");
  REQUIRE(mqtt_doc.json["config"]["host"] == "h2");

  auto storage = api.post(
      "/api/v1/storages",
      R"({"name":")" + unique("internal-pg") +
          R"(","type":"postgresql","config":)"
          R"({"connection_url":"postgresql://writer:pg-pa55@db.local:5432/metrics","table":"public.readings"}})");
  REQUIRE(storage.status == 201);
  std::string storage_id = storage.str("id");
  REQUIRE(
      api.patch("/api/v1/storages/" + storage_id,
                R"({"config":{"connection_url":"postgresql://writer:********@db2.local/metrics","table":"readings"}})")
          .status == 200);
  auto storage_doc = registry_rpc("/internal/v1/storages/" + storage_id);
  REQUIRE(storage_doc.status == 200);
  REQUIRE(storage_doc.json["config"]["connection_url"] == "postgresql://writer:pg-pa55@db2.local/metrics");

  REQUIRE(registry_rpc("/internal/v1/integrations/00000000-0000-0000-0000-000000000000").status == 404);
  REQUIRE(registry_rpc("/internal/v1/storages/nope").status == 404);
  // Not public: the gateway has no such route.
  REQUIRE(api.get("/internal/v1/integrations/" + http_id).status == 404);
  REQUIRE(api.get("/api/v1/internal/v1/integrations/" + http_id).status == 404);
}
