/*
 * fibrils.c — /fibrils, and the node's side of the runtime that /fibrils
 * and /code share: the zygote, the nucleus and the thread that drives it.
 *
 * One thread (the "nucleus thread") owns the nucleus: it polls the
 * workers, turns their events into the fibril table (runtime/table.c),
 * and runs the commands HTTP handlers queue for it (check code, run a
 * fibril, kill fibrils). A handler that needs the answer of a worker (a
 * compile check) parks its request (req_suspend) and the nucleus thread
 * resumes it, so no pool thread waits on a worker. A handler wakes the
 * nucleus thread through a pipe the nucleus polls with its workers.
 *
 * The zygote is forked by resources_preinit, before any thread exists
 * (runtime/zygote.c says why); workers are forked from it, at start and
 * whenever one dies.
 */
#include "resources/resources.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIB_LIMIT_DEFAULT 100
#define FIB_LIMIT_MAX 1000
#define FIB_CPU_MS_MAX 3600000
#define FIB_MEM_MIN 65536
#define FIB_PAIR_CAPACITY 64 /* messages each spawn channel queues */
#define FIB_CLIENT_ENDS_TTL                                                    \
  600 /* seconds an HTTP client's ends outlive                                 \
         the fibril */

typedef enum cmd_kind {
  CMD_CHECK,
  CMD_RUN,
  CMD_KILL,
  CMD_ANSWER,
  CMD_CALL
} cmd_kind;

/* A command for the nucleus thread. A CHECK belongs to a parked request
 * and is freed by its resume function; RUN and KILL by the thread. */
struct fib_cmd {
  cmd_kind kind;
  struct fib_cmd *next;
  char id[RT_ID_MAX]; /* CHECK: "check:N" (no node id has a colon); RUN: the
                         fibril */
  char *src;          /* CHECK, RUN: owned */
  size_t len;
  char path[RT_FP_LEN];
  char *fn;     /* RUN: owned, or NULL */
  json_t *args; /* RUN: owned */
  uint64_t cpu_ms, mem;
  json_t *ids;   /* KILL: owned array of fibril ids */
  json_t *value; /* ANSWER: owned, what the fibril's fs call answers */
  json_t *ctx;   /* RUN: owned, the fibril's context (its PARENT ends) */
  char session[RT_ID_MAX]; /* RUN: the session it runs in, or "" */
  void (*call)(void *);    /* CALL: runs call(call_arg) */
  void *call_arg;
  /* CHECK: what the resume function answers */
  m31_req *req;
  int ok;       /* 1 compiles, 0 SyntaxError, -1 no worker */
  rt_error err; /* when ok == 0 or -1 */
  fib_check_fn done;
  void *done_arg;
};

static struct {
  rt_zygote *zygote;
  rt_nucleus *nucleus;
  rt_table *table;
  rt_code_reg *codes;
  pthread_t thread;
  int running;
  int wake[2];
  pthread_mutex_t lock; /* guards the queue and stop */
  fib_cmd *head, *tail;
  int stop;
  fib_cmd *checks; /* in flight on a worker (nucleus thread only) */
  unsigned long check_seq;
  _Atomic uint64_t compilations;
  _Atomic long fs_pending; /* fs calls the store has not answered yet */
  int nuclei;
} rt = {.wake = {-1, -1}};

rt_code_reg *fibrils_codes(void) { return rt.codes; }
uint64_t fibrils_compilations(void) { return rt.compilations; }

/* -------------------------------------------------------------- queueing */

static void cmd_free(fib_cmd *c) {
  if (!c) return;
  free(c->src);
  free(c->fn);
  json_decref(c->args);
  json_decref(c->ids);
  json_decref(c->value);
  json_decref(c->ctx);
  rt_error_clear(&c->err);
  free(c);
}

static void cmd_push(fib_cmd *c) {
  char b = 1;
  pthread_mutex_lock(&rt.lock);
  c->next = NULL;
  if (rt.tail)
    rt.tail->next = c;
  else
    rt.head = c;
  rt.tail = c;
  pthread_mutex_unlock(&rt.lock);
  while (write(rt.wake[1], &b, 1) < 0 && errno == EINTR)
    ;
}

/* ------------------------------------------------------------ fs calls */

/* The completion of an fs call (runtime/prelude/fs.rb, resources/
 * fibril_fs.c): on the nucleus thread for reads, on the store's writer
 * thread after a durable write. It only queues the answer for the nucleus
 * thread, which owns the nucleus. */
static void fs_answered(void *ud, json_t *value) {
  fib_cmd *c = ud;
  c->value = value;
  cmd_push(c);
  atomic_fetch_sub(&rt.fs_pending, 1);
}

