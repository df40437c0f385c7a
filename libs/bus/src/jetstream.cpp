#include <string>
#include <vector>

#include "callbacks.hpp"
#include "jetstream_impl.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {
namespace {

// Bounds memory when a producer outruns the server; past it publish_async blocks the caller
// for up to kStallWait and then fails with the stall error.
constexpr int64_t kMaxPendingAsync = 65536;
constexpr int64_t kStallWaitMs = 1000;

int64_t nanos(std::chrono::nanoseconds d) { return d.count(); }

}  // namespace

void JetStream::Impl::close() {
  if (async) {
    async->close();
    ClosureRegistry<AsyncPublisher>::remove(async->closure());
  }
  if (js != nullptr) jsCtx_Destroy(js);
  js = nullptr;
}

Result<std::unique_ptr<JetStream>> make_jetstream(natsConnection* nc, std::chrono::milliseconds timeout,
                                                  std::string inbox_prefix, JetStream::Impl** impl_out) {
  auto impl = std::make_unique<JetStream::Impl>();
  impl->nc = nc;
  impl->inbox_prefix = std::move(inbox_prefix);
  impl->async = std::make_shared<AsyncPublisher>(timeout);
  impl->async->set_closure(ClosureRegistry<AsyncPublisher>::add(impl->async));

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout.count();
  jo.PublishAsync.AckHandler = &AsyncPublisher::ack_handler;
  jo.PublishAsync.AckHandlerClosure = impl->async->closure();
  jo.PublishAsync.MaxPending = kMaxPendingAsync;
  jo.PublishAsync.StallWait = kStallWaitMs;
  if (natsStatus s = natsConnection_JetStream(&impl->js, nc, &jo); s != NATS_OK)
    return nats_error(s, "jetstream: context");
  *impl_out = impl.get();
  return std::make_unique<JetStream>(std::move(impl));
}

JetStream::JetStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStream::~JetStream() = default;

Result<void> JetStream::ensure_stream(const StreamConfig& config) {
  if (config.name.empty()) return Error(Errc::invalid_argument, "jetstream: stream without a name");
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  std::vector<const char*> subjects;
  for (const auto& s : config.subjects) subjects.push_back(s.c_str());
  sc.Name = config.name.c_str();
  sc.Subjects = subjects.data();
  sc.SubjectsLen = static_cast<int>(subjects.size());
  sc.MaxBytes = config.max_bytes;
  sc.MaxMsgs = config.max_msgs;
  sc.MaxAge = nanos(config.max_age);
  sc.Duplicates = nanos(config.duplicate_window);
  sc.Discard = config.discard_new ? js_DiscardNew : js_DiscardOld;
  sc.Replicas = config.replicas;
  sc.Storage = config.file_storage ? js_FileStorage : js_MemoryStorage;
  sc.Retention = config.retention == Retention::work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;

  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, impl_->js, &sc, nullptr, &code);
  jsStreamInfo_Destroy(si);
  if (s == NATS_OK) return ok();  // created, or it already existed with these very settings
  if (code != JSStreamNameExistErr) return js_error(s, code, "jetstream: add stream '" + config.name + "'");
  si = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&si, impl_->js, &sc, nullptr, &code);
  jsStreamInfo_Destroy(si);
  if (s != NATS_OK) return js_error(s, code, "jetstream: update stream '" + config.name + "'");
  return ok();
}

Result<void> JetStream::ensure_consumer(std::string_view stream, const ConsumerConfig& config) {
  if (config.durable.empty()) return Error(Errc::invalid_argument, "jetstream: consumer without a durable name");
  const std::string stream_name(stream);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  std::vector<int64_t> backoff;
  for (auto d : config.backoff) backoff.push_back(nanos(d));
  cc.Durable = config.durable.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = nanos(config.ack_wait);
  cc.MaxDeliver = config.max_deliver;
  cc.MaxAckPending = config.max_ack_pending;
  if (!config.filter_subject.empty()) cc.FilterSubject = config.filter_subject.c_str();
  if (!backoff.empty()) {
    cc.BackOff = backoff.data();
    cc.BackOffLen = static_cast<int>(backoff.size());
  }
  const std::string what = "jetstream: consumer '" + stream_name + "/" + config.durable + "'";

  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&ci, impl_->js, stream_name.c_str(), &cc, nullptr, &code);
  jsConsumerInfo_Destroy(ci);
  if (s == NATS_OK) return ok();  // created, or unchanged
  Error add_error = js_error(s, code, what);

  // The add failed: if because it exists with other settings, update it; otherwise the
  // add's error is the one worth reporting.
  ci = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_GetConsumerInfo(&ci, impl_->js, stream_name.c_str(), config.durable.c_str(), nullptr, &code);
  jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) return add_error;
  ci = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_UpdateConsumer(&ci, impl_->js, stream_name.c_str(), &cc, nullptr, &code);
  jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) return js_error(s, code, what + " update");
  return ok();
}

