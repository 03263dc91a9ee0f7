/*
 * sched.c — the cooperative scheduler of one VM, and the fibril record.
 *
 * A turn resumes one READY fibril until it yields a system call [op, args]
 * (it becomes WAITING and the host's callback gets the call), finishes
 * (DONE with its result as JSON) or raises (FAILED). The host answers
 * with rt_sched_answer/raise, which queues the fibril with the value to
 * resume it with: [true, value] or [false, exception] (M31.call in
 * runtime/prelude/sys.rb returns or raises it).
 *
 * GC: a fibril's Fiber and its pending resume value live across turns with
 * no Ruby reference to them, so both are mrb_gc_register'ed while held
 * and unregistered as soon as they are not.
 */
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/error.h>
#include <mruby/hash.h>
#include <mruby/variable.h>
#include <mruby/string.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interchange.h"
#include "runtime/internal.h"

struct rt_fibril {
  char id[RT_ID_MAX];
  rt_fibril_state state;
  mrb_value fiber; /* registered until the fibril finishes */
  mrb_value arg;   /* resume value; registered while has_arg */
  mrb_value ctx;   /* M31.ctx during its turns (a Hash); registered */
  int has_arg;
  json_t *result; /* DONE: refcount owned */
  rt_error error; /* FAILED, KILLED */
  uint64_t cpu_ns, cpu_budget_ns;
  size_t mem_budget, mem_peak; /* bytes over a turn's starting heap */
  void *host;
  rt_fibril *prev, *next; /* every fibril of the scheduler */
  rt_fibril *ready_next;  /* FIFO of READY fibrils */
};

struct rt_sched {
  rt_vm *vm;
  rt_syscall_fn syscall;
  void *host;
  struct rt_turn_board *board; /* NULL outside a worker */
  uint64_t cpu_mark; /* the CPU clock at the end of the last turn of this
                        rt_sched_run (or its start) */
  rt_fibril *all;
  rt_fibril *ready_head, *ready_tail;
  size_t count;
};

const char *rt_fibril_state_name(rt_fibril_state s) {
  static const char *const names[] = {
      [RT_FIBRIL_READY] = "ready",     [RT_FIBRIL_RUNNING] = "running",
      [RT_FIBRIL_WAITING] = "waiting", [RT_FIBRIL_DONE] = "done",
      [RT_FIBRIL_FAILED] = "failed",   [RT_FIBRIL_KILLED] = "killed"};
  return (unsigned)s < 6 ? names[s] : "?";
}

rt_sched *rt_sched_new(rt_vm *vm, rt_syscall_fn syscall, void *host) {
  rt_sched *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->vm = vm;
  s->syscall = syscall;
  s->host = host;
  return s;
}

void rt_sched_board_set(rt_sched *s, struct rt_turn_board *board) {
  s->board = board;
}

static void ready_push(rt_sched *s, rt_fibril *f) {
  f->state = RT_FIBRIL_READY;
  f->ready_next = NULL;
  if (s->ready_tail)
    s->ready_tail->ready_next = f;
  else
    s->ready_head = f;
  s->ready_tail = f;
}

static rt_fibril *ready_pop(rt_sched *s) {
  rt_fibril *f = s->ready_head;
  if (!f) return NULL;
  s->ready_head = f->ready_next;
  if (!s->ready_head) s->ready_tail = NULL;
  f->ready_next = NULL;
  return f;
}

/* Sets the value the next resume passes in (registered until then). */
static void arg_set(rt_sched *s, rt_fibril *f, mrb_value v) {
  mrb_state *mrb = s->vm->mrb;
  if (f->has_arg) mrb_gc_unregister(mrb, f->arg);
  f->arg = v;
  f->has_arg = 1;
  mrb_gc_register(mrb, v);
}

static void arg_drop(rt_sched *s, rt_fibril *f) {
  if (!f->has_arg) return;
  mrb_gc_unregister(s->vm->mrb, f->arg);
  f->has_arg = 0;
  f->arg = mrb_nil_value();
}

/* Ends the fibril: drops its Ruby objects; the record stays to be read. */
static void finish(rt_sched *s, rt_fibril *f, rt_fibril_state state) {
  arg_drop(s, f);
  if (!mrb_nil_p(f->ctx)) mrb_gc_unregister(s->vm->mrb, f->ctx);
  f->ctx = mrb_nil_value();
  if (!mrb_nil_p(f->fiber)) mrb_gc_unregister(s->vm->mrb, f->fiber);
  f->fiber = mrb_nil_value();
  f->state = state;
}

