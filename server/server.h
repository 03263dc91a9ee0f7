/*
 * server.h — the HTTP front of a node, as the resources layer sees it: the
 * request being answered, the helpers that answer it, the route table type,
 * logging and the request metrics. Nothing here knows LevelDB or mruby.
 *
 * A handler is called once per request on a pool thread with the whole body
 * read (under the configured cap). It must answer exactly once: with one of
 * the reply_* functions before it returns, or by parking the request
 * (req_suspend) and answering from its resume function.
 *
 * Threads: an m31_req belongs to the pool thread running its handler (or
 * its resume function); the req_* accessors and reply_* functions are for
 * that thread only. The one call another thread may make is req_resume.
 */
#ifndef M31_SERVER_H
#define M31_SERVER_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ----------------------------------------------------------------- config */

typedef struct {
  int port;            /* --port, M31_PORT; default 8031 (0 = any free) */
  char bind[64];       /* --bind, M31_BIND; default 127.0.0.1 */
  char data[1024];     /* --data, M31_DATA; default ./m31-data */
  char node[64];       /* --node, M31_NODE; default: kept in <data>/node-id */
  int log_level;       /* --log-level, M31_LOG_LEVEL: error|warn|info|debug */
  size_t max_body;     /* --max-body, M31_MAX_BODY; default 8 MiB */
  int threads;         /* --threads, M31_THREADS; default 2 x cores */
  int conn_per_ip;     /* --conn-per-ip; default 64 */
  int conn_timeout;    /* --conn-timeout seconds idle; default 30 */
  int request_timeout; /* --request-timeout seconds for a whole request; 60 */
  int nuclei;          /* --nuclei, M31_NUCLEI; worker processes; 2 x cores */
  int repl_idle;       /* --repl-idle seconds before an idle REPL session
                          ends; default 1800 */
  char cors_origin[1024]; /* --cors-origin, M31_CORS_ORIGIN: "*" or origins
                             separated by commas; "" (default): no CORS */
} m31_config;

/* ---------------------------------------------------------------- logging */

enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int m31_log_level;

/** Writes one line to stderr if `level` is enabled; cheap when it is not. */
#define m31_log(level, ...)                                                    \
  do {                                                                         \
    if ((level) <= m31_log_level) m31_log_write((level), __VA_ARGS__);         \
  } while (0)

void m31_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --------------------------------------------------------------- requests */

typedef struct m31_req m31_req;

/** The request id ("<node>-<hex>"), for log lines. Borrowed. */
const char *req_id(const m31_req *r);

/** The method ("GET", ...). Borrowed for the request's life. */
const char *req_method(const m31_req *r);

/** The raw path, still percent-encoded, without the query. Borrowed. */
const char *req_path(const m31_req *r);

/**
 * The i-th `{name}` capture of the matched route template, percent-decoded.
 * Borrowed for the request's life; NULL past the last capture.
 */
const char *req_param(const m31_req *r, int i);

/**
 * The decoded value of query parameter `name`: NULL when absent, "" when
 * given without "=". With repeats, the first. Borrowed.
 */
const char *req_query(const m31_req *r, const char *name);

/** Number of query parameters, and the i-th decoded name/value (borrowed). */
size_t req_query_count(const m31_req *r);
void req_query_at(const m31_req *r, size_t i, const char **name,
                  const char **value);

/** A request header (case-insensitive name), or NULL. Borrowed. */
const char *req_header(const m31_req *r, const char *name);

/** The body bytes (NUL-terminated for convenience) and length. Borrowed. */
const char *req_body(const m31_req *r, size_t *len);

/**
 * Parses the body as a JSON object or array. On failure it has already
 * replied (415 when Content-Type is not application/json or a +json type,
 * 400 for malformed JSON or nesting beyond 64 levels, naming line and
 * column) and returns -1. On success *out is a new reference.
 */
int req_json_or_reply(m31_req *r, json_t **out);

/** As req_json_or_reply, but any JSON value (also 42, "x", null) is taken. */
int req_json_value_or_reply(m31_req *r, json_t **out);

/* ---------------------------------------------------------------- replies */

/** Adds a response header; call before the reply. Both strings are copied. */
void reply_header(m31_req *r, const char *name, const char *value);

/**
 * Answers with `body` as application/json, or as the same value written as a
 * Ruby literal (text/x-ruby) when the request has `?fmt=ruby`. Steals the
 * reference.
 */
void reply_json(m31_req *r, int status, json_t *body);

