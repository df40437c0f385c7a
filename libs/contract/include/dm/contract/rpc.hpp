#pragma once
// Who may call what over RPC. A request comes on dm.rpc.<owner>.<caller>, a subject only
// <caller>'s NATS user may publish to, so the caller is known from the subject; the owner
// answers it only when a rule below lets that caller use that route (403 otherwise). The
// public REST routes (/api/...) are the gateway's alone: it has authenticated the user and
// checked the role; only the gateway's Dm-User-Id / Dm-Role headers are believed.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dm/core/result.hpp"

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

// The body of an RPC (and REST) answer with a status of 400 or more (proto/schemas/rpc-error):
// FastAPI's {"detail": ...}, a message or, for validation errors, a list of problems. Services
// write it through http::Response::error (json::detail) and api::validation_error, below the
// contract; this is the type for whoever reads one.
struct RpcProblem {
  std::vector<std::variant<std::string, std::int64_t>> loc;  // where: {"body", "nodes", 3, "id"}
  std::string msg;
  std::string type;  // pydantic's names: missing, value_error, ...
  bool operator==(const RpcProblem&) const = default;
};
struct RpcError {
  std::variant<std::string, std::vector<RpcProblem>> detail;
  bool operator==(const RpcError&) const = default;
};
std::string encode(const RpcError& error);
Result<RpcError> decode_rpc_error(std::string_view json);

}  // namespace dm::contract
