#include "caps.hpp"

#include <string>

#include "dm/core/text.hpp"

namespace dm::function_runner {

RunResult output_too_large(std::size_t size, const ResultCaps& caps) {
  return RunResult::failure("output is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(caps.output_bytes) + " bytes");
}

void cap_result(RunResult& r, const ResultCaps& caps) {
  if (r.output.size() > caps.output_bytes) {
    auto too_large = output_too_large(r.output.size(), caps);
    too_large.logs = std::move(r.logs);
    too_large.duration_ms = r.duration_ms;
    r = std::move(too_large);
  }
  if (r.error_message.size() > caps.error_bytes) r.error_message = truncate_utf8(r.error_message, caps.error_bytes);
  if (r.error_stack.size() > caps.stack_bytes) r.error_stack = truncate_utf8(r.error_stack, caps.stack_bytes);
  // The engine keeps logs within the cap, plus its one note entry.
  if (r.logs.size() > caps.log_bytes + 1024)
    r.logs = "[{\"level\":\"warn\",\"message\":\"(console output dropped: " + std::to_string(r.logs.size()) +
             " bytes, over the limit)\"}]";
}

}  // namespace dm::function_runner
