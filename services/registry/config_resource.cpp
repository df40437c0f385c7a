// Integrations and storages are the same kind of resource: a unique name, a `type`, and a
// config whose shape depends on the type and which may hold secrets. This is their shared
// CRUD; config_types.hpp has what differs (each type's config rules, which values are secret,
// where they are sent).
//
//   GET/POST          /api/v1/<plural>            list (type/status filters), create
//   GET/PUT/PATCH/DEL /api/v1/<plural>/{id}       one; PUT and PATCH both take partial bodies
//   GET               /internal/v1/<plural>/{id}  the same document with secrets opened; only
//                                                 over NATS (the gateway's table lacks it)
//   POST              /internal/v1/integrations/{id}/status  the dispatcher's reports
//
// Updates: a `config` in the body replaces the stored one as a whole (validated against the
// type, defaults filled in); secrets sent back masked keep their stored values, but only while
// the destination stays the same (config_destination): a config re-pointed elsewhere must carry
// every secret in clear, else 422 names each one. The type may change only together with a
// new config.
//
// At start-up, rows stored before today's secret rule are brought under it (reseal_config):
// their clear secrets are sealed and their shown form masked anew; nothing a sender reads
// changes, so no version bump and no change event.
#include "config_types.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

struct ConfigResourceSpec {
  Kind kind;                           // Kind::integration or Kind::storage
  std::vector<ConfigType> types;       // the types it may have, in the order messages list them
  bool has_status = false;             // a read-only status written by the dispatcher (integrations)
  std::vector<std::string> read_only;  // output fields a client may send back (ignored)
};
using Spec = ConfigResourceSpec;

std::vector<std::string> type_words(const Spec& spec) { return words(std::span<const ConfigType>(spec.types)); }

// Configs were validated under the request limits; reading them back must not refuse them.
constexpr json::Limits kConfigLimits{.max_bytes = 16 << 20, .max_depth = 64};

struct Input {
  store::Columns columns;
  std::string name;
  std::optional<ConfigType> type;       // a valid type from the body
  bool bad_type = false;                // a type was sent but is not valid
  const json::Value* config = nullptr;  // the body's config object
};

// The top-level fields; the config is only located here (its rules depend on the type).
std::vector<api::FieldError> read_fields(const Spec& spec, const json::Value& body, bool create, Input& in) {
  api::BodyReader r(body);
  std::vector<std::string> known = {"name", "description", "type", "config"};
  known.insert(known.end(), spec.read_only.begin(), spec.read_only.end());
  r.forbid_unknown(known);
  read_name_and_description(r, create, 255, in.columns, in.name);
  in.type = parse_choice<ConfigType>(r.choice("type", type_words(spec), create));
  in.bad_type = r.present("type") && !in.type;
  if (const auto* config = r.raw("config")) {
    if (config->IsObject())
      in.config = config;
    else
      r.add_error("config", "Input should be a valid dictionary", "dict_type");
  }
  return r.errors();
}

// The config as stored before: its JSON, and where it sends its secrets (nullopt when they
// cannot be opened: then nothing stored can be kept, and every secret must be sent again).
struct Previous {
  const json::Value* config = nullptr;
  std::optional<std::string> destination;
};

// Validates `config` for `type` and seals its secrets into the config/config_public columns;
// masked secrets keep their values from `previous` while the destination stays. Returns the
// refusal, if any, with `errors` included.
std::optional<http::Response> take_config(Context& ctx, ConfigType type, const json::Value& config,
                                          const Previous& previous, std::vector<api::FieldError> errors, Input& in) {
  auto plain = read_config(type, config, ctx.outbound, errors);
  if (!errors.empty() || !plain) return api::validation_error(errors);
  auto doc = json::parse(*plain, kConfigLimits);
  if (!doc) return store_error(make_error(Errc::internal, "normalised config is not JSON: " + doc.error().message));
  bool same_destination = previous.destination && *previous.destination == config_destination(type, *doc);
  std::vector<SecretProblem> problems;
  auto sealed = seal_config(*doc, config_secrets(type, *doc), previous.config, same_destination, ctx.secrets, problems);
  if (!sealed) return store_error(sealed.error());
  for (auto& p : problems) {
    std::vector<std::string> loc = {"body", "config"};
    loc.insert(loc.end(), p.path.begin(), p.path.end());
    errors.push_back({.loc = std::move(loc), .msg = std::move(p.message), .type = "value_error"});
  }
  if (!errors.empty()) return api::validation_error(errors);
  in.columns.set("config", std::move(sealed->stored));
  in.columns.set("config_public", std::move(sealed->shown));
  return std::nullopt;
}

