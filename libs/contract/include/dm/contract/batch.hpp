#pragma once
// One stream message carrying many: ingest's device-event batches (device_event.hpp) and the
// orchestrator's delivery-job batches (work.hpp) share this framing, so that a message costs
// one publish, one ack and one delivery per consumer for all of its entries. Each entry is a
// header line, its name (an event's tap subject, a job's id), a space and the length of its
// body in bytes, then that body and a newline: a body is kept byte for byte (an event holds the
// webhook body as received, newlines and all) and found without parsing it.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"

namespace dm::contract {

class BatchWriter {
 public:
  // A name the framing can carry: not empty, no newline (it ends the header line). An entry
  // whose name is not must go in a message of its own.
  static bool can_name(std::string_view name) { return !name.empty() && name.find('\n') == std::string_view::npos; }
  void add(std::string_view name, std::string_view body);  // `name` as can_name() allows
  std::size_t count() const { return count_; }
  std::size_t size() const { return body_.size(); }
  // What adding an entry would make size(): to stay under a payload limit.
  static std::size_t entry_size(std::string_view name, std::string_view body);
  std::string take();  // the message body; the writer starts again, empty

 private:
  std::string body_;
  std::size_t count_ = 0;
};

struct BatchEntry {
  std::string_view name;  // empty when the batch could not be read from here on
  std::string_view body;  // then: the rest of the message, to be dead-lettered as it is
};
// The entries of a batch message, as views into it. Nothing is refused here: what does not
// read as a batch from some point on is one last entry without a name, and an entry that is
// not what its stream carries is its consumer's to dead-letter, alone.
std::vector<BatchEntry> read_batch(std::string_view message);

// A batch travels compressed (LZ4) when that pays: a batch's entries are JSON documents of
// one shape, which LZ4 takes to a sixth of their size with ten of them and an eighth with a
// hundred. Each stored byte costs nats-server a copy into its block cache and its block file,
// and DM_DEVICE_EVENTS keeps a week of them: fewer bytes per event is less CPU there and
// longer history for the same disk. The message then has the header kBatchEncodingHeader: kBatchEncodingLz4,
// and its body is the framing's size (4 bytes, little-endian) and one LZ4 block.
inline constexpr const char* kBatchEncodingHeader = "Dm-Encoding";
inline constexpr const char* kBatchEncodingLz4 = "lz4";
// The message body for `framing` (BatchWriter::take()), compressed when that pays, and then
// with its encoding header added to `headers`. Small batches, and those LZ4 cannot shrink by
// a tenth, go as they are.
std::string pack_batch(std::string framing, bus::Headers& headers);
// The framing of a received batch message: `body` itself without an encoding, else inflated
// into `storage`. An encoding this build does not know, or a body that does not inflate to
// the size it says (at most kMaxBatchFraming), is a data error.
inline constexpr std::size_t kMaxBatchFraming = std::size_t{64} << 20;
Result<std::string_view> batch_framing(std::string_view body, const std::optional<std::string>& encoding,
                                       std::string& storage);

}  // namespace dm::contract