/* A CMD_ANSWER for fibril id's system call, to pass to fs_answered. */
static fib_cmd *ticket_new(const char *id) {
  fib_cmd *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->kind = CMD_ANSWER;
  snprintf(c->id, sizeof c->id, "%s", id);
  atomic_fetch_add(&rt.fs_pending, 1);
  return c;
}

static void fs_syscall(const char *id, const char *op, json_t *args) {
  fsc_call(resources_store(), op, args, fs_answered, ticket_new(id));
}

static void chan_syscall(const char *id, const char *op, json_t *args) {
  fsys_chan_call(resources_channels(), id, op, args, fs_answered,
                 ticket_new(id));
}

/* http.* (resources/fibril_http.c): answered from the http thread. */
static void http_syscall(const char *id, const char *op, json_t *args) {
  fhttp_call(op, args, fs_answered, ticket_new(id));
}

static void sys_spawn(const char *parent, json_t *args);

/* sys.* calls the nucleus thread answers itself. 0 when answered. */
static int sys_syscall(const char *id, const char *op, json_t *args) {
  if (strcmp(op, "spawn") == 0) {
    sys_spawn(id, args);
    return 0;
  }
  if (strcmp(op, "code") == 0) { /* sys.load: registered source by fp */
    const char *fp = json_string_value(json_array_get(args, 0));
    size_t len;
    char *src =
        fp && rt_code_fingerprint_valid(fp) ? code_source_get(fp, &len) : NULL;
    if (!src) {
      rt_nucleus_raise(rt.nucleus, id, "ArgumentError",
                       "no code is registered under that fingerprint");
    } else {
      json_t *v = json_pack("{s:s%}", "source", src, len);
      rt_nucleus_answer(rt.nucleus, id, v);
      json_decref(v);
      free(src);
    }
    return 0;
  }
  if (strcmp(op, "state") == 0) {
    const char *of = json_string_value(json_array_get(args, 0));
    json_t *rec = of ? rt_table_get(rt.table, of) : NULL;
    json_t *v = json_pack("{s:O?}", "state", json_object_get(rec, "state"));
    if (rec)
      rt_nucleus_answer(rt.nucleus, id, v);
    else
      rt_nucleus_raise(rt.nucleus, id, "ArgumentError", "no such fibril");
    json_decref(v);
    json_decref(rec);
    return 0;
  }
  return -1;
}

/* ----------------------------------------------------- the nucleus thread */

static void check_end(fib_cmd *c) {
  if (c->ok == 1) atomic_fetch_add(&rt.compilations, 1);
  c->done(c, c->done_arg);
}

static fib_cmd *check_take(const char *id) {
  for (fib_cmd **p = &rt.checks; *p; p = &(*p)->next)
    if (strcmp((*p)->id, id) == 0) {
      fib_cmd *c = *p;
      *p = c->next;
      return c;
    }
  return NULL;
}

/* A fibril ended: its ends close, a REPL evaluation answers, and the ends
 * an HTTP client holds of a fibril it made go a while later. */
static void ended(const rt_event *ev, rt_fibril_state s) {
  json_t *rec = rt_table_get(rt.table, ev->id), *ch, *v;
  const char *k;
  fsys_release(resources_channels(), ev->id);
  repl_on_end(ev->id, s, ev->result, ev->error, ev->cpu_ns);
  ch = json_object_get(rec, "channels");
  if (json_is_null(json_object_get(rec, "parent")) &&
      !json_object_get(rec, "session"))
    json_object_foreach(ch, k, v) {
      const char *uri = json_string_value(v);
      if (uri && strncmp(uri, "/channels/", 10) == 0)
        fsys_expire_later(uri + 10, FIB_CLIENT_ENDS_TTL);
    }
  json_decref(rec);
}

