// /api/v1/devices: CRUD, filters, and the device's label set.
#include <algorithm>
#include <cctype>
#include <variant>

#include "dm/core/strings.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;

const std::vector<std::string> kRegions = {"EU868",   "US915",   "CN779",   "EU433", "AU915", "CN470", "AS923",
                                           "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864", "ISM2400"};
// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kReadOnly = {"id",      "labels",     "last_seen_at", "battery_level",
                                            "version", "created_at", "updated_at"};
const std::vector<std::string> kWritable = {"dev_eui",  "name",   "description", "status",   "expected_transmit_time",
                                            "app_eui",  "region", "is_class_c",  "metadata", "configuration",
                                            "label_ids"};

struct DeviceInput {
  store::Columns columns;
  std::optional<std::vector<std::string>> label_ids;
};

// 16 hex digits, any case, optionally with ':' or '-' separators; stored lowercase.
void read_eui(api::BodyReader& r, const char* field, const std::optional<std::string>& text, DeviceInput& in) {
  if (!text) return;
  auto digits = eui_digits(*text, ":-");
  if (!digits || digits->size() != 16)
    r.add_error(field, std::string(field) + " must be 16 hexadecimal characters", "value_error");
  else
    in.columns.set(field, *digits);
}

void read_region(api::BodyReader& r, DeviceInput& in) {
  if (r.is_null("region")) {
    in.columns.set("region", std::nullopt);
    return;
  }
  auto v = r.string("region", {.max = 16});
  if (!v) return;
  std::string up = *v;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  if (std::find(kRegions.begin(), kRegions.end(), up) != kRegions.end()) {
    in.columns.set("region", up);
    return;
  }
  std::string list;
  for (const auto& x : kRegions) list += (list.empty() ? "" : ", ") + x;
  r.add_error("region", "region must be one of " + list, "enum");
}

void read_label_ids(api::BodyReader& r, DeviceInput& in) {
  auto ids = r.string_list("label_ids");
  if (!ids) return;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!is_uuid((*ids)[i]))
      r.add_error_at({"label_ids", std::to_string(i)}, "Input should be a valid UUID", "uuid_parsing");
  }
  in.label_ids = std::move(ids);
}

// Reads a create (all required fields) or an update (every field optional) body.
std::optional<http::Response> read_device(const json::Value& body, bool create, DeviceInput& in) {
  api::BodyReader r(body);
  std::vector<std::string> known = kWritable;
  known.insert(known.end(), kReadOnly.begin(), kReadOnly.end());
  r.forbid_unknown(known);
  auto& c = in.columns;
  read_eui(r, "dev_eui", r.string("dev_eui", {.required = create, .min = 1, .max = 64}), in);
  std::string name;
  read_name_and_description(r, create, 255, c, name);
  if (auto v = r.choice("status", words<DeviceStatus>())) c.set("status", *v);
  if (auto v = r.integer("expected_transmit_time", {.min = 1, .max = 525600, .nullable = true}))
    c.set("expected_transmit_time", std::to_string(*v));
  else if (r.is_null("expected_transmit_time"))
    c.set("expected_transmit_time", std::nullopt);
  if (r.is_null("app_eui"))
    c.set("app_eui", std::nullopt);
  else
    read_eui(r, "app_eui", r.string("app_eui", {.max = 64, .nullable = true}), in);
  read_region(r, in);
  if (auto v = r.boolean("is_class_c")) c.set("is_class_c", *v ? "true" : "false");
  if (auto v = r.object_json("metadata")) c.set("metadata", *v);
  if (auto v = r.object_json("configuration")) c.set("configuration", *v);
  read_label_ids(r, in);
  if (!r.ok()) return r.response();
  return std::nullopt;
}

std::string conflict_detail(const DeviceInput& in) {
  if (const auto* eui = in.columns.find("dev_eui"); eui && *eui)
    return "A device with dev_eui " + **eui + " already exists";
  return "A device with this dev_eui already exists";
}

// Replaces the device's labels: 422 naming the first unknown label id.
Refusal replace_labels(db::Session& s, const std::string& device_id, const std::vector<std::string>& label_ids) {
  DM_ASSIGN_OR_RETURN(auto unknown, store::replace_device_labels(s, device_id, label_ids));
  if (!unknown) return std::optional<http::Response>{};
  return std::optional<http::Response>(api::validation_error({"body", "label_ids", std::to_string(*unknown)},
                                                             "Label " + label_ids[*unknown] + " does not exist"));
}

