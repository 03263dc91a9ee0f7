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
 *   zygote.c      the single-threaded process that forks workers
 *   code.c        SHA-256 fingerprints and the code registry
 *   table.c       the node's records of its fibrils (HTTP's view)
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
 *    "cpu_ms":N,"mem":BYTES,"ctx":{...}}
 *       start a fibril: compile SRC (backtraces name NAME), run it; when fn
 *       is a string, then call the top-level method fn(*args). Its result
 *       is the fibril's result. cpu_ms: CPU budget over the fibril's life
 *       (0 = the worker default). mem: bytes the VM heap may grow by during
 *       one turn of the fibril (0 = only the VM budget applies). ctx
 *       (optional): members put in the fibril's context (M31.ctx).
 *   {"t":"answer","id":ID,"value":V}       a system call returned V
 *   {"t":"raise","id":ID,"class":C,"message":M}
 *       a system call failed: C (a StandardError subclass name; unknown
 *       names become RuntimeError) is raised in the fibril
 *   {"t":"run","id":ID,"session":S,"fn":NAME,"args":[...],"cpu_ms":N,
 *    "mem":BYTES,"ctx":{...}}
 *       start a fibril in session S: a VM of its own in this worker (made
 *       at the first run naming S, with the prelude), calling its
 *       top-level method fn(*args); no code is sent
 *   {"t":"drop","session":S}   kill S's fibrils ("killed", reason "session
 *                              ended") and free its VM
 *   {"t":"kill","id":ID}    kill a fibril that is waiting (a running one
 *                           is stopped by the node's CPU deadline)
 *   {"t":"check","id":ID,"code":SRC,"path":NAME}
 *       compile SRC without running it (ID names the check, not a fibril)
 * worker -> node
 *   {"t":"hello","pid":P}                  the worker is sandboxed and ready
 *   {"t":"call","id":ID,"op":OP,"args":[...]}
 *       the fibril makes system call OP (e.g. "print") and waits for an
 *       answer or raise
 *   {"t":"done","id":ID,"result":V,"cpu_ns":N,"mem":B,"compiles":C}
 *       (C: sources this worker compiled for runs so far; code whose path
 *       is its fingerprint is compiled once per worker and kept)
 *   {"t":"failed","id":ID,"error":{"class":C,"message":M,"backtrace":[..]},
 *    "cpu_ns":N,"mem":B}
 *   {"t":"killed","id":ID,"reason":R,"cpu_ns":N,"mem":B}
 *       cpu_ns: CPU used; mem: the most the heap grew by in one turn
 *   {"t":"checked","id":ID,"error":{...}|null}   the answer to "check"
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
/** The most the VM heap grew by during one of the fibril's turns. */
size_t rt_fibril_mem_peak(const rt_fibril *f);
/**
 * Caps what the VM heap may grow by during each turn of f (0 = only the
 * VM's budget): past it allocation fails and Ruby sees NoMemoryError.
 */
void rt_fibril_mem_budget_set(rt_fibril *f, size_t bytes);
/**
 * Sets ctx[key] = value (borrowed JSON) in the fibril's context, the Hash
 * its Ruby reads as M31.ctx during its turns (it holds "id" from spawn;
 * the prelude keeps its per-fibril state there, "parent" among it). -1
 * with err when f has finished or value does not convert.
 */
int rt_fibril_ctx_set(rt_sched *s, rt_fibril *f, const char *key, json_t *value,
                      rt_error *err);

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
 * msg as one frame's bytes, length prefix included (new, free it; its
 * size in *len). NULL (errno set) when it does not encode or passes
 * RT_FRAME_MAX.
 */
char *rt_frame_encode(const json_t *msg, size_t *len);

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
  size_t vm_mem;          /* VM heap budget, bytes (default 256 MiB) */
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
  RT_EV_CALL,         /* fibril made system call op(args); answer it */
  RT_EV_DONE,         /* fibril finished with result */
  RT_EV_FAILED,       /* fibril raised: error */
  RT_EV_KILLED,       /* fibril was killed: error->message is the reason */
  RT_EV_CHECKED,      /* a check ended: error NULL (compiles) or SyntaxError */
  RT_EV_SESSION_LOST, /* session id died with its worker (after its
                         fibrils' events); run in it again to remake it */
} rt_event_kind;

typedef struct rt_event {
  rt_event_kind kind;
  const char *id;        /* the fibril */
  const char *op;        /* RT_EV_CALL */
  json_t *args;          /* RT_EV_CALL: array */
  json_t *result;        /* RT_EV_DONE */
  const rt_error *error; /* RT_EV_FAILED, RT_EV_KILLED */
  int worker;            /* index of the worker that ran it */
  uint64_t cpu_ns;       /* DONE, FAILED, KILLED: CPU used (0 if unknown) */
  uint64_t mem_bytes;    /* same: heap growth peak in one turn */
} rt_event;