static void on_event(void *host, const rt_event *ev) {
  fib_cmd *c;
  (void)host;
  if (strncmp(ev->id, "check:", 6) == 0) {
    if (!(c = check_take(ev->id))) return;
    c->ok = ev->kind == RT_EV_CHECKED && !ev->error ? 1
            : ev->kind == RT_EV_CHECKED             ? 0
                                                    : -1;
    if (ev->error) {
      snprintf(c->err.klass, sizeof c->err.klass, "%s", ev->error->klass);
      snprintf(c->err.message, sizeof c->err.message, "%s", ev->error->message);
    }
    check_end(c);
    return;
  }
  switch (ev->kind) {
  case RT_EV_CALL:
    rt_table_state_set(rt.table, ev->id, RT_FIBRIL_WAITING);
    if (strcmp(ev->op, "print") == 0) {
      const char *text = json_string_value(json_array_get(ev->args, 0));
      if (!repl_on_print(ev->id, text ? text : ""))
        m31_log(LOG_DEBUG, "fibril %s: %s", ev->id, text ? text : "");
      rt_nucleus_answer(rt.nucleus, ev->id, NULL);
    } else if (strncmp(ev->op, "fs.", 3) == 0) {
      fs_syscall(ev->id, ev->op + 3, ev->args); /* answered by CMD_ANSWER */
      break;
    } else if (strncmp(ev->op, "chan.", 5) == 0) {
      chan_syscall(ev->id, ev->op + 5, ev->args);
      break;
    } else if (strncmp(ev->op, "http.", 5) == 0) {
      http_syscall(ev->id, ev->op + 5, ev->args);
      break;
    } else if (strncmp(ev->op, "sys.", 4) == 0 &&
               sys_syscall(ev->id, ev->op + 4, ev->args) == 0) {
    } else {
      rt_nucleus_raise(rt.nucleus, ev->id, "NotImplementedError",
                       "no such system call in this node");
    }
    rt_table_state_set(rt.table, ev->id, RT_FIBRIL_RUNNING);
    break;
  case RT_EV_DONE:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_DONE, ev->result, NULL,
                    ev->cpu_ns, ev->mem_bytes);
    ended(ev, RT_FIBRIL_DONE);
    break;
  case RT_EV_FAILED:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_FAILED, NULL, ev->error,
                    ev->cpu_ns, ev->mem_bytes);
    ended(ev, RT_FIBRIL_FAILED);
    break;
  case RT_EV_KILLED:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_KILLED, NULL, ev->error,
                    ev->cpu_ns, ev->mem_bytes);
    ended(ev, RT_FIBRIL_KILLED);
    break;
  case RT_EV_SESSION_LOST:
    repl_on_lost(ev->id);
    break;
  case RT_EV_CHECKED:
    break;
  }
}

static void cmd_run(fib_cmd *c) {
  switch (c->kind) {
  case CMD_CHECK:
    snprintf(c->id, sizeof c->id, "check:%lu", ++rt.check_seq);
    if (rt_nucleus_check(rt.nucleus, c->id, c->src, c->len, c->path) != 0) {
      c->ok = -1;
      rt_error_set(&c->err, "WorkerDied", "no worker can compile now");
      check_end(c);
      return;
    }
    c->next = rt.checks;
    rt.checks = c;
    return;
  case CMD_RUN: {
    json_t *pe = json_object_get(c->ctx, "parent"), *v;
    const char *k;
    int rc;
    json_object_foreach(pe, k, v) fsys_hold(c->id, json_string_value(v));
    if (c->session[0])
      rc = rt_nucleus_run_session(rt.nucleus, c->session, c->id, c->fn, c->args,
                                  c->cpu_ms, c->mem, c->ctx);
    else
      rc = rt_nucleus_run_ctx(rt.nucleus, c->id, c->src, c->path, c->fn,
                              c->args, c->cpu_ms, c->mem, c->ctx);
    if (rc == 0) {
      rt_table_state_set(rt.table, c->id, RT_FIBRIL_RUNNING);
    } else {
      rt_error e = {0};
      rt_error_set(&e, "WorkerDied", "no worker could take the fibril");
      rt_table_finish(rt.table, c->id, RT_FIBRIL_FAILED, NULL, &e, 0, 0);
      fsys_release(resources_channels(), c->id);
    }
    break;
  }
  case CMD_CALL:
    c->call(c->call_arg);
    break;
  case CMD_ANSWER: /* a fibril killed meanwhile is no longer answered */
    if (rt_nucleus_answer(rt.nucleus, c->id, c->value) == 0)
      rt_table_state_set(rt.table, c->id, RT_FIBRIL_RUNNING);
    break;
  case CMD_KILL:
    for (size_t i = 0; i < json_array_size(c->ids); i++) {
      const char *id = json_string_value(json_array_get(c->ids, i));
      rt_nucleus_kill(rt.nucleus, id, "killed by DELETE");
      fsys_release(resources_channels(), id);
    }
    break;
  }
  cmd_free(c);
}

static void *nucleus_thread(void *arg) {
  (void)arg;
  for (;;) {
    fib_cmd *c;
    char buf[64];
    rt_nucleus_poll(rt.nucleus, 1000);
    while (read(rt.wake[0], buf, sizeof buf) > 0)
      ;
    pthread_mutex_lock(&rt.lock);
    c = rt.head;
    rt.head = rt.tail = NULL;
    int stop = rt.stop;
    pthread_mutex_unlock(&rt.lock);
    while (c) {
      fib_cmd *next = c->next;
      cmd_run(c);
      c = next;
    }
    repl_tick();
    fsys_tick(resources_channels());
    if (stop) break;
  }
  /* checks still on a worker: answer them before the nucleus goes */
  while (rt.checks) {
    fib_cmd *c = rt.checks;
    rt.checks = c->next;
    c->ok = -1;
    rt_error_set(&c->err, "WorkerDied", "the node is stopping");
    check_end(c);
  }
  return NULL;
}

