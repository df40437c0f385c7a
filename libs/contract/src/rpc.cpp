#include "dm/contract/rpc.hpp"

#include <algorithm>
#include <map>

#include "dm/contract/subjects.hpp"

namespace dm::contract {
namespace {

const std::map<std::string_view, std::vector<RpcRule>>& all_rules() {
  static const std::map<std::string_view, std::vector<RpcRule>> kRules = {
      {kRegistry,
       {
           {"", "/api", {kGateway}},
           {"GET", "/internal/v1/devices", {kIngest, kOrchestrator}},
           {"POST", "/internal/v1/devices", {kIngest}},  // auto-registration and device state
           {"GET", "/internal/v1/flows", {kOrchestrator}},
           // Decrypted secrets: only the dispatcher, which connects to the destinations.
           {"", "/internal/v1/integrations", {kDispatcher}},
           {"", "/internal/v1/storages", {kDispatcher}},
           {"", "/internal/v1/functions", {kRunner}},  // code to run, and run status
       }},
      {kIngest,
       {
           {"", "/api", {kGateway}},
           {"GET", "/internal/v1/devices", {kOrchestrator}},  // one stored event, for a replay
       }},
      {kOrchestrator, {{"", "/api", {kGateway}}}},
      {kRunner,
       {
           {"", "/api", {kGateway}},
           {"POST", "/api/v1/functions", {kGateway, kOrchestrator}},  // test runs: also simulations
           {"POST", "/internal/v1/compile", {kRegistry}},
       }},
      {kDispatcher, {{"", "/api", {kGateway}}}},
  };
  return kRules;
}

// `prefix` is `path` or a parent of it.
bool under(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace

const std::vector<RpcRule>& rpc_rules(std::string_view owner) {
  static const std::vector<RpcRule> kNone;
  auto it = all_rules().find(owner);
  return it == all_rules().end() ? kNone : it->second;
}

bool rpc_allowed(std::string_view owner, std::string_view caller, std::string_view method, std::string_view path) {
  const RpcRule* best = nullptr;
  for (const auto& rule : rpc_rules(owner)) {
    if (!rule.method.empty() && rule.method != method) continue;
    if (!under(path, rule.path)) continue;
    if (!best || rule.path.size() > best->path.size()) best = &rule;
  }
  return best && std::find(best->callers.begin(), best->callers.end(), caller) != best->callers.end();
}

std::vector<std::string_view> rpc_owners_of(std::string_view caller) {
  std::vector<std::string_view> out;
  for (const auto& [owner, rules] : all_rules()) {
    for (const auto& rule : rules) {
      if (std::find(rule.callers.begin(), rule.callers.end(), caller) != rule.callers.end()) {
        out.push_back(owner);
        break;
      }
    }
  }
  return out;
}

}  // namespace dm::contract
