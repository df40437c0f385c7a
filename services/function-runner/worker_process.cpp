#include "worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>
#include <vector>

#include "dm/core/text.hpp"
#include "protocol.hpp"
#include "worker.hpp"

namespace dm::function_runner {
namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kMaxStartFrame = 64 << 10;  // a refusal's reason

// The pipes and the page of a worker about to be forked; closes what it still owns.
struct Plumbing {
  int in[2] = {-1, -1};   // supervisor → worker
  int out[2] = {-1, -1};  // worker → supervisor
  int shm = -1;
  void* page = MAP_FAILED;
  ~Plumbing() {
    for (int fd : {in[0], in[1], out[0], out[1], shm})
      if (fd >= 0) ::close(fd);
    if (page != MAP_FAILED) ::munmap(page, kPage);
  }
  void close_child_ends() {
    for (int* fd : {&in[0], &out[1], &shm}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
  Result<void> open() {
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return Error(Errc::internal, "pipe failed");
    shm = ::memfd_create("dm-runner-slot", MFD_CLOEXEC);
    if (shm < 0 || ::ftruncate(shm, kPage) != 0) return Error(Errc::internal, "memfd failed");
    page = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    if (page == MAP_FAILED) return Error(Errc::internal, "mmap failed");
    return ok();
  }
};

// In the child: descriptors 0..3 become exactly `fds` (job pipe in, job pipe out, stderr, the
// shared page) and every other one is closed, whatever numbers the parent had given them.
// Each is first lifted above 3, so that no dup2 below overwrites a source still to be moved
// (dup2 also clears close-on-exec, which a same-number dup2 would not).
bool only_these_fds(const int (&fds)[4]) {
  int lifted[4];
  for (int i = 0; i < 4; ++i)
    if ((lifted[i] = ::fcntl(fds[i], F_DUPFD, 4)) < 0) return false;
  for (int i = 0; i < 4; ++i)
    if (::dup2(lifted[i], i) != i) return false;
  return ::close_range(4, ~0U, 0) == 0;
}

// In the child, async-signal-safe calls only until exec. The worker gets nothing it does not
// need: no environment (the runner's holds its NATS password), no descriptor but its own, no
// blocked signals, no core dumps.
[[noreturn]] void exec_worker(const Plumbing& p, const char* const* argv, std::size_t memory_mb) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int devnull = ::open("/dev/null", O_WRONLY);
  if (devnull < 0 || !only_these_fds({p.in[0], p.out[1], devnull, p.shm})) ::_exit(126);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  rlimit data{static_cast<rlim_t>(memory_mb) << 20, static_cast<rlim_t>(memory_mb) << 20};
  rlimit core{0, 0};
  if (memory_mb) ::setrlimit(RLIMIT_DATA, &data);
  ::setrlimit(RLIMIT_CORE, &core);
  static char* const kNoEnvironment[] = {nullptr};
  ::execve(argv[0], const_cast<char* const*>(argv), kNoEnvironment);
  ::_exit(127);
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (!WIFSIGNALED(status)) return "status " + std::to_string(status);
  const int sig = WTERMSIG(status);
  const char* name = sigabbrev_np(sig);
  std::string text = "killed by " + (name ? "SIG" + std::string(name) : "signal " + std::to_string(sig));
  if (sig == SIGSYS) text += " (a system call the sandbox does not allow)";
  return text;
}

}  // namespace

const char* ending_name(Ending e) {
  switch (e) {
    case Ending::crashed:
      return "crashed";
    case Ending::hung:
      return "hung";
    case Ending::killed:
      return "killed from outside";
  }
  return "?";
}

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::start(const WorkerSpec& spec) {
  Plumbing p;
  DM_TRY(p.open());
  std::string heap = std::to_string(spec.heap_mb);
  std::string output = std::to_string(spec.max_output_bytes);
  std::vector<const char*> argv = {spec.binary.c_str(), kWorkerFlag, heap.c_str(), output.c_str()};
  std::string uid, gid;
  if (spec.user) {
    uid = std::to_string(spec.user->uid);
    gid = std::to_string(spec.user->gid);
    argv.insert(argv.end(), {uid.c_str(), gid.c_str()});
  }
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Error(Errc::internal, "fork failed");
  if (pid == 0) exec_worker(p, argv.data(), spec.memory_mb);
  // The child's ends: once only the child holds them, its exit (a failed exec, a refusal)
  // is an end of file at once, not a wait for start_timeout.
  p.close_child_ends();
  std::unique_ptr<WorkerProcess> w(new WorkerProcess());
  w->pid_ = pid;
  std::swap(w->to_fd_, p.in[1]);
  std::swap(w->from_fd_, p.out[0]);
  w->page_ = static_cast<std::atomic<std::uint32_t>*>(p.page);
  p.page = MAP_FAILED;
  auto ready = w->receive(Clock::now() + spec.start_timeout, kMaxStartFrame);
  if (ready) {
    auto started = protocol::decode_start(*ready);
    if (started) return w;
    (void)w->end(false);
    return Error(Errc::unavailable, "worker refused to start: " + printable(started.error().message, 1024));
  }
  auto how = w->end(ready.error().code == Errc::timeout);
  return Error(Errc::unavailable, std::string("worker did not start (") + ending_name(how) + ", " + w->exit_text() +
                                      "): " + ready.error().message);
}

WorkerProcess::~WorkerProcess() {
  if (!reaped_) (void)end(true);
  if (to_fd_ >= 0) ::close(to_fd_);
  if (from_fd_ >= 0) ::close(from_fd_);
  if (page_) ::munmap(page_, kPage);
}

Result<void> WorkerProcess::send(std::string_view frame) { return protocol::write_all(to_fd_, frame); }

Result<std::string> WorkerProcess::receive(Clock::time_point deadline, std::size_t max_bytes) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Error(Errc::timeout, "worker did not answer in time");
    pollfd p{from_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) return protocol::read_frame(from_fd_, max_bytes);
  }
}

std::uint32_t WorkerProcess::running() const { return page_ ? page_->load(std::memory_order_acquire) : 0; }

Ending WorkerProcess::end(bool gave_up) {
  if (reaped_ || pid_ <= 0) return Ending::crashed;
  reaped_ = true;
  int status = 0;
  pid_t gone = 0;
  // A worker whose pipe closed is exiting: give it a moment to become reapable.
  for (int i = 0; !gave_up && i < 100 && (gone = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (gone == pid_) {
    exit_text_ = describe(status);
    const bool outside = WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM);
    return outside ? Ending::killed : Ending::crashed;
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  exit_text_ = "killed by the runner";
  return gave_up ? Ending::hung : Ending::crashed;  // still there but broken (a bad frame): its own doing
}

}  // namespace dm::function_runner
