#include "dm/contract/batch.hpp"

#include <lz4.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

namespace dm::contract {
namespace {

std::size_t digits(std::size_t n) {
  std::size_t d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}

// Below this a batch (one small event, a job or two) gains too little to be worth the work.
constexpr std::size_t kCompressFrom = 512;

void put_u32(char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint32_t get_u32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

}  // namespace

std::string pack_batch(std::string framing, bus::Headers& headers) {
  if (framing.size() < kCompressFrom || framing.size() > kMaxBatchFraming) return framing;
  const int bound = LZ4_compressBound(static_cast<int>(framing.size()));
  std::string body(4 + static_cast<std::size_t>(bound), '\0');
  const int n = LZ4_compress_default(framing.data(), body.data() + 4, static_cast<int>(framing.size()), bound);
  // Not worth it unless it saves a tenth: the consumers would inflate it for little.
  if (n <= 0 || static_cast<std::size_t>(n) + 4 > framing.size() - framing.size() / 10) return framing;
  body.resize(4 + static_cast<std::size_t>(n));
  put_u32(body.data(), static_cast<std::uint32_t>(framing.size()));
  headers.push_back({kBatchEncodingHeader, kBatchEncodingLz4});
  return body;
}

Result<std::string_view> batch_framing(std::string_view body, const std::optional<std::string>& encoding,
                                       std::string& storage) {
  if (!encoding) return body;
  if (*encoding != kBatchEncodingLz4)
    return Error(Errc::invalid_argument, "unknown batch encoding '" + *encoding + "'");
  if (body.size() < 4) return Error(Errc::invalid_argument, "lz4 batch shorter than its size");
  const std::uint32_t size = get_u32(body);
  // LZ4 cannot shrink anything more than 255 times: a larger claim is not worth allocating for.
  if (size > kMaxBatchFraming || size / 255 > body.size())
    return Error(Errc::invalid_argument, "lz4 batch says it inflates to more than it can");
  storage.resize(size);
  const int n =
      LZ4_decompress_safe(body.data() + 4, storage.data(), static_cast<int>(body.size() - 4), static_cast<int>(size));
  if (n < 0 || static_cast<std::uint32_t>(n) != size)
    return Error(Errc::invalid_argument, "lz4 batch does not inflate to the size it says");
  return std::string_view(storage);
}

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
