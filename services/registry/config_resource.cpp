#include "config_resource.hpp"

#include <algorithm>
#include <set>

#include "dm/core/strings.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/http/client.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;
using Spec = ConfigResourceSpec;

struct Input {
  ColumnValues values;  // column → text value (cast in SQL)
  std::string name;
  std::optional<std::string> type;      // a valid type from the body
  bool bad_type = false;                // a type was sent but is not valid
  const json::Value* config = nullptr;  // the body's config object
};

std::string cast_of(const std::string& column) {
  return column == "config" || column == "config_public" ? "::jsonb" : "";
}

// The top-level fields; the config is only located here (its rules depend on the type).
std::vector<api::FieldError> read_fields(const Spec& spec, const json::Value& body, bool create, Input& in) {
  api::BodyReader r(body);
  std::vector<std::string> known = {"name", "description", "type", "config"};
  known.insert(known.end(), spec.read_only.begin(), spec.read_only.end());
  r.forbid_unknown(known);
  read_name_and_description(r, create, 255, in.values, in.name);
  in.type = r.choice("type", spec.types, create);
  in.bad_type = r.present("type") && !in.type;
  if (const auto* config = r.raw("config")) {
    if (config->IsObject())
      in.config = config;
    else
      r.add_error("config", "Input should be a valid dictionary", "dict_type");
  }
  return r.errors();
}

// Validates `config` for `type` and seals its secrets into the config/config_public
// columns; `previous` is the stored config when the type is unchanged and
// `previous_destination` where it sends its secrets (masked secrets keep their values from it
// while the destination stays). Returns the refusal, if any, with `errors` included.
std::optional<http::Response> take_config(const Spec& spec, const SecretBox& box, std::string_view type,
                                          const json::Value& config, const json::Value* previous,
                                          const std::optional<std::string>& previous_destination,
                                          std::vector<api::FieldError> errors, Input& in) {
  auto plain = spec.read_config(type, config, errors);
  if (!errors.empty() || !plain) return api::validation_error(errors);
  auto doc = json::parse(*plain, {.max_bytes = 16 << 20, .max_depth = 64});
  if (!doc) return store_error(make_error(Errc::internal, "normalised config is not JSON: " + doc.error().message));
  bool same_destination = previous_destination && *previous_destination == spec.destination_of(type, *doc);
  std::vector<SecretProblem> problems;
  auto sealed = seal_config(*doc, spec.secrets_of(type, *doc), previous, same_destination, box, problems);
  if (!sealed) return store_error(sealed.error());
  for (auto& p : problems) {
    std::vector<std::string> loc = {"body", "config"};
    loc.insert(loc.end(), p.path.begin(), p.path.end());
    errors.push_back({std::move(loc), std::move(p.message), "value_error"});
  }
  if (!errors.empty()) return api::validation_error(errors);
  in.values.columns.emplace_back("config", std::move(sealed->stored));
  in.values.columns.emplace_back("config_public", std::move(sealed->shown));
  return std::nullopt;
}

// Where a stored (sealed) config sends its secrets; nullopt when its secrets cannot be opened
// (then nothing stored can be kept, and every secret must be sent again).
std::optional<std::string> stored_destination(const Spec& spec, const SecretBox& box, std::string_view type,
                                              const json::Value& stored) {
  auto opened = open_config(stored, spec.secrets_of(type, stored), box);
  if (!opened) return std::nullopt;
  auto doc = json::parse(*opened, {.max_bytes = 16 << 20, .max_depth = 64});
  if (!doc) return std::nullopt;
  return spec.destination_of(type, *doc);
}

std::string conflict(const Spec& spec, const Input& in) {
  return spec.a_what + " named '" + in.name + "' already exists";
}

http::Response list(const Spec& spec, Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  std::vector<std::string> sortable = {"name", "type", "created_at", "updated_at"};
  if (!spec.statuses.empty()) sortable.emplace_back("status");
  auto sort = q.sort(sortable, {"name", false});
  auto type = q.choice("type", spec.types);
  std::optional<std::string> status;
  if (!spec.statuses.empty()) status = q.choice("status", spec.statuses);
  auto text = q.string("search");
  if (!q.ok()) return q.response();
  db::Params params{type, text ? db::Param("%" + *text + "%") : std::nullopt};
  std::string where =
      " WHERE ($1::text IS NULL OR v.type = $1)"
      " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)";
  if (!spec.statuses.empty()) {
    params.push_back(status);
    where += " AND ($3::text IS NULL OR v.status = $3)";
  }
  return list_page(ctx, spec.view, where, std::move(params), sort, page);
}

