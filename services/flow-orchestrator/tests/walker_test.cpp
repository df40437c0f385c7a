// The flow walk without a stack: the Walker and walk() over a fake runner and a fake queue.
#include <catch2/catch.hpp>
#include <functional>
#include <map>

#include "dm/json/json.hpp"
#include "walk.hpp"

using namespace dm;
using namespace dm::flow_orchestrator;

namespace {

// A runner answering each execution by its function id:
//   "ok" → {by: <node id>, input: <its input>}; "null" → output null (filtered); "filtered";
//   "boom" → error; "slow" → timeout; "gone" → unavailable (the runner could not run it).
// `down` fails every request as a missing runner would; `status` answers every request with it.
class FakeRunner final : public FunctionCalls {
 public:
  std::size_t payload = 1u << 20;
  std::optional<Error> down;
  std::optional<std::string> status;
  std::string body_override;                  // answers this body instead of the results
  std::vector<std::string> bodies;            // every request sent
  std::vector<std::size_t> sizes;             // executions per request
  std::vector<std::string> functions;         // function ids, in the order asked
  std::map<std::string, std::string> inputs;  // by node id: the last input

  std::size_t max_payload() const override { return payload; }
  std::future<std::vector<Result<RunnerReply>>> send(const std::vector<FunctionRequest>& requests) override {
    std::vector<Result<RunnerReply>> answers;
    for (const auto& r : requests) {
      bodies.push_back(r.body);
      sizes.push_back(r.executions.size());
      std::string results;
      for (const auto& e : r.executions) {
        functions.push_back(e.node->entity_id);
        inputs[e.node->id] = *e.input;
        results += (results.empty() ? "" : ",") + answer(e);
      }
      RunnerReply reply{status, body_override.empty() ? "{\"results\":[" + results + "]}" : body_override};
      answers.push_back(down ? Result<RunnerReply>(*down) : Result<RunnerReply>(std::move(reply)));
    }
    std::promise<std::vector<Result<RunnerReply>>> done;
    done.set_value(std::move(answers));
    return done.get_future();
  }

 private:
  static std::string answer(const Execution& e) {
    const std::string& fn = e.node->entity_id;
    if (fn == "ok")
      return R"({"status":"success","duration_ms":2.5,"logs":["hi"],"output":{"by":")" + e.node->id + R"(","input":)" +
             *e.input + "}}";
    if (fn == "null") return R"({"status":"success","output":null})";
    if (fn == "filtered") return R"({"status":"filtered"})";
    if (fn == "boom") return R"({"status":"error","duration_ms":1,"error":{"message":"boom"}})";
    if (fn == "slow") return R"({"status":"timeout","error":{"message":"took too long"}})";
    if (fn == "gone") return R"({"status":"unavailable","error":{"message":"shutting down"}})";
    return "[]";  // not a result object
  }
};

// A queue acking every job, unless `refuse` names its job id.
class FakeQueue final : public JobQueue {
 public:
  std::size_t payload = 1u << 20;
  std::string refuse;
  Queued as = Queued::dispatched;
  std::vector<DeliveryJob> jobs;

  std::size_t max_payload() const override { return payload; }
  std::vector<Result<Queued>> queue(const std::vector<DeliveryJob>& level) override {
    std::vector<Result<Queued>> acks;
    for (const auto& j : level) {
      jobs.push_back(j);
      if (j.job_id == refuse)
        acks.push_back(Error(Errc::unavailable, "stream full"));
      else
        acks.push_back(as);
    }
    return acks;
  }
};

struct N {
  std::string id, type, entity;
};

// A flow from its nodes (the first is the trigger) and edges (source, target).
std::shared_ptr<const Flow> graph(const std::vector<N>& nodes,
                                  const std::vector<std::pair<std::string, std::string>>& edges) {
  auto f = std::make_shared<Flow>();
  f->id = "flow-1";
  f->version = 3;
  auto index = [&](const std::string& id) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].id == id) return i;
    FAIL("no node " << id);
    return std::size_t{0};
  };
  for (const auto& n : nodes) f->nodes.push_back({n.id, n.type, n.entity, "{}", {}});
  for (const auto& [from, to] : edges) f->nodes[index(from)].next.push_back(index(to));
  return f;
}

Uplink uplink(const std::string& dedup, std::string message = R"({"data":{"t":21}})") {
  return {"0004a30b001c0530", "device-1", dedup, std::move(message)};
}

