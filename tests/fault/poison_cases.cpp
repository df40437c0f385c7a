// Poison: inputs that must be refused at the edge (4xx, nothing stored) or, once accepted,
// end as a recorded error or a dead letter — never retried forever, never holding up the
// healthy uplinks around them.
#include <catch2/catch.hpp>
#include <random>

#include "dm/http/client.hpp"
#include "suite.hpp"

using namespace dm;
using namespace dm::fault;
using namespace std::chrono_literals;

namespace {

struct Posted {
  int status = 0;
  std::string body;
};

Posted post_raw(const std::string& body, const std::string& content_type = "application/json") {
  auto r = http::fetch("POST", stack().url("ingest") + "/api/v1/ingest/chirpstack?event=up", body,
                       {{"Authorization", "Bearer " + kSecret}, {"Content-Type", content_type}});
  return r ? Posted{r->status, r->body} : Posted{0, r.error().message};
}

std::string uplink_with(const std::string& eui, const std::string& dedup, const std::string& name,
                        const std::string& extra = "") {
  return R"({"deduplicationId":")" + dedup + R"(","time":"2026-12-04T10:00:00Z","deviceInfo":{"deviceName":")" + name +
         R"(","devEui":")" + eui + R"(","tags":{}},"fCnt":1,"fPort":2,"data":"AQID","object":{}})" + extra;
}

// The inputs the issue names, and their close relatives.
std::vector<std::pair<std::string, std::string>> named_poison(const std::string& eui) {
  std::string valid = uplink_with(eui, "poison-valid", "ok");
  return {
      {"NUL in deduplicationId", uplink_with(eui, "nul\\u0000id", "x")},
      {"invalid UTF-8 in deviceName", uplink_with(eui, "bad-utf8", "\xff\xfe")},
      {"control character in deviceName", uplink_with(eui, "ctl-name", "a\\u0007b")},
      {"deduplicationId with spaces and slashes", uplink_with(eui, "a b/c", "x")},
      {"deduplicationId of 300 characters", uplink_with(eui, std::string(300, 'a'), "x")},
      {"duplicate keys",
       R"({"deduplicationId":"dup-keys","deduplicationId":"other","deviceInfo":{"devEui":")" + eui + R"("},"fCnt":1})"},
      {"tags not an object", R"({"deduplicationId":"tags","deviceInfo":{"devEui":")" + eui + R"(","tags":[1,2]}})"},
      {"deviceInfo not an object", R"({"deduplicationId":"devinfo","deviceInfo":"x"})"},
      {"truncated JSON", valid.substr(0, valid.size() / 2)},
      {"not JSON", "<xml>uplink</xml>"},
      {"empty body", ""},
  };
}

// Mutations of a valid body (bytes flipped, cut, repeated): most are refused; those that are
// accepted must flow like any uplink.
std::vector<std::string> generated_poison(const std::string& eui, int count) {
  std::mt19937 rng(7);
  std::string base = uplink_with(eui, "gen-base", "generated");
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string b = base;
    switch (rng() % 4) {
      case 0:
        b[rng() % b.size()] = static_cast<char>(rng() % 256);
        break;
      case 1:
        b.resize(rng() % b.size());
        break;
      case 2:
        b.insert(rng() % b.size(), std::string(1 + rng() % 8, static_cast<char>(rng() % 256)));
        break;
      default:
        b.erase(rng() % b.size(), 1 + rng() % 8);
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

TEST_CASE("poison inputs are refused or dead-lettered, and 1000 healthy uplinks around them all arrive",
          "[ci][poison]") {
  Scenario s = make_scenario("poison");
  Load load(stack(), kSecret, s.euis, "poison", 200);
  Report r;
  r.name = "poison";
  load.start();
  std::size_t accepted_poison = 0;
  std::vector<std::string> refused_named;
  for (const auto& [what, body] : named_poison(s.euis[0])) {
    auto p = post_raw(body);
    INFO(what << ": " << p.status << " " << p.body);
    CHECK(p.status >= 400);
    CHECK(p.status < 500);
    if (p.status >= 400 && p.status < 500) refused_named.push_back(what);
  }
  CHECK(post_raw(uplink_with(s.euis[0], "plain-text", "x"), "text/plain").status >= 400);
  int five_hundreds = 0;
  for (const auto& body : generated_poison(s.euis[1], 300)) {
    auto p = post_raw(body);
    if (p.status >= 500) ++five_hundreds;
    if (p.status >= 200 && p.status < 300) ++accepted_poison;
  }
  CHECK(five_hundreds == 0);
  // Accepted, but its function throws a 10 MB error: a recorded error run, not an endless retry.
  for (int i = 0; i < 3; ++i) CHECK(load.post(900000 + i, R"({"boom":10000000})"));
  // 1000 healthy uplinks in all (200/s for 5 s).
  wait_until([&] { return load.acked().size() >= 1003; }, 30s, 50ms);
  load.stop();
  auto t0 = Clock::now();
  auto acked = load.acked();
  std::erase_if(acked, [](std::int64_t n) { return n >= 900000; });
  r.acked = acked.size();
  r.budget_s = 30;
  r.drained = wait_until(
      [&] {
        auto seen = receiver().seen("poison");
        r.lost = 0;
        for (auto n : acked)
          if (!seen.count(n)) ++r.lost;
        return r.lost == 0;
      },
      30s, 100ms);
  r.drain_s = seconds_since(t0);
  check_histories(s, load, r, 30s);
  // The boom uplinks: recorded as error runs (the error cut to its cap), delivered nowhere.
  std::size_t boom_errors = 0;
  REQUIRE(wait_until(
      [&] {
        boom_errors = api().all("/api/v1/flows/" + s.flow + "/history?status=error", "id").size();
        return boom_errors >= 3;
      },
      30s, 500ms));
  for (const auto& [history, n] : r.missing) {
    // The boom uplinks are acknowledged too; only deliveries lack them, as they should.
    if (history == "deliveries") r.missing[history] = n >= 3 ? n - 3 : n;
  }
  r.notes.push_back(std::to_string(refused_named.size()) + " named inputs refused");
  r.notes.push_back(std::to_string(accepted_poison) + " of 300 generated inputs accepted");
  print(r);
  require_ok(r);
  // Nothing is retried forever: the orchestrator stops handing uplinks back.
  double deferred = testing::metric_value(stack(), "flow-orchestrator", "dm_orchestrator_uplinks_deferred_total");
  std::this_thread::sleep_for(3s);
  CHECK(testing::metric_value(stack(), "flow-orchestrator", "dm_orchestrator_uplinks_deferred_total") == deferred);
}