static void fibril_free(rt_sched *s, rt_fibril *f) {
  if (f->state != RT_FIBRIL_DONE && f->state != RT_FIBRIL_FAILED &&
      f->state != RT_FIBRIL_KILLED)
    finish(s, f, RT_FIBRIL_KILLED);
  if (f->prev)
    f->prev->next = f->next;
  else
    s->all = f->next;
  if (f->next) f->next->prev = f->prev;
  s->count--;
  json_decref(f->result);
  rt_error_clear(&f->error);
  free(f);
}

void rt_sched_free(rt_sched *s) {
  if (!s) return;
  while (s->all)
    fibril_free(s, s->all);
  free(s);
}

static rt_fibril *fibril_alloc(rt_sched *s, const char *id) {
  rt_fibril *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  snprintf(f->id, sizeof f->id, "%s", id);
  f->fiber = mrb_nil_value();
  f->arg = mrb_nil_value();
  f->ctx = mrb_nil_value();
  f->next = s->all;
  if (s->all) s->all->prev = f;
  s->all = f;
  s->count++;
  return f;
}

int rt_sched_spawn_proc(rt_sched *s, const char *id, mrb_value proc,
                        const char *fn, json_t *args, uint64_t cpu_budget_ns,
                        rt_fibril **out, rt_error *err) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  int ret = -1;
  mrb_value argv = mrb_nil_value(), fiber;
  rt_fibril *f;
  if (!id || strlen(id) >= RT_ID_MAX || rt_sched_find(s, id)) {
    rt_error_set(err, "ArgumentError", "fibril id missing, too long or in use");
    goto Exit;
  }
  if (args && !json_is_array(args)) {
    rt_error_set(err, "ArgumentError", "args must be an array");
    goto Exit;
  }
  if (args && rt_json_to_value(mrb, args, &argv, err) != 0) goto Exit;
  if (rt_fiber_new(s->vm, proc, fn, argv, &fiber, err) != 0) goto Exit;
  if (!(f = fibril_alloc(s, id))) {
    rt_error_set(err, "NoMemoryError", "out of memory");
    goto Exit;
  }
  f->fiber = fiber;
  mrb_gc_register(mrb, fiber);
  f->ctx = mrb_hash_new(mrb);
  mrb_hash_set(mrb, f->ctx, mrb_str_new_lit(mrb, "id"),
               mrb_str_new_cstr(mrb, id));
  mrb_gc_register(mrb, f->ctx);
  f->cpu_budget_ns = cpu_budget_ns;
  ready_push(s, f);
  *out = f;
  ret = 0;
Exit:
  mrb_gc_arena_restore(mrb, ai);
  return ret;
}

int rt_sched_spawn(rt_sched *s, const char *id, const char *src, size_t len,
                   const char *path, const char *fn, json_t *args,
                   uint64_t cpu_budget_ns, rt_fibril **out, rt_error *err) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  int ret = -1;
  mrb_value proc;
  if (!id || strlen(id) >= RT_ID_MAX || rt_sched_find(s, id)) {
    rt_error_set(err, "ArgumentError", "fibril id missing, too long or in use");
    goto Exit;
  }
  if (rt_vm_compile(s->vm, src, len, path, &proc, err) != 0) goto Exit;
  ret = rt_sched_spawn_proc(s, id, proc, fn, args, cpu_budget_ns, out, err);
Exit:
  mrb_gc_arena_restore(mrb, ai);
  return ret;
}

/* The StandardError subclass named klass (a top-level constant), or
 * RuntimeError. Never raises. */
