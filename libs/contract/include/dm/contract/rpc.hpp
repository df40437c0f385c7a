#pragma once
// Who may call what over RPC. A request comes on dm.rpc.<owner>.<caller>, a subject only
// <caller>'s NATS user may publish to, so the caller is known from the subject; the owner
// answers it only when a rule below lets that caller use that route (403 otherwise). The
// public REST routes (/api/...) are the gateway's alone: it has authenticated the user and
// checked the role; only the gateway's Dm-User-Id / Dm-Role headers are believed.
#include <string>
#include <string_view>
#include <vector>

namespace dm::contract {

struct RpcRule {
  std::string_view method;  // "" = any
  std::string_view path;    // the path or a parent of it, at a '/' boundary
  std::vector<std::string_view> callers;
};

// The rules of an owner (empty for a service that serves no RPC).
const std::vector<RpcRule>& rpc_rules(std::string_view owner);

// Whether `caller` may call `method path` on `owner`: the longest matching rule decides.
bool rpc_allowed(std::string_view owner, std::string_view caller, std::string_view method, std::string_view path);

// The owners `caller` may send requests to (its NATS publish permissions).
std::vector<std::string_view> rpc_owners_of(std::string_view caller);

}  // namespace dm::contract