Resource resource_of(const Spec& spec) {
  return Resource{spec.table, spec.view, spec.kind, spec.what, "/api/v1/" + spec.plural + "/", cast_of};
}

http::Response create(const Spec& spec, Context& ctx, const SecretBox& box, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  Input in;
  auto errors = read_fields(spec, body.doc, true, in);
  if (!in.type) return api::validation_error(errors);  // the config cannot be judged without one
  static const json::Value kEmpty(rapidjson::kObjectType);
  if (auto bad = take_config(spec, box, *in.type, in.config ? *in.config : kEmpty, nullptr, std::nullopt,
                             std::move(errors), in)) {
    return *bad;
  }
  in.values.columns.emplace_back("type", *in.type);
  return create_row(ctx, resource_of(spec), in.values, conflict(spec, in));
}

http::Response get(const Spec& spec, Context& ctx, const http::Request& req) {
  return get_doc(ctx, spec.view, req.params.at("id"), spec.what);
}

// Within the update's transaction, with the stored row locked: the new config, if any.
Result<std::optional<http::Response>> update_config(const Spec& spec, const SecretBox& box, db::Session& s,
                                                    const std::string& id, std::vector<api::FieldError> errors,
                                                    Input& in) {
  DM_ASSIGN_OR_RETURN(auto row,
                      s.exec("SELECT type, config FROM " + spec.table + " WHERE id = $1::uuid FOR UPDATE", {id}));
  if (row.empty()) return std::optional<http::Response>(not_found(spec.what));
  std::string stored_type(row.get(0, 0));
  if (in.type && *in.type != stored_type && !in.config) {
    errors.push_back({{"body", "config"}, "config is required when the type changes", "missing"});
  }
  if (!in.config || in.bad_type) {
    if (errors.empty()) return std::optional<http::Response>{};
    return std::optional<http::Response>(api::validation_error(errors));
  }
  std::string type = in.type.value_or(stored_type);
  auto stored = json::parse(row.get(0, 1), {.max_bytes = 16 << 20, .max_depth = 64});
  if (!stored) return make_error(Errc::internal, "stored config is not JSON: " + stored.error().message);
  if (type != stored_type) return take_config(spec, box, type, *in.config, nullptr, std::nullopt, std::move(errors), in);
  auto destination = stored_destination(spec, box, type, *stored);
  return take_config(spec, box, type, *in.config, &*stored, destination, std::move(errors), in);
}

http::Response update(const Spec& spec, Context& ctx, const SecretBox& box, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found(spec.what);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  Input in;
  auto errors = read_fields(spec, body.doc, false, in);
  std::int64_t version = 0;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto refused, update_config(spec, box, s, id, std::move(errors), in));
        if (refused) return std::move(*refused);
        if (in.type) in.values.columns.emplace_back("type", *in.type);
        db::Params params{id};
        std::string sets = in.values.set_sql(params, cast_of);
        DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE " + spec.table + " SET version = version + 1, updated_at = now()" +
                                                 sets + " WHERE id = $1::uuid RETURNING version",
                                             params));
        version = upd.get_int(0, 0);
        DM_ASSIGN_OR_RETURN(auto doc, s.exec("SELECT doc FROM " + spec.view + " WHERE id = $1::uuid", {id}));
        return http::Response::json(200, std::string(doc.get(0, 0)));
      },
      conflict(spec, in));
  if (res.status == 200) ctx.events.changed(spec.kind, "updated", id, version);
  return res;
}

http::Response remove(const Spec& spec, Context& ctx, const http::Request& req) {
  return delete_row(ctx, resource_of(spec), req.params.at("id"));
}

