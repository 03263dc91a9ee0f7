/*
 * nucleus.c — the node's side of the workers: starts them, routes fibrils
 * and answers to them, turns their frames into events, and enforces what a
 * worker cannot enforce on itself.
 *
 * A runaway turn (`loop {}`) never yields, so the worker cannot stop it.
 * Each worker publishes the CPU deadline of its running turn on the turn
 * board (internal.h); poll compares it with the worker's CPU clock (read
 * through clock_getcpuclockid) and SIGKILLs the worker past deadline +
 * grace. A dead worker, for whatever reason, is reaped and replaced, and
 * each fibril it held is reported (the runaway one killed, the others
 * failed with class "WorkerDied"): their state died with the process.
 *
 * Workers are forked by a zygote (zygote.c) when opts.zygote is set, as a
 * threaded node must; else from the process that calls rt_nucleus_new
 * and, on a restart, rt_nucleus_poll, which must then be single-threaded
 * (tests).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

typedef struct nworker {
  pid_t pid;
  int fd;
  struct rt_turn_board *board;
  char (*ids)[RT_ID_MAX]; /* fibrils sent and not finished */
  size_t nids, cap;
  char (*sess)[RT_ID_MAX]; /* sessions (own VMs) this worker holds */
  size_t nsess, scap;
  char *out; /* frames not yet taken by the worker's socket */
  size_t outlen, outoff;
} nworker;

static void out_drop(nworker *w);

struct rt_nucleus {
  rt_nucleus_opts opts;
  rt_event_fn on;
  void *host;
  struct rt_turn_board *boards; /* MAP_SHARED, one per worker */
  nworker *w;
  int wake_fd;   /* -1, or polled too: readable ends a poll early */
  json_t *where; /* fibril id -> its worker and place (see id_add) */
};

/* Reaps worker pid (ours, or the zygote's child); its status in *status. */
static void worker_reap(rt_nucleus *n, pid_t pid, int *status) {
  *status = 0;
  if (n->opts.zygote)
    rt_zygote_wait(n->opts.zygote, pid, status);
  else
    waitpid(pid, status, 0);
}

/* Forks worker i here, or asks the zygote for it. */
static int worker_fork(rt_nucleus *n, int i) {
  nworker *w = &n->w[i];
  int sv[2];
  if (n->opts.zygote)
    return rt_zygote_spawn(n->opts.zygote, i, &w->pid, &w->fd);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  memset(w->board, 0, sizeof *w->board);
  w->pid = fork();
  if (w->pid < 0) {
    close(sv[0]), close(sv[1]);
    return -1;
  }
  if (w->pid == 0) {
    close(sv[0]);
    rt_worker_main(sv[1], &n->opts.limits, w->board);
  }
  close(sv[1]);
  w->fd = sv[0];
  return 0;
}

static int worker_start(rt_nucleus *n, int i) {
  nworker *w = &n->w[i];
  json_t *hello = NULL;
  int status;
  if (worker_fork(n, i) != 0) {
    w->fd = -1, w->pid = -1;
    return -1;
  }
  /* the hello frame says the sandbox is up */
  if (rt_frame_read(w->fd, &hello) != 0 ||
      strcmp(json_string_value(json_object_get(hello, "t")), "hello") != 0) {
    json_decref(hello);
    kill(w->pid, SIGKILL);
    worker_reap(n, w->pid, &status);
    close(w->fd);
    w->fd = -1, w->pid = -1;
    return -1;
  }
  json_decref(hello);
  return 0;
}

