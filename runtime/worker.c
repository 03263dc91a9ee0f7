/*
 * worker.c — a worker process: one sandboxed VM and its scheduler, serving
 * the frame protocol of runtime.h on one socket. Single-threaded: it runs
 * every ready fibril, reports the ones that finished, then blocks reading
 * the next frame. A fibril's system call is a "call" frame; the fibril
 * waits until an "answer" or "raise" frame names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

#define CACHE_MAX 128 /* compiled procs kept, by fingerprint */

typedef struct cached {
  char fp[RT_FP_LEN];
  mrb_value proc; /* registered while cached */
} cached;

/* A REPL session's VM: its own globals and definitions (see session.c's
 * callers in runtime.h: "run" frames with a "session"). */
typedef struct session {
  char name[RT_ID_MAX];
  rt_vm *vm;
  rt_sched *s;
  mrb_value nil_proc; /* the body of its fibrils (they only call fn) */
} session;

typedef struct live {
  rt_fibril *f;
  rt_sched *s;
} live;

typedef struct worker {
  int fd;
  cached cache[CACHE_MAX];
  int ncache;
  uint64_t compiles; /* sources compiled for "run" frames */
  rt_sched *s;
  rt_vm *vm;
  live *live; /* fibrils not yet reported finished */
  size_t nlive, cap;
  uint64_t default_cpu_ns;
  session *sess;
  size_t nsess;
  size_t vm_mem; /* budget of each VM */
  struct rt_turn_board *board;
} worker;

void rt_worker_limits_fill(rt_worker_limits *l) {
  if (!l->vm_mem) l->vm_mem = 256u << 20;
  if (!l->as_bytes) l->as_bytes = l->vm_mem + (256u << 20);
  if (!l->cpu_total_s) l->cpu_total_s = 3600;
  if (!l->fibril_cpu_ms) l->fibril_cpu_ms = 1000;
}

static void send_or_die(worker *w, json_t *msg) {
  int rc = msg ? rt_frame_write(w->fd, msg) : -1;
  json_decref(msg);
  if (rc != 0) _exit(1); /* the node is gone or the frame is broken */
}

static void on_call(void *ud, rt_fibril *f, const char *op, json_t *args) {
  worker *w = ud;
  send_or_die(w, json_pack("{s:s, s:s, s:s, s:O}", "t", "call", "id",
                           rt_fibril_id(f), "op", op, "args", args));
}

static json_t *finished_msg(worker *w, rt_fibril *f) {
  const char *id = rt_fibril_id(f);
  json_int_t cpu = (json_int_t)rt_fibril_cpu_ns(f);
  json_int_t mem = (json_int_t)rt_fibril_mem_peak(f);
  json_int_t compiles = (json_int_t)w->compiles;
  switch (rt_fibril_state_get(f)) {
  case RT_FIBRIL_DONE:
    return json_pack("{s:s, s:s, s:O, s:I, s:I, s:I}", "t", "done", "id", id,
                     "result", rt_fibril_result(f), "cpu_ns", cpu, "mem", mem,
                     "compiles", compiles);
  case RT_FIBRIL_FAILED:
    return json_pack("{s:s, s:s, s:o, s:I, s:I}", "t", "failed", "id", id,
                     "error", rt_error_json(rt_fibril_error(f)), "cpu_ns", cpu,
                     "mem", mem);
  case RT_FIBRIL_KILLED:
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "t", "killed", "id", id,
                     "reason", rt_fibril_error(f)->message, "cpu_ns", cpu,
                     "mem", mem);
  default:
    return NULL;
  }
}

/* Reports and frees every finished fibril. */
static void report(worker *w) {
  size_t i = 0;
  while (i < w->nlive) {
    live *l = &w->live[i];
    json_t *msg = finished_msg(w, l->f);
    if (!msg) {
      i++;
      continue;
    }
    send_or_die(w, msg);
    rt_sched_reap(l->s, l->f);
    *l = w->live[--w->nlive];
  }
}

