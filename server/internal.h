/*
 * internal.h — what the files of server/ share with each other. Nothing
 * outside server/ (and its unit tests) includes it: the resources layer sees
 * only server.h.
 */
#ifndef M31_SERVER_INTERNAL_H
#define M31_SERVER_INTERNAL_H

#include "server/server.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* ---------------------------------------------------------------- config */

/** Looks an environment variable up; NULL when unset. */
typedef const char *(*config_env_fn)(const char *name);

enum { CONFIG_OK = 0, CONFIG_HELP = 1, CONFIG_ERROR = -1 };

/** Fills *cfg with the defaults of README's table (node left empty). */
void config_defaults(m31_config *cfg);

/**
 * Reads the `serve` flags (argv[0..argc), without "serve") over the
 * environment (looked up through `env`, NULL = none) over the defaults; a
 * flag wins over its variable. Returns CONFIG_OK, CONFIG_HELP when --help
 * was given, or CONFIG_ERROR with one sentence naming the flag or variable
 * in errbuf.
 */
int config_parse(m31_config *cfg, int argc, char *const argv[],
                 config_env_fn env, char *errbuf, size_t errlen);

/** Writes the `m31 serve` usage with every flag and variable to f. */
void config_usage(FILE *f);

/** "error".."debug" -> LOG_ERROR..LOG_DEBUG, or -1. */
int config_log_level_parse(const char *s);

/* ------------------------------------------------------------------ node */

/**
 * Sets cfg->node from <data>/node-id when cfg->node is empty, creating the
 * file with a fresh random id ("n" + 6 hex digits) on the first start.
 * Returns 0, or -1 with a sentence in errbuf.
 */
int node_id_load_or_create(m31_config *cfg, char *errbuf, size_t errlen);

/** Keeps a copy of the running config (server_config) and starts the
 * uptime clock. Call once, before the daemon starts. */
void node_start(const m31_config *cfg);

/** True for a valid node id: [A-Za-z0-9][A-Za-z0-9_-]{0,62}. */
int node_id_valid(const char *id);

/** Monotonic clock in nanoseconds. */
uint64_t node_now_ns(void);

/* ------------------------------------------------------------------- log */

/** Formats `t` (UTC) as RFC 3339 with milliseconds into buf (>= 32 bytes). */
void log_time_format(const struct timespec *t, char *buf, size_t n);

/**
 * Copies at most `max` bytes of s into buf (n bytes) with control and
 * non-ASCII bytes written as \xHH, so client text cannot forge log lines.
 */
void log_sanitize(const char *s, size_t max, char *buf, size_t n);

/**
 * From now on info and debug lines are buffered and written by a flusher
 * thread at least every 100 ms; warnings and errors still go out at once
 * (with what was buffered before them, in order). Call once start-up has
 * logged what watchers wait for ("listening on ...").
 */
void log_start(void);

/** Writes out what is buffered and goes back to one write per line. */
void log_stop(void);

/* ------------------------------------------------------------------- uri */

/**
 * Percent-decodes s[0..n) into a new NUL-terminated string (*out, malloc'ed,
 * the caller frees). With plus_space a '+' is a space (query strings, as
 * HTML forms and URLSearchParams write them). Returns -1 (and no *out) on a
 * malformed escape or an escape that decodes to NUL.
 */
int uri_decode(const char *s, size_t n, int plus_space, char **out);

/** A request target split and decoded. Every string is owned by it. */
typedef struct {
  char **segs; /* path segments after the leading '/', decoded */
  size_t nsegs;
  char **qnames; /* query parameters in order, decoded */
  char **qvalues;
  size_t nq;
} uri_parts;

/**
 * Splits a raw request target ("/fs/a%2Fb?x=1&y") into decoded segments and
 * query parameters. A segment whose decoding holds '/' stays one segment.
 * Returns 0, or -1 with *why (a static sentence) on a target that is not a
 * path, a control byte, a bad escape or %00; *out is then empty.
 */
int uri_parse(const char *raw, uri_parts *out, const char **why);

/** Frees what uri_parse made; the struct itself is not freed. */
void uri_parts_free(uri_parts *p);

/* ---------------------------------------------------------------- router */

#define ROUTER_MAX_PARAMS 8

enum { ROUTE_FOUND = 0, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD, ROUTE_OPTIONS };

typedef struct {
  const route *route;                    /* when ROUTE_FOUND */
  const char *params[ROUTER_MAX_PARAMS]; /* borrowed from the segments */
  int nparams;
  char allow[96]; /* "GET, HEAD, PUT, OPTIONS" when the path exists */
} route_match;

/**
 * Finds the row of `table` (ended by method NULL) for method and decoded
 * segments. HEAD matches GET rows. Returns ROUTE_FOUND, ROUTE_NOT_FOUND,
 * ROUTE_BAD_METHOD (m->allow filled) or ROUTE_OPTIONS (an OPTIONS request
 * on an existing path; m->allow filled).
 */
int router_match(const route *table, const char *method, char *const *segs,
                 size_t nsegs, route_match *m);

/* --------------------------------------------------------------- request */

typedef struct {
  char *name, *value;
} req_hdr;

typedef struct conn_watch conn_watch;

/*
 * One request, from its request line (URI log callback) to the end of its
 * answer (notify-completed callback), which frees it. Only the connection's
 * thread touches it; a parked request's resumer only reads `conn`.
 */
