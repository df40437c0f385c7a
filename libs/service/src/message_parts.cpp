#include "dm/service/message_parts.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include "dm/contract/batch.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/work.hpp"

namespace dm::service {

struct MessagePart::Batch {
  explicit Batch(bus::JsMessage m) : message(std::move(m)) {}
  bus::JsMessage message;
  std::string framing;  // a compressed batch, inflated: its parts' data point into it
  std::mutex mu;
  std::size_t unsettled = 0;
  std::optional<std::chrono::milliseconds> again;                 // some part asked to come back, this soon
  std::optional<std::chrono::steady_clock::time_point> progress;  // last told in progress
};

MessagePart::MessagePart(std::shared_ptr<Batch> batch, std::size_t index, std::string name, std::string_view data)
    : batch_(std::move(batch)), index_(index), name_(std::move(name)), data_(data) {}

MessagePart::MessagePart(MessagePart&& o) noexcept
    : batch_(std::move(o.batch_)),
      index_(o.index_),
      name_(std::move(o.name_)),
      data_(o.data_),
      settled_(std::exchange(o.settled_, true)) {}

MessagePart& MessagePart::operator=(MessagePart&& o) noexcept {
  if (this != &o) {
    if (!settled_ && batch_) (void)nak();
    batch_ = std::move(o.batch_);
    index_ = o.index_;
    name_ = std::move(o.name_);
    data_ = o.data_;
    settled_ = std::exchange(o.settled_, true);
  }
  return *this;
}

MessagePart::~MessagePart() {
  if (!settled_ && batch_) (void)nak();
}

std::uint64_t MessagePart::stream_sequence() const { return batch_->message.stream_sequence(); }
int MessagePart::delivered() const { return batch_->message.delivered(); }
std::chrono::system_clock::time_point MessagePart::stored_at() const { return batch_->message.stored_at(); }
std::optional<std::string> MessagePart::header(std::string_view key) const { return batch_->message.header(key); }

Result<void> MessagePart::ack() { return settle(false, {}); }
Result<void> MessagePart::nak() { return settle(true, std::chrono::milliseconds(0)); }
Result<void> MessagePart::nak(std::chrono::milliseconds delay) { return settle(true, delay); }
// Every part of a message held somewhere keeps it alive, but the server needs to hear it once:
// a batch of 256 jobs would otherwise send 256 of these at a time.
Result<void> MessagePart::in_progress() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(batch_->mu);
    if (batch_->progress && now - *batch_->progress < std::chrono::seconds(1)) return ok();
    batch_->progress = now;
  }
  return batch_->message.in_progress();
}

Result<void> MessagePart::settle(bool again, std::chrono::milliseconds delay) {
  if (settled_ || !batch_) return ok();
  settled_ = true;
  std::unique_lock lock(batch_->mu);
  if (again) batch_->again = batch_->again ? std::min(*batch_->again, delay) : delay;
  if (--batch_->unsettled > 0) return ok();
  auto back = batch_->again;
  lock.unlock();
  if (!back) return batch_->message.ack();
  return back->count() > 0 ? batch_->message.nak(*back) : batch_->message.nak();
}

int FetchSize::messages() const { return std::clamp(static_cast<int>(parts_ / per_message_), 1, parts_); }

void FetchSize::saw(std::size_t messages, std::size_t parts) {
  if (messages == 0) return;
  per_message_ = std::max(1.0, 0.7 * per_message_ + 0.3 * static_cast<double>(parts) / static_cast<double>(messages));
}

namespace {

// The message's parts: its batch entries, or (`alone`) the whole message as one part.
std::vector<MessagePart> unpack(bus::JsMessage message, bool alone, std::string alone_name) {
  auto batch = std::make_shared<MessagePart::Batch>(std::move(message));
  const auto& m = batch->message;
  std::vector<MessagePart> parts;
  if (alone) {
    parts.emplace_back(batch, 0, std::move(alone_name), m.data());
  } else {
    // A batch that does not inflate is one part without a name, the whole message, as
    // read_batch gives what it cannot read: its consumer dead-letters it.
    auto framing = contract::batch_framing(m.data(), m.header(contract::kBatchEncodingHeader), batch->framing);
    auto entries =
        framing ? contract::read_batch(*framing) : std::vector<contract::BatchEntry>{{std::string_view(), m.data()}};
    parts.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i)
      parts.emplace_back(batch, i, std::string(entries[i].name), entries[i].body);
  }
  batch->unsettled = parts.size();
  if (parts.empty()) (void)batch->message.ack();  // an empty batch: nothing in it to do
  return parts;
}

}  // namespace

std::vector<MessagePart> unpack_events(bus::JsMessage message) {
  constexpr std::string_view kSingleEvent = contract::subject::kDeviceEventPrefix;  // + ".<dev_eui>.<event>"
  const std::string_view subject = message.subject();
  const bool alone = subject.starts_with(kSingleEvent) && subject.substr(kSingleEvent.size()).starts_with('.');
  std::string name = alone ? message.subject() : std::string();
  return unpack(std::move(message), alone, std::move(name));
}

std::vector<MessagePart> unpack_jobs(bus::JsMessage message) {
  const bool alone = !message.header(contract::kJobBatchHeader);
  return unpack(std::move(message), alone, {});
}

Result<std::vector<MessagePart>> fetch_parts(bus::PullConsumer& consumer, FetchSize& size,
                                             std::chrono::milliseconds timeout,
                                             std::vector<MessagePart> (*unpack_message)(bus::JsMessage)) {
  DM_ASSIGN_OR_RETURN(auto messages, consumer.fetch(size.messages(), timeout));
  std::vector<MessagePart> parts;
  for (auto& m : messages)
    for (auto& part : unpack_message(std::move(m))) parts.push_back(std::move(part));
  size.saw(messages.size(), parts.size());
  return parts;
}

}  // namespace dm::service
