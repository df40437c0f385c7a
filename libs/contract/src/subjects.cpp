#include "dm/contract/subjects.hpp"

#include <algorithm>

namespace dm::contract::subject {
namespace {

std::string join(std::string_view prefix, std::string_view token) {
  std::string s;
  s.reserve(prefix.size() + token.size());
  s.append(prefix).append(token);
  return s;
}

}  // namespace

std::string device_event(std::string_view dev_eui, std::string_view event) {
  std::string s = join("dm.device.", dev_eui);
  s += '.';
  s.append(event);
  return s;
}

std::string event_batch(std::string_view event) { return join("dm.events.", event); }

std::string_view dev_eui_of(std::string_view subject) {
  constexpr std::string_view kPrefix = "dm.device.";
  if (subject.substr(0, kPrefix.size()) != kPrefix) return subject;
  auto rest = subject.substr(kPrefix.size());
  auto dot = rest.find('.');
  return dot == std::string_view::npos ? rest : rest.substr(0, dot);
}

std::string device_state(std::string_view dev_eui) { return join("dm.devstate.", dev_eui); }
std::string registry_changed(std::string_view kind) { return join("dm.registry.changed.", kind); }
std::string delivery(std::string_view target_id) { return join("dm.delivery.", target_id); }
std::string function_run(std::string_view function_id) { return join("dm.function.run.", function_id); }
std::string flow_completed(std::string_view flow_id) { return join("dm.flow.completed.", flow_id); }
std::string dead_letter(std::string_view kind) { return join("dm.deadletter.", kind); }
std::string dispatch(std::string_view target_id) { return join("dm.work.dispatch.", target_id); }

std::string rpc(std::string_view owner, std::string_view caller) {
  std::string s = join("dm.rpc.", owner);
  s += '.';
  s.append(caller);
  return s;
}

std::string rpc_served(std::string_view owner) { return join("dm.rpc.", owner) + ".*"; }

std::string_view rpc_caller(std::string_view subject, std::string_view owner) {
  std::string prefix = join("dm.rpc.", owner) + ".";
  if (subject.size() <= prefix.size() || subject.substr(0, prefix.size()) != prefix) return {};
  auto caller = subject.substr(prefix.size());
  return caller.find('.') == std::string_view::npos ? caller : std::string_view{};
}

std::string inbox_prefix(std::string_view service) { return join("_INBOX.", service); }

bool is_token(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool is_dev_eui(std::string_view dev_eui) {
  return dev_eui.size() == 16 && std::all_of(dev_eui.begin(), dev_eui.end(),
                                             [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace dm::contract::subject
