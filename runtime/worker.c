/*
 * worker.c — a worker process: one sandboxed VM and its scheduler, serving
 * the frame protocol of runtime.h on one socket. Single-threaded: it runs
 * every ready fibril, reports the ones that finished, then blocks reading
 * the next frame. A fibril's system call is a "call" frame; the fibril
 * waits until an "answer" or "raise" frame names it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

typedef struct worker {
  int fd;
  rt_sched *s;
  rt_fibril **live; /* fibrils not yet reported finished */
  size_t nlive, cap;
  uint64_t default_cpu_ns;
} worker;

void rt_worker_limits_fill(rt_worker_limits *l) {
  if (!l->vm_mem) l->vm_mem = 64u << 20;
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

static json_t *finished_msg(rt_fibril *f) {
  const char *id = rt_fibril_id(f);
  switch (rt_fibril_state_get(f)) {
  case RT_FIBRIL_DONE:
    return json_pack("{s:s, s:s, s:O, s:I}", "t", "done", "id", id, "result",
                     rt_fibril_result(f), "cpu_ns",
                     (json_int_t)rt_fibril_cpu_ns(f));
  case RT_FIBRIL_FAILED:
    return json_pack("{s:s, s:s, s:o}", "t", "failed", "id", id, "error",
                     rt_error_json(rt_fibril_error(f)));
  case RT_FIBRIL_KILLED:
    return json_pack("{s:s, s:s, s:s}", "t", "killed", "id", id, "reason",
                     rt_fibril_error(f)->message);
  default:
    return NULL;
  }
}

/* Reports and frees every finished fibril. */
static void report(worker *w) {
  size_t i = 0;
  while (i < w->nlive) {
    rt_fibril *f = w->live[i];
    json_t *msg = finished_msg(f);
    if (!msg) {
      i++;
      continue;
    }
    send_or_die(w, msg);
    rt_sched_reap(w->s, f);
    w->live[i] = w->live[--w->nlive];
  }
}

static void spawn_failed(worker *w, const char *id, rt_error *err) {
  send_or_die(w, json_pack("{s:s, s:s, s:o}", "t", "failed", "id", id, "error",
                           rt_error_json(err)));
  rt_error_clear(err);
}

static void on_run(worker *w, json_t *m) {
  const char *id = json_string_value(json_object_get(m, "id"));
  const char *code = json_string_value(json_object_get(m, "code"));
  const char *path = json_string_value(json_object_get(m, "path"));
  const char *fn = json_string_value(json_object_get(m, "fn"));
  json_int_t cpu_ms = json_integer_value(json_object_get(m, "cpu_ms"));
  json_t *args = json_object_get(m, "args");
  rt_error err = {0};
  rt_fibril *f;
  if (!id || !code) _exit(1);
  if (w->nlive == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    rt_fibril **live = realloc(w->live, cap * sizeof *live);
    if (!live) _exit(1);
    w->live = live, w->cap = cap;
  }
  if (rt_sched_spawn(
          w->s, id, code, json_string_length(json_object_get(m, "code")),
          path ? path : "(fibril)", fn, json_is_array(args) ? args : NULL,
          cpu_ms > 0 ? (uint64_t)cpu_ms * 1000000u : w->default_cpu_ns, &f,
          &err) != 0) {
    spawn_failed(w, id, &err);
    return;
  }
  w->live[w->nlive++] = f;
}

static void on_frame(worker *w, json_t *m) {
  const char *t = json_string_value(json_object_get(m, "t"));
  const char *id = json_string_value(json_object_get(m, "id"));
  rt_fibril *f = id ? rt_sched_find(w->s, id) : NULL;
  rt_error err = {0};
  if (strcmp(t, "run") == 0) return on_run(w, m);
  if (!f) return; /* finished meanwhile: the node will hear of it */
  if (strcmp(t, "answer") == 0) {
    if (rt_sched_answer(w->s, f, json_object_get(m, "value"), &err) != 0 &&
        rt_fibril_state_get(f) == RT_FIBRIL_WAITING)
      rt_sched_raise(w->s, f, err.klass, err.message);
  } else if (strcmp(t, "raise") == 0) {
    rt_sched_raise(w->s, f, json_string_value(json_object_get(m, "class")),
                   json_string_value(json_object_get(m, "message")));
  } else if (strcmp(t, "kill") == 0) {
    rt_sched_kill(w->s, f, "killed");
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
  rt_sched_board_set(w.s, board);
  send_or_die(&w, json_pack("{s:s, s:i}", "t", "hello", "pid", (int)getpid()));
  for (;;) {
    rt_sched_run(w.s);
    report(&w);
    if ((r = rt_frame_read(fd, &m)) != 0) _exit(r == 1 ? 0 : 1);
    on_frame(&w, m);
    json_decref(m);
  }
}
