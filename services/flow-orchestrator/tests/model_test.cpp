// Pure parts of the orchestrator: reading the registry's view, the function input message,
// run status rules, the flow-completed event, lanes, simulate bodies and replay keys.
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "batches.hpp"
#include "dm/contract/batch.hpp"
#include "dm/contract/work.hpp"
#include "dm/json/json.hpp"
#include "engine.hpp"
#include "processor.hpp"
#include "replay.hpp"
#include "simulate.hpp"
#include "view.hpp"

using namespace dm;
using namespace dm::flow_orchestrator;

TEST_CASE("flows from the registry's internal view become indexed graphs") {
  auto flows = parse_flows(R"([
    {"id":"f1","name":"a","enabled":true,"version":3,
     "nodes":[{"id":"t","type":"device","entity_id":"d1","parameters":null,"label":""},
              {"id":"fn","type":"function","entity_id":"x","parameters":{"threshold":30},"label":""},
              {"id":"i","type":"integration","entity_id":"i1","parameters":null,"label":""}],
     "edges":[{"id":"e1","source":"t","target":"fn"},{"id":"e2","source":"fn","target":"i"},
              {"id":"bad","source":"t","target":"nowhere"}]},
    {"id":"f2","name":"off","enabled":false,"version":1,"nodes":[],"edges":[]}])");
  REQUIRE(flows.ok());
  REQUIRE(flows->size() == 1);  // disabled flows are left out
  const Flow& f = *(*flows)[0];
  CHECK(f.version == 3);
  REQUIRE(f.nodes.size() == 3);
  CHECK(f.nodes[0].next == std::vector<std::size_t>{1});  // the dangling edge is ignored
  CHECK(f.nodes[1].parameters == R"({"threshold":30})");
  CHECK(f.nodes[2].parameters == "{}");
  CHECK_FALSE(parse_flows("{}").ok());
  CHECK_FALSE(parse_flows("not json").ok());
}

TEST_CASE("devices keep their label ids") {
  auto devices = parse_devices(
      R"([{"id":"d1","dev_eui":"0004a30b001c0530","name":"n","labels":[{"id":"l1","name":"trackers"}]},{"id":"x"}])");
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 1);  // without a dev_eui a device cannot receive uplinks
  CHECK((*devices)[0].label_ids == std::vector<std::string>{"l1"});
  CHECK((*devices)[0].labels_json == R"([{"id":"l1","name":"trackers"}])");
}

TEST_CASE("the function input message follows the runner's convention") {
  auto event = json::parse(R"({"event_type":"up","dev_eui":"0004a30b001c0530","device_id":"d1","device_name":"dn",
    "dedup_id":"k","time":"2026-11-27T10:00:00Z","f_port":2,"f_cnt":7,"data":"AQID","object":{"temperature":21.5},
    "rssi":-40,"snr":9.5,"gateway_count":1})");
  REQUIRE(event.ok());
  Device d{"d1", "0004a30b001c0530", "greenhouse", {"l1"}, R"([{"id":"l1","name":"trackers"}])"};
  auto msg = json::parse(build_message(*event, &d));
  REQUIRE(msg.ok());
  CHECK(json::view((*msg)["device"]["name"]) == "greenhouse");
  CHECK((*msg)["device"]["labels"].Size() == 1);
  CHECK(json::view((*msg)["event"]) == "up");
  CHECK((*msg)["data"]["temperature"].GetDouble() == 21.5);
  CHECK(json::view((*msg)["payload"]["base64"]) == "AQID");
  REQUIRE((*msg)["payload"]["bytes"].Size() == 3);
  CHECK((*msg)["payload"]["bytes"][2].GetInt() == 3);
  CHECK((*msg)["rx"]["gateways"].GetInt() == 1);
  CHECK((*msg)["f_cnt"].GetInt() == 7);

  // Unknown device, no decoded object: the event's own fields, data {}.
  auto bare = json::parse(R"({"dev_eui":"0004a30b001c0531","dedup_id":"k","received_at":"2026-11-27T10:00:00Z"})");
  auto m2 = json::parse(build_message(*bare, nullptr));
  REQUIRE(m2.ok());
  CHECK((*m2)["device"]["id"].IsNull());
  CHECK((*m2)["data"].IsObject());
  CHECK((*m2)["data"].ObjectEmpty());
  CHECK(json::view((*m2)["time"]) == "2026-11-27T10:00:00Z");
  CHECK((*m2)["payload"]["bytes"].Empty());
}

