#include "protocol.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dm::function_runner::protocol {

std::string encode_start(std::string_view refusal) {
  Writer w;
  if (!refusal.empty()) w.put(refusal);
  return std::move(w.finish());
}

Result<void> decode_start(std::string_view frame) {
  if (frame.empty()) return ok();
  Reader r(frame);
  std::string why;
  if (!r.get(why)) return Error(Errc::unavailable, "the worker sent a malformed start frame");
  return Error(Errc::unavailable, why);
}

std::string encode_jobs(const std::vector<const WireJob*>& jobs) {
  Writer w;
  w.put_u32(static_cast<std::uint32_t>(jobs.size()));
  for (const auto* j : jobs) {
    w.put(std::string_view(reinterpret_cast<const char*>(&j->kind), 1));
    w.put(j->key);
    w.put(j->code);
    w.put(j->input);
    w.put(j->params);
    w.put_u32(j->timeout_ms);
  }
  return std::move(w.finish());
}

bool decode_jobs(std::string_view frame, std::vector<WireJob>& out) {
  Reader r(frame);
  std::uint32_t n = 0;
  if (!r.get_u32(n)) return false;
  out.clear();
  out.resize(n);
  std::string kind;
  for (auto& j : out) {
    if (!r.get(kind) || kind.size() != 1) return false;
    j.kind = static_cast<JobKind>(kind[0]);
    (void)(r.get(j.key) && r.get(j.code) && r.get(j.input) && r.get(j.params) && r.get_u32(j.timeout_ms));
    if (!r.ok()) return false;
  }
  return true;
}

std::string encode_results(const std::vector<RunResult>& results) {
  Writer w;
  w.put_u32(static_cast<std::uint32_t>(results.size()));
  for (const auto& res : results) {
    w.put(res.status);
    w.put(res.output);
    w.put(res.logs);
    w.put_u32(res.has_error ? 1 : 0);
    w.put(res.error_message);
    w.put(res.error_stack);
    w.put_u32(static_cast<std::uint32_t>(res.line));
    w.put_u32(static_cast<std::uint32_t>(res.column));
    w.put_u32(static_cast<std::uint32_t>(res.duration_ms * 1000.0));  // microseconds
  }
  return std::move(w.finish());
}

bool decode_results(std::string_view frame, std::vector<RunResult>& out) {
  Reader r(frame);
  std::uint32_t n = 0;
  if (!r.get_u32(n)) return false;
  out.clear();
  out.resize(n);
  for (auto& res : out) {
    std::uint32_t has_error = 0, line = 0, column = 0, micros = 0;
    (void)(r.get(res.status) && r.get(res.output) && r.get(res.logs) && r.get_u32(has_error) &&
           r.get(res.error_message) && r.get(res.error_stack) && r.get_u32(line) && r.get_u32(column) &&
           r.get_u32(micros));
    if (!r.ok()) return false;
    res.has_error = has_error != 0;
    res.line = static_cast<int>(line);
    res.column = static_cast<int>(column);
    res.duration_ms = micros / 1000.0;
  }
  return true;
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(Errc::unavailable, std::string("pipe write: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

namespace {
Result<void> read_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) return Error(Errc::unavailable, "pipe closed");
    if (got < 0) return Error(Errc::unavailable, std::string("pipe read: ") + std::strerror(errno));
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return ok();
}
}  // namespace

Result<std::string> read_frame(int fd, std::size_t max_bytes) {
  std::uint32_t n = 0;
  DM_TRY(read_exact(fd, reinterpret_cast<char*>(&n), 4));
  if (n > max_bytes) return Error(Errc::too_large, "frame too large");
  std::string frame(n, '\0');
  DM_TRY(read_exact(fd, frame.data(), n));
  return frame;
}

}  // namespace dm::function_runner::protocol
