// The asynchronous client: the shared exchange (exchange.hpp) on one I/O thread, with idle
// keep-alive connections pooled per key. A connection is taken out of its pool for one
// exchange and put back when the server keeps it open, so no two exchanges share one.
#include "dm/http/async_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "dm/core/thread_pool.hpp"
#include "exchange.hpp"

namespace dm::http {

namespace asio = boost::asio;

struct AsyncClient::Impl {
  explicit Impl(std::size_t idle_limit) : max_idle(idle_limit) {}

  struct Pool {
    std::string options_key;
    std::shared_ptr<detail::Origin> origin;
    std::vector<std::unique_ptr<detail::Connection>> idle;
  };

  // One I/O thread: a Beast stream with its timer must not run handlers on two threads.
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
  std::mutex mutex;
  std::map<std::string, Pool> pools;
  std::size_t closed_opened = 0;  // connections opened by connections since dropped
  std::size_t max_idle;           // per pool

  // The pool's origin for this request (a new one when the destination or its options
  // changed: old connections are dropped) and an idle connection, if any.
  Result<std::pair<std::shared_ptr<detail::Origin>, std::unique_ptr<detail::Connection>>> take(
      const std::string& pool_key, const std::string& options_key, const Url& url, const ClientOptions& options) {
    std::lock_guard lock(mutex);
    auto& pool = pools[pool_key];
    if (!pool.origin || pool.options_key != options_key || pool.origin->url.scheme != url.scheme ||
        pool.origin->url.host != url.host || pool.origin->url.port != url.port) {
      for (auto& c : pool.idle) closed_opened += c->opened;
      pool.idle.clear();
      pool.origin.reset();
      auto origin = detail::Origin::make(url, options);
      if (!origin) return origin.take_error();
      pool.origin = std::move(origin).value();
      pool.options_key = options_key;
    }
    std::unique_ptr<detail::Connection> c;
    if (!pool.idle.empty()) {
      c = std::move(pool.idle.back());
      pool.idle.pop_back();
    } else {
      c = std::make_unique<detail::Connection>(ioc.get_executor());
    }
    return std::make_pair(pool.origin, std::move(c));
  }

  void give_back(const std::string& pool_key, const std::shared_ptr<detail::Origin>& origin,
                 std::unique_ptr<detail::Connection> c) {
    std::lock_guard lock(mutex);
    auto it = pools.find(pool_key);
    if (!c->connected() || it == pools.end() || it->second.origin != origin || it->second.idle.size() >= max_idle) {
      closed_opened += c->opened;
      return;  // closed, or its pool moved on: the connection goes
    }
    it->second.idle.push_back(std::move(c));
  }
};

AsyncClient::AsyncClient(std::size_t max_idle_per_pool) : impl_(std::make_unique<Impl>(max_idle_per_pool)) {
  impl_->thread = std::thread([this] {
    name_this_thread("http-client");
    impl_->ioc.run();
  });
}

AsyncClient::~AsyncClient() {
  impl_->work.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Coroutines still suspended own their connections; destroying the context frees them.
}

void AsyncClient::request(const std::string& pool_key, const std::string& options_key, const ClientOptions& options,
                          std::string_view method, std::string_view url, const std::string& body,
                          const Headers& headers, Done done) {
  auto parsed = parse_url(url);
  if (!parsed) return done(parsed.take_error());
  auto taken = impl_->take(pool_key, options_key, *parsed, options);
  if (!taken) return done(taken.take_error());
  auto [origin, connection] = std::move(taken).value();
  auto req = detail::build_request(*origin, method, parsed->target, body, headers);
  if (!req) {
    impl_->give_back(pool_key, origin, std::move(connection));
    return done(req.take_error());
  }
  auto* impl = impl_.get();
  asio::co_spawn(
      impl->ioc,
      // origin = origin: a structured binding is captured by an init-capture (clang).
      [impl, pool_key, origin = origin, c = std::move(connection), r = std::move(req).value(),
       done = std::move(done)]() mutable -> asio::awaitable<void> {
        auto result = co_await detail::send(*c, *origin, r);
        impl->give_back(pool_key, origin, std::move(c));
        done(std::move(result));
      },
      asio::detached);
}

std::size_t AsyncClient::connections_opened() const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = impl_->closed_opened;
  for (const auto& [key, pool] : impl_->pools) {
    for (const auto& c : pool.idle) n += c->opened;
  }
  return n;
}

}  // namespace dm::http
