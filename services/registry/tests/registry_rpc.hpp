#pragma once
// One GET to the registry over NATS, as another service makes it: the internal routes are not
// reachable through the gateway, so the test speaks the NATS text protocol itself, publishing
// on dm.rpc.registry.<caller> (the contract decides what that caller may read).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "dm/json/json.hpp"
#include "dm/testing/stack.hpp"

namespace dm::test {

struct NatsReply {
  int status = 0;
  json::Document json;
};

namespace detail {

inline std::string read_line(int fd, std::string& buffer) {
  for (;;) {
    if (auto end = buffer.find("\r\n"); end != std::string::npos) {
      std::string line = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      return line;
    }
    char chunk[65536];
    auto n = ::recv(fd, chunk, sizeof chunk, 0);
    REQUIRE(n > 0);
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

inline void send_all(int fd, const std::string& data) {
  REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
}

inline int connect_nats(testing::Stack& stack) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(stack.nats().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// The reply after an `HMSG <subject> <sid> <header bytes> <total bytes>` line.
inline NatsReply read_reply(int fd, std::string& buffer, const std::string& line) {
  const auto last = line.rfind(' ');
  const auto before = line.rfind(' ', last - 1);
  const auto total_bytes = std::stoul(line.substr(last + 1));
  const auto header_bytes = std::stoul(line.substr(before + 1, last - before - 1));
  while (buffer.size() < total_bytes + 2) {
    char chunk[65536];
    auto n = ::recv(fd, chunk, sizeof chunk, 0);
    REQUIRE(n > 0);
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  const std::string head = buffer.substr(0, header_bytes);
  auto at = head.find("Dm-Status: ");
  REQUIRE(at != std::string::npos);
  NatsReply out;
  out.status = std::stoi(head.substr(at + 11, 3));
  auto doc = json::parse(buffer.substr(header_bytes, total_bytes - header_bytes), {.max_bytes = 64 << 20});
  if (doc) out.json = std::move(doc).value();
  return out;
}

}  // namespace detail

// `method` `target` on the registry as `caller` (e.g. "integration-dispatcher", "ingest"), with
// `body` as the request's JSON body.
inline NatsReply registry_rpc(const std::string& target, const std::string& caller, testing::Stack& stack,
                              const std::string& method = "GET", const std::string& body = "") {
  int fd = detail::connect_nats(stack);
  std::string buffer;
  REQUIRE(detail::read_line(fd, buffer).starts_with("INFO "));
  const std::string headers = "NATS/1.0\r\nDm-Method: " + method + "\r\nDm-Target: " + target +
                              (body.empty() ? "" : "\r\nContent-Type: application/json") + "\r\n\r\n";
  detail::send_all(fd,
                   "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n"
                   "SUB _INBOX.registry-test 1\r\n"
                   "HPUB dm.rpc.registry." +
                       caller + " _INBOX.registry-test " + std::to_string(headers.size()) + " " +
                       std::to_string(headers.size() + body.size()) + "\r\n" + headers + body + "\r\n");
  for (;;) {
    std::string line = detail::read_line(fd, buffer);
    if (line == "PING") {
      detail::send_all(fd, "PONG\r\n");
      continue;
    }
    REQUIRE_FALSE(line.starts_with("-ERR"));
    if (!line.starts_with("HMSG ")) continue;
    NatsReply out = detail::read_reply(fd, buffer, line);
    ::close(fd);
    return out;
  }
}

}  // namespace dm::test