rt_nucleus *rt_nucleus_new(const rt_nucleus_opts *opts, rt_event_fn on,
                           void *host) {
  rt_nucleus *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  if (opts) n->opts = *opts;
  if (n->opts.zygote) n->opts.workers = rt_zygote_slots(n->opts.zygote);
  if (n->opts.workers <= 0) n->opts.workers = 2;
  if (!n->opts.grace_ms) n->opts.grace_ms = 50;
  rt_worker_limits_fill(&n->opts.limits);
  n->on = on, n->host = host;
  n->wake_fd = -1;
  n->where = json_object();
  n->w = calloc((size_t)n->opts.workers, sizeof *n->w);
  n->boards =
      n->opts.zygote
          ? rt_zygote_board(n->opts.zygote, 0)
          : mmap(NULL, (size_t)n->opts.workers * sizeof *n->boards,
                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!n->w || n->boards == MAP_FAILED) {
    if (n->boards == MAP_FAILED) n->boards = NULL;
    rt_nucleus_free(n);
    return NULL;
  }
  for (int i = 0; i < n->opts.workers; i++) {
    n->w[i].fd = -1, n->w[i].pid = -1, n->w[i].board = &n->boards[i];
    if (worker_start(n, i) != 0) {
      fprintf(stderr, "m31: worker %d does not start: %s\n", i,
              strerror(errno));
      rt_nucleus_free(n);
      return NULL;
    }
  }
  return n;
}

static void worker_stop(rt_nucleus *n, nworker *w) {
  int status;
  if (w->fd >= 0) close(w->fd); /* end of stream: the worker exits 0 */
  if (w->pid > 0 && n->opts.zygote) {
    kill(w->pid, SIGKILL);
    worker_reap(n, w->pid, &status);
  } else if (w->pid > 0) {
    for (int i = 0; i < 100 && waitpid(w->pid, NULL, WNOHANG) == 0; i++)
      usleep(1000);
    if (kill(w->pid, SIGKILL) == 0) waitpid(w->pid, NULL, 0);
  }
  w->fd = -1, w->pid = -1;
}

void rt_nucleus_free(rt_nucleus *n) {
  if (!n) return;
  for (int i = 0; n->w && i < n->opts.workers; i++) {
    worker_stop(n, &n->w[i]);
    out_drop(&n->w[i]);
    free(n->w[i].ids);
    free(n->w[i].sess);
  }
  json_decref(n->where);
  free(n->w);
  if (n->boards && !n->opts.zygote)
    munmap(n->boards, (size_t)n->opts.workers * sizeof *n->boards);
  free(n);
}

/* ------------------------------------------------------------ fibril ids */

/* Appends name to the list *v (of *n names, room for *cap). */
static int name_add(char (**v)[RT_ID_MAX], size_t *n, size_t *cap,
                    const char *name) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 64;
    void *p = realloc(*v, c * sizeof **v);
    if (!p) return -1;
    *v = p, *cap = c;
  }
  snprintf((*v)[(*n)++], RT_ID_MAX, "%s", name);
  return 0;
}

/* Ids in flight are in their worker's array (for a worker's death) and in
 * n->where, id -> worker << 32 | position, so that finding one is O(1)
 * with tens of thousands queued. */
static int id_add(rt_nucleus *n, nworker *w, const char *id) {
  json_int_t at = (json_int_t)(w - n->w) << 32 | (json_int_t)w->nids;
  if (name_add(&w->ids, &w->nids, &w->cap, id) != 0) return -1;
  return json_object_set_new(n->where, id, json_integer(at));
}

/* The position of id in w's array, or -1. */
static ssize_t id_find(rt_nucleus *n, const nworker *w, const char *id) {
  json_t *v = json_object_get(n->where, id);
  json_int_t at = v ? json_integer_value(v) : -1;
  if (!v || (at >> 32) != (json_int_t)(w - n->w)) return -1;
  return (ssize_t)(at & 0xffffffff);
}

static void id_remove(rt_nucleus *n, nworker *w, size_t i) {
  json_object_del(n->where, w->ids[i]);
  if (i != --w->nids) {
    memcpy(w->ids[i], w->ids[w->nids], RT_ID_MAX);
    json_object_set_new(
        n->where, w->ids[i],
        json_integer((json_int_t)(w - n->w) << 32 | (json_int_t)i));
  }
}

