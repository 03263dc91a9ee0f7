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

typedef enum cmd_kind { CMD_CHECK, CMD_RUN, CMD_KILL, CMD_ANSWER } cmd_kind;

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

static void fs_syscall(const char *id, const char *op, json_t *args) {
  fib_cmd *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->kind = CMD_ANSWER;
  snprintf(c->id, sizeof c->id, "%s", id);
  atomic_fetch_add(&rt.fs_pending, 1);
  fsc_call(resources_store(), op, args, fs_answered, c);
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
      m31_log(LOG_DEBUG, "fibril %s: %s", ev->id,
              json_string_value(json_array_get(ev->args, 0)));
      rt_nucleus_answer(rt.nucleus, ev->id, NULL);
    } else if (strncmp(ev->op, "fs.", 3) == 0) {
      fs_syscall(ev->id, ev->op + 3, ev->args); /* answered by CMD_ANSWER */
      break;
    } else {
      rt_nucleus_raise(rt.nucleus, ev->id, "NotImplementedError",
                       "no such system call in this node");
    }
    rt_table_state_set(rt.table, ev->id, RT_FIBRIL_RUNNING);
    break;
  case RT_EV_DONE:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_DONE, ev->result, NULL,
                    ev->cpu_ns, ev->mem_bytes);
    break;
  case RT_EV_FAILED:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_FAILED, NULL, ev->error,
                    ev->cpu_ns, ev->mem_bytes);
    break;
  case RT_EV_KILLED:
    rt_table_finish(rt.table, ev->id, RT_FIBRIL_KILLED, NULL, ev->error,
                    ev->cpu_ns, ev->mem_bytes);
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
  case CMD_RUN:
    if (rt_nucleus_run(rt.nucleus, c->id, c->src, c->path, c->fn, c->args,
                       c->cpu_ms, c->mem) == 0) {
      rt_table_state_set(rt.table, c->id, RT_FIBRIL_RUNNING);
    } else {
      rt_error e = {0};
      rt_error_set(&e, "WorkerDied", "no worker could take the fibril");
      rt_table_finish(rt.table, c->id, RT_FIBRIL_FAILED, NULL, &e, 0, 0);
    }
    break;
  case CMD_ANSWER: /* a fibril killed meanwhile is no longer answered */
    if (rt_nucleus_answer(rt.nucleus, c->id, c->value) == 0)
      rt_table_state_set(rt.table, c->id, RT_FIBRIL_RUNNING);
    break;
  case CMD_KILL:
    for (size_t i = 0; i < json_array_size(c->ids); i++) {
      const char *id = json_string_value(json_array_get(c->ids, i));
      rt_nucleus_kill(rt.nucleus, id, "killed by DELETE");
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
static int budget_int_or_reply(m31_req *r, json_t *b, const char *name,
                               json_int_t lo, json_int_t hi, uint64_t *out) {
  json_t *v = json_object_get(b, name);
  *out = 0;
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi) {
    reply_problem(r, 422,
                  name[0] == 'c' ? "budget.cpu_ms" : "budget.memory_bytes",
                  "budget.%s must be an integer from %lld to %lld", name,
                  (long long)lo, (long long)hi);
    return -1;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
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
  if (b && !json_is_object(b)) {
    reply_problem(r, 422, "budget", "budget must be an object");
    return -1;
  }
  if (b) {
    json_object_foreach(b, k, v) {
      if (strcmp(k, "cpu_ms") && strcmp(k, "memory_bytes")) {
        reply_problem(r, 422, "budget", "unknown budget member %s", k);
        return -1;
      }
    }
  }
  if (b && (budget_int_or_reply(r, b, "cpu_ms", 1, FIB_CPU_MS_MAX,
                                &a->cpu_ms) != 0 ||
            budget_int_or_reply(r, b, "memory_bytes", FIB_MEM_MIN,
                                (json_int_t)1 << 40, &a->mem) != 0))
    return -1;
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

/* Records and queues the fibril; answers 201. src is taken. */
static void spawn_reply(m31_req *r, const spawn_args *a, char *src, size_t len,
                        const char *fp) {
  fib_cmd *c = calloc(1, sizeof *c);
  char loc[RT_ID_MAX + 16];
  json_t *rec;
  if (!c) abort();
  if (rt_table_add(rt.table, a->parent, c->id) != 0) {
    free(src), free(c);
    reply_problem(r, 503, NULL, "cannot record the fibril");
    return;
  }
  c->kind = CMD_RUN;
  c->src = src, c->len = len;
  snprintf(c->path, sizeof c->path, "%s", fp);
  c->fn = a->fn ? strdup(a->fn) : NULL;
  c->args = a->args ? json_incref(a->args) : json_array();
  c->cpu_ms = a->cpu_ms, c->mem = a->mem;
  rec = rt_table_get(rt.table, c->id);
  snprintf(loc, sizeof loc, "/fibrils/%s", c->id);
  cmd_push(c);
  reply_header(r, "Location", loc);
  reply_json(r, 201, rec);
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
    char *src = rt_code_reg_get(rt.codes, w->a.code, &len);
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
  if ((known = rt_code_reg_get(rt.codes, fp, NULL))) {
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
