/*
 * http.c — the libmicrohttpd daemon and the life of a request in it.
 *
 * libmicrohttpd 0.9.75 calls us at four points per request:
 *   on_uri       the request line arrived: make the m31_req (*req_cls) from
 *                the raw URI, before libmicrohttpd unescapes anything;
 *   on_access    first call (headers read): check the framing, answer 400,
 *                413 or 501 at once; else parse the URI and route;
 *                middle calls: body bytes, kept under the cap;
 *                last call: run the handler, queue its answer, unless
 *                the handler parked the request (req_suspend): then
 *                the call after req_resume runs the resume function
 *                and queues its answer;
 *   on_completed the answer went out (or the connection died): access log,
 *                metrics, free.
 * An answer can be queued only in the first or the last call (libmicrohttpd
 * refuses it while the body streams in), so errors found on the first call
 * that need not cut the connection are built then and queued on the last.
 */
#include "server/internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_NS (10ull * 1000000000u)

static struct MHD_Daemon *daemon_;
static const m31_config *cfg_;
static _Atomic long inflight;
static _Atomic int closing;
static _Atomic uint64_t next_id;
static _Atomic long parked; /* requests between req_suspend and re-entry */

/* libmicrohttpd's own messages, into our log at warn level. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  size_t n;

  (void)cls;
  vsnprintf(msg, sizeof msg, fmt, ap);
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  m31_log(LOG_WARN, "libmicrohttpd: %s", msg);
}

/* Keeps URIs raw: we decode segments and parameters ourselves (uri.c). */
static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci;
  m31_req *r = req_new(uri ? uri : "");

  (void)cls;
  r->conn = c;
  r->start_ns = node_now_ns();
  snprintf(r->id, sizeof r->id, "%s-%llx", cfg_->node,
           (unsigned long long)atomic_fetch_add(&next_id, 1));
  ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  r->watch = ci ? ci->socket_context : NULL;
  atomic_fetch_add(&inflight, 1);
  return r;
}

