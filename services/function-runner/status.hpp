#pragma once
// The function's status in the registry follows its last run in a flow.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "dm/bus/bus.hpp"

namespace dm::function_runner {

// The function's status follows its last run: collects the latest status per function and
// sends them to the registry (POST /internal/v1/functions/status) once per interval.
class StatusReporter {
 public:
  StatusReporter(bus::Connection& rpc, std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~StatusReporter();
  void record(const std::string& function_id, bool success, const std::string& at);

 private:
  void loop();
  bus::Connection& rpc_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::pair<bool, std::string>> latest_;  // function id → last run
  std::thread thread_;
};

}  // namespace dm::function_runner
