#include "parts.hpp"

#include <algorithm>
#include <charconv>

namespace dm::bus::parts {
namespace {

std::optional<std::uint32_t> number(const std::string& text) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

bool is_part_header(const Header& h) { return h.key == kPartHeader || h.key == kCountHeader; }

}  // namespace

std::size_t wire_size(const Headers& headers) {
  std::size_t n = 10 + 2;  // "NATS/1.0\r\n" and the closing "\r\n"
  for (const auto& h : headers) n += h.key.size() + 2 + h.value.size() + 2;
  return n;
}

bool accepted(const Message& request) { return request.header(kAcceptHeader) == "1"; }

std::optional<Result<PartNumber>> number_of(std::optional<std::string> index, std::optional<std::string> count) {
  if (!index && !count) return std::nullopt;
  PartNumber part;
  auto i = index ? number(*index) : std::nullopt;
  auto n = count ? number(*count) : std::nullopt;
  if (i && n) part = {*i, *n};
  if (part.index < 1 || part.index > part.count)
    return Result<PartNumber>(Error(Errc::invalid_argument, "nats: reply part with bad Dm-Part/Dm-Parts headers"));
  return Result<PartNumber>(part);
}

Result<void> Assembly::add(PartNumber n, Message&& part) {
  if (n.index != next_ || (count_ != 0 && n.count != count_))
    return Error(Errc::internal, "nats: reply part " + std::to_string(n.index) + " of " + std::to_string(n.count) +
                                     " came when part " + std::to_string(next_) + " was due");
  if (message_.data.size() + part.data.size() > kMaxReassembled)
    return Error(Errc::too_large, "nats: reply in parts is over " + std::to_string(kMaxReassembled >> 20) + " MiB");
  if (n.index == 1) {
    count_ = n.count;
    message_ = std::move(part);
    // Parts are at most one max_payload each: reserve for all of them, within the bound.
    message_.data.reserve(std::min(kMaxReassembled, message_.data.size() * count_));
  } else {
    message_.data.append(part.data);
  }
  ++next_;
  return ok();
}

Message Assembly::take() {
  std::erase_if(message_.headers, is_part_header);
  return std::move(message_);
}

}  // namespace dm::bus::parts
