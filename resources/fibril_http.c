/*
 * fibril_http.c — the `http` system call of fibrils (runtime/prelude/
 * http.rb): http.req(url, opts) is run by the node with libcurl, never by
 * a worker, whose seccomp filter allows no socket.
 *
 * One thread owns a curl multi handle. fhttp_call checks the arguments on
 * the caller's thread (a bad one is answered at once), queues the request
 * and wakes the thread (curl_multi_wakeup); the thread runs every
 * transfer with curl_multi_poll and answers each through its completion
 * exactly once: {"ok": response} or {"error": {"code", "field",
 * "message"}}. At shutdown every request still queued or in flight is
 * answered with an error, and later calls are answered at once.
 *
 * libcurl's defaults are made for a trusted caller, so each transfer sets:
 * - CURLOPT_PROTOCOLS_STR and REDIR_PROTOCOLS_STR "http,https": by default
 *   a URL or a redirect may reach file://, ftp://, gopher://, dict://...
 * - CURLOPT_MAXREDIRS 5 (the default with FOLLOWLOCATION is unlimited).
 * - CURLOPT_TIMEOUT_MS (the default is none: a stalled server holds the
 *   fibril for ever; the connect timeout alone is 300 s).
 * - A byte cap counted in the write callback. CURLOPT_MAXFILESIZE is only
 *   a first check on Content-Length: a chunked or compressed answer has
 *   none, and decompression multiplies bytes, so the callback counts what
 *   is delivered after decoding and aborts the transfer past the cap.
 * - A cap on response header bytes (a header flood is otherwise only
 *   bounded by libcurl's 100 KiB per line).
 * - CURLOPT_NOSIGNAL (signals and threads do not mix; the node ignores
 *   SIGPIPE, see server/main.c).
 * TLS verification stays on (the default), credentials are not passed to
 * another host on a redirect (the default), no cookie or .netrc file is
 * read (the default).
 *
 * An answer must also fit one worker frame (RT_FRAME_MAX of JSON): the
 * receive cap is the smaller of max_bytes and what a frame can carry, and
 * an answer whose JSON is larger still is "too_large".
 */
#include "resources/resources.h"
#include "runtime/runtime.h"
#include "util/base64.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if LIBCURL_VERSION_NUM < 0x075500
#error "fibril_http.c needs libcurl 7.85 or later (CURLOPT_PROTOCOLS_STR)"
#endif

#ifndef M31_VERSION
#define M31_VERSION "0.1.0" /* as /sys/info answers (resources/sys.c) */
#endif

#define FHTTP_TIMEOUT_DEFAULT 30000
#define FHTTP_TIMEOUT_MAX 120000
#define FHTTP_BYTES_DEFAULT ((json_int_t)64 << 20)
#define FHTTP_BYTES_MAX ((json_int_t)256 << 20)
#define FHTTP_REDIRECTS 5
#define FHTTP_URL_MAX 8192
#define FHTTP_REQ_HEADERS_MAX 64            /* headers a fibril may send */
#define FHTTP_RESP_HEADER_BYTES (256 << 10) /* of one response */
#define FHTTP_INFLIGHT_MAX 4096             /* queued + running */
#define FHTTP_CONNECTIONS_MAX 64            /* open at once */
/* Room in a frame for the envelope around the answer ("t", "id"). */
#define FHTTP_ANSWER_MAX (RT_FRAME_MAX - 1024)
/* Body bytes a frame can carry at best (as UTF-8 text, unescaped). */
#define FHTTP_BODY_CAP ((size_t)FHTTP_ANSWER_MAX)

/* One request, from fhttp_call to its answer. */
typedef struct hreq {
  struct hreq *prev, *next; /* in the queue, then in the active list */
  fsc_done_fn done;
  void *ud;
  char *url; /* normalised by curl_url */
  int head;
  long timeout_ms;
  size_t max_bytes; /* as asked */
  size_t cap;       /* min(max_bytes, FHTTP_BODY_CAP) */
  struct curl_slist *hdrs;
  CURL *easy;
  char *body; /* received so far */
  size_t len, size;
  json_t *headers; /* of the latest response */
  size_t header_bytes;
  const char *stopped; /* why a callback stopped the transfer, or NULL */
  char errbuf[CURL_ERROR_SIZE];
} hreq;