/* The worker holding fibril id, or NULL. */
static nworker *owner(rt_nucleus *n, const char *id) {
  json_t *v = json_object_get(n->where, id);
  return v ? &n->w[json_integer_value(v) >> 32] : NULL;
}

/* The worker holding session name, or NULL. */
static nworker *session_owner(rt_nucleus *n, const char *name) {
  for (int i = 0; i < n->opts.workers; i++)
    for (size_t k = 0; k < n->w[i].nsess; k++)
      if (strcmp(n->w[i].sess[k], name) == 0) return &n->w[i];
  return NULL;
}

size_t rt_nucleus_inflight(const rt_nucleus *n) {
  size_t c = 0;
  for (int i = 0; i < n->opts.workers; i++)
    c += n->w[i].nids;
  return c;
}

pid_t rt_nucleus_worker_pid(const rt_nucleus *n, int i) {
  return i >= 0 && i < n->opts.workers ? n->w[i].pid : -1;
}

/* ----------------------------------------------------------- node -> worker */

/* Writes what the outbox holds until the socket takes no more. 0, or -1
 * when the worker's end is broken. */
static int out_flush(nworker *w) {
  while (w->outoff < w->outlen) {
    ssize_t r = send(w->fd, w->out + w->outoff, w->outlen - w->outoff,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) return -1;
    w->outoff += (size_t)r;
  }
  w->outoff = w->outlen = 0;
  return 0;
}

static void out_drop(nworker *w) {
  free(w->out);
  w->out = NULL;
  w->outlen = w->outoff = 0;
}

/*
 * Queues msg (taken) for worker w and writes what the socket takes now.
 * Never blocks: a worker in a long turn reads nothing, and may itself be
 * writing a large frame that only this thread reads; a blocking write
 * here would wait for it for ever. The rest goes out as poll sees room.
 */
static int send_frame(nworker *w, json_t *msg) {
  size_t n;
  char *buf = msg && w->fd >= 0 ? rt_frame_encode(msg, &n) : NULL;
  json_decref(msg);
  if (!buf) return -1;
  if (w->outoff > 0 && w->outoff == w->outlen) w->outoff = w->outlen = 0;
  char *p = realloc(w->out, w->outlen + n);
  if (!p) {
    free(buf);
    return -1;
  }
  memcpy(p + w->outlen, buf, n);
  w->out = p, w->outlen += n;
  free(buf);
  return out_flush(w);
}

/* The live worker holding the fewest fibrils, or NULL. */
static nworker *least_loaded(rt_nucleus *n) {
  nworker *best = NULL;
  for (int i = 0; i < n->opts.workers; i++)
    if (n->w[i].fd >= 0 && (!best || n->w[i].nids < best->nids))
      best = &n->w[i];
  return best;
}

int rt_nucleus_run(rt_nucleus *n, const char *id, const char *src,
                   const char *path, const char *fn, json_t *args,
                   uint64_t cpu_ms, uint64_t mem_bytes) {
  return rt_nucleus_run_ctx(n, id, src, path, fn, args, cpu_ms, mem_bytes,
                            NULL);
}

int rt_nucleus_run_ctx(rt_nucleus *n, const char *id, const char *src,
                       const char *path, const char *fn, json_t *args,
                       uint64_t cpu_ms, uint64_t mem_bytes, json_t *ctx) {
  nworker *best;
  json_t *msg;
  if (!id || strlen(id) >= RT_ID_MAX || owner(n, id)) return -1;
  if (!(best = least_loaded(n))) return -1;
  msg = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:O?, s:I, s:I, s:O?}", "t",
                  "run", "id", id, "code", src, "path",
                  path ? path : "(fibril)", "fn", fn, "args", args, "cpu_ms",
                  (json_int_t)cpu_ms, "mem", (json_int_t)mem_bytes, "ctx", ctx);
  if (send_frame(best, msg) != 0) return -1;
  return id_add(n, best, id);
}

