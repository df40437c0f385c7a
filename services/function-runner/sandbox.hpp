#pragma once
// What a V8 worker process may do. User JavaScript cannot reach any of this (it sees no host
// object, file, socket or process API); these are the walls behind that one, for the day V8
// itself has a hole. The supervisor starts a worker with an empty environment and only its job
// pipes, /dev/null as stderr and the shared page (worker_process.cpp); the worker then:
//
//   1. drop_privileges(), first thing: when started as root, to an unprivileged user
//      (supplementary groups cleared, then gid, then uid, checked to be irreversible), and
//      PR_SET_NO_NEW_PRIVS in any case;
//   2. restrict_syscalls(), once V8 is initialised and before the first job: a seccomp filter
//      on every thread that allows only what running JavaScript needs (kSandboxSyscalls) and
//      kills the process on anything else, so a violation is a worker crash like a V8 abort and
//      goes through the pool's proven-crash logic.
//
// Namespaces are not used: creating them takes CAP_SYS_ADMIN or unprivileged user namespaces,
// which container runtimes' default seccomp profiles refuse; the filter already denies every
// system call a namespace would fence in (socket, open, exec, kill of others, ...).
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"

namespace dm::function_runner {

struct WorkerUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user a worker started by root runs as: `name` is a user name (its uid and primary gid),
// "uid" (gid = uid) or "uid:gid". The
// default "nobody" falls back to 65534:65534 where no such user exists; any other unknown name,
// and uid or gid 0, is invalid_argument.
Result<WorkerUser> resolve_worker_user(std::string_view name);

// Step 1 (in the worker, before anything else): with root's effective uid, switch to `user`;
// then no new privileges. Errors name the call that failed; the worker then refuses to start.
Result<void> drop_privileges(const WorkerUser& user);

// Step 2: installs the filter on every thread of the process (SECCOMP_FILTER_FLAG_TSYNC).
Result<void> restrict_syscalls();

}  // namespace dm::function_runner