Result<StreamState> JetStream::stream_state(std::string_view stream) {
  const std::string name(stream);
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, impl_->js, name.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    if (s == NATS_NOT_FOUND) return Error(Errc::not_found, "jetstream: stream '" + name + "' not found");
    return js_error(s, code, "jetstream: stream info '" + name + "'");
  }
  StreamState out;
  out.messages = si->State.Msgs;
  out.bytes = si->State.Bytes;
  out.first_sequence = si->State.FirstSeq;
  out.last_sequence = si->State.LastSeq;
  out.consumers = si->State.Consumers;
  if (si->Config != nullptr) {
    out.retention = si->Config->Retention == js_WorkQueuePolicy ? Retention::work_queue : Retention::limits;
    out.replicas = static_cast<int>(si->Config->Replicas);
  }
  jsStreamInfo_Destroy(si);
  return out;
}

Result<ConsumerState> JetStream::consumer_state(std::string_view stream, std::string_view durable) {
  const std::string stream_name(stream), name(durable);
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, impl_->js, stream_name.c_str(), name.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr)
      return Error(Errc::not_found, "jetstream: consumer '" + stream_name + "/" + name + "' not found");
    return js_error(s, code, "jetstream: consumer info '" + stream_name + "/" + name + "'");
  }
  ConsumerState out{ci->NumPending, static_cast<std::uint64_t>(ci->NumAckPending)};
  jsConsumerInfo_Destroy(ci);
  return out;
}

Result<void> JetStream::delete_stream(std::string_view stream) {
  const std::string name(stream);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(impl_->js, name.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) return Error(Errc::not_found, "jetstream: stream '" + name + "' not found");
  if (s != NATS_OK) return js_error(s, code, "jetstream: delete stream '" + name + "'");
  return ok();
}

Result<PubAck> JetStream::publish(std::string_view subject, std::string_view data, std::string_view msg_id,
                                  std::chrono::milliseconds timeout, const Headers& headers) {
  DM_ASSIGN_OR_RETURN(auto msg, make_nats_msg(subject, {}, data, headers));
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout.count();
  const std::string id(msg_id);
  if (!id.empty()) po.MsgId = id.c_str();
  jsPubAck* pa = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PublishMsg(&pa, impl_->js, msg.get(), &po, &code);
  if (s != NATS_OK) return js_error(s, code, "jetstream: publish to '" + std::string(subject) + "'");
  PubAck out{pa->Stream != nullptr ? pa->Stream : "", pa->Sequence, pa->Duplicate};
  jsPubAck_Destroy(pa);
  return out;
}

void JetStream::publish_async(std::string_view subject, std::string_view data, std::string_view msg_id,
                              std::function<void(Result<PubAck>)> done, const Headers& headers) {
  impl_->async->publish(impl_->js, subject, data, msg_id, std::move(done), headers);
}

Result<std::unique_ptr<PullConsumer>> JetStream::pull_subscribe(std::string_view stream, std::string_view durable,
                                                                std::string_view filter_subject) {
  const std::string stream_name(stream);
  const std::string durable_name(durable);
  const std::string what = "jetstream: pull subscribe '" + stream_name + "/" + durable_name + "'";
  // Only binds: consumers are made by provisioning (contract::consumers, dm-provision), never
  // here, since a service's NATS user may not create them.
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, impl_->js, stream_name.c_str(), durable_name.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr || code == JSStreamNotFoundErr)
    return Error(Errc::not_found, what + ": the consumer does not exist (run provisioning: dm-provision)");
  if (s != NATS_OK) return js_error(s, code, what);
  const std::string deliver = ci->Config->DeliverSubject != nullptr ? ci->Config->DeliverSubject : "";
  const std::string filter = ci->Config->FilterSubject != nullptr ? ci->Config->FilterSubject : "";
  jsConsumerInfo_Destroy(ci);
  if (!deliver.empty()) return Error(Errc::invalid_argument, what + ": it is a push consumer");
  if (!filter_subject.empty() && filter != filter_subject)
    return Error(Errc::invalid_argument,
                 what + ": it filters '" + filter + "', not '" + std::string(filter_subject) + "'");

  auto impl = std::make_unique<PullConsumer::Impl>();
  impl->name = stream_name + "/" + durable_name;
  impl->next_subject = "$JS.API.CONSUMER.MSG.NEXT." + stream_name + "." + durable_name;
  DM_ASSIGN_OR_RETURN(impl->inbox, unique_inbox(impl_->inbox_prefix));
  impl->handle = std::make_shared<PullHandle>();
  impl->handle->nc = impl_->nc;
  s = natsConnection_SubscribeSync(&impl->handle->sub, impl_->nc, (impl->inbox + "*").c_str());
  if (s != NATS_OK) return nats_error(s, what);
  // The outstanding requests bound what can queue here; dropping would only delay redelivery.
  natsSubscription_SetPendingLimits(impl->handle->sub, -1, -1);
  return std::make_unique<PullConsumer>(std::move(impl));
}

}  // namespace dm::bus
