// GET /api/v1/search: one ranked query over every kind of definition, answered in one
// round trip. Ranking (higher first) adds up:
//   exact name (case-insensitive) or dev_eui         1.0
//   name / dev_eui starts with the query              0.5   (contains: 0.25)
//   trigram similarity of name, 0..1 (pg_trgm)       × 0.5  (best of similarity, word_similarity)
//   full-text rank of name + description ('simple'    ts_rank, each word matched as a prefix)
// A row is a candidate when its name/description (or dev_eui) contains the query, is
// trigram-similar to it, or matches its words; 0005_flows_search.sql indexes all three.
#include <algorithm>
#include <cctype>

#include "common.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"

namespace dm::registry {
namespace {

constexpr std::size_t kMaxQueryChars = 200;
constexpr std::int64_t kDefaultLimit = 10;
constexpr std::int64_t kMaxLimit = 50;

struct SearchKind {
  const char* key;  // in "results"
  const char* table;
  const char* columns;  // selected besides id and name
  const char* fields;   // json_build_object pairs from those columns
};

// Result shapes are small on purpose: enough to show a hit and link to it.
constexpr SearchKind kKinds[] = {
    {"devices", "devices", ", t.dev_eui, t.status", ", 'dev_eui', x.dev_eui, 'status', x.status"},
    {"labels", "labels", ", t.description, t.color", ", 'description', x.description, 'color', x.color"},
    {"functions", "functions", ", t.description, t.status", ", 'description', x.description, 'status', x.status"},
    {"flows", "flows", ", t.description, t.enabled", ", 'description', x.description, 'enabled', x.enabled"},
    {"integrations", "integrations", ", t.description, t.type", ", 'description', x.description, 'type', x.type"},
    {"storages", "storages", ", t.description, t.type", ", 'description', x.description, 'type', x.type"},
};

bool is_devices(const SearchKind& k) { return std::string_view(k.key) == "devices"; }

// Parameters: $1 query, $2 '%query%', $3 'query%', $4 prefix tsquery or NULL, $5 limit,
// and for devices $6 the query as a dev_eui (hex, lowercase) and $7 its prefix pattern.
// Must match the index expression in 0005_flows_search.sql exactly.
const char* const kDocument = "to_tsvector('simple', coalesce(t.name, '') || ' ' || coalesce(t.description, ''))";

std::string score_sql(const SearchKind& k) {
  std::string s =
      "(CASE WHEN lower(t.name) = lower($1::text) THEN 1.0 ELSE 0.0 END)::float8"
      " + (CASE WHEN t.name ILIKE $3::text THEN 0.5 WHEN t.name ILIKE $2::text THEN 0.25 ELSE 0.0 END)::float8"
      " + 0.5 * greatest(similarity(t.name, $1::text), word_similarity($1::text, t.name))::float8"
      " + (CASE WHEN $4::text IS NULL THEN 0.0 ELSE ts_rank(" +
      std::string(kDocument) + ", to_tsquery('simple', $4::text)) END)::float8";
  if (is_devices(k)) {
    s += " + (CASE WHEN t.dev_eui = $6::text THEN 1.0 WHEN t.dev_eui LIKE $7::text THEN 0.5"
         " WHEN t.dev_eui ILIKE $2::text THEN 0.25 ELSE 0.0 END)::float8";
  }
  return s;
}

std::string match_sql(const SearchKind& k) {
  std::string m =
      "t.name ILIKE $2::text OR t.description ILIKE $2::text OR t.name % $1::text OR $1::text <% t.name"
      " OR ($4::text IS NOT NULL AND " +
      std::string(kDocument) + " @@ to_tsquery('simple', $4::text))";
  if (is_devices(k)) m += " OR t.dev_eui LIKE $7::text OR t.dev_eui ILIKE $2::text";
  return m;
}

// One kind's hits as a JSON array, best first.
std::string kind_sql(const SearchKind& k) {
  return std::string("(SELECT coalesce(json_agg(json_build_object('id', x.id, 'name', x.name") + k.fields +
         ", 'score', round(x.score::numeric, 4)) ORDER BY x.score DESC, x.name, x.id), '[]'::json) FROM ("
         "SELECT t.id, t.name" +
         k.columns + ", " + score_sql(k) + " AS score FROM " + k.table + " t WHERE " + match_sql(k) +
         " ORDER BY score DESC, t.name, t.id LIMIT $5::int) x)";
}

std::string search_sql(const std::vector<const SearchKind*>& kinds) {
  std::string columns, results, total;
  for (const auto* k : kinds) {
    columns += std::string(columns.empty() ? "" : ", ") + kind_sql(*k) + " AS " + k->key;
    results += std::string(results.empty() ? "" : ", ") + "'" + k->key + "', r." + k->key;
    total += std::string(total.empty() ? "" : " + ") + "json_array_length(r." + k->key + ")";
  }
  return "WITH r AS (SELECT " + columns +
         ") SELECT json_build_object('query', $1::text, 'results', json_build_object(" + results + "), 'total', " +
         total + ")::text FROM r";
}

// LIKE's wildcards and escape character, escaped (PostgreSQL's default escape is '\').
std::string like_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// "temp sens" → "temp:* & sens:*". Words keep only letters, digits and non-ASCII bytes,
// so nothing in them is tsquery syntax. nullopt when no word remains.
std::optional<std::string> prefix_tsquery(std::string_view text) {
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    out += (out.empty() ? "" : " & ") + word + ":*";
    word.clear();
  };
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80)
      word += c;
    else
      flush();
  }
  flush();
  if (out.empty()) return std::nullopt;
  return out;
}

