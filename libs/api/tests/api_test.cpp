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
http::Request post(std::string body, const std::string& content_type) {
  auto r = post(std::move(body));
  r.headers.set("Content-Type", content_type);
  return r;
}
bool has(const http::Response& r, std::string_view text) { return r.body.find(text) != std::string::npos; }
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

TEST_CASE("a body that says it is not JSON is 415; JSON types and no type at all are read") {
  const std::string detail =
      R"j({"detail":"Unsupported Media Type: the body must be JSON (Content-Type: application/json)"})j";
  for (const char* type : {"text/plain", "application/xml", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "text/json", "application/jsonx", "application/+json2"}) {
    INFO(type);
    auto parsed = api::parse_body(post(R"({"a":1})", type));
    REQUIRE(parsed.error);
    CHECK(parsed.error->status == 415);
    CHECK(parsed.error->body == detail);
  }
  for (const char* type : {"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
                           "application/merge-patch+json", " application/vnd.api+json ; charset=utf-8", ""}) {
    INFO(type);
    CHECK_FALSE(api::parse_body(post(R"({"a":1})", type)).error);
  }
  CHECK_FALSE(api::parse_body(post(R"({"a":1})")).error);  // a client that sends no type
  // an empty body of the wrong type is still the wrong type
  CHECK(api::parse_body(post("", "text/plain")).error->status == 415);
}

TEST_CASE("bodies PostgreSQL could not store, or that read two ways, are 422 json_invalid") {
  auto utf8 = api::parse_body(post("{\"name\":\"ab\xff\xfe\"}", "application/json"));
  REQUIRE(utf8.error);
  CHECK(utf8.error->status == 422);
  CHECK(has(*utf8.error, R"j({"loc":["body"],"msg":"JSON decode error: invalid UTF-8 in the value at 'name' )j"
                         R"j((offset 11)","type":"json_invalid"})j"));
  auto nul = api::parse_body(post(R"({"name":"a\u0000b"})"));
  CHECK(nul.error->status == 422);
  CHECK(has(*nul.error, R"j(a NUL character (\\u0000) in the value at 'name')j"));
  auto twice = api::parse_body(post(R"({"name":"a","meta":{"k":1,"k":2}})"));
  CHECK(twice.error->status == 422);
  CHECK(has(*twice.error, "duplicate key 'k' in the object at 'meta'"));
  CHECK(has(*twice.error, R"("type":"json_invalid")"));
  // a bare list where a list is allowed
  auto list = api::parse_json_body(post(R"(["a","b"])"));
  REQUIRE_FALSE(list.error);
  CHECK(list.doc.IsArray());
  CHECK(api::parse_json_body(post("[\"\xc0\xaf\"]")).error->status == 422);
  CHECK(api::parse_json_body(post("[]", "text/plain")).error->status == 415);
}

TEST_CASE("BodyReader strings refuse control characters other than tab, newline and return") {
  auto parsed =
      api::parse_body(post(R"({"a":"x\u0007y","b":"\u001b[31m","c":"del\u007f","d":"Ünï\u0001","ok":"l1\n\tl2\r\n"})"));
  REQUIRE_FALSE(parsed.error);
  api::BodyReader r(parsed.doc);
  CHECK_FALSE(r.string("a"));
  CHECK_FALSE(r.string("b"));
  CHECK_FALSE(r.string("c", {.max = 3}));
  CHECK_FALSE(r.string("d"));
  CHECK(r.string("ok").value() == "l1\n\tl2\r\n");
  REQUIRE(r.errors().size() == 4);
  auto res = r.response();
  CHECK(res.status == 422);
  const std::string msg = R"j("],"msg":"String should not contain control characters )j";
  CHECK(has(res, R"j({"loc":["body","a)j" + msg + R"j((U+0007 at character 2)","type":"string_pattern_mismatch"})j"));
  CHECK(has(res, R"j("loc":["body","b)j" + msg + "(U+001B at character 1)"));
  CHECK(has(res, R"j("loc":["body","c)j" + msg + "(U+007F at character 4)"));
  CHECK(has(res, R"j("loc":["body","d)j" + msg + "(U+0001 at character 4)"));
  // free text our own services report may keep them
  api::BodyReader free_text(parsed.doc);
  CHECK(free_text.string("a", {.allow_control = true}).value() == "x\x07y");
  CHECK(free_text.ok());
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
