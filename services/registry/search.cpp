// GET /api/v1/search: one ranked query over every kind of definition (search_store.cpp has
// the ranking), grouped by kind, `limit` hits per kind.
#include <algorithm>

#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

constexpr std::size_t kMaxQueryChars = 200;
constexpr std::int64_t kMaxLimit = 50;
// The groups of an answer, in this order, unless resource_types names others.
constexpr std::array<Kind, 6> kSearchOrder = {Kind::device, Kind::label,       Kind::function,
                                              Kind::flow,   Kind::integration, Kind::storage};

// Without leading and trailing spaces, tabs and line breaks (dm::trim keeps line breaks).
std::string trim_space(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// `resource_types=devices,flows` (the original's parameter) narrows the kinds searched.
std::optional<api::FieldError> read_kinds(const http::Request& req, std::vector<Kind>& kinds) {
  auto list = req.query_param("resource_types");
  if (!list || trim_space(*list).empty()) {
    kinds.assign(kSearchOrder.begin(), kSearchOrder.end());
    return std::nullopt;
  }
  std::string_view rest = *list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name = trim_space(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto it = std::find_if(kSearchOrder.begin(), kSearchOrder.end(), [&](Kind k) { return name == plural(k); });
    if (it == kSearchOrder.end()) {
      return api::FieldError{.loc = {"query", "resource_types"},
                             .msg = "Unknown resource type '" + name +
                                    "': use devices, labels, functions, flows, integrations or storages",
                             .type = "enum"};
    }
    if (std::find(kinds.begin(), kinds.end(), *it) == kinds.end()) kinds.push_back(*it);
  }
  return std::nullopt;
}

std::optional<http::Response> read_search(const http::Request& req, store::SearchQuery& out) {
  api::QueryReader q(req);
  if (auto v = q.integer("limit", 1, kMaxLimit)) out.limit = *v;
  std::vector<api::FieldError> errors;
  if (!q.ok()) return q.response();
  auto raw = req.query_param("query");
  if (!raw) raw = req.query_param("q");
  if (!raw) {
    errors.push_back({.loc = {"query", "query"}, .msg = "Field required", .type = "missing"});
  } else {
    out.text = trim_space(*raw);
    const auto len = utf8_length(out.text);
    if (len == 0)
      errors.push_back(
          {.loc = {"query", "query"}, .msg = "String should have at least 1 character", .type = "string_too_short"});
    if (len > kMaxQueryChars) {
      errors.push_back(
          {.loc = {"query", "query"}, .msg = "String should have at most 200 characters", .type = "string_too_long"});
    }
  }
  if (auto bad = read_kinds(req, out.kinds)) errors.push_back(std::move(*bad));
  if (!errors.empty()) return api::validation_error(errors);
  return std::nullopt;
}

http::Response search(Context& ctx, const http::Request& req) {
  store::SearchQuery query;
  if (auto bad = read_search(req, query)) return *bad;
  auto found = store::search(ctx.db, query);
  if (!found) return store_error(found.error());
  return http::Response::json(200, std::move(*found));
}

}  // namespace

void add_search_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/search", [&ctx](const http::Request& req) { return search(ctx, req); });
}

}  // namespace dm::registry