TEST_CASE("run status from the branch endings") {
  CHECK(run_status(0, 0, 0) == "success");  // a trigger without edges
  CHECK(run_status(2, 0, 0) == "success");
  CHECK(run_status(1, 1, 0) == "success");
  CHECK(run_status(0, 2, 0) == "filtered");
  CHECK(run_status(1, 0, 1) == "partial_success");
  CHECK(run_status(0, 1, 1) == "partial_success");
  CHECK(run_status(0, 0, 2) == "error");
}

TEST_CASE("the flow-completed event has the schema's fields") {
  Run r;
  r.run_key = run_key("f1", "dd");
  r.flow_id = "f1";
  r.flow_version = 2;
  r.dedup_id = "dd";
  r.dev_eui = "0004a30b001c0530";
  r.status = "success";
  r.at = "2026-11-27T10:00:00Z";
  r.path.push_back({"n1", "device", "d1", "success", 0, std::nullopt});
  r.path.push_back({"n2", "function", "x", "error", 1.5, std::string("boom")});
  auto doc = json::parse(completed_json(r));
  REQUIRE(doc.ok());
  CHECK(json::view((*doc)["run_key"]) == "f1:up:dd");
  CHECK(json::view((*doc)["run_id"]) == "f1:up:dd");
  CHECK((*doc)["path"].Size() == 2);
  CHECK((*doc)["path"][0]["error"].IsNull());
  CHECK(json::view((*doc)["path"][1]["error"]) == "boom");
  CHECK((*doc)["replay"].IsBool());
}

namespace {
struct FakeUplink {
  std::string device;
  int n = 0;
  const std::string& name() const { return device; }
};
using FakeBatches = Batches<FakeUplink>;
std::vector<int> numbers(const FakeBatches::Batch& batch) {
  std::vector<int> out;
  for (const auto& u : batch.messages) out.push_back(u.n);
  return out;
}
}  // namespace

TEST_CASE("batches: one batch takes all that waits; a running device's uplinks wait, in order") {
  using namespace std::chrono_literals;
  Batches<FakeUplink> b(100, 3, 0ms);
  for (auto [device, n] : std::vector<std::pair<const char*, int>>{{"a", 1}, {"b", 2}, {"a", 3}, {"c", 4}, {"d", 5}}) {
    FakeUplink u{device, n};
    CHECK(b.push(u) == Batches<FakeUplink>::Pushed::queued);
  }
  // At most 3, in arrival order; a's second uplink goes with its first.
  auto first = b.take();
  CHECK(numbers(first) == std::vector<int>{1, 2, 3});
  CHECK(b.size() == 2);
  FakeUplink late{"a", 6};
  b.push(late);
  // a is running: its later uplink waits, the others go.
  auto second = b.take();
  CHECK(numbers(second) == std::vector<int>{4, 5});
  // Only a's remains and a is running: a collector waits until a's batch is done.
  FakeBatches::Batch third;
  std::thread collector([&] { third = b.take(); });
  std::this_thread::sleep_for(50ms);
  CHECK(third.messages.empty());
  CHECK(first.claim.devices == std::unordered_set<std::string>{"a", "b"});
  b.done(first.claim);
  collector.join();
  CHECK(numbers(third) == std::vector<int>{6});
  b.stop();
  CHECK(b.take().messages.empty());
  FakeUplink refused{"e", 7};
  CHECK(b.push(refused) == Batches<FakeUplink>::Pushed::stopping);
  CHECK(refused.n == 7);  // left as it was, to be handed back
}

TEST_CASE("batches: under load each batch takes one group of devices, so the lanes share a small fleet") {
  using namespace std::chrono_literals;
  FakeBatches b(1000, 8, 0ms, 4);
  // 4 devices, 8 uplinks each, interleaved: a full batch's worth is queued.
  const std::vector<std::string> devices = {"d0", "d1", "d2", "d3"};
  int n = 0;
  for (int round = 0; round < 8; ++round)
    for (const auto& d : devices) {
      FakeUplink u{d, ++n};
      b.push(u);
    }
  std::vector<FakeBatches::Batch> running;
  std::set<std::size_t> groups;
  while (b.size() >= 8 && running.size() < 4) {
    auto batch = b.take();
    REQUIRE(!batch.messages.empty());
    // One group per batch, never one held by another loaded batch.
    REQUIRE(batch.claim.group != FakeBatches::kNoGroup);
    CHECK(groups.insert(batch.claim.group).second);
    for (const auto& u : batch.messages) CHECK(group_of(u.device, 4) == batch.claim.group);
    running.push_back(std::move(batch));
  }
  CHECK(running.size() >= 2);  // not one batch holding the whole fleet
  for (auto& batch : running) b.done(batch.claim);
  b.stop();
}

