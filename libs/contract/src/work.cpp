#include "dm/contract/work.hpp"

#include "fields.hpp"

namespace dm::contract {

using detail::Fields;
using detail::Need;
using detail::owned;

// ---- delivery-job

template <MessageText Text>
std::string encode(const BasicDeliveryJob<Text>& job) {
  json::Writer w;
  w.start_object().field("job_id", job.job_id);
  detail::word_field(w, "kind", job.kind);
  w.field("target_id", job.target_id);
  if (job.target_version) w.field("target_version", *job.target_version);
  w.field("flow_id", job.flow_id).field("flow_run_id", job.flow_run_id).field("node_id", job.node_id);
  w.field("dev_eui", job.dev_eui).key("message").raw(job.message);
  if (job.replay) w.field("replay", *job.replay);
  w.field("created_at", job.created_at).end_object();
  return w.take();
}
template std::string encode(const DeliveryJob&);
template std::string encode(const DeliveryJobRef&);

Result<DeliveryJob> decode_delivery_job(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, {.max_bytes = 4 << 20, .max_depth = 64}, "delivery job"));
  Fields f(doc);
  DeliveryJob job;
  DM_ASSIGN_OR_RETURN(auto id, f.text("job_id", detail::kNonEmpty));
  if (id.size() > 300) return f.error("job_id", "must have at most 300 characters");
  job.job_id = id;
  DM_ASSIGN_OR_RETURN(job.kind, f.word<JobKind>("kind"));
  DM_ASSIGN_OR_RETURN(job.target_id, f.text("target_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(job.target_version, f.integer("target_version", Need::optional, 1));
  DM_ASSIGN_OR_RETURN(job.flow_id, f.text("flow_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(job.flow_run_id, f.text("flow_run_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(job.node_id, f.text("node_id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(job.dev_eui, f.text("dev_eui", detail::kDevEui));
  DM_ASSIGN_OR_RETURN(auto message, f.object_text("message", Need::required));
  job.message = std::move(*message);
  DM_ASSIGN_OR_RETURN(job.replay, f.boolean("replay", Need::optional));
  DM_ASSIGN_OR_RETURN(job.created_at, f.text("created_at", detail::kTimestamp));
  return job;
}

// ---- function-exec-request

template <MessageText Text>
std::string encode(const BasicExecution<Text>& x) {
  json::Writer w;
  w.start_object().field("id", x.id).field("function_id", x.function_id).field("version", x.version);
  w.key("input").raw(x.input).key("parameters").raw(x.parameters).field("timeout_ms", x.timeout_ms);
  if (const auto& c = x.context) {
    w.key("context").start_object();
    detail::field_if(w, "flow_id", c->flow_id);
    detail::field_if(w, "flow_run_id", c->flow_run_id);
    detail::field_if(w, "node_id", c->node_id);
    detail::field_if(w, "dev_eui", c->dev_eui);
    if (c->replay) w.field("replay", *c->replay);
    w.end_object();
  }
  w.end_object();
  return w.take();
}
template std::string encode(const Execution&);
template std::string encode(const ExecutionRef&);

namespace {

constexpr std::string_view kRequestHead = "{\"executions\":[";
constexpr std::size_t kMaxExecutions = 10000;

Result<std::optional<BasicExecContext<std::string>>> read_context(const Fields& f) {
  DM_ASSIGN_OR_RETURN(auto fields, f.object("context", Need::optional_nullable));
  if (!fields) return std::optional<BasicExecContext<std::string>>();
  BasicExecContext<std::string> c;
  DM_ASSIGN_OR_RETURN(auto flow_id, fields->text("flow_id", Need::optional, detail::kToken));
  DM_ASSIGN_OR_RETURN(auto run_id, fields->text("flow_run_id", Need::optional));
  DM_ASSIGN_OR_RETURN(auto node_id, fields->text("node_id", Need::optional));
  DM_ASSIGN_OR_RETURN(auto dev_eui, fields->text("dev_eui", Need::optional, detail::kDevEui));
  DM_ASSIGN_OR_RETURN(c.replay, fields->boolean("replay", Need::optional));
  c.flow_id = owned(flow_id);
  c.flow_run_id = owned(run_id);
  c.node_id = owned(node_id);
  c.dev_eui = owned(dev_eui);
  return std::optional<BasicExecContext<std::string>>(std::move(c));
}

// The schema's maxLength of 200 for `id` is not enforced: an id is a run key and a node id,
// which may reach the 300 characters a job id may have; the runner only hands it back.
Result<Execution> read_execution(const Fields& f) {
  Execution x;
  DM_ASSIGN_OR_RETURN(x.id, f.text("id", detail::kNonEmpty));
  DM_ASSIGN_OR_RETURN(x.function_id, f.text("function_id", detail::kToken));
  DM_ASSIGN_OR_RETURN(x.version, f.integer("version", 1));
  DM_ASSIGN_OR_RETURN(auto input, f.object_text("input", Need::required));
  DM_ASSIGN_OR_RETURN(auto parameters, f.object_text("parameters", Need::required));
  DM_ASSIGN_OR_RETURN(auto timeout, f.integer("timeout_ms", 1, 60000));
  DM_ASSIGN_OR_RETURN(x.context, read_context(f));
  x.input = std::move(*input);
  x.parameters = std::move(*parameters);
  x.timeout_ms = static_cast<int>(timeout);
  return x;
}

}  // namespace

ExecRequestBuilder::ExecRequestBuilder() : body_(kRequestHead) {}

void ExecRequestBuilder::add(std::string_view encoded_execution) {
  if (count_++ > 0) body_ += ',';
  body_.append(encoded_execution);
}

std::string ExecRequestBuilder::take() {
  body_ += "]}";
  std::string out = std::move(body_);
  body_ = kRequestHead;
  count_ = 0;
  return out;
}

Result<std::vector<ExecRequestItem>> decode_exec_request(std::string_view text) {
  DM_ASSIGN_OR_RETURN(
      auto doc, detail::parse_object(text, {.max_bytes = 256u << 20, .max_depth = 128}, "function execution request"));
  const json::Value* list = json::find(doc, "executions");
  if (!list || !list->IsArray() || list->Empty() || list->Size() > kMaxExecutions)
    return Error(Errc::invalid_argument, "field 'executions' must be a list of 1 to 10000 executions");
  std::vector<ExecRequestItem> items;
  items.reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const json::Value& e = (*list)[i];
    const json::Value* id = e.IsObject() ? json::find(e, "id") : nullptr;
    std::string id_text = id && id->IsString() ? std::string(json::view(*id)) : std::string();
    Result<Execution> x = e.IsObject() ? read_execution(Fields(e))
                                       : Result<Execution>(Error(Errc::invalid_argument, "an execution is an object"));
    items.push_back({std::move(id_text), std::move(x)});
  }
  return items;
}

// ---- function-exec-reply

namespace {

template <MessageText Text>
void write_result(json::Writer& w, const BasicExecResult<Text>& r) {
  w.start_object();
  if (r.id) w.field("id", *r.id);
  if (r.version) w.field("version", *r.version);
  detail::word_field(w, "status", r.status);
  detail::raw_or_null(w, "output", r.output);
  detail::write_logs(w, r.logs);
  detail::write_fn_error_field(w, r.error);
  w.field("duration_ms", r.duration_ms).end_object();
}

Result<ExecResult> read_result(const Fields& f) {
  ExecResult r;
  DM_ASSIGN_OR_RETURN(auto id, f.text("id", detail::kNonEmpty));
  r.id = std::string(id);
  DM_ASSIGN_OR_RETURN(r.version, f.integer("version", Need::optional, 1));
  DM_ASSIGN_OR_RETURN(r.status, f.word<ExecStatus>("status"));
  DM_ASSIGN_OR_RETURN(r.output, f.object_text("output", Need::nullable));
  DM_ASSIGN_OR_RETURN(r.logs, detail::read_logs(f));
  DM_ASSIGN_OR_RETURN(r.error, detail::read_fn_error(f));
  DM_ASSIGN_OR_RETURN(r.duration_ms, f.number("duration_ms", true));
  return r;
}

}  // namespace

template <MessageText Text>
std::string encode(const BasicExecResult<Text>& result) {
  json::Writer w;
  write_result(w, result);
  return w.take();
}
template std::string encode(const ExecResult&);
template std::string encode(const ExecResultRef&);

template <MessageText Text>
std::string encode(const BasicFnError<Text>& error) {
  json::Writer w;
  detail::write_fn_error(w, error);
  return w.take();
}
template std::string encode(const FnError&);
template std::string encode(const FnErrorRef&);

ExecReplyWriter::ExecReplyWriter() { w_.start_object().key("results").start_array(); }

template <MessageText Text>
void ExecReplyWriter::add(const BasicExecResult<Text>& result) {
  write_result(w_, result);
}
template void ExecReplyWriter::add(const ExecResult&);
template void ExecReplyWriter::add(const ExecResultRef&);

std::string ExecReplyWriter::take() {
  w_.end_array().end_object();
  std::string out = w_.take();
  w_.start_object().key("results").start_array();
  return out;
}

namespace detail {

Result<std::optional<FnError>> read_fn_error(const Fields& f) {
  DM_ASSIGN_OR_RETURN(auto fields, f.object("error", Need::nullable));
  if (!fields) return std::optional<FnError>();
  FnError e;
  DM_ASSIGN_OR_RETURN(e.message, fields->text("message"));
  DM_ASSIGN_OR_RETURN(auto stack, fields->text("stack", Need::nullable));
  e.stack = owned(stack);
  return std::optional<FnError>(std::move(e));
}

Result<std::string> read_logs(const Fields& f) {
  return f.array_text("logs", [](const Fields& log) -> Result<void> {
    DM_TRY(log.word<LogLevel>("level"));
    DM_TRY(log.text("message"));
    return ok();
  });
}

}  // namespace detail

Result<std::vector<Result<ExecResult>>> decode_exec_reply(std::string_view text) {
  DM_ASSIGN_OR_RETURN(
      auto doc, detail::parse_object(text, {.max_bytes = 256u << 20, .max_depth = 128}, "function execution reply"));
  const json::Value* list = json::find(doc, "results");
  if (!list || !list->IsArray()) return Error(Errc::invalid_argument, "field 'results' must be an array");
  std::vector<Result<ExecResult>> results;
  results.reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const json::Value& r = (*list)[i];
    std::string at = "results[" + std::to_string(i) + "]";
    results.push_back(r.IsObject()
                          ? read_result(Fields(r, at))
                          : Result<ExecResult>(Error(Errc::invalid_argument, "field '" + at + "' must be an object")));
  }
  return results;
}

}  // namespace dm::contract