/**
 * Receives events inside rt_nucleus_poll. ev is valid during the call; the
 * callback may call rt_nucleus_run/answer/raise.
 */
typedef void (*rt_event_fn)(void *host, const rt_event *ev);

/* ---------------------------------------------------------------- zygote */

typedef struct rt_zygote rt_zygote;

/**
 * Forks the zygote: a single-threaded process that forks workers for a
 * threaded node (see zygote.c). Call it before the process makes any
 * thread. slots: how many workers it may run at once (one turn board
 * each); limits (copied; NULL = defaults) go to every worker. NULL on
 * failure (errno set).
 */
rt_zygote *rt_zygote_new(int slots, const rt_worker_limits *limits);

/** Ends the zygote and its workers, waits for it, frees z. z may be NULL. */
void rt_zygote_free(rt_zygote *z);

/**
 * Has the zygote fork a worker on board slot; *pid is its pid and *fd
 * (new, close-on-exec) the node's end of its socket. Thread-safe. -1 with
 * errno on failure.
 */
int rt_zygote_spawn(rt_zygote *z, int slot, pid_t *pid, int *fd);

/** Waits for worker pid (a child of the zygote) to end; *status as
 *  waitpid's (status may be NULL). -1 with errno on failure. */
int rt_zygote_wait(rt_zygote *z, pid_t pid, int *status);

/** The turn board of slot (borrowed), or NULL. */
struct rt_turn_board *rt_zygote_board(rt_zygote *z, int slot);
int rt_zygote_slots(const rt_zygote *z);
pid_t rt_zygote_pid(const rt_zygote *z);

typedef struct rt_nucleus_opts {
  int workers;             /* number of worker processes (default 2) */
  rt_zygote *zygote;       /* borrowed; when set, workers come from it,
                              workers = its slots and its limits apply */
  rt_worker_limits limits; /* passed to each worker */
  unsigned grace_ms;       /* slack over a turn's CPU deadline (default 50) */
} rt_nucleus_opts;

/**
 * Starts the workers (each is ready, sandboxed, when this returns): from
 * opts->zygote when set, else forked from this process, which must then
 * have a single thread (restarts in rt_nucleus_poll fork too). Not
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
                   uint64_t cpu_ms, uint64_t mem_bytes);

/**
 * rt_nucleus_run with ctx (a JSON object, borrowed; NULL = none): each of
 * its members is put in the fibril's context before it first runs (the
 * "ctx" member of the "run" frame; see rt_fibril_ctx_set).
 */
int rt_nucleus_run_ctx(rt_nucleus *n, const char *id, const char *src,
                       const char *path, const char *fn, json_t *args,
                       uint64_t cpu_ms, uint64_t mem_bytes, json_t *ctx);

/**
 * Runs fibril id in session (a VM of its own on one worker, made at its
 * first run there, kept until rt_nucleus_session_drop: a REPL session, or
 * fibrils spawned from it): calls the top-level method fn(*args) of that
 * VM (no code is sent); ctx as rt_nucleus_run_ctx. The session's worker
 * is chosen at its first run. -1 when no worker can take it.
 */
int rt_nucleus_run_session(rt_nucleus *n, const char *session, const char *id,
                           const char *fn, json_t *args, uint64_t cpu_ms,
                           uint64_t mem_bytes, json_t *ctx);

/** Ends session: its worker kills its fibrils (each reported killed,
 *  reason "session ended") and frees its VM. -1 if unknown. */
int rt_nucleus_session_drop(rt_nucleus *n, const char *session);

/**
 * Kills fibril id: a waiting or ready one through a "kill" frame (an
 * RT_EV_KILLED follows); one in its turn by ending its worker, which is
 * restarted: that fibril is RT_EV_KILLED with reason, the worker's other
 * fibrils RT_EV_FAILED "WorkerDied". -1 if no worker holds id.
 */
int rt_nucleus_kill(rt_nucleus *n, const char *id, const char *reason);

/**
 * Has a worker compile src (len bytes) without running it; the answer is
 * an RT_EV_CHECKED event named id (an id space apart from fibrils'; if
 * the worker dies first, RT_EV_FAILED). -1 when no worker can take it.
 */
int rt_nucleus_check(rt_nucleus *n, const char *id, const char *src, size_t len,
                     const char *path);

/**
 * fd (borrowed; -1 = none) is polled with the workers: when it is
 * readable rt_nucleus_poll returns early, so another thread can wake the
 * thread driving the nucleus (it must drain fd itself).
 */
void rt_nucleus_wake_fd_set(rt_nucleus *n, int fd);

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

/* ----------------------------------------------------------------- code */

#define RT_FP_LEN 72 /* "sha256:" + 64 hex + NUL */

/** SHA-256 of len bytes of data into out. */
void rt_sha256(const void *data, size_t len, unsigned char out[32]);

