#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "dm/core/config.hpp"
#include "dm/core/encoding.hpp"
#include "dm/core/log.hpp"
#include "dm/core/result.hpp"
#include "dm/core/strings.hpp"
#include "dm/core/text.hpp"
#include "dm/core/time.hpp"

namespace {
dm::Result<int> half(int n) {
  if (n % 2) return dm::Error(dm::Errc::invalid_argument, "odd");
  return n / 2;
}
dm::Result<int> quarter(int n) {
  DM_ASSIGN_OR_RETURN(int h, half(n));
  return half(h);
}
std::string g_captured;
void capture(std::string_view line) { g_captured += line; }
}  // namespace

TEST_CASE("Result carries a value or an error and propagates errors") {
  REQUIRE(quarter(8).value() == 2);
  auto r = quarter(6);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().code == dm::Errc::invalid_argument);
  REQUIRE(r.error().message == "odd");
  REQUIRE(dm::errc_http_status(dm::Errc::not_found) == 404);
  REQUIRE(dm::errc_http_status(dm::Errc::too_large) == 413);
}

TEST_CASE("Config reads .env under the environment and validates every key") {
  std::string path = "core_test.env";
  {
    std::ofstream f(path);
    f << "# comment\nexport API_PORT=9000\nDM_TEST_NAME=\"quoted value\"\nLOG_LEVEL=debug # trailing\n"
         "INGEST_PORT=8101\nPORT=1\nBAD=x\n";
  }
  setenv("DM_TEST_FROM_ENV", "env wins", 1);
  dm::Config cfg("INGEST");
  REQUIRE(cfg.load_env_file(path).ok());
  REQUIRE(cfg.load_env_file("does-not-exist.env").ok());
  REQUIRE(cfg.integer("API_PORT", 8000, 1, 65535) == 9000);
  REQUIRE(cfg.str("DM_TEST_NAME", "") == "quoted value");
  REQUIRE(cfg.str("LOG_LEVEL", "") == "debug");
  REQUIRE(cfg.integer("PORT", 0, 1, 65535) == 8101);  // scoped key wins
  REQUIRE(cfg.str("DM_TEST_FROM_ENV", "") == "env wins");
  REQUIRE(cfg.validate().ok());

  cfg.set("API_PORT", "99999");
  cfg.set("DEBUG", "maybe");
  cfg.integer("API_PORT", 8000, 1, 65535);
  cfg.boolean("DEBUG", false);
  cfg.set("LINGER", "2s");
  REQUIRE(cfg.millis("LINGER", std::chrono::milliseconds(20), {}, std::chrono::seconds(1)) ==
          std::chrono::milliseconds(20));
  cfg.required("SECRET_KEY_THAT_IS_MISSING");
  auto v = cfg.validate();
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.error().message.find("API_PORT must be between 1 and 65535") != std::string::npos);
  REQUIRE(v.error().message.find("DEBUG must be true or false") != std::string::npos);
  REQUIRE(v.error().message.find("LINGER must be between 0ms and 1000ms, got 2s") != std::string::npos);
  REQUIRE(v.error().message.find("SECRET_KEY_THAT_IS_MISSING is required") != std::string::npos);
  std::remove(path.c_str());

  dm::Config broken;
  {
    std::ofstream f(path);
    f << "NOEQUALS\n";
  }
  REQUIRE_FALSE(broken.load_env_file(path).ok());
  std::remove(path.c_str());
}

TEST_CASE("durations parse with units") {
  REQUIRE(dm::parse_duration("500ms").value().count() == 500);
  REQUIRE(dm::parse_duration("30s").value().count() == 30000);
  REQUIRE(dm::parse_duration("5m").value().count() == 300000);
  REQUIRE(dm::parse_duration("250").value().count() == 250);
  REQUIRE_FALSE(dm::parse_duration("5 parsecs").ok());
  REQUIRE_FALSE(dm::parse_duration("").ok());
}