static struct {
  pthread_mutex_t lock; /* guards queue, accepting, stop, inflight */
  pthread_t thread;
  CURLM *multi;
  hreq *queue, *queue_tail;
  hreq *active; /* in the multi handle: the thread's own */
  size_t inflight;
  int accepting, stop, running, global;
} ht = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------ answers */

/* {"error": {...}} (refcount: new). */
static json_t *err_value(const char *code, const char *field, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));
static json_t *err_value(const char *code, const char *field, const char *fmt,
                         ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "field", field,
                   "message", msg);
}

static void hreq_free(hreq *q) {
  if (!q) return;
  if (q->easy) curl_easy_cleanup(q->easy);
  curl_slist_free_all(q->hdrs);
  json_decref(q->headers);
  free(q->body);
  free(q->url);
  free(q);
}

/* Answers q with value (taken) and frees it. */
static void hreq_answer(hreq *q, json_t *value) {
  fsc_done_fn done = q->done;
  void *ud = q->ud;
  hreq_free(q);
  pthread_mutex_lock(&ht.lock);
  ht.inflight--;
  pthread_mutex_unlock(&ht.lock);
  done(ud, value);
}

/* ------------------------------------------------------------ arguments */

/* 1 when s (len bytes) is an HTTP token (a header name). */
static int is_token(const char *s, size_t len) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
          (c && strchr(extra, c))))
      return 0;
  }
  return 1;
}

/*
 * The URL, checked and normalised with libcurl's URL parser (the same
 * parser the transfer uses): absolute, http or https. A new string into
 * *out, or -1 with the reason in why.
 */
static int url_parse(const json_t *v, char **out, char *why, size_t n) {
  CURLU *u = curl_url();
  char *scheme = NULL, *s = NULL;
  int ret = -1;
  if (!u) abort();
  if (!json_is_string(v) || json_string_length(v) == 0) {
    snprintf(why, n, "the URL must be a non-empty String");
    goto Exit;
  }
  if (json_string_length(v) > FHTTP_URL_MAX ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    snprintf(why, n, "the URL is longer than %d bytes or holds a NUL",
             FHTTP_URL_MAX);
    goto Exit;
  }
  if (curl_url_set(u, CURLUPART_URL, json_string_value(v),
                   CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
    snprintf(why, n, "not an absolute URL: %s", json_string_value(v));
    goto Exit;
  }
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    snprintf(why, n,
             "only http and https URLs can be fetched, not %s:", scheme);
    goto Exit;
  }
  if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
    snprintf(why, n, "not a URL: %s", json_string_value(v));
    goto Exit;
  }
  if (!(*out = strdup(s))) abort();
  ret = 0;
Exit:
  curl_free(scheme);
  curl_free(s);
  curl_url_cleanup(u);
  return ret;
}

/* An integer option in [lo, hi] into *out, or dflt when absent. */
static int opt_int(const json_t *opts, const char *name, json_int_t lo,
                   json_int_t hi, json_int_t dflt, json_int_t *out, char *why,
                   size_t n) {
  json_t *v = json_object_get(opts, name);
  *out = dflt;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi) {
    snprintf(why, n, "%s must be an Integer from %lld to %lld", name,
             (long long)lo, (long long)hi);
    return -1;
  }
  *out = json_integer_value(v);
  return 0;
}

static int opt_headers(hreq *q, const json_t *hs, char *why, size_t n) {
  const char *k;
  json_t *v;
  if (!hs || json_is_null(hs)) return 0;
  if (!json_is_object(hs) || json_object_size(hs) > FHTTP_REQ_HEADERS_MAX) {
    snprintf(why, n, "headers must be a Hash of at most %d String values",
             FHTTP_REQ_HEADERS_MAX);
    return -1;
  }
  json_object_foreach((json_t *)hs, k, v) {
    const char *s = json_string_value(v);
    char *line;
    struct curl_slist *l;
    if (!is_token(k, strlen(k))) {
      snprintf(why, n, "bad header name %.64s", k);
      return -1;
    }
    if (!s || strpbrk(s, "\r\n") || strlen(s) != json_string_length(v) ||
        strlen(s) > FHTTP_URL_MAX) {
      snprintf(why, n, "header %.64s must be a String on one line", k);
      return -1;
    }
    /* "Name;" sends an empty value (curl drops "Name:" as a removal) */
    if (asprintf(&line, *s ? "%s: %s" : "%s;", k, s) < 0) abort();
    l = curl_slist_append(q->hdrs, line);
    free(line);
    if (!l) abort();
    q->hdrs = l;
  }
  return 0;
}

