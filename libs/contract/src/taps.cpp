#include "dm/contract/taps.hpp"

#include <algorithm>

#include "dm/core/text.hpp"
#include "fields.hpp"

namespace dm::contract {

using detail::Fields;
using detail::Need;
using detail::owned;

namespace {

// Taps are small: a larger one is not one of ours.
constexpr json::Limits kTapLimits{.max_bytes = 4 << 20, .max_depth = 64};

}  // namespace

// ---- delivery-result

template <MessageText Text>
std::string encode(const BasicDeliveryResult<Text>& r) {
  json::Writer w;
  w.start_object().field("job_id", r.job_id);
  if (r.kind) detail::word_field(w, "kind", *r.kind);
  w.field("target_id", r.target_id);
  detail::field_if(w, "flow_id", r.flow_id);
  detail::field_if(w, "flow_run_id", r.flow_run_id);
  detail::field_if(w, "node_id", r.node_id);
  detail::field_if(w, "dev_eui", r.dev_eui);
  detail::word_field(w, "status", r.status);
  w.field("attempt", r.attempt).key("http_status");
  if (r.http_status)
    w.integer(*r.http_status);
  else
    w.null();
  w.field_or_null("error", r.error);
  detail::field_if(w, "next_attempt_at", r.next_attempt_at);
  w.field("duration_ms", r.duration_ms).field("at", r.at).end_object();
  return w.take();
}
template std::string encode(const DeliveryResult&);
template std::string encode(const DeliveryResultRef&);

Result<DeliveryResult> decode_delivery_result(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kTapLimits, "delivery result"));
  Fields f(doc);
  DeliveryResult r;
  DM_ASSIGN_OR_RETURN(r.job_id, f.text("job_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(r.kind, f.word<JobKind>("kind", Need::optional));
  DM_ASSIGN_OR_RETURN(r.target_id, f.text("target_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(auto flow_id, f.text("flow_id", Need::optional, detail::kToken));
  DM_ASSIGN_OR_RETURN(auto run_id, f.text("flow_run_id", Need::optional));
  DM_ASSIGN_OR_RETURN(auto node_id, f.text("node_id", Need::optional));
  DM_ASSIGN_OR_RETURN(auto dev_eui, f.text("dev_eui", Need::optional, detail::kDevEui));
  DM_ASSIGN_OR_RETURN(r.status, f.word<DeliveryStatus>("status"));
  DM_ASSIGN_OR_RETURN(auto attempt, f.integer("attempt", 1, std::numeric_limits<int>::max()));
  DM_ASSIGN_OR_RETURN(auto http_status, f.integer("http_status", Need::nullable, 100, 599));
  DM_ASSIGN_OR_RETURN(auto error, f.text("error", Need::nullable));
  DM_ASSIGN_OR_RETURN(auto next, f.text("next_attempt_at", Need::optional_nullable, detail::kTimestamp));
  DM_ASSIGN_OR_RETURN(r.duration_ms, f.number("duration_ms", true));
  DM_ASSIGN_OR_RETURN(r.at, f.text("at", detail::kTimestamp));
  r.flow_id = owned(flow_id);
  r.flow_run_id = owned(run_id);
  r.node_id = owned(node_id);
  r.dev_eui = owned(dev_eui);
  r.attempt = static_cast<int>(attempt);
  if (http_status) r.http_status = static_cast<int>(*http_status);
  r.error = owned(error);
  r.next_attempt_at = owned(next);
  return r;
}

// ---- function-run

template <MessageText Text>
std::string encode(const BasicFunctionRun<Text>& r) {
  json::Writer w;
  w.start_object().field("run_id", r.run_id).field("function_id", r.function_id).field("version", r.version);
  w.field_or_null("flow_id", r.flow_id).field_or_null("flow_run_id", r.flow_run_id);
  w.field_or_null("node_id", r.node_id).field_or_null("dev_eui", r.dev_eui);
  detail::word_field(w, "status", r.status);
  w.field("duration_ms", r.duration_ms);
  detail::write_fn_error_field(w, r.error);
  detail::write_logs(w, r.logs);
  if (r.output) w.key("output").raw(*r.output);
  w.field("replay", r.replay).field("at", r.at).end_object();
  return w.take();
}
template std::string encode(const FunctionRun&);
template std::string encode(const FunctionRunRef&);

Result<FunctionRun> decode_function_run(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kTapLimits, "function run"));
  Fields f(doc);
  FunctionRun r;
  DM_ASSIGN_OR_RETURN(r.run_id, f.text("run_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(r.function_id, f.text("function_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(r.version, f.integer("version", 1));
  DM_ASSIGN_OR_RETURN(auto flow_id, f.text("flow_id", Need::nullable, detail::kToken));
  DM_ASSIGN_OR_RETURN(auto run_id, f.text("flow_run_id", Need::nullable));
  DM_ASSIGN_OR_RETURN(auto node_id, f.text("node_id", Need::nullable));
  DM_ASSIGN_OR_RETURN(auto dev_eui, f.text("dev_eui", Need::nullable, detail::kDevEui));
  DM_ASSIGN_OR_RETURN(r.status, f.word<ExecStatus>("status"));
  if (r.status == ExecStatus::unavailable) return f.error("status", "must not be unavailable: no run happened");
  DM_ASSIGN_OR_RETURN(r.duration_ms, f.number("duration_ms", true));
  DM_ASSIGN_OR_RETURN(r.error, detail::read_fn_error(f));
  DM_ASSIGN_OR_RETURN(r.logs, detail::read_logs(f));
  DM_ASSIGN_OR_RETURN(r.output, f.object_text("output", Need::optional_nullable));
  DM_ASSIGN_OR_RETURN(auto replay, f.boolean("replay", Need::optional));
  DM_ASSIGN_OR_RETURN(r.at, f.text("at", detail::kTimestamp));
  r.flow_id = owned(flow_id);
  r.flow_run_id = owned(run_id);
  r.node_id = owned(node_id);
  r.dev_eui = owned(dev_eui);
  r.replay = replay.value_or(false);
  return r;
}

// ---- flow-completed

namespace {

bool node_type(std::string_view s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}
const detail::Rule kNodeType{node_type, "a node type: lower-case letters and '_'"};

void write_path(json::Writer& w, std::span<const FlowStep> path) {
  w.start_array();
  for (const auto& s : path) {
    w.start_object().field("node_id", s.node_id).field("type", s.type).key("entity_id");
    if (s.entity_id.empty())
      w.null();
    else
      w.string(s.entity_id);
    detail::word_field(w, "status", s.status);
    w.field("duration_ms", s.duration_ms).field_or_null("error", s.error).end_object();
  }
  w.end_array();
}

Result<FlowStep> read_step(const Fields& f) {
  FlowStep s;
  DM_ASSIGN_OR_RETURN(s.node_id, f.text("node_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(s.type, f.text("type", kNodeType));
  DM_ASSIGN_OR_RETURN(auto entity, f.text("entity_id", Need::nullable));
  DM_ASSIGN_OR_RETURN(s.status, f.word<StepStatus>("status"));
  DM_ASSIGN_OR_RETURN(s.duration_ms, f.number("duration_ms", true));
  DM_ASSIGN_OR_RETURN(auto error, f.text("error", Need::nullable));
  s.entity_id = entity.value_or("");
  s.error = owned(error);
  return s;
}

}  // namespace

std::string encode(std::span<const FlowStep> path) {
  json::Writer w;
  write_path(w, path);
  return w.take();
}

template <MessageText Text>
std::string encode(const BasicFlowCompleted<Text>& r) {
  json::Writer w;
  w.start_object().field("flow_id", r.flow_id);
  if (r.flow_version) w.field("flow_version", *r.flow_version);
  w.field("run_id", r.run_id).field("run_key", r.run_key).field("dedup_id", r.dedup_id).field("dev_eui", r.dev_eui);
  detail::word_field(w, "status", r.status);
  w.key("path");
  write_path(w, r.path);
  w.field("duration_ms", r.duration_ms).field("replay", r.replay).field("at", r.at).end_object();
  return w.take();
}
template std::string encode(const FlowCompleted&);
template std::string encode(const FlowCompletedRef&);

Result<FlowCompleted> decode_flow_completed(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, {.max_bytes = 16 << 20, .max_depth = 64}, "flow run"));
  Fields f(doc);
  FlowCompleted r;
  DM_ASSIGN_OR_RETURN(r.flow_id, f.text("flow_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(r.flow_version, f.integer("flow_version", Need::optional, 1));
  DM_ASSIGN_OR_RETURN(r.run_id, f.text("run_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(r.run_key, f.text("run_key", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(r.dedup_id, f.text("dedup_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(r.dev_eui, f.text("dev_eui", detail::kDevEui));
  DM_ASSIGN_OR_RETURN(r.status, f.word<RunStatus>("status"));
  DM_TRY(f.each("path", [&r](const Fields& step) -> Result<void> {
    DM_ASSIGN_OR_RETURN(auto s, read_step(step));
    r.path.push_back(std::move(s));
    return ok();
  }));
  DM_ASSIGN_OR_RETURN(r.duration_ms, f.number("duration_ms", true));
  DM_ASSIGN_OR_RETURN(auto replay, f.boolean("replay", Need::required));
  DM_ASSIGN_OR_RETURN(r.at, f.text("at", detail::kTimestamp));
  r.replay = *replay;
  return r;
}

// ---- dead-letter

std::string encode(const DeadLetterEvent& d) {
  json::Writer w;
  w.start_object().field("kind", to_string(d.kind)).field("id", d.id).field("key", printable(d.key, 256));
  w.key("subject");
  if (d.subject)
    w.string(printable(*d.subject, 256));
  else
    w.null();
  w.field("error", printable(d.error, 4096)).field("attempts", d.attempts).field("at", d.at).end_object();
  return w.take();
}

Result<DeadLetterEvent> decode_dead_letter(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kTapLimits, "dead letter"));
  Fields f(doc);
  DeadLetterEvent d;
  DM_ASSIGN_OR_RETURN(d.kind, f.word<DeadLetterKind>("kind"));
  DM_ASSIGN_OR_RETURN(d.id, f.text("id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(d.key, f.text("key"));
  DM_ASSIGN_OR_RETURN(auto subject, f.text("subject", Need::nullable));
  DM_ASSIGN_OR_RETURN(d.error, f.text("error"));
  DM_ASSIGN_OR_RETURN(auto attempts, f.integer("attempts", 1, std::numeric_limits<int>::max()));
  DM_ASSIGN_OR_RETURN(d.at, f.text("at", detail::kTimestamp));
  d.subject = owned(subject);
  d.attempts = static_cast<int>(attempts);
  return d;
}

// ---- device-state

std::string encode(const DeviceStateChange& c) {
  json::Writer w;
  w.start_object().field("dev_eui", c.dev_eui).field_or_null("device_id", c.device_id);
  w.field_or_null("device_name", c.device_name);
  detail::word_field(w, "state", c.state);
  w.key("previous_state");
  if (c.previous_state)
    w.string(to_string(*c.previous_state));
  else
    w.null();
  detail::word_field(w, "reason", c.reason);
  w.field_or_null("last_seen_at", c.last_seen_at).field("at", c.at).end_object();
  return w.take();
}

namespace {

// The tap announces transitions between these three (maintenance is never one).
Result<std::optional<DeviceState>> read_state(const Fields& f, std::string_view key, Need need) {
  DM_ASSIGN_OR_RETURN(auto state, f.word<DeviceState>(key, need));
  if (state == DeviceState::maintenance) return f.error(key, "must be never_seen, online or offline");
  return state;
}

}  // namespace

Result<DeviceStateChange> decode_device_state(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kTapLimits, "device state change"));
  Fields f(doc);
  DeviceStateChange c;
  DM_ASSIGN_OR_RETURN(c.dev_eui, f.text("dev_eui", detail::kDevEui));
  DM_ASSIGN_OR_RETURN(auto id, f.text("device_id", Need::nullable, detail::kToken));
  DM_ASSIGN_OR_RETURN(auto name, f.text("device_name", Need::optional_nullable));
  DM_ASSIGN_OR_RETURN(auto state, read_state(f, "state", Need::required));
  DM_ASSIGN_OR_RETURN(c.previous_state, read_state(f, "previous_state", Need::nullable));
  DM_ASSIGN_OR_RETURN(c.reason, f.word<StateReason>("reason"));
  DM_ASSIGN_OR_RETURN(auto seen, f.text("last_seen_at", Need::nullable, detail::kTimestamp));
  DM_ASSIGN_OR_RETURN(c.at, f.text("at", detail::kTimestamp));
  c.device_id = owned(id);
  c.device_name = owned(name);
  c.state = *state;
  c.last_seen_at = owned(seen);
  return c;
}

// ---- registry-change

std::string encode(const RegistryChange& c) {
  json::Writer w;
  w.start_object();
  detail::word_field(w, "kind", c.kind);
  detail::word_field(w, "action", c.action);
  w.field("id", c.id).field("version", c.version).field("at", c.at);
  detail::field_if(w, "name", c.name);
  detail::field_if(w, "dev_eui", c.dev_eui);
  detail::field_if(w, "previous_dev_eui", c.previous_dev_eui);
  if (c.actor) {
    w.key("actor").start_object().field("user_id", c.actor->user_id);
    detail::field_if(w, "role", c.actor->role);
    w.end_object();
  }
  w.end_object();
  return w.take();
}

namespace {

Result<std::optional<Actor>> read_actor(const Fields& f) {
  DM_ASSIGN_OR_RETURN(auto fields, f.object("actor", Need::optional_nullable));
  if (!fields) return std::optional<Actor>();
  Actor a;
  DM_ASSIGN_OR_RETURN(a.user_id, fields->text("user_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(auto role, fields->text("role", Need::optional));
  a.role = owned(role);
  return std::optional<Actor>(std::move(a));
}

}  // namespace

Result<RegistryChange> decode_registry_change(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kTapLimits, "registry change"));
  Fields f(doc);
  RegistryChange c;
  DM_ASSIGN_OR_RETURN(c.kind, f.word<RegistryKind>("kind"));
  DM_ASSIGN_OR_RETURN(c.action, f.word<ChangeAction>("action"));
  DM_ASSIGN_OR_RETURN(c.id, f.text("id", detail::kToken));
  DM_ASSIGN_OR_RETURN(c.version, f.integer("version", 1));
  DM_ASSIGN_OR_RETURN(c.at, f.text("at", detail::kTimestamp));
  DM_ASSIGN_OR_RETURN(auto name, f.text("name", Need::optional_nullable));
  DM_ASSIGN_OR_RETURN(auto dev_eui, f.text("dev_eui", Need::optional_nullable, detail::kDevEui));
  DM_ASSIGN_OR_RETURN(auto previous, f.text("previous_dev_eui", Need::optional_nullable, detail::kDevEui));
  DM_ASSIGN_OR_RETURN(c.actor, read_actor(f));
  c.name = owned(name);
  c.dev_eui = owned(dev_eui);
  c.previous_dev_eui = owned(previous);
  return c;
}

}  // namespace dm::contract
