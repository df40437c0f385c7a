// Storages over real HTTP through the gateway (the internal route is in integrations_test.cpp).
#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::sql;
using dm::test::total;
using dm::test::unique;

namespace {

std::int64_t count_storages(Api& api) { return total(api.get("/api/v1/storages?limit=1")); }

std::string stored(const std::string& id) {
  return sql("SELECT config::text || config_public::text FROM registry.storages WHERE id = '" + id + "'");
}
std::string stored_field(const std::string& id, const std::string& path) {
  return sql("SELECT config #>> '" + path + "' FROM registry.storages WHERE id = '" + id + "'");
}

const char* kInflux2 =
    R"({"url":"http://influx.local:8086","org":"acme","bucket":"sensors","token":"influx-t0ken-secret",)"
    R"("measurement":"uplinks","tags":{"dev_eui":"dev_eui"},"fields":{"temperature":"decoded.temperature"}})";

Reply create(Api& api, const std::string& name, const std::string& type, const std::string& config) {
  return api.post("/api/v1/storages", R"({"name":")" + name + R"(","type":")" + type + R"(","config":)" + config + "}");
}

}  // namespace

// Create, get, list, update and delete as every kind does them: crud_test.cpp.
TEST_CASE("storages: internal, influxdb and postgresql configs with secrets masked and sealed") {
  Api api;
  std::string prefix = unique("store");

  auto internal = api.post("/api/v1/storages", R"({"name":")" + prefix + R"(-internal","type":"internal"})");
  REQUIRE(internal.status == 201);
  REQUIRE(internal["config"]["retention_days"].IsNull());
  auto kept = create(api, prefix + "-kept", "internal", R"({"retention_days":30})");
  REQUIRE(kept.status == 201);
  REQUIRE(kept["config"]["retention_days"].GetInt() == 30);

  auto influx = create(api, prefix + "-influx2", "influxdb", kInflux2);
  REQUIRE(influx.status == 201);
  std::string influx_id = influx.str("id");
  REQUIRE(influx["config"]["token"] == "********");
  REQUIRE(influx["config"]["precision"] == "ms");
  REQUIRE(influx["config"]["database"].IsNull());
  REQUIRE(influx["config"]["tags"]["dev_eui"] == "dev_eui");
  REQUIRE(influx.body.find("influx-t0ken-secret") == std::string::npos);
  REQUIRE(stored(influx_id).find("influx-t0ken-secret") == std::string::npos);
  REQUIRE(stored_field(influx_id, "{token}").starts_with("enc:v1:"));

  auto influx1 = create(api, prefix + "-influx1", "influxdb",
                        R"({"url":"http://influx.local:8086","database":"iot","username":"writer",)"
                        R"("password":"influx-pa55","measurement":"m","fields":{"v":"value"},"precision":"s"})");
  REQUIRE(influx1.status == 201);
  REQUIRE(influx1["config"]["password"] == "********");
  REQUIRE(influx1["config"]["username"] == "writer");
  REQUIRE(influx1["config"]["precision"] == "s");
  REQUIRE(influx1["config"]["tags"].ObjectEmpty());
  REQUIRE(stored(influx1.str("id")).find("influx-pa55") == std::string::npos);

  auto pg =
      create(api, prefix + "-pg", "postgresql",
             R"({"connection_url":"postgresql://writer:pg-pa55word@db.local:5432/metrics","table":"public.readings"})");
  REQUIRE(pg.status == 201);
  std::string pg_id = pg.str("id");
  REQUIRE(pg["config"]["connection_url"] == "postgresql://writer:********@db.local:5432/metrics");
  REQUIRE(pg["config"]["table"] == "public.readings");
  REQUIRE(stored(pg_id).find("pg-pa55word") == std::string::npos);
  std::string sealed_url = stored_field(pg_id, "{connection_url}");
  REQUIRE(sealed_url.starts_with("enc:v1:"));  // the whole URL, host included

  auto got = api.get("/api/v1/storages/" + pg_id);
  REQUIRE(got.status == 200);
  REQUIRE(got.body == pg.body);
  auto list = api.get("/api/v1/storages?search=" + prefix);
  REQUIRE(total(list) == 5);
  REQUIRE(list.body.find("pa55") == std::string::npos);
  REQUIRE(list.body.find("t0ken") == std::string::npos);
  REQUIRE(total(api.get("/api/v1/storages?type=influxdb&search=" + prefix)) == 2);

  // The masked URL sent back unchanged keeps the very same ciphertext.
  auto table_only = api.patch("/api/v1/storages/" + pg_id,
                              R"({"config":{"connection_url":"postgresql://writer:********@db.local:5432/metrics",)"
                              R"("table":"readings"}})");
  REQUIRE(table_only.status == 200);
  REQUIRE(table_only["config"]["table"] == "readings");
  REQUIRE(table_only["config"]["connection_url"] == "postgresql://writer:********@db.local:5432/metrics");
  REQUIRE(table_only["version"].GetInt() == 2);
  REQUIRE(stored(pg_id).find("pg-pa55word") == std::string::npos);

  auto renamed = api.patch("/api/v1/storages/" + influx_id, R"({"name":")" + prefix + R"(-influx-renamed"})");
  REQUIRE(renamed.status == 200);
  REQUIRE(renamed["config"]["token"] == "********");

  auto retyped = api.patch("/api/v1/storages/" + influx_id, R"({"type":"internal","config":{}})");
  REQUIRE(retyped.status == 200);
  REQUIRE(retyped.str("type") == "internal");
  REQUIRE(stored(influx_id).find("enc:v1:") == std::string::npos);
}

TEST_CASE("storages: the mask keeps the token's ciphertext") {
  Api api;
  auto influx = create(api, unique("token-kept"), "influxdb", kInflux2);
  REQUIRE(influx.status == 201);
  std::string id = influx.str("id");
  std::string sealed = stored_field(id, "{token}");
  auto echoed = api.put("/api/v1/storages/" + id, api.get("/api/v1/storages/" + id).body);
  REQUIRE(echoed.status == 200);
  REQUIRE(stored_field(id, "{token}") == sealed);
  auto replaced = api.patch("/api/v1/storages/" + id,
                            R"({"config":{"url":"http://i:8086","org":"o","bucket":"b","token":"t2","measurement":"m",)"
                            R"("fields":{"v":"v"}}})");
  REQUIRE(replaced.status == 200);
  REQUIRE(stored_field(id, "{token}") != sealed);
}

TEST_CASE("storages: bad input is refused and changes nothing") {
  Api api;
  auto target = create(api, unique("stable-store"), "influxdb", kInflux2);
  REQUIRE(target.status == 201);
  std::string id = target.str("id");
  auto original = api.get("/api/v1/storages/" + id);
  std::string at_rest = stored(id);
  auto before = count_storages(api);

  auto refused = [](const Reply& r, const char* field) {
    INFO(r.body);
    REQUIRE(r.status == 422);
    REQUIRE(r.has_error_for(field));
  };
  auto influx = [&](const std::string& config) { return create(api, "bad-influx", "influxdb", config); };
  auto pg = [&](const std::string& config) { return create(api, "bad-pg", "postgresql", config); };

  refused(create(api, "bad", "s3", "{}"), "type");
  refused(api.post("/api/v1/storages", R"({"type":"internal"})"), "name");
  refused(api.post("/api/v1/storages", R"({"name":"bad","type":"internal","config":[]})"), "config");
  refused(api.post("/api/v1/storages", R"({"name":"bad","type":"internal","retention_days":3})"), "retention_days");
  refused(create(api, "bad", "internal", R"({"retention_days":0})"), "retention_days");
  refused(create(api, "bad", "internal", R"({"retention_days":"30"})"), "retention_days");
  refused(create(api, "bad", "internal", R"({"path":"/tmp"})"), "path");

  refused(influx(R"({"database":"d","measurement":"m","fields":{"v":"v"}})"), "url");
  refused(influx(R"({"url":"udp://i:8089","database":"d","measurement":"m","fields":{"v":"v"}})"), "url");
  refused(influx(R"({"url":"http://i","measurement":"m","fields":{"v":"v"}})"), "database");
  refused(influx(R"({"url":"http://i","database":"d","org":"o","bucket":"b","measurement":"m","fields":{"v":"v"}})"),
          "database");
  refused(influx(R"({"url":"http://i","org":"o","measurement":"m","fields":{"v":"v"}})"), "bucket");
  refused(
      influx(R"({"url":"http://i","database":"d","token":"t","username":"u","measurement":"m","fields":{"v":"v"}})"),
      "token");
  refused(influx(R"({"url":"http://i","database":"d","password":"p","measurement":"m","fields":{"v":"v"}})"),
          "username");
  refused(influx(R"({"url":"http://i","database":"d","fields":{"v":"v"}})"), "measurement");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m"})"), "fields");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{}})"), "fields");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{"v":1}})"), "v");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{"v":"v"},"tags":"dev_eui"})"), "tags");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{"v":"v"},"precision":"m"})"),
          "precision");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{"v":"v"},"retention":"1d"})"),
          "retention");
  refused(influx(R"({"url":"http://i","database":"d","measurement":"m","fields":{"v":"v"},"token":"********"})"),
          "token");

  refused(pg(R"({"table":"t"})"), "connection_url");
  refused(pg(R"({"connection_url":"mysql://u:p@h/db","table":"t"})"), "connection_url");
  refused(pg(R"({"connection_url":"host=h dbname=db","table":"t"})"), "connection_url");
  refused(pg(R"({"connection_url":"postgresql://u:p@h/db"})"), "table");
  refused(pg(R"({"connection_url":"postgresql://u:p@h/db","table":"1readings"})"), "table");
  refused(pg(R"({"connection_url":"postgresql://u:p@h/db","table":"t; DROP TABLE x"})"), "table");
  refused(pg(R"({"connection_url":"postgresql://u:p@h/db","table":"a..b"})"), "table");
  refused(pg(R"({"connection_url":"postgresql://u:********@h/db","table":"t"})"), "connection_url");
  refused(pg(R"({"connection_url":"postgresql://u:p@h/db","table":"t","columns":["a"]})"), "columns");

  REQUIRE(api.post("/api/v1/storages", R"({"name":"x","type":)").status == 422);
  auto put = [&](const std::string& body) { return api.put("/api/v1/storages/" + id, body); };
  refused(put(R"({"type":"postgresql"})"), "config");
  refused(put(R"({"config":{"url":"http://i","org":"o","bucket":"b","measurement":"m","fields":{"v":"v"},"x":1}})"),
          "x");
  refused(put(R"({"type":"postgresql","config":{"connection_url":"postgresql://u:********@h/db","table":"t"}})"),
          "connection_url");
  REQUIRE(put(R"({"name":)").status == 422);
  REQUIRE(api.get("/api/v1/storages?type=s3").status == 422);
  REQUIRE(api.get("/api/v1/storages?sort=config").status == 422);

  REQUIRE(api.get("/api/v1/storages/" + id).body == original.body);
  REQUIRE(stored(id) == at_rest);
  REQUIRE(count_storages(api) == before);
}