TEST_CASE("logs are one JSON object per line with escaped fields") {
  dm::log::set_sink(capture);
  dm::log::init("test", dm::log::Level::info);
  g_captured.clear();
  dm::log::debug("hidden");
  dm::log::info("hello \"world\"\n", {{"port", 8000}, {"ok", true}, {"who", "a\\b"}});
  dm::log::set_sink(nullptr);
  REQUIRE(g_captured.find("hidden") == std::string::npos);
  REQUIRE(g_captured.find(
              R"("level":"info","service":"test","msg":"hello \"world\"\n","port":8000,"ok":true,"who":"a\\b"})") !=
          std::string::npos);
  REQUIRE(g_captured.back() == '\n');
  REQUIRE(dm::log::parse_level("WARNING") == dm::log::Level::warn);
}

TEST_CASE("RFC 3339 times parse with offsets and up to nine fractional digits") {
  auto a = dm::parse_rfc3339("2023-01-12T12:48:39.127459Z").value();
  auto b = dm::parse_rfc3339("2023-01-12T13:48:39.127459000+01:00").value();
  REQUIRE(a == b);
  REQUIRE(dm::format_rfc3339(a) == "2023-01-12T12:48:39.127459Z");
  REQUIRE(dm::parse_rfc3339("1970-01-01T00:00:00Z").value().time_since_epoch().count() == 0);
  REQUIRE(dm::unix_micros(dm::parse_rfc3339("1970-01-01T00:00:01.5+00:00").value()) == 1'500'000);
  REQUIRE_FALSE(dm::parse_rfc3339("2023-13-01T00:00:00Z").ok());
  REQUIRE_FALSE(dm::parse_rfc3339("2023-01-01 garbage").ok());
  REQUIRE_FALSE(dm::parse_rfc3339("2023-01-01T00:00:00").ok());
  // only what 64 bits of nanoseconds hold: 1677-09-21 to 2262-04-11
  REQUIRE(dm::format_rfc3339(*dm::parse_rfc3339("2262-04-11T23:47:16.854775807Z")) == "2262-04-11T23:47:16.854775Z");
  REQUIRE(dm::parse_rfc3339("1677-09-21T00:12:44Z").ok());
  for (const char* far :
       {"2262-04-11T23:47:16.854775808Z", "2262-04-11T23:47:17Z", "2284-07-18T09:38:49.235700766+00:00",
        "9999-12-31T23:59:59Z", "1677-09-21T00:12:43Z", "0000-01-01T00:00:00Z"}) {
    INFO(far);
    REQUIRE_FALSE(dm::parse_rfc3339(far).ok());
  }
}

#include <atomic>

#include "dm/core/thread_pool.hpp"

TEST_CASE("thread pool runs every task, applies backpressure and survives a throwing task") {
  std::atomic<int> done{0};
  {
    dm::ThreadPool pool(3, 4);
    dm::log::set_sink([](std::string_view) {});
    pool.submit([] { throw std::runtime_error("boom"); });
    for (int i = 0; i < 100; ++i) REQUIRE(pool.submit([&] { done++; }));
    pool.stop();
    dm::log::set_sink(nullptr);
    REQUIRE_FALSE(pool.submit([] {}));
  }
  REQUIRE(done == 100);
}

#include <regex>
#include <set>

#include "dm/core/uuid.hpp"

TEST_CASE("uuid_v7 ids are well formed, unique, and sort by the millisecond they were made in") {
  const std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = dm::uuid_v7();
    REQUIRE(std::regex_match(id, shape));
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
  // The first 48 bits are the Unix milliseconds, big-endian: visible in the first 12 hex digits.
  auto at = *dm::parse_rfc3339("2026-11-27T09:00:00.123Z");
  auto id = dm::uuid_v7(at);
  CHECK(id.substr(0, 8) + id.substr(9, 4) == "01a21c3ba2fb");
  auto earlier = dm::uuid_v7(at - std::chrono::milliseconds(1));
  auto later = dm::uuid_v7(at + std::chrono::milliseconds(1));
  CHECK(earlier < id);
  CHECK(id < later);
}

