/*
 * runtime_switch.c — what a fibril switch and a fibril spawn cost inside
 * one VM, against a plain mruby method call in the same VM. Links
 * $(BUILD)/libm31.a and drives runtime/ through its internal API (no
 * worker process, no node, no sandbox):
 *
 *   call      a Ruby `while` loop calling an empty method, timed with
 *             Time.now inside the VM (run by rt_vm_eval): ns per call
 *   loop      the same loop with no call (the loop's own share, shown for
 *             context; it is included in every Ruby-side figure)
 *   rfiber    Fiber#resume + Fiber.yield from Ruby (a Ruby loop resuming a
 *             fiber that loops on Fiber.yield), for context
 *   step      rt_fiber_step from C on a fiber whose body loops on
 *             Fiber.yield: one resume and one yield (runtime/fiber.c)
 *   cpuclock  one rt_cpu_ns() (clock_gettime of the process CPU clock, a
 *             real system call: no vDSO serves it); a turn reads it twice
 *   turn      a full scheduler turn: a fibril spawned with rt_sched_spawn
 *             loops on M31.call("noop") (Fiber.yield(["noop", []])), the
 *             host's system-call callback answers at once with
 *             rt_sched_answer, rt_sched_run resumes it: the fibril's
 *             turn, its CPU accounting, the call's args as JSON and the
 *             answer back as [true, nil]
 *   spawn_B   rt_sched_spawn_proc of a compiled proc (fn "noop"), in
 *             batches of B fibrils held at once: ns per spawn
 *   life_B    the same, spawn + the fibril's one turn (it calls noop and
 *             ends) + rt_sched_reap: ns per fibril
 *
 *   runtime_switch [--n N] [--spawn N] [--runs R]
 *
 * N: iterations of call, loop, rfiber, step and turn (default 1,000,000);
 * --spawn: fibrils per spawn measurement (default 20,000); R: rounds
 * (default 3), each measuring everything once in the order above. Prints
 * one line "name median_ns min_ns max_ns" per measurement (ns per
 * operation, over the R rounds) on stdout. Exit 1 on any runtime error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runtime/internal.h"

#include <mruby.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 15
#define BATCHES 2

static const size_t batch_sizes[BATCHES] = {100, 1000};

/* Loaded once into the VM: the method and the loops timed by rt_vm_eval. */
static const char bench_rb[] =
    "def __bench_noop; end\n"
    "def __bench_calls(n)\n"
    "  i = 0\n"
    "  t0 = Time.now\n"
    "  while i < n\n"
    "    __bench_noop\n"
    "    i += 1\n"
    "  end\n"
    "  Time.now - t0\n"
    "end\n"
    "def __bench_loop(n)\n"
    "  i = 0\n"
    "  t0 = Time.now\n"
    "  while i < n\n"
    "    i += 1\n"
    "  end\n"
    "  Time.now - t0\n"
    "end\n"
    "def __bench_rfiber(n)\n"
    "  f = Fiber.new { while true; Fiber.yield; end }\n"
    "  i = 0\n"
    "  t0 = Time.now\n"
    "  while i < n\n"
    "    f.resume\n"
    "    i += 1\n"
    "  end\n"
    "  Time.now - t0\n"
    "end\n"
    "true\n";

static const char spin_rb[] = "def spin(n)\n"
                              "  i = 0\n"
                              "  while i < n\n"
                              "    M31.call(\"noop\")\n"
                              "    i += 1\n"
                              "  end\n"
                              "  i\n"
                              "end\n";

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, const rt_error *e) {
  fprintf(stderr, "runtime_switch: %s: %s: %s\n", what, e ? e->klass : "",
          e ? e->message : "");
  exit(1);
}

/* Runs a timing method of bench_rb: ns per iteration. */
static double ruby_timed(rt_vm *vm, const char *method, long n) {
  char src[96];
  json_t *out = NULL;
  rt_error err = {0};
  int len = snprintf(src, sizeof src, "%s(%ld)", method, n);
  if (rt_vm_eval(vm, src, (size_t)len, "(bench)", &out, &err) != 0)
    die(method, &err);
  double s = json_number_value(out);
  json_decref(out);
  return s * 1e9 / (double)n;
}

