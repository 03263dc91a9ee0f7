/*
 * zygote.c — a single-threaded process, forked when the node starts and
 * before it makes any thread, that forks the worker processes for it.
 *
 * Why: a threaded process must not fork (another thread may hold malloc's
 * or a library's lock at that moment; the child would inherit it locked).
 * The node starts libmicrohttpd's pool and the store's writer thread, yet
 * must replace a dead worker at any time. So every worker is forked from
 * the zygote, which never has a second thread.
 *
 * Protocol: one SOCK_SEQPACKET socketpair; the node sends a zreq and reads
 * a zrep for each, one at a time (the node serialises its calls). A spawn
 * answer carries the node's end of the new worker's socket as SCM_RIGHTS.
 * Workers are the zygote's children: it reaps them ("wait" asks for one
 * status) and, when the node closes the socket, kills and reaps them all
 * and exits. It dies with the node (PR_SET_PDEATHSIG), and the workers die
 * with it.
 *
 * The turn boards (internal.h) are mapped MAP_SHARED before the fork, so
 * the node, the zygote and every worker see the same page.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/internal.h"

enum { ZOP_SPAWN = 1, ZOP_WAIT = 2 };

typedef struct zreq {
  int op;
  int slot;  /* ZOP_SPAWN: the board slot of the worker */
  pid_t pid; /* ZOP_WAIT */
} zreq;

typedef struct zrep {
  int ok;     /* 0, or an errno */
  pid_t pid;  /* ZOP_SPAWN: the worker */
  int status; /* ZOP_WAIT: as waitpid's */
} zrep;

struct rt_zygote {
  pid_t pid;
  int fd; /* the node's end of the control socket */
  int slots;
  rt_worker_limits limits;
  struct rt_turn_board *boards; /* MAP_SHARED, slots of them */
  pthread_mutex_t lock;         /* one request at a time */
};

/* ------------------------------------------------------- zygote process */

static int send_rep(int fd, const zrep *rep, int pass_fd) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = (void *)rep, .iov_len = sizeof *rep};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_fd >= 0) {
    memset(cbuf, 0, sizeof cbuf);
    mh.msg_control = cbuf, mh.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
    if (errno != EINTR) return -1;
  return 0;
}

/* Forks a worker on board slot; answers its pid and passes its socket. */
static void zygote_spawn(rt_zygote *z, int ctl, int slot) {
  zrep rep = {0};
  int sv[2] = {-1, -1};
  pid_t pid;
  if (slot < 0 || slot >= z->slots) {
    rep.ok = EINVAL;
    send_rep(ctl, &rep, -1);
    return;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    rep.ok = errno;
    send_rep(ctl, &rep, -1);
    return;
  }
  memset(&z->boards[slot], 0, sizeof z->boards[slot]);
  if ((pid = fork()) == 0) {
    close(ctl), close(sv[0]);
    rt_worker_main(sv[1], &z->limits, &z->boards[slot]);
  }
  close(sv[1]);
  rep.ok = pid < 0 ? errno : 0;
  rep.pid = pid;
  send_rep(ctl, &rep, pid < 0 ? -1 : sv[0]);
  close(sv[0]);
}

/* The zygote's life: serve requests until the node goes, then end every
 * worker. _exit: nothing of the node's (atexit, sanitizer reports) runs. */
static void zygote_main(rt_zygote *z, int ctl, pid_t node)
    __attribute__((noreturn));
static void zygote_main(rt_zygote *z, int ctl, pid_t node) {
  struct sigaction sa = {.sa_handler = SIG_DFL};
  sigset_t none;
  sigaction(SIGCHLD, &sa, NULL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_IGN); /* the node decides when we stop */
  signal(SIGTERM, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != node) _exit(1); /* the node died before the prctl */
  for (;;) {
    zreq q;
    ssize_t n = recv(ctl, &q, sizeof q, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof q) break; /* the node is gone or broke it */
    if (q.op == ZOP_SPAWN) {
      zygote_spawn(z, ctl, q.slot);
    } else if (q.op == ZOP_WAIT) {
      zrep rep = {0};
      pid_t r;
      while ((r = waitpid(q.pid, &rep.status, 0)) < 0 && errno == EINTR)
        ;
      rep.ok = r < 0 ? errno : 0;
      rep.pid = q.pid;
      send_rep(ctl, &rep, -1);
    } else {
      break;
    }
  }
  /* every worker has PR_SET_PDEATHSIG SIGKILL: they end with us */
  _exit(0);
}

