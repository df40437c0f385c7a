#include <string>

#include "jetstream_impl.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {

struct JsMessage::Impl {
  natsMsg* msg = nullptr;
  std::shared_ptr<PullHandle> handle;  // acks travel through the message's subscription
  std::string subject;
  std::uint64_t stream_sequence = 0;
  int delivered = 0;
  std::int64_t stored_ns = 0;  // since the epoch

  Impl(natsMsg* m, std::shared_ptr<PullHandle> h) : msg(m), handle(std::move(h)), subject(natsMsg_GetSubject(m)) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      stream_sequence = meta->Sequence.Stream;
      delivered = static_cast<int>(meta->NumDelivered);
      stored_ns = meta->Timestamp;
      jsMsgMetaData_Destroy(meta);
    }
  }
  ~Impl() { natsMsg_Destroy(msg); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

namespace {

Result<void> moved_from() { return Error(Errc::internal, "jetstream: use of a moved-from JsMessage"); }

Result<void> ack_result(natsStatus s, std::string_view what, const std::string& subject) {
  if (s == NATS_OK) return ok();
  return nats_error(s, "jetstream: " + std::string(what) + " of a message on '" + subject + "'");
}

}  // namespace

JsMessage::JsMessage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsMessage::~JsMessage() = default;
JsMessage::JsMessage(JsMessage&&) noexcept = default;
JsMessage& JsMessage::operator=(JsMessage&&) noexcept = default;

const std::string& JsMessage::subject() const {
  static const std::string kEmpty;
  return impl_ ? impl_->subject : kEmpty;
}

std::string_view JsMessage::data() const {
  if (!impl_) return {};
  const char* data = natsMsg_GetData(impl_->msg);
  const int len = natsMsg_GetDataLength(impl_->msg);
  if (data == nullptr || len <= 0) return {};
  return {data, static_cast<std::size_t>(len)};
}

std::optional<std::string> JsMessage::header(std::string_view key) const {
  if (!impl_) return std::nullopt;
  return header_of(impl_->msg, key);
}

std::uint64_t JsMessage::stream_sequence() const { return impl_ ? impl_->stream_sequence : 0; }
int JsMessage::delivered() const { return impl_ ? impl_->delivered : 0; }
std::chrono::system_clock::time_point JsMessage::stored_at() const {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(impl_ ? impl_->stored_ns : 0)));
}

Result<void> JsMessage::ack() {
  if (!impl_) return moved_from();
  return ack_result(natsMsg_Ack(impl_->msg, nullptr), "ack", impl_->subject);
}

Result<void> JsMessage::ack_sync() {
  if (!impl_) return moved_from();
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = natsMsg_AckSync(impl_->msg, nullptr, &code);
  if (s == NATS_OK) return ok();
  return js_error(s, code, "jetstream: ack of a message on '" + impl_->subject + "'");
}

Result<void> JsMessage::nak() {
  if (!impl_) return moved_from();
  return ack_result(natsMsg_Nak(impl_->msg, nullptr), "nak", impl_->subject);
}

Result<void> JsMessage::nak(std::chrono::milliseconds delay) {
  if (!impl_) return moved_from();
  return ack_result(natsMsg_NakWithDelay(impl_->msg, delay.count(), nullptr), "nak", impl_->subject);
}

Result<void> JsMessage::term() {
  if (!impl_) return moved_from();
  return ack_result(natsMsg_Term(impl_->msg, nullptr), "term", impl_->subject);
}

Result<void> JsMessage::in_progress() {
  if (!impl_) return moved_from();
  return ack_result(natsMsg_InProgress(impl_->msg, nullptr), "in-progress", impl_->subject);
}

PullConsumer::PullConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PullConsumer::~PullConsumer() = default;

Result<std::vector<JsMessage>> PullConsumer::fetch(int batch, std::chrono::milliseconds timeout) {
  if (batch <= 0) return Error(Errc::invalid_argument, "jetstream: fetch batch must be positive");
  if (timeout.count() <= 0) return Error(Errc::invalid_argument, "jetstream: fetch timeout must be positive");
  natsMsgList list{nullptr, 0};
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, impl_->handle->sub, batch, timeout.count(), &code);
  std::vector<JsMessage> out;
  // A timeout only means fewer messages than asked for, possibly none.
  if (s == NATS_OK || s == NATS_TIMEOUT) {
    out.reserve(static_cast<std::size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      out.emplace_back(std::make_unique<JsMessage::Impl>(list.Msgs[i], impl_->handle));
      list.Msgs[i] = nullptr;  // now owned by the JsMessage
    }
  }
  if (list.Msgs != nullptr) natsMsgList_Destroy(&list);
  if (s == NATS_OK || s == NATS_TIMEOUT) return out;
  return js_error(s, code, "jetstream: fetch from '" + impl_->name + "'");
}

}  // namespace dm::bus
