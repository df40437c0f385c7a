#include "ledger.hpp"

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "dm/http/client.hpp"
#include "dm/http/router.hpp"
#include "dm/json/json.hpp"

namespace dm::fault {

// --- Receiver ----------------------------------------------------------------------------------

Receiver::Receiver() {
  auto router = std::make_shared<http::Router>();
  auto receive = [this](const http::Request& req) {
    auto doc = json::parse(req.body);
    const json::Value* n = doc && doc->IsObject() ? json::find(*doc, "n") : nullptr;
    if (!n || !n->IsInt64()) return http::Response::json(400, R"({"error":"no n"})");
    std::lock_guard lock(mu_);
    arrivals_[std::string(req.path)].push_back(Clock::now());
    auto& seen = by_path_[std::string(req.path)][n->GetInt64()];
    ++seen.times;
    if (auto key = req.header("Idempotency-Key")) seen.keys.insert(*key);
    return http::Response::json(200, R"({"ok":true})");
  };
  router->add_sync("POST", "/{path}", receive);
  server_ = std::make_unique<http::Server>(
      http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2, .body_limit = 8u << 20}, router);
  if (auto started = server_->start(); !started) throw std::runtime_error("receiver: " + started.error().message);
}

Receiver::~Receiver() { server_->stop(std::chrono::seconds(1)); }

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + "/" + path;
}

std::map<std::int64_t, Receiver::Seen> Receiver::seen(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find("/" + path);
  return it == by_path_.end() ? std::map<std::int64_t, Seen>{} : it->second;
}

std::size_t Receiver::distinct(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find("/" + path);
  return it == by_path_.end() ? 0 : it->second.size();
}

double Receiver::longest_pause(const std::string& path, Clock::time_point from, Clock::time_point to) const {
  std::lock_guard lock(mu_);
  auto it = arrivals_.find("/" + path);
  Clock::time_point last = from;
  Clock::duration longest{};
  if (it != arrivals_.end()) {
    for (auto t : it->second) {  // in arrival order
      if (t < from || t > to) continue;
      longest = std::max(longest, t - last);
      last = t;
    }
  }
  longest = std::max(longest, to - last);
  return std::chrono::duration<double>(longest).count();
}

// --- ReadinessWatch ----------------------------------------------------------------------------

ReadinessWatch::ReadinessWatch(std::vector<std::string> readyz_urls)
    : urls_(std::move(readyz_urls)), thread_([this] { run(); }) {}

ReadinessWatch::~ReadinessWatch() {
  running_ = false;
  thread_.join();
}

double ReadinessWatch::longest_unready_s() const {
  std::lock_guard lock(mu_);
  return longest_;
}

void ReadinessWatch::run() {
  const http::ClientOptions quick{.connect_timeout = std::chrono::milliseconds(500),
                                  .request_timeout = std::chrono::milliseconds(1000)};
  std::optional<Clock::time_point> unready_since;
  while (running_) {
    auto polled = Clock::now();
    bool all_ready = true;
    for (const auto& url : urls_) {
      auto r = http::fetch("GET", url, {}, {}, quick);
      if (!r || r->status != 200) {
        all_ready = false;
        break;
      }
    }
    if (!all_ready && !unready_since) unready_since = polled;
    if (all_ready && unready_since) {
      std::lock_guard lock(mu_);
      longest_ = std::max(longest_, std::chrono::duration<double>(Clock::now() - *unready_since).count());
      unready_since.reset();
    }
    std::this_thread::sleep_until(polled + std::chrono::milliseconds(100));
  }
  if (unready_since) {
    std::lock_guard lock(mu_);
    longest_ = std::max(longest_, std::chrono::duration<double>(Clock::now() - *unready_since).count());
  }
}

std::map<std::int64_t, int> mqtt_seen(const std::string& path) {
  std::map<std::int64_t, int> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    auto doc = json::parse(std::string_view(line).substr(space + 1));
    const json::Value* n = doc && doc->IsObject() ? json::find(*doc, "n") : nullptr;
    if (n && n->IsInt64()) ++out[n->GetInt64()];
  }
  return out;
}

// --- Load --------------------------------------------------------------------------------------

Load::Load(const testing::Stack& stack, std::string secret, std::vector<std::string> dev_euis, std::string tag,
           double rate)
    : url_(stack.url("ingest")),
      secret_(std::move(secret)),
      tag_(std::move(tag)),
      euis_(std::move(dev_euis)),
      rate_(rate) {}

Load::~Load() { stop(); }

void Load::start() {
  running_ = true;
  // Enough threads that one waiting out a 503 (up to the publish timeout) leaves the rate to
  // the others.
  constexpr int kWorkers = 8;
  for (int i = 0; i < kWorkers; ++i) threads_.emplace_back([this, i] { run(i, kWorkers); });
}

void Load::stop() {
  running_ = false;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::vector<std::int64_t> Load::acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

std::string Load::body(std::int64_t n, const std::string& object) const {
  const std::string& eui = euis_[static_cast<std::size_t>(n) % euis_.size()];
  return R"({"deduplicationId":")" + dedup_id(n) +
         R"(","time":"2026-12-04T10:00:00Z",)"
         R"("deviceInfo":{"tenantId":"t","tenantName":"T","applicationId":"a","applicationName":"A",)"
         R"("deviceProfileId":"p","deviceProfileName":"P","deviceName":"fault","devEui":")" +
         eui + R"(","tags":{}},"devAddr":"00189440","dr":5,"fCnt":)" + std::to_string(n) +
         R"(,"fPort":2,"data":"AQID","object":)" + object +
         R"(,"rxInfo":[{"gatewayId":"0016c001f153a14c","rssi":-40,"snr":9.5}],"txInfo":{"frequency":868100000}})";
}

