#include "async_publisher.hpp"

#include <string>

#include "callbacks.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {
namespace {

// Between sends of a publish that found its stream without a leader.
constexpr std::chrono::milliseconds kRetryDelay{250};

bool leaderless(const jsPubAckErr* pae) { return pae != nullptr && pae->Err == NATS_NO_RESPONDERS; }

}  // namespace

AsyncPublisher::AsyncPublisher(std::chrono::milliseconds ack_timeout)
    : ack_timeout_(ack_timeout), timer_([this](std::uint64_t token) { on_timer(token); }, [this] { fail_all(); }) {}

AsyncPublisher::~AsyncPublisher() { timer_.stop(); }

void AsyncPublisher::ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  CallbackScope scope;
  if (auto self = ClosureRegistry<AsyncPublisher>::find(closure)) {
    self->on_ack(msg, pa, pae);
  } else {
    destroy_nats_msg(msg);  // the handler owns the message, even after we are gone
  }
}

void AsyncPublisher::publish(jsCtx* js, std::string_view subject, std::string_view data, std::string_view msg_id,
                             Done done, const Headers& headers) {
  auto made = make_nats_msg(subject, {}, data, headers);
  natsMsg* msg = made ? made->release() : nullptr;
  std::uint64_t token = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      // Only reachable while the Connection is being torn down: the timer is gone.
      destroy_nats_msg(msg);
      invoke_user("publish_async", done, Error(Errc::unavailable, "jetstream: connection closed"));
      return;
    }
    js_ = js;
    token = ++next_token_;
    std::optional<Error> failure;
    if (!made) failure = made.take_error();
    pending_.emplace(token, Pending{std::move(done), msg, std::move(failure), std::string(msg_id),
                                    DeadlineTimer::Clock::now() + ack_timeout_});
    if (msg != nullptr) token_of_.emplace(msg, token);
  }
  const auto now = DeadlineTimer::Clock::now();
  if (msg == nullptr) {
    timer_.schedule(now, token);  // fail from the timer thread, as promised, not the caller's
    return;
  }
  // Registered before publishing: the ack can arrive before js_PublishMsgAsync returns.
  timer_.schedule(now + ack_timeout_, token);
  send(token, msg, std::string(msg_id), subject);
}

void AsyncPublisher::send(std::uint64_t token, natsMsg* msg, const std::string& msg_id, std::string_view subject) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  // No MaxWait: see the header. Our timer is the only deadline.
  if (!msg_id.empty()) po.MsgId = msg_id.c_str();
  natsMsg* handed = msg;
  natsStatus s = js_PublishMsgAsync(js_, &handed, &po);
  if (s == NATS_OK) return;  // the library owns it now (`handed` was cleared)

  // Not taken: the library will never report on it, so we fail it ourselves.
  Error err = nats_error(s, "jetstream: publish to '" + std::string(subject) + "'");
  {
    std::lock_guard lock(mu_);
    token_of_.erase(msg);
    if (auto it = pending_.find(token); it != pending_.end()) {
      it->second.msg = nullptr;
      it->second.failure = std::move(err);
    }
  }
  destroy_nats_msg(handed);
  timer_.schedule(DeadlineTimer::Clock::now(), token);
}

