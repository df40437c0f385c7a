// The server: Beast on Asio coroutines. One of the three translation units that see Asio/Beast
// (with client.cpp and asio_impl.cpp), because each costs ~20 s to compile.
#include "dm/http/server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/http/stream.hpp"

namespace dm::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

using Clock = std::chrono::steady_clock;

// A Reply may come from any thread, long after its connection (or the whole server) is gone.
// The gate is closed under its mutex before the io_context is destroyed, so a late Reply never
// touches a dead executor.
struct Gate {
  std::mutex mu;
  bool open = true;
};

// Where a response lands: a slot owned by the waiting session, touched only on its strand.
// The timer is the event the session awaits; delivering cancels it.
struct ReplySlot {
  explicit ReplySlot(const asio::any_io_executor& ex) : timer(ex) { timer.expires_at(Clock::time_point::max()); }
  asio::steady_timer timer;
  std::optional<Response> response;
};

// Runs `f(slot)` on the slot's strand if the server and the slot still exist. Two hops: the
// io_context outlives every strand executor we could have kept, so post there first and reach
// the connection's strand through the slot only if it is still alive.
template <typename F>
void post_to_slot(const std::shared_ptr<Gate>& gate, asio::io_context* ioc, std::weak_ptr<ReplySlot> slot, F f) {
  std::lock_guard lock(gate->mu);
  if (!gate->open) return;
  asio::post(*ioc, [slot = std::move(slot), f = std::move(f)]() mutable {
    if (auto s = slot.lock()) {
      auto ex = s->timer.get_executor();
      asio::post(ex, [s, f = std::move(f)]() mutable { f(*s); });
    }
  });
}

// Shared by every copy of one request's Reply: delivers once, and answers 500 when the last copy
// is dropped without a call (a handler bug would otherwise hang the connection forever).
class ReplyCore {
 public:
  ReplyCore(std::shared_ptr<Gate> gate, asio::io_context* ioc, std::shared_ptr<ReplySlot> slot)
      : gate_(std::move(gate)),
        ioc_(ioc),
        slot_(slot),
        inline_slot_(std::move(slot)),
        owner_(std::this_thread::get_id()) {}

  ~ReplyCore() {
    if (called_.load()) return;
    try {
      deliver(Response::error(500, "Internal Server Error: the handler did not reply"));
    } catch (...) {  // a destructor must not throw; the connection is closed by stop() then
    }
  }

  ReplyCore(const ReplyCore&) = delete;
  ReplyCore& operator=(const ReplyCore&) = delete;

  void deliver(Response response) {
    if (called_.exchange(true)) return;
    // Replying synchronously inside dispatch, on the session's own thread: no hop needed.
    if (std::this_thread::get_id() == owner_ && inline_slot_) {
      inline_slot_->response = std::move(response);
      return;
    }
    post_to_slot(gate_, ioc_, slot_, [r = std::move(response)](ReplySlot& s) mutable {
      s.response = std::move(r);
      s.timer.cancel();
    });
  }

  // Called on the owner thread when dispatch returns: later replies take the posting path.
  void end_dispatch() { inline_slot_.reset(); }

 private:
  std::shared_ptr<Gate> gate_;
  asio::io_context* ioc_;
  std::weak_ptr<ReplySlot> slot_;
  std::shared_ptr<ReplySlot> inline_slot_;  // only read and written on the owner thread
  std::thread::id owner_;
  std::atomic<bool> called_{false};
};

struct Session {
  Session(tcp::socket socket, std::string remote_address)
      : stream(std::move(socket)), remote(std::move(remote_address)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::string remote;
  bool idle = true;                 // between requests: stop() may close it at once
  bool streaming = false;           // sending a Stream: stop() may close it at once too
  std::shared_ptr<ReplySlot> slot;  // while a handler runs: stop() may give up on it
};

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Copies a handler's header fields: framing is ours to decide, and CR/LF in a field would let a
// handler split the response. "Connection: close" clears keep_alive.
void copy_headers(const Headers& headers, bhttp::fields& out, bool& keep_alive) {
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;
    if (name.empty() || name.find_first_of(" \t:") != std::string::npos || has_crlf(name) || has_crlf(value)) {
      log::warn("http response header dropped", {{"name", name}});
      continue;
    }
    if (iequals(name, "Connection")) {
      if (iequals(value, "close")) keep_alive = false;
      continue;
    }
    out.insert(name, value);
  }
}