// The public document with the config's secrets opened, for the services that deliver.
http::Response get_internal(const Spec& spec, Context& ctx, const SecretBox& box, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found(spec.what);
  auto rows = ctx.db.exec("SELECT v.doc, t.type, t.config FROM " + spec.view + " v JOIN " + spec.table +
                              " t ON t.id = v.id WHERE v.id = $1::uuid",
                          {id});
  if (!rows) return store_error(rows.error());
  if (rows->empty()) return not_found(spec.what);
  auto doc = json::parse(rows->get(0, 0), {.max_bytes = 16 << 20, .max_depth = 64});
  auto stored = json::parse(rows->get(0, 2), {.max_bytes = 16 << 20, .max_depth = 64});
  if (!doc || !stored)
    return store_error(make_error(Errc::internal, spec.kind + " " + id + ": stored JSON unreadable"));
  auto opened = open_config(*stored, spec.secrets_of(rows->get(0, 1), *stored), box);
  if (!opened) {
    log::error("stored secrets cannot be opened", {{"kind", spec.kind}, {"id", id}, {"error", opened.error().message}});
    return http::Response::error(500, "Stored secrets cannot be decrypted (was SECRET_KEY changed?)");
  }
  auto config = json::parse(*opened, {.max_bytes = 16 << 20, .max_depth = 64});
  if (!config) return store_error(config.error());
  (*doc)["config"].CopyFrom(*config, doc->GetAllocator());
  return http::Response::json(200, json::to_string(*doc));
}

// POST /internal/v1/integrations/{id}/status {status, last_error}: the dispatcher reports a
// circuit breaker opening (error) or closing (active). Not a definition change: no version
// bump and no change event, so other services' caches keep their copies.
http::Response set_status(const Spec& spec, Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found(spec.what);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  api::BodyReader r(body.doc);
  r.forbid_unknown({"status", "last_error"});
  auto status = r.choice("status", spec.statuses, true);
  // The dispatcher's own words, which may quote a remote answer: kept as reported.
  auto last_error = r.string("last_error", {.max = 4000, .nullable = true, .allow_control = true});
  if (!r.ok()) return api::validation_error(r.errors());
  auto rows = ctx.db.exec("UPDATE " + spec.table + " SET status = $2, last_error = $3 WHERE id = $1::uuid RETURNING id",
                          {id, *status, last_error});
  if (!rows) return store_error(rows.error());
  if (rows->empty()) return not_found(spec.what);
  ctx.events.invalidate_reads();  // no change event, but cached reads show the status
  return http::Response::empty(204);
}

// Brings the rows stored before today's secret rule under it (see the header). One
// transaction under an advisory lock, so replicas starting together do it once; rows already
// under the rule compare equal (jsonb) and are not written.
Result<std::int64_t> reseal_stored(const Spec& spec, Context& ctx, const SecretBox& box) {
  return ctx.db.transaction([&](db::Session& s) -> Result<std::int64_t> {
    DM_TRY(s.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"registry.reseal." + spec.table}));
    DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT id, type, config FROM " + spec.table + " FOR UPDATE"));
    std::int64_t changed = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto stored = json::parse(rows.get(i, 2), {.max_bytes = 16 << 20, .max_depth = 64});
      if (!stored) return make_error(Errc::internal, "stored config is not JSON: " + stored.error().message);
      DM_ASSIGN_OR_RETURN(auto sealed, reseal_config(*stored, spec.secrets_of(rows.get(i, 1), *stored), box));
      DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE " + spec.table +
                                               " SET config = $2::jsonb, config_public = $3::jsonb WHERE id = $1::uuid"
                                               " AND (config <> $2::jsonb OR config_public <> $3::jsonb)",
                                           {std::string(rows.get(i, 0)), sealed.stored, sealed.shown}));
      changed += upd.affected();
    }
    return changed;
  });
}

}  // namespace

