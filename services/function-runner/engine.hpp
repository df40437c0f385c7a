#pragma once
// The V8 sandbox of one worker process: one isolate, one frozen context per function
// (id@version), a single watchdog thread that terminates runs past their deadline, and a
// near-heap-limit callback that stops gradual heap bombs. A single huge allocation still
// aborts V8; that is why an Engine only ever lives in a supervised worker process.
// V8 types stay in engine.cpp so the rest of the service does not compile against V8.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caps.hpp"
#include "run_result.hpp"

namespace dm::function_runner {

struct EngineLimits {
  std::size_t heap_bytes = 64u << 20;  // V8 old-generation limit of the isolate
  ResultCaps caps;                     // output, error, stack and console output sizes
  std::size_t max_functions = 256;     // contexts kept (least recently used dropped)
  bool watchdog = true;                // off only in the benchmark that prices it
};

class Engine {
 public:
  explicit Engine(EngineLimits limits = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Syntax check and entry lookup without running anything (status "success" or "error"
  // with line/column).
  RunResult compile(std::string_view code);
  // Makes `key` runnable with `code` (compiled once, cached until dropped).
  RunResult load(const std::string& key, std::string_view code);
  bool has(const std::string& key) const;
  void drop(const std::string& key);
  // Runs the loaded function `key` on JSON texts `input` and `params`.
  RunResult run(const std::string& key, std::string_view input, std::string_view params,
                std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Names a function's code may be called by, in order of preference, then every
// `function name(` declared at any level, last first (checked with typeof at run time, so
// nested declarations never match). Pure: tested without V8.
std::vector<std::string> entry_candidates(std::string_view code);

}  // namespace dm::function_runner
