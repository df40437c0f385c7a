#include <charconv>
#include <string>
#include <vector>

#include "dm/core/strings.hpp"
#include "jetstream_impl.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {

struct JsMessage::Impl {
  natsMsg* msg = nullptr;
  std::shared_ptr<PullHandle> handle;  // the connection the acks are published on
  std::string subject;
  std::string reply;  // $JS.ACK.…: where acks go, and the metadata
  std::uint64_t stream_sequence = 0;
  int delivered = 0;
  std::int64_t stored_ns = 0;  // since the epoch
  bool settled = false;        // acked, naked or termed: later ones are no-ops, as in nats.c

  Impl(natsMsg* m, std::shared_ptr<PullHandle> h)
      : msg(m), handle(std::move(h)), subject(natsMsg_GetSubject(m)), reply(natsMsg_GetReply(m)) {
    parse_metadata();
  }
  ~Impl() { destroy_nats_msg(msg); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>",
  // or the newer form with a domain and an account hash after "$JS.ACK." and a random token at
  // the end (12 tokens or more).
  void parse_metadata() {
    const auto tokens = split(reply, '.');
    std::size_t at = 0;
    if (tokens.size() == 9) {
      at = 4;
    } else if (tokens.size() >= 12) {
      at = 6;
    } else {
      return;
    }
    auto number = [&](std::size_t i) {
      std::uint64_t v = 0;
      std::from_chars(tokens[i].data(), tokens[i].data() + tokens[i].size(), v);
      return v;
    };
    delivered = static_cast<int>(number(at));
    stream_sequence = number(at + 1);
    stored_ns = static_cast<std::int64_t>(number(at + 3));
  }

  // Publishes `body` to the reply subject; a settling one only once.
  Result<void> send(std::string_view body, bool settles, std::string_view what) {
    if (settled) return ok();
    if (natsStatus s = natsConnection_Publish(handle->nc, reply.c_str(), body.data(), static_cast<int>(body.size()));
        s != NATS_OK) {
      return nats_error(s, "jetstream: " + std::string(what) + " of a message on '" + subject + "'");
    }
    settled = settles;
    return ok();
  }
};

namespace {

Result<void> moved_from() { return Error(Errc::internal, "jetstream: use of a moved-from JsMessage"); }

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

JsMessage make_js_message(natsMsg* msg, std::shared_ptr<PullHandle> handle) {
  return JsMessage(std::make_unique<JsMessage::Impl>(msg, std::move(handle)));
}

Result<void> JsMessage::ack() {
  if (!impl_) return moved_from();
  return impl_->send("+ACK", true, "ack");
}

Result<void> JsMessage::ack_sync() {
  if (!impl_) return moved_from();
  if (impl_->settled) return ok();
  // An ack with a reply: the server answers once it has recorded it.
  natsMsg* answer = nullptr;
  natsStatus s = natsConnection_RequestString(&answer, impl_->handle->nc, impl_->reply.c_str(), "+ACK", 5000);
  destroy_nats_msg(answer);
  if (s != NATS_OK) return nats_error(s, "jetstream: ack of a message on '" + impl_->subject + "'");
  impl_->settled = true;
  return ok();
}

Result<void> JsMessage::nak() {
  if (!impl_) return moved_from();
  return impl_->send("-NAK", true, "nak");
}

Result<void> JsMessage::nak(std::chrono::milliseconds delay) {
  if (!impl_) return moved_from();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
  return impl_->send("-NAK {\"delay\":" + std::to_string(nanos) + "}", true, "nak");
}

Result<void> JsMessage::term() {
  if (!impl_) return moved_from();
  return impl_->send("+TERM", true, "term");
}

Result<void> JsMessage::in_progress() {
  if (!impl_) return moved_from();
  return impl_->send("+WPI", false, "in-progress");
}

}  // namespace dm::bus