int rt_nucleus_run_session(rt_nucleus *n, const char *session, const char *id,
                           const char *fn, json_t *args, uint64_t cpu_ms,
                           uint64_t mem_bytes, json_t *ctx) {
  nworker *w;
  json_t *msg;
  if (!id || strlen(id) >= RT_ID_MAX || owner(n, id) || !session || !*session ||
      strlen(session) >= RT_ID_MAX || !fn)
    return -1;
  if (!(w = session_owner(n, session))) {
    if (!(w = least_loaded(n)) ||
        name_add(&w->sess, &w->nsess, &w->scap, session) != 0)
      return -1;
  }
  msg =
      json_pack("{s:s, s:s, s:s, s:s, s:O?, s:I, s:I, s:O?}", "t", "run", "id",
                id, "session", session, "fn", fn, "args", args, "cpu_ms",
                (json_int_t)cpu_ms, "mem", (json_int_t)mem_bytes, "ctx", ctx);
  if (send_frame(w, msg) != 0) return -1;
  return id_add(n, w, id);
}

int rt_nucleus_session_drop(rt_nucleus *n, const char *session) {
  nworker *w = session_owner(n, session);
  if (!w) return -1;
  for (size_t k = 0; k < w->nsess; k++)
    if (strcmp(w->sess[k], session) == 0) {
      memcpy(w->sess[k], w->sess[--w->nsess], RT_ID_MAX);
      break;
    }
  return send_frame(w,
                    json_pack("{s:s, s:s}", "t", "drop", "session", session));
}

int rt_nucleus_check(rt_nucleus *n, const char *id, const char *src, size_t len,
                     const char *path) {
  nworker *best;
  json_t *msg;
  if (!id || strlen(id) >= RT_ID_MAX || owner(n, id)) return -1;
  if (!(best = least_loaded(n))) return -1;
  msg = json_pack("{s:s, s:s, s:s%, s:s}", "t", "check", "id", id, "code", src,
                  len, "path", path ? path : "(code)");
  if (send_frame(best, msg) != 0) return -1;
  return id_add(n, best, id);
}

void rt_nucleus_wake_fd_set(rt_nucleus *n, int fd) { n->wake_fd = fd; }

int rt_nucleus_answer(rt_nucleus *n, const char *id, json_t *value) {
  nworker *w = owner(n, id);
  if (!w) return -1;
  return send_frame(w, json_pack("{s:s, s:s, s:O?}", "t", "answer", "id", id,
                                 "value", value));
}

int rt_nucleus_raise(rt_nucleus *n, const char *id, const char *klass,
                     const char *message) {
  nworker *w = owner(n, id);
  if (!w) return -1;
  return send_frame(w, json_pack("{s:s, s:s, s:s, s:s}", "t", "raise", "id", id,
                                 "class", klass, "message", message));
}

/* Defined below: ends worker wi and reports its fibrils. */
static int worker_died(rt_nucleus *n, int wi, const char *reason,
                       const char *runaway);

int rt_nucleus_kill(rt_nucleus *n, const char *id, const char *reason) {
  nworker *w = owner(n, id);
  char running[RT_ID_MAX];
  if (!w) return -1;
  /* a fibril in its turn never reads a frame: only its worker's end
   * stops it */
  if (rt_board_read(w->board, running) != 0 && strcmp(running, id) == 0) {
    worker_died(n, (int)(w - n->w), reason ? reason : "killed", id);
    return 0;
  }
  return send_frame(w, json_pack("{s:s, s:s}", "t", "kill", "id", id));
}

/* ----------------------------------------------------------- worker -> node */

static void emit(rt_nucleus *n, int wi, rt_event_kind kind, const char *id,
                 const rt_error *err) {
  rt_event ev = {.kind = kind, .id = id, .error = err, .worker = wi};
  n->on(n->host, &ev);
}