/* ----------------------------------------------------------- node side */

rt_zygote *rt_zygote_new(int slots, const rt_worker_limits *limits) {
  rt_zygote *z = calloc(1, sizeof *z);
  int sv[2];
  pid_t node = getpid();
  if (!z || slots <= 0) {
    free(z);
    return NULL;
  }
  z->slots = slots;
  if (limits) z->limits = *limits;
  rt_worker_limits_fill(&z->limits);
  pthread_mutex_init(&z->lock, NULL);
  z->boards = mmap(NULL, (size_t)slots * sizeof *z->boards,
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (z->boards == MAP_FAILED) {
    free(z);
    return NULL;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) goto Fail;
  if ((z->pid = fork()) < 0) {
    close(sv[0]), close(sv[1]);
    goto Fail;
  }
  if (z->pid == 0) {
    close(sv[0]);
    zygote_main(z, sv[1], node);
  }
  close(sv[1]);
  z->fd = sv[0];
  return z;
Fail:
  munmap(z->boards, (size_t)slots * sizeof *z->boards);
  free(z);
  return NULL;
}

void rt_zygote_free(rt_zygote *z) {
  if (!z) return;
  close(z->fd); /* the zygote ends its workers and exits */
  while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  munmap(z->boards, (size_t)z->slots * sizeof *z->boards);
  pthread_mutex_destroy(&z->lock);
  free(z);
}

/* One request and its answer; *fd gets a passed descriptor if any. */
static int zygote_call(rt_zygote *z, const zreq *q, zrep *rep, int *fd) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = rep, .iov_len = sizeof *rep};
  struct msghdr mh = {.msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = cbuf,
                      .msg_controllen = sizeof cbuf};
  ssize_t n;
  int ret = -1;
  if (fd) *fd = -1;
  pthread_mutex_lock(&z->lock);
  while ((n = send(z->fd, q, sizeof *q, MSG_NOSIGNAL)) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t)sizeof *q) goto Exit;
  while ((n = recvmsg(z->fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t)sizeof *rep) goto Exit;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    if (fd && *fd < 0)
      *fd = got;
    else
      close(got);
  }
  ret = 0;
Exit:
  pthread_mutex_unlock(&z->lock);
  return ret;
}

int rt_zygote_spawn(rt_zygote *z, int slot, pid_t *pid, int *fd) {
  zreq q = {.op = ZOP_SPAWN, .slot = slot};
  zrep rep;
  if (zygote_call(z, &q, &rep, fd) != 0) return -1;
  if (rep.ok != 0 || *fd < 0) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    errno = rep.ok ? rep.ok : EPROTO;
    return -1;
  }
  *pid = rep.pid;
  return 0;
}

int rt_zygote_wait(rt_zygote *z, pid_t pid, int *status) {
  zreq q = {.op = ZOP_WAIT, .pid = pid};
  zrep rep;
  if (zygote_call(z, &q, &rep, NULL) != 0) return -1;
  if (rep.ok != 0) {
    errno = rep.ok;
    return -1;
  }
  if (status) *status = rep.status;
  return 0;
}

struct rt_turn_board *rt_zygote_board(rt_zygote *z, int slot) {
  return slot >= 0 && slot < z->slots ? &z->boards[slot] : NULL;
}

int rt_zygote_slots(const rt_zygote *z) { return z->slots; }

pid_t rt_zygote_pid(const rt_zygote *z) { return z->pid; }
