#include "resource.hpp"

#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;

http::Response page_response(std::string body, std::int64_t total) {
  auto res = http::Response::json(200, std::move(body));
  if (total >= 0) res.headers.set("X-Total-Count", std::to_string(total));
  return res;
}

// A cached answer under `key`, or the one `read` makes (remembered when it is a 200 read at
// the generation before it ran, so a write meanwhile keeps it out).
template <typename Read>
http::Response cached(Context& ctx, const std::string& key, Read&& read) {
  if (!ctx.cache) return read();
  const std::uint64_t generation = ctx.cache->generation();
  if (auto hit = ctx.cache->get(key)) return page_response(hit->body, hit->total);
  http::Response res = read();
  if (res.status == 200) {
    std::int64_t total = -1;
    if (auto t = res.headers.get("X-Total-Count")) total = std::stoll(*t);
    ctx.cache->put(key, {res.body, total}, generation);
  }
  return res;
}

// The document of a row just written, in this transaction.
TxResult written_doc(db::Session& s, Kind kind, const std::string& id, int status) {
  DM_ASSIGN_OR_RETURN(auto doc, store::document(s, kind, id));
  if (!doc) return make_error(Errc::internal, std::string(word(kind)) + " " + id + " has no document");
  return http::Response::json(status, std::move(*doc));
}

Refusal run(const std::function<Refusal(db::Session&)>& step, db::Session& s) {
  if (!step) return std::optional<http::Response>{};
  return step(s);
}

Refusal run(const std::function<Refusal(db::Session&, const std::string&)>& step, db::Session& s,
            const std::string& id) {
  if (!step) return std::optional<http::Response>{};
  return step(s, id);
}

// 409 "<Kind> is used by enabled flows: a, b", or nullopt when free to delete. The row is
// locked first: a flow saved between this check and the DELETE would otherwise be left
// enabled and pointing at nothing (flow saves lock the rows they reference FOR KEY SHARE).
Refusal refuse_if_in_use(db::Session& s, Kind kind, const std::string& id) {
  DM_TRY(store::lock_row(s, kind, id));
  DM_ASSIGN_OR_RETURN(auto names, store::enabled_flows_using(s, kind, id));
  if (names.empty()) return std::optional<http::Response>{};
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return std::optional<http::Response>(
      http::Response::error(409, std::string(title(kind)) + " is used by enabled flows: " + list));
}

}  // namespace

http::Response store_error(const Error& e, std::string_view conflict_detail) {
  switch (e.code) {
    case Errc::conflict:
      return http::Response::error(409, conflict_detail.empty() ? std::string_view(e.message) : conflict_detail);
    case Errc::not_found:
      return http::Response::error(404, e.message);
    case Errc::invalid_argument:
      return http::Response::error(422, e.message);
    case Errc::unavailable:
    case Errc::timeout:
      log::warn("database unavailable", {{"error", e.message}});
      return http::Response::error(503, "Database unavailable, try again");
    default:
      log::error("store error", {{"error", e.message}});
      return http::Response::error(500, "Internal Server Error");
  }
}

http::Response not_found(Kind kind) { return http::Response::error(404, std::string(title(kind)) + " not found"); }

std::string name_conflict(Kind kind, const std::string& name) {
  return std::string(a_title(kind)) + " named '" + name + "' already exists";
}

http::Response get_doc(Context& ctx, Kind kind, const std::string& id, bool use_cache) {
  if (!is_uuid(id)) return not_found(kind);
  auto read = [&] {
    auto doc = store::document(ctx.db, kind, id);
    if (!doc) return store_error(doc.error());
    if (!*doc) return not_found(kind);
    return http::Response::json(200, std::move(**doc));
  };
  if (!use_cache) return read();
  return cached(ctx, std::string(word(kind)) + "/" + id, read);
}

http::Response list_page(Context& ctx, const store::ListQuery& query, const api::Sort& sort,
                         const api::Paging& paging) {
  std::string key = std::string(word(query.kind)) + "?" + sort.column + (sort.descending ? "-" : "+") +
                    std::to_string(paging.skip) + "," + std::to_string(paging.limit);
  for (const auto& p : query.params) key += p ? "|=" + *p : "|null";
  return cached(ctx, key, [&] {
    auto page = store::page(ctx.db, query, sort, paging);
    if (!page) return store_error(page.error());
    return page_response(std::move(page->json), page->total);
  });
}

void read_name_and_description(api::BodyReader& r, bool create, std::size_t max_name, store::Columns& columns,
                               std::string& name) {
  if (auto v = r.string("name", {.required = create, .min = 1, .max = max_name})) {
    name = *v;
    columns.set("name", *v);
  }
  if (auto v = r.string("description", {.max = 2000, .nullable = true}))
    columns.set("description", *v);
  else if (r.is_null("description"))
    columns.set("description", std::string());
}

http::Response create_row(Context& ctx, Kind kind, const store::Columns& columns, std::string_view conflict,
                          const WriteSteps& steps) {
  std::string id;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto refused, run(steps.before, s));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(id, store::insert_row(s, kind, columns));
        DM_ASSIGN_OR_RETURN(refused, run(steps.after, s, id));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(auto created, written_doc(s, kind, id, 201));
        created.headers.set("Location", "/api/v1/" + std::string(plural(kind)) + "/" + id);
        return created;
      },
      conflict);
  if (res.status == 201) ctx.events.changed(kind, Action::created, id, 1);
  return res;
}

http::Response update_row(Context& ctx, Kind kind, const std::string& id, const store::Columns& columns,
                          std::string_view conflict, const WriteSteps& steps) {
  std::int64_t version = 0;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto refused, run(steps.before, s));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(auto updated, store::update_row(s, kind, id, columns));
        if (!updated) return not_found(kind);
        version = *updated;
        DM_ASSIGN_OR_RETURN(refused, run(steps.after, s, id));
        if (refused) return std::move(*refused);
        return written_doc(s, kind, id, 200);
      },
      conflict);
  if (res.status == 200) ctx.events.changed(kind, Action::updated, id, version);
  return res;
}

http::Response delete_row(Context& ctx, Kind kind, const std::string& id) {
  if (!is_uuid(id)) return not_found(kind);
  std::int64_t version = 0;
  auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
    if (is_node_kind(kind)) {  // flows reference these; nothing references a flow
      DM_ASSIGN_OR_RETURN(auto in_use, refuse_if_in_use(s, kind, id));
      if (in_use) return std::move(*in_use);
    }
    DM_ASSIGN_OR_RETURN(auto deleted, store::delete_row(s, kind, id));
    if (!deleted) return not_found(kind);
    version = *deleted + 1;  // a deletion is one more change: consumers order events by version
    return http::Response::empty(204);
  });
  if (res.status == 204) ctx.events.changed(kind, Action::deleted, id, version);
  return res;
}

}  // namespace dm::registry