static void access_log(const m31_req *r, double seconds,
                       enum MHD_RequestTerminationCode toe) {
  char uri[600];

  if (LOG_INFO > m31_log_level) return;
  log_sanitize(r->raw_uri, 512, uri, sizeof uri);
  if (r->status)
    m31_log(LOG_INFO, "%s %s %s %d %zuB %.0fus%s", r->id,
            r->method ? r->method : "-", uri, r->status, r->resp_bytes,
            seconds * 1e6,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (cut short)");
  else
    m31_log(LOG_INFO, "%s %s %s - (no answer from the node, code %d) %.0fus",
            r->id, r->method ? r->method : "-", uri, (int)toe, seconds * 1e6);
}

/* ---------------------------------------------------------------- parking */

void req_suspend(m31_req *r, req_resume_fn fn, void *arg) {
  assert(!r->parked && !r->resp);
  r->parked = 1;
  r->parked_fn = fn;
  r->parked_arg = arg;
  atomic_fetch_add(&parked, 1);
  /* Before the work starts: a resume may follow at once. */
  if (r->conn) MHD_suspend_connection(r->conn);
}

void req_resume(m31_req *r) {
  /* libmicrohttpd takes the connection back on its own thread, after the
   * handler that parked it has returned; its mutex orders what the resumer
   * wrote before this call with the resume function's reads. */
  if (r->conn) MHD_resume_connection(r->conn);
}

/* On the connection's thread, once resumed: the resume function answers. */
static void unpark(m31_req *r) {
  r->parked = 0;
  atomic_fetch_sub(&parked, 1);
  r->parked_fn(r, r->parked_arg);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  m31_req *r = *req_cls;
  double seconds;

  (void)cls;
  (void)c;
  if (!r) return;
  if (r->parked) unpark(r); /* resumed, but the connection died first */
  seconds = (double)(node_now_ns() - r->start_ns) / 1e9;
  if (r->status)
    metrics_record(r->match.route ? r->match.route->name : NULL, r->method,
                   r->status, seconds);
  else
    metrics_record_aborted();
  access_log(r, seconds, toe);
  watchdog_rearm(r->watch);
  req_free(r);
  *req_cls = NULL;
  atomic_fetch_sub(&inflight, 1);
}

/* ---------------------------------------------------------------- framing */

typedef struct {
  int content_length, transfer_encoding;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value) {
  framing *f = cls;

  (void)kind;
  (void)value;
  if (strcasecmp(key, "Content-Length") == 0) f->content_length++;
  if (strcasecmp(key, "Transfer-Encoding") == 0) f->transfer_encoding++;
  return MHD_YES;
}

/*
 * libmicrohttpd 0.9.75 takes the first of two Content-Length headers, and
 * Content-Length beside Transfer-Encoding: both are ways to smuggle a second
 * request past a proxy. Returns 0, or the status of an answer made.
 */
static int framing_check(m31_req *r) {
  framing f = {0, 0};
  const char *te = req_header(r, "Transfer-Encoding");
  const char *cl = req_header(r, "Content-Length");
  unsigned long long len = 0;

  MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
  if (f.content_length > 1 || (f.content_length && f.transfer_encoding)) {
    reply_problem(r, 400, NULL,
                  f.content_length > 1
                      ? "the request has more than one Content-Length"
                      : "the request has both Content-Length and "
                        "Transfer-Encoding");
    return 400;
  }
  if (f.transfer_encoding > 1 || (te && strcasecmp(te, "chunked") != 0)) {
    reply_problem(r, 501, "Transfer-Encoding",
                  "the only transfer coding understood is chunked");
    return 501;
  }
  if (cl) {
    char *end;
    errno = 0;
    len = strtoull(cl, &end, 10);
    if (errno || *end || len > cfg_->max_body) {
      reply_problem(r, 413, NULL, "the body is larger than %zu bytes",
                    cfg_->max_body);
      return 413;
    }
    r->body_expect = (size_t)len;
  }
  return 0;
}

/* ------------------------------------------------------------------- body */

/* Keeps the body under the cap; past it, drains as much again, then gives
 * up on the connection (returns -1) rather than read for ever. */
static int body_append(m31_req *r, const char *data, size_t n) {
  size_t max = cfg_->max_body;

  if (r->body_over) {
    r->body_drained += n;
    return r->body_drained - max <= max + (1u << 20) ? 0 : -1;
  }
  if (n > max - r->body_len) {
    r->body_over = 1;
    r->body_drained = r->body_len + n;
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    return 0;
  }
  if (r->body_len + n + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 4096;
    if (r->body_expect + 1 > cap) cap = r->body_expect + 1;
    while (cap < r->body_len + n + 1)
      cap *= 2;
    char *p = realloc(r->body, cap);
    if (!p) abort();
    r->body = p;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, data, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return 0;
}

/* --------------------------------------------------------------- dispatch */

/*
 * Decodes the target and finds the route. A failure builds its answer now
 * (queued on the last call, after the body is drained under the cap).
 */
static void route_or_reply(m31_req *r) {
  const char *why, *fmt;

  if (uri_parse(r->raw_uri, &r->uri, &why) != 0) {
    reply_problem(r, 400, NULL, "%s", why);
    return;
  }
  switch (router_match(m31_routes, r->method, r->uri.segs, r->uri.nsegs,
                       &r->match)) {
  case ROUTE_NOT_FOUND:
    reply_problem(r, 404, NULL, "there is no resource at this path");
    return;
  case ROUTE_BAD_METHOD:
    reply_header(r, "Allow", r->match.allow);
    reply_problem(r, 405, NULL, "%s is not allowed here; allowed: %s",
                  r->method, r->match.allow);
    return;
  case ROUTE_OPTIONS:
    reply_header(r, "Allow", r->match.allow);
    cors_preflight(r); /* cors.c: nothing unless --cors-origin */
    reply_empty(r, 204);
    return;
  }
  fmt = req_query(r, "fmt");
  if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "ruby") != 0)
    reply_problem(r, 400, "fmt", "fmt must be json or ruby");
}

static enum MHD_Result first_call(m31_req *r, const char *method) {
  r->seen = 1;
  r->method = method;
  if (framing_check(r) != 0) return reply_queue(r, 1);
  route_or_reply(r);
  return MHD_YES;
}

static enum MHD_Result last_call(m31_req *r) {
  r->arrived = 1;
  watchdog_arrived(r->watch);
  if (r->body_over && !r->resp) {
    reply_problem(r, 413, NULL, "the body is larger than %zu bytes",
                  cfg_->max_body);
  } else if (!r->resp) {
    r->match.route->fn(r);
    if (r->parked) return MHD_YES; /* answered after req_resume */
  }
  return reply_queue(r, atomic_load(&closing));
}

