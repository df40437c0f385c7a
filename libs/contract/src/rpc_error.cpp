// The error body of RPC and REST answers (proto/schemas/rpc-error): FastAPI's shape.
#include "dm/contract/rpc.hpp"
#include "fields.hpp"

namespace dm::contract {

namespace {

void write_problem(json::Writer& w, const RpcProblem& p) {
  w.start_object().key("loc").start_array();
  for (const auto& part : p.loc) {
    if (const auto* name = std::get_if<std::string>(&part))
      w.string(*name);
    else
      w.integer(std::get<std::int64_t>(part));
  }
  w.end_array().field("msg", p.msg).field("type", p.type).end_object();
}

Result<RpcProblem> read_problem(const detail::Fields& f) {
  RpcProblem p;
  DM_ASSIGN_OR_RETURN(const json::Value* loc, f.get("loc", detail::Need::required));
  if (!loc->IsArray() || loc->Empty()) return f.error("loc", "must be a non-empty array");
  for (const auto& part : loc->GetArray()) {
    if (part.IsString())
      p.loc.emplace_back(std::string(json::view(part)));
    else if (part.IsInt64())
      p.loc.emplace_back(part.GetInt64());
    else
      return f.error("loc", "must hold strings and integers");
  }
  DM_ASSIGN_OR_RETURN(p.msg, f.text("msg"));
  DM_ASSIGN_OR_RETURN(p.type, f.text("type"));
  return p;
}

}  // namespace

std::string encode(const RpcError& error) {
  if (const auto* message = std::get_if<std::string>(&error.detail)) return json::detail(*message);
  json::Writer w;
  w.start_object().key("detail").start_array();
  for (const auto& p : std::get<std::vector<RpcProblem>>(error.detail)) write_problem(w, p);
  w.end_array().end_object();
  return w.take();
}

Result<RpcError> decode_rpc_error(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, {.max_bytes = 4 << 20, .max_depth = 64}, "error answer"));
  detail::Fields f(doc);
  DM_ASSIGN_OR_RETURN(const json::Value* body, f.get("detail", detail::Need::required));
  if (body->IsString()) return RpcError{std::string(json::view(*body))};
  std::vector<RpcProblem> problems;
  DM_TRY(f.each("detail", [&problems](const detail::Fields& item) -> Result<void> {
    DM_ASSIGN_OR_RETURN(auto p, read_problem(item));
    problems.push_back(std::move(p));
    return ok();
  }));
  return RpcError{std::move(problems)};
}

}  // namespace dm::contract
