// Lanes: a slow function holds up only the lane running it, and one device's uplinks are
// processed in arrival order (never in two lanes at once).
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

const char* kSlow = "function f(m) { const t = Date.now(); while (Date.now() - t < 1200) {} return {f_cnt: m.f_cnt}; }";

// The runner runs a function's executions on its "home" worker (its compiled context is cached
// there), so a fast function sharing the slow one's worker would wait in the runner whatever the
// orchestrator does. Pick a fast function that answers while the slow one keeps its worker busy.
std::string fast_function_beside(const std::string& slow_fn) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto fast = create_function("function f(m) { return {f_cnt: m.f_cnt}; }");
    std::thread busy([&] {
      (void)call_once("POST", "/api/v1/functions/" + slow_fn + "/test", R"({"input":{},"timeout_ms":3000})");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto t0 = std::chrono::steady_clock::now();
    auto r = call("POST", "/api/v1/functions/" + fast + "/test", R"({"input":{"f_cnt":1}})");
    auto waited = std::chrono::steady_clock::now() - t0;
    busy.join();
    if (r.status == 200 && waited < std::chrono::milliseconds(600)) return fast;
  }
  FAIL("every fast function shared the slow function's runner worker");
  return {};
}

}  // namespace

TEST_CASE("a slow function on one device does not hold up another device; each keeps its order") {
  const std::string slow_eui = new_eui(), fast_eui = new_eui();
  auto slow_device = create_device(slow_eui);
  auto fast_device = create_device(fast_eui);
  auto slow_fn = create_function(kSlow);
  auto fast_fn = fast_function_beside(slow_fn);
  auto slow_flow = create_flow({{"t", "device", slow_device, ""}, {"f", "function", slow_fn, ""}}, {{"t", "f"}});
  auto fast_flow = create_flow({{"t", "device", fast_device, ""}, {"f", "function", fast_fn, ""}}, {{"t", "f"}});
  REQUIRE(view_has_flows());

  std::vector<std::string> slow_ids, fast_ids;
  for (int i = 1; i <= 3; ++i) {
    slow_ids.push_back(unique("slow") + "-" + slow_eui);
    REQUIRE(post_uplink(uplink(slow_eui, slow_ids.back(), i, R"({"n":1})")).status < 300);
    // The first goes alone (past the linger), so the others wait for its device instead of
    // joining its batch and taking the runner's other worker too.
    if (i == 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the slow lane is busy now
  for (int i = 1; i <= 3; ++i) {
    fast_ids.push_back(unique("fast") + "-" + fast_eui);
    REQUIRE(post_uplink(uplink(fast_eui, fast_ids.back(), i, R"({"n":1})")).status < 300);
  }

  // The fast device's runs are recorded while the slow device's are still running (they need
  // at least 1.2 s each; with one batch at a time the fast ones would wait for them).
  REQUIRE(eventually([&] { return run_count(fast_flow) == 3; }, std::chrono::seconds(20)));
  CHECK(run_count(slow_flow) < 3);

  REQUIRE(eventually([&] { return run_count(slow_flow) == 3; }, std::chrono::seconds(30)));
  CHECK(run_count(slow_flow, "&status=success") == 3);  // none timed out
  // Arrival order per device (history is newest first), and the fast runs finished first.
  auto slow = call("GET", "/api/v1/flows/" + slow_flow + "/history");
  auto fast = call("GET", "/api/v1/flows/" + fast_flow + "/history");
  REQUIRE(slow.json.Size() == 3);
  REQUIRE(fast.json.Size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(std::string(json::view(slow.json[2 - i]["dedup_id"])) == slow_ids[i]);
    CHECK(std::string(json::view(fast.json[2 - i]["dedup_id"])) == fast_ids[i]);
  }
  std::string last_fast(json::view(fast.json[0]["created_at"]));
  std::string last_slow(json::view(slow.json[0]["created_at"]));
  CHECK(last_fast < last_slow);  // RFC 3339 UTC with fixed digits: text order is time order
}