static void live_add(worker *w, rt_fibril *f, rt_sched *s) {
  if (w->nlive == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    live *v = realloc(w->live, cap * sizeof *v);
    if (!v) _exit(1);
    w->live = v, w->cap = cap;
  }
  w->live[w->nlive++] = (live){f, s};
}

/* The fibril id in any of the worker's schedulers, and its scheduler. */
static rt_fibril *find(worker *w, const char *id, rt_sched **s) {
  rt_fibril *f;
  if ((f = rt_sched_find(w->s, id))) {
    *s = w->s;
    return f;
  }
  for (size_t i = 0; i < w->nsess; i++)
    if ((f = rt_sched_find(w->sess[i].s, id))) {
      *s = w->sess[i].s;
      return f;
    }
  return NULL;
}

static void spawn_failed(worker *w, const char *id, rt_error *err) {
  send_or_die(w, json_pack("{s:s, s:s, s:o}", "t", "failed", "id", id, "error",
                           rt_error_json(err)));
  rt_error_clear(err);
}

/*
 * The compiled proc of code: code named by its fingerprint (path, as the
 * node sends registered code) is compiled once per worker and kept, so a
 * spawn by fingerprint compiles nothing. The node is trusted to name code
 * by its true fingerprint. At CACHE_MAX procs the cache starts over.
 */
static int proc_for(worker *w, const char *code, size_t len, const char *path,
                    mrb_value *proc, rt_error *err) {
  mrb_state *mrb = rt_vm_mrb(w->vm);
  int cacheable = rt_code_fingerprint_valid(path);
  for (int i = 0; cacheable && i < w->ncache; i++)
    if (strcmp(w->cache[i].fp, path) == 0) {
      *proc = w->cache[i].proc;
      return 0;
    }
  if (rt_vm_compile(w->vm, code, len, path, proc, err) != 0) return -1;
  w->compiles++;
  if (!cacheable) return 0;
  if (w->ncache == CACHE_MAX) {
    for (int i = 0; i < w->ncache; i++)
      mrb_gc_unregister(mrb, w->cache[i].proc);
    w->ncache = 0;
  }
  snprintf(w->cache[w->ncache].fp, RT_FP_LEN, "%s", path);
  w->cache[w->ncache].proc = *proc;
  mrb_gc_register(mrb, *proc);
  w->ncache++;
  return 0;
}

/* Puts the members of the run frame's ctx in the fibril's context; one
 * that does not convert fails the fibril before it runs. */
static void ctx_fill(rt_sched *s, rt_fibril *f, json_t *ctx) {
  const char *k;
  json_t *v;
  rt_error err = {0};
  json_object_foreach(ctx, k, v) {
    if (rt_fibril_ctx_set(s, f, k, v, &err) != 0) {
      rt_sched_kill(s, f, err.message);
      rt_error_clear(&err);
      return;
    }
  }
}

/* Session name's VM, made (with its prelude) at first use; NULL when no
 * VM can be built (out of memory). */
static session *session_get(worker *w, const char *name) {
  session *x;
  rt_error err = {0};
  for (size_t i = 0; i < w->nsess; i++)
    if (strcmp(w->sess[i].name, name) == 0) return &w->sess[i];
  if (!(x = realloc(w->sess, (w->nsess + 1) * sizeof *x))) return NULL;
  w->sess = x;
  x = &w->sess[w->nsess];
  memset(x, 0, sizeof *x);
  snprintf(x->name, sizeof x->name, "%s", name);
  if (!(x->vm = rt_vm_new(w->vm_mem))) return NULL;
  if (!(x->s = rt_sched_new(x->vm, on_call, w)) ||
      rt_vm_compile(x->vm, "nil", 3, "(session)", &x->nil_proc, &err) != 0) {
    rt_sched_free(x->s);
    rt_vm_free(x->vm);
    rt_error_clear(&err);
    return NULL;
  }
  mrb_gc_register(rt_vm_mrb(x->vm), x->nil_proc);
  rt_sched_board_set(x->s, w->board);
  w->nsess++;
  return x;
}

