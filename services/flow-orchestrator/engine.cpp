#include "engine.hpp"

#include <condition_variable>
#include <mutex>

#include "dm/core/time.hpp"

namespace dm::flow_orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string str(const json::Value& o, const char* key) {
  const auto* v = json::find(o, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
}

// Standard base64 (padding optional); invalid characters end the decoding.
std::vector<unsigned char> base64_decode(std::string_view in) {
  std::vector<unsigned char> out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else
      break;  // '=' or garbage
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

void copy_or_null(json::Writer& w, const json::Value& event, const char* from, const char* to) {
  w.key(to);
  const auto* v = json::find(event, from);
  if (v)
    w.value(*v);
  else
    w.null();
}

}  // namespace

std::string run_key(const std::string& flow_id, const std::string& dedup_id) { return flow_id + ":up:" + dedup_id; }

std::string build_message(const json::Value& event, const Device* device) {
  json::Writer w;
  w.start_object().field("dev_eui", str(event, "dev_eui"));
  w.key("device").start_object();
  if (device)
    w.field("id", device->id).field("name", device->name).key("labels").raw(device->labels_json);
  else {
    std::string id = str(event, "device_id");
    w.key("id");
    if (id.empty())
      w.null();
    else
      w.string(id);
    w.field("name", str(event, "device_name")).key("labels").start_array().end_array();
  }
  w.end_object();
  w.field("event", "up");
  std::string time = str(event, "time");
  w.field("time", time.empty() ? str(event, "received_at") : time);
  copy_or_null(w, event, "f_port", "f_port");
  copy_or_null(w, event, "f_cnt", "f_cnt");
  w.key("data");
  if (const auto* obj = json::find(event, "object"); obj && obj->IsObject())
    w.value(*obj);
  else
    w.start_object().end_object();
  std::string b64 = str(event, "data");
  w.key("payload").start_object().field("base64", b64).key("bytes").start_array();
  for (unsigned char b : base64_decode(b64)) w.integer(b);
  w.end_array().end_object();
  w.key("rx").start_object();
  copy_or_null(w, event, "rssi", "rssi");
  copy_or_null(w, event, "snr", "snr");
  copy_or_null(w, event, "gateway_count", "gateways");
  w.end_object();
  w.end_object();
  return w.take();
}

Result<Uplink> read_uplink(std::string_view event_json, const View& view) {
  // The message functions see is built from the normalised fields; the original body and
  // the radio metadata are most of an event's bytes and are left out of the document.
  static constexpr std::string_view kUnused[] = {"raw", "rx_info", "tx_info"};
  DM_ASSIGN_OR_RETURN(auto doc,
                      json::parse(event_json, {.max_bytes = 16u << 20, .max_depth = 128, .skip_members = kUnused}));
  if (!doc.IsObject()) return Error(Errc::invalid_argument, "event is not a JSON object");
  Uplink u;
  u.dev_eui = str(doc, "dev_eui");
  u.dedup_id = str(doc, "dedup_id");
  if (u.dev_eui.empty() || u.dedup_id.empty())
    return Error(Errc::invalid_argument, "event without dev_eui or dedup_id");
  auto device = view.device(u.dev_eui);
  u.device_id = device ? device->id : str(doc, "device_id");
  u.message = build_message(doc, device.get());
  return u;
}

std::string run_status(int ok, int filtered, int failed) {
  if (failed == 0) return ok == 0 && filtered > 0 ? "filtered" : "success";
  return ok + filtered == 0 ? "error" : "partial_success";
}

std::string path_json(const std::vector<Step>& path) {
  json::Writer w;
  w.start_array();
  for (const auto& s : path) {
    w.start_object().field("node_id", s.node_id).field("type", s.type).key("entity_id");
    if (s.entity_id.empty())
      w.null();
    else
      w.string(s.entity_id);
    w.field("status", s.status).field("duration_ms", s.duration_ms).field_or_null("error", s.error).end_object();
  }
  w.end_array();
  return w.take();
}

std::string completed_json(const Run& run) {
  json::Writer w;
  w.start_object()
      .field("flow_id", run.flow_id)
      .field("flow_version", run.flow_version)
      .field("run_id", run.run_key)
      .field("run_key", run.run_key)
      .field("dedup_id", run.dedup_id)
      .field("dev_eui", run.dev_eui)
      .field("status", run.status)
      .key("path")
      .raw(path_json(run.path))
      .field("duration_ms", run.duration_ms)
      .field("replay", run.replay)
      .field("at", run.at)
      .end_object();
  return w.take();
}

// Waits for a known number of callbacks from library threads.
class Latch {
 public:
  explicit Latch(std::size_t n) : left_(n) {}
  void done() {
    std::lock_guard lock(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t left_;
};

// One node to run with its input message.
struct Pending {
  std::size_t job;
  std::size_t node;
  std::string message;
  std::size_t depth;  // nodes along the path, the trigger being 1
};

struct Engine::State {
  std::vector<RunJob>& jobs;
  std::vector<int> ok, filtered, failed;
  std::vector<Clock::time_point> started;
  std::vector<Pending> level;

  const Node& node(const Pending& p) const { return jobs[p.job].flow->nodes.at(p.node); }
  void defer(std::size_t j, std::string why) {
    if (!jobs[j].deferred) jobs[j].deferred_reason = std::move(why);
    jobs[j].deferred = true;
  }
};

void Engine::run_all(std::vector<RunJob>& jobs) {
  State st{jobs,
           std::vector<int>(jobs.size()),
           std::vector<int>(jobs.size()),
           std::vector<int>(jobs.size()),
           std::vector<Clock::time_point>(jobs.size()),
           {}};
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    auto& job = jobs[j];
    st.started[j] = Clock::now();
    Run& r = job.run;
    r.flow_id = job.flow->id;
    r.flow_version = job.flow->version < 1 ? 1 : job.flow->version;
    r.dedup_id = job.uplink->dedup_id;
    r.run_key = job.key.empty() ? run_key(job.flow->id, job.uplink->dedup_id) : job.key;
    r.replay = job.replay;
    r.dev_eui = job.uplink->dev_eui;
    r.device_id = job.uplink->device_id;
    const Node& t = job.flow->nodes.at(job.trigger);
    r.trigger_node = t.id;
    r.path.push_back({t.id, t.type, t.entity_id, "success", 0, std::nullopt});
    for (std::size_t n : t.next) st.level.push_back({j, n, job.uplink->message, 2});
  }

  // After a node succeeded: its successors form the next level, or the branch ends well.
  auto advance = [&](std::vector<Pending>& next, const Pending& p, const std::string& message) {
    const Node& node = st.node(p);
    if (node.next.empty()) ++st.ok[p.job];
    for (std::size_t n : node.next) next.push_back({p.job, n, message, p.depth + 1});
  };

  while (!st.level.empty()) {
    std::vector<Pending> functions, deliveries, next;
    for (auto& p : st.level) {
      if (jobs[p.job].deferred) continue;
      const Node& node = st.node(p);
      if (p.depth > options_.max_depth) {
        jobs[p.job].run.path.push_back({node.id, node.type, node.entity_id, "error", 0, "depth limit exceeded"});
        ++st.failed[p.job];
      } else if (node.type == "function") {
        functions.push_back(std::move(p));
      } else if (node.type == "integration" || node.type == "storage") {
        deliveries.push_back(std::move(p));
      } else {
        jobs[p.job].run.path.push_back(
            {node.id, node.type, node.entity_id, "skipped", 0, "not a node that can follow an edge"});
        ++st.failed[p.job];
      }
    }
    st.level.clear();

    // Functions: batched requests, all in flight at once.
    std::size_t chunks = (functions.size() + options_.exec_batch - 1) / options_.exec_batch;
    std::vector<std::optional<Result<bus::Message>>> replies(chunks);
    Latch fn_latch(chunks);
    auto timeout = std::chrono::milliseconds(options_.function_timeout_ms) + options_.request_margin;
    for (std::size_t c = 0; c < chunks; ++c) {
      json::Writer w;
      w.start_object().key("executions").start_array();
      for (std::size_t i = c * options_.exec_batch; i < std::min(functions.size(), (c + 1) * options_.exec_batch);
           ++i) {
        const Pending& p = functions[i];
        const Node& node = st.node(p);
        const Run& run = jobs[p.job].run;
        w.start_object()
            .field("id", run.run_key + ":" + node.id)
            .field("function_id", node.entity_id)
            .field("version", std::int64_t{1})  // the runner runs its newest cached version at or above it
            .key("input")
            .raw(p.message)
            .key("parameters")
            .raw(node.parameters)
            .field("timeout_ms", options_.function_timeout_ms);
        w.key("context")
            .start_object()
            .field("flow_id", run.flow_id)
            .field("flow_run_id", run.run_key)
            .field("node_id", node.id)
            .field("dev_eui", run.dev_eui)
            .field("replay", run.replay)
            .end_object()
            .end_object();
      }
      w.end_array().end_object();
      rpc_.request_async("dm.fn.exec", w.view(), timeout,
                         [&replies, &fn_latch, c](Result<bus::Message> r) {
                           replies[c] = std::move(r);
                           fn_latch.done();
                         },
                         {{"Content-Type", "application/json"}});
    }

    // Deliveries of this level: published asynchronously, in job order.
    std::vector<std::optional<Result<bus::PubAck>>> acks(deliveries.size());
    Latch js_latch(deliveries.size());
    auto js_t0 = Clock::now();
    for (std::size_t i = 0; i < deliveries.size(); ++i) {
      const Pending& p = deliveries[i];
      const Node& node = st.node(p);
      const Run& run = jobs[p.job].run;
      std::string job_id = run.run_key + ":" + node.id;
      json::Writer w;
      w.start_object()
          .field("job_id", job_id)
          .field("kind", node.type)
          .field("target_id", node.entity_id)
          .field("flow_id", run.flow_id)
          .field("flow_run_id", run.run_key)
          .field("node_id", node.id)
          .field("dev_eui", run.dev_eui)
          .key("message")
          .raw(p.message)
          .field("created_at", format_rfc3339(now()))
          .end_object();
      js_.jetstream().publish_async("dm.work.dispatch." + node.entity_id, w.view(), job_id,
                                    [&acks, &js_latch, i](Result<bus::PubAck> r) {
                                      acks[i] = std::move(r);
                                      js_latch.done();
                                    });
    }
    fn_latch.wait();
    js_latch.wait();
    double js_ms = ms_since(js_t0);

    for (std::size_t i = 0; i < deliveries.size(); ++i) {
      const Pending& p = deliveries[i];
      const Node& node = st.node(p);
      // Durably queued = done for the flow; the dispatcher de-duplicates on job_id.
      if (!acks[i]->ok()) {
        st.defer(p.job, "delivery job not queued: " + acks[i]->error().message);
        continue;
      }
      jobs[p.job].run.path.push_back({node.id, node.type, node.entity_id, "dispatched", js_ms, std::nullopt});
      advance(next, p, p.message);
    }

    for (std::size_t c = 0; c < chunks; ++c) {
      std::size_t first = c * options_.exec_batch;
      std::size_t last = std::min(functions.size(), first + options_.exec_batch);
      const auto& reply = *replies[c];
      // No runner, or none answering in time: not the function's fault, the uplink comes back later.
      if (!reply.ok()) {
        for (std::size_t i = first; i < last; ++i)
          st.defer(functions[i].job, "function runner: " + reply.error().message);
        continue;
      }
      std::optional<std::string> batch_error;
      json::Document doc;
      const json::Value* results = nullptr;
      if (auto s = reply->header("Dm-Status"); s && *s != "200") {
        batch_error = "function runner answered " + *s + ": " + reply->data;
      } else if (auto parsed = json::parse(reply->data, {.max_bytes = 256u << 20, .max_depth = 128}); parsed) {
        doc = std::move(parsed).value();
        results = doc.IsObject() ? json::find(doc, "results") : nullptr;
        if (!results || !results->IsArray() || results->Size() != last - first)
          batch_error = "function runner reply unreadable";
      } else {
        batch_error = "function runner reply unreadable";
      }
      for (std::size_t i = first; i < last; ++i) {
        const Pending& p = functions[i];
        const Node& node = st.node(p);
        auto& run = jobs[p.job].run;
        Step step{node.id, node.type, node.entity_id, "error", 0, batch_error};
        if (batch_error) {
          run.path.push_back(std::move(step));
          ++st.failed[p.job];
          continue;
        }
        const auto& res = (*results)[static_cast<rapidjson::SizeType>(i - first)];
        step.status = res.IsObject() ? str(res, "status") : "error";
        if (const auto* d = res.IsObject() ? json::find(res, "duration_ms") : nullptr; d && d->IsNumber())
          step.duration_ms = d->GetDouble();
        if (const auto* e = res.IsObject() ? json::find(res, "error") : nullptr; e && e->IsObject())
          step.error = str(*e, "message");
        const auto* output = res.IsObject() ? json::find(res, "output") : nullptr;
        if (step.status == "success" && output && output->IsObject()) {
          run.path.push_back(std::move(step));
          advance(next, p, json::to_string(*output));
        } else if (step.status == "success" || step.status == "filtered") {
          step.status = "filtered";
          run.path.push_back(std::move(step));
          ++st.filtered[p.job];
        } else {
          if (step.status != "timeout") step.status = "error";
          if (!step.error) step.error = "function failed";
          run.path.push_back(std::move(step));
          ++st.failed[p.job];
        }
      }
    }
    st.level = std::move(next);
  }

  // Recorded times increase in job order (a microsecond apart), so history sorted by time
  // shows one device's uplinks in arrival order.
  auto at = now();
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    Run& r = jobs[j].run;
    r.status = run_status(st.ok[j], st.filtered[j], st.failed[j]);
    r.duration_ms = ms_since(st.started[j]);
    r.at = format_rfc3339(at + std::chrono::microseconds(j));
  }
}

}  // namespace dm::flow_orchestrator
