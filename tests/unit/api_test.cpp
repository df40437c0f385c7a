#include <catch2/catch.hpp>

#include "dm/api/body.hpp"
#include "dm/api/query.hpp"

using namespace dm;

namespace {
http::Request post(std::string body) {
  http::Request r;
  r.method = "POST";
  r.target = "/x";
  r.body = std::move(body);
  return r;
}
}  // namespace

TEST_CASE("malformed, empty, oversize and non-object bodies get FastAPI answers") {
  auto bad = api::parse_body(post("{\"a\":"));
  REQUIRE(bad.error);
  REQUIRE(bad.error->status == 422);
  REQUIRE(bad.error->body.find(R"("type":"json_invalid")") != std::string::npos);
  REQUIRE(api::parse_body(post("")).error->status == 422);
  REQUIRE(api::parse_body(post("[1]")).error->body.find("dict_type") != std::string::npos);
  REQUIRE(api::parse_body(post(std::string(100, ' ') + "{}"), 50).error->status == 413);
  REQUIRE_FALSE(api::parse_body(post(R"({"a":1})")).error);
}

TEST_CASE("BodyReader collects every field problem with pydantic names") {
  auto parsed = api::parse_body(post(R"({"name":"","n":"x","ok":1,"extra":true,"meta":[],"kind":"z","ids":["a",2]})"));
  api::BodyReader r(parsed.doc);
  REQUIRE_FALSE(r.string("name", {.required = true, .min = 1}));
  REQUIRE_FALSE(r.integer("n"));
  REQUIRE_FALSE(r.boolean("ok"));
  REQUIRE_FALSE(r.string("missing", {.required = true}));
  REQUIRE_FALSE(r.object_json("meta"));
  REQUIRE_FALSE(r.choice("kind", {"http", "mqtt"}));
  REQUIRE_FALSE(r.string_list("ids"));
  r.forbid_unknown({"name", "n", "ok", "meta", "kind", "ids"});
  auto res = r.response();
  REQUIRE(res.status == 422);
  const auto& b = res.body;
  REQUIRE(
      b.find(R"({"loc":["body","name"],"msg":"String should have at least 1 character","type":"string_too_short"})") !=
      std::string::npos);
  REQUIRE(b.find(R"("loc":["body","n"],"msg":"Input should be a valid integer","type":"int_type")") !=
          std::string::npos);
  REQUIRE(b.find(R"("loc":["body","missing"],"msg":"Field required","type":"missing")") != std::string::npos);
  REQUIRE(b.find(R"("loc":["body","extra"],"msg":"Extra inputs are not permitted","type":"extra_forbidden")") !=
          std::string::npos);
  REQUIRE(b.find(R"("loc":["body","kind"],"msg":"Input should be 'http' or 'mqtt'","type":"enum")") !=
          std::string::npos);
  REQUIRE(b.find(R"("loc":["body","ids",1])") != std::string::npos);
  REQUIRE(r.errors().size() == 8);
}

TEST_CASE("BodyReader reads valid values and tells null from absent") {
  auto parsed = api::parse_body(post(R"({"name":"Ünïcode","n":5,"x":1.5,"on":false,"meta":{"a":1},"desc":null})"));
  api::BodyReader r(parsed.doc);
  REQUIRE(r.string("name", {.max = 7}).value() == "Ünïcode");
  REQUIRE(r.integer("n", {.min = 1, .max = 10}).value() == 5);
  REQUIRE(r.number("x").value() == 1.5);
  REQUIRE(r.boolean("on").value() == false);
  REQUIRE(r.object_json("meta").value() == R"({"a":1})");
  REQUIRE_FALSE(r.string("desc", {.nullable = true}));
  REQUIRE(r.present("desc"));
  REQUIRE(r.is_null("desc"));
  REQUIRE_FALSE(r.present("absent"));
  REQUIRE(r.ok());
}

TEST_CASE("QueryReader validates paging, sort and filters") {
  http::Request req;
  req.target = "/devices?skip=5&limit=2000&sort=-name&enabled=maybe&status=online";
  http::parse_target(req);
  api::QueryReader q(req);
  auto p = q.paging();
  REQUIRE(p.skip == 5);
  REQUIRE(p.limit == 100);  // invalid value → default kept, error recorded
  auto s = q.sort({"name", "created_at"}, {"created_at", false});
  REQUIRE(s.column == "name");
  REQUIRE(s.descending);
  REQUIRE_FALSE(q.boolean("enabled"));
  REQUIRE(q.choice("status", {"online", "offline"}).value() == "online");
  REQUIRE_FALSE(q.ok());
  REQUIRE(q.response().body.find(R"("loc":["query","limit"])") != std::string::npos);
  REQUIRE(q.response().body.find(R"("loc":["query","enabled"])") != std::string::npos);
  REQUIRE(api::is_uuid("3ac7e3c4-4401-4b8d-9386-a5c902f9202d"));
  REQUIRE_FALSE(api::is_uuid("3ac7e3c4-4401-4b8d-9386-a5c902f9202"));
  REQUIRE_FALSE(api::is_uuid("'; DROP TABLE devices; --"));
}