/* A "run" frame naming a session: fn(*args) in the session's VM. */
static void on_run_session(worker *w, json_t *m) {
  const char *id = json_string_value(json_object_get(m, "id"));
  const char *name = json_string_value(json_object_get(m, "session"));
  const char *fn = json_string_value(json_object_get(m, "fn"));
  json_int_t cpu_ms = json_integer_value(json_object_get(m, "cpu_ms"));
  json_int_t mem = json_integer_value(json_object_get(m, "mem"));
  json_t *args = json_object_get(m, "args");
  session *x;
  rt_error err = {0};
  rt_fibril *f;
  if (!id || !name || !fn) _exit(1);
  if (!(x = session_get(w, name))) {
    rt_error_set(&err, "NoMemoryError", "cannot make the session's VM");
    spawn_failed(w, id, &err);
    return;
  }
  if (rt_sched_spawn_proc(
          x->s, id, x->nil_proc, fn, json_is_array(args) ? args : NULL,
          cpu_ms > 0 ? (uint64_t)cpu_ms * 1000000u : w->default_cpu_ns, &f,
          &err) != 0) {
    spawn_failed(w, id, &err);
    return;
  }
  if (mem > 0) rt_fibril_mem_budget_set(f, (size_t)mem);
  live_add(w, f, x->s);
  ctx_fill(x->s, f, json_object_get(m, "ctx"));
}

/* Ends session name: its fibrils are reported killed, its VM freed. */
static void on_drop(worker *w, const char *name) {
  for (size_t i = 0; name && i < w->nsess; i++) {
    session *x = &w->sess[i];
    if (strcmp(x->name, name) != 0) continue;
    for (size_t k = 0; k < w->nlive;) {
      live *l = &w->live[k];
      if (l->s != x->s) {
        k++;
        continue;
      }
      rt_sched_kill(x->s, l->f, "session ended");
      if (rt_fibril_state_get(l->f) != RT_FIBRIL_KILLED) /* mid-turn: never */
        _exit(1);
      send_or_die(w, finished_msg(w, l->f));
      rt_sched_reap(x->s, l->f);
      *l = w->live[--w->nlive];
    }
    mrb_gc_unregister(rt_vm_mrb(x->vm), x->nil_proc);
    rt_sched_free(x->s);
    rt_vm_free(x->vm);
    w->sess[i] = w->sess[--w->nsess];
    return;
  }
}

static void on_run(worker *w, json_t *m) {
  const char *id = json_string_value(json_object_get(m, "id"));
  const char *code = json_string_value(json_object_get(m, "code"));
  const char *path = json_string_value(json_object_get(m, "path"));
  const char *fn = json_string_value(json_object_get(m, "fn"));
  json_int_t cpu_ms = json_integer_value(json_object_get(m, "cpu_ms"));
  json_int_t mem = json_integer_value(json_object_get(m, "mem"));
  json_t *args = json_object_get(m, "args");
  rt_error err = {0};
  rt_fibril *f;
  if (json_object_get(m, "session")) return on_run_session(w, m);
  if (!id || !code) _exit(1);
  mrb_state *mrb = rt_vm_mrb(w->vm);
  int ai = mrb_gc_arena_save(mrb), rc;
  mrb_value proc;
  rc = proc_for(w, code, json_string_length(json_object_get(m, "code")),
                path ? path : "(fibril)", &proc, &err);
  if (rc == 0)
    rc = rt_sched_spawn_proc(
        w->s, id, proc, fn, json_is_array(args) ? args : NULL,
        cpu_ms > 0 ? (uint64_t)cpu_ms * 1000000u : w->default_cpu_ns, &f, &err);
  mrb_gc_arena_restore(mrb, ai);
  if (rc != 0) {
    spawn_failed(w, id, &err);
    return;
  }
  if (mem > 0) rt_fibril_mem_budget_set(f, (size_t)mem);
  live_add(w, f, w->s);
  ctx_fill(w->s, f, json_object_get(m, "ctx"));
}

