/*
 * resources.h — one file per URI family (fs.c, sys.c, openapi.c, code.c,
 * fibrils.c, ...); each parses and validates a request, calls the store or
 * the runtime, and shapes the answer.
 * The route table (routes.c) names every handler.
 */
#ifndef M31_RESOURCES_H
#define M31_RESOURCES_H

#include "server/server.h"
#include "runtime/channel.h"
#include "store/store.h"

/**
 * Starts what must exist before the process makes any thread: the zygote
 * that forks the worker processes (resources/fibrils.c). Call it first.
 * Returns 0, or -1 with a sentence in errbuf.
 */
int resources_preinit(const m31_config *cfg, char *errbuf, size_t errlen);

/**
 * Opens what the resources serve (the store in <cfg->data>/db). Returns 0,
 * or -1 with a sentence in errbuf. The config is borrowed for the node's life.
 */
int resources_init(const m31_config *cfg, char *errbuf, size_t errlen);

/**
 * Before the HTTP daemon stops: ends every wait on a channel (long-polls
 * and event streams answer at once), so no parked connection holds the
 * stop up.
 */
void resources_quiesce(void);

/** Closes the store after its queued writes are durable. */
void resources_shutdown(void);

/** The node's store (borrowed; valid between init and shutdown). */
store *resources_store(void);

/** The node's channels (borrowed; valid between init and shutdown). */
chan_hub *resources_channels(void);

/* handlers, by family */
void fs_spaces_list(m31_req *r);
void fs_space_put(m31_req *r);
void fs_space_get(m31_req *r);
void fs_space_delete(m31_req *r);
void fs_object_put(m31_req *r);
void fs_object_patch(m31_req *r);
void fs_object_get(m31_req *r);
void fs_object_delete(m31_req *r);
void fs_versions_list(m31_req *r);
void fs_branches_list(m31_req *r);
void fs_branch_create(m31_req *r);

void sys_health(m31_req *r);
void sys_info(m31_req *r);
void sys_metrics(m31_req *r);

void openapi_get(m31_req *r);

void code_create(m31_req *r);
void code_get(m31_req *r);

void fibrils_create(m31_req *r);
void fibrils_list(m31_req *r);
void fibril_get(m31_req *r);
void fibril_delete(m31_req *r);

/* ---- the runtime host (fibrils.c), shared by fibrils.c and code.c ---- */

struct rt_error;
struct rt_code_reg;

int fibrils_preinit(const m31_config *cfg, char *errbuf, size_t errlen);
/** Starts the workers and the thread that drives them. */
int fibrils_init(const m31_config *cfg, char *errbuf, size_t errlen);
/** Stops the thread, the workers and the zygote. */
void fibrils_shutdown(void);

/** The code registry (borrowed; between init and shutdown). */
struct rt_code_reg *fibrils_codes(void);

/** Compilations done (checks that compiled) since the node started. */
uint64_t fibrils_compilations(void);

/** For /sys/metrics: compilations, fibrils by state, workers. */
void fibrils_metrics(uint64_t *compilations, size_t counts[6], int *nuclei);

/** A compile check in flight on a worker. */
typedef struct fib_cmd fib_cmd;

/**
 * Called on the nucleus thread when a check ends; it must resume the
 * parked request (req_resume) and leave c to the resume function.
 */
typedef void (*fib_check_fn)(fib_cmd *c, void *arg);

/**
 * Has a worker compile src (len bytes, copied) without running it. The
 * caller has parked r (req_suspend) and must not touch arg after this.
 */
void fibrils_check_submit(m31_req *r, const char *src, size_t len,
                          fib_check_fn done, void *arg);

/** How check c ended: 1 compiles; 0 syntax error; -1 no worker (*err says
 *  why; borrowed from c). */
int fib_cmd_result(const fib_cmd *c, const struct rt_error **err);

/** The parked request of c. */
m31_req *fib_cmd_req(const fib_cmd *c);

void fib_cmd_free(fib_cmd *c);

/**
 * Answers 422 for a SyntaxError message "path:line:col: text": detail
 * "line L: text", field, and a "line" member.
 */
void code_syntax_reply(m31_req *r, const char *field, const char *message);

void channels_list(m31_req *r);
void channels_create(m31_req *r);
void channel_get(m31_req *r);
void channel_send(m31_req *r);
void channel_delete(m31_req *r);
void channel_clone(m31_req *r);
void channel_close(m31_req *r);

/* ------------------------------------------ fs inside fibrils (fibril_fs.c) */

/**
 * Receives the answer of an fs call: value (taken) is {"ok": V} or
 * {"error": {"code", "field", "message"}}. Runs exactly once: on the
 * caller's thread before fsc_call returns (reads, bad arguments), or on the
 * store's writer thread once a write is durable (so it must not block).
 */
typedef void (*fsc_done_fn)(void *ud, json_t *value);

/**
 * Runs fs call op ("add_space", "put", "get", "invoke", "search",
 * "delete"; see runtime/prelude/fs.rb) with args (a JSON array, borrowed)
 * on store s, answering through done(ud, ...).
 */
void fsc_call(store *s, const char *op, const json_t *args, fsc_done_fn done,
              void *ud);

/** {"error": {...}} for e (refcount: new). */
json_t *fsc_error(const store_err *e);
/** {"ok": value} (value taken; NULL is null). */
json_t *fsc_ok(json_t *value);

/**
 * The URI text of an equality condition's value (String, Integer, Float,
 * true/false) into buf; -1 for another type or when it does not fit.
 */
int fsc_pred_text(const json_t *v, char *buf, size_t len);

/**
 * Splits record rec of a space whose key attribute is keyname into its key
 * (*key, borrowed from rec) and a patch body {"attrs": {the rest}} (*body,
 * new). -1 with err when rec is not an object or lacks a String key.
 */
int fsc_invoke_split(const char *keyname, const json_t *rec, const char **key,
                     json_t **body, store_err *err);

#endif