/** Answers with `len` bytes of `body` (copied) and content type `ctype`. */
void reply_bytes(m31_req *r, int status, const char *ctype, const void *body,
                 size_t len);

/** Answers with a static buffer that outlives the daemon (not copied). */
void reply_static(m31_req *r, int status, const char *ctype, const void *body,
                  size_t len);

/** Answers with no body (204, 304, ...). */
void reply_empty(m31_req *r, int status);

/**
 * Answers application/problem+json: {"type": "about:blank" or a
 * https://m31.dev/problems/<slug> URI, "title": the status's standard phrase,
 * "status", "detail": the formatted text, "field" when field is not NULL}.
 */
void reply_problem(m31_req *r, int status, const char *field, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------- parked requests */

/**
 * Runs once a parked request is resumed, on a pool thread, and answers it
 * exactly once as a handler would. `arg` is what req_suspend was given.
 * If the client went away meanwhile it still runs (so it can free arg), and
 * its answer is dropped.
 */
typedef void (*req_resume_fn)(m31_req *r, void *arg);

/**
 * Parks r: its connection is suspended and holds no pool thread until
 * req_resume(r); then fn(r, arg) answers. For work that waits (a durable
 * write): the handler parks, starts the work, and returns without
 * answering; whoever finishes the work calls req_resume. Call from the
 * handler, at most once, before any reply_*. The handler may use r until
 * it returns, but must not touch arg once the work may have finished.
 * The node does not stop while a request is parked: the work must end.
 */
void req_suspend(m31_req *r, req_resume_fn fn, void *arg);

/**
 * Resumes a parked request; callable from any thread (also from the
 * handler itself), exactly once per req_suspend. What the caller wrote
 * before (into arg) is visible to fn. The caller must not touch r or arg
 * after: fn may run and free them at once.
 */
void req_resume(m31_req *r);

/* ---------------------------------------------------------------- streams */

typedef struct m31_stream m31_stream;

/**
 * Fills up to max bytes of buf with the next part of a streamed answer, on
 * the connection's thread. Returns the number of bytes written; 0 when
 * there is nothing to send now: the connection is then parked (no thread
 * held) until stream_wake(s); or -1 to end the answer.
 */
typedef long (*stream_pull_fn)(m31_stream *s, void *arg, char *buf, size_t max);

/** Runs once when the streamed answer is over (ended, client gone, node
 * stopping) or was never sent; frees arg. No stream_wake may follow. */
typedef void (*stream_done_fn)(void *arg);

/**
 * Answers r with a body of unknown length (chunked) of content type ctype,
 * made by pull as the client takes it. Instead of any other reply_*. arg
 * belongs to the stream from now on (done frees it).
 */
void reply_stream(m31_req *r, int status, const char *ctype,
                  stream_pull_fn pull, stream_done_fn done, void *arg);

/**
 * Tells a stream that pull has something to send again; callable from any
 * thread, but only while the stream is alive: between a pull that returned
 * 0 after starting the work that will call this, and that call (exactly
 * once per such pull). It does not touch s after it returns.
 */
void stream_wake(m31_stream *s);

/* ----------------------------------------------------------------- routes */

typedef void (*route_fn)(m31_req *r);

/** One row of the route table: method, path template, handler. */
typedef struct {
  const char *method;  /* "GET", "PUT", "POST", "PATCH", "DELETE" */
  const char *pattern; /* "/fs/{space}/{key}"; a {name} matches one segment */
  route_fn fn;
  const char *name; /* the metric label, e.g. "fs_object" */
} route;

/**
 * The table the router dispatches on, defined by the resources layer
 * (resources/routes.c), ended by a row with method NULL. Unknown paths get
 * 404; a path that matches with another method gets 405 with Allow (HEAD is
 * answered as GET without the body).
 */
extern const route m31_routes[];

/* ---------------------------------------------------------------- metrics */

/**
 * Appends the request metrics in Prometheus text format to *buf (a
 * malloc'ed string the function reallocs; *len is its length):
 * m31_http_requests_total{route,method,status} and the
 * m31_http_request_duration_seconds histogram.
 */
void server_metrics_write(char **buf, size_t *len);

/**
 * Appends printf-formatted text to the malloc'ed string *buf of length *len
 * (reallocating it; *buf may start NULL with *len 0). Aborts when memory
 * runs out.
 */
void text_appendf(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Seconds since the node started. */
double server_uptime(void);

/** When the node started (wall clock). */
time_t server_started(void);

/** The running node's configuration. Borrowed; lives as long as the node. */
const m31_config *server_config(void);

#endif
