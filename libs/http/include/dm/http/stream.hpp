#pragma once
// A response body written over time (Server-Sent Events and the like). A handler answers with
// Response::streaming(stream) and keeps writing to the stream, from any thread, until it closes
// it or the client goes away. The server sends chunks as they come, a keep-alive chunk when
// nothing was sent for a while, and ends the response by closing the connection (the body has
// no length: it is delimited by the close, which every HTTP/1.x client understands).
//
// Memory is bounded per client: a client that reads slower than the stream is written has at
// most max_queued_bytes waiting for it; the write that would go beyond closes the stream and the
// server drops the connection at once (the client reconnects and catches up in its own way).
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace dm::http {

struct StreamOptions {
  std::size_t max_queued_bytes = 256 << 10;
  // Sent when nothing was sent for this long: proxies keep the connection, and a client that
  // vanished without closing is found by the failed write.
  std::chrono::milliseconds keepalive{15000};
  std::string keepalive_chunk = ": keep-alive\n\n";
  // The server ends the response after this long (0: never). Lets a long-lived stream be
  // re-authorised: the client reconnects with its current credentials.
  std::chrono::milliseconds max_duration{0};
};

class Stream {
 public:
  explicit Stream(StreamOptions options = {});
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Any thread. Queues `chunk`; false when the stream is closed or this chunk would take the
  // queue past max_queued_bytes (the stream is then closed as overflowed).
  bool write(std::string chunk);
  // Any thread. Ends the response once what is queued has been sent.
  void close();
  bool closed() const;
  bool overflowed() const;
  const StreamOptions& options() const { return options_; }

  // Runs once, on a server thread, when the server is done with the stream for any reason
  // (close, overflow, client gone, max_duration, server stopping). Set it before replying; it
  // does not run for a stream whose response never reached a connection (server stopped first).
  void on_end(std::function<void()> callback);

  // --- for the server ------------------------------------------------------------------------
  struct Taken {
    std::deque<std::string> chunks;
    bool closed = false;      // nothing more will come after these chunks
    bool overflowed = false;  // drop the connection without sending anything more
  };
  Taken take();
  // Called from any thread (without the stream's lock held) when take() has something new.
  void set_waker(std::function<void()> wake);
  // The server is done: later writes fail, on_end runs (on the calling thread).
  void ended();

 private:
  void wake();

  StreamOptions options_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool closed_ = false;
  bool overflowed_ = false;
  bool ended_ = false;
  std::function<void()> waker_;
  std::function<void()> on_end_;
};

}  // namespace dm::http