void add_config_resource_routes(http::Router& router, Context& ctx, std::shared_ptr<const ConfigResourceSpec> spec) {
  auto box = std::make_shared<SecretBox>(ctx.secret_key);
  if (auto resealed = reseal_stored(*spec, ctx, *box); !resealed) {
    // Not fatal: answers of such rows keep their old masking until the next start or update.
    log::error("stored secrets could not be brought under the current rule",
               {{"kind", spec->kind}, {"error", resealed.error().message}});
  } else if (*resealed > 0) {
    log::info("stored secrets sealed and masked by the current rule",
              {{"kind", spec->kind}, {"rows", static_cast<long long>(*resealed)}});
    ctx.events.invalidate_reads();
  }
  const std::string base = "/api/v1/" + spec->plural;
  router.add_sync("GET", base, [spec, &ctx](const http::Request& req) { return list(*spec, ctx, req); });
  router.add_sync("POST", base, [spec, box, &ctx](const http::Request& req) { return create(*spec, ctx, *box, req); });
  router.add_sync("GET", base + "/{id}", [spec, &ctx](const http::Request& req) { return get(*spec, ctx, req); });
  auto upd = [spec, box, &ctx](const http::Request& req) { return update(*spec, ctx, *box, req); };
  router.add_sync("PUT", base + "/{id}", upd);
  router.add_sync("PATCH", base + "/{id}", upd);
  router.add_sync("DELETE", base + "/{id}", [spec, &ctx](const http::Request& req) { return remove(*spec, ctx, req); });
  router.add_sync("GET", "/internal/v1/" + spec->plural + "/{id}",
                  [spec, box, &ctx](const http::Request& req) { return get_internal(*spec, ctx, *box, req); });
  if (!spec->statuses.empty()) {
    router.add_sync("POST", "/internal/v1/" + spec->plural + "/{id}/status",
                    [spec, &ctx](const http::Request& req) { return set_status(*spec, ctx, req); });
  }
}

bool has_control_chars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

const http::OutboundPolicy& outbound_policy() {
  static const http::OutboundPolicy policy = [] {
    auto parsed = http::OutboundPolicy::parse(wiring().outbound_allow);
    if (parsed) return std::move(parsed).value();
    log::error("OUTBOUND_ALLOW ignored", {{"error", parsed.error().message}});
    return http::OutboundPolicy{};
  }();
  return policy;
}

void check_outbound(api::BodyReader& r, std::string_view field, const Result<void>& checked) {
  if (!checked) r.add_error(std::string(field), "refused: " + checked.error().message, "value_error");
}

void check_http_url(api::BodyReader& r, std::string_view field, const std::string& url) {
  auto parsed = http::parse_url(url);
  if (!parsed) {
    r.add_error(std::string(field), "Input should be a valid http:// or https:// URL (" + parsed.error().message + ")",
                "url_parsing");
    return;
  }
  // Refused at save time too, so nobody learns of it only when deliveries fail.
  check_outbound(r, field, http::check_outbound_host(outbound_policy(), parsed->host, parsed->port));
}

std::string http_destination(std::string_view url) {
  auto parsed = http::parse_url(url);
  if (!parsed) return std::string(url);
  std::string path = parsed->target.substr(0, parsed->target.find('?'));
  std::string host = parsed->host;
  host = lower(host);
  return parsed->scheme + "://" + host + ":" + std::to_string(parsed->port) + path;
}

std::optional<std::vector<std::pair<std::string, std::string>>> read_string_map(api::BodyReader& r,
                                                                                std::string_view field,
                                                                                std::size_t max_value) {
  const auto* v = r.raw(field);
  if (!v || v->IsNull()) return std::nullopt;
  if (!v->IsObject()) {
    r.add_error(std::string(field), "Input should be a valid dictionary", "dict_type");
    return std::nullopt;
  }
  if (v->MemberCount() > 100) {
    r.add_error(std::string(field), "At most 100 entries", "too_long");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool good = true;
  for (const auto& m : v->GetObject()) {
    std::string name(json::view(m.name));
    auto bad = [&](std::string msg, std::string type) {
      r.add_error_at({std::string(field), name}, std::move(msg), std::move(type));
      good = false;
    };
    if (name.empty() || name.size() > 255 || has_control_chars(name)) {
      bad("Names should have 1 to 255 characters, without control characters", "value_error");
    } else if (!m.value.IsString()) {
      bad("Input should be a valid string", "string_type");
    } else if (m.value.GetStringLength() > max_value || has_control_chars(json::view(m.value))) {
      bad("Values should have at most " + std::to_string(max_value) + " characters, without control characters",
          "value_error");
    } else {
      out.emplace_back(name, std::string(json::view(m.value)));
    }
  }
  if (!good) return std::nullopt;
  return out;
}

void write_string_map(json::Writer& w, std::string_view key,
                      const std::vector<std::pair<std::string, std::string>>& map) {
  w.key(key).start_object();
  for (const auto& [k, v] : map) w.field(k, v);
  w.end_object();
}

}  // namespace dm::registry