/* ------------------------------------------------------------ life cycle */

int fibrils_preinit(const m31_config *cfg, char *errbuf, size_t errlen) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  rt.nuclei = cfg->nuclei > 0 ? cfg->nuclei : 2 * (int)(cores > 0 ? cores : 1);
  if (rt.nuclei > 64) rt.nuclei = 64;
  if (!(rt.zygote = rt_zygote_new(rt.nuclei, NULL))) {
    snprintf(errbuf, errlen, "cannot start the zygote: %s", strerror(errno));
    return -1;
  }
  return 0;
}

int fibrils_init(const m31_config *cfg, char *errbuf, size_t errlen) {
  rt_nucleus_opts o = {.zygote = rt.zygote};
  pthread_mutex_init(&rt.lock, NULL);
  if (!(rt.table = rt_table_new(cfg->node)) ||
      !(rt.codes = rt_code_reg_new())) {
    snprintf(errbuf, errlen,
             "cannot make the fibril table (node id over %d bytes?)",
             RT_ID_MAX - 18);
    return -1;
  }
  rt_table_watch_set(rt.table, watch_fibril_feed, NULL); /* ?watch */
  rt_table_watch_want_set(rt.table, watch_fibrils_wanted);
  if (pipe2(rt.wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
      !(rt.nucleus = rt_nucleus_new(&o, on_event, NULL))) {
    snprintf(errbuf, errlen, "cannot start %d worker processes", rt.nuclei);
    return -1;
  }
  rt_nucleus_wake_fd_set(rt.nucleus, rt.wake[0]);
  if (pthread_create(&rt.thread, NULL, nucleus_thread, NULL) != 0) {
    snprintf(errbuf, errlen, "cannot start the nucleus thread");
    return -1;
  }
  rt.running = 1;
  m31_log(LOG_INFO, "%d nuclei (worker processes) ready", rt.nuclei);
  return 0;
}

void fibrils_shutdown(void) {
  if (rt.running) {
    char b = 1;
    pthread_mutex_lock(&rt.lock);
    rt.stop = 1;
    pthread_mutex_unlock(&rt.lock);
    while (write(rt.wake[1], &b, 1) < 0 && errno == EINTR)
      ;
    pthread_join(rt.thread, NULL);
    rt.running = 0;
    /* fs writes still in the store answer into the queue: wait for them,
     * then drop what no thread will run */
    while (atomic_load(&rt.fs_pending) > 0) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&rt.lock);
    for (fib_cmd *c = rt.head, *next; c; c = next) {
      next = c->next;
      if (c->kind != CMD_CHECK) cmd_free(c); /* a CHECK is its request's */
    }
    rt.head = rt.tail = NULL;
    pthread_mutex_unlock(&rt.lock);
  }
  rt_nucleus_free(rt.nucleus);
  rt_zygote_free(rt.zygote);
  rt_table_free(rt.table);
  rt_code_reg_free(rt.codes);
  fsys_free();
  for (int i = 0; i < 2; i++)
    if (rt.wake[i] >= 0) close(rt.wake[i]);
  memset(&rt, 0, sizeof rt);
  rt.wake[0] = rt.wake[1] = -1;
}

void fibrils_metrics(uint64_t *compilations, size_t counts[6], int *nuclei) {
  *compilations = rt.compilations;
  *nuclei = rt.nuclei;
  for (int s = 0; s < 6; s++)
    counts[s] = rt.table ? rt_table_count(rt.table, s) : 0;
}

/* ---------------------------------------------------------- code checks */

void fibrils_check_submit(m31_req *r, const char *src, size_t len,
                          fib_check_fn done, void *arg) {
  fib_cmd *c = calloc(1, sizeof *c);
  if (!c || !(c->src = malloc(len + 1))) abort();
  memcpy(c->src, src, len);
  c->src[len] = '\0';
  c->len = len;
  c->kind = CMD_CHECK;
  c->req = r;
  c->done = done, c->done_arg = arg;
  rt_code_fingerprint(src, len, c->path);
  cmd_push(c);
}

int fib_cmd_result(const fib_cmd *c, const rt_error **err) {
  *err = &c->err;
  return c->ok;
}

void fib_cmd_free(fib_cmd *c) { cmd_free(c); }

m31_req *fib_cmd_req(const fib_cmd *c) { return c->req; }

/* ------------------------------------------------------------- handlers */

