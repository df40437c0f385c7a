// /api/v1/labels: CRUD and membership of devices.
#include "dm/core/strings.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;
const std::vector<std::string> kKnown = {"name",         "description", "color",      "id",
                                         "device_count", "version",     "created_at", "updated_at"};

struct LabelInput {
  store::Columns columns;
  std::string name;
};

std::optional<http::Response> read_label(const json::Value& body, bool create, LabelInput& in) {
  api::BodyReader r(body);
  r.forbid_unknown(kKnown);
  read_name_and_description(r, create, 100, in.columns, in.name);
  if (auto v = r.string("color", {.max = 32, .nullable = true}))
    in.columns.set("color", *v);
  else if (r.is_null("color"))
    in.columns.set("color", std::nullopt);
  if (!r.ok()) return r.response();
  return std::nullopt;
}

http::Response list_labels(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "created_at", "updated_at"}, {"name", false});
  auto text = q.string("search");
  if (!q.ok()) return q.response();
  return list_page(ctx, store::labels_matching(text), sort, page);
}

http::Response create_label(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  LabelInput in;
  if (auto bad = read_label(body.doc, true, in)) return *bad;
  return create_row(ctx, Kind::label, in.columns, name_conflict(Kind::label, in.name));
}

http::Response update_label(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::label);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  LabelInput in;
  if (auto bad = read_label(body.doc, false, in)) return *bad;
  return update_row(ctx, Kind::label, id, in.columns, name_conflict(Kind::label, in.name));
}

// Membership is part of the device (its labels): the device's version moves and its change
// is announced; the label's own row is unchanged. `change` runs after the device's row is
// bumped and answers the request.
template <typename Change>
http::Response change_membership(Context& ctx, const http::Request& req, Change&& change) {
  const auto& id = req.params.at("id");
  const auto& device_id = req.params.at("device_id");
  if (!is_uuid(id)) return not_found(Kind::label);
  if (!is_uuid(device_id)) return not_found(Kind::device);
  std::int64_t version = 0;
  auto res = in_transaction(ctx.db, [&](db::Session& s) { return change(s, id, device_id, version); });
  if (res.status < 300) ctx.events.changed(Kind::device, Action::updated, device_id, version);
  return res;
}

// Adding is idempotent (200 with the device either way).
TxResult add_member(db::Session& s, const std::string& id, const std::string& device_id, std::int64_t& version) {
  DM_ASSIGN_OR_RETURN(bool known, store::exists(s, Kind::label, id));
  if (!known) return not_found(Kind::label);
  DM_ASSIGN_OR_RETURN(auto updated, store::update_row(s, Kind::device, device_id, {}));
  if (!updated) return not_found(Kind::device);
  version = *updated;
  DM_TRY(store::add_device_label(s, device_id, id));
  DM_ASSIGN_OR_RETURN(auto doc, store::document(s, Kind::device, device_id));
  return http::Response::json(200, doc.value_or(""));
}

// Removing a device that is not a member is 404, so typos are noticed.
TxResult remove_member(db::Session& s, const std::string& id, const std::string& device_id, std::int64_t& version) {
  DM_ASSIGN_OR_RETURN(bool removed, store::remove_device_label(s, device_id, id));
  if (!removed) return http::Response::error(404, "Device is not labelled with this label");
  DM_ASSIGN_OR_RETURN(auto updated, store::update_row(s, Kind::device, device_id, {}));
  version = updated.value_or(0);
  return http::Response::empty(204);
}

}  // namespace

void add_label_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/labels", [&ctx](const http::Request& req) { return list_labels(ctx, req); });
  router.add_sync("POST", "/api/v1/labels", [&ctx](const http::Request& req) { return create_label(ctx, req); });
  router.add_sync("GET", "/api/v1/labels/{id}",
                  [&ctx](const http::Request& req) { return get_doc(ctx, Kind::label, req.params.at("id")); });
  auto update = [&ctx](const http::Request& req) { return update_label(ctx, req); };
  router.add_sync("PUT", "/api/v1/labels/{id}", update);
  router.add_sync("PATCH", "/api/v1/labels/{id}", update);
  router.add_sync("DELETE", "/api/v1/labels/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, Kind::label, req.params.at("id")); });
  router.add_sync("POST", "/api/v1/labels/{id}/devices/{device_id}",
                  [&ctx](const http::Request& req) { return change_membership(ctx, req, add_member); });
  router.add_sync("DELETE", "/api/v1/labels/{id}/devices/{device_id}",
                  [&ctx](const http::Request& req) { return change_membership(ctx, req, remove_member); });
}

}  // namespace dm::registry
