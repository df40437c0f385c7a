// The contract: subjects have the shapes proto/README.md documents, callers are read back from
// RPC subjects, every stream's consumer filters lie inside the stream, and the typed messages
// agree with proto/ (below).
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "dm/contract/caches.hpp"
#include "dm/contract/device_event.hpp"
#include "dm/contract/rpc.hpp"
#include "dm/contract/streams.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/taps.hpp"
#include "dm/contract/work.hpp"
#include "proto_files.hpp"

using namespace dm::contract;

TEST_CASE("subjects: shapes and tokens") {
  CHECK(subject::device_event("0004a30b001c0530", "up") == "dm.device.0004a30b001c0530.up");
  CHECK(subject::dev_eui_of("dm.device.0004a30b001c0530.up") == "0004a30b001c0530");
  CHECK(subject::dev_eui_of("other") == "other");
  CHECK(subject::dispatch("t-1") == "dm.work.dispatch.t-1");
  CHECK(subject::event_batch("up") == "dm.events.up");
  CHECK(subject::dead_letter("uplinks") == "dm.deadletter.uplinks");
  CHECK(subject::rpc(kRegistry, kIngest) == "dm.rpc.registry.ingest");
  CHECK(subject::rpc_served(kRegistry) == "dm.rpc.registry.*");
  CHECK(subject::rpc_caller("dm.rpc.registry.ingest", kRegistry) == "ingest");
  CHECK(subject::rpc_caller("dm.rpc.registry", kRegistry).empty());
  CHECK(subject::rpc_caller("dm.rpc.registry.a.b", kRegistry).empty());
  CHECK(subject::rpc_caller("dm.rpc.ingest.gateway", kRegistry).empty());
  CHECK(subject::inbox_prefix(kDispatcher) == "_INBOX.integration-dispatcher");
}

TEST_CASE("streams: discard-new limits, a work queue for jobs, consumers that never give up on their own") {
  dm::Config c;
  c.set("STREAM_REPLICAS", "3");
  c.set("ORCHESTRATOR_ACK_WAIT", "5s");
  auto s = read_stream_settings(c);
  REQUIRE(c.problems().empty());
  auto events = device_events_stream(s);
  auto jobs = dispatch_stream(s);
  CHECK(events.replicas == 3);
  CHECK(events.discard_new);
  CHECK(events.subjects == std::vector<std::string>{subject::kEventBatches});
  CHECK(jobs.retention == dm::bus::Retention::work_queue);
  CHECK(jobs.max_bytes == 1LL << 30);
  auto all = consumers(s);
  REQUIRE(all.size() == 3);
  for (const auto& def : all) CHECK(def.config.max_deliver == -1);
  CHECK(all[1].config.filter_subject == subject::kUplinkBatches);
  CHECK(all[1].config.ack_wait == std::chrono::seconds(5));
  dm::Config bad;
  bad.set("STREAM_REPLICAS", "2");
  read_stream_settings(bad);
  CHECK(bad.problems().size() == 1);
}

TEST_CASE("rpc rules: public routes for the gateway alone, each internal route for the one service needing it") {
  CHECK(rpc_allowed(kRegistry, kGateway, "POST", "/api/v1/labels"));
  CHECK_FALSE(rpc_allowed(kRegistry, kRunner, "POST", "/api/v1/labels"));
  CHECK_FALSE(rpc_allowed(kRegistry, kIngest, "GET", "/api/v1/devices"));
  CHECK(rpc_allowed(kRegistry, kDispatcher, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kIngest, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kRunner, "GET", "/internal/v1/integrations/x"));
  CHECK(rpc_allowed(kRegistry, kOrchestrator, "GET", "/internal/v1/devices"));
  CHECK_FALSE(rpc_allowed(kRegistry, kOrchestrator, "POST", "/internal/v1/devices/state"));
  CHECK(rpc_allowed(kRegistry, kIngest, "POST", "/internal/v1/devices/state"));
  CHECK_FALSE(rpc_allowed(kRegistry, kGateway, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kDispatcher, "GET", "/internal/v1/integrationsX"));
  CHECK(rpc_allowed(kRunner, kOrchestrator, "POST", "/api/v1/functions/abc/test"));
  CHECK_FALSE(rpc_allowed(kRunner, kOrchestrator, "GET", "/api/v1/functions/abc"));
  CHECK(rpc_allowed(kRunner, kRegistry, "POST", "/internal/v1/compile"));
  CHECK_FALSE(rpc_allowed(kGateway, kGateway, "GET", "/api/v1/x"));  // the gateway serves no RPC
  auto owners = rpc_owners_of(kOrchestrator);
  CHECK(owners.size() == 3);  // registry, ingest, function-runner
  CHECK(rpc_owners_of(kDispatcher) == std::vector<std::string_view>{kRegistry});
}

