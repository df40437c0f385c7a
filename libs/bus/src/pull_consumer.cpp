// A pull consumer that keeps pull requests outstanding on the server instead of asking once
// per fetch.
//
// natsSubscription_Fetch sends a request on every call, first with no_wait (answered by a 404
// status when fewer messages are stored than asked for) and then again with an expiry: at low
// rates that is two requests and a status message, and their wake-ups, for every message.
// Here a request for `batch` messages stays open for kRequestLife, and another is sent while
// fewer than `batch` are still owed, so messages arrive as soon as they are stored and the
// server sends one request's worth before the next request is needed. What is owed is
// bounded (under 2 × batch), so what waits in this process is bounded too.
//
// The server answers a request that ends without its full batch with a status message (408
// when it expired, 409 when refused or cut short, e.g. by a leader change) sent to that
// request's reply subject; a request that ends silently (a server restart) is forgotten after
// its expiry and a grace period.
#include <nats/nats.h>

#include <charconv>
#include <string>
#include <vector>

#include "jetstream_impl.hpp"
#include "nats_message.hpp"
#include "status.hpp"

namespace dm::bus {
namespace {

using Clock = PullConsumer::Impl::Clock;

constexpr auto kRequestLife = std::chrono::seconds(2);
constexpr auto kGrace = std::chrono::seconds(1);
constexpr std::string_view kAckPrefix = "$JS.ACK.";

bool is_user_message(natsMsg* msg) {
  const char* reply = natsMsg_GetReply(msg);
  return reply != nullptr && std::string_view(reply).starts_with(kAckPrefix);
}

std::int64_t millis_until(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
}

}  // namespace

PullConsumer::Impl::~Impl() {
  if (!handle || handle->sub == nullptr) return;
  // What arrived but was never handed out goes back at once instead of after the ack wait.
  // Taken off the queue first and naked only after the unsubscribe: the server may still hold
  // requests of ours with room left, and a nak sent while they had a subscriber could be
  // redelivered into them, to be dropped here and come back only after the ack wait. (Fewer,
  // not none: nats-server 2.9 notices a request has lost its subscriber only now and then.)
  std::vector<natsMsg*> unread;
  int pending = 0;
  if (natsSubscription_GetPending(handle->sub, &pending, nullptr) == NATS_OK) {
    for (; pending > 0; --pending) {
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, handle->sub, 1) != NATS_OK) break;
      unread.push_back(msg);
    }
  }
  natsSubscription_Unsubscribe(handle->sub);
  for (natsMsg* msg : unread) {
    if (is_user_message(msg))
      (void)make_js_message(msg, handle).nak();
    else
      destroy_nats_msg(msg);
  }
}

int PullConsumer::Impl::owed() const {
  int n = 0;
  for (const auto& r : requests) n += r.remaining;
  return n;
}

Result<void> PullConsumer::Impl::top_up(int batch) {
  while (owed() < batch) {
    const std::uint64_t id = next_id++;
    const auto expires = std::chrono::duration_cast<std::chrono::nanoseconds>(kRequestLife).count();
    const std::string body = "{\"batch\":" + std::to_string(batch) + ",\"expires\":" + std::to_string(expires) + "}";
    const std::string reply = inbox + std::to_string(id);
    if (natsStatus s = natsConnection_PublishRequest(handle->nc, next_subject.c_str(), reply.c_str(), body.data(),
                                                     static_cast<int>(body.size()));
        s != NATS_OK) {
      return nats_error(s, "jetstream: pull request to '" + name + "'");
    }
    requests.push_back({id, batch, Clock::now() + kRequestLife + kGrace});
  }
  return ok();
}

void PullConsumer::Impl::forget_expired(Clock::time_point now) {
  while (!requests.empty() && requests.front().forget_at <= now) requests.pop_front();
}

void PullConsumer::Impl::spend_one() {
  // Waiting requests are served oldest first. A message for one already forgotten (its
  // status lost) is charged to the next: the books only decide when to ask for more.
  if (requests.empty()) return;
  if (--requests.front().remaining == 0) requests.pop_front();
}

Result<void> PullConsumer::Impl::on_status(natsMsg* msg) {
  const char* status = nullptr;
  if (natsMsgHeader_Get(msg, "Status", &status) != NATS_OK || status == nullptr) return ok();  // not ours to judge
  const std::string_view code(status);
  if (code.starts_with("100")) return ok();  // an idle heartbeat
  // The request it ends: the last token of the subject it came on.
  const std::string_view subject(natsMsg_GetSubject(msg));
  std::uint64_t id = 0;
  const auto token = subject.substr(subject.rfind('.') + 1);
  std::from_chars(token.data(), token.data() + token.size(), id);
  std::erase_if(requests, [id](const Request& r) { return r.id == id; });
  if (code.starts_with("404") || code.starts_with("408")) return ok();  // nothing stored / expired
  const char* description = nullptr;
  natsMsgHeader_Get(msg, "Description", &description);
  // 409 (refused, or cut short by a leader change) or 503 (no JetStream): the next fetch asks again.
  return Error(Errc::unavailable, "jetstream: pull from '" + name + "': " + std::string(code) +
                                      (description != nullptr ? " " + std::string(description) : std::string()));
}

PullConsumer::PullConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PullConsumer::~PullConsumer() = default;

Result<std::vector<JsMessage>> PullConsumer::fetch(int batch, std::chrono::milliseconds timeout) {
  if (batch <= 0) return Error(Errc::invalid_argument, "jetstream: fetch batch must be positive");
  if (timeout.count() <= 0) return Error(Errc::invalid_argument, "jetstream: fetch timeout must be positive");
  auto& in = *impl_;
  const auto deadline = Clock::now() + timeout;
  std::vector<JsMessage> out;
  while (static_cast<int>(out.size()) < batch) {
    in.forget_expired(Clock::now());
    if (auto asked = in.top_up(batch); !asked) {
      if (out.empty()) return asked.error();
      break;
    }
    // Wait for the first message; after it, take only what has already arrived.
    std::int64_t wait = 1;
    if (out.empty()) {
      wait = millis_until(deadline);
      if (wait <= 0) break;
    } else {
      int pending = 0;
      natsSubscription_GetPending(in.handle->sub, &pending, nullptr);
      if (pending <= 0) break;
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsSubscription_NextMsg(&msg, in.handle->sub, wait);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      if (out.empty()) return nats_error(s, "jetstream: fetch from '" + in.name + "'");
      break;
    }
    if (is_user_message(msg)) {
      in.spend_one();
      out.push_back(make_js_message(msg, in.handle));
      continue;
    }
    auto refused = in.on_status(msg);
    destroy_nats_msg(msg);
    if (!refused && out.empty()) return refused.error();
  }
  return out;
}

}  // namespace dm::bus
