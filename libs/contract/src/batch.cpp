#include "dm/contract/batch.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace dm::contract {
namespace {

std::size_t digits(std::size_t n) {
  std::size_t d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}

}  // namespace

std::size_t BatchWriter::entry_size(std::string_view name, std::string_view body) {
  return name.size() + 1 + digits(body.size()) + 1 + body.size() + 1;
}

void BatchWriter::add(std::string_view name, std::string_view body) {
  const auto length = std::to_string(body.size());
  body_.reserve(body_.size() + entry_size(name, body));
  body_.append(name).append(1, ' ').append(length).append(1, '\n').append(body).append(1, '\n');
  ++count_;
}

std::string BatchWriter::take() {
  count_ = 0;
  return std::exchange(body_, std::string());
}

std::vector<BatchEntry> read_batch(std::string_view message) {
  std::vector<BatchEntry> out;
  while (!message.empty()) {
    // "<name> <length>\n<body>\n"
    auto eol = message.find('\n');
    auto header = message.substr(0, eol);
    auto space = header.rfind(' ');
    std::size_t length = 0;
    bool ok = eol != std::string_view::npos && space != std::string_view::npos && space > 0;
    if (ok) {
      auto number = header.substr(space + 1);
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), length);
      ok = ec == std::errc() && end == number.data() + number.size() && !number.empty();
    }
    const auto rest = ok ? message.size() - eol - 1 : 0;
    ok = ok && rest >= length && (rest == length || message[eol + 1 + length] == '\n');
    if (!ok) {
      out.push_back({{}, message});
      break;
    }
    out.push_back({header.substr(0, space), message.substr(eol + 1, length)});
    message.remove_prefix(std::min(message.size(), eol + 1 + length + 1));
  }
  return out;
}

}  // namespace dm::contract
