// /api/v1/devices: CRUD, filters, and the device's label set.
#include <algorithm>
#include <cctype>

#include "common.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"

namespace dm::registry {
namespace {

const std::vector<std::string> kRegions = {"EU868",   "US915",   "CN779",   "EU433", "AU915", "CN470", "AS923",
                                           "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864", "ISM2400"};
const std::vector<std::string> kStatuses = {"never_seen", "online", "offline", "maintenance"};
// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kReadOnly = {"id",      "labels",     "last_seen_at", "battery_level",
                                            "version", "created_at", "updated_at"};
const std::vector<std::string> kWritable = {"dev_eui",  "name",   "description", "status",   "expected_transmit_time",
                                            "app_eui",  "region", "is_class_c",  "metadata", "configuration",
                                            "label_ids"};

// 16 hex digits, any case, optionally with ':' or '-' separators; stored lowercase.
std::optional<std::string> normalise_eui(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.size() != 16) return std::nullopt;
  return out;
}

struct DeviceInput {
  ColumnValues values;  // column → value (text, cast by SQL)
  std::optional<std::vector<std::string>> label_ids;
};

std::string cast_of(const std::string& col) { return col == "metadata" || col == "configuration" ? "::jsonb" : ""; }

// Reads a create (all required fields) or an update (every field optional) body.
std::optional<http::Response> read_device(const json::Value& body, bool create, DeviceInput& in) {
  api::BodyReader r(body);
  std::vector<std::string> known = kWritable;
  known.insert(known.end(), kReadOnly.begin(), kReadOnly.end());
  r.forbid_unknown(known);
  auto set = [&](const char* col, db::Param v) { in.values.columns.emplace_back(col, std::move(v)); };

  if (auto eui = r.string("dev_eui", {.required = create, .min = 1, .max = 64})) {
    auto norm = normalise_eui(*eui);
    if (!norm)
      r.add_error("dev_eui", "dev_eui must be 16 hexadecimal characters", "value_error");
    else
      set("dev_eui", *norm);
  }
  if (auto v = r.string("name", {.required = create, .min = 1, .max = 255})) set("name", *v);
  if (auto v = r.string("description", {.max = 2000, .nullable = true}))
    set("description", *v);
  else if (r.is_null("description"))
    set("description", std::string());
  if (auto v = r.choice("status", kStatuses)) set("status", *v);
  if (auto v = r.integer("expected_transmit_time", {.min = 1, .max = 525600, .nullable = true}))
    set("expected_transmit_time", std::to_string(*v));
  else if (r.is_null("expected_transmit_time"))
    set("expected_transmit_time", std::nullopt);
  if (auto v = r.string("app_eui", {.max = 64, .nullable = true})) {
    auto norm = normalise_eui(*v);
    if (!norm)
      r.add_error("app_eui", "app_eui must be 16 hexadecimal characters", "value_error");
    else
      set("app_eui", *norm);
  } else if (r.is_null("app_eui")) {
    set("app_eui", std::nullopt);
  }
  if (r.is_null("region"))
    set("region", std::nullopt);
  else if (auto v = r.string("region", {.max = 16})) {
    std::string up = *v;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
    if (std::find(kRegions.begin(), kRegions.end(), up) == kRegions.end()) {
      std::string list;
      for (const auto& x : kRegions) list += (list.empty() ? "" : ", ") + x;
      r.add_error("region", "region must be one of " + list, "enum");
    } else {
      set("region", up);
    }
  }
  if (auto v = r.boolean("is_class_c")) set("is_class_c", *v ? "true" : "false");
  if (auto v = r.object_json("metadata")) set("metadata", *v);
  if (auto v = r.object_json("configuration")) set("configuration", *v);
  if (auto ids = r.string_list("label_ids")) {
    for (size_t i = 0; i < ids->size(); ++i) {
      if (!api::is_uuid((*ids)[i]))
        r.add_error_at({"label_ids", std::to_string(i)}, "Input should be a valid UUID", "uuid_parsing");
    }
    in.label_ids = std::move(ids);
  }
  if (!r.ok()) return r.response();
  return std::nullopt;
}

// Replaces the device's labels; 422 naming the first unknown label id.
Result<std::optional<http::Response>> replace_labels(db::Session& s, const std::string& device_id,
                                                     const std::vector<std::string>& label_ids) {
  DM_TRY(s.exec("DELETE FROM device_labels WHERE device_id = $1::uuid", {device_id}));
  for (size_t i = 0; i < label_ids.size(); ++i) {
    DM_ASSIGN_OR_RETURN(auto rows, s.exec("INSERT INTO device_labels (device_id, label_id) "
                                          "SELECT $1::uuid, id FROM labels WHERE id = $2::uuid ON CONFLICT DO NOTHING "
                                          "RETURNING label_id",
                                          {device_id, label_ids[i]}));
    if (rows.empty()) {
      DM_ASSIGN_OR_RETURN(auto exists, s.exec("SELECT 1 FROM labels WHERE id = $1::uuid", {label_ids[i]}));
      if (exists.empty()) {
        return std::optional<http::Response>(api::validation_error({"body", "label_ids", std::to_string(i)},
                                                                   "Label " + label_ids[i] + " does not exist"));
      }
    }
  }
  return std::optional<http::Response>{};
}

std::string conflict_detail(const DeviceInput& in) {
  for (const auto& [col, v] : in.values.columns) {
    if (col == "dev_eui" && v) return "A device with dev_eui " + *v + " already exists";
  }
  return "A device with this dev_eui already exists";
}