static const char *const OPT_NAMES[] = {"timeout_ms", "max_bytes", "method",
                                        "headers", NULL};

/* The options of a request into q, or -1 with the reason in why. */
static int opts_parse(hreq *q, const json_t *opts, char *why, size_t n) {
  json_int_t t, b;
  const char *k, *m;
  json_t *v;
  if (!opts || json_is_null(opts)) opts = NULL;
  if (opts && !json_is_object(opts)) {
    snprintf(why, n, "the options must be a Hash");
    return -1;
  }
  json_object_foreach((json_t *)opts, k, v) {
    int known = 0;
    for (int i = 0; OPT_NAMES[i]; i++)
      known |= strcmp(k, OPT_NAMES[i]) == 0;
    if (!known) {
      snprintf(why, n,
               "unknown option %.64s (timeout_ms, max_bytes, method, headers)",
               k);
      return -1;
    }
  }
  if (opt_int(opts, "timeout_ms", 1, FHTTP_TIMEOUT_MAX, FHTTP_TIMEOUT_DEFAULT,
              &t, why, n) != 0 ||
      opt_int(opts, "max_bytes", 0, FHTTP_BYTES_MAX, FHTTP_BYTES_DEFAULT, &b,
              why, n) != 0)
    return -1;
  q->timeout_ms = (long)t;
  q->max_bytes = (size_t)b;
  q->cap = q->max_bytes < FHTTP_BODY_CAP ? q->max_bytes : FHTTP_BODY_CAP;
  v = json_object_get(opts, "method");
  m = json_string_value(v);
  if (v && !json_is_null(v) &&
      (!m || (strcmp(m, "GET") && strcmp(m, "HEAD")))) {
    snprintf(why, n, "method must be \"GET\" or \"HEAD\"");
    return -1;
  }
  q->head = m && strcmp(m, "HEAD") == 0;
  return opt_headers(q, json_object_get(opts, "headers"), why, n);
}

/* --------------------------------------------------- transfer callbacks */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  hreq *q = ud;
  size_t n = size * nmemb;
  if (n > q->cap - q->len) {
    q->stopped = "too_large";
    return 0; /* any other count than n aborts the transfer */
  }
  if (q->len + n > q->size) {
    size_t want = q->size ? q->size : 16384;
    char *b;
    while (want < q->len + n)
      want *= 2;
    if (want > q->cap) want = q->cap;
    if (!(b = realloc(q->body, want))) {
      q->stopped = "memory";
      return 0;
    }
    q->body = b, q->size = want;
  }
  memcpy(q->body + q->len, p, n);
  q->len += n;
  return n;
}

/* A JSON string of a header value: UTF-8 as is, other bytes read as
 * ISO-8859-1 (what HTTP/1.1 headers historically were). */
static json_t *header_text(const char *p, size_t n) {
  json_t *j = json_stringn(p, n);
  char *u, *d;
  if (j) return j;
  if (!(u = malloc(2 * n + 1))) return NULL;
  d = u;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x80) {
      *d++ = (char)c;
    } else {
      *d++ = (char)(0xC0 | c >> 6);
      *d++ = (char)(0x80 | (c & 0x3F));
    }
  }
  j = json_stringn(u, (size_t)(d - u));
  free(u);
  return j;
}

/* Each header line of each response (redirects included); a status line
 * starts a new response, so only the last one's headers are kept. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  hreq *q = ud;
  size_t n = size * nmemb, nl, vs, ve;
  char name[256];
  json_t *old, *val;
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    json_object_clear(q->headers);
    q->header_bytes = 0;
  }
  if ((q->header_bytes += n) > FHTTP_RESP_HEADER_BYTES) {
    q->stopped = "headers";
    return 0;
  }
  for (nl = 0; nl < n && p[nl] != ':'; nl++)
    ;
  if (nl == n || nl >= sizeof name || !is_token(p, nl)) return n;
  for (size_t i = 0; i < nl; i++)
    name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] | 0x20 : p[i]);
  name[nl] = '\0';
  for (vs = nl + 1; vs < n && (p[vs] == ' ' || p[vs] == '\t'); vs++)
    ;
  for (ve = n; ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' ||
                           p[ve - 1] == ' ' || p[ve - 1] == '\t');
       ve--)
    ;
  if (!(val = header_text(p + vs, ve - vs))) return n;
  if ((old = json_object_get(q->headers, name))) { /* repeated: a list */
    char *joined;
    if (asprintf(&joined, "%s, %s", json_string_value(old),
                 json_string_value(val)) < 0)
      abort();
    json_decref(val);
    val = json_string(joined);
    free(joined);
  }
  json_object_set_new(q->headers, name, val);
  return n;
}

