#include <algorithm>
#include <climits>
#include <random>
#include <thread>

#include "callbacks.hpp"
#include "connection_impl.hpp"
#include "dm/core/strings.hpp"
#include "nats_message.hpp"
#include "parts.hpp"
#include "status.hpp"
#include "subscription_impl.hpp"

namespace dm::bus {
namespace {

using Events = ClosureRegistry<ConnectionEvents>;

// Keep-alive pings: a silently dead server (no RST, e.g. a dropped network) is noticed
// within about interval × max-out instead of the default two minutes × 2.
constexpr int64_t kPingIntervalMs = 10000;
constexpr int kMaxPingsOut = 3;

// 250 ms, 500 ms, 1 s, then 2 s forever: fast after a blip, gentle during an outage,
// with ±20% jitter so the suite's services do not reconnect in lockstep.
int64_t reconnect_delay(natsConnection*, int attempts, void*) {
  const int shift = std::clamp(attempts - 1, 0, 3);
  const int64_t base = int64_t{250} << shift;
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(-base / 5, base / 5);
  return base + jitter(rng);
}

void on_closed(natsConnection*, void* closure) {
  if (auto ev = Events::find(closure)) {
    std::lock_guard lock(ev->mu);
    ev->closed = true;
    ev->cv.notify_all();
  }
}

void on_disconnected(natsConnection*, void* closure) {
  if (auto ev = Events::find(closure)) {
    std::lock_guard lock(ev->mu);
    if (!ev->closing) log::warn("bus: disconnected from NATS, reconnecting", {{"connection", ev->name}});
  }
}

void on_reconnected(natsConnection*, void* closure) {
  if (auto ev = Events::find(closure)) log::info("bus: reconnected to NATS", {{"connection", ev->name}});
}

void on_connected(natsConnection*, void* closure) {
  if (auto ev = Events::find(closure)) log::info("bus: connected to NATS", {{"connection", ev->name}});
}

// Asynchronous problems (slow consumer, permission violation) have no caller to return to.
void on_async_error(natsConnection*, natsSubscription* sub, natsStatus err, void* closure) {
  auto ev = Events::find(closure);
  const char* subject = sub != nullptr ? natsSubscription_GetSubject(sub) : nullptr;
  log::warn("bus: asynchronous NATS error", {{"connection", ev ? ev->name : std::string()},
                                             {"subject", subject != nullptr ? subject : ""},
                                             {"error", natsStatus_GetText(err)}});
}

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

Result<std::unique_ptr<natsOptions, OptionsDeleter>> make_options(const Options& o, void* closure) {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) return nats_error(s, "nats: options");
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);
  // The URL is not echoed into errors: it may carry credentials.
  // A cluster is a comma-separated list of its nodes: nats.c takes a list only as servers
  // (SetURL would read the whole text as one URL); the client then reconnects to any live one.
  std::vector<std::string> urls;
  for (auto part : dm::split(o.url, ',')) {
    if (auto url = dm::trim(part); !url.empty()) urls.emplace_back(url);
  }
  if (urls.size() > 1) {
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    DM_TRY(check(natsOptions_SetServers(raw, servers.data(), static_cast<int>(servers.size())), "nats: servers"));
  } else {
    DM_TRY(check(natsOptions_SetURL(raw, o.url.c_str()), "nats: url"));
  }
  if (!o.name.empty()) DM_TRY(check(natsOptions_SetName(raw, o.name.c_str()), "nats: name"));
  if (!o.user.empty()) DM_TRY(check(natsOptions_SetUserInfo(raw, o.user.c_str(), o.password.c_str()), "nats: user"));
  DM_TRY(check(natsOptions_SetTimeout(raw, o.connect_timeout.count()), "nats: connect timeout"));
  DM_TRY(check(natsOptions_SetMaxReconnect(raw, -1), "nats: max reconnect"));
  DM_TRY(check(natsOptions_SetCustomReconnectDelay(raw, reconnect_delay, nullptr), "nats: reconnect delay"));
  DM_TRY(check(natsOptions_SetRetryOnFailedConnect(raw, true, on_connected, closure), "nats: retry connect"));
  DM_TRY(check(natsOptions_SetClosedCB(raw, on_closed, closure), "nats: closed callback"));
  DM_TRY(check(natsOptions_SetDisconnectedCB(raw, on_disconnected, closure), "nats: disconnected callback"));
  DM_TRY(check(natsOptions_SetReconnectedCB(raw, on_reconnected, closure), "nats: reconnected callback"));
  DM_TRY(check(natsOptions_SetErrorHandler(raw, on_async_error, closure), "nats: error handler"));
  DM_TRY(check(natsOptions_SetSendAsap(raw, o.send_asap), "nats: send asap"));
  if (!o.inbox_prefix.empty())
    DM_TRY(check(natsOptions_SetCustomInboxPrefix(raw, o.inbox_prefix.c_str()), "nats: inbox prefix"));
  DM_TRY(check(natsOptions_SetPingInterval(raw, kPingIntervalMs), "nats: ping interval"));
  DM_TRY(check(natsOptions_SetMaxPingsOut(raw, kMaxPingsOut), "nats: max pings out"));
  return opts;
}