/** The fingerprint "sha256:<64 lower-case hex>" of src. */
void rt_code_fingerprint(const char *src, size_t len, char fp[RT_FP_LEN]);

/** 1 when fp is a well-formed fingerprint, else 0. */
int rt_code_fingerprint_valid(const char *fp);

/** Source text by fingerprint, in memory, thread-safe. */
typedef struct rt_code_reg rt_code_reg;

rt_code_reg *rt_code_reg_new(void);
void rt_code_reg_free(rt_code_reg *r);

/**
 * Keeps a copy of src (len bytes) under its fingerprint (into fp);
 * *created is 1 when it was not there. -1 when out of memory.
 */
int rt_code_reg_put(rt_code_reg *r, const char *src, size_t len,
                    char fp[RT_FP_LEN], int *created);

/** A new NUL-terminated copy of the source of fp (free it), its length
 *  in *len (may be NULL); NULL when unknown or fp is malformed. */
char *rt_code_reg_get(rt_code_reg *r, const char *fp, size_t *len);

size_t rt_code_reg_count(rt_code_reg *r);

/* ---------------------------------------------------------- fibril table */

/**
 * The node's records of its fibrils (table.c), thread-safe. Ids are
 * "<node>-<hex counter>"; records stay for the node's life.
 */
typedef struct rt_table rt_table;

/** A table whose ids start with node (copied, at most RT_ID_MAX-18
 *  bytes). NULL when node is longer or out of memory. */
rt_table *rt_table_new(const char *node);
void rt_table_free(rt_table *t);

/**
 * A new READY record, child of parent (an id, or NULL); its id into id.
 * -1 when parent is unknown or out of memory.
 */
int rt_table_add(rt_table *t, const char *parent, char id[RT_ID_MAX]);

/** Moves an unfinished fibril to state s; -1 if unknown or finished. */
int rt_table_state_set(rt_table *t, const char *id, rt_fibril_state s);

/**
 * Finishes fibril id in s (DONE, FAILED or KILLED) with result (DONE;
 * borrowed, kept with a new reference) or err (FAILED: copied as JSON;
 * KILLED: err->message is the reason), and what it used. -1 if unknown,
 * already finished, or s is not final.
 */
int rt_table_finish(rt_table *t, const char *id, rt_fibril_state s,
                    json_t *result, const rt_error *err, uint64_t cpu_ns,
                    uint64_t mem_bytes);

/**
 * Adds member key = value (taken) to the record as the HTTP API shows it;
 * members of the record itself win over one of the same name. -1 if id is
 * unknown (value is still released).
 */
int rt_table_extra_set(rt_table *t, const char *id, const char *key,
                       json_t *value);

/** A copy of member key added by rt_table_extra_set (new), or NULL: a
 *  cheap read of one member of a record with many children. */
json_t *rt_table_extra_get(rt_table *t, const char *id, const char *key);

/** The record as the HTTP API shows it (refcount: new), or NULL. */
json_t *rt_table_get(rt_table *t, const char *id);

/**
 * Up to limit records (new array) from index after on, oldest first,
 * only in state (or any when state < 0) and only children of parent
 * (when not NULL; an unknown parent gives none). *next: the index to
 * continue from, 0 when there is no more.
 */
json_t *rt_table_list(rt_table *t, int state, const char *parent, size_t after,
                      size_t limit, size_t *next);

/** id and all its descendants, parents first (new array; empty if
 *  unknown). */
json_t *rt_table_tree(rt_table *t, const char *id);

/** Records in state (any when state < 0). */
size_t rt_table_count(rt_table *t, int state);

/**
 * Told of a change of a record: rec is the record after it, as
 * rt_table_get answers it (borrowed: copy what you keep). It runs on the
 * thread that made the change, with the table's lock held, so the calls
 * come in the order of the changes; it must not block and must not call
 * any rt_table_* function.
 */
typedef void (*rt_table_watch_fn)(void *ud, const json_t *rec);

/**
 * Sets the watch callback (NULL: none). It is called when a record changes
 * state (rt_table_state_set to another state, rt_table_finish) and when
 * rt_table_extra_set changes a record it was called for before. A new
 * record (rt_table_add) is not reported at once: it is reported, in its
 * first state, just before its first change of state, so the report holds
 * what rt_table_extra_set added to it meanwhile (its spawner fills it in
 * right after rt_table_add).
 */
void rt_table_watch_set(rt_table *t, rt_table_watch_fn fn, void *ud);

/**
 * Sets a test of whether anyone looks (NULL: always). While want(ud) is 0
 * a change builds no record: the watch callback gets rec NULL instead (a
 * gap: what was not reported is lost to a later resume). A record with a
 * thousand children makes every report of it cost as much, so an unwatched
 * table should not pay it at every state change.
 */
void rt_table_watch_want_set(rt_table *t, int (*want)(void *ud));

#endif