/* ------------------------------------------------------------ the answer */

/* The media type of a Content-Type, lower-case, into media; its charset
 * (lower-case) into charset, "" when none. */
static void content_type_parse(const char *ct, char *media, size_t mlen,
                               char *charset, size_t clen) {
  size_t i = 0;
  media[0] = charset[0] = '\0';
  if (!ct) return;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  for (; *ct && *ct != ';' && *ct != ' ' && *ct != '\t'; ct++)
    if (i + 1 < mlen)
      media[i++] = (char)(*ct | (*ct >= 'A' && *ct <= 'Z' ? 0x20 : 0));
  media[i] = '\0';
  while ((ct = strchr(ct, ';'))) {
    ct++;
    while (*ct == ' ' || *ct == '\t')
      ct++;
    if (strncasecmp(ct, "charset=", 8) != 0) continue;
    ct += 8;
    if (*ct == '"') ct++;
    for (i = 0; *ct && *ct != '"' && *ct != ';' && *ct != ' ' && i + 1 < clen;
         ct++)
      charset[i++] = (char)(*ct | (*ct >= 'A' && *ct <= 'Z' ? 0x20 : 0));
    charset[i] = '\0';
    return;
  }
}

/* The body as JSON: a string when it is UTF-8, else {"$bytes": base64}
 * (the interchange makes either a Ruby String). */
static json_t *content_json(const char *p, size_t n) {
  json_t *j = json_stringn(p ? p : "", n);
  char *b;
  if (j) return j;
  if (!(b = b64_encode(p, n, 0))) return NULL;
  j = json_pack("{s:s}", "$bytes", b);
  free(b);
  return j;
}

static json_t *answer_ok(hreq *q) {
  long status = 0;
  char *eff = NULL, *ct = NULL, media[128], charset[64];
  json_t *urls, *resp;
  size_t size;
  curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(q->easy, CURLINFO_EFFECTIVE_URL, &eff);
  curl_easy_getinfo(q->easy, CURLINFO_CONTENT_TYPE, &ct);
  content_type_parse(ct, media, sizeof media, charset, sizeof charset);
  if (!eff) eff = q->url;
  if (!q->head && (strcmp(media, "text/html") == 0 ||
                   strcmp(media, "application/xhtml+xml") == 0))
    urls = fhttp_links(q->body ? q->body : "", q->len, eff);
  else
    urls = json_array();
  resp =
      json_pack("{s:{s:I, s:s, s:s, s:s?, s:O, s:o, s:o}}", "ok", "status",
                (json_int_t)status, "url", eff, "content_type", media,
                "charset", charset[0] ? charset : NULL, "headers", q->headers,
                "content", content_json(q->body, q->len), "urls", urls);
  if (!resp) return err_value("unreachable", "", "out of memory");
  size = json_dumpb(resp, NULL, 0, JSON_COMPACT);
  if (size > FHTTP_ANSWER_MAX) {
    json_decref(resp);
    return err_value("too_large", "",
                     "the answer is %zu bytes as JSON; a fibril receives at "
                     "most %u",
                     size, (unsigned)FHTTP_ANSWER_MAX);
  }
  return resp;
}

