#pragma once
// What one execution (or compile) produced; travels from worker to supervisor to callers.
#include <string>

namespace dm::function_runner {

struct RunResult {
  // success | filtered | error | timeout: what the function did;
  // unavailable: the runner could not run it, for reasons that are not the function's (shutting
  // down, no worker could be started, workers kept dying from outside): retry later; not recorded.
  std::string status = "error";
  std::string output;       // JSON object text when status is success, else empty
  std::string logs = "[]";  // JSON array of {level, message}
  bool has_error = false;
  std::string error_message;
  std::string error_stack;  // empty = null
  int line = 0;             // syntax errors: 1-based position, 0 = unknown
  int column = 0;
  double duration_ms = 0;

  static RunResult failure(std::string message) {
    RunResult r;
    r.has_error = true;
    r.error_message = std::move(message);
    return r;
  }
  static RunResult unavailable(std::string message) {
    RunResult r = failure(std::move(message));
    r.status = "unavailable";
    return r;
  }
  bool is_unavailable() const { return status == "unavailable"; }
};

}  // namespace dm::function_runner