static void status_reason(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status))
    snprintf(buf, len, "worker died: signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(buf, len, "worker exited with status %d", WEXITSTATUS(status));
}

/*
 * Worker wi is dead or must die: kill and reap it, start its successor,
 * then report each of its fibrils: runaway (if any) killed with reason,
 * the others failed as WorkerDied. Returns the number of events.
 */
static int worker_died(rt_nucleus *n, int wi, const char *reason,
                       const char *runaway) {
  nworker *w = &n->w[wi];
  char(*ids)[RT_ID_MAX] = w->ids, why[160], (*sess)[RT_ID_MAX] = w->sess;
  size_t nids = w->nids, nsess = w->nsess;
  int status = 0, events = 0;
  kill(w->pid, SIGKILL);
  worker_reap(n, w->pid, &status);
  close(w->fd);
  w->fd = -1, w->pid = -1;
  out_drop(w);
  status_reason(status, why, sizeof why);
  for (size_t i = 0; i < nids; i++)
    json_object_del(n->where, ids[i]);
  w->ids = NULL, w->nids = w->cap = 0;
  w->sess = NULL, w->nsess = w->scap = 0;
  if (worker_start(n, wi) != 0)
    fprintf(stderr, "m31: worker %d does not restart\n", wi);
  for (size_t i = 0; i < nids; i++, events++) {
    rt_error e = {0};
    if (runaway && strcmp(ids[i], runaway) == 0) {
      rt_error_set(&e, "", "%s", reason);
      emit(n, wi, RT_EV_KILLED, ids[i], &e);
    } else {
      rt_error_set(&e, "WorkerDied", "%s", reason ? reason : why);
      emit(n, wi, RT_EV_FAILED, ids[i], &e);
    }
  }
  for (size_t i = 0; i < nsess; i++, events++)
    emit(n, wi, RT_EV_SESSION_LOST, sess[i], NULL);
  free(ids);
  free(sess);
  return events;
}

/* An "error" object of a failed frame, checked, into e. */
static int error_of(json_t *j, rt_error *e) {
  const char *k = json_string_value(json_object_get(j, "class"));
  const char *m = json_string_value(json_object_get(j, "message"));
  json_t *bt = json_object_get(j, "backtrace");
  if (!k || !m || (bt && !json_is_array(bt))) return -1;
  rt_error_set(e, k, "%s", m);
  e->backtrace = bt ? json_incref(bt) : NULL;
  return 0;
}

/* Dispatches one frame of worker wi; -1 if it breaks the protocol. */
static int on_frame(rt_nucleus *n, int wi, json_t *m) {
  nworker *w = &n->w[wi];
  const char *t = json_string_value(json_object_get(m, "t"));
  const char *id = json_string_value(json_object_get(m, "id"));
  ssize_t at = id ? id_find(n, w, id) : -1;
  rt_event ev = {.id = id, .worker = wi};
  rt_error e = {0};
  if (at < 0) return -1;
  if (strcmp(t, "call") == 0) {
    ev.kind = RT_EV_CALL;
    ev.op = json_string_value(json_object_get(m, "op"));
    ev.args = json_object_get(m, "args");
    if (!ev.op || !json_is_array(ev.args)) return -1;
    n->on(n->host, &ev);
    return 0;
  }
  ev.cpu_ns = (uint64_t)json_integer_value(json_object_get(m, "cpu_ns"));
  ev.mem_bytes = (uint64_t)json_integer_value(json_object_get(m, "mem"));
  if (strcmp(t, "checked") == 0) {
    json_t *je = json_object_get(m, "error");
    ev.kind = RT_EV_CHECKED;
    if (!json_is_null(je) && error_of(je, &e) != 0) return -1;
    id_remove(n, w, (size_t)at);
    ev.error = json_is_null(je) ? NULL : &e;
    n->on(n->host, &ev);
    rt_error_clear(&e);
    return 0;
  }
  if (strcmp(t, "done") == 0) {
    ev.kind = RT_EV_DONE;
    if (!(ev.result = json_object_get(m, "result"))) return -1;
  } else if (strcmp(t, "failed") == 0) {
    ev.kind = RT_EV_FAILED;
    if (error_of(json_object_get(m, "error"), &e) != 0) return -1;
  } else if (strcmp(t, "killed") == 0) {
    const char *reason = json_string_value(json_object_get(m, "reason"));
    if (!reason) return -1;
    ev.kind = RT_EV_KILLED;
    rt_error_set(&e, "", "%s", reason);
  } else {
    return -1;
  }
  id_remove(n, w, (size_t)at);
  ev.error = &e;
  n->on(n->host, &ev);
  rt_error_clear(&e);
  return 0;
}

