// Pure checks of the token, hashing and throttling code (no servers).
#include <catch2/catch.hpp>

#include "crypto.hpp"
#include "throttle.hpp"
#include "token.hpp"

namespace gw = dm::gateway;

TEST_CASE("base64url round-trips and rejects non-canonical input") {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\xfe", 3)}) {
    auto enc = dm::base64url_encode(s);
    CHECK(enc.find('=') == std::string::npos);
    CHECK(dm::base64url_decode(enc) == std::optional<std::string>(s));
  }
  CHECK_FALSE(dm::base64url_decode("Zm9v+A"));
  CHECK_FALSE(dm::base64url_decode("Zg=="));
  CHECK_FALSE(dm::base64url_decode("Zh"));  // non-zero trailing bits
  CHECK_FALSE(dm::base64url_decode("Z"));
}

TEST_CASE("tokens: issue, verify, expiry, tampering, algorithm pinning") {
  const std::string key = "k0123456789abcdef0123456789abcdef";
  gw::Claims c{"00000000-0000-0000-0000-000000000001", gw::Role::editor, "jti-1", 1000, 2000};
  auto t = gw::issue_token(key, c);
  auto v = gw::verify_token(key, t, 1500);
  REQUIRE(v.ok());
  CHECK(v->sub == c.sub);
  CHECK(v->role == gw::Role::editor);
  CHECK_FALSE(gw::verify_token(key, t, 2000).ok());        // expired exactly at exp
  CHECK_FALSE(gw::verify_token(key + "x", t, 1500).ok());  // another key
  CHECK_FALSE(gw::verify_token(key, t + "A", 1500).ok());  // signature changed
  CHECK_FALSE(gw::verify_token(key, t.substr(1), 1500).ok());
  CHECK_FALSE(gw::verify_token(key, "a.b.c.d", 1500).ok());
  CHECK_FALSE(gw::verify_token(key, "", 1500).ok());
  auto none = dm::base64url_encode(R"({"alg":"none"})") + t.substr(t.find('.'));
  CHECK_FALSE(gw::verify_token(key, none, 1500).ok());
  CHECK(gw::verify_token(key, t, 1500).ok());
}

TEST_CASE("passwords: salted, verified in constant time, malformed hashes refused") {
  auto h1 = gw::hash_password("password-one", 1000);
  auto h2 = gw::hash_password("password-one", 1000);
  CHECK(h1 != h2);
  CHECK(gw::verify_password("password-one", h1));
  CHECK_FALSE(gw::verify_password("password-two", h1));
  CHECK_FALSE(gw::verify_password("password-one", "plain"));
  CHECK_FALSE(gw::verify_password("password-one", "pbkdf2_sha256$999999999$AAAA$AAAA"));
  CHECK(gw::hash_password("x").rfind("pbkdf2_sha256$600000$", 0) == 0);
}

TEST_CASE("throttle: window, per key, Retry-After, success clears the account") {
  gw::LoginThrottle t(3, std::chrono::seconds(60));
  auto t0 = gw::LoginThrottle::Clock::now();
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(t.blocked("a", "ip" + std::to_string(i), t0));
    t.failed("a", "ip" + std::to_string(i), t0 + std::chrono::seconds(i));
  }
  auto wait = t.blocked("a", "ip9", t0 + std::chrono::seconds(3));
  REQUIRE(wait);
  CHECK(*wait >= 57);
  CHECK(*wait <= 61);
  CHECK_FALSE(t.blocked("b", "ip9", t0 + std::chrono::seconds(3)));
  CHECK_FALSE(t.blocked("a", "ip9", t0 + std::chrono::seconds(61)));  // the first failure left the window
  t.succeeded("a");
  CHECK_FALSE(t.blocked("a", "ip9", t0 + std::chrono::seconds(4)));
}

TEST_CASE("tokens carry the credential version; a token without one is refused") {
  const std::string key = "k0123456789abcdef0123456789abcdef";
  gw::Claims c{"00000000-0000-0000-0000-000000000001", gw::Role::viewer, "jti-2", 1000, 2000, 7};
  auto v = gw::verify_token(key, gw::issue_token(key, c), 1500);
  REQUIRE(v.ok());
  CHECK(v->ver == 7);
  auto sign = [&](const std::string& payload) {
    std::string input = dm::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + dm::base64url_encode(payload);
    return input + "." + dm::base64url_encode(gw::hmac_sha256(key, input));
  };
  const std::string base = R"({"sub":"00000000-0000-0000-0000-000000000001","role":"viewer","typ":"access",)"
                           R"("jti":"j","iat":1000,"exp":2000)";
  CHECK(gw::verify_token(key, sign(base + R"(,"ver":3})"), 1500).value().ver == 3);
  CHECK_FALSE(gw::verify_token(key, sign(base + "}"), 1500).ok());
  CHECK_FALSE(gw::verify_token(key, sign(base + R"(,"ver":"3"})"), 1500).ok());
}

TEST_CASE("address budget: a burst, refilled continuously, blocked until one event is allowed again") {
  using Clock = gw::AddressBudget::Clock;
  gw::AddressBudget b(3, std::chrono::seconds(60));  // 3 at once, one given back every 20 s
  auto t0 = Clock::now();
  CHECK_FALSE(b.any_blocked());
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(b.blocked("a", t0));
    b.spend("a", t0);
  }
  CHECK(b.any_blocked());
  auto wait = b.blocked("a", t0);
  REQUIRE(wait);
  CHECK(*wait == 20);
  CHECK(*b.blocked("a", t0 + std::chrono::seconds(15)) == 5);
  CHECK_FALSE(b.blocked("b", t0));  // other addresses are not affected
  CHECK_FALSE(b.blocked("a", t0 + std::chrono::seconds(20)));
  CHECK_FALSE(b.any_blocked());  // the hot path is lock-free again
  b.spend("a", t0 + std::chrono::seconds(20));
  CHECK(b.blocked("a", t0 + std::chrono::seconds(20)));

  gw::AddressBudget off(0, std::chrono::seconds(60));
  for (int i = 0; i < 100; ++i) off.spend("a", t0);
  CHECK_FALSE(off.any_blocked());
  CHECK_FALSE(off.blocked("a", t0));
}

TEST_CASE("address keys: IPv6 clients by their /64, others as they are") {
  CHECK(gw::address_key("203.0.113.9") == "203.0.113.9");
  CHECK(gw::address_key("2001:db8:1:2::1") == "2001:0db8:0001:0002::/64");
  CHECK(gw::address_key("2001:db8:1:2:ffff:eeee:dddd:cccc") == "2001:0db8:0001:0002::/64");
  CHECK(gw::address_key("::ffff:203.0.113.9") == "::ffff:203.0.113.9");
  CHECK(gw::address_key("not an address") == "not an address");
}
