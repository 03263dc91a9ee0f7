/*
 * internal.h — what the files of runtime/ share and nothing outside needs:
 * the VM's struct, mruby-level helpers, the prelude table, the turn board.
 * Unit tests include it (and may include a .c) to reach these.
 */
#ifndef M31_RUNTIME_INTERNAL_H
#define M31_RUNTIME_INTERNAL_H

#include <mruby.h>
#include <stdatomic.h>

#include "runtime/runtime.h"

struct rt_vm {
  mrb_state *mrb;
  size_t used;        /* bytes held, by malloc_usable_size */
  size_t peak;        /* highest used since the last reset (a turn) */
  size_t limit;       /* 0 = none */
  uint64_t refusals;  /* allocations refused for the budget */
  struct RClass *m31; /* module M31 (the prelude's) */
  mrb_value ctx;      /* M31.ctx of the fibril in its turn, or nil */
};

/** The VM's mruby state (borrowed). */
mrb_state *rt_vm_mrb(rt_vm *vm);

/**
 * Compiles src as a top-level proc of this VM, callable from Ruby, without
 * running it: *proc is new in the GC arena (register it to keep it). -1
 * with err (SyntaxError "path:line:col: message") on failure.
 */
int rt_vm_compile(rt_vm *vm, const char *src, size_t len, const char *path,
                  mrb_value *proc, rt_error *err);

/**
 * Fills err from exception exc: class, message, backtrace. Calls into
 * Ruby under protection; never raises. Does not touch mrb->exc.
 */
void rt_error_from_exc(mrb_state *mrb, mrb_value exc, rt_error *err);

/**
 * If mrb->exc is set: fills err from it, clears it and returns -1;
 * else returns 0.
 */
int rt_exc_take(mrb_state *mrb, rt_error *err);

/** How one resume of a fiber ended. */
typedef enum rt_step {
  RT_STEP_YIELD, /* the fiber yielded *v */
  RT_STEP_DONE,  /* the fiber finished with *v */
  RT_STEP_RAISE, /* an exception *v escaped the fiber */
} rt_step;

/**
 * A new fiber (in the GC arena) that runs proc, then fn(*args) when fn is
 * not NULL (M31.fibril in the prelude). -1 with err on failure.
 */
int rt_fiber_new(rt_vm *vm, mrb_value proc, const char *fn, mrb_value args,
                 mrb_value *fiber, rt_error *err);

/**
 * Resumes fiber with arg (or no argument when has_arg is 0), under
 * protection: never raises, leaves mrb->exc NULL. *v is in the GC arena.
 */
rt_step rt_fiber_step(mrb_state *mrb, mrb_value fiber, int has_arg,
                      mrb_value arg, mrb_value *v);

/**
 * rt_sched_spawn from code compiled already: proc is a top-level proc of
 * this scheduler's VM (from rt_vm_compile; borrowed, the fibril keeps it
 * alive). Same contract otherwise.
 */
int rt_sched_spawn_proc(rt_sched *s, const char *id, mrb_value proc,
                        const char *fn, json_t *args, uint64_t cpu_budget_ns,
                        rt_fibril **out, rt_error *err);

/** Points the scheduler at the worker's turn board (NULL = none). */
void rt_sched_board_set(rt_sched *s, struct rt_turn_board *board);

/**
 * Sandboxes the calling process (a new worker): closes every fd but fd,
 * sets rlimits from l (filled, no zero fields), loads the seccomp filter.
 * -1 if any step fails (the caller must then exit).
 */
int rt_sandbox_enter(int fd, const rt_worker_limits *l);

/** Fills the zero fields of l with the defaults of runtime.h. */
void rt_worker_limits_fill(rt_worker_limits *l);

/** Defines M31::FS.__combine (combine.c), the C half of fs.rb's
 *  combined increments. */
void rt_combine_init(mrb_state *mrb);

/** Defines M31::REPL.__check and .__interchangeable? (repl.c). */
void rt_repl_init(mrb_state *mrb);

/** One embedded Ruby file of runtime/prelude/. */
typedef struct rt_prelude_file {
  const char *path; /* pseudo-path shown in backtraces */
  const char *src;
  const unsigned long *len;
} rt_prelude_file;

/** The prelude files in load order, ended by a zeroed entry. */
extern const rt_prelude_file rt_prelude_files[];

/**
 * Defines module M31::Jam (jam.c: unzip, words, count, and class
 * M31::Jam::Error) in a VM being built by vm.c. May raise (out of
 * memory): call it under protection. jam.c finds the VM's rt_vm, for its
 * budget, as the allocator's ud of mrb (every VM is built so).
 */
void rt_jam_init(mrb_state *mrb);

/** Monotonic and thread-CPU clocks, in nanoseconds. */
uint64_t rt_now_ns(void);
uint64_t rt_cpu_ns(void);

/*
 * The turn board: one slot per worker in a MAP_SHARED page made by the
 * nucleus before the zygote forks. The worker (sole writer) publishes the
 * fibril in its turn and that turn's CPU deadline, under a sequence lock
 * (odd seq = being written); the node reads it to kill a runaway turn
 * without a message per switch. cpu_deadline_ns is on the worker's
 * process CPU clock; 0 means no fibril is running.
 */
struct rt_turn_board {
  _Atomic uint64_t seq;
  _Atomic uint64_t cpu_deadline_ns;
  char id[RT_ID_MAX];
};

/** Publishes "fibril id runs until deadline" (deadline 0 = idle). */
void rt_board_publish(struct rt_turn_board *b, const char *id,
                      uint64_t cpu_deadline_ns);

/** Reads a consistent copy: id into id[RT_ID_MAX], deadline returned. */
uint64_t rt_board_read(struct rt_turn_board *b, char id[RT_ID_MAX]);

#endif