std::vector<RunJob> jobs_for(const std::vector<Uplink>& uplinks, const std::shared_ptr<const Flow>& flow) {
  std::vector<RunJob> jobs(uplinks.size());
  for (std::size_t i = 0; i < uplinks.size(); ++i) {
    jobs[i].uplink = &uplinks[i];
    jobs[i].flow = flow;
  }
  return jobs;
}
// The jobs point at the uplinks: they must outlive them.
std::vector<RunJob> jobs_for(std::vector<Uplink>&&, const std::shared_ptr<const Flow>&) = delete;

std::vector<std::string> steps(const Run& run) {
  std::vector<std::string> out;
  for (const auto& s : run.path) out.push_back(s.node_id + ":" + s.status);
  return out;
}

using Steps = std::vector<std::string>;

std::string member(const std::string& json_text, const char* key) {
  auto doc = json::parse(json_text);
  REQUIRE(doc.ok());
  const auto* v = json::find(*doc, key);
  REQUIRE(v);
  return json::to_string(*v);
}

}  // namespace

TEST_CASE("partial success: one branch fails, the other delivers") {
  auto flow = graph({{"t", "device", "d1"}, {"f", "function", "boom"}, {"i", "integration", "int-1"}},
                    {{"t", "f"}, {"t", "i"}});
  std::vector<Uplink> ups = {uplink("u1")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  walk(jobs, {}, runner, queue);

  const Run& run = jobs[0].run;
  CHECK_FALSE(jobs[0].deferred);
  CHECK(run.status == "partial_success");
  CHECK(run.run_key == "flow-1:up:u1");
  CHECK(run.flow_version == 3);
  CHECK(run.trigger_node == "t");
  CHECK(steps(run) == Steps{"t:success", "i:dispatched", "f:error"});  // deliveries before functions, as recorded
  CHECK(run.path[2].error == std::optional<std::string>("boom"));
  CHECK(run.path[2].duration_ms == 1);
  REQUIRE(run.functions.size() == 1);
  CHECK(run.functions[0].run_id == "flow-1:up:u1:f");
  CHECK(run.functions[0].status == "error");
  CHECK(run.functions[0].input == ups[0].message);
  CHECK(run.functions[0].error == std::optional<std::string>(R"({"message":"boom"})"));
  REQUIRE(queue.jobs.size() == 1);
  CHECK(queue.jobs[0].job_id == "flow-1:up:u1:i");
  CHECK(queue.jobs[0].target_id == "int-1");
  CHECK(member(queue.jobs[0].body, "message") == ups[0].message);  // the uplink's message, as it came
  CHECK(member(queue.jobs[0].body, "kind") == "\"integration\"");
  CHECK(jobs[0].outputs.empty());  // only a simulation keeps them
}

TEST_CASE("a function returning null (or filtered) ends its branch as filtered") {
  auto flow = graph({{"t", "device", "d1"}, {"f", "function", "null"}, {"i", "integration", "int-1"}},
                    {{"t", "f"}, {"f", "i"}});
  std::vector<Uplink> ups = {uplink("u1")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  walk(jobs, {}, runner, queue);
  CHECK(jobs[0].run.status == "filtered");
  CHECK(steps(jobs[0].run) == Steps{"t:success", "f:filtered"});
  CHECK(jobs[0].run.functions.at(0).status == "filtered");
  CHECK_FALSE(jobs[0].run.functions[0].output);
  CHECK(queue.jobs.empty());  // nothing after a filter

  // Beside a delivered branch, a filtered one is fine: success.
  auto both = graph({{"t", "device", "d1"}, {"f", "function", "filtered"}, {"i", "integration", "int-1"}},
                    {{"t", "f"}, {"t", "i"}});
  auto more = jobs_for(ups, both);
  walk(more, {}, runner, queue);
  CHECK(more[0].run.status == "success");
  CHECK(steps(more[0].run) == Steps{"t:success", "i:dispatched", "f:filtered"});
}

TEST_CASE("deferral: no runner, a result unavailable, a job not queued") {
  auto flow =
      graph({{"t", "device", "d1"}, {"f", "function", "ok"}, {"i", "integration", "int-1"}}, {{"t", "f"}, {"f", "i"}});
  std::vector<Uplink> ups = {uplink("u1"), uplink("u2")};

  SECTION("the runner does not answer: every run of the request waits, nothing is queued") {
    auto jobs = jobs_for(ups, flow);
    FakeRunner runner;
    runner.down = Error(Errc::unavailable, "no responders");
    FakeQueue queue;
    walk(jobs, {}, runner, queue);
    for (const auto& job : jobs) {
      CHECK(job.deferred);
      CHECK(job.deferred_reason == "function runner: no responders");
    }
    CHECK(queue.jobs.empty());  // a deferred run is walked no further
  }
  SECTION("a result unavailable defers its run only") {
    auto gone =
        graph({{"t", "device", "d1"}, {"f", "function", "gone"}, {"g", "function", "ok"}}, {{"t", "f"}, {"t", "g"}});
    auto jobs = jobs_for(ups, flow);
    jobs[0].flow = gone;
    FakeRunner runner;
    FakeQueue queue;
    walk(jobs, {}, runner, queue);
    CHECK(jobs[0].deferred);
    CHECK(jobs[0].deferred_reason == "function runner: shutting down");
    CHECK_FALSE(jobs[1].deferred);
    CHECK(jobs[1].run.status == "success");
    CHECK(queue.jobs.size() == 1);  // the other run's delivery
  }
  SECTION("a delivery JetStream did not take defers that run; the other goes on") {
    auto jobs = jobs_for(ups, flow);
    FakeRunner runner;
    FakeQueue queue;
    queue.refuse = "flow-1:up:u1:i";
    walk(jobs, {}, runner, queue);
    CHECK(jobs[0].deferred);
    CHECK(jobs[0].deferred_reason == "delivery job not queued: stream full");
    CHECK_FALSE(jobs[1].deferred);
    CHECK(jobs[1].run.status == "success");
    CHECK(steps(jobs[1].run) == Steps{"t:success", "f:success", "i:dispatched"});
  }
  SECTION("the first reason is kept") {
    auto two = graph({{"t", "device", "d1"}, {"i", "integration", "int-1"}, {"f", "function", "gone"}},
                     {{"t", "i"}, {"t", "f"}});
    std::vector<Uplink> one = {ups[0]};
    auto jobs = jobs_for(one, two);
    FakeRunner runner;
    FakeQueue queue;
    queue.refuse = "flow-1:up:u1:i";
    walk(jobs, {}, runner, queue);
    CHECK(jobs[0].deferred_reason == "delivery job not queued: stream full");
  }
}

TEST_CASE("fan-out: one function feeds two integrations and a second function") {
  auto flow = graph({{"t", "device", "d1"},
                     {"f1", "function", "ok"},
                     {"f2", "function", "ok"},
                     {"i1", "integration", "int-1"},
                     {"s", "storage", "store-1"}},
                    {{"t", "f1"}, {"f1", "f2"}, {"f1", "i1"}, {"f1", "s"}});
  std::vector<Uplink> ups = {uplink("u1")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  walk(jobs, {}, runner, queue);

  const Run& run = jobs[0].run;
  CHECK(run.status == "success");
  CHECK(steps(run) == Steps{"t:success", "f1:success", "i1:dispatched", "s:dispatched", "f2:success"});
  const std::string f1_output = *run.functions.at(0).output;
  CHECK(f1_output.find(R"("by":"f1")") != std::string::npos);
  REQUIRE(queue.jobs.size() == 2);
  CHECK(queue.jobs[0].target_id == "int-1");
  CHECK(queue.jobs[1].target_id == "store-1");
  CHECK(member(queue.jobs[1].body, "kind") == "\"storage\"");
  for (const auto& job : queue.jobs) CHECK(member(job.body, "message") == f1_output);
  CHECK(runner.inputs.at("f2") == f1_output);
  CHECK(run.functions.at(1).input == f1_output);
  CHECK(runner.sizes == std::vector<std::size_t>{1, 1});  // one level after the other

  // A simulation shows the same level in node order, with what each step passed on.
  auto sim = jobs_for(ups, flow);
  FakeQueue skipping;
  skipping.as = Queued::skipped;
  walk(sim, {.outputs = true, .node_order = true}, runner, skipping);
  CHECK(steps(sim[0].run) == Steps{"t:success", "f1:success", "f2:success", "i1:skipped", "s:skipped"});
  REQUIRE(sim[0].outputs.size() == 5);
  CHECK(sim[0].outputs[0].output == ups[0].message);
  CHECK(sim[0].outputs[1].output == f1_output);
  CHECK(sim[0].outputs[1].logs == R"(["hi"])");
  CHECK(sim[0].outputs[3].output == f1_output);  // what the integration would have received
  CHECK(sim[0].outputs[3].logs == "[]");
  CHECK(sim[0].run.path[3].duration_ms == 0);  // nothing was sent
  CHECK(sim[0].run.status == "success");
}

TEST_CASE("the depth limit ends a branch that goes too deep") {
  auto flow = graph({{"t", "device", "d1"}, {"a", "function", "ok"}, {"b", "function", "ok"}, {"c", "function", "ok"}},
                    {{"t", "a"}, {"a", "b"}, {"b", "c"}});
  std::vector<Uplink> ups = {uplink("u1")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  walk(jobs, {.max_depth = 3}, runner, queue);
  CHECK(steps(jobs[0].run) == Steps{"t:success", "a:success", "b:success", "c:error"});
  CHECK(jobs[0].run.path[3].error == std::optional<std::string>("depth limit exceeded"));
  CHECK(jobs[0].run.status == "error");
  CHECK(runner.functions.size() == 2);  // c was never asked for
}

TEST_CASE("a node that cannot follow an edge fails its branch, timeouts and bad results too") {
  auto flow = graph({{"t", "device", "d1"},
                     {"l", "label", "lab-1"},
                     {"s", "function", "slow"},
                     {"x", "function", "strange"},
                     {"i", "integration", "int-1"}},
                    {{"t", "s"}, {"t", "l"}, {"t", "x"}, {"t", "i"}});
  std::vector<Uplink> ups = {uplink("u1")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  walk(jobs, {}, runner, queue);
  const Run& run = jobs[0].run;
  // Refused nodes first, then deliveries, then functions: the order recorded runs have.
  CHECK(steps(run) == Steps{"t:success", "l:skipped", "i:dispatched", "s:timeout", "x:error"});
  CHECK(run.path[1].error == std::optional<std::string>("not a node that can follow an edge"));
  CHECK(run.path[3].error == std::optional<std::string>("took too long"));
  CHECK(run.path[4].error == std::optional<std::string>("function runner reply unreadable"));
  CHECK(run.status == "partial_success");
  CHECK(run.functions.size() == 1);  // the timeout; the unreadable result has no execution to record
}

TEST_CASE("the runner's answer to a request as a whole") {
  auto flow = graph({{"t", "device", "d1"}, {"f", "function", "ok"}}, {{"t", "f"}});
  std::vector<Uplink> ups = {uplink("u1"), uplink("u2")};
  FakeQueue queue;
  SECTION("another status fails every execution it carried") {
    auto jobs = jobs_for(ups, flow);
    FakeRunner runner;
    runner.status = "500";
    runner.body_override = R"({"detail":"worker pool broken"})";
    walk(jobs, {}, runner, queue);
    for (const auto& job : jobs) {
      CHECK(job.run.status == "error");
      CHECK(job.run.path.at(1).error ==
            std::optional<std::string>(R"(function runner answered 500: {"detail":"worker pool broken"})"));
    }
  }
  SECTION("results that do not match the executions") {
    auto jobs = jobs_for(ups, flow);
    FakeRunner runner;
    runner.body_override = R"({"results":[{"status":"success","output":{}}]})";
    walk(jobs, {}, runner, queue);
    for (const auto& job : jobs)
      CHECK(job.run.path.at(1).error == std::optional<std::string>("function runner reply unreadable"));
  }
}

TEST_CASE("an input too large for a request fails its step; the others run") {
  auto flow = graph({{"t", "device", "d1"}, {"f", "function", "ok"}}, {{"t", "f"}});
  std::vector<Uplink> ups = {uplink("u1"), uplink("u2", R"({"data":")" + std::string(3000, 'x') + R"("})"),
                             uplink("u3")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  runner.payload = 4096 + 1000;  // room for 1000 bytes: one small execution, not the large one
  FakeQueue queue;
  walk(jobs, {}, runner, queue);
  CHECK(jobs[0].run.status == "success");
  CHECK(jobs[2].run.status == "success");
  CHECK(jobs[1].run.status == "error");
  CHECK(jobs[1].run.path.at(1).error ==
        std::optional<std::string>("the input message (" + std::to_string(ups[1].message.size()) +
                                   " bytes) is too large to send to the function runner"));
  CHECK(jobs[1].run.functions.empty());
  CHECK(runner.sizes == std::vector<std::size_t>{1, 1});  // the large one closed the request before it
}

TEST_CASE("a message too large for a job fails its step; the others are queued") {
  auto flow = graph({{"t", "device", "d1"}, {"i", "integration", "int-1"}}, {{"t", "i"}});
  std::vector<Uplink> ups = {uplink("u1", R"({"data":")" + std::string(3000, 'x') + R"("})"), uplink("u2")};
  auto jobs = jobs_for(ups, flow);
  FakeRunner runner;
  FakeQueue queue;
  queue.payload = 4096 + 1000;
  walk(jobs, {}, runner, queue);
  CHECK(jobs[0].run.status == "error");
  CHECK(jobs[0].run.path.at(1).error ==
        std::optional<std::string>("the message (" + std::to_string(ups[0].message.size()) +
                                   " bytes) is too large to queue for delivery"));
  CHECK_FALSE(jobs[0].deferred);  // an error of its step, not an outage
  REQUIRE(queue.jobs.size() == 1);
  CHECK(queue.jobs[0].job_id == "flow-1:up:u2:i");
  CHECK(jobs[1].run.status == "success");
}

TEST_CASE("executions are batched by count and by bytes, each answer reaching its run") {
  auto flow = graph({{"t", "device", "d1"}, {"f", "function", "ok"}}, {{"t", "f"}});
  std::vector<Uplink> ups;
  for (int i = 0; i < 5; ++i) ups.push_back(uplink("u" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}"));

  SECTION("by count") {
    auto jobs = jobs_for(ups, flow);
    FakeRunner runner;
    FakeQueue queue;
    walk(jobs, {.exec_batch = 2}, runner, queue);
    CHECK(runner.sizes == std::vector<std::size_t>{2, 2, 1});
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      CHECK(jobs[i].run.status == "success");
      CHECK(jobs[i].run.functions.at(0).output->find(R"("input":{"n":)" + std::to_string(i) + "}") !=
            std::string::npos);
    }
  }
  SECTION("by bytes: a request ends when the next execution would not fit") {
    auto sizing = jobs_for(ups, flow);
    Walker probe(sizing, {});
    auto one = probe.plan({}, now());
    REQUIRE(one.requests.size() == 1);
    const std::size_t envelope = std::string(R"({"executions":[]})").size();
    const std::size_t each = (one.requests[0].body.size() - envelope - 4) / 5;  // four commas; all alike

    auto jobs = jobs_for(ups, flow);
    Walker walker(jobs, {});
    auto level = walker.plan({.request = 4096 + 2 * each + 1}, now());
    REQUIRE(level.requests.size() == 3);
    CHECK(level.requests[0].executions.size() == 2);
    CHECK(level.requests[2].executions.size() == 1);
    for (const auto& r : level.requests) CHECK(r.body.size() - envelope <= 2 * each + 1);
    CHECK(level.requests[1].executions[0].job == 2);
  }
}

TEST_CASE("runs end with their times in job order, jobs queued in job order") {
  auto flow = graph({{"t", "device", "d1"}, {"i", "integration", "int-1"}}, {{"t", "i"}});
  std::vector<Uplink> ups = {uplink("u1"), uplink("u2"), uplink("u3")};
  auto jobs = jobs_for(ups, flow);
  Walker walker(jobs, {});
  auto level = walker.plan({}, now());
  REQUIRE(level.jobs.size() == 3);
  CHECK(level.jobs[0].job_id == "flow-1:up:u1:i");
  CHECK(level.jobs[2].job_id == "flow-1:up:u3:i");
  walker.apply({.replies = {}, .acks = {Queued::dispatched, Queued::dispatched, Queued::dispatched}, .delivery_ms = 7});
  CHECK(walker.done());
  auto at = parse_rfc3339("2026-12-01T10:00:00Z");
  REQUIRE(at.ok());
  walker.finish(12.5, *at);
  CHECK(jobs[0].run.at == "2026-12-01T10:00:00.000000Z");
  CHECK(jobs[2].run.at == "2026-12-01T10:00:00.000002Z");
  CHECK(jobs[1].run.duration_ms == 12.5);
  CHECK(jobs[1].run.path.at(1).duration_ms == 7);
  CHECK(jobs[1].run.status == "success");

  // A trigger without edges is a run of one step, and a success.
  auto alone = graph({{"t", "label", "lab-1"}}, {});
  std::vector<Uplink> first = {ups[0]};
  auto single = jobs_for(first, alone);
  Walker quiet(single, {});
  CHECK(quiet.done());
  quiet.finish(0, *at);
  CHECK(single[0].run.status == "success");
  CHECK(steps(single[0].run) == Steps{"t:success"});
}
