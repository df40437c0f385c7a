#include "code_cache.hpp"

#include <condition_variable>

#include "dm/contract/subjects.hpp"
#include "dm/contract/taps.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"

namespace dm::function_runner {

std::string merge_params(std::string_view defaults, std::string_view params) {
  if (defaults == "{}" || defaults.empty()) return std::string(params);
  auto d = json::parse(defaults);
  auto p = json::parse(params, {.max_bytes = 64u << 20});
  if (!d || !p || !d->IsObject() || !p->IsObject()) return std::string(params);
  for (auto& m : d->GetObject()) {
    if (!p->HasMember(m.name))
      p->AddMember(json::Value(m.name, p->GetAllocator()), json::Value(m.value, p->GetAllocator()), p->GetAllocator());
  }
  return json::to_string(*p);
}

Result<CodePtr> CodeCache::parse(std::string_view body) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(body, {.max_bytes = 4u << 20}));
  if (!doc.IsObject()) return Error(Errc::internal, "registry answered a non-object");
  auto fc = std::make_shared<FunctionCode>();
  DM_ASSIGN_OR_RETURN(auto id, json::get_string(doc, "id"));
  DM_ASSIGN_OR_RETURN(auto code, json::get_string(doc, "code"));
  DM_ASSIGN_OR_RETURN(auto version, json::get_int(doc, "version"));
  fc->id = std::string(id);
  fc->code = std::make_shared<const std::string>(code);
  fc->version = version;
  if (const auto* params = json::find(doc, "parameters"); params && params->IsArray()) {
    json::Writer w;
    w.start_object();
    bool any = false;
    for (const auto& p : params->GetArray()) {
      const auto* name = p.IsObject() ? json::find(p, "name") : nullptr;
      const auto* def = p.IsObject() ? json::find(p, "default") : nullptr;
      if (!name || !name->IsString() || !def || def->IsNull()) continue;
      w.key(json::view(*name)).value(*def);
      any = true;
    }
    w.end_object();
    if (any) fc->defaults = w.take();
  }
  return CodePtr(fc);
}

std::map<std::string, Result<CodePtr>> CodeCache::get(const std::map<std::string, std::int64_t>& wanted) {
  std::map<std::string, Result<CodePtr>> out;
  std::vector<std::string> missing;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, version] : wanted) {
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second->version >= version)
        out.emplace(id, it->second);
      else
        missing.push_back(id);
    }
  }
  if (missing.empty()) return out;
  // Fetch the misses in parallel and wait for all of them.
  struct Wait {
    std::mutex m;
    std::condition_variable cv;
    std::size_t left = 0;
    std::map<std::string, Result<CodePtr>> got;
  };
  auto w = std::make_shared<Wait>();
  w->left = missing.size();
  for (const auto& id : missing) {
    auto finish = [w, id](Result<CodePtr> r) {
      std::lock_guard lock(w->m);
      w->got.emplace(id, std::move(r));
      if (--w->left == 0) w->cv.notify_all();
    };
    if (!contract::subject::is_token(id)) {
      finish(Error(Errc::not_found, "function not found"));
      continue;
    }
    bus::Headers headers{{"Dm-Method", "GET"}, {"Dm-Target", "/internal/v1/functions/" + id}};
    rpc_.request_async(
        contract::subject::rpc(contract::kRegistry, contract::kRunner), "", timeout_,
        [finish](Result<bus::Message> reply) {
          if (!reply) return finish(reply.take_error());
          auto status = reply->header("Dm-Status").value_or("200");
          if (status == "404") return finish(Error(Errc::not_found, "function not found"));
          if (status != "200") return finish(Error(Errc::unavailable, "registry answered " + status));
          finish(parse(reply->data));
        },
        headers);
  }
  std::unique_lock lock(w->m);
  w->cv.wait(lock, [&] { return w->left == 0; });
  std::lock_guard cache_lock(mutex_);
  for (auto& [id, r] : w->got) {
    if (r.ok()) entries_[id] = *r;
    out.emplace(id, std::move(r));
  }
  return out;
}

Result<CodePtr> CodeCache::get_one(const std::string& id) {
  auto all = get({{id, 0}});
  return std::move(all.begin()->second);
}

void CodeCache::invalidate(const std::string& id) {
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

Result<std::unique_ptr<bus::Subscription>> CodeCache::follow_changes(bus::Connection& nats) {
  return nats.subscribe(contract::subject::registry_changed(contract::to_string(contract::RegistryKind::function)), "",
                        [this](bus::Message&& m) {
                          if (auto change = contract::decode_registry_change(m.data)) invalidate(change->id);
                        });
}

}  // namespace dm::function_runner