// Reads (and drops) whatever a streaming client sends, until it closes or the socket fails,
// then says so: a stream's client sends nothing, so this is how its departure is seen.
asio::awaitable<void> watch_peer(std::shared_ptr<Session> s, std::shared_ptr<ReplySlot> wake,
                                 std::shared_ptr<bool> gone) {
  std::array<char, 512> sink{};
  for (;;) {
    // The socket itself, not the tcp_stream: its write timeouts must not end this read.
    auto [ec, n] = co_await s->stream.socket().async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) break;
  }
  *gone = true;
  wake->timer.cancel();
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

using BeastRequest = bhttp::request<bhttp::string_body>;

// The router's view of a request Beast has read.
Request to_request(BeastRequest&& msg, const std::string& remote_address) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) req.headers.add(std::string(field.name_string()), std::string(field.value()));
  req.body = std::move(msg.body());
  req.remote_address = remote_address;
  parse_target(req);
  return req;
}

void log_coroutine_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::error("http server coroutine failed", {{"error", x.what()}});
  } catch (...) {
    log::error("http server coroutine failed");
  }
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<const Router> r)
      : opt(std::move(o)), router(std::move(r)), ioc(std::max(1, opt.threads)), acceptor(asio::make_strand(ioc)) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> run_session(std::shared_ptr<Session> s);
  asio::awaitable<void> fail(Session& s, int status, std::string detail);
  asio::awaitable<bool> await_request(Session& s, bool first);
  asio::awaitable<std::optional<BeastRequest>> read_request(Session& s);
  asio::awaitable<std::optional<Response>> handle(Session& s, Request& req);
  asio::awaitable<void> serve_stream(std::shared_ptr<Session> s, Response res, unsigned version, bool head);
  asio::awaitable<bool> write_stream_head(Session& s, const Response& res, unsigned version, bool head);
  asio::awaitable<void> pump_stream(std::shared_ptr<Session> s, std::shared_ptr<Stream> stream);
  asio::awaitable<bool> send_chunks(Session& s, const std::deque<std::string>& chunks);
  bhttp::response<bhttp::string_body> to_beast(Response res, unsigned version, bool head, bool keep_alive);

  // Runs `f` on every live session's strand.
  template <typename F>
  void for_each_session(F f) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mu);
      for (auto& [_, w] : sessions) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) asio::post(s->stream.get_executor(), [s, f] { f(*s); });
  }

  bool wait_for_no_connections(Clock::time_point deadline) {
    while (active.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return active.load() == 0;
  }

  // Declaration order is destruction order in reverse: coroutine frames die with `ioc` and
  // touch the members above it on the way out, so those must outlive it.
  ServerOptions opt;
  std::shared_ptr<const Router> router;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  int port = 0;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> total{0};
  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
};

asio::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto [ec, accepted] = co_await acceptor.async_accept(asio::make_strand(ioc), kUseTuple);
    if (stopping.load() || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      log::warn("http accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    tcp::socket socket(std::move(accepted));
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto remote = socket.remote_endpoint(ignored).address().to_string();
    auto s = std::make_shared<Session>(std::move(socket), std::move(remote));
    {
      std::lock_guard lock(sessions_mu);
      sessions.emplace(s.get(), s);
    }
    active.fetch_add(1);
    total.fetch_add(1);
    auto ex = s->stream.get_executor();
    asio::co_spawn(ex, run_session(std::move(s)), log_coroutine_exception);
  }
}

bhttp::response<bhttp::string_body> Server::Impl::to_beast(Response res, unsigned version, bool head, bool keep_alive) {
  if (res.status < 100 || res.status > 999) {
    log::error("http handler returned an invalid status", {{"status", res.status}});
    res = Response::error(500, "Internal Server Error");
  }
  bhttp::response<bhttp::string_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(res.status));
  copy_headers(res.headers, out, keep_alive);
  if (!res.headers.contains("Server")) out.set(bhttp::field::server, opt.server_name);
  bool bodiless = res.status / 100 == 1 || res.status == 204 || res.status == 304;
  if (!bodiless) {
    out.set(bhttp::field::content_length, std::to_string(res.body.size()));
    // A HEAD answer announces the GET body's length but sends none.
    if (!head) out.body() = std::move(res.body);
  }
  out.keep_alive(keep_alive);
  return out;
}