/* rt_fiber_step on a fiber looping on Fiber.yield: ns per resume+yield. */
static double fiber_step(rt_vm *vm, long n) {
  static const char body[] = "while true; Fiber.yield; end";
  mrb_state *mrb = rt_vm_mrb(vm);
  int ai = mrb_gc_arena_save(mrb);
  mrb_value proc, fiber, v;
  rt_error err = {0};
  if (rt_vm_compile(vm, body, sizeof body - 1, "(step)", &proc, &err) != 0 ||
      rt_fiber_new(vm, proc, NULL, mrb_nil_value(), &fiber, &err) != 0)
    die("fiber", &err);
  mrb_gc_register(mrb, fiber);
  mrb_gc_arena_restore(mrb, ai);
  /* the first resume starts the body: not timed */
  if (rt_fiber_step(mrb, fiber, 0, mrb_nil_value(), &v) != RT_STEP_YIELD)
    die("fiber did not yield", NULL);
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int a = mrb_gc_arena_save(mrb);
    if (rt_fiber_step(mrb, fiber, 0, mrb_nil_value(), &v) != RT_STEP_YIELD)
      die("fiber did not yield", NULL);
    mrb_gc_arena_restore(mrb, a);
  }
  double t = now_ns() - t0;
  mrb_gc_unregister(mrb, fiber);
  return t / (double)n;
}

typedef struct host {
  rt_sched *s;
  long calls;
} host;

/* Answers every system call at once, inside rt_sched_run. */
static void answer_now(void *h, rt_fibril *f, const char *op, json_t *args) {
  host *ho = h;
  rt_error err = {0};
  (void)op, (void)args;
  ho->calls++;
  if (rt_sched_answer(ho->s, f, NULL, &err) != 0) die("rt_sched_answer", &err);
}

/* A fibril making n system calls, each answered at once: ns per turn. */
static double sched_turn(rt_vm *vm, long n) {
  host h = {0};
  rt_fibril *f;
  rt_error err = {0};
  json_t *args = json_pack("[I]", (json_int_t)n);
  if (!(h.s = rt_sched_new(vm, answer_now, &h))) die("rt_sched_new", NULL);
  if (rt_sched_spawn(h.s, "spin", spin_rb, sizeof spin_rb - 1, "(spin)", "spin",
                     args, 0, &f, &err) != 0)
    die("rt_sched_spawn", &err);
  json_decref(args);
  double t0 = now_ns();
  int turns = rt_sched_run(h.s);
  double t = now_ns() - t0;
  if (rt_fibril_state_get(f) != RT_FIBRIL_DONE || h.calls != n ||
      turns != n + 1)
    die("the spinning fibril did not end as expected", rt_fibril_error(f));
  rt_sched_free(h.s);
  return t / (double)(n + 1);
}

static void no_syscall(void *h, rt_fibril *f, const char *op, json_t *args) {
  (void)h, (void)f, (void)args;
  fprintf(stderr, "runtime_switch: unexpected system call %s\n", op);
  exit(1);
}

/* total fibrils spawned in batches of batch held at once; *spawn_ns: ns
 * per rt_sched_spawn_proc, *life_ns: per spawn + turn + reap. */
static void spawn_batches(rt_vm *vm, size_t batch, long total, double *spawn_ns,
                          double *life_ns) {
  static const char noop_rb[] = "def noop; end";
  mrb_state *mrb = rt_vm_mrb(vm);
  rt_sched *s = rt_sched_new(vm, no_syscall, NULL);
  rt_fibril **fs = calloc(batch, sizeof *fs);
  mrb_value proc;
  rt_error err = {0};
  double t_spawn = 0, t0, t1;
  long done = 0;
  if (!s || !fs) die("out of memory", NULL);
  int ai = mrb_gc_arena_save(mrb);
  if (rt_vm_compile(vm, noop_rb, sizeof noop_rb - 1, "(noop)", &proc, &err))
    die("compile", &err);
  mrb_gc_register(mrb, proc);
  mrb_gc_arena_restore(mrb, ai);
  t0 = now_ns();
  while (done < total) {
    char id[32];
    double ts = now_ns();
    for (size_t i = 0; i < batch; i++) {
      snprintf(id, sizeof id, "f%zu", i);
      if (rt_sched_spawn_proc(s, id, proc, "noop", NULL, 0, &fs[i], &err))
        die("rt_sched_spawn_proc", &err);
    }
    t_spawn += now_ns() - ts;
    rt_sched_run(s);
    for (size_t i = 0; i < batch; i++) {
      if (rt_fibril_state_get(fs[i]) != RT_FIBRIL_DONE)
        die("a noop fibril did not finish", rt_fibril_error(fs[i]));
      rt_sched_reap(s, fs[i]);
    }
    done += (long)batch;
  }
  t1 = now_ns();
  mrb_gc_unregister(mrb, proc);
  rt_sched_free(s);
  free(fs);
  *spawn_ns = t_spawn / (double)done;
  *life_ns = (t1 - t0) / (double)done;
}

