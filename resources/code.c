/*
 * code.c — /code: Ruby source registered by its SHA-256 fingerprint.
 *
 * POST /code compiles the source once, on a worker (the node itself never
 * runs the mruby compiler on user text), writes it to the store (a blob
 * "code"/"sha256:<hex>", store/keys.h) and only then, once it is durable,
 * puts it in the registry (runtime/code.c, in memory) and answers 201. The
 * registry is a cache of the store: a lookup that misses it (after a
 * restart) reads the store and fills it back (code_source_get). Whatever
 * is in the store compiled when it was registered, so it is never
 * compiled again; a spawn by fingerprint sends the stored text.
 */
#include "resources/resources.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CODE_NS "code" /* the store's blob namespace of registered code */

/* A POST /code parked while its source compiles and is written. */
typedef struct code_wait {
  m31_req *r;
  char *src;
  size_t len;
  char fp[RT_FP_LEN];
  fib_cmd *check; /* NULL when the source compiled before (in the registry) */
  store_result stored; /* the blob put's result; .rc -1 until it ran */
} code_wait;

void code_syntax_reply(m31_req *r, const char *field, const char *message) {
  const char *p = strchr(message, ':'), *q;
  long line = 0;
  char *end;
  json_t *body;
  char *text;
  /* "path:line:col: text"; the path is a fingerprint with a colon */
  if (p && strncmp(message, "sha256:", 7) == 0) p = strchr(message + 7, ':');
  if (p && (line = strtol(p + 1, &end, 10)) > 0 && *end == ':' &&
      (q = strstr(end + 1, ": ")))
    message = q + 2;
  body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type",
                   "https://m31.dev/problems/unprocessable-content", "title",
                   "Unprocessable Content", "status", 422, "field", field,
                   "detail", "");
  {
    char detail[700];
    snprintf(detail, sizeof detail, "syntax error at line %ld: %s", line,
             message);
    json_object_set_new(body, "detail", json_string(detail));
  }
  if (line > 0) json_object_set_new(body, "line", json_integer(line));
  text = json_dumps(body, JSON_COMPACT);
  reply_bytes(r, 422, "application/problem+json", text, strlen(text));
  free(text);
  json_decref(body);
}

static void code_reply(m31_req *r, int status, const char *fp, size_t len) {
  char uri[RT_FP_LEN + 8];
  snprintf(uri, sizeof uri, "/code/%s", fp);
  if (status == 201) reply_header(r, "Location", uri);
  reply_json(r, status,
             json_pack("{s:s, s:I, s:s}", "fingerprint", fp, "size",
                       (json_int_t)len, "uri", uri));
}

/* The store's completion of the blob put, on its writer thread: keep the
 * result, wake the request. */
static void code_stored(void *ud, store_result *res) {
  code_wait *w = ud;
  w->stored = *res;
  res->out = NULL;
  req_resume(w->r);
}

/* Writes the source to the store; code_stored resumes the request. Touches
 * w no more after the call. */
static void code_persist(code_wait *w) {
  store_blob_put_async(resources_store(), CODE_NS, w->fp, w->src, w->len,
                       code_stored, w);
}

/* On the nucleus thread: source that compiled is made durable before the
 * answer; a failed check answers at once. */
static void code_checked(fib_cmd *c, void *arg) {
  code_wait *w = arg;
  const rt_error *err;
  w->check = c;
  if (fib_cmd_result(c, &err) == 1)
    code_persist(w);
  else
    req_resume(w->r);
}

/* Back on a pool thread: registers what is now durable, answers. */
static void code_resume(m31_req *r, void *arg) {
  code_wait *w = arg;
  const rt_error *err = NULL;
  int ok = w->check ? fib_cmd_result(w->check, &err) : 1, created;
  char fp[RT_FP_LEN];
  if (ok == 0) {
    code_syntax_reply(r, "source", err->message);
  } else if (ok < 0) {
    reply_problem(r, 503, NULL, "%s", err->message);
  } else if (w->stored.rc != 0) {
    reply_problem(r, 503, NULL, "cannot store the code: %s",
                  w->stored.err.detail);
  } else {
    if (rt_code_reg_put(fibrils_codes(), w->src, w->len, fp, &created) != 0)
      abort();
    code_reply(r, created ? 201 : 200, fp, w->len);
  }
  fib_cmd_free(w->check);
  free(w->src);
  free(w);
}

/* The stored source of fp, checked against its fingerprint: 1 with *src
 * (malloc'ed, NUL-terminated), 0 when absent, -1 when unreadable (logged). */