asio::awaitable<void> Server::Impl::fail(Session& s, int status, std::string detail) {
  auto out = to_beast(Response::error(status, detail), 11, false, false);
  s.stream.expires_after(opt.read_timeout);
  requests.fetch_add(1);
  auto [ec, n] = co_await bhttp::async_write(s.stream, out, kUseTuple);
  if (ec) co_return;
  s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  // Lingering close: drop what the client is still sending (the rest of an oversized body) so
  // that closing does not reset the connection before the client has read our answer.
  s.stream.expires_after(std::chrono::seconds(2));
  std::size_t drained = 0;
  const std::size_t max_drain = std::max<std::size_t>(opt.body_limit * 4, 16 << 20);
  while (drained < max_drain && !stopping.load()) {
    auto [rec, got] = co_await s.stream.async_read_some(s.buffer.prepare(64 << 10), kUseTuple);
    if (rec) break;
    drained += got;
  }
}

asio::awaitable<bool> Server::Impl::send_chunks(Session& s, const std::deque<std::string>& chunks) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(chunks.size());
  for (const auto& c : chunks) buffers.emplace_back(asio::buffer(c));
  s.stream.expires_after(opt.idle_timeout);  // a client that stops reading is dropped
  auto [ec, n] = co_await asio::async_write(s.stream, buffers, kUseTuple);
  s.stream.expires_never();
  co_return !ec;
}

// The head without a length (the body ends with the connection). False when no body is to
// follow: the write failed, or the request was HEAD (the connection is then half-closed).
asio::awaitable<bool> Server::Impl::write_stream_head(Session& s, const Response& res, unsigned version, bool head) {
  bool keep_alive = false;
  bhttp::response<bhttp::empty_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(res.status));
  copy_headers(res.headers, out, keep_alive);
  if (!res.headers.contains("Server")) out.set(bhttp::field::server, opt.server_name);
  out.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> serializer(out);
  s.stream.expires_after(opt.idle_timeout);
  requests.fetch_add(1);
  auto [hec, hn] = co_await bhttp::async_write_header(s.stream, serializer, kUseTuple);
  s.stream.expires_never();
  if (hec || head) {
    beast::error_code ignored;
    s.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return false;
  }
  co_return true;
}

// The stream's chunks as they come, keep-alives while it is quiet, until it closes, overflows,
// outlives max_duration, the client leaves or the server stops.
asio::awaitable<void> Server::Impl::pump_stream(std::shared_ptr<Session> s, std::shared_ptr<Stream> stream) {
  s->streaming = true;
  // Its timer is what the loop waits on: the stream's writes and the client's departure cancel it.
  auto wake = std::make_shared<ReplySlot>(s->stream.get_executor());
  // An overflow also aborts a write in progress: the client is not reading, so it would wait
  // out idle_timeout otherwise.
  stream->set_waker([g = gate, ioc = &ioc, weak = std::weak_ptr<ReplySlot>(wake), ws = std::weak_ptr<Session>(s),
                     wst = std::weak_ptr<Stream>(stream)] {
    post_to_slot(g, ioc, weak, [ws, wst](ReplySlot& slot) {
      slot.timer.cancel();
      auto st = wst.lock();
      auto session = ws.lock();
      if (st && session && st->overflowed()) session->stream.close();
    });
  });
  auto gone = std::make_shared<bool>(false);
  asio::co_spawn(s->stream.get_executor(), watch_peer(s, wake, gone), asio::detached);

  const auto& so = stream->options();
  const auto end_at = so.max_duration.count() > 0 ? Clock::now() + so.max_duration : Clock::time_point::max();
  const std::deque<std::string> keepalive{so.keepalive_chunk};
  auto last_sent = Clock::now();
  for (;;) {
    auto taken = stream->take();
    if (taken.overflowed || *gone || stopping.load()) break;
    if (!taken.chunks.empty()) {
      if (!co_await send_chunks(*s, taken.chunks)) break;
      last_sent = Clock::now();
      continue;
    }
    if (taken.closed) break;
    const auto now = Clock::now();
    if (now >= end_at) break;
    if (now >= last_sent + so.keepalive) {
      if (!co_await send_chunks(*s, keepalive)) break;
      last_sent = now;
      continue;
    }
    wake->timer.expires_at(std::min(last_sent + so.keepalive, end_at));
    co_await wake->timer.async_wait(kUseTuple);
  }
  beast::error_code ignored;
  s->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s->stream.close();
}

