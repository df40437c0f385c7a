#include "owners.hpp"

#include <cstdlib>

#include "dm/contract/subjects.hpp"

namespace dm::flow_orchestrator {

Result<OwnerReply> ask_owner(bus::Connection& rpc, std::string_view service, std::string_view method,
                             std::string_view target, std::string_view body, std::chrono::milliseconds timeout) {
  bus::Headers headers = {{"Dm-Method", std::string(method)}, {"Dm-Target", std::string(target)}};
  if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
  auto reply = rpc.request(contract::subject::rpc(service, contract::kOrchestrator), body, timeout, headers);
  if (!reply) return Error(Errc::unavailable, std::string(service) + ": " + reply.error().message);
  OwnerReply out;
  auto status = reply->header("Dm-Status");
  out.status = status ? std::atoi(status->c_str()) : 200;
  out.body = std::move(reply->data);
  return out;
}

}  // namespace dm::flow_orchestrator
