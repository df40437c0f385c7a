// Storages end to end: InfluxDB 1.x (a real influxd started here on loopback) receives points
// that a query returns; a PostgreSQL storage writes JSONB rows into an external table.
#include <fstream>

#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("InfluxDB 1.x receives storage points that a query returns") {
  testing::TempDir dir("dm-influx");
  int http_port = testing::free_port(), rpc_port = testing::free_port();
  {
    std::ofstream conf(dir.path() + "/influxdb.conf");
    conf << "reporting-disabled = true\nbind-address = \"127.0.0.1:" << rpc_port << "\"\n"
         << "[meta]\n  dir = \"" << dir.path() << "/meta\"\n"
         << "[data]\n  dir = \"" << dir.path() << "/data\"\n  wal-dir = \"" << dir.path() << "/wal\"\n"
         << "[http]\n  bind-address = \"127.0.0.1:" << http_port << "\"\n  log-enabled = false\n"
         << "[monitor]\n  store-enabled = false\n";
  }
  testing::Process influxd({"influxd", "-config", dir.path() + "/influxdb.conf"}, {}, dir.path() + "/influxd.log");
  REQUIRE(testing::wait_for_port(http_port, std::chrono::seconds(30)));
  std::string base = "http://127.0.0.1:" + std::to_string(http_port);
  REQUIRE(eventually([&] {
    auto r = http::fetch("POST", base + "/query?q=" + http::percent_encode("CREATE DATABASE dm"));
    return r.ok() && r->status == 200;
  }));
  auto id = create("storages", "influxdb",
                   R"({"url":")" + base +
                       R"(","database":"dm","measurement":"env","tags":{"device":"dev_eui"},)"
                       R"("fields":{"temperature":"temperature","humidity":"object.humidity"},"precision":"ms"})");
  publish_job("influx-1", "storage", id,
              R"({"temperature":21.5,"dev_eui":"0004a30b001c0530","object":{"humidity":40}})");
  std::string body;
  REQUIRE(eventually([&] {
    auto r = http::fetch("GET", base + "/query?db=dm&q=" + http::percent_encode("SELECT * FROM env"));
    body = r.ok() ? r->body : "";
    return body.find("21.5") != std::string::npos;
  }));
  CHECK(body.find("0004a30b001c0530") != std::string::npos);
  CHECK(body.find("40") != std::string::npos);
}

TEST_CASE("a PostgreSQL storage writes JSONB rows to an external table") {
  auto url = stack().pg().create_database("external_store");
  auto id = create("storages", "postgresql", R"({"connection_url":")" + url + R"(","table":"public.readings"})");
  publish_job("pg-1", "storage", id, R"({"temperature":19.5})");
  publish_job("pg-2", "storage", id, R"({"temperature":20.5})");
  REQUIRE(eventually([&] {
    auto r = stack().pg().psql("external_store", "SELECT count(*) FROM public.readings");
    return r.exit_code == 0 && r.output.find('2') != std::string::npos;
  }));
  auto r =
      stack().pg().psql("external_store", "SELECT data->>'temperature' FROM public.readings WHERE job_id = 'pg-1'");
  CHECK(r.output.find("19.5") != std::string::npos);
}