// A response whose body is a Stream: its head, then its chunks until it ends.
asio::awaitable<void> Server::Impl::serve_stream(std::shared_ptr<Session> s, Response res, unsigned version,
                                                 bool head) {
  auto stream = std::move(res.body_stream);
  // Tells the stream's owner however this coroutine ends, even when its frame dies with the
  // io_context at stop().
  struct End {
    Stream* stream;
    ~End() {
      try {
        stream->ended();
      } catch (...) {  // a destructor must not throw; the owner's callback is its own business
      }
    }
  } end{stream.get()};

  if (!co_await write_stream_head(*s, res, version, head)) co_return;
  co_await pump_stream(s, stream);
}

// Waits for the first byte of the next request unless the buffer holds it already. False when
// the connection is done: the server is stopping, or the peer closed, or it was idle too long.
asio::awaitable<bool> Server::Impl::await_request(Session& s, bool first) {
  // Checked on the strand before going idle, so stop() either sees us idle or we see it.
  if (stopping.load()) co_return false;
  if (s.buffer.size() == 0) {
    s.idle = true;
    s.stream.expires_after(first ? opt.read_timeout : opt.idle_timeout);
    auto [ec, n] = co_await s.stream.async_read_some(s.buffer.prepare(8192), kUseTuple);
    s.idle = false;
    if (ec) co_return false;  // closed by the peer, idle timeout, or stop(): nothing to answer
    s.buffer.commit(n);
  }
  s.idle = false;
  co_return true;
}