void AsyncPublisher::on_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  NatsMsgPtr owned(msg);  // the ack handler owns the original message
  const std::string what = "jetstream: publish to '" + std::string(natsMsg_GetSubject(msg)) + "'";
  std::optional<Pending> p;
  {
    std::lock_guard lock(mu_);
    if (auto it = token_of_.find(msg); it != token_of_.end()) {
      const std::uint64_t token = it->second;
      token_of_.erase(it);
      if (auto pit = pending_.find(token); pit != pending_.end()) {
        const auto now = DeadlineTimer::Clock::now();
        if (pa == nullptr && leaderless(pae) && !closed_ && now + kRetryDelay < pit->second.ack_by) {
          pit->second.msg = owned.release();  // held: sent again by the timer
          pit->second.held = true;
          pit->second.failure = js_error_text(pae->Err, pae->ErrCode, pae->ErrText ? pae->ErrText : "", what);
          timer_.schedule(now + kRetryDelay, token);
          return;
        }
        p = std::move(pit->second);
        pending_.erase(pit);
      }
    }
    if (pending_.empty()) idle_.notify_all();
  }
  if (!p) return;  // already failed by the backstop
  if (pa != nullptr) {
    owned.reset();
    invoke_user("publish_async", p->done, PubAck{pa->Stream != nullptr ? pa->Stream : "", pa->Sequence, pa->Duplicate});
    return;
  }
  owned.reset();
  Error err = pae != nullptr ? js_error_text(pae->Err, pae->ErrCode, pae->ErrText != nullptr ? pae->ErrText : "", what)
                             : Error(Errc::internal, what + ": neither ack nor error");
  invoke_user("publish_async", p->done, std::move(err));
}

void AsyncPublisher::on_timer(std::uint64_t token) {
  natsMsg* again = nullptr;
  std::string msg_id, subject;
  bool lost = false;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(token);
    if (it == pending_.end()) return;  // done in time
    Pending& p = it->second;
    const auto now = DeadlineTimer::Clock::now();
    if (p.held && !closed_ && now < p.ack_by) {
      again = p.msg;
      p.held = false;
      token_of_.emplace(again, token);
      msg_id = p.msg_id;
      subject = natsMsg_GetSubject(again);
    } else if (!p.held && p.msg != nullptr) {
      if (now < p.ack_by) return;  // a retry's timer entry while the message is in flight again
      lost = true;                 // sent, and no ack in time: nats.c still holds it
    }
  }
  if (again) return send(token, again, msg_id, subject);
  expire(token);
  if (lost) reclaim();
}

void AsyncPublisher::reclaim() {
  natsMsgList list{};
  if (js_PublishAsyncGetPendingList(&list, js_) != NATS_OK) return;  // NATS_NOT_FOUND: nothing held
  const auto now = DeadlineTimer::Clock::now();
  {
    std::lock_guard lock(mu_);
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      auto it = token_of_.find(msg);
      if (it == token_of_.end()) continue;  // its publish has ended: freed with the list below
      const std::uint64_t token = it->second;
      token_of_.erase(it);
      list.Msgs[i] = nullptr;  // ours again: held and sent again by the timer
      Pending& p = pending_.at(token);
      p.msg = msg;
      p.held = true;
      timer_.schedule(now, token);
    }
  }
  natsMsgList_Destroy(&list);
}

std::optional<AsyncPublisher::Pending> AsyncPublisher::take_token(std::uint64_t token) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(token);
  if (it == pending_.end()) return std::nullopt;
  Pending p = std::move(it->second);
  pending_.erase(it);
  // In flight, the message stays the library's: its late ack will find nothing and just free it.
  // Held, it is ours.
  if (p.held)
    destroy_nats_msg(p.msg);
  else if (p.msg != nullptr)
    token_of_.erase(p.msg);
  if (pending_.empty()) idle_.notify_all();
  return p;
}

void AsyncPublisher::expire(std::uint64_t token) {
  auto p = take_token(token);
  if (!p) return;  // acked in time
  Error err = p->failure ? std::move(*p->failure) : Error(Errc::timeout, "jetstream: no publish ack in time");
  invoke_user("publish_async", p->done, std::move(err));
}

void AsyncPublisher::fail_all() {
  std::unordered_map<std::uint64_t, Pending> left;
  {
    std::lock_guard lock(mu_);
    left.swap(pending_);
    token_of_.clear();
    idle_.notify_all();
  }
  for (auto& [token, p] : left) {
    if (p.held) destroy_nats_msg(p.msg);
    invoke_user("publish_async", p.done, Error(Errc::unavailable, "jetstream: connection closed before the ack"));
  }
}

bool AsyncPublisher::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_.wait_until(lock, deadline, [&] { return pending_.empty(); });
}

void AsyncPublisher::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  timer_.stop();  // its on_stop fails what is still pending
}

}  // namespace dm::bus
