#include "dm/core/shutdown.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <ctime>

namespace dm {
namespace {
std::atomic<bool> g_requested{false};

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // used by request() to wake the waiter
  return set;
}
}  // namespace

void Shutdown::install() {
  sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

int Shutdown::wait() {
  sigset_t set = handled_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  g_requested = true;
  return sig == SIGUSR1 ? 0 : sig;
}

int Shutdown::wait_for(std::chrono::milliseconds timeout) {
  sigset_t set = handled_signals();
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>((timeout.count() % 1000) * 1'000'000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig < 0) return -1;
  g_requested = true;
  return sig == SIGUSR1 ? 0 : sig;
}

void Shutdown::request() {
  g_requested = true;
  kill(getpid(), SIGUSR1);
}

bool Shutdown::requested() { return g_requested.load(); }

}  // namespace dm
