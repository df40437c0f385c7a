#include "status.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/json/json.hpp"

namespace dm::function_runner {

StatusReporter::StatusReporter(bus::Connection& rpc, std::chrono::milliseconds interval)
    : rpc_(rpc), interval_(interval) {
  thread_ = std::thread([this] {
    name_this_thread("status");
    loop();
  });
}

StatusReporter::~StatusReporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StatusReporter::record(const std::string& function_id, bool success, const std::string& at) {
  std::lock_guard lock(mutex_);
  auto it = latest_.find(function_id);
  if (it == latest_.end())
    latest_.emplace(function_id, std::make_pair(success, at));
  else if (it->second.second <= at)
    it->second = {success, at};  // RFC 3339 UTC strings sort by time
}

void StatusReporter::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, interval_);
    if (latest_.empty()) continue;
    auto last = std::move(latest_);
    latest_.clear();
    lock.unlock();
    json::Writer w;
    w.start_array();
    for (const auto& [id, st] : last)
      w.start_object()
          .field("id", id)
          .field("status", st.first ? "success" : "error")
          .field("last_run_at", st.second)
          .end_object();
    w.end_array();
    bus::Headers headers{
        {"Dm-Method", "POST"}, {"Dm-Target", "/internal/v1/functions/status"}, {"Content-Type", "application/json"}};
    // Best effort: a lost update is repaired by the next run of the function.
    rpc_.request_async(
        contract::subject::rpc(contract::kRegistry, contract::kRunner), w.take(), std::chrono::seconds(5),
        [](const Result<bus::Message>& r) {
          if (!r) log::debug("function status update not delivered", {{"error", r.error().message}});
        },
        headers);
    lock.lock();
  }
}

}  // namespace dm::function_runner