// ---- The typed messages (dm/contract/work.hpp, taps.hpp, ...) against proto/: every decoder
// accepts every example and refuses every counter-example (but those it cannot see, each said
// below), what it decodes encodes back to a schema-valid message that decodes the same, and the
// encoders write what the producers wrote by hand before them, byte for byte.

namespace {

namespace proto = dm::testing::proto;

// What the tests do with one schema's messages.
struct Codec {
  std::string schema;
  std::function<dm::Result<void>(std::string_view)> decode;
  // Decodes, encodes, decodes again (the two must agree): the encoding, or why not.
  std::function<dm::Result<std::string>(std::string_view)> round_trip;
  // Counter-examples the decoder accepts, each with the reason: what makes them invalid is a
  // rule for producers only, or about fields no consumer reads.
  std::map<std::string, std::string> unseen;
};

const char* const kUnknownFields = "an unknown field: consumers ignore what they do not know (proto/README.md)";

// A request is refused when the whole of it is, or any execution in it.
dm::Result<std::vector<Execution>> executions(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto items, decode_exec_request(text));
  std::vector<Execution> out;
  for (auto& item : items) {
    if (!item.execution) return item.execution.take_error();
    out.push_back(std::move(*item.execution));
  }
  return out;
}

dm::Result<std::vector<ExecResult>> results(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto items, decode_exec_reply(text));
  std::vector<ExecResult> out;
  for (auto& item : items) {
    if (!item) return item.take_error();
    out.push_back(std::move(*item));
  }
  return out;
}

std::string encode(const std::vector<Execution>& list) {
  ExecRequestBuilder b;
  for (const auto& x : list) b.add(dm::contract::encode(x));
  return b.take();
}

std::string encode(const std::vector<ExecResult>& list) {
  ExecReplyWriter w;
  for (const auto& r : list) w.add(r);
  return w.take();
}

template <typename T>
dm::Result<std::string> round_trip(dm::Result<T> (*decode)(std::string_view), std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto first, decode(text));
  std::string out = encode(first);
  DM_ASSIGN_OR_RETURN(auto second, decode(out));
  if (!(first == second)) return dm::Error(dm::Errc::internal, "decoded again, it differs: " + out);
  return out;
}

template <typename T>
Codec codec(std::string schema, dm::Result<T> (*decode)(std::string_view),
            std::map<std::string, std::string> unseen = {}) {
  return {std::move(schema),
          [decode](std::string_view text) -> dm::Result<void> {
            DM_TRY(decode(text));
            return dm::ok();
          },
          [decode](std::string_view text) { return round_trip(decode, text); }, std::move(unseen)};
}

