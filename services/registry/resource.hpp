#pragma once
// The route modules' shared paths: store errors as answers, cached reads (one document, one
// page of a list), and the one create/update/delete path of every kind, which runs the store's
// statements in one transaction and announces the change after commit.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "context.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/http/message.hpp"
#include "store.hpp"

namespace dm::registry {

// 409 for conflicts (with `conflict_detail`), 404, 422 for bad input caught by the
// database, 503 when the database is unreachable, 500 otherwise (logged, not shown).
http::Response store_error(const Error& e, std::string_view conflict_detail = {});

// 404 "<Kind> not found".
http::Response not_found(Kind kind);

// "A label named 'x' already exists": the duplicate-name answer of every kind but devices.
std::string name_conflict(Kind kind, const std::string& name);

// GET one document: 404 for an id that is not a UUID or names nothing. Answers come from the
// read cache unless `cached` is false.
http::Response get_doc(Context& ctx, Kind kind, const std::string& id, bool cached = true);

// 200 with one page of `query`'s documents and their total in X-Total-Count (cached).
http::Response list_page(Context& ctx, const store::ListQuery& query, const api::Sort& sort, const api::Paging& paging);

// The `name` (required on create, 1..max_name characters) and `description` (at most 2000,
// null clears it) every kind has, into `columns`; the name is kept for conflict messages.
void read_name_and_description(api::BodyReader& r, bool create, std::size_t max_name, store::Columns& columns,
                               std::string& name);

// Runs f(Session&) -> Result<http::Response> in a transaction. A 4xx/5xx response from f
// rolls the transaction back and is returned as is; store errors become answers through
// store_error(conflict_detail).
template <typename F>
http::Response in_transaction(db::Pool& pool, F&& f, std::string_view conflict_detail = {}) {
  std::optional<http::Response> refused;
  auto r = pool.transaction([&](db::Session& s) -> Result<http::Response> {
    auto res = f(s);
    if (res.ok() && res->status >= 400) {
      refused = std::move(res).value();
      return Error(Errc::internal, "refused");  // any error rolls back
    }
    return res;
  });
  if (refused) return std::move(*refused);
  if (!r) return store_error(r.error(), conflict_detail);
  return std::move(r).value();
}

// Work a write does in its transaction besides the row itself (checks that read other rows,
// rows that hang off this one); an answer refuses the whole write.
using Refusal = Result<std::optional<http::Response>>;
struct WriteSteps {
  std::function<Refusal(db::Session&)> before;                        // before the row is written
  std::function<Refusal(db::Session&, const std::string& id)> after;  // after
};

// INSERT, then 201 with the document and Location; announces "created".
http::Response create_row(Context& ctx, Kind kind, const store::Columns& columns, std::string_view conflict,
                          const WriteSteps& steps = {});
// UPDATE (`columns` is read after `steps.before`, which may add to it), then 200 with the
// document; 404 for an unknown id; announces "updated".
http::Response update_row(Context& ctx, Kind kind, const std::string& id, const store::Columns& columns,
                          std::string_view conflict, const WriteSteps& steps = {});
// 409 when an enabled flow uses it, 404 when unknown, else 204; announces "deleted".
http::Response delete_row(Context& ctx, Kind kind, const std::string& id);

}  // namespace dm::registry
