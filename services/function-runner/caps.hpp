#pragma once
// Every part of a result that user code controls has a size cap, so that no reply, history
// row or log line grows with what a function chooses to print, throw or return. The engine
// applies them as it collects (console output never grows past them); cap_result applies them
// again to whatever a worker sends back, so the supervisor does not trust the worker on it.
#include <cstddef>

#include "run_result.hpp"

namespace dm::function_runner {

struct ResultCaps {
  std::size_t output_bytes = 256u << 10;   // JSON of the returned message (RUNNER_MAX_OUTPUT_BYTES)
  std::size_t error_bytes = 4u << 10;      // error message
  std::size_t stack_bytes = 16u << 10;     // stack trace
  std::size_t log_bytes = 64u << 10;       // the whole logs JSON array
  std::size_t log_entries = 100;           // console calls kept per run
  std::size_t log_entry_bytes = 4u << 10;  // one console call's text
};

// The error for an output of `size` bytes over the cap (the run becomes an error).
RunResult output_too_large(std::size_t size, const ResultCaps& caps);

// Cuts error message and stack on a character boundary with a note of what was cut, turns an
// output over the cap into an error naming its size, and replaces logs over the total cap by
// a single note. A result within the caps is left untouched.
void cap_result(RunResult& r, const ResultCaps& caps);

}  // namespace dm::function_runner