TEST_CASE("batches: the collector lingers for more, and a full queue holds the fetcher back") {
  using namespace std::chrono_literals;
  Batches<FakeUplink> b(2, 10, 1000ms);  // a linger a loaded machine cannot outsleep
  std::thread fetcher([&] {
    for (int n = 1; n <= 3; ++n) {
      FakeUplink u{"dev" + std::to_string(n), n};
      auto how = b.push(u);
      if (n == 3) CHECK(how == Batches<FakeUplink>::Pushed::waited);  // 2 queued: waits for room
      std::this_thread::sleep_for(10ms);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto first = b.take();  // lingers: both of the first two arrive within it
  CHECK(numbers(first) == std::vector<int>{1, 2});
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  fetcher.join();
  b.done(first.claim);
  CHECK(numbers(b.take()) == std::vector<int>{3});
  b.stop();
  CHECK(b.drain().empty());
}

TEST_CASE("one flow from GET /internal/v1/flows/{id}, enabled or not") {
  auto f = parse_flow(R"({"id":"f2","name":"off","enabled":false,"version":4,
    "nodes":[{"id":"t","type":"label","entity_id":"l1"},{"id":"i","type":"integration","entity_id":"i1"}],
    "edges":[{"id":"e","source":"t","target":"i"}]})");
  REQUIRE(f.ok());
  CHECK((*f)->id == "f2");
  CHECK((*f)->version == 4);
  CHECK((*f)->nodes[0].next == std::vector<std::size_t>{1});
  CHECK_FALSE(parse_flow("[]").ok());
  CHECK_FALSE(parse_flow(R"({"name":"no id"})").ok());
}

TEST_CASE("simulate bodies: the simple shape and a device event both become a device event") {
  auto simple = read_sample(R"({"dev_eui":"0004A30B001C0530","data":{"t":1},"payload":"AQ==","f_port":3})");
  REQUIRE(simple.sample);
  CHECK(simple.sample->dev_eui == "0004a30b001c0530");
  auto ev = json::parse(simple.sample->event);
  REQUIRE(ev.ok());
  CHECK((*ev)["object"]["t"].GetInt() == 1);
  CHECK(json::view((*ev)["data"]) == "AQ==");
  CHECK((*ev)["f_port"].GetInt() == 3);
  CHECK(json::view((*ev)["event_type"]) == "up");

  auto event = read_sample(R"({"event_type":"up","device_id":"d1","object":{"t":2},"data":"AQID","dedup_id":"x"})");
  REQUIRE(event.sample);
  CHECK(event.sample->device_id == "d1");
  auto ev2 = json::parse(event.sample->event);
  REQUIRE(ev2.ok());
  CHECK((*ev2)["object"]["t"].GetInt() == 2);
  CHECK(json::view((*ev2)["data"]) == "AQID");

  auto no_object = read_sample(R"({"event_type":"up","data":"AQID"})");  // an event without a decoded object
  REQUIRE(no_object.sample);

  for (const char* bad :
       {"", "[]", "{", "{}", R"({"data":5})", R"({"data":{},"dev_eui":"12"})", R"({"data":{},"f_port":-1})",
        R"({"data":{},"time":"yesterday"})", R"({"event_type":"join","object":{}})", R"({"object":[1]})"}) {
    INFO(bad);
    auto r = read_sample(bad);
    CHECK_FALSE(r.sample);
    REQUIRE(r.error);
    CHECK(r.error->status == 422);
  }
}

TEST_CASE("a simulation starts at the trigger naming the device or one of its labels") {
  auto f = parse_flow(R"({"id":"f","nodes":[{"id":"fn","type":"function","entity_id":"x"},
    {"id":"d","type":"device","entity_id":"dev-2"},{"id":"l","type":"label","entity_id":"lab-1"}],"edges":[]})");
  REQUIRE(f.ok());
  Device d{"dev-1", "0004a30b001c0530", "n", {"lab-1"}, "[]"};
  CHECK(pick_trigger(**f, &d, "") == std::optional<std::size_t>(2));            // by label
  CHECK(pick_trigger(**f, nullptr, "dev-2") == std::optional<std::size_t>(1));  // by device id
  CHECK(pick_trigger(**f, nullptr, "") == std::optional<std::size_t>(1));       // the first trigger
  auto none = parse_flow(R"({"id":"f","nodes":[{"id":"fn","type":"function","entity_id":"x"}],"edges":[]})");
  REQUIRE(none.ok());
  CHECK_FALSE(pick_trigger(**none, nullptr, ""));
}

