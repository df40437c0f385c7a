// One ranked query over every kind of definition, answered in one round trip. Ranking
// (higher first) adds up:
//   exact name (case-insensitive) or dev_eui         1.0
//   name / dev_eui starts with the query              0.5   (contains: 0.25)
//   trigram similarity of name, 0..1 (pg_trgm)       × 0.5  (best of similarity, word_similarity)
//   full-text rank of name + description ('simple'    ts_rank, each word matched as a prefix)
// A row is a candidate when its name/description (or dev_eui) contains the query, is
// trigram-similar to it, or matches its words; 0005_flows_search.sql indexes all three.
#include <algorithm>
#include <array>
#include <cctype>

#include "store.hpp"
#include "store_rows.hpp"

namespace dm::registry::store {
namespace {

struct SearchKind {
  Kind kind;
  const char* columns;  // selected besides id and name
  const char* fields;   // json_build_object pairs from those columns
};

// Hit shapes are small on purpose: enough to show a hit and link to it.
constexpr std::array<SearchKind, 6> kSearchKinds = {{
    {.kind = Kind::device, .columns = ", t.dev_eui, t.status", .fields = ", 'dev_eui', x.dev_eui, 'status', x.status"},
    {.kind = Kind::label,
     .columns = ", t.description, t.color",
     .fields = ", 'description', x.description, 'color', x.color"},
    {.kind = Kind::function,
     .columns = ", t.description, t.status",
     .fields = ", 'description', x.description, 'status', x.status"},
    {.kind = Kind::flow,
     .columns = ", t.description, t.enabled",
     .fields = ", 'description', x.description, 'enabled', x.enabled"},
    {.kind = Kind::integration,
     .columns = ", t.description, t.type",
     .fields = ", 'description', x.description, 'type', x.type"},
    {.kind = Kind::storage,
     .columns = ", t.description, t.type",
     .fields = ", 'description', x.description, 'type', x.type"},
}};

const SearchKind& search_kind(Kind kind) {
  return *std::find_if(kSearchKinds.begin(), kSearchKinds.end(), [kind](const auto& k) { return k.kind == kind; });
}

// Parameters: $1 query, $2 '%query%', $3 'query%', $4 prefix tsquery or NULL, $5 limit,
// and for devices $6 the query as a dev_eui (hex, lowercase) and $7 its prefix pattern.
// Must match the index expression in 0005_flows_search.sql exactly.
const char* const kDocument = "to_tsvector('simple', coalesce(t.name, '') || ' ' || coalesce(t.description, ''))";

std::string score_sql(Kind kind) {
  std::string s =
      "(CASE WHEN lower(t.name) = lower($1::text) THEN 1.0 ELSE 0.0 END)::float8"
      " + (CASE WHEN t.name ILIKE $3::text THEN 0.5 WHEN t.name ILIKE $2::text THEN 0.25 ELSE 0.0 END)::float8"
      " + 0.5 * greatest(similarity(t.name, $1::text), word_similarity($1::text, t.name))::float8"
      " + (CASE WHEN $4::text IS NULL THEN 0.0 ELSE ts_rank(" +
      std::string(kDocument) + ", to_tsquery('simple', $4::text)) END)::float8";
  if (kind == Kind::device) {
    s += " + (CASE WHEN t.dev_eui = $6::text THEN 1.0 WHEN t.dev_eui LIKE $7::text THEN 0.5"
         " WHEN t.dev_eui ILIKE $2::text THEN 0.25 ELSE 0.0 END)::float8";
  }
  return s;
}

std::string match_sql(Kind kind) {
  std::string m =
      "t.name ILIKE $2::text OR t.description ILIKE $2::text OR t.name % $1::text OR $1::text <% t.name"
      " OR ($4::text IS NOT NULL AND " +
      std::string(kDocument) + " @@ to_tsquery('simple', $4::text))";
  if (kind == Kind::device) m += " OR t.dev_eui LIKE $7::text OR t.dev_eui ILIKE $2::text";
  return m;
}

// One kind's hits as a JSON array, best first.
std::string kind_sql(Kind kind) {
  const SearchKind& k = search_kind(kind);
  return std::string("(SELECT coalesce(json_agg(json_build_object('id', x.id, 'name', x.name") + k.fields +
         ", 'score', round(x.score::numeric, 4)) ORDER BY x.score DESC, x.name, x.id), '[]'::json) FROM ("
         "SELECT t.id, t.name" +
         k.columns + ", " + score_sql(kind) + " AS score FROM " + table(kind) + " t WHERE " + match_sql(kind) +
         " ORDER BY score DESC, t.name, t.id LIMIT $5::int) x)";
}

std::string search_sql(const std::vector<Kind>& kinds) {
  std::string columns, results, total;
  for (Kind kind : kinds) {
    const std::string key(plural(kind));
    columns += std::string(columns.empty() ? "" : ", ") + kind_sql(kind) + " AS " + key;
    results += std::string(results.empty() ? "" : ", ") + "'" + key + "', r." + key;
    total += std::string(total.empty() ? "" : " + ") + "json_array_length(r." + key + ")";
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

// The query read as (the start of) a dev_eui: hex digits, lowercase, separators dropped.
std::optional<std::string> eui_text(std::string_view text) {
  auto digits = eui_digits(text, ":- ");
  if (!digits || digits->empty() || digits->size() > 16) return std::nullopt;
  return digits;
}

}  // namespace

Result<std::string> search(db::Pool& db, const SearchQuery& query) {
  const std::string escaped = like_escape(query.text);
  db::Params params{query.text, "%" + escaped + "%", escaped + "%", prefix_tsquery(query.text),
                    std::to_string(query.limit)};
  // $6 and $7 exist only when the devices part uses them (an unused parameter has no type).
  if (std::find(query.kinds.begin(), query.kinds.end(), Kind::device) != query.kinds.end()) {
    auto eui = eui_text(query.text);
    params.push_back(eui);
    params.push_back(eui ? db::Param(*eui + "%") : std::nullopt);
  }
  DM_ASSIGN_OR_RETURN(auto rows, db.exec(search_sql(query.kinds), params));
  return std::string(rows.get(0, 0));
}

}  // namespace dm::registry::store