// The query read as a dev_eui: hex digits, lowercase, separators dropped; nullopt if not hex.
std::optional<std::string> eui_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || c == '-' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.empty() || out.size() > 16) return std::nullopt;
  return out;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

struct SearchRequest {
  std::string query;
  std::int64_t limit = kDefaultLimit;
  std::vector<const SearchKind*> kinds;
};

// `resource_types=devices,flows` (the original's parameter) narrows the kinds searched.
std::optional<api::FieldError> read_kinds(const http::Request& req, std::vector<const SearchKind*>& kinds) {
  auto list = req.query_param("resource_types");
  if (!list || trim(*list).empty()) {
    for (const auto& k : kKinds) kinds.push_back(&k);
    return std::nullopt;
  }
  std::string_view rest = *list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto it = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const auto& k) { return name == k.key; });
    if (it == std::end(kKinds)) {
      return api::FieldError{
          {"query", "resource_types"},
          "Unknown resource type '" + name + "': use devices, labels, functions, flows, integrations or storages",
          "enum"};
    }
    if (std::find(kinds.begin(), kinds.end(), &*it) == kinds.end()) kinds.push_back(&*it);
  }
  return std::nullopt;
}

std::optional<http::Response> read_search(const http::Request& req, SearchRequest& out) {
  api::QueryReader q(req);
  if (auto v = q.integer("limit", 1, kMaxLimit)) out.limit = *v;
  std::vector<api::FieldError> errors;
  if (!q.ok()) return q.response();
  auto raw = req.query_param("query");
  if (!raw) raw = req.query_param("q");
  if (!raw) {
    errors.push_back({{"query", "query"}, "Field required", "missing"});
  } else {
    out.query = trim(*raw);
    const auto len = utf8_length(out.query);
    if (len == 0) errors.push_back({{"query", "query"}, "String should have at least 1 character", "string_too_short"});
    if (len > kMaxQueryChars) {
      errors.push_back({{"query", "query"}, "String should have at most 200 characters", "string_too_long"});
    }
  }
  if (auto bad = read_kinds(req, out.kinds)) errors.push_back(std::move(*bad));
  if (!errors.empty()) return api::validation_error(errors);
  return std::nullopt;
}

http::Response search(Context& ctx, const http::Request& req) {
  SearchRequest s;
  if (auto bad = read_search(req, s)) return *bad;
  const std::string escaped = like_escape(s.query);
  db::Params params{s.query, "%" + escaped + "%", escaped + "%", prefix_tsquery(s.query), std::to_string(s.limit)};
  // $6 and $7 exist only when the devices part uses them (an unused parameter has no type).
  if (std::any_of(s.kinds.begin(), s.kinds.end(), [](const auto* k) { return is_devices(*k); })) {
    auto eui = eui_text(s.query);
    params.push_back(eui);
    params.push_back(eui ? db::Param(*eui + "%") : std::nullopt);
  }
  auto rows = ctx.db.exec(search_sql(s.kinds), params);
  if (!rows) return store_error(rows.error());
  return http::Response::json(200, std::string(rows->get(0, 0)));
}

}  // namespace

void add_search_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/search", [&ctx](const http::Request& req) { return search(ctx, req); });
}

}  // namespace dm::registry
