/*
 * runtime.h — M31's runtime: sandboxed mruby VMs, fibrils, and the worker
 * processes that run them. The one public header of runtime/; it exposes no
 * mruby type, so server/ and resources/ can include it. runtime/ knows
 * nothing of HTTP or LevelDB: everything it needs from the node arrives as
 * JSON (jansson) through the calls below.
 *
 * Layers, bottom up (each file has one job):
 *   vm.c          one sandboxed VM with a memory budget       rt_vm_*
 *   interchange.c Ruby value <-> json_t (runtime/interchange.h, internal)
 *   prelude.c     the embedded Ruby of runtime/prelude/ (*.rb)
 *   fibril.c      one fibril: an mruby Fiber driven by C       rt_fibril_*
 *   sched.c       the cooperative scheduler of one VM          rt_sched_*
 *   frame.c       length-prefixed JSON frames on a pipe        rt_frame_*
 *   sandbox.c     rlimits and the seccomp filter of a worker
 *   worker.c      a worker process: sandbox + scheduler + frame loop
 *   board.c       the turn board shared with the node (seqlock)
 *   nucleus.c     the node's side: N workers, deadlines, restarts
 *   error.c, fiber.c  rt_error helpers; resuming a Fiber from C
 *
 * Conventions: functions return 0 on success and -1 on failure with the
 * reason in an rt_error; pointers are borrowed unless a contract says
 * "takes" or "new". json_t arguments are borrowed (refcount unchanged)
 * unless stated; json_t results marked "new" belong to the caller.
 *
 * ------------------------------------------------------------------------
 * Worker protocol (node <-> worker). One SOCK_STREAM socketpair per worker.
 * A frame is a 4-byte big-endian length N (1 <= N <= RT_FRAME_MAX) followed
 * by N bytes of UTF-8 JSON text holding one object with a string "t" (type).
 * Ids are the node's fibril ids (strings, at most RT_ID_MAX-1 bytes).
 *
 * node -> worker
 *   {"t":"run","id":ID,"code":SRC,"path":NAME,"fn":NAME|null,"args":[...],
 *    "cpu_ms":N,"mem":BYTES}
 *       start a fibril: compile SRC (backtraces name NAME), run it; when fn
 *       is a string, then call the top-level method fn(*args). Its result
 *       is the fibril's result. cpu_ms: CPU budget over the fibril's life
 *       (0 = the worker default). mem: reserved (the VM budget applies).
 *   {"t":"answer","id":ID,"value":V}       a system call returned V
 *   {"t":"raise","id":ID,"class":C,"message":M}
 *       a system call failed: C (a StandardError subclass name; unknown
 *       names become RuntimeError) is raised in the fibril
 *   {"t":"kill","id":ID}    kill a fibril that is waiting (a running one
 *                           is stopped by the node's CPU deadline)
 * worker -> node
 *   {"t":"hello","pid":P}                  the worker is sandboxed and ready
 *   {"t":"call","id":ID,"op":OP,"args":[...]}
 *       the fibril makes system call OP (e.g. "print") and waits for an
 *       answer or raise
 *   {"t":"done","id":ID,"result":V,"cpu_ns":N}
 *   {"t":"failed","id":ID,"error":{"class":C,"message":M,"backtrace":[..]}}
 *   {"t":"killed","id":ID,"reason":R}
 * A frame that does not parse or breaks these rules ends the worker (its
 * fibrils are reported failed and it is restarted): the node trusts
 * nothing a worker says beyond the shapes above.
 * ------------------------------------------------------------------------
 */
#ifndef M31_RUNTIME_H
#define M31_RUNTIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_ID_MAX 64             /* bytes of a fibril id, with its NUL */
#define RT_FRAME_MAX (16u << 20) /* largest frame body */
#define RT_JSON_DEPTH_MAX 64     /* nesting of an interchanged value */

/** A failure: the Ruby exception class and message, or a runtime reason. */
typedef struct rt_error {
  char klass[64];    /* e.g. "TypeError"; "" when no exception */
  char message[512]; /* truncated when longer */
  json_t *backtrace; /* array of strings, or NULL; owned by the error */
} rt_error;