bool too_big(std::string_view data) { return data.size() > static_cast<std::size_t>(INT_MAX); }

}  // namespace

Requester& Connection::Impl::get_requester() {
  std::lock_guard lock(requester_mu);
  if (!requester) requester = std::make_shared<Requester>(nc, inbox_prefix);
  return *requester;
}

void Connection::Impl::mark_closing() {
  if (!events) return;
  std::lock_guard lock(events->mu);
  events->closing = true;
}

void Connection::Impl::close() {
  mark_closing();
  std::shared_ptr<Requester> req;
  {
    std::lock_guard lock(requester_mu);
    req = std::move(requester);
  }
  if (req) req->close();
  jetstream.reset();  // fails pending async publishes, frees the jsCtx
  js = nullptr;
  if (nc != nullptr) {
    natsConnection_Close(nc);  // flushes what is buffered
    natsConnection_Destroy(nc);
    nc = nullptr;
  }
  if (events_closure != nullptr) Events::remove(events_closure);
  events_closure = nullptr;
}

Result<std::shared_ptr<Connection>> Connection::connect(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->events = std::make_shared<ConnectionEvents>();
  impl->events->name = options.name;
  impl->events_closure = Events::add(impl->events);
  impl->inbox_prefix = options.inbox_prefix.empty() ? "_INBOX" : options.inbox_prefix;
  DM_ASSIGN_OR_RETURN(auto opts, make_options(options, impl->events_closure));

  natsStatus s = natsConnection_Connect(&impl->nc, opts.get());
  // NATS_NOT_YET_CONNECTED: no server yet; the library keeps trying in the background.
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) return nats_error(s, "nats: connect");
  DM_ASSIGN_OR_RETURN(impl->jetstream,
                      make_jetstream(impl->nc, options.jetstream_timeout, impl->inbox_prefix, &impl->js));
  return std::shared_ptr<Connection>(new Connection(std::move(impl)));
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() {
  if (!impl_) return;
  if (CallbackScope::active()) {
    // Last reference dropped inside one of our own callbacks: tearing down here would join
    // or wait for the very thread we are on, so a short-lived thread does it instead.
    std::thread([impl = std::move(impl_)]() mutable { impl.reset(); }).detach();
    return;
  }
  impl_.reset();
}

bool Connection::connected() const { return natsConnection_Status(impl_->nc) == NATS_CONN_STATUS_CONNECTED; }

std::size_t Connection::max_payload() const {
  std::int64_t n = natsConnection_GetMaxPayload(impl_->nc);
  return n > 0 ? static_cast<std::size_t>(n) : std::size_t{1} << 20;
}

Result<void> Connection::publish(std::string_view subject, std::string_view data, const Headers& headers) {
  if (too_big(data)) return Error(Errc::too_large, "nats: payload over 2 GiB");
  natsStatus s;
  if (headers.empty()) {
    const std::string subj(subject);
    s = natsConnection_Publish(impl_->nc, subj.c_str(), data.data(), static_cast<int>(data.size()));
  } else {
    DM_ASSIGN_OR_RETURN(auto msg, make_nats_msg(subject, {}, data, headers));
    s = natsConnection_PublishMsg(impl_->nc, msg.get());
  }
  if (s != NATS_OK) return nats_error(s, "nats: publish to '" + std::string(subject) + "'");
  return ok();
}