static struct RClass *error_class(mrb_state *mrb, const char *klass) {
  struct RClass *obj = mrb->object_class;
  mrb_value k;
  if (klass[0] < 'A' || klass[0] > 'Z' ||
      strspn(klass, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789_") != strlen(klass) ||
      !mrb_const_defined(mrb, mrb_obj_value(obj), mrb_intern_cstr(mrb, klass)))
    return E_RUNTIME_ERROR;
  k = mrb_const_get(mrb, mrb_obj_value(obj), mrb_intern_cstr(mrb, klass));
  if (mrb_class_p(k))
    for (struct RClass *c = mrb_class_ptr(k); c; c = c->super)
      if (c == mrb->eStandardError_class) return mrb_class_ptr(k);
  return E_RUNTIME_ERROR;
}

/* Resumes f with [false, exc] (exc of class klass) at its next turn. */
static void fail_call(rt_sched *s, rt_fibril *f, const char *klass,
                      const char *message) {
  mrb_state *mrb = s->vm->mrb;
  mrb_value pair[2];
  pair[0] = mrb_false_value();
  pair[1] = mrb_exc_new_str(mrb, error_class(mrb, klass),
                            mrb_str_new_cstr(mrb, message));
  arg_set(s, f, mrb_ary_new_from_values(mrb, 2, pair));
  ready_push(s, f);
}

/* Is v a system call [String, Array]? */
static int is_call(mrb_value v) {
  return mrb_array_p(v) && RARRAY_LEN(v) == 2 &&
         mrb_string_p(RARRAY_PTR(v)[0]) && mrb_array_p(RARRAY_PTR(v)[1]);
}

static void on_yield(rt_sched *s, rt_fibril *f, mrb_value v) {
  mrb_state *mrb = s->vm->mrb;
  json_t *args = NULL;
  rt_error err = {0};
  char op[64];
  if (f->cpu_budget_ns && f->cpu_ns > f->cpu_budget_ns) {
    finish(s, f, RT_FIBRIL_KILLED);
    rt_error_set(&f->error, "", "cpu budget exceeded");
    return;
  }
  if (!is_call(v)) { /* a bare Fiber.yield: it cannot be resumed sanely */
    finish(s, f, RT_FIBRIL_FAILED);
    rt_error_set(&f->error, "FiberError",
                 "a fibril yields only through M31.call");
    return;
  }
  mrb_value name = RARRAY_PTR(v)[0];
  snprintf(op, sizeof op, "%.*s", (int)RSTRING_LEN(name), RSTRING_PTR(name));
  if (rt_value_to_json(mrb, RARRAY_PTR(v)[1], &args, &err) != 0) {
    fail_call(s, f, "TypeError", err.message);
    rt_error_clear(&err);
    return;
  }
  f->state = RT_FIBRIL_WAITING;
  s->syscall(s->host, f, op, args);
  json_decref(args);
}

static void on_done(rt_sched *s, rt_fibril *f, mrb_value v) {
  if (rt_value_to_json(s->vm->mrb, v, &f->result, &f->error) != 0) {
    /* the message reads "value: cannot convert ..." */
    finish(s, f, RT_FIBRIL_FAILED);
    return;
  }
  finish(s, f, RT_FIBRIL_DONE);
}

static void board_publish(rt_sched *s, rt_fibril *f, uint64_t cpu_now) {
  uint64_t left;
  if (!s->board) return;
  if (!f) {
    rt_board_publish(s->board, "", 0);
    return;
  }
  left = f->cpu_budget_ns > f->cpu_ns ? f->cpu_budget_ns - f->cpu_ns : 1;
  rt_board_publish(s->board, f->id,
                   f->cpu_budget_ns ? cpu_now + left : UINT64_MAX);
}

/* What M31.ctx answers during the turn (runtime/prelude/sys.rb). */
static void ctx_publish(rt_sched *s, mrb_value ctx) {
  mrb_state *mrb = s->vm->mrb;
  s->vm->ctx = ctx; /* for C methods (combine.c); the ivar keeps it alive */
  if (s->vm->m31)
    mrb_iv_set(mrb, mrb_obj_value(s->vm->m31), mrb_intern_lit(mrb, "@ctx"),
               ctx);
}

static void turn(rt_sched *s, rt_fibril *f) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  mrb_value v;
  /* One read of the CPU clock per turn (a system call, most of a turn's
   * cost): a turn starts where the last one ended, so what the scheduler
   * did in between (the last call's conversion and frame) is counted to
   * this fibril. */
  uint64_t t0 = s->cpu_mark, t1;
  rt_vm *vm = s->vm;
  size_t limit0 = vm->limit, used0 = vm->used;
  /* The memory budget caps what the heap may grow by during the turn. */
  if (f->mem_budget && (!limit0 || used0 + f->mem_budget < limit0))
    vm->limit = used0 + f->mem_budget;
  vm->peak = used0;
  f->state = RT_FIBRIL_RUNNING;
  board_publish(s, f, t0);
  ctx_publish(s, f->ctx);
  rt_step step = rt_fiber_step(mrb, f->fiber, f->has_arg, f->arg, &v);
  ctx_publish(s, mrb_nil_value());
  t1 = rt_cpu_ns();
  f->cpu_ns += t1 - t0;
  s->cpu_mark = t1;
  board_publish(s, NULL, 0);
  vm->limit = limit0;
  if (vm->peak - used0 > f->mem_peak) f->mem_peak = vm->peak - used0;
  arg_drop(s, f);
  switch (step) {
  case RT_STEP_YIELD:
    on_yield(s, f, v);
    break;
  case RT_STEP_DONE:
    on_done(s, f, v);
    break;
  case RT_STEP_RAISE:
    rt_error_from_exc(mrb, v, &f->error);
    finish(s, f, RT_FIBRIL_FAILED);
    break;
  }
  mrb_gc_arena_restore(mrb, ai);
}