static enum MHD_Result resumed_call(m31_req *r) {
  unpark(r);
  return reply_queue(r, atomic_load(&closing));
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_size, void **req_cls) {
  m31_req *r = *req_cls;

  (void)cls;
  (void)url;
  (void)version;
  if (!r) { /* cannot happen: on_uri runs first for every request */
    *req_cls = r = on_uri(NULL, "", c);
  }
  if (!r->seen) return first_call(r, method);
  if (r->parked) return resumed_call(r);
  if (*upload_size > 0) {
    if (body_append(r, upload_data, *upload_size) != 0) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  return last_call(r);
}

/* ------------------------------------------------------------------ start */

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} sockaddr_any;

static int addr_make(const m31_config *cfg, sockaddr_any *a, int *v6) {
  memset(a, 0, sizeof *a);
  *v6 = 0;
  if (inet_pton(AF_INET, cfg->bind, &a->v4.sin_addr) == 1) {
    a->v4.sin_family = AF_INET;
    a->v4.sin_port = htons((uint16_t)cfg->port);
    return 0;
  }
  if (inet_pton(AF_INET6, cfg->bind, &a->v6.sin6_addr) == 1) {
    a->v6.sin6_family = AF_INET6;
    a->v6.sin6_port = htons((uint16_t)cfg->port);
    *v6 = 1;
    return 0;
  }
  return -1;
}

static unsigned pool_size(const m31_config *cfg) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);

  if (cfg->threads > 0) return (unsigned)cfg->threads;
  return cores > 0 ? (unsigned)(2 * cores) : 2;
}

static struct MHD_Daemon *daemon_make(const m31_config *cfg, sockaddr_any *a,
                                      int v6) {
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME | (v6 ? MHD_USE_IPv6 : 0);

  return MHD_start_daemon(
      flags, (uint16_t)cfg->port, NULL, NULL, on_access, NULL,
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
      &a->sa, MHD_OPTION_THREAD_POOL_SIZE, pool_size(cfg),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->conn_per_ip,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
      MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_URI_LOG_CALLBACK, on_uri,
      NULL, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
      MHD_OPTION_NOTIFY_CONNECTION, watchdog_notify, NULL, MHD_OPTION_END);
}

int http_start(const m31_config *cfg, char *errbuf, size_t errlen) {
  const union MHD_DaemonInfo *info;
  struct timespec now;
  sockaddr_any a;
  int v6;

  cfg_ = cfg;
  clock_gettime(CLOCK_REALTIME, &now);
  /* Ids stay unique across restarts: the counter starts at the clock. */
  atomic_store(&next_id,
               (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
  if (addr_make(cfg, &a, &v6) != 0) {
    snprintf(errbuf, errlen, "cannot use %s as an address", cfg->bind);
    return -1;
  }
  if (watchdog_start((unsigned)cfg->request_timeout) != 0) {
    snprintf(errbuf, errlen, "cannot start the request watchdog");
    return -1;
  }
  if (!(daemon_ = daemon_make(cfg, &a, v6))) {
    watchdog_stop();
    snprintf(errbuf, errlen, "cannot listen on %s port %d (see above)",
             cfg->bind, cfg->port);
    return -1;
  }
  info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  m31_log(LOG_INFO, "listening on http://%s%s%s:%u", v6 ? "[" : "", cfg->bind,
          v6 ? "]" : "", info ? info->port : (unsigned)cfg->port);
  return 0;
}

void http_stop(void) {
  uint64_t until = node_now_ns() + SHUTDOWN_GRACE_NS;
  if (!daemon_) return;
  /* Not MHD_quiesce_daemon: with the epoll thread pool, 0.9.75 races in
   * it and aborts ("Failed to remove listen FD from epoll set"; see
   * README). New connections of the grace are served with
   * Connection: close instead. */
  atomic_store(&closing, 1);
  /* Parked requests are waited for past the grace: libmicrohttpd must not
   * stop with a suspended connection, and the writes they wait for end. */
  while (atomic_load(&inflight) > 0 &&
         (node_now_ns() < until || atomic_load(&parked) > 0))
    usleep(10000);
  if (atomic_load(&inflight) > 0)
    m31_log(LOG_WARN, "stopping with %ld requests unfinished",
            (long)atomic_load(&inflight));
  MHD_stop_daemon(daemon_);
  daemon_ = NULL;
  watchdog_stop();
}