const std::vector<Codec>& codecs() {
  static const std::vector<Codec> all = {
      codec("auth-changed", decode_auth_changed, {{"secret.json", kUnknownFields}}),
      codec("cache-invalidate", decode_cache_invalidate, {{"extra.json", kUnknownFields}}),
      codec("dead-letter", decode_dead_letter),
      codec("delivery-job", decode_delivery_job),
      codec("delivery-result", decode_delivery_result),
      codec("device-state", decode_device_state),
      codec("flow-completed", decode_flow_completed),
      codec("function-exec-request", executions),
      codec("function-exec-reply", results),
      codec("function-run", decode_function_run),
      codec("registry-change", decode_registry_change),
      codec("rpc-error", decode_rpc_error),
      // Ingest writes device events (its tests check them against the schema); consumers only
      // read, so there is nothing to encode back.
      {"device-event",
       [](std::string_view text) -> dm::Result<void> {
         DM_TRY(decode_device_event(text));
         return dm::ok();
       },
       nullptr,
       {{"latitude-out-of-range.json", "location: read by no consumer"},
        {"log-level-uppercase.json", "log: read by no consumer"},
        {"missing-raw.json", "raw: read by no consumer (its bytes are skipped)"},
        {"status-without-battery.json", "status fields: read by no consumer of the message"},
        {"unknown-field.json", kUnknownFields},
        {"unknown-source-format.json", "source_format: read by no consumer"},
        {"up-without-f-cnt.json", "an absent nullable field reads as null (events written by an older ingest)"}}},
  };
  return all;
}

void check_valid(const std::string& schema, const std::string& text) {
  auto why = proto::schema_violation(schema, text);
  INFO(text);
  INFO(why.value_or(""));
  CHECK_FALSE(why);
}

}  // namespace

TEST_CASE("words: every enum word parses back to its value, anything else to nothing") {
  auto check = []<typename E>(E) {
    for (std::size_t i = 0; i < Words<E>::names.size(); ++i) {
      auto word = Words<E>::names[i];
      CHECK(to_string(static_cast<E>(i)) == word);
      CHECK(parse<E>(word) == static_cast<E>(i));
    }
    CHECK_FALSE(parse<E>(""));
    CHECK_FALSE(parse<E>("Success"));
  };
  check(ExecStatus{});
  check(LogLevel{});
  check(RunStatus{});
  check(StepStatus{});
  check(DeliveryStatus{});
  check(JobKind{});
  check(RegistryKind{});
  check(ChangeAction{});
  check(DeviceState{});
  check(StateReason{});
  check(EventType{});
  check(DeadLetterKind{});
  CHECK(to_string(DeadLetterKind::device_events) == "device-events");
}