/* The answer of a finished transfer. */
static json_t *answer_of(hreq *q, CURLcode rc) {
  const char *why = q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_OK) return answer_ok(q);
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return err_value("timeout", "", "no complete answer within %ld ms: %s",
                     q->timeout_ms, why);
  if (q->stopped && strcmp(q->stopped, "memory") == 0)
    return err_value("unreachable", "", "out of memory for the body");
  if (q->stopped && strcmp(q->stopped, "headers") == 0)
    return err_value("too_large", "", "response headers over %d bytes",
                     FHTTP_RESP_HEADER_BYTES);
  if ((q->stopped && strcmp(q->stopped, "too_large") == 0) ||
      rc == CURLE_FILESIZE_EXCEEDED)
    return err_value("too_large", "",
                     q->cap < q->max_bytes
                         ? "the body passes %zu bytes, the most a fibril "
                           "can receive"
                         : "the body passes max_bytes (%zu)",
                     q->cap);
  if (rc == CURLE_TOO_MANY_REDIRECTS)
    return err_value("unreachable", "url", "more than %d redirects",
                     FHTTP_REDIRECTS);
  if (rc == CURLE_UNSUPPORTED_PROTOCOL)
    return err_value("unreachable", "url",
                     "redirected to a URL that is not http or https: %s", why);
  return err_value("unreachable", "", "%s", why);
}

/* ------------------------------------------------------------ the thread */

/* Makes q's easy handle and hands it to the multi handle; -1 if libcurl
 * refuses (q is then answered). */
static int transfer_start(hreq *q) {
  CURL *e = q->easy = curl_easy_init();
  if (!e || !(q->headers = json_object())) goto Fail;
  curl_easy_setopt(e, CURLOPT_URL, q->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)FHTTP_REDIRECTS);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, q->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, q->timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->cap);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* all curl decodes */
  curl_easy_setopt(e, CURLOPT_USERAGENT, "m31/" M31_VERSION);
  curl_easy_setopt(e, CURLOPT_NOBODY, (long)q->head);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, q);
  if (curl_multi_add_handle(ht.multi, e) != CURLM_OK) goto Fail;
  q->prev = NULL;
  q->next = ht.active;
  if (ht.active) ht.active->prev = q;
  ht.active = q;
  return 0;
Fail:
  hreq_answer(q, err_value("unreachable", "", "libcurl refused the request"));
  return -1;
}

static void active_remove(hreq *q) {
  curl_multi_remove_handle(ht.multi, q->easy);
  if (q->prev)
    q->prev->next = q->next;
  else
    ht.active = q->next;
  if (q->next) q->next->prev = q->prev;
}

/* Answers every finished transfer. */
static void transfers_reap(void) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(ht.multi, &left))) {
    char *priv = NULL;
    hreq *q;
    CURLcode rc;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    q = (hreq *)priv;
    rc = m->data.result; /* m is invalid after the removal */
    active_remove(q);
    hreq_answer(q, answer_of(q, rc));
  }
}

static void *http_thread(void *arg) {
  (void)arg;
  for (;;) {
    hreq *in;
    int stop, still;
    pthread_mutex_lock(&ht.lock);
    in = ht.queue;
    ht.queue = ht.queue_tail = NULL;
    stop = ht.stop;
    pthread_mutex_unlock(&ht.lock);
    while (in) {
      hreq *next = in->next;
      if (stop)
        hreq_answer(in, err_value("unreachable", "", "the node is stopping"));
      else
        transfer_start(in);
      in = next;
    }
    if (stop) break;
    curl_multi_perform(ht.multi, &still);
    transfers_reap();
    curl_multi_poll(ht.multi, NULL, 0, 1000, NULL);
  }
  while (ht.active) {
    hreq *q = ht.active;
    active_remove(q);
    hreq_answer(q, err_value("unreachable", "", "the node is stopping"));
  }
  return NULL;
}

/* ------------------------------------------------------------ interface */

int fhttp_init(char *errbuf, size_t errlen) {
  if (ht.running) return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(errbuf, errlen, "cannot initialise libcurl");
    return -1;
  }
  ht.global = 1;
  if (!(ht.multi = curl_multi_init())) {
    snprintf(errbuf, errlen, "cannot make a curl multi handle");
    return -1;
  }
  curl_multi_setopt(ht.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)FHTTP_CONNECTIONS_MAX);
  ht.stop = 0;
  if (pthread_create(&ht.thread, NULL, http_thread, NULL) != 0) {
    snprintf(errbuf, errlen, "cannot start the http thread");
    curl_multi_cleanup(ht.multi);
    ht.multi = NULL;
    return -1;
  }
  pthread_mutex_lock(&ht.lock);
  ht.accepting = 1;
  pthread_mutex_unlock(&ht.lock);
  ht.running = 1;
  return 0;
}