TEST_CASE("a replay's run key differs from the original's and from other replays") {
  auto a = new_replay_id(), b = new_replay_id();
  CHECK(a.size() == 32);
  CHECK(a != b);
  CHECK(replay_key("f1", "dd", a) == "f1:replay:dd:" + a);
  CHECK(replay_key("f1", "dd", a) != run_key("f1", "dd"));
}

TEST_CASE("a level's delivery jobs go to DM_DISPATCH as one message per target, in their order") {
  auto job = [](const std::string& target, const std::string& id, bool repeat = false) {
    return DeliveryJob{target, id, R"({"job_id":")" + id + R"("})", repeat};
  };
  std::vector<DeliveryJob> jobs = {job("t1", "a"),       job("t2", "b"), job("t1", "c"),
                                   job("t1", "d", true), job("t3", "e"), job("t1", "f")};
  auto messages = pack_jobs(jobs, 1 << 20);
  REQUIRE(messages.size() == 4);
  // A repeat goes alone, de-duplicated on its job id and marked for the dispatcher to look up.
  CHECK(messages[0].target_id == "t1");
  CHECK(messages[0].jobs == std::vector<std::size_t>{3});
  CHECK(messages[0].msg_id == "d");
  REQUIRE(messages[0].headers.size() == 1);
  CHECK(messages[0].headers[0].key == contract::kRepeatHeader);
  CHECK(messages[0].body == jobs[3].body);
  // The others of one target share a batch, in job order (one device's jobs keep their order).
  CHECK(messages[1].target_id == "t1");
  CHECK(messages[1].jobs == std::vector<std::size_t>{0, 2, 5});
  CHECK(messages[1].msg_id.empty());
  REQUIRE(messages[1].headers.size() == 1);
  CHECK(messages[1].headers[0].key == contract::kJobBatchHeader);
  CHECK(messages[1].headers[0].value == "3");
  auto entries = contract::read_batch(messages[1].body);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "a");
  CHECK(entries[1].body == jobs[2].body);
  CHECK(entries[2].name == "f");
  // A target's only job goes alone, as an older dispatcher reads it too.
  CHECK(messages[2].target_id == "t2");
  CHECK(messages[2].body == jobs[1].body);
  CHECK(messages[2].headers.empty());
  CHECK(messages[3].jobs == std::vector<std::size_t>{4});

  // A job id the framing cannot carry (a node id with a newline) goes alone; the others still share.
  auto odd = pack_jobs({job("t", "a"), job("t", "run:node\nid"), job("t", "c")}, 1 << 20);
  REQUIRE(odd.size() == 2);
  CHECK(odd[0].jobs == std::vector<std::size_t>{1});
  CHECK(odd[0].headers.empty());
  CHECK(odd[1].jobs == std::vector<std::size_t>{0, 2});

  // Under the payload limit, and at most kMaxJobsPerMessage jobs a message.
  const auto one = contract::BatchWriter::entry_size("a", jobs[0].body);
  auto limited = pack_jobs({job("t", "a"), job("t", "a"), job("t", "a"), job("t", "a"), job("t", "a")}, 2 * one);
  REQUIRE(limited.size() == 3);
  CHECK(limited[0].jobs.size() == 2);
  CHECK(limited[2].jobs.size() == 1);
  std::vector<DeliveryJob> many(kMaxJobsPerMessage + 1, job("t", "x"));
  auto split = pack_jobs(many, 1 << 20);
  REQUIRE(split.size() == 2);
  CHECK(split[0].jobs.size() == kMaxJobsPerMessage);

  // A batch that LZ4 shrinks goes compressed, its encoding in a header (contract/batch.hpp).
  std::vector<DeliveryJob> wide(10, job("t", "w"));
  for (auto& j : wide) j.body = R"({"job_id":"w","message":")" + std::string(200, 'x') + R"("})";
  auto packed = pack_jobs(wide, 1 << 20);
  REQUIRE(packed.size() == 1);
  REQUIRE(packed[0].headers.size() == 2);
  CHECK(packed[0].headers[0].value == "10");
  CHECK(packed[0].headers[1].key == contract::kBatchEncodingHeader);
  CHECK(packed[0].body.size() < wide[0].body.size() * 2);
  std::string inflated;
  auto framing = contract::batch_framing(packed[0].body, packed[0].headers[1].value, inflated);
  REQUIRE(framing.ok());
  auto unpacked = contract::read_batch(*framing);
  REQUIRE(unpacked.size() == 10);
  CHECK(unpacked[9].body == wide[9].body);
}
