#pragma once
// Supervisor ↔ worker frames over a pair of pipes: u32 length, then length-prefixed
// string fields. One request frame carries many jobs; the reply frame has one result per
// job, in order. Plain bytes, no JSON re-encoding of inputs and outputs on the way.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dm/core/result.hpp"
#include "run_result.hpp"

namespace dm::function_runner::protocol {

enum class JobKind : char { run = 'R', compile = 'C', drop = 'D' };

struct WireJob {
  JobKind kind = JobKind::run;
  std::string key;   // function id@version (run, drop)
  std::string code;  // run: set when the worker may not have the key yet; compile: the code
  std::string input;
  std::string params;
  std::uint32_t timeout_ms = 100;
};

// Status "missing" in a reply: the worker had no code for the key (the supervisor resends it).
inline constexpr std::string_view kMissing = "missing";

class Writer {
 public:
  Writer() { buf_.assign(4, '\0'); }
  void put(std::string_view s) {
    put_u32(static_cast<std::uint32_t>(s.size()));
    buf_.append(s);
  }
  void put_u32(std::uint32_t v) { buf_.append(reinterpret_cast<const char*>(&v), 4); }
  // The frame with its length filled in.
  std::string& finish() {
    auto n = static_cast<std::uint32_t>(buf_.size() - 4);
    std::memcpy(buf_.data(), &n, 4);
    return buf_;
  }

 private:
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view frame) : p_(frame) {}
  bool get(std::string& out) {
    std::uint32_t n;
    if (!get_u32(n) || p_.size() < n) return fail();
    out.assign(p_.data(), n);
    p_.remove_prefix(n);
    return true;
  }
  bool get_u32(std::uint32_t& v) {
    if (p_.size() < 4) return fail();
    std::memcpy(&v, p_.data(), 4);
    p_.remove_prefix(4);
    return true;
  }
  bool ok() const { return ok_; }

 private:
  bool fail() { return ok_ = false; }
  std::string_view p_;
  bool ok_ = true;
};

// The worker's first frame: empty once it is ready to run jobs, else the reason it refuses to
// (it could not sandbox itself) in one field; it exits after a refusal.
std::string encode_start(std::string_view refusal = {});
// ok for a ready worker; unavailable with the worker's reason for a refusal.
Result<void> decode_start(std::string_view frame);

std::string encode_jobs(const std::vector<const WireJob*>& jobs);
bool decode_jobs(std::string_view frame, std::vector<WireJob>& out);
std::string encode_results(const std::vector<RunResult>& results);
bool decode_results(std::string_view frame, std::vector<RunResult>& out);

// Whole-frame I/O on a file descriptor (retries short reads/writes and EINTR).
// read_frame fails with unavailable on EOF (the other side is gone).
Result<std::string> read_frame(int fd, std::size_t max_bytes);
Result<void> write_all(int fd, std::string_view data);

}  // namespace dm::function_runner::protocol