/* Kills workers whose running turn is past its CPU deadline. */
static int deadlines_check(rt_nucleus *n, int *busy) {
  int events = 0;
  *busy = 0;
  for (int i = 0; i < n->opts.workers; i++) {
    nworker *w = &n->w[i];
    char id[RT_ID_MAX];
    clockid_t cid;
    struct timespec ts;
    uint64_t deadline = w->fd >= 0 ? rt_board_read(w->board, id) : 0;
    if (deadline == 0 || deadline == UINT64_MAX) continue;
    *busy = 1;
    if (clock_getcpuclockid(w->pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
      continue;
    uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (cpu > deadline + (uint64_t)n->opts.grace_ms * 1000000u)
      events += worker_died(n, i, "cpu budget exceeded", id);
  }
  return events;
}

/* Reads what worker wi sent; a broken frame or end of stream ends it. */
static int worker_readable(rt_nucleus *n, int wi) {
  json_t *m = NULL;
  int r = rt_frame_read(n->w[wi].fd, &m), events;
  if (r != 0) return worker_died(n, wi, NULL, NULL);
  if (on_frame(n, wi, m) != 0) {
    json_decref(m);
    return worker_died(n, wi, "worker broke the protocol", NULL);
  }
  json_decref(m);
  events = 1;
  return events;
}

int rt_nucleus_poll(rt_nucleus *n, int timeout_ms) {
  struct pollfd pfd[65];
  int nw = n->opts.workers < 64 ? n->opts.workers : 64, events = 0, busy;
  int woken = 0;
  uint64_t end =
      rt_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
  for (;;) {
    events += deadlines_check(n, &busy);
    for (int i = 0; i < nw; i++)
      pfd[i] = (struct pollfd){
          .fd = n->w[i].fd,
          .events = POLLIN | (n->w[i].outoff < n->w[i].outlen ? POLLOUT : 0)};
    uint64_t now = rt_now_ns();
    int wait = timeout_ms < 0 ? -1
               : now >= end   ? 0
                              : (int)((end - now) / 1000000u);
    if (busy && (wait < 0 || wait > 10)) wait = 10;
    if (events > 0) wait = 0;
    pfd[nw] = (struct pollfd){.fd = n->wake_fd, .events = POLLIN};
    int r = poll(pfd, (nfds_t)nw + 1, wait);
    if (r < 0 && errno != EINTR) return -1;
    for (int i = 0; r > 0 && i < nw; i++) {
      if (!pfd[i].revents || n->w[i].fd != pfd[i].fd) continue;
      if ((pfd[i].revents & POLLOUT) && out_flush(&n->w[i]) != 0)
        events += worker_died(n, i, NULL, NULL);
      else if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
        events += worker_readable(n, i);
    }
    if (r > 0 && n->wake_fd >= 0 && pfd[nw].revents) woken = 1;
    if (events > 0 || woken || (timeout_ms >= 0 && rt_now_ns() >= end))
      return events;
  }
}
