#include "requester.hpp"

#include <charconv>

#include "callbacks.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {
namespace {

using Holder = std::shared_ptr<Requester>;

void on_reply_cb(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  CallbackScope scope;
  (*static_cast<Holder*>(closure))->on_reply(msg);
}

// The dispatcher's last act: only now may the closure go.
void on_complete_cb(void* closure) { delete static_cast<Holder*>(closure); }

}  // namespace

Requester::Requester(natsConnection* nc, std::string inbox_prefix)
    : nc_(nc),
      inbox_prefix_(std::move(inbox_prefix)),
      timer_([this](std::uint64_t token) { expire(token); }, [this] { fail_all(); }) {}

Requester::~Requester() { timer_.stop(); }

void Requester::request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout, Done done,
                        const Headers& headers) {
  auto subscribed = ensure_subscribed();
  std::uint64_t token = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      // Only reachable while the Connection is being torn down: the timer is gone.
      Error err(Errc::unavailable, "nats: connection closed");
      invoke_user("request_async", done, std::move(err));
      return;
    }
    token = ++next_token_;
    std::optional<Error> failure;
    if (!subscribed) failure = subscribed.take_error();
    pending_.emplace(token, Pending{std::move(done), std::string(subject), std::move(failure)});
  }
  const auto now = DeadlineTimer::Clock::now();
  if (!subscribed) {
    timer_.schedule(now, token);  // fail from the timer thread, as promised, not the caller's
    return;
  }
  // Scheduled before publishing: the reply can arrive before publish returns.
  timer_.schedule(now + timeout, token);
  auto msg = make_nats_msg(subject, prefix_ + std::to_string(token), data, headers);
  Result<void> sent = msg ? check(natsMsgHeader_Set(msg->get(), parts::kAcceptHeader, "1"), "nats: header")
                          : Result<void>(msg.take_error());
  if (sent) sent = check(natsConnection_PublishMsg(nc_, msg->get()), "nats: request to '" + std::string(subject) + "'");
  if (sent) return;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(token);
    if (it == pending_.end()) return;
    it->second.failure = sent.take_error();
  }
  timer_.schedule(now, token);
}

Result<void> Requester::ensure_subscribed() {
  std::lock_guard lock(mu_);
  if (sub_ != nullptr) return ok();
  if (closed_) return Error(Errc::unavailable, "nats: connection closed");
  DM_ASSIGN_OR_RETURN(auto prefix, unique_inbox(inbox_prefix_));

  auto* holder = new Holder(shared_from_this());
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, nc_, (prefix + "*").c_str(), on_reply_cb, holder);
  if (s != NATS_OK) {
    delete holder;
    return nats_error(s, "nats: subscribe for replies");
  }
  // Replies to our own requests must never be dropped as a slow consumer.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  s = natsSubscription_SetOnCompleteCB(sub, on_complete_cb, holder);
  if (s != NATS_OK) {
    // Closed under our feet; its dispatcher may still touch `holder`, so it is left to leak.
    natsSubscription_Destroy(sub);
    return nats_error(s, "nats: subscribe for replies");
  }
  prefix_ = std::move(prefix);
  sub_ = sub;
  return ok();
}

std::optional<Requester::Pending> Requester::take(std::uint64_t token) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(token);
  if (it == pending_.end()) return std::nullopt;
  Pending p = std::move(it->second);
  pending_.erase(it);
  return p;
}

std::optional<std::uint64_t> Requester::token_of(std::string_view subject) const {
  if (subject.size() <= prefix_.size()) return std::nullopt;
  const std::string_view tail = subject.substr(prefix_.size());
  std::uint64_t token = 0;
  auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), token);
  if (ec != std::errc() || end != tail.data() + tail.size()) return std::nullopt;
  return token;
}

void Requester::on_reply(natsMsg* raw) {
  NatsMsgPtr msg(raw);
  if (raw == nullptr) return;
  auto token = token_of(natsMsg_GetSubject(raw));
  if (!token) return;
  if (auto part = parts::number_of(header_of(raw, parts::kPartHeader), header_of(raw, parts::kCountHeader))) {
    on_part(*token, std::move(*part), raw);
    return;
  }
  auto pending = take(*token);
  if (!pending) return;  // already timed out: the late reply is dropped
  if (natsMsg_IsNoResponders(raw)) {
    invoke_user("request_async", pending->done,
                Error(Errc::unavailable, "nats: no responders for '" + pending->subject + "'"));
  } else {
    invoke_user("request_async", pending->done, to_message(raw));
  }
}

// One part of a reply: kept until the last one is in, then the whole reply goes to `done`.
// A part that cannot be added (out of order, over the bound) fails the request at once.
void Requester::on_part(std::uint64_t token, Result<parts::PartNumber> number, natsMsg* raw) {
  Message part = to_message(raw);  // copied before taking the lock
  std::optional<Pending> finished;
  Result<Message> outcome = Error(Errc::internal, "nats: reply part");
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(token);
    if (it == pending_.end()) return;  // timed out or failed already: late parts are dropped
    Pending& p = it->second;
    if (!p.assembly) p.assembly.emplace();
    Result<void> added = number ? p.assembly->add(*number, std::move(part)) : Result<void>(number.take_error());
    if (added && !p.assembly->complete()) return;  // more to come
    outcome = added ? Result<Message>(p.assembly->take()) : Result<Message>(added.take_error());
    finished = std::move(p);
    pending_.erase(it);
  }
  invoke_user("request_async", finished->done, std::move(outcome));
}

void Requester::expire(std::uint64_t token) {
  auto pending = take(token);
  if (!pending) return;  // answered in time
  Error err = pending->failure ? std::move(*pending->failure)
                               : Error(Errc::timeout, "nats: request to '" + pending->subject + "' timed out");
  invoke_user("request_async", pending->done, std::move(err));
}

void Requester::fail_all() {
  std::unordered_map<std::uint64_t, Pending> left;
  {
    std::lock_guard lock(mu_);
    left.swap(pending_);
  }
  for (auto& [token, p] : left) {
    invoke_user("request_async", p.done,
                Error(Errc::unavailable, "nats: connection closed before a reply to '" + p.subject + "'"));
  }
}

void Requester::close() {
  natsSubscription* sub = nullptr;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    std::swap(sub, sub_);
  }
  if (sub != nullptr) {
    natsSubscription_Unsubscribe(sub);  // fails harmlessly when the connection is already closed
    natsSubscription_Destroy(sub);
  }
  timer_.stop();  // its on_stop fails what is still pending
}

}  // namespace dm::bus