// A body's label_ids replace the device's labels in the write's transaction.
WriteSteps labels_of(const DeviceInput& in) {
  if (!in.label_ids) return {};
  return {.after = [ids = *in.label_ids](db::Session& s, const std::string& id) { return replace_labels(s, id, ids); }};
}

http::Response list_devices(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "dev_eui", "status", "created_at", "updated_at", "last_seen_at"}, {"created_at", false});
  store::DeviceFilter filter{.status = parse_choice<DeviceStatus>(q.choice("status", words<DeviceStatus>())),
                             .label = q.string("label"),
                             .text = q.string("search")};
  if (!filter.text) filter.text = q.string("q");
  if (!q.ok()) return q.response();
  return list_page(ctx, store::devices_matching(filter), sort, page);
}

http::Response create_device(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  DeviceInput in;
  if (auto bad = read_device(body.doc, true, in)) return *bad;
  return create_row(ctx, Kind::device, in.columns, conflict_detail(in), labels_of(in));
}

http::Response update_device(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::device);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  DeviceInput in;
  if (auto bad = read_device(body.doc, false, in)) return *bad;
  return update_row(ctx, Kind::device, id, in.columns, conflict_detail(in), labels_of(in));
}

http::Response get_labels(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::device);
  return in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
    DM_ASSIGN_OR_RETURN(bool known, store::exists(s, Kind::device, id));
    if (!known) return not_found(Kind::device);
    DM_ASSIGN_OR_RETURN(auto labels, store::device_labels(s, id));
    return http::Response::json(200, std::move(labels));
  });
}

// {"label_ids": [...]} or a bare array of ids; a 422 answer when it is neither.
std::variant<std::vector<std::string>, http::Response> read_label_set(const http::Request& req) {
  auto body = api::parse_json_body(req);
  if (body.error) return std::move(*body.error);
  const json::Document& doc = body.doc;
  const json::Value* ids = doc.IsArray() ? &doc : json::find(doc, "label_ids");
  if (!ids || !ids->IsArray()) return api::validation_error({"body", "label_ids"}, "Field required", "missing");
  std::vector<std::string> label_ids;
  for (rapidjson::SizeType i = 0; i < ids->Size(); ++i) {
    const auto& v = (*ids)[i];
    if (!v.IsString() || !is_uuid(json::view(v))) {
      return api::validation_error({"body", "label_ids", std::to_string(i)}, "Input should be a valid UUID",
                                   "uuid_parsing");
    }
    label_ids.emplace_back(json::view(v));
  }
  return label_ids;
}

// PUT /devices/{id}/labels: the device's whole label set, answered as its labels.
http::Response put_labels(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::device);
  auto read = read_label_set(req);
  if (auto* bad = std::get_if<http::Response>(&read)) return std::move(*bad);
  const auto& label_ids = std::get<std::vector<std::string>>(read);
  std::int64_t version = 0;
  auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
    DM_ASSIGN_OR_RETURN(auto updated, store::update_row(s, Kind::device, id, {}));
    if (!updated) return not_found(Kind::device);
    version = *updated;
    DM_ASSIGN_OR_RETURN(auto bad, replace_labels(s, id, label_ids));
    if (bad) return std::move(*bad);
    DM_ASSIGN_OR_RETURN(auto labels, store::device_labels(s, id));
    return http::Response::json(200, std::move(labels));
  });
  if (res.status == 200) ctx.events.changed(Kind::device, Action::updated, id, version);
  return res;
}

}  // namespace

void add_device_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/devices", [&ctx](const http::Request& req) { return list_devices(ctx, req); });
  auto create = [&ctx](const http::Request& req) { return create_device(ctx, req); };
  router.add_sync("POST", "/api/v1/devices", create);
  // The same for ingest's automatic registration of unknown devices (a route of its own, so
  // that ingest may call it and nothing else of the public API).
  router.add_sync("POST", "/internal/v1/devices", create);
  router.add_sync("GET", "/api/v1/devices/{id}",
                  [&ctx](const http::Request& req) { return get_doc(ctx, Kind::device, req.params.at("id")); });
  auto update = [&ctx](const http::Request& req) { return update_device(ctx, req); };
  router.add_sync("PUT", "/api/v1/devices/{id}", update);
  router.add_sync("PATCH", "/api/v1/devices/{id}", update);
  router.add_sync("DELETE", "/api/v1/devices/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, Kind::device, req.params.at("id")); });
  router.add_sync("GET", "/api/v1/devices/{id}/labels",
                  [&ctx](const http::Request& req) { return get_labels(ctx, req); });
  router.add_sync("PUT", "/api/v1/devices/{id}/labels",
                  [&ctx](const http::Request& req) { return put_labels(ctx, req); });
}

}  // namespace dm::registry
