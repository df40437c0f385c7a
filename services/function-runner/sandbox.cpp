#include "sandbox.hpp"

#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

namespace dm::function_runner {
namespace {

constexpr std::string_view kDefaultUser = "nobody";
constexpr uid_t kNobody = 65534;

Error failed(const char* what, int err = errno) {
  return Error(Errc::internal, std::string("cannot sandbox the worker: ") + what + ": " + std::strerror(err));
}

std::optional<unsigned> number(std::string_view text) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<WorkerUser> lookup(const std::string& name) {
  std::vector<char> buf(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  return WorkerUser{found->pw_uid, found->pw_gid};
}

// One allowed system call, optionally only for given argument values.
struct Allow {
  int syscall;
  std::vector<scmp_arg_cmp> args;  // all must hold; empty = any arguments
};

// Everything a worker does once V8 is up, found by running the engine's tests and heavy
// functions (JSON, regular expressions, big arrays, heap and time limits, V8 aborts) in workers
// under this filter. Argument checks keep what is allowed narrow where it costs nothing: I/O
// only on the job pipes and /dev/null, memory maps only anonymous, signals only to itself.
std::vector<Allow> allowed_syscalls() {
  const auto pid = static_cast<scmp_datum_t>(::getpid());
  return {
      // The job pipes (fd 0 in, fd 1 out) and stderr (/dev/null; log lines of a failing worker).
      {SCMP_SYS(read), {SCMP_A0(SCMP_CMP_EQ, 0)}},
      {SCMP_SYS(write), {SCMP_A0(SCMP_CMP_EQ, 1)}},
      {SCMP_SYS(write), {SCMP_A0(SCMP_CMP_EQ, 2)}},
      // Memory: V8's heap, code space (W^X toggling needs mprotect), malloc. No file mappings.
      {SCMP_SYS(mmap), {SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS)}},
      {SCMP_SYS(munmap), {}},
      {SCMP_SYS(mprotect), {}},
      {SCMP_SYS(mremap), {}},
      {SCMP_SYS(madvise), {}},
      {SCMP_SYS(brk), {}},
      // Threads already running (V8's platform workers, the watchdog): waiting, waking, time.
      {SCMP_SYS(futex), {}},
      {SCMP_SYS(sched_yield), {}},
      {SCMP_SYS(nanosleep), {}},
      {SCMP_SYS(clock_nanosleep), {}},
      {SCMP_SYS(clock_gettime), {}},
      {SCMP_SYS(clock_getres), {}},
      {SCMP_SYS(gettimeofday), {}},
      {SCMP_SYS(getrandom), {}},
      {SCMP_SYS(getpid), {}},
      {SCMP_SYS(gettid), {}},
      // A thread created just before the filter may run its start-up after it (glibc, V8).
      {SCMP_SYS(rseq), {}},
      {SCMP_SYS(set_robust_list), {}},
      {SCMP_SYS(prctl), {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)}},
      // Signals: masks, returning from a handler, and abort() raising SIGABRT on itself (a V8
      // fatal error), so the supervisor sees a crash.
      {SCMP_SYS(rt_sigprocmask), {}},
      {SCMP_SYS(rt_sigreturn), {}},
      {SCMP_SYS(tgkill), {SCMP_A0(SCMP_CMP_EQ, pid)}},
      {SCMP_SYS(exit), {}},
      {SCMP_SYS(exit_group), {}},
  };
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

Result<WorkerUser> resolve_worker_user(std::string_view name) {
  std::optional<WorkerUser> user;
  if (auto colon = name.find(':'); colon != std::string_view::npos) {
    auto uid = number(name.substr(0, colon)), gid = number(name.substr(colon + 1));
    if (uid && gid) user = WorkerUser{*uid, *gid};
  } else if (auto uid = number(name)) {
    user = WorkerUser{*uid, *uid};
  } else {
    user = lookup(std::string(name));
    if (!user && name == kDefaultUser) user = WorkerUser{kNobody, kNobody};
  }
  if (!user) return Error(Errc::invalid_argument, "RUNNER_WORKER_USER: no user '" + std::string(name) + "'");
  if (user->uid == 0 || user->gid == 0)
    return Error(Errc::invalid_argument, "RUNNER_WORKER_USER must not be root (uid or gid 0)");
  return *user;
}

Result<void> drop_privileges(const WorkerUser& user) {
  if (::geteuid() == 0) {
    if (user.uid == 0 || user.gid == 0) return Error(Errc::internal, "cannot sandbox the worker: no user to run as");
    // Groups first: once the uid is dropped, they could not be changed any more.
    if (::setgroups(0, nullptr) != 0) return failed("setgroups");
    if (::setresgid(user.gid, user.gid, user.gid) != 0) return failed("setresgid");
    if (::setresuid(user.uid, user.uid, user.uid) != 0) return failed("setresuid");
    // Irreversible, or the worker refuses to run anything.
    if (::setuid(0) == 0 || ::geteuid() == 0 || ::getegid() == 0 || ::getgroups(0, nullptr) != 0)
      return Error(Errc::internal, "cannot sandbox the worker: root privileges could be regained");
    // Changing credentials clears the parent-death signal: a worker must not outlive the runner.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return failed("PR_SET_PDEATHSIG");
    if (::getppid() == 1) return Error(Errc::internal, "cannot sandbox the worker: the supervisor is gone");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("PR_SET_NO_NEW_PRIVS");
  return ok();
}

Result<void> restrict_syscalls() {
  // Anything not allowed kills the whole process (SIGSYS), never just the calling thread.
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) return Error(Errc::internal, "cannot sandbox the worker: seccomp_init failed");
  // Every thread, not only this one: V8's platform threads and the watchdog already run.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc < 0) return failed("seccomp TSYNC", -rc);
  for (const auto& a : allowed_syscalls()) {
    int rc = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ALLOW, a.syscall, static_cast<unsigned>(a.args.size()),
                                    a.args.empty() ? nullptr : a.args.data());
    if (rc < 0) return failed("seccomp rule", -rc);
  }
  if (int rc = seccomp_load(ctx.get()); rc < 0) return failed("seccomp_load", -rc);
  return ok();
}

}  // namespace dm::function_runner