TEST_CASE("text: UTF-8 validation, printable escapes and truncation on a character boundary") {
  REQUIRE(dm::valid_utf8("plain ascii"));
  REQUIRE(dm::valid_utf8("Grüße, 東京, 🚀"));
  REQUIRE_FALSE(dm::valid_utf8("bad \xff\xfe bytes"));
  REQUIRE_FALSE(dm::valid_utf8("\xc0\xaf"));          // overlong '/'
  REQUIRE_FALSE(dm::valid_utf8("\xed\xa0\x80"));      // a surrogate
  REQUIRE_FALSE(dm::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  REQUIRE_FALSE(dm::valid_utf8("cut \xe6\x9d"));      // incomplete at the end
  REQUIRE(dm::printable(std::string("a\0b\xff\n\x7f"
                                    "é",
                                    8)) == "a\\x00b\\xff\\x0a\\x7fé");
  REQUIRE(dm::printable(std::string(100, 'x'), 10) == std::string(10, 'x') + "…");
  REQUIRE(dm::truncate_utf8("short", 10) == "short");
  // "é" is two bytes: a cut after its first byte backs up before it.
  REQUIRE(dm::truncate_utf8("aé" + std::string(10, 'z'), 2) == "a … [cut 12 bytes]");
}

TEST_CASE("text: any bytes made valid UTF-8, cut on a character boundary") {
  const std::string fffd = "\xEF\xBF\xBD";
  REQUIRE(dm::to_valid_utf8("Grüße, 東京, 🚀") == "Grüße, 東京, 🚀");
  REQUIRE(dm::to_valid_utf8("bad \xff\xfe!") == "bad " + fffd + fffd + "!");
  REQUIRE(dm::to_valid_utf8("\xed\xa0\x80") == fffd + fffd + fffd);    // a surrogate, byte by byte
  REQUIRE(dm::to_valid_utf8("cut \xe6\x9d") == "cut " + fffd + fffd);  // incomplete at the end
  REQUIRE(dm::to_valid_utf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
  // A cut never splits a character, and a replacement counts its three bytes.
  REQUIRE(dm::to_valid_utf8("aé" + std::string(10, 'z'), 2) == "a");
  REQUIRE(dm::to_valid_utf8("ab\xff", 4) == "ab");
  REQUIRE(dm::to_valid_utf8("ab\xff", 5) == "ab" + fffd);
  for (std::size_t max = 0; max < 20; ++max) {
    auto out = dm::to_valid_utf8("x\xe6\x9d\xb1\xff\xc3\xa9\xf0\x9f\x9a\x80y", max);
    REQUIRE(out.size() <= max);
    REQUIRE(dm::valid_utf8(out));
  }
}

TEST_CASE("encodings: base64 both alphabets, strict base64url, hex, sha256") {
  CHECK(dm::base64_encode("") == "");
  CHECK(dm::base64_encode("f") == "Zg==");
  CHECK(dm::base64_encode("fo") == "Zm8=");
  CHECK(dm::base64_encode("foo") == "Zm9v");
  CHECK(dm::base64_decode("Zm8=") == std::optional<std::string>("fo"));
  CHECK(dm::base64_decode("Zm8") == std::optional<std::string>("fo"));        // padding optional
  CHECK(dm::base64_decode("-_8") == std::optional<std::string>("\xfb\xff"));  // URL-safe too
  CHECK_FALSE(dm::base64_decode("Zm8*"));
  CHECK_FALSE(dm::base64_decode("Zm8=="));  // a wrong total length
  CHECK(dm::base64url_encode("\xfb\xff") == "-_8");
  CHECK(dm::base64url_decode("-_8") == std::optional<std::string>("\xfb\xff"));
  CHECK_FALSE(dm::base64url_decode("+/8"));  // the standard alphabet is not URL-safe
  CHECK_FALSE(dm::base64url_decode("-_9"));  // unused bits set: another encoding of the same bytes
  CHECK(dm::hex_encode("\x01\xab") == "01ab");
  CHECK(dm::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("strings: lower, trim, split, is_uuid") {
  CHECK(dm::lower("Content-TYPE") == "content-type");
  CHECK(dm::trim(" \tx y \t") == "x y");
  CHECK(dm::split("a,,b", ',') == std::vector<std::string_view>{"a", "", "b"});
  CHECK(dm::split("", ',') == std::vector<std::string_view>{""});
  CHECK(dm::is_uuid("8e1321f0-6aba-4403-8285-229b8bcdd11D"));
  CHECK_FALSE(dm::is_uuid("8e1321f0-6aba-4403-8285-229b8bcdd11"));
  CHECK_FALSE(dm::is_uuid("8e1321f0x6aba-4403-8285-229b8bcdd11d"));
  CHECK_FALSE(dm::is_uuid("8e1321f0-6aba-4403-8285-229b8bcdd11g"));
}