// Where a stored (sealed) config sends its secrets; nullopt when its secrets cannot be opened.
std::optional<std::string> stored_destination(const SecretBox& box, ConfigType type, const json::Value& stored) {
  auto opened = open_config(stored, config_secrets(type, stored), box);
  if (!opened) return std::nullopt;
  auto doc = json::parse(*opened, kConfigLimits);
  if (!doc) return std::nullopt;
  return config_destination(type, *doc);
}

http::Response list(const Spec& spec, Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  std::vector<std::string> sortable = {"name", "type", "created_at", "updated_at"};
  if (spec.has_status) sortable.emplace_back("status");
  auto sort = q.sort(sortable, {"name", false});
  store::ConfigFilter filter{.type = parse_choice<ConfigType>(q.choice("type", type_words(spec)))};
  if (spec.has_status) filter.status = parse_choice<IntegrationStatus>(q.choice("status", words<IntegrationStatus>()));
  filter.text = q.string("search");
  if (!q.ok()) return q.response();
  return list_page(ctx, store::configs_matching(spec.kind, filter), sort, page);
}

http::Response create(const Spec& spec, Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  Input in;
  auto errors = read_fields(spec, body.doc, true, in);
  if (!in.type) return api::validation_error(errors);  // the config cannot be judged without one
  static const json::Value kEmpty(rapidjson::kObjectType);
  if (auto bad = take_config(ctx, *in.type, in.config ? *in.config : kEmpty, {}, std::move(errors), in)) return *bad;
  in.columns.set("type", std::string(word(*in.type)));
  return create_row(ctx, spec.kind, in.columns, name_conflict(spec.kind, in.name));
}

// Within the update's transaction, with the stored row locked: the new config and type, if any.
Refusal update_config(const Spec& spec, Context& ctx, db::Session& s, const std::string& id,
                      std::vector<api::FieldError> errors, Input& in) {
  DM_ASSIGN_OR_RETURN(auto row, store::lock_config(s, spec.kind, id));
  if (!row) return std::optional<http::Response>(not_found(spec.kind));
  if (in.type && *in.type != row->type && !in.config) {
    errors.push_back({.loc = {"body", "config"}, .msg = "config is required when the type changes", .type = "missing"});
  }
  if (!in.config || in.bad_type) {
    if (errors.empty()) return std::optional<http::Response>{};
    return std::optional<http::Response>(api::validation_error(errors));
  }
  const ConfigType type = in.type.value_or(row->type);
  auto stored = json::parse(row->config, kConfigLimits);
  if (!stored) return make_error(Errc::internal, "stored config is not JSON: " + stored.error().message);
  // The old type's secrets cannot be kept across a type change.
  Previous previous;
  if (type == row->type) previous = {.config = &*stored, .destination = stored_destination(ctx.secrets, type, *stored)};
  return take_config(ctx, type, *in.config, previous, std::move(errors), in);
}

http::Response update(const Spec& spec, Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(spec.kind);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  Input in;
  auto errors = read_fields(spec, body.doc, false, in);
  auto before = [&](db::Session& s) -> Refusal {
    DM_ASSIGN_OR_RETURN(auto refused, update_config(spec, ctx, s, id, std::move(errors), in));
    if (!refused && in.type) in.columns.set("type", std::string(word(*in.type)));
    return refused;
  };
  return update_row(ctx, spec.kind, id, in.columns, name_conflict(spec.kind, in.name), {.before = before});
}

// The public document with the config's secrets opened, for the services that deliver.
http::Response get_internal(const Spec& spec, Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(spec.kind);
  auto found = store::config_document(ctx.db, spec.kind, id);
  if (!found) return store_error(found.error());
  if (!*found) return not_found(spec.kind);
  auto doc = json::parse((*found)->doc, kConfigLimits);
  auto stored = json::parse((*found)->stored.config, kConfigLimits);
  if (!doc || !stored)
    return store_error(
        make_error(Errc::internal, std::string(word(spec.kind)) + " " + id + ": stored JSON unreadable"));
  auto opened = open_config(*stored, config_secrets((*found)->stored.type, *stored), ctx.secrets);
  if (!opened) {
    log::error("stored secrets cannot be opened",
               {{"kind", word(spec.kind)}, {"id", id}, {"error", opened.error().message}});
    return http::Response::error(500, "Stored secrets cannot be decrypted (was SECRET_KEY changed?)");
  }
  auto config = json::parse(*opened, kConfigLimits);
  if (!config) return store_error(config.error());
  (*doc)["config"].CopyFrom(*config, doc->GetAllocator());
  return http::Response::json(200, json::to_string(*doc));
}