static int code_load(const char *fp, char **src, size_t *len) {
  store_err err = {0};
  char got[RT_FP_LEN];
  if (store_blob_get(resources_store(), CODE_NS, fp, src, len, &err) != 0) {
    if (err.code == STORE_NOT_FOUND) return 0;
    m31_log(LOG_ERROR, "cannot read code %s from the store: %s", fp,
            err.detail);
    return -1;
  }
  rt_code_fingerprint(*src, *len, got);
  if (strcmp(got, fp) != 0) {
    m31_log(LOG_ERROR, "the stored code %s does not match its fingerprint", fp);
    free(*src);
    *src = NULL;
    return -1;
  }
  return 1;
}

/* Puts source read back from the store into the registry as is: it
 * compiled when it was registered. src is copied. */
static void code_remember(const char *src, size_t len) {
  char fp[RT_FP_LEN];
  int created;
  if (rt_code_reg_put(fibrils_codes(), src, len, fp, &created) != 0) abort();
}

char *code_source_get(const char *fp, size_t *len) {
  char *src;
  size_t n;
  if ((src = rt_code_reg_get(fibrils_codes(), fp, len)) ||
      !rt_code_fingerprint_valid(fp) || code_load(fp, &src, &n) != 1)
    return src;
  code_remember(src, n);
  if (len) *len = n;
  return src;
}

/* The source of a POST /code: text/x-ruby as is, or {"source": "..."}. */
static int source_or_reply(m31_req *r, char **src, size_t *len) {
  const char *ct = req_header(r, "Content-Type");
  json_t *body, *s;
  const char *k;
  json_t *v;
  if (ct && strncasecmp(ct, "text/x-ruby", 11) == 0 &&
      (ct[11] == '\0' || ct[11] == ';' || ct[11] == ' ')) {
    const char *b = req_body(r, len);
    if (!(*src = malloc(*len + 1))) abort();
    memcpy(*src, b, *len);
    (*src)[*len] = '\0';
  } else {
    if (req_json_or_reply(r, &body) != 0) return -1;
    if (!json_is_object(body)) {
      json_decref(body);
      reply_problem(r, 400, NULL, "the body must be a JSON object");
      return -1;
    }
    json_object_foreach(body, k, v) {
      if (strcmp(k, "source") != 0) {
        reply_problem(r, 422, k, "unknown member %s", k);
        json_decref(body);
        return -1;
      }
    }
    s = json_object_get(body, "source");
    if (!json_is_string(s)) {
      reply_problem(r, 422, "source", "source must be a string of Ruby");
      json_decref(body);
      return -1;
    }
    *len = json_string_length(s);
    if (!(*src = malloc(*len + 1))) abort();
    memcpy(*src, json_string_value(s), *len + 1);
    json_decref(body);
  }
  if (*len == 0 || memchr(*src, '\0', *len)) {
    reply_problem(r, 422, "source",
                  "source must be non-empty text without NUL bytes");
    free(*src);
    return -1;
  }
  return 0;
}

void code_create(m31_req *r) {
  char *src, fp[RT_FP_LEN], *known = NULL;
  size_t len, known_len;
  code_wait *w;
  if (source_or_reply(r, &src, &len) != 0) return;
  rt_code_fingerprint(src, len, fp);
  switch (code_load(fp, &known, &known_len)) {
  case 1: /* durable already: nothing to compile or write */
    code_remember(known, known_len);
    free(known);
    free(src);
    code_reply(r, 200, fp, len);
    return;
  case -1:
    free(src);
    reply_problem(r, 503, NULL, "cannot read the code store");
    return;
  }
  if (!(w = calloc(1, sizeof *w))) abort();
  w->r = r;
  w->src = src, w->len = len;
  memcpy(w->fp, fp, RT_FP_LEN);
  w->stored.rc = -1;
  req_suspend(r, code_resume, w);
  /* compiled before but not durable (a spawn registered it): only write */
  if ((known = rt_code_reg_get(fibrils_codes(), fp, NULL))) {
    free(known);
    code_persist(w);
    return;
  }
  fibrils_check_submit(r, src, len, code_checked, w);
}

void code_get(m31_req *r) {
  const char *fp = req_param(r, 0);
  size_t len;
  char *src;
  if (!rt_code_fingerprint_valid(fp)) {
    reply_problem(r, 400, "fingerprint",
                  "a fingerprint is sha256: and 64 lower-case hex digits");
    return;
  }
  if (!(src = code_source_get(fp, &len))) {
    reply_problem(r, 404, NULL, "no code is registered as %s", fp);
    return;
  }
  {
    char uri[RT_FP_LEN + 8];
    snprintf(uri, sizeof uri, "/code/%s", fp);
    reply_json(r, 200,
               json_pack("{s:s, s:I, s:s, s:s%}", "fingerprint", fp, "size",
                         (json_int_t)len, "uri", uri, "source", src, len));
  }
  free(src);
}