/* Compiles code without running it: answers "checked" with the syntax
 * error, or null. */
static void on_check(worker *w, json_t *m) {
  const char *id = json_string_value(json_object_get(m, "id"));
  json_t *code = json_object_get(m, "code");
  const char *path = json_string_value(json_object_get(m, "path"));
  mrb_state *mrb = rt_vm_mrb(w->vm);
  int ai = mrb_gc_arena_save(mrb);
  rt_error err = {0};
  mrb_value proc;
  if (!id || !json_is_string(code)) _exit(1);
  if (rt_vm_compile(w->vm, json_string_value(code), json_string_length(code),
                    path ? path : "(code)", &proc, &err) == 0)
    send_or_die(
        w, json_pack("{s:s, s:s, s:n}", "t", "checked", "id", id, "error"));
  else
    send_or_die(w, json_pack("{s:s, s:s, s:o}", "t", "checked", "id", id,
                             "error", rt_error_json(&err)));
  mrb_gc_arena_restore(mrb, ai);
  rt_error_clear(&err);
}

static void on_frame(worker *w, json_t *m) {
  const char *t = json_string_value(json_object_get(m, "t"));
  const char *id = json_string_value(json_object_get(m, "id"));
  rt_sched *s = NULL;
  rt_fibril *f = id ? find(w, id, &s) : NULL;
  rt_error err = {0};
  if (strcmp(t, "run") == 0) return on_run(w, m);
  if (strcmp(t, "check") == 0) return on_check(w, m);
  if (strcmp(t, "drop") == 0)
    return on_drop(w, json_string_value(json_object_get(m, "session")));
  if (!f) return; /* finished meanwhile: the node will hear of it */
  if (strcmp(t, "answer") == 0) {
    if (rt_sched_answer(s, f, json_object_get(m, "value"), &err) != 0 &&
        rt_fibril_state_get(f) == RT_FIBRIL_WAITING)
      rt_sched_raise(s, f, err.klass, err.message);
  } else if (strcmp(t, "raise") == 0) {
    rt_sched_raise(s, f, json_string_value(json_object_get(m, "class")),
                   json_string_value(json_object_get(m, "message")));
  } else if (strcmp(t, "kill") == 0) {
    rt_sched_kill(s, f, "killed");
  }
  rt_error_clear(&err);
}

void rt_worker_main(int fd, const rt_worker_limits *limits,
                    struct rt_turn_board *board) {
  rt_worker_limits l = *limits;
  worker w = {.fd = fd};
  rt_vm *vm;
  json_t *m;
  int r;
  rt_worker_limits_fill(&l);
  w.default_cpu_ns = l.fibril_cpu_ms * 1000000u;
  if (rt_sandbox_enter(fd, &l) != 0) _exit(1);
  if (!(vm = rt_vm_new(l.vm_mem)) || !(w.s = rt_sched_new(vm, on_call, &w)))
    _exit(1);
  w.vm = vm;
  w.vm_mem = l.vm_mem;
  w.board = board;
  rt_sched_board_set(w.s, board);
  send_or_die(&w, json_pack("{s:s, s:i}", "t", "hello", "pid", (int)getpid()));
  for (;;) {
    rt_sched_run(w.s);
    for (size_t i = 0; i < w.nsess; i++)
      rt_sched_run(w.sess[i].s);
    report(&w);
    if ((r = rt_frame_read(fd, &m)) != 0) _exit(r == 1 ? 0 : 1);
    on_frame(&w, m);
    json_decref(m);
  }
}
