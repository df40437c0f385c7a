#include "dm/json/json.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>

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
  // the reader stops at a NUL byte as at the end of the text: what follows is not lost silently
  REQUIRE(dm::json::parse(std::string("{\"a\":1} \0\0x", 12)).error().message ==
          "malformed JSON at offset 8: a NUL byte after the value");
  REQUIRE_FALSE(dm::json::parse(std::string("{\"a\":1}\0", 8)).ok());
  REQUIRE_FALSE(dm::json::parse(std::string("\0{}", 3)).ok());
  // a byte order mark, or a piece of one, is not JSON either
  REQUIRE(dm::json::parse("\xEF\xBB\xBF{}").error().message ==
          "malformed JSON at offset 0: a byte order mark (BOM) before the value");
  REQUIRE_FALSE(dm::json::parse("\xEF{}").ok());
  REQUIRE_FALSE(dm::json::parse("\xBB\xBF[]").ok());
  REQUIRE_FALSE(dm::json::parse(std::string("{\"a\":1\0}", 8)).ok());
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

TEST_CASE("json text must be UTF-8, whatever the limits") {
  using dm::json::parse;
  REQUIRE(parse("{\"name\":\"\xc3\x9cn\xc3\xaf"
                "code \xf0\x9f\x98\x80\",\"e\":\"\\ud83d\\ude00\"}")
              .ok());
  auto bad = parse("{\"deviceName\":\"ab\xff\xfe\"}");
  REQUIRE(bad.error().code == Errc::invalid_argument);
  REQUIRE(bad.error().message == "invalid UTF-8 (offset 17)");
  // overlong "/", a UTF-16 surrogate written as UTF-8, a 5-byte form, a cut sequence, a bare
  // continuation byte, and a byte above F4
  for (const char* text : {"[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf8\x88\x80\x80\x80\"]", "[\"\xe2\x82\"]",
                           "[\"\x80\"]", "[\"\xf5\x80\x80\x80\"]"}) {
    INFO(text);
    REQUIRE_FALSE(parse(text).ok());
  }
  // invalid bytes in a key, and in a member left out of the document
  REQUIRE(parse("{\"k\xff\":1}").error().message.find("invalid UTF-8") == 0);
  static constexpr std::string_view kSkip[] = {"raw"};
  REQUIRE_FALSE(parse("{\"raw\":\"\xff\"}", {.skip_members = kSkip}).ok());
  // a \u escape of a lone surrogate would put invalid UTF-8 into the document
  REQUIRE(parse(R"(["\udc00"])").error().message == "a \\u escape of a lone UTF-16 surrogate in a string (offset 9)");
  REQUIRE_FALSE(parse(R"(["\ud800"])").ok());
  REQUIRE_FALSE(parse(R"(["\ud800x"])").ok());
  REQUIRE(parse(R"(["\ue000\uffff"])").ok());
}

TEST_CASE("json refuses numbers beyond a double: they would serialise as broken text") {
  using dm::json::parse;
  REQUIRE(parse("[1.7976931348623157e308,-1.7976931348623157e308,4.9e-324,1e-400]").ok());
  auto big = parse("5.675021e308");
  REQUIRE(big.error().code == Errc::invalid_argument);
  REQUIRE(big.error().message.find("a number out of the range of a double") == 0);
  REQUIRE_FALSE(parse("[-1e309]").ok());
  REQUIRE_FALSE(parse("[123456789012345678901234567890e300]").ok());  // not garbage, refused
  REQUIRE_FALSE(parse("[0.00000000000000000000001e400]").ok());
  REQUIRE(parse("[1" + std::string(300, '0') + "e-290]").ok());  // 1e10, in range
  REQUIRE(parse(R"({"object":{"t":[2e308]}})", {.refuse_nul = true}).error().message ==
          "a number out of the range of a double in the value at 'object.t[0]' (offset 16)");
}

TEST_CASE("json reads numbers to the nearest double, so they survive being written back") {
  for (const char* text : {"[-9223372026850000002522920855070048257]", "[-9.223372026849999e36]", "[0.1]",
                           "[2.2250738585072011e-308]", "[1.7976931348623157e308]", "[5e-324]"}) {
    INFO(text);
    auto once = dm::json::to_string(*dm::json::parse(text));
    REQUIRE(dm::json::to_string(*dm::json::parse(once)) == once);
  }
  auto n = dm::json::parse(
      "[0,-0,-0.0,1e-400,-2e-324,9223372036854775807,-9223372036854775808,18446744073709551615,"
      "18446744073709551616,-9223372036854775809,0.05e1,1E2,12e-1]");
  REQUIRE(n.ok());
  const auto& a = *n;
  REQUIRE((a[0].IsInt() && a[0].GetInt() == 0 && a[1].IsInt() && a[1].GetInt() == 0));
  REQUIRE((a[2].IsDouble() && std::signbit(a[2].GetDouble())));
  REQUIRE((a[3].IsDouble() && a[3].GetDouble() == 0 && a[4].GetDouble() == 0 && std::signbit(a[4].GetDouble())));
  REQUIRE((a[5].IsInt64() && a[5].GetInt64() == INT64_MAX && a[6].IsInt64() && a[6].GetInt64() == INT64_MIN));
  REQUIRE((a[7].IsUint64() && !a[7].IsInt64() && a[7].GetUint64() == UINT64_MAX));
  REQUIRE((a[8].IsDouble() && a[8].GetDouble() == 18446744073709551616.0 && a[9].IsDouble()));
  REQUIRE((a[10].GetDouble() == 0.5 && a[11].GetDouble() == 100 && a[12].GetDouble() == 1.2));
  REQUIRE(a[11].IsDouble());  // as RapidJSON types it: an exponent makes a double
}