/* A spawn request, validated. Strings are borrowed from the body. */
typedef struct spawn_args {
  const char *code, *fn, *parent;
  json_t *args;
  uint64_t cpu_ms, mem;
  int by_fp;
} spawn_args;

static int fn_valid(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return s[1] == '\0' && (*s == '?' || *s == '!');
  return 1;
}

/* A budget member: an integer in [lo, hi] or absent (0). */
static int budget_int(json_t *b, const char *name, json_int_t lo, json_int_t hi,
                      uint64_t *out, char *msg, size_t len) {
  json_t *v = json_object_get(b, name);
  *out = 0;
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi) {
    snprintf(msg, len, "budget.%s must be an integer from %lld to %lld", name,
             (long long)lo, (long long)hi);
    return -1;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* Reads budget b (an object or NULL) into *cpu_ms and *mem; -1 with the
 * offending field ("budget.cpu_ms") and a sentence. */
static int budget_parse(json_t *b, uint64_t *cpu_ms, uint64_t *mem,
                        const char **field, char *msg, size_t len) {
  const char *k;
  json_t *v;
  *cpu_ms = *mem = 0;
  *field = "budget";
  if (!b || json_is_null(b)) return 0;
  if (!json_is_object(b)) {
    snprintf(msg, len, "budget must be an object");
    return -1;
  }
  json_object_foreach(b, k, v) {
    if (strcmp(k, "cpu_ms") && strcmp(k, "memory_bytes")) {
      snprintf(msg, len, "unknown budget member %s", k);
      return -1;
    }
  }
  *field = "budget.cpu_ms";
  if (budget_int(b, "cpu_ms", 1, FIB_CPU_MS_MAX, cpu_ms, msg, len) != 0)
    return -1;
  *field = "budget.memory_bytes";
  return budget_int(b, "memory_bytes", FIB_MEM_MIN, (json_int_t)1 << 40, mem,
                    msg, len);
}

static int spawn_args_or_reply(m31_req *r, json_t *body, spawn_args *a) {
  json_t *code = json_object_get(body, "code"),
         *fn = json_object_get(body, "fn");
  json_t *args = json_object_get(body, "args"),
         *b = json_object_get(body, "budget");
  json_t *parent = json_object_get(body, "parent");
  const char *k;
  json_t *v;
  memset(a, 0, sizeof *a);
  if (!json_is_object(body)) {
    reply_problem(r, 400, NULL, "the body must be a JSON object");
    return -1;
  }
  json_object_foreach(body, k, v) {
    if (strcmp(k, "code") && strcmp(k, "fn") && strcmp(k, "args") &&
        strcmp(k, "budget") && strcmp(k, "parent")) {
      reply_problem(r, 422, k, "unknown member %s", k);
      return -1;
    }
  }
  if (!code) {
    reply_problem(r, 422, "code",
                  "code is required: Ruby source or a fingerprint");
    return -1;
  }
  if (!json_is_string(code) || json_string_length(code) == 0 ||
      strlen(json_string_value(code)) != json_string_length(code)) {
    reply_problem(r, 422, "code",
                  "code must be a non-empty string without NUL characters");
    return -1;
  }
  a->code = json_string_value(code);
  a->by_fp = strncmp(a->code, "sha256:", 7) == 0;
  if (a->by_fp && !rt_code_fingerprint_valid(a->code)) {
    reply_problem(r, 422, "code", "a fingerprint is sha256: and 64 hex digits");
    return -1;
  }
  if (fn && !json_is_null(fn) &&
      (!json_is_string(fn) || !fn_valid(json_string_value(fn)))) {
    reply_problem(r, 422, "fn", "fn must be the name of a top-level method");
    return -1;
  }
  a->fn = json_string_value(fn);
  if (args && !json_is_array(args)) {
    reply_problem(r, 422, "args", "args must be an array");
    return -1;
  }
  a->args = args;
  {
    const char *field;
    char msg[160];
    if (budget_parse(b, &a->cpu_ms, &a->mem, &field, msg, sizeof msg) != 0) {
      reply_problem(r, 422, field, "%s", msg);
      return -1;
    }
  }
  if (parent && !json_is_null(parent)) {
    json_t *p = json_is_string(parent)
                    ? rt_table_get(rt.table, json_string_value(parent))
                    : NULL;
    if (!p) {
      reply_problem(r, 422, "parent", "parent must be the id of a fibril");
      return -1;
    }
    json_decref(p);
    a->parent = json_string_value(parent);
  }
  return 0;
}

/* The channel URI of endpoint id. */
static json_t *chan_uri(const char *id) {
  char uri[CHAN_ID_MAX + 16];
  snprintf(uri, sizeof uri, "/channels/%s", id);
  return json_string(uri);
}

/*
 * Records a new fibril (child of parent, or none), makes its two channels
 * (to it and from it: typed Any, async) and its run command, *out, for
 * the caller to queue or run. The fibril's context names its ends as
 * PARENT; *ends (new) names the other two: {"send", "recv"}. src is taken;
 * fp is its fingerprint, NULL for a fibril of a REPL session.
 * -1 (src freed) when the table or the hub refuses.
 */
static int spawn_make(const char *parent, const char *fn, json_t *args,
                      uint64_t cpu_ms, uint64_t mem, char *src, size_t len,
                      const char *fp, fib_cmd **out, json_t **ends) {
  fib_cmd *c = calloc(1, sizeof *c);
  char ds[CHAN_ID_MAX], dr[CHAN_ID_MAX], us[CHAN_ID_MAX], ur[CHAN_ID_MAX];
  json_t *any = json_string("Any");
  chan_err e;
  int ok;
  if (!c) abort();
  ok = rt_table_add(rt.table, parent, c->id) == 0 &&
       chan_create(resources_channels(), any, 0, FIB_PAIR_CAPACITY, ds, dr,
                   &e) == 0;
  if (ok && chan_create(resources_channels(), any, 0, FIB_PAIR_CAPACITY, us, ur,
                        &e) != 0) {
    chan_delete(resources_channels(), ds, &e);
    chan_delete(resources_channels(), dr, &e);
    ok = 0;
  }
  json_decref(any);
  if (!ok) {
    free(src), free(c);
    return -1;
  }
  c->kind = CMD_RUN;
  c->src = src, c->len = len;
  snprintf(c->path, sizeof c->path, "%s", fp ? fp : "(session)");
  c->fn = fn ? strdup(fn) : NULL;
  c->args = args ? json_incref(args) : json_array();
  c->cpu_ms = cpu_ms, c->mem = mem;
  c->ctx = json_pack("{s:{s:s, s:s}}", "parent", "send", us, "recv", dr);
  *ends = json_pack("{s:s, s:s}", "send", ds, "recv", ur);
  rt_table_extra_set(rt.table, c->id, "code",
                     fp ? json_string(fp) : json_null());
  rt_table_extra_set(rt.table, c->id, "budget",
                     json_pack("{s:I, s:I}", "cpu_ms", (json_int_t)cpu_ms,
                               "memory_bytes", (json_int_t)mem));
  rt_table_extra_set(
      rt.table, c->id, "channels",
      json_pack("{s:o, s:o}", "send", chan_uri(ds), "recv", chan_uri(ur)));
  *out = c;
  return 0;
}

/* Records and queues the fibril; answers 201. src is taken. */
static void spawn_reply(m31_req *r, const spawn_args *a, char *src, size_t len,
                        const char *fp) {
  fib_cmd *c;
  json_t *ends, *rec;
  char loc[RT_ID_MAX + 16];
  if (spawn_make(a->parent, a->fn, a->args, a->cpu_ms, a->mem, src, len, fp, &c,
                 &ends) != 0) {
    reply_problem(r, 503, NULL, "cannot record the fibril or its channels");
    return;
  }
  json_decref(ends);
  rec = rt_table_get(rt.table, c->id);
  snprintf(loc, sizeof loc, "/fibrils/%s", c->id);
  cmd_push(c);
  reply_header(r, "Location", loc);
  reply_json(r, 201, rec);
}

/* sys.spawn [fn, args, budget, code] of fibril parent, on the nucleus
 * thread: the child runs the parent's code (or registered code, when code
 * is a fingerprint); the parent holds the child's other ends and is
 * answered {"fibril", "send", "recv"}. */
static void sys_spawn(const char *parent, json_t *args) {
  const char *fn = json_string_value(json_array_get(args, 0)), *field;
  json_t *fargs = json_array_get(args, 1), *rec, *ends;
  uint64_t cpu_ms, mem;
  char msg[160], *src = NULL;
  size_t len;
  fib_cmd *c;
  if (!fn || !fn_valid(fn) || !json_is_array(fargs)) {
    rt_nucleus_raise(rt.nucleus, parent, "ArgumentError",
                     "sys.spawn takes a method name and an Array of args");
    return;
  }
  if (budget_parse(json_array_get(args, 2), &cpu_ms, &mem, &field, msg,
                   sizeof msg) != 0) {
    rt_nucleus_raise(rt.nucleus, parent, "ArgumentError", msg);
    return;
  }
  /* three members of the parent's record, not all of it: a parent may
   * have thousands of children */
  rec = json_object();
  json_object_set_new(rec, "code",
                      rt_table_extra_get(rt.table, parent, "code"));
  json_object_set_new(rec, "session",
                      rt_table_extra_get(rt.table, parent, "session"));
  json_object_set_new(rec, "budget",
                      rt_table_extra_get(rt.table, parent, "budget"));
  const char *fp = json_string_value(json_object_get(rec, "code"));
  const char *session = json_string_value(json_object_get(rec, "session"));
  const char *in_session = session; /* where the parent is, to hold ends */
  const char *other = json_string_value(json_array_get(args, 3));
  if (other) { /* code: registered code, run on any worker */
    if (!rt_code_fingerprint_valid(other)) {
      rt_nucleus_raise(rt.nucleus, parent, "ArgumentError",
                       "code: is a fingerprint, sha256: and 64 hex digits");
      json_decref(rec);
      return;
    }
    fp = other;
    session = NULL;
  }
  /* a child has its parent's budget unless the spawn names one */
  json_t *pb = json_object_get(rec, "budget");
  if (!cpu_ms)
    cpu_ms = (uint64_t)json_integer_value(json_object_get(pb, "cpu_ms"));
  if (!mem)
    mem = (uint64_t)json_integer_value(json_object_get(pb, "memory_bytes"));
  if (session) { /* no code to send: fn is defined in the session's VM */
    src = strdup("");
    len = 0;
    fp = NULL;
  } else if (fp) {
    src = code_source_get(fp, &len);
  }
  if (!src) {
    rt_nucleus_raise(rt.nucleus, parent,
                     other ? "ArgumentError" : "RuntimeError",
                     other ? "no code is registered under that fingerprint"
                           : "the code of this fibril is not registered");
  } else if (spawn_make(parent, fn, fargs, cpu_ms, mem, src, len, fp, &c,
                        &ends) != 0) {
    rt_nucleus_raise(rt.nucleus, parent, "RuntimeError",
                     "cannot record the fibril or its channels");
  } else {
    /* in a REPL session the child runs in the session's VM, and the
     * session, not the evaluation, holds the parent's ends */
    const char *holder = in_session ? in_session : parent;
    if (session) {
      snprintf(c->session, sizeof c->session, "%s", session);
      rt_table_extra_set(rt.table, c->id, "session", json_string(session));
    }
    json_object_set_new(ends, "fibril", json_string(c->id));
    fsys_hold(holder, json_string_value(json_object_get(ends, "send")));
    fsys_hold(holder, json_string_value(json_object_get(ends, "recv")));
    rt_nucleus_answer(rt.nucleus, parent, ends);
    json_decref(ends);
    cmd_run(c);
  }
  json_decref(rec);
}

typedef struct spawn_wait {
  json_t *body; /* keeps the strings of a */
  spawn_args a;
  fib_cmd *check;
} spawn_wait;

static void spawn_checked(fib_cmd *c, void *arg) {
  spawn_wait *w = arg;
  w->check = c;
  req_resume(c->req);
}

static void spawn_resume(m31_req *r, void *arg) {
  spawn_wait *w = arg;
  const rt_error *err;
  int ok = fib_cmd_result(w->check, &err);
  if (ok == 1) {
    char fp[RT_FP_LEN];
    int created;
    size_t len = strlen(w->a.code);
    char *src = strdup(w->a.code);
    if (!src || rt_code_reg_put(rt.codes, w->a.code, len, fp, &created) != 0)
      abort();
    spawn_reply(r, &w->a, src, len, fp);
  } else if (ok == 0) {
    code_syntax_reply(r, "code", err->message);
  } else {
    reply_problem(r, 503, NULL, "%s", err->message);
  }
  fib_cmd_free(w->check);
  json_decref(w->body);
  free(w);
}

void fibrils_create(m31_req *r) {
  json_t *body;
  spawn_wait *w;
  if (req_json_or_reply(r, &body) != 0) return;
  if (!(w = calloc(1, sizeof *w))) abort();
  w->body = body;
  if (spawn_args_or_reply(r, body, &w->a) != 0) {
    json_decref(body);
    free(w);
    return;
  }
  if (w->a.by_fp) {
    size_t len;
    char *src = code_source_get(w->a.code, &len); /* registry or store */
    if (!src)
      reply_problem(r, 404, "code", "no code is registered as %s", w->a.code);
    else
      spawn_reply(r, &w->a, src, len, w->a.code);
    json_decref(body);
    free(w);
    return;
  }
  /* new source is compiled (on a worker) and registered first; known
   * source is not compiled again */
  char fp[RT_FP_LEN], *known;
  size_t len = strlen(w->a.code);
  rt_code_fingerprint(w->a.code, len, fp);
  if ((known = code_source_get(fp, NULL))) {
    spawn_reply(r, &w->a, known, len, fp);
    json_decref(body);
    free(w);
    return;
  }
  req_suspend(r, spawn_resume, w);
  fibrils_check_submit(r, w->a.code, strlen(w->a.code), spawn_checked, w);
}

/* ?state= as a state number, -1 when absent. */
static int state_or_reply(m31_req *r, int *out) {
  const char *s = req_query(r, "state");
  *out = -1;
  if (!s) return 0;
  for (int i = 0; i < 6; i++)
    if (strcmp(s, rt_fibril_state_name((rt_fibril_state)i)) == 0) {
      *out = i;
      return 0;
    }
  reply_problem(
      r, 400, "state",
      "state must be ready, running, waiting, done, failed or killed");
  return -1;
}

static int count_or_reply(m31_req *r, const char *name, size_t lo, size_t hi,
                          size_t dflt, size_t *out) {
  const char *s = req_query(r, name);
  char *end;
  unsigned long long v;
  *out = dflt;
  if (!s) return 0;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || v < lo || v > hi) {
    reply_problem(r, 400, name, "%s must be an integer from %zu to %zu", name,
                  lo, hi);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

void fibrils_list(m31_req *r) {
  int state;
  size_t limit, after, next;
  const char *parent = req_query(r, "parent");
  char cur[32];
  json_t *items;
  if (watch_wanted(r)) {
    watch_fibrils(r);
    return;
  }
  if (state_or_reply(r, &state) != 0 ||
      count_or_reply(r, "limit", 1, FIB_LIMIT_MAX, FIB_LIMIT_DEFAULT, &limit) !=
          0 ||
      count_or_reply(r, "cursor", 1, (size_t)1 << 48, 0, &after) != 0)
    return;
  if (parent && !*parent) {
    reply_problem(r, 400, "parent", "parent must be a fibril id");
    return;
  }
  items = rt_table_list(rt.table, state, parent, after, limit, &next);
  snprintf(cur, sizeof cur, "%zu", next);
  reply_json(
      r, 200,
      json_pack("{s:o, s:s?}", "items", items, "next", next ? cur : NULL));
}

void fibril_get(m31_req *r) {
  json_t *rec = rt_table_get(rt.table, req_param(r, 0));
  if (!rec) {
    reply_problem(r, 404, NULL, "no fibril %s", req_param(r, 0));
    return;
  }
  reply_json(r, 200, rec);
}

void fibril_delete(m31_req *r) {
  json_t *ids = rt_table_tree(rt.table, req_param(r, 0));
  fib_cmd *c;
  if (json_array_size(ids) == 0) {
    json_decref(ids);
    reply_problem(r, 404, NULL, "no fibril %s", req_param(r, 0));
    return;
  }
  /* final at once, so a GET after the 204 sees it; the worker's own
   * report of the kill is then ignored by the table */
  for (size_t i = 0; i < json_array_size(ids); i++) {
    rt_error e = {0};
    rt_error_set(&e, "", "killed by DELETE");
    rt_table_finish(rt.table, json_string_value(json_array_get(ids, i)),
                    RT_FIBRIL_KILLED, NULL, &e, 0, 0);
  }
  if (!(c = calloc(1, sizeof *c))) abort();
  c->kind = CMD_KILL;
  c->ids = ids;
  cmd_push(c);
  reply_empty(r, 204);
}

/* ------------------------------------------------------- REPL sessions */

void fibrils_defer(void (*fn)(void *), void *arg) {
  fib_cmd *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->kind = CMD_CALL;
  c->call = fn, c->call_arg = arg;
  cmd_push(c);
}

int fibrils_session_spawn(const char *session, const char *fn, json_t *args,
                          uint64_t cpu_ms, uint64_t mem, char id[RT_ID_MAX]) {
  if (rt_table_add(rt.table, NULL, id) != 0) return -1;
  rt_table_extra_set(rt.table, id, "code", json_null());
  rt_table_extra_set(rt.table, id, "session", json_string(session));
  rt_table_extra_set(rt.table, id, "budget",
                     json_pack("{s:I, s:I}", "cpu_ms", (json_int_t)cpu_ms,
                               "memory_bytes", (json_int_t)mem));
  if (rt_nucleus_run_session(rt.nucleus, session, id, fn, args, cpu_ms, mem,
                             NULL) != 0) {
    rt_error e = {0};
    rt_error_set(&e, "WorkerDied", "no worker could take the evaluation");
    rt_table_finish(rt.table, id, RT_FIBRIL_FAILED, NULL, &e, 0, 0);
    return -1;
  }
  rt_table_state_set(rt.table, id, RT_FIBRIL_RUNNING);
  return 0;
}

void fibrils_session_drop(const char *session) {
  rt_nucleus_session_drop(rt.nucleus, session);
  fsys_release(resources_channels(), session);
}