using TxResult = Result<http::Response>;

const Resource& device_resource() {
  static const Resource r{"devices", "device_docs", "device", "Device", "/api/v1/devices/", cast_of};
  return r;
}

// A body's label_ids replace the device's labels in the write's transaction.
InTransaction labels_of(const DeviceInput& in) {
  if (!in.label_ids) return {};
  return [ids = *in.label_ids](db::Session& s, const std::string& id) { return replace_labels(s, id, ids); };
}

}  // namespace

void add_device_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/devices", [&ctx](const http::Request& req) {
    api::QueryReader q(req);
    auto page = q.paging();
    auto sort =
        q.sort({"name", "dev_eui", "status", "created_at", "updated_at", "last_seen_at"}, {"created_at", false});
    auto status = q.choice("status", kStatuses);
    auto label = q.string("label");
    auto text = q.string("search");
    if (!text) text = q.string("q");
    if (!q.ok()) return q.response();
    db::Params params{status, std::nullopt, std::nullopt, std::nullopt};
    if (label) (api::is_uuid(*label) ? params[1] : params[2]) = *label;
    if (text) params[3] = "%" + *text + "%";
    const std::string where =
        " WHERE ($1::text IS NULL OR v.status = $1)"
        " AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM device_labels dl WHERE dl.device_id = v.id AND dl.label_id = "
        "$2::uuid))"
        " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM device_labels dl JOIN labels l ON l.id = dl.label_id"
        "      WHERE dl.device_id = v.id AND l.name = $3))"
        " AND ($4::text IS NULL OR v.name ILIKE $4 OR v.dev_eui ILIKE $4 OR v.description ILIKE $4)";
    return list_page(ctx, "device_docs", where, std::move(params), sort, page);
  });

  auto create = [&ctx](const http::Request& req) {
    auto body = api::parse_body(req);
    if (body.error) return *body.error;
    DeviceInput in;
    if (auto bad = read_device(body.doc, true, in)) return *bad;
    return create_row(ctx, device_resource(), in.values, conflict_detail(in), labels_of(in));
  };
  router.add_sync("POST", "/api/v1/devices", create);
  // The same for ingest's automatic registration of unknown devices (a route of its own, so
  // that ingest may call it and nothing else of the public API).
  router.add_sync("POST", "/internal/v1/devices", create);

  router.add_sync("GET", "/api/v1/devices/{id}", [&ctx](const http::Request& req) {
    return get_doc(ctx, "device_docs", req.params.at("id"), "Device");
  });

  auto update = [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Device");
    auto body = api::parse_body(req);
    if (body.error) return *body.error;
    DeviceInput in;
    if (auto bad = read_device(body.doc, false, in)) return *bad;
    db::Params params{id};
    std::string sets = in.values.set_sql(params, cast_of);
    return update_row(ctx, device_resource(), id, sets, params, conflict_detail(in), labels_of(in));
  };
  router.add_sync("PUT", "/api/v1/devices/{id}", update);
  router.add_sync("PATCH", "/api/v1/devices/{id}", update);

  router.add_sync("DELETE", "/api/v1/devices/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, device_resource(), req.params.at("id")); });

  router.add_sync("GET", "/api/v1/devices/{id}/labels", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Device");
    return in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
      DM_ASSIGN_OR_RETURN(auto dev, s.exec("SELECT 1 FROM devices WHERE id = $1::uuid", {id}));
      if (dev.empty()) return not_found("Device");
      DM_ASSIGN_OR_RETURN(auto rows,
                          s.exec("SELECT v.doc FROM label_docs v JOIN device_labels dl ON dl.label_id = v.id "
                                 "WHERE dl.device_id = $1::uuid ORDER BY v.name",
                                 {id}));
      return http::Response::json(200, json_array(rows));
    });
  });

  router.add_sync("PUT", "/api/v1/devices/{id}/labels", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Device");
    // Accepts {"label_ids": [...]} or a bare array of ids.
    auto body = api::parse_json_body(req);
    if (body.error) return std::move(*body.error);
    const json::Document& doc = body.doc;
    const json::Value* ids = doc.IsArray() ? &doc : json::find(doc, "label_ids");
    if (!ids || !ids->IsArray()) return api::validation_error({"body", "label_ids"}, "Field required", "missing");
    std::vector<std::string> label_ids;
    for (rapidjson::SizeType i = 0; i < ids->Size(); ++i) {
      const auto& v = (*ids)[i];
      if (!v.IsString() || !api::is_uuid(json::view(v))) {
        return api::validation_error({"body", "label_ids", std::to_string(i)}, "Input should be a valid UUID",
                                     "uuid_parsing");
      }
      label_ids.emplace_back(json::view(v));
    }
    std::int64_t version = 0;
    auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
      DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE devices SET version = version + 1, updated_at = now() "
                                           "WHERE id = $1::uuid RETURNING version",
                                           {id}));
      if (upd.empty()) return not_found("Device");
      version = upd.get_int(0, 0);
      DM_ASSIGN_OR_RETURN(auto bad, replace_labels(s, id, label_ids));
      if (bad) return std::move(*bad);
      DM_ASSIGN_OR_RETURN(auto rows,
                          s.exec("SELECT v.doc FROM label_docs v JOIN device_labels dl ON dl.label_id = v.id "
                                 "WHERE dl.device_id = $1::uuid ORDER BY v.name",
                                 {id}));
      return http::Response::json(200, json_array(rows));
    });
    if (res.status == 200) ctx.events.changed("device", "updated", id, version);
    return res;
  });
}

}  // namespace dm::registry
