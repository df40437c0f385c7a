#pragma once
// The work the flow orchestrator hands out: delivery jobs for the integration dispatcher
// (proto/schemas/delivery-job) and batched function executions for the function runner
// (function-exec-request), with the runner's answers (function-exec-reply).
// See message.hpp for the two flavours of each message and the encoding rules.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/contract/message.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/result.hpp"
#include "dm/json/json.hpp"

namespace dm::contract {

// ---- delivery-job: dm.work.dispatch.<target_id>, stream DM_DISPATCH.
// The jobs one orchestrator lane queues for one target at one graph level go as one message,
// a batch (batch.hpp) whose entries are named by job id, marked by the header kJobBatchHeader
// (its value: how many jobs); a lone job is its JSON alone. Jobs queued for the first time
// carry no Nats-Msg-Id: a job is queued again only when its uplink is redelivered to the
// orchestrator, and such a repeat goes alone, with Nats-Msg-Id = job_id and kRepeatHeader, so
// that the stream drops it within its duplicate window and the dispatcher, past it, looks the
// job up in its history before delivering it.
inline constexpr const char* kJobBatchHeader = "Dm-Jobs";
inline constexpr const char* kRepeatHeader = "Dm-Repeat";

template <MessageText Text>
struct BasicDeliveryJob {
  Text job_id;  // the flow run key + ':' + node id: deliveries and records are unique on it
  JobKind kind = JobKind::integration;
  Text target_id;
  std::optional<std::int64_t> target_version;  // omitted when empty
  Text flow_id;
  Text flow_run_id;
  Text node_id;
  Text dev_eui;
  Text message;                // the message to deliver: a JSON object, as text
  std::optional<bool> replay;  // omitted when empty
  Text created_at;             // RFC 3339
  bool operator==(const BasicDeliveryJob&) const = default;
};
using DeliveryJob = BasicDeliveryJob<std::string>;
using DeliveryJobRef = BasicDeliveryJob<std::string_view>;

template <MessageText Text>
std::string encode(const BasicDeliveryJob<Text>& job);
// Refuses what the schema refuses (unknown fields aside: consumers ignore them).
Result<DeliveryJob> decode_delivery_job(std::string_view json);

// ---- function-exec-request: dm.fn.exec, request/reply in queue group function-runner.

// Where an execution comes from (recorded with the run); every member is optional.
template <MessageText Text>
struct BasicExecContext {
  std::optional<Text> flow_id, flow_run_id, node_id, dev_eui;
  std::optional<bool> replay;
  bool operator==(const BasicExecContext&) const = default;
};

template <MessageText Text>
struct BasicExecution {
  Text id;  // unique in the batch; the run's idempotency key (flow run key + ':' + node id)
  Text function_id;
  std::int64_t version = 1;  // the runner runs its newest cached version at or above it
  Text input;                // JSON object: the message the function receives
  Text parameters;           // JSON object: the flow node's parameters
  int timeout_ms = 1000;
  std::optional<BasicExecContext<Text>> context;  // omitted when empty
  bool operator==(const BasicExecution&) const = default;
};
using Execution = BasicExecution<std::string>;
using ExecutionRef = BasicExecution<std::string_view>;

// One execution as the object the request's list holds. The orchestrator encodes executions
// one by one: it sizes each before choosing the request it goes into.
template <MessageText Text>
std::string encode(const BasicExecution<Text>& execution);

// {"executions":[...]} from executions encoded one by one.
class ExecRequestBuilder {
 public:
  ExecRequestBuilder();
  void add(std::string_view encoded_execution);
  std::size_t count() const { return count_; }
  std::size_t size() const { return body_.size() + 2; }  // bytes of the request as it stands
  // The request; the builder starts again, empty.
  std::string take();

 private:
  std::string body_;
  std::size_t count_ = 0;
};

// One execution of a decoded request: the runner answers an invalid one with an error result
// (carrying its id, whatever could be read of it) and runs the others.
struct ExecRequestItem {
  std::string id;  // as sent; empty when it is missing or not a string
  Result<Execution> execution;
};
// Errors: the request itself is unreadable (not JSON, not an object, no list of 1 to 10000
// executions). Each execution is then read on its own.
Result<std::vector<ExecRequestItem>> decode_exec_request(std::string_view json);

// ---- function-exec-reply: one result per execution, in the order of the request.

template <MessageText Text>
struct BasicFnError {
  Text message;
  std::optional<Text> stack;  // null when empty
  bool operator==(const BasicFnError&) const = default;
};
using FnError = BasicFnError<std::string>;
using FnErrorRef = BasicFnError<std::string_view>;

template <MessageText Text>
struct BasicExecResult {
  std::optional<Text> id;               // omitted when empty (a test run answered over REST has none)
  std::optional<std::int64_t> version;  // the version that ran; omitted when none ran
  ExecStatus status = ExecStatus::error;
  std::optional<Text> output;               // JSON object when status is success; null when empty
  Text logs;                                // JSON array of {level, message}; empty text = no logs ([])
  std::optional<BasicFnError<Text>> error;  // null when empty
  double duration_ms = 0;
  bool operator==(const BasicExecResult&) const = default;
};
using ExecResult = BasicExecResult<std::string>;
using ExecResultRef = BasicExecResult<std::string_view>;

// One result alone: the runner's REST answer to a test run has this shape too.
template <MessageText Text>
std::string encode(const BasicExecResult<Text>& result);
// A function error alone ({"message", "stack"}), e.g. for a column that keeps it.
template <MessageText Text>
std::string encode(const BasicFnError<Text>& error);

// {"results":[...]} written result by result, without building a list first.
class ExecReplyWriter {
 public:
  ExecReplyWriter();
  template <MessageText Text>
  void add(const BasicExecResult<Text>& result);
  std::string take();

 private:
  json::Writer w_;
};

// Errors: the reply itself is unreadable. Each result is then read on its own, so one that
// cannot be read fails its execution alone.
Result<std::vector<Result<ExecResult>>> decode_exec_reply(std::string_view json);

}  // namespace dm::contract