void fhttp_shutdown(void) {
  if (ht.running) {
    pthread_mutex_lock(&ht.lock);
    ht.accepting = 0;
    ht.stop = 1;
    curl_multi_wakeup(ht.multi);
    pthread_mutex_unlock(&ht.lock);
    pthread_join(ht.thread, NULL);
    curl_multi_cleanup(ht.multi);
    ht.multi = NULL;
    ht.running = 0;
  }
  if (ht.global) curl_global_cleanup();
  ht.global = 0;
}

void fhttp_call(const char *op, const json_t *args, fsc_done_fn done,
                void *ud) {
  char why[512];
  hreq *q;
  if (strcmp(op, "req") != 0) {
    done(ud, err_value("bad_request", "", "no such http call: %s", op));
    return;
  }
  if (!json_is_array(args) || json_array_size(args) < 1 ||
      json_array_size(args) > 2) {
    done(ud, err_value("bad_request", "", "http.req takes (url, opts = {})"));
    return;
  }
  if (!(q = calloc(1, sizeof *q))) abort();
  q->done = done, q->ud = ud;
  if (url_parse(json_array_get(args, 0), &q->url, why, sizeof why) != 0) {
    hreq_free(q);
    done(ud, err_value("bad_request", "url", "%s", why));
    return;
  }
  if (opts_parse(q, json_array_get(args, 1), why, sizeof why) != 0) {
    hreq_free(q);
    done(ud, err_value("bad_request", "", "%s", why));
    return;
  }
  pthread_mutex_lock(&ht.lock);
  if (!ht.accepting || ht.inflight >= FHTTP_INFLIGHT_MAX) {
    int stopping = !ht.accepting;
    pthread_mutex_unlock(&ht.lock);
    hreq_free(q);
    done(ud, err_value("unreachable", "", "%s",
                       stopping ? "http is not running on this node"
                                : "too many http requests in flight"));
    return;
  }
  ht.inflight++;
  if (ht.queue_tail)
    ht.queue_tail->next = q;
  else
    ht.queue = q;
  ht.queue_tail = q;
  curl_multi_wakeup(ht.multi);
  pthread_mutex_unlock(&ht.lock);
}

/* --------------------------------------------------------- link scanner */

/*
 * A tolerant scanner of HTML for the href of <a>, <area> and <base>: not
 * a parser, but it skips what would hide or fake a tag (comments, the raw
 * text of <script>, <style>, <textarea>, <title>), reads attributes quoted
 * either way or not at all, in any case, and decodes the character
 * references a URL holds in practice (&amp; &lt; &gt; &quot; &apos; &#N;
 * &#xN;).
 */
typedef void (*href_fn)(void *ud, const char *tag, const char *v, size_t n);

static int ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* 1 when p (before end) starts with lit, ignoring ASCII case. */
static int starts_ci(const char *p, const char *end, const char *lit) {
  size_t n = strlen(lit);
  return (size_t)(end - p) >= n && strncasecmp(p, lit, n) == 0;
}

/* The end of the raw text of element tag from p: the "<" of its end tag,
 * or end. */
static const char *raw_text_end(const char *p, const char *end,
                                const char *tag) {
  size_t n = strlen(tag);
  for (; (p = memchr(p, '<', (size_t)(end - p))); p++) {
    if (p + 2 + n > end) return end;
    if (p[1] == '/' && strncasecmp(p + 2, tag, n) == 0 &&
        (p + 2 + n == end || ws(p[2 + n]) || p[2 + n] == '>' ||
         p[2 + n] == '/'))
      return p;
  }
  return end;
}

/* Reads the attributes of a start tag from p to its ">"; calls fn with
 * the first href when tag is a, area or base. Returns the position after
 * the tag. */
