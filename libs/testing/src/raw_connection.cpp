#include "dm/testing/raw_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace dm::testing {

using Clock = std::chrono::steady_clock;

RawConnection::RawConnection(int port, const std::string& request) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("raw connection: no socket");
  timeval tv{0, 50000};  // 50 ms reads
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    throw std::runtime_error("raw connection: cannot connect to port " + std::to_string(port));
  }
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close();
    throw std::runtime_error("raw connection: the request was not sent whole");
  }
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (received_.find(text) == std::string::npos) {
    if (closed_ || Clock::now() > deadline) return false;
    pump();
  }
  return true;
}

bool RawConnection::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_ && Clock::now() < deadline) pump();
  return closed_;
}

void RawConnection::pump() {
  char buf[4096];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0)
    received_.append(buf, static_cast<std::size_t>(n));
  else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
    closed_ = true;
}

}  // namespace dm::testing
