// GET /api/v1/search over real HTTP through the gateway: every kind, ranking, grouping,
// limits and bad queries.
#include <algorithm>

#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::unique;

namespace {

std::string create(Api& api, const std::string& path, const std::string& body) {
  auto r = api.post(path, body);
  INFO(path << " " << r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

std::string device(Api& api, const std::string& eui, const std::string& name, const std::string& description = "") {
  return create(api, "/api/v1/devices",
                R"({"dev_eui":")" + eui + R"(","name":")" + name + R"(","description":")" + description + R"("})");
}

// A word no other test uses, so hits are only what this test created (letters only:
// digits would make trigram neighbours of other tests' names).
std::string word() {
  static const char* const kWords[] = {"zephyrine", "quokkaland", "bramblewick", "fennimore", "galvorn"};
  static int n = 0;
  return kWords[n++ % 5];
}

std::string search(const std::string& query) { return "/api/v1/search?query=" + dm::http::percent_encode(query); }

std::vector<std::string> ids(const Reply& r, const char* kind) {
  std::vector<std::string> out;
  for (const auto& hit : r["results"][kind].GetArray()) out.emplace_back(dm::json::view(hit["id"]));
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

TEST_CASE("search: finds every kind by part of its name, grouped by kind") {
  Api api;
  const std::string w = word();
  const std::string dev = device(api, "a1b2c3d4e5f60001", "Greenhouse " + w + " sensor");
  const std::string label = create(api, "/api/v1/labels", R"({"name":")" + w + R"( trackers"})");
  const std::string fn = create(api, "/api/v1/functions", R"({"name":"decode-)" + w + R"(","code":"return msg;"})");
  const std::string flow = create(api, "/api/v1/flows", R"({"name":")" + w + R"( alerts","description":"x"})");
  const std::string integ =
      create(api, "/api/v1/integrations",
             R"({"name":"push )" + w + R"(","type":"http","config":{"url":"https://example.com/h"}})");
  const std::string store = create(
      api, "/api/v1/storages", R"({"name":"archive","description":"keeps )" + w + R"( readings","type":"internal"})");

  auto r = api.get(search(w.substr(0, 7)));  // part of the word
  INFO(r.body);
  REQUIRE(r.status == 200);
  REQUIRE(r.str("query") == w.substr(0, 7));
  REQUIRE(contains(ids(r, "devices"), dev));
  REQUIRE(contains(ids(r, "labels"), label));
  REQUIRE(contains(ids(r, "functions"), fn));
  REQUIRE(contains(ids(r, "flows"), flow));
  REQUIRE(contains(ids(r, "integrations"), integ));
  REQUIRE(contains(ids(r, "storages"), store));  // by its description
  const auto& hit = r["results"]["devices"][0];
  REQUIRE(hit["name"] == ("Greenhouse " + w + " sensor").c_str());
  REQUIRE(hit["dev_eui"] == "a1b2c3d4e5f60001");
  REQUIRE(hit["score"].IsNumber());
  int sum = 0;
  for (const char* kind : {"devices", "labels", "functions", "flows", "integrations", "storages"}) {
    sum += static_cast<int>(r["results"][kind].Size());
  }
  REQUIRE(r["total"].GetInt() == sum);
}

TEST_CASE("search: finds a device by dev_eui prefix, in any case") {
  Api api;
  const std::string dev = device(api, "0badc0ffee000042", "Meter " + word());
  device(api, "0badc0ffee000043", "Another meter");
  auto r = api.get(search("0BADC0FFEE"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  REQUIRE(r["results"]["devices"].Size() >= 2);
  auto exact = api.get(search("0b:ad:c0:ff:ee:00:00:42"));
  REQUIRE(ids(exact, "devices").at(0) == dev);
}

TEST_CASE("search: exact matches rank first, then prefixes") {
  Api api;
  const std::string w = word();
  const std::string inside = device(api, "00000000000a0001", "old " + w + " unit");
  const std::string prefix = device(api, "00000000000a0002", w + " unit");
  const std::string exact = device(api, "00000000000a0003", w);
  auto r = api.get(search(w));
  INFO(r.body);
  auto found = ids(r, "devices");
  REQUIRE(found.size() >= 3);
  REQUIRE(found[0] == exact);
  REQUIRE(found[1] == prefix);
  REQUIRE(found[2] == inside);
  const auto& hits = r["results"]["devices"];
  REQUIRE(hits[0]["score"].GetDouble() > hits[1]["score"].GetDouble());
  REQUIRE(hits[1]["score"].GetDouble() > hits[2]["score"].GetDouble());
}

TEST_CASE("search: limit per kind, chosen kinds, words in any order") {
  Api api;
  const std::string w = word();
  for (int i = 0; i < 4; ++i) device(api, "00000000000b000" + std::to_string(i), w + " probe " + std::to_string(i));
  auto limited = api.get(search(w) + "&limit=2");
  REQUIRE(limited.status == 200);
  REQUIRE(limited["results"]["devices"].Size() == 2);

  auto only = api.get(search(w) + "&resource_types=devices,flows");
  REQUIRE(only.status == 200);
  REQUIRE(only["results"].MemberCount() == 2);
  REQUIRE(only["results"]["devices"].Size() == 4);

  auto words = api.get(search("probe " + w));  // full-text: every word, as a prefix
  REQUIRE(words["results"]["devices"].Size() == 4);

  auto nothing = api.get(search("qqxxjjvvzz"));
  REQUIRE(nothing.status == 200);
  REQUIRE(nothing["total"].GetInt() == 0);
  REQUIRE(nothing["results"]["devices"].IsArray());

  auto wild = api.get(search("%_\\'\""));  // LIKE wildcards and quotes are literal text
  REQUIRE(wild.status == 200);
  REQUIRE(wild["results"]["devices"].Size() == 0);
}

TEST_CASE("search: bad queries are refused") {
  Api api;
  auto missing = api.get("/api/v1/search");
  REQUIRE(missing.status == 422);
  REQUIRE(missing.has_error_for("query"));
  REQUIRE(api.get("/api/v1/search?query=").status == 422);
  REQUIRE(api.get("/api/v1/search?query=%20%20").status == 422);
  REQUIRE(api.get("/api/v1/search?query=" + std::string(201, 'a')).status == 422);
  REQUIRE(api.get("/api/v1/search?query=" + std::string(200, 'a')).status == 200);
  auto zero = api.get("/api/v1/search?query=a&limit=0");
  REQUIRE(zero.status == 422);
  REQUIRE(zero.has_error_for("limit"));
  REQUIRE(api.get("/api/v1/search?query=a&limit=51").status == 422);
  auto kind = api.get("/api/v1/search?query=a&resource_types=devices,users");
  REQUIRE(kind.status == 422);
  REQUIRE(kind.has_error_for("resource_types"));
}
