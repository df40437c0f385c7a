#pragma once
// Replies larger than the server's max_payload travel in numbered parts — but only to a
// requester that said it puts them back together, so a foreign requester never sees a part.
//
//   request:   Dm-Accept-Parts: 1           (every request_async carries it)
//   reply:     Dm-Part: i, Dm-Parts: n      (1 ≤ i ≤ n, sent in order on the reply subject;
//                                            part 1 also carries the responder's headers)
//
// A reply that fits in one message is sent as before, without these headers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"

namespace dm::bus::parts {

inline constexpr const char* kAcceptHeader = "Dm-Accept-Parts";
inline constexpr const char* kPartHeader = "Dm-Part";
inline constexpr const char* kCountHeader = "Dm-Parts";

// The most a requester puts back together; a larger reply fails instead of growing memory.
inline constexpr std::size_t kMaxReassembled = std::size_t{64} << 20;

// Bytes `headers` take in a message as the server counts them against max_payload
// ("NATS/1.0\r\n", "Key: Value\r\n" each, a blank line).
std::size_t wire_size(const Headers& headers);

// Does this request take a reply in parts?
bool accepted(const Message& request);

struct PartNumber {
  std::uint32_t index = 0;  // 1-based
  std::uint32_t count = 0;
};
// Reads Dm-Part/Dm-Parts; nullopt when the message is not a part, an error when the numbers
// are not 1 ≤ index ≤ count.
std::optional<Result<PartNumber>> number_of(std::optional<std::string> index, std::optional<std::string> count);

// A reply put back together from its parts, in order.
class Assembly {
 public:
  // Adds the data of part `n`; the first part's message gives subject and headers. Fails when
  // a part is missing or repeated (parts come in order on one subscription) or when the total
  // would pass kMaxReassembled.
  Result<void> add(PartNumber n, Message&& part);
  bool complete() const { return count_ != 0 && next_ > count_; }
  // The whole reply, without the part headers.
  Message take();

 private:
  Message message_;
  std::uint32_t next_ = 1;
  std::uint32_t count_ = 0;
};

}  // namespace dm::bus::parts