/* rt_cpu_ns, the clock a scheduler turn reads twice: ns per read. */
static double cpu_clock(long n) {
  volatile uint64_t sink = 0;
  double t0 = now_ns();
  for (long i = 0; i < n; i++)
    sink += rt_cpu_ns();
  (void)sink;
  return (now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int runs) {
  qsort(v, (size_t)runs, sizeof *v, cmp_double);
  printf("%s %.1f %.1f %.1f\n", name, v[(runs - 1) / 2], v[0], v[runs - 1]);
}

enum {
  M_CALL,
  M_LOOP,
  M_RFIBER,
  M_STEP,
  M_CLOCK,
  M_TURN,
  M_SPAWN,
  M_N = M_SPAWN + 2 * BATCHES
};

int main(int argc, char **argv) {
  long n = 1000000, nspawn = 20000;
  int runs = 3;
  double v[M_N][MAX_RUNS];
  json_t *out = NULL;
  rt_error err = {0};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--n"))
      n = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--spawn"))
      nspawn = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs"))
      runs = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: runtime_switch [--n N] [--spawn N] [--runs R]\n");
      return 2;
    }
  }
  if (n < 1 || nspawn < 1000 || runs < 1 || runs > MAX_RUNS) {
    fprintf(stderr, "runtime_switch: --n >= 1, --spawn >= 1000, --runs 1..%d\n",
            MAX_RUNS);
    return 2;
  }
  rt_vm *vm = rt_vm_new(0);
  if (!vm) die("rt_vm_new", NULL);
  if (rt_vm_eval(vm, bench_rb, sizeof bench_rb - 1, "(bench)", &out, &err))
    die("loading the bench methods", &err);
  json_decref(out);
  /* warm-up: heap pages, method caches */
  ruby_timed(vm, "__bench_calls", n / 10 + 1);
  fiber_step(vm, n / 10 + 1);
  sched_turn(vm, n / 10 + 1);
  for (int r = 0; r < runs; r++) {
    v[M_CALL][r] = ruby_timed(vm, "__bench_calls", n);
    v[M_LOOP][r] = ruby_timed(vm, "__bench_loop", n);
    v[M_RFIBER][r] = ruby_timed(vm, "__bench_rfiber", n);
    v[M_STEP][r] = fiber_step(vm, n);
    v[M_CLOCK][r] = cpu_clock(n / 10 + 1);
    v[M_TURN][r] = sched_turn(vm, n);
    for (int b = 0; b < BATCHES; b++)
      spawn_batches(vm, batch_sizes[b], nspawn, &v[M_SPAWN + 2 * b][r],
                    &v[M_SPAWN + 2 * b + 1][r]);
  }
  report("call", v[M_CALL], runs);
  report("loop", v[M_LOOP], runs);
  report("rfiber", v[M_RFIBER], runs);
  report("step", v[M_STEP], runs);
  report("cpuclock", v[M_CLOCK], runs);
  report("turn", v[M_TURN], runs);
  for (int b = 0; b < BATCHES; b++) {
    char name[32];
    snprintf(name, sizeof name, "spawn_%zu", batch_sizes[b]);
    report(name, v[M_SPAWN + 2 * b], runs);
    snprintf(name, sizeof name, "life_%zu", batch_sizes[b]);
    report(name, v[M_SPAWN + 2 * b + 1], runs);
  }
  rt_vm_free(vm);
  return 0;
}
