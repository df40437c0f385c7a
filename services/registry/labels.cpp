// /api/v1/labels: CRUD and membership of devices.
#include "common.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;
const std::vector<std::string> kKnown = {"name",         "description", "color",      "id",
                                         "device_count", "version",     "created_at", "updated_at"};

struct LabelInput {
  ColumnValues values;
  std::string name;
};

std::optional<http::Response> read_label(const json::Value& body, bool create, LabelInput& in) {
  api::BodyReader r(body);
  r.forbid_unknown(kKnown);
  read_name_and_description(r, create, 100, in.values, in.name);
  if (auto v = r.string("color", {.max = 32, .nullable = true}))
    in.values.columns.emplace_back("color", *v);
  else if (r.is_null("color"))
    in.values.columns.emplace_back("color", std::nullopt);
  if (!r.ok()) return r.response();
  return std::nullopt;
}

std::string conflict(const LabelInput& in) { return "A label named '" + in.name + "' already exists"; }

const Resource& label_resource() {
  static const Resource r{"labels", "label_docs", "label", "Label", "/api/v1/labels/"};
  return r;
}

}  // namespace

void add_label_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/labels", [&ctx](const http::Request& req) {
    api::QueryReader q(req);
    auto page = q.paging();
    auto sort = q.sort({"name", "created_at", "updated_at"}, {"name", false});
    auto text = q.string("search");
    if (!q.ok()) return q.response();
    db::Params params{text ? db::Param("%" + *text + "%") : std::nullopt};
    const std::string where = " WHERE ($1::text IS NULL OR v.name ILIKE $1 OR v.description ILIKE $1)";
    return list_page(ctx, "label_docs", where, std::move(params), sort, page);
  });

  router.add_sync("POST", "/api/v1/labels", [&ctx](const http::Request& req) {
    auto body = api::parse_body(req);
    if (body.error) return *body.error;
    LabelInput in;
    if (auto bad = read_label(body.doc, true, in)) return *bad;
    return create_row(ctx, label_resource(), in.values, conflict(in));
  });

  router.add_sync("GET", "/api/v1/labels/{id}", [&ctx](const http::Request& req) {
    return get_doc(ctx, "label_docs", req.params.at("id"), "Label");
  });

  auto update = [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Label");
    auto body = api::parse_body(req);
    if (body.error) return *body.error;
    LabelInput in;
    if (auto bad = read_label(body.doc, false, in)) return *bad;
    db::Params params{id};
    std::string sets = in.values.set_sql(params, no_cast);
    return update_row(ctx, label_resource(), id, sets, params, conflict(in));
  };
  router.add_sync("PUT", "/api/v1/labels/{id}", update);
  router.add_sync("PATCH", "/api/v1/labels/{id}", update);

  router.add_sync("DELETE", "/api/v1/labels/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, label_resource(), req.params.at("id")); });

  // Membership: adding is idempotent (200 either way), removing a device that is not a
  // member is 404 so typos are noticed.
  router.add_sync("POST", "/api/v1/labels/{id}/devices/{device_id}", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    const auto& device_id = req.params.at("device_id");
    if (!api::is_uuid(id)) return not_found("Label");
    if (!api::is_uuid(device_id)) return not_found("Device");
    std::int64_t version = 0;
    auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
      DM_ASSIGN_OR_RETURN(auto l, s.exec("SELECT 1 FROM labels WHERE id = $1::uuid", {id}));
      if (l.empty()) return not_found("Label");
      DM_ASSIGN_OR_RETURN(auto d, s.exec("UPDATE devices SET version = version + 1, updated_at = now() "
                                         "WHERE id = $1::uuid RETURNING version",
                                         {device_id}));
      if (d.empty()) return not_found("Device");
      version = d.get_int(0, 0);
      DM_TRY(
          s.exec("INSERT INTO device_labels (device_id, label_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING",
                 {device_id, id}));
      DM_ASSIGN_OR_RETURN(auto doc, s.exec("SELECT doc FROM device_docs WHERE id = $1::uuid", {device_id}));
      return http::Response::json(200, std::string(doc.get(0, 0)));
    });
    // Membership is part of the device (its labels); the label's own row is unchanged.
    if (res.status == 200) ctx.events.changed("device", "updated", device_id, version);
    return res;
  });

  router.add_sync("DELETE", "/api/v1/labels/{id}/devices/{device_id}", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    const auto& device_id = req.params.at("device_id");
    if (!api::is_uuid(id)) return not_found("Label");
    if (!api::is_uuid(device_id)) return not_found("Device");
    std::int64_t version = 0;
    auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
      DM_ASSIGN_OR_RETURN(auto del,
                          s.exec("DELETE FROM device_labels WHERE label_id = $1::uuid AND device_id = $2::uuid "
                                 "RETURNING device_id",
                                 {id, device_id}));
      if (del.empty()) return http::Response::error(404, "Device is not labelled with this label");
      DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE devices SET version = version + 1, updated_at = now() "
                                           "WHERE id = $1::uuid RETURNING version",
                                           {device_id}));
      version = upd.empty() ? 0 : upd.get_int(0, 0);
      return http::Response::empty(204);
    });
    if (res.status == 204) ctx.events.changed("device", "updated", device_id, version);
    return res;
  });
}

}  // namespace dm::registry