// One whole request within read_timeout and the header and body limits. A request that breaks
// them is answered here; nullopt then, and on timeouts and broken connections (closed without
// an answer).
asio::awaitable<std::optional<BeastRequest>> Server::Impl::read_request(Session& s) {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  // The whole request, from its first byte, must arrive within read_timeout.
  s.stream.expires_after(opt.read_timeout);
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(opt.header_limit, UINT32_MAX)));
  parser.body_limit(static_cast<std::uint64_t>(opt.body_limit));
  auto [hec, hn] = co_await bhttp::async_read_header(s.stream, s.buffer, parser, kUseTuple);
  beast::error_code ec = hec;
  if (!ec && !parser.is_done()) {
    // curl and others wait for this before sending a body over 1 KiB.
    const auto& h = parser.get();
    if (h.version() >= 11 && iequals(h[bhttp::field::expect], "100-continue")) {
      auto [wec, wn] = co_await asio::async_write(s.stream, asio::buffer(kContinue), kUseTuple);
      if (wec) co_return std::nullopt;
    }
    auto [bec, bn] = co_await bhttp::async_read(s.stream, s.buffer, parser, kUseTuple);
    ec = bec;
  }
  if (ec) {
    if (ec == bhttp::error::body_limit) {
      co_await fail(s, 413, "Request body too large: limit is " + std::to_string(opt.body_limit) + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      co_await fail(s, 431, "Request header fields too large");
    } else if (is_http_error(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      co_await fail(s, 400, "Bad Request: " + ec.message());
    }
    co_return std::nullopt;  // timeouts and broken connections are closed without an answer
  }
  co_return parser.release();
}

// Hands the request to the router and waits on the strand for its reply. nullopt: stop() gave
// up waiting for the handler.
asio::awaitable<std::optional<Response>> Server::Impl::handle(Session& s, Request& req) {
  s.stream.expires_never();  // handlers take as long as they take; stop() bounds it
  auto slot = std::make_shared<ReplySlot>(s.stream.get_executor());
  s.slot = slot;
  {
    auto core = std::make_shared<ReplyCore>(gate, &ioc, slot);
    try {
      router->dispatch(req, [core](Response r) { core->deliver(std::move(r)); });
    } catch (...) {  // dispatch catches handler exceptions; this is for allocation failures
      core->deliver(Response::error(500, "Internal Server Error"));
    }
    core->end_dispatch();
  }
  if (!slot->response) co_await slot->timer.async_wait(kUseTuple);
  s.slot.reset();
  if (!slot->response) co_return std::nullopt;
  co_return std::move(*slot->response);
}

asio::awaitable<void> Server::Impl::run_session(std::shared_ptr<Session> s) {
  // Leaves the registry however the coroutine ends, even when its frame is destroyed by ~io_context.
  struct Leave {
    Impl* impl;
    Session* s;
    ~Leave() {
      {
        std::lock_guard lock(impl->sessions_mu);
        impl->sessions.erase(s);
      }
      impl->active.fetch_sub(1);
    }
  } leave{this, s.get()};

  for (bool first = true;; first = false) {
    if (!co_await await_request(*s, first)) co_return;
    auto msg = co_await read_request(*s);
    if (!msg) co_return;
    unsigned version = msg->version() == 10 ? 10 : 11;
    bool head = msg->method() == bhttp::verb::head;
    bool keep_alive = msg->keep_alive();
    Request req = to_request(std::move(*msg), s->remote);

    auto res = co_await handle(*s, req);
    if (!res) co_return;
    if (res->body_stream) {
      co_await serve_stream(s, std::move(*res), version, head);
      co_return;
    }
    auto out = to_beast(std::move(*res), version, head, keep_alive && !stopping.load());
    keep_alive = out.keep_alive();
    s->stream.expires_after(opt.idle_timeout);
    requests.fetch_add(1);  // before the write: the client may read the answer before we resume
    auto [wec, wn] = co_await bhttp::async_write(s->stream, out, kUseTuple);
    if (wec) co_return;
    if (!keep_alive) {
      s->stream.socket().shutdown(tcp::socket::shutdown_send, wec);
      co_return;
    }
  }
}

Server::Server(ServerOptions options, std::shared_ptr<const Router> router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() { stop(std::chrono::seconds(1)); }

Result<void> Server::start() {
  Impl& m = *impl_;
  if (m.started.load() || m.stopped.load()) return make_error(Errc::internal, "http server already started");
  if (!m.router) return make_error(Errc::invalid_argument, "http server needs a router");
  if (m.opt.port < 0 || m.opt.port > 65535) {
    return make_error(Errc::invalid_argument, "invalid port " + std::to_string(m.opt.port));
  }
  const std::string where = m.opt.host + ":" + std::to_string(m.opt.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(m.opt.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<unsigned short>(m.opt.port));
  } else {
    tcp::resolver resolver(m.ioc);
    auto results = resolver.resolve(m.opt.host, std::to_string(m.opt.port), ec);
    if (ec || results.empty()) {
      return make_error(Errc::unavailable, "cannot resolve " + m.opt.host + ": " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  auto failed = [&](std::string_view what) {
    beast::error_code ignored;
    m.acceptor.close(ignored);
    return make_error(Errc::unavailable, "cannot listen on " + where + ": " + std::string(what) + ": " + ec.message());
  };
  m.acceptor.open(endpoint.protocol(), ec);
  if (ec) return failed("open");
  m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return failed("SO_REUSEADDR");
  m.acceptor.bind(endpoint, ec);
  if (ec) return failed("bind");
  m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("listen");
  m.port = m.acceptor.local_endpoint(ec).port();

  asio::co_spawn(m.acceptor.get_executor(), m.accept_loop(), log_coroutine_exception);
  m.started = true;
  for (int i = 0; i < std::max(1, m.opt.threads); ++i) {
    m.threads.emplace_back([&m] {
      name_this_thread("http");
      for (;;) {
        try {
          m.ioc.run();
          return;
        } catch (const std::exception& e) {  // a handler escaped; keep serving the others
          log::error("http io thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  }
  return ok();
}

int Server::port() const { return impl_->port; }

void Server::stop(std::chrono::milliseconds grace) {
  Impl& m = *impl_;
  if (m.stopped.exchange(true)) return;  // a signal thread and the destructor may both call it
  if (m.started.load()) {
    m.stopping = true;
    asio::post(m.acceptor.get_executor(), [&m] {
      beast::error_code ignored;
      m.acceptor.close(ignored);
    });
    m.for_each_session([](Session& s) {
      if (s.idle || s.streaming) s.stream.close();
    });
    m.wait_for_no_connections(Clock::now() + grace);
    // Grace is over: close the rest, including sessions still waiting for a handler.
    m.for_each_session([](Session& s) {
      s.stream.close();
      if (s.slot) s.slot->timer.cancel();
    });
    m.wait_for_no_connections(Clock::now() + std::chrono::seconds(1));
    m.ioc.stop();
    for (auto& t : m.threads) {
      if (t.joinable()) t.join();
    }
  }
  std::lock_guard lock(m.gate->mu);
  m.gate->open = false;
}

Server::Stats Server::stats() const { return {impl_->requests.load(), impl_->active.load(), impl_->total.load()}; }

}  // namespace dm::http
