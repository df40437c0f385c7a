#pragma once
// One plain TCP connection to a local server, for what an HTTP client would not send or not
// show: a hand-written request, and the bytes as they arrive (streams that never end).
#include <chrono>
#include <string>

namespace dm::testing {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port and sends `request` as it is; throws std::runtime_error if either fails.
  RawConnection(int port, const std::string& request);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Reads until `text` has arrived (true), the server closed (false) or the deadline (false).
  bool read_until(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the server closes the connection (true) or the deadline (false).
  bool read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything received so far.
  const std::string& received() const { return received_; }
  void close();

 private:
  void pump();  // one read of at most 50 ms, so the deadlines above bound every wait

  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

}  // namespace dm::testing
