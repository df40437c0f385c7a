#include "dm/json/json.hpp"

#include <catch2/catch.hpp>

using dm::Errc;

TEST_CASE("json parses and reads typed fields") {
  auto doc = dm::json::parse(R"({"name":"dev","n":42,"x":1.5,"on":true,"o":{},"a":[1],"nul":null})");
  REQUIRE(doc.ok());
  const auto& d = *doc;
  REQUIRE(dm::json::get_string(d, "name").value() == "dev");
  REQUIRE(dm::json::get_int(d, "n").value() == 42);
  REQUIRE(dm::json::get_number(d, "x").value() == 1.5);
  REQUIRE(dm::json::get_bool(d, "on").value());
  REQUIRE(dm::json::get_object(d, "o").ok());
  REQUIRE(dm::json::get_array(d, "a").ok());
  REQUIRE_FALSE(dm::json::opt_string(d, "nul").value().has_value());
  REQUIRE_FALSE(dm::json::opt_int(d, "absent").value().has_value());
  REQUIRE(dm::json::opt_int(d, "n").value().value() == 42);
}

TEST_CASE("json accessors name the field on missing or wrong types") {
  auto d = dm::json::parse(R"({"n":"42"})").value();
  auto r = dm::json::get_int(d, "n");
  REQUIRE(r.error().code == Errc::invalid_argument);
  REQUIRE(r.error().message == "field 'n' must be an integer");
  REQUIRE(dm::json::get_string(d, "m").error().message == "field 'm' is required");
  REQUIRE_FALSE(dm::json::opt_bool(d, "n").ok());
  auto arr = dm::json::parse("[1,2]").value();
  REQUIRE(dm::json::get_string(arr, "x").error().message == "expected a JSON object");
}

TEST_CASE("json rejects malformed, trailing, oversize and too deep input") {
  auto bad = dm::json::parse(R"({"a":)");
  REQUIRE(bad.error().code == Errc::invalid_argument);
  REQUIRE(bad.error().message.find("malformed JSON at offset") == 0);
  REQUIRE_FALSE(dm::json::parse(R"({"a":1} x)").ok());
  REQUIRE_FALSE(dm::json::parse("").ok());

  std::string big = "\"" + std::string(2000, 'x') + "\"";
  auto too_big = dm::json::parse(big, {.max_bytes = 1000, .max_depth = 64});
  REQUIRE(too_big.error().code == Errc::too_large);

  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto too_deep = dm::json::parse(deep);
  REQUIRE(too_deep.error().code == Errc::invalid_argument);
  REQUIRE(too_deep.error().message.find("nesting deeper than 64") != std::string::npos);
  // brackets inside strings do not count
  REQUIRE(dm::json::parse(R"({"s":"[[[[\"[[["})", {.max_bytes = 100, .max_depth = 1}).ok());
  REQUIRE(dm::json::parse(R"({"a":[1]})", {.max_bytes = 100, .max_depth = 2}).ok());
  REQUIRE_FALSE(dm::json::parse(R"({"a":[{}]})", {.max_bytes = 100, .max_depth = 2}).ok());
  // a million open brackets is rejected without recursion
  REQUIRE_FALSE(dm::json::parse(std::string(1'000'000, '['), {.max_bytes = 2 << 20, .max_depth = 64}).ok());
}

TEST_CASE("json parse can leave top-level members out of the document") {
  static constexpr std::string_view kSkip[] = {"raw", "big"};
  dm::json::Limits limits{.max_bytes = 1 << 20, .max_depth = 8, .skip_members = kSkip};
  auto doc = dm::json::parse(
      R"({"a":1,"raw":{"x":[1,{"y":"z"}],"raw":2},"b":{"raw":"kept"},"big":"s","c":[true],"big":[[]],"d":null})",
      limits);
  REQUIRE(doc.ok());
  REQUIRE(dm::json::to_string(*doc) == R"({"a":1,"b":{"raw":"kept"},"c":[true],"d":null})");
  // only the top level: a root array keeps everything
  auto arr = dm::json::parse(R"([{"raw":1}])", limits);
  REQUIRE(dm::json::to_string(*arr) == R"([{"raw":1}])");
  // a dropped member is still checked: syntax and depth
  REQUIRE_FALSE(dm::json::parse(R"({"raw":{"x":}, "a":1})", limits).ok());
  auto deep = dm::json::parse(R"({"raw":)" + std::string(20, '[') + std::string(20, ']') + "}", limits);
  REQUIRE(deep.error().message.find("nesting deeper than 8") != std::string::npos);
  // the last member dropped, the first dropped, all dropped
  REQUIRE(dm::json::to_string(*dm::json::parse(R"({"raw":[1],"a":2})", limits)) == R"({"a":2})");
  REQUIRE(dm::json::to_string(*dm::json::parse(R"({"raw":[1]})", limits)) == "{}");
}

TEST_CASE("json writer produces compact escaped output") {
  dm::json::Writer w;
  w.start_object().field("s", "a\"b\n").field("n", std::int64_t{7}).field("b", false);
  w.key("arr").start_array().integer(1).null().end_array();
  w.key("raw").raw(R"({"x":1})");
  w.end_object();
  REQUIRE(w.take() == R"({"s":"a\"b\n","n":7,"b":false,"arr":[1,null],"raw":{"x":1}})");
  REQUIRE(dm::json::detail("Not Found") == R"({"detail":"Not Found"})");
}