// POST /internal/v1/integrations/{id}/status {status, last_error}: the dispatcher reports a
// circuit breaker opening (error) or closing (active). Not a definition change: no version
// bump and no change event, so other services' caches keep their copies.
http::Response set_status(const Spec& spec, Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(spec.kind);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  api::BodyReader r(body.doc);
  r.forbid_unknown({"status", "last_error"});
  auto status = parse_choice<IntegrationStatus>(r.choice("status", words<IntegrationStatus>(), true));
  // The dispatcher's own words, which may quote a remote answer: kept as reported.
  auto last_error = r.string("last_error", {.max = 4000, .nullable = true, .allow_control = true});
  if (!r.ok()) return api::validation_error(r.errors());
  auto updated = store::set_integration_status(ctx.db, id, *status, last_error);
  if (!updated) return store_error(updated.error());
  if (!*updated) return not_found(spec.kind);
  ctx.events.invalidate_reads();  // no change event, but cached reads show the status
  return http::Response::empty(204);
}

// Rows already under the rule come out the same and are not written (store::rewrite_config).
Result<std::int64_t> reseal_rows(Context& ctx, Kind kind) {
  return ctx.db.transaction([&](db::Session& s) -> Result<std::int64_t> {
    DM_ASSIGN_OR_RETURN(auto rows, store::lock_all_configs(s, kind));
    std::int64_t changed = 0;
    for (const auto& row : rows) {
      auto stored = json::parse(row.stored.config, kConfigLimits);
      if (!stored) return make_error(Errc::internal, "stored config is not JSON: " + stored.error().message);
      DM_ASSIGN_OR_RETURN(auto sealed, reseal_config(*stored, config_secrets(row.stored.type, *stored), ctx.secrets));
      DM_ASSIGN_OR_RETURN(bool written, store::rewrite_config(s, kind, row.id, sealed));
      changed += written ? 1 : 0;
    }
    return changed;
  });
}

void reseal_stored(Context& ctx, Kind kind) {
  auto resealed = reseal_rows(ctx, kind);
  if (!resealed) {
    // Not fatal: answers of such rows keep their old masking until the next start or update.
    log::error("stored secrets could not be brought under the current rule",
               {{"kind", word(kind)}, {"error", resealed.error().message}});
  } else if (*resealed > 0) {
    log::info("stored secrets sealed and masked by the current rule",
              {{"kind", word(kind)}, {"rows", static_cast<long long>(*resealed)}});
    ctx.events.invalidate_reads();
  }
}

void add_config_resource_routes(http::Router& router, Context& ctx, const ConfigResourceSpec& spec) {
  const std::string base = "/api/v1/" + std::string(plural(spec.kind));
  const std::string internal = "/internal/v1/" + std::string(plural(spec.kind)) + "/{id}";
  const Kind kind = spec.kind;
  router.add_sync("GET", base, [spec, &ctx](const http::Request& req) { return list(spec, ctx, req); });
  router.add_sync("POST", base, [spec, &ctx](const http::Request& req) { return create(spec, ctx, req); });
  router.add_sync("GET", base + "/{id}",
                  [kind, &ctx](const http::Request& req) { return get_doc(ctx, kind, req.params.at("id")); });
  auto upd = [spec, &ctx](const http::Request& req) { return update(spec, ctx, req); };
  router.add_sync("PUT", base + "/{id}", upd);
  router.add_sync("PATCH", base + "/{id}", upd);
  router.add_sync("DELETE", base + "/{id}",
                  [kind, &ctx](const http::Request& req) { return delete_row(ctx, kind, req.params.at("id")); });
  router.add_sync("GET", internal, [spec, &ctx](const http::Request& req) { return get_internal(spec, ctx, req); });
  if (spec.has_status) {
    router.add_sync("POST", internal + "/status",
                    [spec, &ctx](const http::Request& req) { return set_status(spec, ctx, req); });
  }
}

}  // namespace

void add_integration_routes(http::Router& router, Context& ctx) {
  add_config_resource_routes(router, ctx,
                             {.kind = Kind::integration,
                              .types = {ConfigType::http, ConfigType::mqtt},
                              .has_status = true,
                              .read_only = {"id", "status", "last_error", "version", "created_at", "updated_at"}});
}

void add_storage_routes(http::Router& router, Context& ctx) {
  add_config_resource_routes(router, ctx,
                             {.kind = Kind::storage,
                              .types = {ConfigType::internal, ConfigType::influxdb, ConfigType::postgresql},
                              .read_only = {"id", "version", "created_at", "updated_at"}});
}

void reseal_stored_secrets(Context& ctx) {
  reseal_stored(ctx, Kind::integration);
  reseal_stored(ctx, Kind::storage);
}

}  // namespace dm::registry
