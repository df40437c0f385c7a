#include "dm/service/event_parts.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include "dm/contract/device_event.hpp"
#include "dm/contract/subjects.hpp"

namespace dm::service {

struct EventPart::Batch {
  explicit Batch(bus::JsMessage m) : message(std::move(m)) {}
  bus::JsMessage message;
  std::mutex mu;
  std::size_t unsettled = 0;
  std::optional<std::chrono::milliseconds> again;  // some part asked to come back, this soon
};

EventPart::EventPart(std::shared_ptr<Batch> batch, std::size_t index, std::string subject, std::string_view data)
    : batch_(std::move(batch)), index_(index), subject_(std::move(subject)), data_(data) {}

EventPart::EventPart(EventPart&& o) noexcept
    : batch_(std::move(o.batch_)),
      index_(o.index_),
      subject_(std::move(o.subject_)),
      data_(o.data_),
      settled_(std::exchange(o.settled_, true)) {}

EventPart& EventPart::operator=(EventPart&& o) noexcept {
  if (this != &o) {
    if (!settled_ && batch_) (void)nak();
    batch_ = std::move(o.batch_);
    index_ = o.index_;
    subject_ = std::move(o.subject_);
    data_ = o.data_;
    settled_ = std::exchange(o.settled_, true);
  }
  return *this;
}

EventPart::~EventPart() {
  if (!settled_ && batch_) (void)nak();
}

std::uint64_t EventPart::stream_sequence() const { return batch_->message.stream_sequence(); }
int EventPart::delivered() const { return batch_->message.delivered(); }
std::chrono::system_clock::time_point EventPart::stored_at() const { return batch_->message.stored_at(); }

Result<void> EventPart::ack() { return settle(false, {}); }
Result<void> EventPart::nak() { return settle(true, std::chrono::milliseconds(0)); }
Result<void> EventPart::nak(std::chrono::milliseconds delay) { return settle(true, delay); }
Result<void> EventPart::in_progress() { return batch_->message.in_progress(); }

Result<void> EventPart::settle(bool again, std::chrono::milliseconds delay) {
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

int FetchSize::messages() const { return std::clamp(static_cast<int>(events_ / per_message_), 1, events_); }

void FetchSize::saw(std::size_t messages, std::size_t events) {
  if (messages == 0) return;
  per_message_ = std::max(1.0, 0.7 * per_message_ + 0.3 * static_cast<double>(events) / static_cast<double>(messages));
}

std::vector<EventPart> unpack_events(bus::JsMessage message) {
  auto batch = std::make_shared<EventPart::Batch>(std::move(message));
  const auto& m = batch->message;
  std::vector<EventPart> parts;
  constexpr std::string_view kSingleEvent = contract::subject::kDeviceEventPrefix;  // + ".<dev_eui>.<event>"
  const std::string_view subject = m.subject();
  if (subject.starts_with(kSingleEvent) && subject.substr(kSingleEvent.size()).starts_with('.')) {
    parts.emplace_back(batch, 0, m.subject(), m.data());
  } else {
    auto entries = contract::read_event_batch(m.data());
    parts.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i)
      parts.emplace_back(batch, i, std::string(entries[i].subject), entries[i].event);
  }
  batch->unsettled = parts.size();
  if (parts.empty()) (void)batch->message.ack();  // an empty batch: nothing in it to do
  return parts;
}

Result<std::vector<EventPart>> fetch_events(bus::PullConsumer& consumer, FetchSize& size,
                                            std::chrono::milliseconds timeout) {
  DM_ASSIGN_OR_RETURN(auto messages, consumer.fetch(size.messages(), timeout));
  std::vector<EventPart> events;
  for (auto& m : messages)
    for (auto& part : unpack_events(std::move(m))) events.push_back(std::move(part));
  size.saw(messages.size(), events.size());
  return events;
}

}  // namespace dm::service
