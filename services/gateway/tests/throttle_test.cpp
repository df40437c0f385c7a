// Login throttling (10 failures per account or per client address within 5 minutes → 429
// with Retry-After; other accounts and addresses unaffected), equal answers for unknown
// users, the failure budget of every address (a flood of bad credentials sees 429s and costs
// no database query each), and closed registration. This stack trusts X-Forwarded-For from
// loopback, so one test process can speak for many client addresses.
#include <algorithm>
#include <random>

#include "api_fixture.hpp"
#include "crypto.hpp"

using dm::test::Api;
using dm::test::As;

namespace {
dm::testing::Stack& throttle_stack() {
  static dm::testing::Stack s({"registry", "gateway"},
                              {{"TRUSTED_PROXIES", "127.0.0.1"}, {"ALLOW_REGISTRATION", "false"}});
  return s;
}

struct Attempt {
  int status;
  std::string retry_after;
  double seconds;
};

Attempt try_login(Api& api, const std::string& user, const std::string& password, const std::string& address) {
  auto t0 = std::chrono::steady_clock::now();
  auto r =
      api.call("POST", "/api/v1/auth/login", "username=" + user + "&password=" + password,
               {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Forwarded-For", "203.0.113.9, " + address}});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {r.status, r.headers.get("Retry-After").value_or(""), s};
}

void make_user(const std::string& name) {
  auto r = throttle_stack().admin_tool("create-admin " + name + "@example.com " + name + " " + name + "-password-1");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
}
}  // namespace

TEST_CASE("throttling per account and per address; unknown users cost the same time") {
  Api api(throttle_stack(), As::anonymous);
  make_user("victim");
  make_user("bystander");

  // 10 failures for one account, each from a different address, interleaved with 10
  // failures from one address spread over unknown accounts (interleaved so that the load of
  // the machine weighs equally on both timings).
  std::vector<double> wrong_times, unknown_times;
  for (int i = 1; i <= 10; ++i) {
    auto a = try_login(api, "victim", "wrong-password", "10.0.0." + std::to_string(i));
    CHECK(a.status == 401);
    wrong_times.push_back(a.seconds);
    auto b = try_login(api, "ghost" + std::to_string(i), "wrong-password", "10.0.1.1");
    CHECK(b.status == 401);
    unknown_times.push_back(b.seconds);
  }
  auto blocked = try_login(api, "victim", "victim-password-1", "10.0.0.11");
  CHECK(blocked.status == 429);
  CHECK(std::stoi(blocked.retry_after.empty() ? "0" : blocked.retry_after) > 0);
  CHECK(std::stoi(blocked.retry_after.empty() ? "0" : blocked.retry_after) <= 300);
  // By email too: it is the same account.
  CHECK(try_login(api, "victim@example.com", "victim-password-1", "10.0.0.12").status == 429);
  // Other accounts keep working.
  CHECK(try_login(api, "bystander", "bystander-password-1", "10.0.0.11").status == 200);
  // The address that failed 10 times is refused even for a good account; others are not.
  CHECK(try_login(api, "bystander", "bystander-password-1", "10.0.1.1").status == 429);
  CHECK(try_login(api, "bystander", "bystander-password-1", "10.0.1.2").status == 200);

  // Unknown users are checked against a dummy hash: about the same time as a wrong password.
  std::sort(wrong_times.begin(), wrong_times.end());
  std::sort(unknown_times.begin(), unknown_times.end());
  double wrong = wrong_times[5], unknown = unknown_times[5];
  INFO("median wrong password " << wrong << " s, unknown user " << unknown << " s");
  CHECK(unknown > wrong * 0.5);
  CHECK(unknown < wrong * 2.0);
}

TEST_CASE("registration is refused when ALLOW_REGISTRATION=false") {
  Api api(throttle_stack(), As::anonymous);
  auto r =
      api.post("/api/v1/auth/register", R"({"email":"new@example.com","username":"newbie","password":"0123456789"})");
  CHECK(r.status == 403);
}

namespace {
struct Tally {
  std::map<int, int> statuses;
  int bad_retry_after = 0;
};

// `n` requests from `address` with no credentials, a bad token or a new random API key in turn.
Tally flood(Api& api, const std::string& address, int n) {
  Tally t;
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < n; ++i) {
    dm::http::Headers h{{"X-Forwarded-For", address}};
    if (i % 3 == 1) h.set("Authorization", "Bearer not.a.token");
    if (i % 3 == 2) h.set("X-API-Key", "dmk_" + dm::base64url_encode(std::to_string(rng()) + std::to_string(rng())));
    auto r = api.call("GET", "/api/v1/devices", {}, h);
    ++t.statuses[r.status];
    if (r.status == 429) {
      auto wait = std::stoi(r.headers.get("Retry-After").value_or("0"));
      if (wait < 1 || wait > 300) ++t.bad_retry_after;
    }
  }
  return t;
}

double key_lookups() {
  return dm::testing::metric_value(throttle_stack(), "gateway", "dm_gateway_api_key_lookups_total");
}
}  // namespace

TEST_CASE("10,000 unauthenticated requests from one address meet 429s; nobody else is slowed") {
  Api anon(throttle_stack(), As::anonymous);
  Api admin(throttle_stack(), As::admin);  // logged in before the flood
  const std::string attacker = "198.51.100.66";
  auto lookups_before = key_lookups();
  auto t = flood(anon, attacker, 10000);
  INFO("401: " << t.statuses[401] << ", 429: " << t.statuses[429]);
  // AUTH_FAILURE_LIMIT (200 per 5 minutes, refilled continuously): a few more 401s than 200
  // while the flood lasts, every other answer 429 with a sensible Retry-After.
  CHECK(t.statuses[401] >= 200);
  CHECK(t.statuses[401] < 260);
  CHECK(t.statuses[429] + t.statuses[401] == 10000);
  CHECK(t.bad_retry_after == 0);
  // Only the random keys that were answered 401 cost a query: none once the address is blocked.
  CHECK(key_lookups() - lookups_before <= t.statuses[401] / 3 + 2);

  // The blocked address is refused before any credential is looked at, logins included...
  auto blocked = admin.call("GET", "/api/v1/devices", {}, {{"X-Forwarded-For", attacker}});
  CHECK(blocked.status == 429);
  CHECK(try_login(anon, "victim", "victim-password-1", attacker).status == 429);
  // ...and everyone else goes on as before.
  CHECK(admin.call("GET", "/api/v1/devices", {}, {{"X-Forwarded-For", "198.51.100.67"}}).status == 200);
  CHECK(anon.call("GET", "/api/v1/devices", {}, {{"X-Forwarded-For", "198.51.100.67"}}).status == 401);
  // IPv6 clients are counted by their /64: rotating through one's prefix does not help.
  auto v6 = flood(anon, "2001:db8:1:2::1", 220);
  CHECK(v6.statuses[401] >= 200);
  CHECK(v6.statuses[429] > 0);
  CHECK(anon.call("GET", "/api/v1/devices", {}, {{"X-Forwarded-For", "2001:db8:1:2:ffff::9"}}).status == 429);
  CHECK(anon.call("GET", "/api/v1/devices", {}, {{"X-Forwarded-For", "2001:db8:1:3::1"}}).status == 401);
}

TEST_CASE("an unknown API key is looked up once, then remembered for a while") {
  Api anon(throttle_stack(), As::anonymous);
  const std::string key = "dmk_" + dm::base64url_encode(dm::gateway::random_bytes(32));
  auto before = key_lookups();
  for (int i = 0; i < 50; ++i) {
    auto r = anon.call("GET", "/api/v1/devices", {}, {{"X-API-Key", key}, {"X-Forwarded-For", "198.51.100.70"}});
    CHECK(r.status == 401);
  }
  CHECK(key_lookups() - before == 1);
  // A real key still works at once (the cache holds only what the database did not know).
  Api admin(throttle_stack(), As::admin);
  auto made = admin.post("/api/v1/auth/api-keys", R"({"name":"real"})");
  REQUIRE(made.status == 201);
  CHECK(anon.call("GET", "/api/v1/devices", {}, {{"X-API-Key", made.str("key")}}).status == 200);
}