/** Frees what the error owns and empties it. e may be NULL. */
void rt_error_clear(rt_error *e);

/** Sets klass and message (printf-style), dropping any backtrace. */
void rt_error_set(rt_error *e, const char *klass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * The error as {"class","message","backtrace"} (refcount: new); NULL only
 * when out of memory.
 */
json_t *rt_error_json(const rt_error *e);

/* ------------------------------------------------------------------ VM */

typedef struct rt_vm rt_vm;

/**
 * A new sandboxed VM: the mruby core plus only the allow-listed gems (see
 * vm.c; no IO, File, Socket, ObjectSpace, Process), then the prelude.
 * mem_limit: bytes the VM may hold (all mruby allocations are counted);
 * past it allocation fails and Ruby sees NoMemoryError; the VM stays
 * usable. 0 means no limit. Returns NULL when the VM cannot be built
 * (out of memory, or the limit is below what the VM needs to start).
 */
rt_vm *rt_vm_new(size_t mem_limit);

/** Closes the VM and frees everything it holds. vm may be NULL. */
void rt_vm_free(rt_vm *vm);

/** Bytes currently held by the VM's heap. */
size_t rt_vm_mem_used(const rt_vm *vm);

/** Allocations refused for the budget since the VM was made. */
uint64_t rt_vm_mem_refusals(const rt_vm *vm);

/** Changes the budget (0 = none). Takes effect at the next allocation. */
void rt_vm_mem_limit_set(rt_vm *vm, size_t mem_limit);

/**
 * Compiles and runs src (len bytes, not necessarily NUL-terminated) on the
 * VM's root fiber, naming it path in backtraces and syntax errors. The
 * value is converted to JSON: *out (refcount: new) on success. On a
 * syntax error, an exception, or a value that does not convert, returns
 * -1 with err set (SyntaxError with "path:line:col: message"). A fibril
 * system call is not possible here (FiberError). For tests, the REPL and
 * loading library code.
 */
int rt_vm_eval(rt_vm *vm, const char *src, size_t len, const char *path,
               json_t **out, rt_error *err);

/* -------------------------------------------------------------- fibrils */

typedef enum rt_fibril_state {
  RT_FIBRIL_READY,   /* runnable; waiting for its turn */
  RT_FIBRIL_RUNNING, /* in its turn now */
  RT_FIBRIL_WAITING, /* made a system call; waits for rt_sched_answer */
  RT_FIBRIL_DONE,    /* finished; rt_fibril_result */
  RT_FIBRIL_FAILED,  /* raised; rt_fibril_error */
  RT_FIBRIL_KILLED,  /* stopped from outside; rt_fibril_error, class "" */
} rt_fibril_state;

/** "ready", "running", "waiting", "done", "failed" or "killed". */
const char *rt_fibril_state_name(rt_fibril_state s);

typedef struct rt_sched rt_sched;
typedef struct rt_fibril rt_fibril;

/**
 * Called by the scheduler, inside rt_sched_run, when fibril f makes system
 * call op with args (both borrowed: valid during the call only). The
 * fibril is WAITING when this is called. The host answers with
 * rt_sched_answer / rt_sched_raise, now (inside the callback) or later.
 */
typedef void (*rt_syscall_fn)(void *host, rt_fibril *f, const char *op,
                              json_t *args);

/**
 * A scheduler over vm (borrowed: it must outlive the scheduler). syscall
 * and host are kept. NULL when out of memory.
 */
rt_sched *rt_sched_new(rt_vm *vm, rt_syscall_fn syscall, void *host);

/** Frees the scheduler and every fibril it still holds. s may be NULL. */
void rt_sched_free(rt_sched *s);

/**
 * Makes a READY fibril: compiles src (len bytes; path names it in
 * backtraces); its body runs the code, then, when fn is not NULL, calls
 * the top-level method fn with args (a JSON array, borrowed; NULL = no
 * arguments). id is copied (at most RT_ID_MAX-1 bytes). cpu_budget_ns: CPU
 * time the fibril may use over all its turns (0 = unlimited); checked by
 * the scheduler at each yield, a single runaway turn is the worker's and
 * node's job. *out (borrowed, owned by the scheduler) is the fibril. A
 * syntax error or bad argument returns -1 with err set and makes nothing.
 */
int rt_sched_spawn(rt_sched *s, const char *id, const char *src, size_t len,
                   const char *path, const char *fn, json_t *args,
                   uint64_t cpu_budget_ns, rt_fibril **out, rt_error *err);

/**
 * Runs READY fibrils, one turn each in FIFO order, until none is ready.
 * Returns the number of turns run.
 */
int rt_sched_run(rt_sched *s);

/**
 * Answers the system call of WAITING fibril f with value (borrowed; NULL
 * means nil): f becomes READY and its call returns value. -1 (err set) if
 * f is not waiting or the value does not convert (then f still waits).
 */
int rt_sched_answer(rt_sched *s, rt_fibril *f, json_t *value, rt_error *err);

/**
 * Fails the system call of WAITING fibril f: f becomes READY and the call
 * raises klass (a StandardError subclass defined in the VM, else
 * RuntimeError) with message. -1 if f is not waiting.
 */
int rt_sched_raise(rt_sched *s, rt_fibril *f, const char *klass,
                   const char *message);

/**
 * Kills fibril f unless it is finished or running: state KILLED with
 * reason (copied) as the error message. -1 if f cannot be killed now.
 */
int rt_sched_kill(rt_sched *s, rt_fibril *f, const char *reason);

/** The fibril with this id, or NULL (borrowed). */
rt_fibril *rt_sched_find(rt_sched *s, const char *id);

/** Frees a finished (DONE, FAILED or KILLED) fibril; -1 if it is not. */
int rt_sched_reap(rt_sched *s, rt_fibril *f);

/** Number of fibrils held (any state). */
size_t rt_sched_count(const rt_sched *s);

const char *rt_fibril_id(const rt_fibril *f);
rt_fibril_state rt_fibril_state_get(const rt_fibril *f);
/** The result of a DONE fibril (borrowed; NULL in any other state). */
json_t *rt_fibril_result(const rt_fibril *f);
/** The error of a FAILED or KILLED fibril (borrowed; NULL otherwise). */
const rt_error *rt_fibril_error(const rt_fibril *f);
/** CPU time used by the fibril's turns so far, in nanoseconds. */
uint64_t rt_fibril_cpu_ns(const rt_fibril *f);
/** Host data slot, untouched by the runtime (NULL at spawn). */
void *rt_fibril_host_get(const rt_fibril *f);
void rt_fibril_host_set(rt_fibril *f, void *data);

/* --------------------------------------------------------------- frames */

/**
 * Writes msg as one frame on fd, retrying short writes and EINTR.
 * -1 (errno set) on failure or when the text passes RT_FRAME_MAX.
 */
int rt_frame_write(int fd, const json_t *msg);

/**
 * Reads one frame from fd: *out (refcount: new) is the JSON object. Returns
 * 0, or 1 at a clean end of stream (no byte of a new frame), or -1 on a
 * read error, a truncated frame, an oversized length, or text that is not
 * a JSON object with a string "t".
 */
int rt_frame_read(int fd, json_t **out);

/* -------------------------------------------------------------- workers */

/** What a worker process may use. Zero fields take the defaults. */
typedef struct rt_worker_limits {
  size_t vm_mem;          /* VM heap budget, bytes (default 64 MiB) */
  size_t as_bytes;        /* RLIMIT_AS (default vm_mem + 256 MiB) */
  unsigned cpu_total_s;   /* RLIMIT_CPU of the worker's life (default 3600) */
  uint64_t fibril_cpu_ms; /* default fibril CPU budget (default 1000) */
} rt_worker_limits;

/**
 * The body of a worker process, run in a fresh child (never returns):
 * closes every fd but fd, sets rlimits, loads the seccomp filter, builds
 * a VM and serves the protocol above on fd until end of stream. board is
 * the worker's slot of the shared turn board (see nucleus.c); borrowed.
 * Exits 0 at end of stream, 1 when it cannot start.
 */
struct rt_turn_board;
void rt_worker_main(int fd, const rt_worker_limits *limits,
                    struct rt_turn_board *board) __attribute__((noreturn));

/* -------------------------------------------------------------- nucleus */

typedef struct rt_nucleus rt_nucleus;

/** What a nucleus tells its host. Strings and JSON are borrowed. */
typedef enum rt_event_kind {
  RT_EV_CALL,   /* fibril made system call op(args); answer it */
  RT_EV_DONE,   /* fibril finished with result */
  RT_EV_FAILED, /* fibril raised: error */
  RT_EV_KILLED, /* fibril was killed: error->message is the reason */
} rt_event_kind;

typedef struct rt_event {
  rt_event_kind kind;
  const char *id;        /* the fibril */
  const char *op;        /* RT_EV_CALL */
  json_t *args;          /* RT_EV_CALL: array */
  json_t *result;        /* RT_EV_DONE */
  const rt_error *error; /* RT_EV_FAILED, RT_EV_KILLED */
  int worker;            /* index of the worker that ran it */
} rt_event;

/**
 * Receives events inside rt_nucleus_poll. ev is valid during the call; the
 * callback may call rt_nucleus_run/answer/raise.
 */
typedef void (*rt_event_fn)(void *host, const rt_event *ev);

typedef struct rt_nucleus_opts {
  int workers;             /* number of worker processes (default 2) */
  rt_worker_limits limits; /* passed to each worker */
  unsigned grace_ms;       /* slack over a turn's CPU deadline (default 50) */
} rt_nucleus_opts;

/**
 * Starts the workers (forked from this process; each is ready, sandboxed,
 * when this returns). Call it while the process has a single thread: the
 * workers, and restarts in rt_nucleus_poll, are forked from the caller
 * (a zygote process for a threaded node is still to come). Not
 * thread-safe: one thread drives a nucleus. opts may be NULL (defaults);
 * on and host are kept. NULL on failure (reason logged to stderr).
 */
rt_nucleus *rt_nucleus_new(const rt_nucleus_opts *opts, rt_event_fn on,
                           void *host);

/** Stops the workers and the zygote, frees the nucleus. n may be NULL. */
void rt_nucleus_free(rt_nucleus *n);

/**
 * Sends a fibril to the least loaded worker: see the "run" frame. id, src,
 * path and fn are copied into the frame; args (array or NULL) borrowed.
 * cpu_ms 0 means the default budget. -1 when no worker can take it.
 */
int rt_nucleus_run(rt_nucleus *n, const char *id, const char *src,
                   const char *path, const char *fn, json_t *args,
                   uint64_t cpu_ms);

/** Answers the system call of fibril id with value (borrowed). */
int rt_nucleus_answer(rt_nucleus *n, const char *id, json_t *value);

/** Fails the system call of fibril id with klass and message. */
int rt_nucleus_raise(rt_nucleus *n, const char *id, const char *klass,
                     const char *message);

/**
 * Waits up to timeout_ms (-1 = forever, 0 = just look) for worker frames,
 * delivers them as events, kills a worker whose running fibril passed its
 * CPU deadline (that fibril: RT_EV_KILLED "cpu budget exceeded"), and
 * restarts dead workers (their other fibrils: RT_EV_FAILED, class
 * "WorkerDied"). Returns the number of events delivered, -1 on error.
 */
int rt_nucleus_poll(rt_nucleus *n, int timeout_ms);

/** Pid of worker i (for tests and /sys), or -1. */
pid_t rt_nucleus_worker_pid(const rt_nucleus *n, int i);

/** Number of fibrils in flight (sent, not yet finished). */
size_t rt_nucleus_inflight(const rt_nucleus *n);

#endif
