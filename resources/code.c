/*
 * code.c — /code: Ruby source registered by its SHA-256 fingerprint.
 *
 * POST /code compiles the source once, on a worker (the node itself never
 * runs the mruby compiler on user text), and keeps it in the registry
 * (runtime/code.c, in memory) under "sha256:<hex>"; a spawn by that
 * fingerprint then sends the stored text and compiles nothing here.
 */
#include "resources/resources.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct code_wait {
  char *src;
  size_t len;
  fib_cmd *check;
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

static void code_checked(fib_cmd *c, void *arg) {
  code_wait *w = arg;
  w->check = c;
  req_resume(fib_cmd_req(c));
}

static void code_resume(m31_req *r, void *arg) {
  code_wait *w = arg;
  const rt_error *err;
  int ok = fib_cmd_result(w->check, &err), created;
  char fp[RT_FP_LEN];
  if (ok == 1) {
    if (rt_code_reg_put(fibrils_codes(), w->src, w->len, fp, &created) != 0)
      abort();
    code_reply(r, created ? 201 : 200, fp, w->len);
  } else if (ok == 0) {
    code_syntax_reply(r, "source", err->message);
  } else {
    reply_problem(r, 503, NULL, "%s", err->message);
  }
  fib_cmd_free(w->check);
  free(w->src);
  free(w);
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
  char *src, fp[RT_FP_LEN], *known;
  size_t len;
  code_wait *w;
  if (source_or_reply(r, &src, &len) != 0) return;
  rt_code_fingerprint(src, len, fp);
  if ((known = rt_code_reg_get(fibrils_codes(), fp, NULL))) {
    free(known);
    free(src);
    code_reply(r, 200, fp, len);
    return;
  }
  if (!(w = calloc(1, sizeof *w))) abort();
  w->src = src, w->len = len;
  req_suspend(r, code_resume, w);
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
  if (!(src = rt_code_reg_get(fibrils_codes(), fp, &len))) {
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
