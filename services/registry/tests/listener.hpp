#pragma once
// A TCP listener on 127.0.0.1 for security tests: it counts the connections made to it and
// keeps what they sent, so a test can prove that a secret went where it should and that nothing
// at all reached an attacker's address. Each connection gets one answer, "HTTP/1.1 204", read
// as a delivery by an HTTP sender (and as garbage by anything else).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace dm::test {

class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("listener: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::string received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;  // short, so the destructor never waits long
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      serve(c);
      ::close(c);
    }
  }

  // Reads one request (headers, then Content-Length bytes; at most 2 s of silence), answers 204.
  void serve(int c) {
    timeval timeout{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string data;
    for (;;) {
      char chunk[4096];
      auto n = ::recv(c, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      data.append(chunk, static_cast<std::size_t>(n));
      if (complete(data)) break;
    }
    {
      std::lock_guard lock(mutex_);
      received_ += data;
    }
    const char* answer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    (void)::send(c, answer, std::char_traits<char>::length(answer), MSG_NOSIGNAL);
  }

  static bool complete(const std::string& data) {
    auto end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = data.substr(0, end);
    for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto at = head.find("content-length:");
    std::size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 15));
    return data.size() >= end + 4 + length;
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::string received_;
  std::thread thread_;
};

}  // namespace dm::test
