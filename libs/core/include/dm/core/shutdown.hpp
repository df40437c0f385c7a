#pragma once
// Graceful shutdown: SIGTERM and SIGINT are blocked in every thread and received by
// one waiter, so services stop at a well-defined point instead of inside a handler.
#include <chrono>

namespace dm {

class Shutdown {
 public:
  // Blocks SIGTERM/SIGINT/SIGHUP for this thread and every thread created after it.
  // Call first thing in main().
  static void install();
  // Waits until a signal arrives or request() is called. Returns the signal number (0 for request).
  static int wait();
  // Like wait() but gives up after `timeout`; returns -1 on timeout.
  static int wait_for(std::chrono::milliseconds timeout);
  // Asks the waiter to return (tests, fatal errors in a worker thread).
  static void request();
  static bool requested();
};

}  // namespace dm
