// Login throttling (10 failures per account or per client address within 5 minutes → 429
// with Retry-After; other accounts and addresses unaffected), equal answers for unknown
// users, and closed registration. This stack trusts X-Forwarded-For from loopback, so one
// test process can speak for many client addresses.
#include <algorithm>

#include "api_fixture.hpp"

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