struct m31_req {
  struct MHD_Connection *conn; /* NULL in unit tests */
  conn_watch *watch;           /* the connection's deadline; may be NULL */
  char *raw_uri;               /* as received, with the query */
  char *path;                  /* raw path: raw_uri up to '?', own copy */
  const char *method;          /* MHD's string, set on the first call */
  char id[96];                 /* request id, "<node>-<hex>" */
  uint64_t start_ns;           /* when the request line arrived */
  int seen;                    /* the access handler ran once */
  int arrived;                 /* the whole body arrived */

  /* parked (req_suspend) until resumed; then parked_fn answers */
  int parked;
  req_resume_fn parked_fn;
  void *parked_arg;

  /* body, read under the cap */
  char *body;
  size_t body_len, body_cap;
  size_t body_expect; /* Content-Length, or 0 */
  int body_over;      /* over the cap: the rest is drained, then 413 */
  size_t body_drained;

  /* what the first call decoded and matched */
  uri_parts uri;
  route_match match;

  /* the answer */
  req_hdr *hdrs;
  size_t nhdrs;
  struct MHD_Response *resp;
  int status;
  size_t resp_bytes;
};

/** Makes a request for a raw URI (copied). Never NULL. */
m31_req *req_new(const char *raw_uri);

/** Frees a request and everything it owns (its unqueued response too). */
void req_free(m31_req *r);

/** True when the media type is application/json or any type/...+json. */
int req_content_type_is_json(const char *ctype);

/* ----------------------------------------------------------------- reply */

/** The RFC 9110 reason phrase of a status ("Unprocessable Content"). */
const char *reply_reason(int status);

/**
 * The problem document reply_problem sends. field may be NULL. refcount: new.
 */
json_t *reply_problem_new(int status, const char *field, const char *detail);

/**
 * Keeps resp (taken) as r's answer with its status, content type (ctype, or
 * NULL) and the headers added so far; bytes is for the access log.
 */
void reply_set(m31_req *r, int status, const char *ctype,
               struct MHD_Response *resp, size_t bytes);

/**
 * Queues r's answer on its connection (on the connection's thread), adding
 * Cache-Control: no-store unless set, the request id, and Connection: close
 * when the node is stopping. Returns MHD_YES or MHD_NO.
 */
enum MHD_Result reply_queue(m31_req *r, int closing);

/* ------------------------------------------------------------ ruby literal */

/**
 * Writes a JSON value as Ruby literal text that evaluates to the same value
 * (Hash, Array, Integer, Float, String, true/false/nil); strings cannot
 * interpolate. Returns a malloc'ed string the caller frees, or NULL for a
 * value nested deeper than 256 levels.
 */
char *ruby_literal_new(const json_t *v);

/* --------------------------------------------------------------- metrics */

/** Counts one answered request and its latency. route_name may be NULL. */
void metrics_record(const char *route_name, const char *method, int status,
                    double seconds);

/** Counts a request that ended without an answer from the node. */
void metrics_record_aborted(void);

/** Forgets every count (unit tests). */
void metrics_reset(void);

/* ------------------------------------------------------------------ cors */

/**
 * Checks a --cors-origin value: "" (off), "*", or origins
 * (scheme://host[:port]) separated by commas, spaces around them ignored.
 * Returns 0, or -1 with a sentence in why.
 */
int cors_list_check(const char *list, char *why, size_t n);

/** 1 when origin (an Origin header; NULL ok) is allowed by list. */
int cors_origin_allowed(const char *list, const char *origin);

/**
 * An OPTIONS preflight on an existing route (r->match.allow filled): when
 * CORS is configured and the Origin allowed, adds the Allow-Methods,
 * Allow-Headers and Max-Age headers to r's answer (call before it).
 */
void cors_preflight(m31_req *r);

/**
 * Adds the CORS headers of any answer to resp when CORS is configured:
 * Vary: Origin, and for an allowed Origin Allow-Origin and Expose-Headers.
 */
void cors_answer(m31_req *r, struct MHD_Response *resp);

/* -------------------------------------------------------------- watchdog */

/*
 * Whole-request deadline. libmicrohttpd's timeout counts only inactivity,
 * so a client trickling one byte a second keeps a request open for ever.
 * Each connection is watched from its start and from the end of each
 * answer; one that has not delivered a whole request within the deadline is
 * shut down from a watchdog thread.
 */

/** Starts the watchdog thread. Returns 0 or -1. */
int watchdog_start(unsigned request_timeout_s);

/** Stops it (after the daemon stopped: no connection is left). */
void watchdog_stop(void);

/** libmicrohttpd's connection notification: registers and forgets. */
void watchdog_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code);

/** The whole request arrived: stop its clock. NULL ok. */
void watchdog_arrived(conn_watch *w);

/** An answer ended: the next request's clock starts now. NULL ok. */
void watchdog_rearm(conn_watch *w);

/* ------------------------------------------------------------------ http */

/**
 * Starts the daemon on cfg's address with the hardening options, and logs
 * `listening on http://ADDR:PORT` with the bound port. Returns 0, or -1
 * with a sentence in errbuf.
 */
int http_start(const m31_config *cfg, char *errbuf, size_t errlen);

/**
 * Stops accepting, lets in-flight requests finish (at most a few seconds,
 * but parked ones always: libmicrohttpd cannot stop with a suspended
 * connection, and the work they wait for always ends), then stops the
 * daemon. Idempotent.
 */
void http_stop(void);

#endif