static const char *attrs_scan(const char *p, const char *end, const char *tag,
                              href_fn fn, void *ud) {
  int want = strcmp(tag, "a") == 0 || strcmp(tag, "area") == 0 ||
             strcmp(tag, "base") == 0;
  while (p < end) {
    const char *name, *v = NULL;
    size_t nlen, vlen = 0;
    while (p < end && (ws(*p) || *p == '/'))
      p++;
    if (p >= end) break;
    if (*p == '>') return p + 1;
    name = p++; /* a name may start with '=' */
    while (p < end && !ws(*p) && *p != '/' && *p != '>' && *p != '=')
      p++;
    nlen = (size_t)(p - name);
    while (p < end && ws(*p))
      p++;
    if (p < end && *p == '=') {
      p++;
      while (p < end && ws(*p))
        p++;
      if (p < end && (*p == '"' || *p == '\'')) {
        const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
        v = p + 1;
        vlen = (size_t)((q ? q : end) - v);
        p = q ? q + 1 : end;
      } else {
        v = p;
        while (p < end && !ws(*p) && *p != '>')
          p++;
        vlen = (size_t)(p - v);
      }
    }
    if (want && v && nlen == 4 && strncasecmp(name, "href", 4) == 0) {
      fn(ud, tag, v, vlen);
      want = 0; /* the first href counts */
    }
  }
  return end;
}

/* The end of a comment whose text starts at c: after its "-->" ("<!-->"
 * and "<!--->" are empty comments), or end. */
static const char *comment_end(const char *c, const char *end) {
  if (c < end && *c == '>') return c + 1;
  if (c + 1 < end && c[0] == '-' && c[1] == '>') return c + 2;
  for (; c + 3 <= end; c++)
    if (memcmp(c, "-->", 3) == 0) return c + 3;
  return end;
}

