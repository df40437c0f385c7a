#pragma once
// Plain-value NATS messages: what handlers receive and what request() returns.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dm::bus {

struct Header {
  std::string key;
  std::string value;
};
// A key may appear more than once (NATS headers are multi-valued); order is kept on send.
using Headers = std::vector<Header>;

struct Message {
  std::string subject;
  std::string reply;  // empty when the sender expects no answer
  std::string data;
  Headers headers;

  // First value of `key`; keys are case-sensitive, as in NATS since client v3.
  std::optional<std::string> header(std::string_view key) const;
};

}  // namespace dm::bus
