/*
 * sandbox.c — what a worker gives up before it runs any user code:
 * every fd but its socket, its rlimits, and (last) every system call but
 * the few that glibc and mruby need to compute and to talk on that socket.
 *
 * The seccomp filter kills the process on anything else (popen, socket,
 * open... if the VM's allow-list ever leaked). open/openat fail with
 * EACCES instead, so a stray glibc lookup (locale, zoneinfo) fails cleanly;
 * tzset() runs first so localtime never needs a file.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

static int limit(int res, rlim_t v) {
  struct rlimit r = {v, v};
  return setrlimit(res, &r);
}

/* ASan reserves terabytes of address space for its shadow, so under ASan
 * (make e2e-san) RLIMIT_AS is left off; the VM's own budget still holds. */
#if defined(__SANITIZE_ADDRESS__)
#define AS_LIMIT(l) 0
#else
#define AS_LIMIT(l) limit(RLIMIT_AS, (l)->as_bytes)
#endif

static int rlimits_set(int fd, const rt_worker_limits *l) {
  if (AS_LIMIT(l) || limit(RLIMIT_CPU, l->cpu_total_s) ||
      limit(RLIMIT_NOFILE, (rlim_t)fd + 1) || limit(RLIMIT_NPROC, 0) ||
      limit(RLIMIT_FSIZE, 0) || limit(RLIMIT_CORE, 0) ||
      limit(RLIMIT_MEMLOCK, 0) || limit(RLIMIT_MSGQUEUE, 0))
    return -1;
  return 0;
}

#define ALLOW(name) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)

static int filter_load(int fd) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  int rc = 0;
  if (!ctx) return -1;
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1,
                         SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
                         SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
  rc |= ALLOW(exit) | ALLOW(exit_group) | ALLOW(brk) | ALLOW(mmap);
  rc |= ALLOW(munmap) | ALLOW(mremap) | ALLOW(madvise) | ALLOW(mprotect);
  rc |= ALLOW(clock_gettime) | ALLOW(clock_getres) | ALLOW(gettimeofday);
  rc |= ALLOW(time) | ALLOW(futex) | ALLOW(rt_sigreturn) | ALLOW(getrandom);
  rc |= ALLOW(rt_sigprocmask) | ALLOW(getpid) | ALLOW(gettid);
  rc |= ALLOW(fstat) | ALLOW(newfstatat) | ALLOW(restart_syscall);
#if defined(__SANITIZE_ADDRESS__)
  /* ASan's runtime, on a raise (longjmp) or a report, asks for the
   * stack's bounds and limits; allowed only in sanitizer builds */
  rc |= ALLOW(prlimit64) | ALLOW(getrlimit) | ALLOW(sigaltstack);
  rc |= ALLOW(sched_getaffinity) | ALLOW(close) | ALLOW(readlink);
  rc |= ALLOW(pread64) | ALLOW(lseek);
#endif
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  return rc == 0 ? 0 : -1;
}

/* Handlers inherited from the parent (a test harness, the node) must not
 * run here: a crash has to end the worker plainly, with its own signal. */
static void signals_reset(void) {
  struct sigaction sa = {.sa_handler = SIG_DFL};
  sigset_t all;
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &sa, NULL);
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
}

int rt_sandbox_enter(int fd, const rt_worker_limits *l) {
  signals_reset();
  if (fd > 0) close_range(0, (unsigned)fd - 1, 0);
  close_range((unsigned)fd + 1, ~0u, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
  if (getppid() == 1) return -1; /* the node is already gone */
  prctl(PR_SET_DUMPABLE, 0);
  tzset();
  if (rlimits_set(fd, l) != 0) return -1;
  return filter_load(fd);
}