static void html_scan(const char *p, size_t len, href_fn fn, void *ud) {
  static const char *const raw[] = {"script", "style", "textarea", "title",
                                    NULL};
  const char *end = p + len;
  while (p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
    char tag[16];
    size_t n = 0;
    if (starts_ci(p, end, "<!--")) {
      p = comment_end(p + 4, end);
      continue;
    }
    if (p + 1 < end && (p[1] == '!' || p[1] == '?' || p[1] == '/')) {
      const char *c = memchr(p, '>', (size_t)(end - p));
      p = c ? c + 1 : end;
      continue;
    }
    if (p + 1 >= end || !(((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z'))) {
      p++; /* a "<" in text */
      continue;
    }
    for (p++; p < end && !ws(*p) && *p != '/' && *p != '>'; p++)
      if (n + 1 < sizeof tag)
        tag[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
    tag[n] = '\0';
    p = attrs_scan(p, end, tag, fn, ud);
    for (int i = 0; raw[i]; i++)
      if (strcmp(tag, raw[i]) == 0) p = raw_text_end(p, end, tag);
  }
}

/* The value of digit c in base 16 (hex) or 10, or -1. */
static int digit(char c, int hex) {
  if (c >= '0' && c <= '9') return c - '0';
  if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
    return (c | 0x20) - 'a' + 10;
  return -1;
}

/* The character reference at v (an '&', before end): its character into
 * *c and its length, or 0 when it is none this decodes. Numeric ones only
 * for ASCII: a URL needs no more. */
static size_t ref_at(const char *v, const char *end, char *c) {
  static const struct {
    const char *name;
    char c;
  } named[] = {{"amp;", '&'},
               {"lt;", '<'},
               {"gt;", '>'},
               {"quot;", '"'},
               {"apos;", '\''}};
  if (v + 1 < end && v[1] == '#') {
    const char *q = v + 2;
    int hex = q < end && (*q | 0x20) == 'x', d = 0;
    unsigned long cp = 0;
    size_t digits = 0;
    for (q += hex; q < end && digits < 8 && (d = digit(*q, hex)) >= 0; q++)
      cp = cp * (hex ? 16 : 10) + (unsigned long)d, digits++;
    if (!digits || q >= end || *q != ';' || cp == 0 || cp >= 0x80) return 0;
    *c = (char)cp;
    return (size_t)(q + 1 - v);
  }
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    size_t k = strlen(named[i].name);
    if ((size_t)(end - v - 1) >= k && memcmp(v + 1, named[i].name, k) == 0) {
      *c = named[i].c;
      return 1 + k;
    }
  }
  return 0;
}

/* Decodes the character references of v (n bytes) into a new string. */
static char *refs_decode(const char *v, size_t n) {
  char *out = malloc(n + 1), *d = out;
  const char *end = v + n;
  size_t k;
  if (!out) abort();
  while (v < end) {
    if (*v == '&' && (k = ref_at(v, end, d)))
      d++, v += k;
    else
      *d++ = *v++;
  }
  *d = '\0';
  return out;
}

/* What the scan collects: the base (from <base href>) and the links. */
typedef struct links {
  CURLU *base;
  int base_set; /* a <base href> was seen */
  json_t *out;  /* the URLs, in order */
  json_t *seen; /* the same, as a set */
} links;

/*
 * Resolves href (decoded, NUL-terminated) against base: a new CURLU of an
 * absolute http(s) URL without fragment, its host lower-cased, or NULL.
 */
static CURLU *resolve(CURLU *base, const char *href) {
  CURLU *u = curl_url_dup(base);
  char *scheme = NULL, *host = NULL;
  int ok = 0;
  if (!u) abort();
  if (curl_url_set(u, CURLUPART_URL, href, CURLU_URLENCODE) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    for (char *c = host; *c; c++)
      if (*c >= 'A' && *c <= 'Z') *c |= 0x20;
    ok = curl_url_set(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
         curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK;
  }
  curl_free(scheme);
  curl_free(host);
  if (!ok) {
    curl_url_cleanup(u);
    return NULL;
  }
  return u;
}

/* The href text as a URL resolves it: trimmed of ASCII whitespace, tabs
 * and newlines inside dropped. A new string; NULL when it is empty or
 * only a #fragment (a link into the page itself). */
static char *href_clean(const char *v, size_t n) {
  char *s = refs_decode(v, n), *d = s;
  const char *c = s;
  while (*c && ws(*c))
    c++;
  for (; *c; c++)
    if (*c != '\t' && *c != '\n' && *c != '\r') *d++ = *c;
  while (d > s && ws(d[-1]))
    d--;
  *d = '\0';
  if (!*s || *s == '#') {
    free(s);
    return NULL;
  }
  return s;
}

static void on_base(void *ud, const char *tag, const char *v, size_t n) {
  links *l = ud;
  char *href;
  CURLU *u;
  if (l->base_set || strcmp(tag, "base") != 0) return;
  l->base_set = 1; /* only the first <base href> counts */
  if (!(href = href_clean(v, n))) return;
  if ((u = resolve(l->base, href))) {
    curl_url_cleanup(l->base);
    l->base = u;
  }
  free(href);
}

/*
 * s with what RFC 3986 does not allow after the authority percent-encoded
 * (libcurl leaves " < > \\ ^ ` { | } in a query as they are), in libcurl's
 * lower-case hex. A new string.
 */
static char *url_escape(const char *s) {
  static const char ok[] = "-._~:/?#[]@!$&'()*+,;=%";
  const char *auth = strstr(s, "://"), *rest;
  char *out = malloc(3 * strlen(s) + 1), *d = out;
  if (!out) abort();
  rest = auth ? auth + 3 + strcspn(auth + 3, "/?#") : s;
  memcpy(d, s, (size_t)(rest - s));
  d += rest - s;
  for (const unsigned char *c = (const unsigned char *)rest; *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
        (*c >= '0' && *c <= '9') || strchr(ok, *c))
      *d++ = (char)*c;
    else
      d += sprintf(d, "%%%02x", *c);
  }
  *d = '\0';
  return out;
}

static void on_link(void *ud, const char *tag, const char *v, size_t n) {
  links *l = ud;
  char *href, *s = NULL;
  CURLU *u;
  if (strcmp(tag, "base") == 0 || !(href = href_clean(v, n))) return;
  u = resolve(l->base, href);
  free(href);
  if (!u) return;
  if (curl_url_get(u, CURLUPART_URL, &s, CURLU_NO_DEFAULT_PORT) == CURLUE_OK) {
    char *e = url_escape(s);
    json_t *j = json_string(e); /* NULL when not UTF-8: skipped */
    if (j && strlen(e) <= FHTTP_URL_MAX && !json_object_get(l->seen, e) &&
        json_object_set(l->seen, e, json_true()) == 0)
      json_array_append(l->out, j);
    json_decref(j);
    free(e);
  }
  curl_free(s);
  curl_url_cleanup(u);
}

json_t *fhttp_links(const char *html, size_t len, const char *base) {
  links l = {curl_url(), 0, json_array(), json_object()};
  if (!l.base || !l.out || !l.seen) abort();
  if (curl_url_set(l.base, CURLUPART_URL, base, 0) == CURLUE_OK) {
    html_scan(html, len, on_base, &l);
    html_scan(html, len, on_link, &l);
  }
  curl_url_cleanup(l.base);
  json_decref(l.seen);
  return l.out;
}