TEST_CASE("messages: a decoder for every schema in proto/") {
  std::set<std::string> covered;
  for (const auto& c : codecs()) covered.insert(c.schema);
  for (const auto& name : proto::schema_names()) {
    CAPTURE(name);
    CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("messages: decoders accept every example and refuse every counter-example") {
  for (const auto& c : codecs()) {
    CAPTURE(c.schema);
    auto valid = proto::examples(c.schema);
    CHECK_FALSE(valid.empty());
    for (const auto& file : valid) {
      CAPTURE(file.filename().string());
      auto decoded = c.decode(proto::read_file(file));
      INFO((decoded ? std::string() : decoded.error().message));
      CHECK(decoded.ok());
    }
    std::set<std::string> unseen_files;
    for (const auto& file : proto::counter_examples(c.schema)) {
      const std::string name = file.filename().string();
      CAPTURE(name);
      auto decoded = c.decode(proto::read_file(file));
      if (c.unseen.count(name)) {
        unseen_files.insert(name);
        CHECK(decoded.ok());  // else it is no longer unseen: drop it from the list
        continue;
      }
      REQUIRE_FALSE(decoded.ok());
      CHECK(decoded.error().code == dm::Errc::invalid_argument);
    }
    CHECK(unseen_files.size() == c.unseen.size());  // every exception names an existing file
  }
}

TEST_CASE("messages: every example decodes, encodes to a valid message, and decodes the same") {
  for (const auto& c : codecs()) {
    if (!c.round_trip) continue;
    CAPTURE(c.schema);
    for (const auto& file : proto::examples(c.schema)) {
      CAPTURE(file.filename().string());
      auto encoded = c.round_trip(proto::read_file(file));
      INFO((encoded ? std::string() : encoded.error().message));
      REQUIRE(encoded.ok());
      check_valid(c.schema, *encoded);
    }
  }
}

// What the producers wrote by hand before the encoders, for the same values: the bytes on the
// wire did not change (and what the orchestrator and the registry will write once they switch).
TEST_CASE("encoders: delivery jobs and executions as the orchestrator writes them") {
  std::string run_key = "f-1:up:d-1", message = R"({"dev_eui":"0004a30b001c0530","t":21.5})";
  DeliveryJobRef job{.job_id = "f-1:up:d-1:n3",
                     .kind = JobKind::integration,
                     .target_id = "int-5",
                     .flow_id = "f-1",
                     .flow_run_id = run_key,
                     .node_id = "n3",
                     .dev_eui = "0004a30b001c0530",
                     .message = message,
                     .created_at = "2024-03-12T10:15:30.260000Z"};
  auto text = encode(job);
  CHECK(text == R"({"job_id":"f-1:up:d-1:n3","kind":"integration","target_id":"int-5","flow_id":"f-1",)"
                R"("flow_run_id":"f-1:up:d-1","node_id":"n3","dev_eui":"0004a30b001c0530",)"
                R"("message":{"dev_eui":"0004a30b001c0530","t":21.5},"created_at":"2024-03-12T10:15:30.260000Z"})");
  check_valid("delivery-job", text);
  auto back = decode_delivery_job(text);
  REQUIRE(back.ok());
  CHECK(back->message == message);
  CHECK(back->kind == JobKind::integration);

  ExecutionRef x{
      .id = "f-1:up:d-1:n2",
      .function_id = "fn-7",
      .version = 1,
      .input = message,
      .parameters = "{}",
      .timeout_ms = 1000,
      .context = BasicExecContext<std::string_view>{
          .flow_id = "f-1", .flow_run_id = run_key, .node_id = "n2", .dev_eui = "0004a30b001c0530", .replay = false}};
  auto one = encode(x);
  CHECK(one == R"({"id":"f-1:up:d-1:n2","function_id":"fn-7","version":1,"input":{"dev_eui":"0004a30b001c0530",)"
               R"("t":21.5},"parameters":{},"timeout_ms":1000,"context":{"flow_id":"f-1","flow_run_id":"f-1:up:d-1",)"
               R"("node_id":"n2","dev_eui":"0004a30b001c0530","replay":false}})");
  ExecRequestBuilder batch;
  CHECK(batch.count() == 0);
  batch.add(one);
  batch.add(one);
  CHECK(batch.count() == 2);
  CHECK(batch.size() == std::string("{\"executions\":[").size() + 2 * one.size() + 1 + 2);
  auto request = batch.take();
  CHECK(request == "{\"executions\":[" + one + "," + one + "]}");
  check_valid("function-exec-request", request);
  CHECK(batch.take() == "{\"executions\":[]}");  // starts again, empty
}

TEST_CASE("decoders: an invalid execution is refused alone, with the id it was sent with") {
  auto items = decode_exec_request(
      R"({"executions":[{"id":"a","function_id":"fn","version":1,"input":{},"parameters":{},"timeout_ms":5},)"
      R"({"id":"b","function_id":"fn.x","version":1,"input":{},"parameters":{},"timeout_ms":5},)"
      R"({"id":"c","function_id":"fn","version":1,"input":[],"parameters":{},"timeout_ms":5},7,)"
      R"({"function_id":"fn","version":1,"input":{},"parameters":{},"timeout_ms":5}]})");
  REQUIRE(items.ok());
  REQUIRE(items->size() == 5);
  CHECK((*items)[0].execution.ok());
  CHECK((*items)[0].execution->timeout_ms == 5);
  CHECK_FALSE((*items)[0].execution->context);
  CHECK((*items)[1].id == "b");
  REQUIRE_FALSE((*items)[1].execution.ok());
  CHECK((*items)[1].execution.error().message.find("field 'function_id' must be an id") == 0);
  CHECK((*items)[2].execution.error().message == "field 'input' must be an object");
  CHECK((*items)[3].id.empty());
  CHECK((*items)[3].execution.error().message == "an execution is an object");
  CHECK((*items)[4].execution.error().message == "field 'id' is required");
  for (const char* bad : {"", "[]", "{}", R"({"executions":[]})", R"({"executions":{}})"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_exec_request(bad).ok());
  }
}

TEST_CASE("encoders: execution results as the runner writes them; a bad result fails alone") {
  ExecResultRef success{.id = "r-1",
                        .version = 4,
                        .status = ExecStatus::success,
                        .output = R"({"v":2})",
                        .logs = R"([{"level":"info","message":"hi"}])",
                        .duration_ms = 0.25};
  ExecResultRef thrown{.id = "r-2",
                       .status = ExecStatus::error,
                       .logs = "",
                       .error = FnErrorRef{.message = "Error: nope", .stack = "at f (1:2)"},
                       .duration_ms = 1};
  ExecResultRef test_run{.status = ExecStatus::timeout, .error = FnErrorRef{.message = "too slow"}};
  CHECK(
      encode(test_run) ==
      R"({"status":"timeout","output":null,"logs":[],"error":{"message":"too slow","stack":null},"duration_ms":0.0})");
  ExecReplyWriter reply;
  reply.add(success);
  reply.add(thrown);
  auto text = reply.take();
  CHECK(text == R"({"results":[{"id":"r-1","version":4,"status":"success","output":{"v":2},)"
                R"("logs":[{"level":"info","message":"hi"}],"error":null,"duration_ms":0.25},)"
                R"({"id":"r-2","status":"error","output":null,"logs":[],)"
                R"j("error":{"message":"Error: nope","stack":"at f (1:2)"},"duration_ms":1.0}]})j");
  check_valid("function-exec-reply", text);
  CHECK(reply.take() == R"({"results":[]})");
  CHECK(encode(FnErrorRef{.message = "m"}) == R"({"message":"m","stack":null})");

  auto decoded = decode_exec_reply(R"({"results":[{"id":"a","status":"ok","output":null,"logs":[],"error":null,)"
                                   R"("duration_ms":1},{"id":"b","status":"filtered","output":null,"logs":[],)"
                                   R"("error":null,"duration_ms":1}]})");
  REQUIRE(decoded.ok());
  REQUIRE(decoded->size() == 2);
  CHECK((*decoded)[0].error().message ==
        "field 'results[0].status' must be success, filtered, error, timeout or unavailable");
  CHECK((*decoded)[1]->status == ExecStatus::filtered);
  CHECK((*decoded)[1]->logs == "[]");
}

TEST_CASE("encoders: flow runs and function runs as the orchestrator writes them") {
  std::vector<FlowStep> path = {{"t", "device", "", StepStatus::success, 0, std::nullopt},
                                {"n2", "function", "fn-7", StepStatus::error, 1.5, "boom"}};
  CHECK(encode(std::span<const FlowStep>(path)) ==
        R"([{"node_id":"t","type":"device","entity_id":null,"status":"success","duration_ms":0.0,"error":null},)"
        R"({"node_id":"n2","type":"function","entity_id":"fn-7","status":"error","duration_ms":1.5,"error":"boom"}])");
  FlowCompletedRef run{.flow_id = "f-1",
                       .flow_version = 3,
                       .run_id = "f-1:up:d-1",
                       .run_key = "f-1:up:d-1",
                       .dedup_id = "d-1",
                       .dev_eui = "0004a30b001c0530",
                       .status = RunStatus::partial_success,
                       .path = path,
                       .duration_ms = 2.25,
                       .replay = false,
                       .at = "2024-03-12T10:15:30.262000Z"};
  auto completed = encode(run);
  CHECK(completed == R"({"flow_id":"f-1","flow_version":3,"run_id":"f-1:up:d-1","run_key":"f-1:up:d-1",)"
                     R"("dedup_id":"d-1","dev_eui":"0004a30b001c0530","status":"partial_success","path":)" +
                         encode(std::span<const FlowStep>(path)) +
                         R"(,"duration_ms":2.25,"replay":false,"at":"2024-03-12T10:15:30.262000Z"})");
  check_valid("flow-completed", completed);
  auto back = decode_flow_completed(completed);
  REQUIRE(back.ok());
  CHECK(back->path == path);

  FunctionRunRef fn{.run_id = "f-1:up:d-1:n2",
                    .function_id = "fn-7",
                    .version = 4,
                    .flow_id = "f-1",
                    .flow_run_id = "f-1:up:d-1",
                    .node_id = "n2",
                    .dev_eui = "0004a30b001c0530",
                    .status = ExecStatus::error,
                    .duration_ms = 1.5,
                    .error = FnErrorRef{.message = "TypeError: x"},
                    .logs = R"([{"level":"warn","message":"w"}])",
                    .replay = true,
                    .at = "2024-03-12T10:15:30.262000Z"};
  auto recorded = encode(fn);
  CHECK(recorded == R"({"run_id":"f-1:up:d-1:n2","function_id":"fn-7","version":4,"flow_id":"f-1",)"
                    R"("flow_run_id":"f-1:up:d-1","node_id":"n2","dev_eui":"0004a30b001c0530","status":"error",)"
                    R"("duration_ms":1.5,"error":{"message":"TypeError: x","stack":null},)"
                    R"("logs":[{"level":"warn","message":"w"}],"replay":true,"at":"2024-03-12T10:15:30.262000Z"})");
  check_valid("function-run", recorded);
}

TEST_CASE("encoders: the registry's change and cache events, the gateway's credential event") {
  RegistryChange change{.kind = RegistryKind::function,
                        .action = ChangeAction::updated,
                        .id = "fn-7",
                        .version = 4,
                        .at = "2024-03-12T09:00:00.000000Z"};
  auto text = encode(change);
  CHECK(text == R"({"kind":"function","action":"updated","id":"fn-7","version":4,"at":"2024-03-12T09:00:00.000000Z"})");
  check_valid("registry-change", text);
  CHECK(encode(CacheInvalidate{}) == "{}");
  CHECK(encode(AuthChanged{}) == "{}");
  CHECK(encode(AuthChanged{"u-1"}) == R"({"user_id":"u-1"})");
  CHECK(encode(AuthChanged{"u-1", "g-1"}) == R"({"user_id":"u-1","origin":"g-1"})");
  CHECK(decode_cache_invalidate("{}").ok());
  CHECK_FALSE(decode_cache_invalidate("[]").ok());
  CHECK_FALSE(decode_auth_changed(R"({"user_id":7})").ok());
}

TEST_CASE("encoders: the dispatcher's delivery results, ingest's state changes, dead letters") {
  DeliveryResultRef r{.job_id = "j-1",
                      .kind = JobKind::storage,
                      .target_id = "st-1",
                      .flow_id = "f-1",
                      .dev_eui = "0004a30b001c0530",
                      .status = DeliveryStatus::retrying,
                      .attempt = 2,
                      .error = "HTTP 503 Service Unavailable",
                      .next_attempt_at = "2024-03-12T10:15:34.281000Z",
                      .duration_ms = 12.5,
                      .at = "2024-03-12T10:15:30.281000Z"};
  auto text = encode(r);
  CHECK(text ==
        R"({"job_id":"j-1","kind":"storage","target_id":"st-1","flow_id":"f-1","dev_eui":"0004a30b001c0530",)"
        R"("status":"retrying","attempt":2,"http_status":null,"error":"HTTP 503 Service Unavailable",)"
        R"("next_attempt_at":"2024-03-12T10:15:34.281000Z","duration_ms":12.5,"at":"2024-03-12T10:15:30.281000Z"})");
  check_valid("delivery-result", text);

  DeviceStateChange c{.dev_eui = "0004a30b001c0530",
                      .device_id = "9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a",
                      .device_name = "",
                      .state = DeviceState::online,
                      .previous_state = DeviceState::never_seen,
                      .reason = StateReason::uplink,
                      .at = "2024-03-12T11:20:00.004000Z"};
  text = encode(c);
  CHECK(text == R"({"dev_eui":"0004a30b001c0530","device_id":"9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a","device_name":"",)"
                R"("state":"online","previous_state":"never_seen","reason":"uplink","last_seen_at":null,)"
                R"("at":"2024-03-12T11:20:00.004000Z"})");
  check_valid("device-state", text);
  CHECK_FALSE(
      decode_device_state(R"({"dev_eui":"0004a30b001c0530","device_id":null,"state":"maintenance",)"
                          R"("previous_state":null,"reason":"config","last_seen_at":null,"at":"2024-03-12T11:20:00Z"})")
          .ok());

  // Whatever the refused item held, the tap stays printable and valid.
  DeadLetterEvent d{.kind = DeadLetterKind::device_events,
                    .id = "0192f6c2-8a3b-7c1d-9e2f-3a4b5c6d7e8f",
                    .key = std::string("up:\x01\xff", 5),
                    .error = std::string(20000, 'e'),
                    .attempts = 1,
                    .at = "2024-03-12T10:15:30.281000Z"};
  text = encode(d);
  CHECK(
      text.find(
          R"("kind":"device-events","id":"0192f6c2-8a3b-7c1d-9e2f-3a4b5c6d7e8f","key":"up:\\x01\\xff","subject":null)") !=
      std::string::npos);
  check_valid("dead-letter", text);
}

TEST_CASE("decoders: device events give what consumers read and skip the rest") {
  auto up = decode_device_event(proto::read_file(proto::dir() / "examples/device-event/up-chirpstack-v4.json"));
  REQUIRE(up.ok());
  CHECK(up->event_type == EventType::up);
  CHECK(up->dev_eui == "0004a30b001c0530");
  CHECK(up->f_port == 2);
  REQUIRE(up->object);
  CHECK(up->object->front() == '{');
  auto join = decode_device_event(proto::read_file(proto::dir() / "examples/device-event/join.json"));
  REQUIRE(join.ok());
  CHECK_FALSE(join->f_port);
  CHECK_FALSE(join->object);
  // The original body is checked as JSON only: its contents are nobody's business here.
  auto raw_text = proto::read_file(proto::dir() / "examples/device-event/join.json");
  raw_text.replace(raw_text.find("\"raw\": {"), 8, "\"raw\": {\"x\": [[[1]]], ");
  CHECK(decode_device_event(raw_text).ok());
}

TEST_CASE("batches: each entry kept byte for byte, found again without parsing it") {
  // An event holds the webhook body as received: newlines, tabs and all.
  const std::string pretty = "{\n\t\"raw\": {\"a\": 1}\n}";
  BatchWriter batch;
  batch.add("dm.device.0000000000000001.up", pretty);
  batch.add("dm.device.0000000000000002.up", R"({"n":2})");
  batch.add("dm.device.0000000000000003.up", "");
  CHECK(batch.count() == 3);
  const auto expected = batch.size();
  auto body = batch.take();
  CHECK(body.size() == expected);
  CHECK(BatchWriter::entry_size("dm.device.0000000000000002.up", R"({"n":2})") ==
        std::string("dm.device.0000000000000002.up 7\n{\"n\":2}\n").size());
  CHECK(batch.count() == 0);
  CHECK(batch.size() == 0);
  auto entries = read_batch(body);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "dm.device.0000000000000001.up");
  CHECK(entries[0].body == pretty);
  CHECK(entries[1].name == "dm.device.0000000000000002.up");
  CHECK(entries[1].body == R"({"n":2})");
  CHECK(entries[2].body.empty());
  CHECK(read_batch("").empty());
  // What does not read as a batch from some point on is one last entry, kept whole for its
  // consumer to dead-letter: a header without a length, a length past the end.
  auto odd = read_batch("a 2\n{}\nno length here\n{}\n");
  REQUIRE(odd.size() == 2);
  CHECK(odd[0].body == "{}");
  CHECK(odd[1].name.empty());
  CHECK(odd[1].body == "no length here\n{}\n");
  auto cut = read_batch("a 20\n{}\n");
  REQUIRE(cut.size() == 1);
  CHECK(cut[0].name.empty());
}

TEST_CASE("batches: compressed when that pays, read back as written; what does not inflate is refused") {
  auto example = proto::read_file(proto::dir() / "examples/device-event/up-chirpstack-v4.json");
  BatchWriter batch;
  for (int i = 0; i < 10; ++i) batch.add("dm.device.0000000000000001.up", example);
  const auto framing = batch.take();
  dm::bus::Headers headers{{"Dm-Jobs", "10"}};
  const auto packed = pack_batch(framing, headers);
  REQUIRE(headers.size() == 2);  // the encoding is added to what the message had
  CHECK(headers[1].key == kBatchEncodingHeader);
  const std::optional<std::string> lz4 = headers[1].value;
  CHECK(lz4 == std::string(kBatchEncodingLz4));
  CHECK(packed.size() * 4 < framing.size());  // ten events of one shape: a quarter at most
  std::string storage;
  auto back = batch_framing(packed, lz4, storage);
  REQUIRE(back.ok());
  CHECK(*back == framing);
  // Without an encoding the body is the framing itself.
  auto plain = batch_framing(framing, std::nullopt, storage);
  REQUIRE(plain.ok());
  CHECK(plain->data() == framing.data());
  // Small batches, and what LZ4 cannot shrink by a tenth, go as they are.
  BatchWriter small;
  small.add("a", R"({"n":1})");
  dm::bus::Headers none;
  auto one_framing = small.take();
  CHECK(pack_batch(one_framing, none) == one_framing);
  std::mt19937 random(7);
  std::string noise;
  for (int i = 0; i < 4096; ++i) noise.push_back(static_cast<char>(random()));
  CHECK(pack_batch(noise, none) == noise);
  CHECK(none.empty());
  // Refused, a data error each: an encoding this build does not know, a body cut short or
  // claiming more than LZ4 can inflate to, a size that does not match.
  CHECK(batch_framing(packed, std::string("zstd"), storage).error().code == dm::Errc::invalid_argument);
  CHECK_FALSE(batch_framing(packed.substr(0, 3), lz4, storage).ok());
  CHECK_FALSE(batch_framing(packed.substr(0, packed.size() - 8), lz4, storage).ok());
  auto bomb = packed;
  bomb[3] = '\x7f';  // says it inflates to about 2 GB
  CHECK_FALSE(batch_framing(bomb, lz4, storage).ok());
  auto longer = packed;
  longer[0] = static_cast<char>(longer[0] + 1);
  CHECK_FALSE(batch_framing(longer, lz4, storage).ok());
}

TEST_CASE("rpc errors: a message is json::detail's body; problems keep their locations") {
  CHECK(encode(RpcError{"Device not found"}) == R"({"detail":"Device not found"})");
  RpcError problems{std::vector<RpcProblem>{{{"body", std::int64_t{3}, "id"}, "Field required", "missing"}}};
  auto text = encode(problems);
  CHECK(text == R"({"detail":[{"loc":["body",3,"id"],"msg":"Field required","type":"missing"}]})");
  auto back = decode_rpc_error(text);
  REQUIRE(back.ok());
  CHECK(*back == problems);
}

TEST_CASE("subject tokens: ids and DevEUIs as proto/README.md says") {
  CHECK(subject::is_token("9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a"));
  CHECK(subject::is_token("f_1"));
  CHECK_FALSE(subject::is_token(""));
  CHECK_FALSE(subject::is_token("a.b"));
  CHECK_FALSE(subject::is_token("a*"));
  CHECK_FALSE(subject::is_token(std::string(129, 'a')));
  CHECK(subject::is_dev_eui("0004a30b001c0530"));
  CHECK_FALSE(subject::is_dev_eui("0004A30B001C0530"));
  CHECK_FALSE(subject::is_dev_eui("0004a30b001c053"));
}