bool Load::post(std::int64_t n, const std::string& object) {
  thread_local std::map<std::string, std::unique_ptr<http::Client>> clients;
  auto& client = clients[url_];
  if (!client) {
    auto c = http::Client::create(url_, {.request_timeout = std::chrono::seconds(10)});
    if (!c) return false;
    client = std::move(c).value();
  }
  auto r = client->request("POST", "/api/v1/ingest/chirpstack?event=up", body(n, object),
                           {{"Authorization", "Bearer " + secret_}, {"Content-Type", "application/json"}});
  bool ok = r && r->status >= 200 && r->status < 300;
  std::lock_guard lock(mu_);
  if (ok) {
    acked_.push_back(n);
  } else {
    ++refused_;
    std::string why = r ? std::to_string(r->status) + " " + r->body : r.error().message;
    // One line per reason, not per device: drop the subject a publish error names.
    if (auto at = why.find("publish to '"); at != std::string::npos) {
      if (auto end = why.find('\'', at + 12); end != std::string::npos) why.erase(at + 11, end - at - 10);
    }
    ++refusals_[why];
  }
  return ok;
}

std::map<std::string, std::size_t> Load::refusals() const {
  std::lock_guard lock(mu_);
  return refusals_;
}

void Load::run(int worker, int workers) {
  // Each worker sends every workers-th slot of a common schedule.
  auto interval = std::chrono::duration<double>(workers / rate_);
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(interval * worker / workers);
  while (running_) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<Clock::duration>(interval);
    if (!running_) break;
    post(next_++);
    // Fallen far behind (an outage stalled this worker): do not burst to catch up.
    if (Clock::now() - next > std::chrono::seconds(1)) next = Clock::now();
  }
}

std::int64_t Load::number_of(std::string_view dedup_id) const {
  if (dedup_id.size() <= tag_.size() + 1 || dedup_id.substr(0, tag_.size()) != tag_ || dedup_id[tag_.size()] != '-')
    return -1;
  try {
    return std::stoll(std::string(dedup_id.substr(tag_.size() + 1)));
  } catch (...) {
    return -1;
  }
}

// --- Report ------------------------------------------------------------------------------------

bool Report::ok() const {
  if (lost > 0 || dup > 0 || !drained || drain_s > budget_s) return false;
  for (const auto& [history, n] : missing)
    if (n > 0) return false;
  return true;
}

std::string Report::line() const {
  char buf[320];
  std::snprintf(
      buf, sizeof buf,
      "%-22s outage %5.1f s  acked %6zu  LOST %4zu  DUP %3zu  drain %5.1f s (budget %5.1f s)  unready %4.1f s%s",
      name.c_str(), outage_s, acked, lost, dup, drain_s, budget_s, unready_s, drained ? "" : "  NOT DRAINED");
  std::string out = buf;
  if (pause_s >= 0) {
    std::snprintf(buf, sizeof buf, "  pause %4.1f s", pause_s);
    out += buf;
  }
  for (const auto& [history, n] : missing)
    if (n > 0) out += "  missing in " + history + ": " + std::to_string(n);
  for (const auto& note : notes) out += "  [" + note + "]";
  out += ok() ? "  ok" : "  FAIL";
  return out;
}

// --- Api ---------------------------------------------------------------------------------------

Api::Api(testing::Stack& stack) {
  auto token = testing::admin_token(stack);
  if (!token) throw std::runtime_error(token.error().message);
  token_ = *token;
  auto c = http::Client::create(stack.url("gateway"), {.request_timeout = std::chrono::seconds(60)});
  if (!c) throw std::runtime_error(c.error().message);
  client_ = std::move(c).value();
}

testing::ApiReply Api::call(const std::string& method, const std::string& target, const std::string& body) {
  std::lock_guard lock(mu_);
  http::Headers h;
  h.set("Authorization", "Bearer " + token_);
  if (!body.empty()) h.set("Content-Type", "application/json");
  auto r = client_->request(method, target, body, h);
  if (!r) return testing::ApiReply{0, r.error().message, {}, {}};
  return testing::api_reply(*r);
}

std::string Api::create(const std::string& path, const std::string& body) {
  auto r = call("POST", path, body);
  if (r.status != 201)
    throw std::runtime_error("POST " + path + " answered " + std::to_string(r.status) + ": " + r.body);
  return r.str("id");
}

std::vector<std::string> Api::all(const std::string& target, const char* field) {
  std::vector<std::string> out;
  const char* sep = target.find('?') == std::string::npos ? "?" : "&";
  for (std::size_t skip = 0;; skip += 1000) {
    auto r = call("GET", target + sep + "limit=1000&skip=" + std::to_string(skip));
    if (r.status != 200 || !r.json.IsArray())
      throw std::runtime_error("GET " + target + ": " + std::to_string(r.status));
    for (const auto& item : r.json.GetArray()) {
      const auto* v = json::find(item, field);
      if (v && v->IsString()) out.emplace_back(json::view(*v));
    }
    if (r.json.Size() < 1000) return out;
  }
}

std::size_t count_missing(const std::vector<std::int64_t>& acked, const std::set<std::int64_t>& numbers) {
  std::size_t missing = 0;
  for (auto n : acked)
    if (!numbers.count(n)) ++missing;
  return missing;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
  auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(step);
  }
  return done();
}

}  // namespace dm::fault
