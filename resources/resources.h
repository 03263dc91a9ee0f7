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
#include "runtime/runtime.h"
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

/* the browser console (web.c; the embedded files: web.h) */
void web_index_get(m31_req *r);
void web_file_get(m31_req *r);

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

/**
 * The registered source of fingerprint fp: from the registry, else from the
 * store (where POST /code made it durable), which then goes back into the
 * registry without being compiled again. Returns a new copy (malloc'ed,
 * NUL-terminated; the caller frees it) with its length in *len (may be
 * NULL), or NULL when fp is not registered, is malformed, or the store
 * cannot be read (logged). Any thread.
 */
char *code_source_get(const char *fp, size_t *len);

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

/**
 * Applies recs = {key: {attr: n}} (borrowed) as increments to space,
 * merged with other fibrils' while the store is busy with the space
 * (fibril_incr.c); done(ud, {"ok": {"applied": N}} | {"error": ...}) once
 * durable, from the store's writer thread.
 */
void fsc_incr_submit(store *s, const char *space, const json_t *recs,
                     fsc_done_fn done, void *ud);

/* -------------------------------------- REPL sessions (repl.c, fibrils.c) */

/** Runs fn(arg) on the nucleus thread, soon (from any thread). */
void fibrils_defer(void (*fn)(void *), void *arg);

/**
 * Nucleus thread only: records a fibril (no parent) that calls the
 * top-level method fn(*args) (args borrowed) in REPL session's VM; its id
 * into id. -1 when it could not be started (then it is recorded failed).
 */
int fibrils_session_spawn(const char *session, const char *fn, json_t *args,
                          uint64_t cpu_ms, uint64_t mem, char id[RT_ID_MAX]);

/** Nucleus thread only: ends session's VM and the channel ends it holds. */
void fibrils_session_drop(const char *session);

/* Hooks the nucleus thread calls (repl.c). */
/** 1 when fibril is a REPL evaluation: text goes to its output. */
int repl_on_print(const char *fibril, const char *text);
/** A fibril ended; an evaluation's request is answered. */
void repl_on_end(const char *fibril, int state, json_t *result,
                 const struct rt_error *err, uint64_t cpu_ns);
/** Session died with its worker: the next evaluation restores it. */
void repl_on_lost(const char *session);
/** Ends sessions idle past their time. */
void repl_tick(void);
/** Answers every evaluation still parked (503): the node is stopping. */
void repl_quiesce(void);
/** Forgets every session. */
void repl_shutdown(void);

void repl_create(m31_req *r);
void repl_list(m31_req *r);
void repl_get(m31_req *r);
void repl_eval(m31_req *r);
void repl_delete(m31_req *r);

/* ------------------------------- channels inside fibrils (fibril_sys.c) */

/**
 * Runs channel call op ("new", "send", "recv", "clone", "close", "info";
 * see runtime/prelude/chan.rb) of fibril (its id, or NULL) with args (a
 * JSON array, borrowed) on hub h, answering done(ud, value) exactly once:
 * at once, or later from the thread that completes a wait. A wait of a
 * fibril is withdrawn by fsys_release when it ends (then done gets null).
 */
void fsys_chan_call(chan_hub *h, const char *fibril, const char *op,
                    const json_t *args, fsc_done_fn done, void *ud);

/** Records that fibril holds endpoint (both copied). Nucleus thread. */
void fsys_hold(const char *fibril, const char *endpoint);

/** Withdraws fibril's wait and deletes the endpoints it holds (it has
 *  ended). Nucleus thread. */
void fsys_release(chan_hub *h, const char *fibril);

/** Deletes endpoint (copied) in seconds, unless it is gone by then (the
 *  same delay for every call, so the list stays in order). Nucleus thread. */
void fsys_expire_later(const char *endpoint, unsigned seconds);

/** Deletes the endpoints whose time has come. Nucleus thread. */
void fsys_tick(chan_hub *h);

/** Forgets every holding (the node is stopping). */
void fsys_free(void);

/* --------------------------------- http inside fibrils (fibril_http.c) */

/**
 * Starts the thread that runs the http calls of fibrils (libcurl's multi
 * interface). Call once, before fibrils_init. Returns 0, or -1 with a
 * sentence in errbuf.
 */
int fhttp_init(char *errbuf, size_t errlen);

/**
 * Stops that thread: every request queued or in flight is answered with
 * an "unreachable" error before this returns, and any later fhttp_call is
 * answered at once. Call it before fibrils_shutdown (which waits for the
 * answers). Safe when fhttp_init was not called or failed.
 */
void fhttp_shutdown(void);

/**
 * Runs http call op ("req"; see runtime/prelude/http.rb) with args (the
 * JSON array [url, opts], borrowed), answering done(ud, value) exactly
 * once: at once on the caller's thread for bad arguments (or when http is
 * not running), else from the http thread, which done must not block.
 * value (taken by done) is {"ok": {"status", "url", "content_type",
 * "charset", "headers", "content", "urls"}} or {"error": {"code", "field",
 * "message"}}, code "bad_request", "unreachable", "too_large" or
 * "timeout". Thread-safe.
 */
void fhttp_call(const char *op, const json_t *args, fsc_done_fn done, void *ud);

/**
 * The links of an HTML page: the href of every <a> and <area> of the len
 * bytes at html, resolved against base (the page's URL, NUL-terminated)
 * or the page's first <base href>; only http and https URLs, fragments
 * dropped, host lower-cased, each once, in page order. Empty hrefs and
 * bare #fragments are skipped. A new JSON array of strings; empty when
 * base is not a URL.
 */
json_t *fhttp_links(const char *html, size_t len, const char *base);

/* ------------------------------------------- change streams (watch.c) */

/**
 * Starts the change feeds and the heartbeat thread. Call before the store
 * opens and before fibrils_init. Returns 0, or -1 with a sentence in
 * errbuf.
 */
int watch_init(char *errbuf, size_t errlen);

/** Ends every stream (each sends `close`); later watches get 503. */
void watch_quiesce(void);

/** Stops the thread and frees the feeds; after the store is closed and
 *  the fibril table freed (nothing may append any more). */
void watch_free(void);

/** 1 when a GET asks for a change stream: ?watch (any value but false) or
 *  Accept: text/event-stream. */
int watch_wanted(m31_req *r);

/** GET /fs/{space}?watch: the space's changes (space: checked, borrowed). */
void watch_fs(m31_req *r, const char *space);

/** GET /fibrils?watch: fibril records as they change. */
void watch_fibrils(m31_req *r);

/** The store's change feed (store_feed_set; ud unused). Writer thread. */
void watch_store_feed(void *ud, const store_change *changes, size_t n);

/** Whether any GET /fibrils?watch stream is open (rt_table_watch_want_set;
 *  ud unused): while none is, fibril changes are not kept for resumes. */
int watch_fibrils_wanted(void *ud);

/** The fibril table's watch callback (rt_table_watch_set; ud unused). */
void watch_fibril_feed(void *ud, const json_t *rec);

#endif