int rt_sched_run(rt_sched *s) {
  int turns = 0;
  rt_fibril *f;
  if (s->ready_head) s->cpu_mark = rt_cpu_ns();
  while ((f = ready_pop(s))) {
    turn(s, f);
    turns++;
  }
  return turns;
}

int rt_sched_answer(rt_sched *s, rt_fibril *f, json_t *value, rt_error *err) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  int ret = -1;
  mrb_value v, pair[2];
  if (f->state != RT_FIBRIL_WAITING) {
    rt_error_set(err, "ArgumentError", "fibril %s is not waiting", f->id);
    goto Exit;
  }
  if (rt_json_to_value(mrb, value, &v, err) != 0) goto Exit;
  pair[0] = mrb_true_value();
  pair[1] = v;
  arg_set(s, f, mrb_ary_new_from_values(mrb, 2, pair));
  ready_push(s, f);
  ret = 0;
Exit:
  mrb_gc_arena_restore(mrb, ai);
  return ret;
}

int rt_sched_raise(rt_sched *s, rt_fibril *f, const char *klass,
                   const char *message) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  if (f->state != RT_FIBRIL_WAITING) return -1;
  fail_call(s, f, klass ? klass : "RuntimeError", message ? message : "");
  mrb_gc_arena_restore(mrb, ai);
  return 0;
}

int rt_sched_kill(rt_sched *s, rt_fibril *f, const char *reason) {
  if (f->state != RT_FIBRIL_READY && f->state != RT_FIBRIL_WAITING) return -1;
  if (f->state == RT_FIBRIL_READY) { /* unlink from the ready queue */
    rt_fibril **p = &s->ready_head, *last = NULL;
    while (*p && *p != f)
      last = *p, p = &(*p)->ready_next;
    if (*p) *p = f->ready_next;
    if (s->ready_tail == f) s->ready_tail = last;
  }
  finish(s, f, RT_FIBRIL_KILLED);
  rt_error_set(&f->error, "", "%s", reason ? reason : "killed");
  return 0;
}

rt_fibril *rt_sched_find(rt_sched *s, const char *id) {
  for (rt_fibril *f = s->all; f; f = f->next)
    if (strcmp(f->id, id) == 0) return f;
  return NULL;
}

int rt_sched_reap(rt_sched *s, rt_fibril *f) {
  if (f->state != RT_FIBRIL_DONE && f->state != RT_FIBRIL_FAILED &&
      f->state != RT_FIBRIL_KILLED)
    return -1;
  fibril_free(s, f);
  return 0;
}

int rt_fibril_ctx_set(rt_sched *s, rt_fibril *f, const char *key, json_t *value,
                      rt_error *err) {
  mrb_state *mrb = s->vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  mrb_value v;
  if (mrb_nil_p(f->ctx)) {
    rt_error_set(err, "ArgumentError", "fibril %s has finished", f->id);
    return -1;
  }
  if (rt_json_to_value(mrb, value, &v, err) != 0) {
    mrb_gc_arena_restore(mrb, ai);
    return -1;
  }
  mrb_hash_set(mrb, f->ctx, mrb_str_new_cstr(mrb, key), v);
  mrb_gc_arena_restore(mrb, ai);
  return 0;
}

size_t rt_sched_count(const rt_sched *s) { return s->count; }
const char *rt_fibril_id(const rt_fibril *f) { return f->id; }
rt_fibril_state rt_fibril_state_get(const rt_fibril *f) { return f->state; }
uint64_t rt_fibril_cpu_ns(const rt_fibril *f) { return f->cpu_ns; }
size_t rt_fibril_mem_peak(const rt_fibril *f) { return f->mem_peak; }
void rt_fibril_mem_budget_set(rt_fibril *f, size_t bytes) {
  f->mem_budget = bytes;
}
void *rt_fibril_host_get(const rt_fibril *f) { return f->host; }
void rt_fibril_host_set(rt_fibril *f, void *data) { f->host = data; }

json_t *rt_fibril_result(const rt_fibril *f) {
  return f->state == RT_FIBRIL_DONE ? f->result : NULL;
}

const rt_error *rt_fibril_error(const rt_fibril *f) {
  return f->state == RT_FIBRIL_FAILED || f->state == RT_FIBRIL_KILLED
             ? &f->error
             : NULL;
}