TEST_CASE("json can refuse NUL characters, naming where they are") {
  using dm::json::parse;
  const dm::json::Limits strict{.refuse_nul = true};
  REQUIRE(parse(R"({"a":"x\u0000y"})").ok());  // the default keeps internal messages as they were
  auto nul = parse(R"({"a":{"b":["x","\u0000"]}})", strict);
  REQUIRE(nul.error().code == Errc::invalid_argument);
  REQUIRE(nul.error().message == "a NUL character (\\u0000) in the value at 'a.b[1]' (offset 23)");
  REQUIRE(parse(R"({"a":[{"k":1},{"n\u0000":1}]})", strict).error().message ==
          "a NUL character (\\u0000) in a key of the object at 'a[1]' (offset 24)");
  REQUIRE(parse(R"("\u0000")", strict).error().message.find("in the top-level value") != std::string::npos);
  // invalid UTF-8 is placed too when the path is kept
  REQUIRE(parse("{\"deviceInfo\":{\"deviceName\":\"\xff\"}}", strict).error().message ==
          "invalid UTF-8 in the value at 'deviceInfo.deviceName' (offset 29)");
  REQUIRE(parse("{\"a\":1,\"\xff\":1}", strict).error().message ==
          "invalid UTF-8 in a key of the top-level object (offset 8)");
  REQUIRE(parse(R"({"a":["x",{"b":"y"},3],"c":"\u0001"})", strict).ok());
}

TEST_CASE("json can refuse duplicate keys, naming the key and the object") {
  using dm::json::parse;
  const dm::json::Limits strict{.refuse_duplicate_keys = true};
  REQUIRE(parse(R"({"a":1,"a":2})").ok());  // the default keeps internal messages as they were
  auto top = parse(R"({"a":1,"a":2})", strict);
  REQUIRE(top.error().code == Errc::invalid_argument);
  REQUIRE(top.error().message == "duplicate key 'a' in the top-level object (offset 10)");
  REQUIRE(parse(R"({"x":[{"k":1},{"k":1,"b":{},"k":2}]})", strict).error().message ==
          "duplicate key 'k' in the object at 'x[1]' (offset 31)");
  // the same key in other objects, and a key equal to a value, are fine
  REQUIRE(parse(R"({"a":{"a":"a"},"b":[{"a":1},{"a":2}],"c":{"a":{"a":1}}})", strict).ok());
  // objects with many keys (past the scanned few), and frames reused by sibling objects
  std::string many = "{";
  for (int i = 0; i < 100; ++i) many += "\"k" + std::to_string(i) + "\":{\"k1\":1},";
  REQUIRE(parse(many + "\"z\":0}", strict).ok());
  REQUIRE(parse(many + "\"k99\":0}", strict).error().message.find("duplicate key 'k99' in the top-level") == 0);
  REQUIRE(parse(many + "\"k0\":0}", strict).error().message.find("duplicate key 'k0' in the top-level") == 0);
  // the key is shown clean and short
  auto odd = parse("{\"\\u0007" + std::string(100, 'k') + "\":1,\"\\u0007" + std::string(100, 'k') + "\":1}", strict);
  REQUIRE(odd.error().message.find("duplicate key '\\u0007kkk") == 0);
  REQUIRE(odd.error().message.find("k...' in the top-level object") != std::string::npos);
  // members left out of the document are still checked
  static constexpr std::string_view kSkip[] = {"raw"};
  REQUIRE_FALSE(parse(R"({"raw":{"a":1,"a":1}})", {.skip_members = kSkip, .refuse_duplicate_keys = true}).ok());
  REQUIRE(dm::json::to_string(*parse(R"({"raw":{"a":1},"b":[{"c":2}]})",
                                     {.skip_members = kSkip, .refuse_duplicate_keys = true, .refuse_nul = true})) ==
          R"({"b":[{"c":2}]})");
}

TEST_CASE("json finds control characters") {
  REQUIRE(dm::json::find_control("plain text, ünïcode") == std::string_view::npos);
  REQUIRE(dm::json::find_control("a\tb") == 1);
  REQUIRE(dm::json::find_control("a\tb\x7f", "\t\n\r") == 3);
  REQUIRE(dm::json::find_control(std::string_view("ab\0", 3)) == 2);
  REQUIRE(dm::json::code_point_name('\x1b') == "U+001B");
  REQUIRE(dm::json::code_point_name('\x7f') == "U+007F");
}
