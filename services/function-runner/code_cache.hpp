#pragma once
// Function definitions fetched from the registry over NATS RPC (GET /api/v1/functions/{id}
// on dm.rpc.registry), cached by id with their version, and dropped when the registry
// announces a change (dm.registry.changed.function). Misses of one batch are fetched in
// parallel.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "dm/bus/bus.hpp"
#include "dm/core/result.hpp"

namespace dm::function_runner {

struct FunctionCode {
  std::string id;
  std::int64_t version = 0;
  std::shared_ptr<const std::string> code;
  std::string defaults = "{}";  // JSON object: declared parameters' defaults
  std::string key() const { return id + "@" + std::to_string(version); }
};
using CodePtr = std::shared_ptr<const FunctionCode>;

class CodeCache {
 public:
  explicit CodeCache(bus::Connection& rpc, std::chrono::milliseconds timeout = std::chrono::seconds(2))
      : rpc_(rpc), timeout_(timeout) {}

  // `wanted`: id → lowest acceptable version (0 = any). A cached entry older than that is
  // fetched again. Errors per id: not_found, unavailable, timeout.
  std::map<std::string, Result<CodePtr>> get(const std::map<std::string, std::int64_t>& wanted);
  Result<CodePtr> get_one(const std::string& id);
  void invalidate(const std::string& id);
  // Subscribes to registry change events for functions.
  Result<std::unique_ptr<bus::Subscription>> follow_changes(bus::Connection& nats);

  // Parses a registry function document (exposed for tests).
  static Result<CodePtr> parse(std::string_view body);

 private:
  bus::Connection& rpc_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::map<std::string, CodePtr> entries_;
};

// Parameters merged for one run: the flow node's values over the declared defaults.
std::string merge_params(std::string_view defaults, std::string_view params);

}  // namespace dm::function_runner