Result<void> Connection::respond(const Message& request, std::string_view data, const Headers& headers) {
  if (request.reply.empty())
    return Error(Errc::invalid_argument, "nats: message on '" + request.subject + "' has no reply subject");
  const std::size_t limit = max_payload();
  if (data.size() + parts::wire_size(headers) <= limit) return publish(request.reply, data, headers);
  if (!parts::accepted(request))
    return Error(Errc::too_large, "nats: reply of " + std::to_string(data.size()) + " bytes to '" + request.subject +
                                      "' is over the server's max payload (" + std::to_string(limit) +
                                      " bytes) and the requester does not take replies in parts");
  return respond_in_parts(request.reply, data, headers, limit);
}

// Part 1 carries the caller's headers, every part its number; each fits in `limit` with its
// headers (counted with the widest part numbers, so no part can be over).
Result<void> Connection::respond_in_parts(const std::string& reply, std::string_view data, const Headers& headers,
                                          std::size_t limit) {
  const std::string widest = std::to_string(data.size());
  Headers first = headers;
  first.push_back({parts::kPartHeader, widest});
  first.push_back({parts::kCountHeader, widest});
  const std::size_t overhead = parts::wire_size(first) + 64;
  if (overhead * 2 > limit) return Error(Errc::too_large, "nats: reply headers leave no room under max payload");
  const std::size_t chunk = limit - overhead;
  const std::size_t count = (data.size() + chunk - 1) / chunk;
  for (std::size_t i = 0; i < count; ++i) {
    Headers h = i == 0 ? headers : Headers{};
    h.push_back({parts::kPartHeader, std::to_string(i + 1)});
    h.push_back({parts::kCountHeader, std::to_string(count)});
    DM_TRY(publish(reply, data.substr(i * chunk, chunk), h));
  }
  return ok();
}

Result<void> Connection::flush(std::chrono::milliseconds timeout) {
  return check(natsConnection_FlushTimeout(impl_->nc, timeout.count()), "nats: flush");
}

Result<Message> Connection::request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
                                    const Headers& headers) {
  DM_ASSIGN_OR_RETURN(auto msg, make_nats_msg(subject, {}, data, headers));
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, impl_->nc, msg.get(), timeout.count());
  if (s != NATS_OK) return nats_error(s, "nats: request to '" + std::string(subject) + "'");
  NatsMsgPtr owned(reply);
  return to_message(reply);
}

void Connection::request_async(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
                               std::function<void(Result<Message>)> done, const Headers& headers) {
  impl_->get_requester().request(subject, data, timeout, std::move(done), headers);
}

Result<std::unique_ptr<Subscription>> Connection::subscribe(std::string_view subject, std::string_view queue_group,
                                                            MessageHandler handler) {
  return make_subscription(impl_->nc, subject, queue_group, std::move(handler));
}

Result<void> Connection::drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Async publish acks arrive on a subscription that the drain closes: let them land first.
  const bool settled = impl_->js == nullptr || impl_->js->async->wait_idle(deadline);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  impl_->mark_closing();
  natsStatus s = natsConnection_DrainTimeout(impl_->nc, std::max<int64_t>(left.count(), 1));
  if (s == NATS_CONNECTION_CLOSED) return ok();  // drained or closed before
  if (s != NATS_OK) {
    Error err = nats_error(s, "nats: drain");
    natsConnection_Close(impl_->nc);  // shutting down either way; not draining must not mean staying open
    return err;
  }
  {
    auto& ev = *impl_->events;
    std::unique_lock lock(ev.mu);
    // nats.c closes the connection itself when its drain timeout passes; the extra second
    // only covers the closed callback's delivery.
    if (!ev.cv.wait_until(lock, deadline + std::chrono::seconds(1), [&] { return ev.closed; })) {
      lock.unlock();
      natsConnection_Close(impl_->nc);
      return Error(Errc::timeout, "nats: drain did not finish in time");
    }
  }
  if (!settled || std::chrono::steady_clock::now() > deadline)
    return Error(Errc::timeout, "nats: drain did not finish in time");
  return ok();
}

JetStream& Connection::jetstream() { return *impl_->jetstream; }

Connection::Stats Connection::stats() const {
  Stats out;
  natsStatistics* st = nullptr;
  if (natsStatistics_Create(&st) != NATS_OK) return out;
  if (natsConnection_GetStats(impl_->nc, st) == NATS_OK) {
    uint64_t in_bytes = 0;
    uint64_t out_bytes = 0;
    natsStatistics_GetCounts(st, &out.in_msgs, &in_bytes, &out.out_msgs, &out_bytes, &out.reconnects);
  }
  natsStatistics_Destroy(st);
  return out;
}

}  // namespace dm::bus
