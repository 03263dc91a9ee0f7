/*
 * reply.c — building the one answer of a request. The reply_* functions make
 * the libmicrohttpd response and keep it on the request; the daemon queues
 * it (reply_queue) once the handler has returned, so a handler can never
 * queue on a connection in the wrong state, and a handler that forgot to
 * answer still gets a 500 out.
 */
#include "server/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *reply_reason(int status) {
  static const struct {
    int status;
    const char *title;
  } reasons[] = {
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {406, "Not Acceptable"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {412, "Precondition Failed"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {416, "Range Not Satisfiable"},
      {422, "Unprocessable Content"},
      {428, "Precondition Required"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
    if (reasons[i].status == status) return reasons[i].title;
  return status >= 500 ? "Server Error" : "Client Error";
}

/* "Content Too Large" -> "content-too-large". */
static void slug_format(const char *title, char *buf, size_t n) {
  size_t o = 0;
  int dash = 0;

  for (; *title && o + 2 < n; title++) {
    if (isalnum((unsigned char)*title)) {
      if (dash && o) buf[o++] = '-';
      buf[o++] = (char)tolower((unsigned char)*title);
      dash = 0;
    } else {
      dash = 1;
    }
  }
  buf[o] = '\0';
}

/* A JSON string of client-influenced text; bytes that are not UTF-8 are
 * written as \xHH rather than failing the whole answer. refcount: new. */
static json_t *text_new(const char *s) {
  char safe[1024];
  json_t *j = json_string(s);

  if (j) return j;
  log_sanitize(s, 256, safe, sizeof safe);
  if (!(j = json_string(safe))) abort();
  return j;
}

json_t *reply_problem_new(int status, const char *field, const char *detail) {
  const char *title = reply_reason(status);
  char slug[64], type[128];
  json_t *p;

  slug_format(title, slug, sizeof slug);
  snprintf(type, sizeof type, "https://m31.dev/problems/%s", slug);
  p = json_pack("{s:s, s:s, s:i, s:o}", "type", type, "title", title, "status",
                status, "detail", text_new(detail ? detail : ""));
  if (!p) abort();
  if (field) json_object_set_new(p, "field", text_new(field));
  return p;
}

void reply_header(m31_req *r, const char *name, const char *value) {
  req_hdr *h;

  if (r->resp) {
    m31_log(LOG_ERROR, "%s: header %s set after the reply; ignored", r->id,
            name);
    return;
  }
  h = realloc(r->hdrs, (r->nhdrs + 1) * sizeof *h);
  if (!h) abort();
  r->hdrs = h;
  h[r->nhdrs].name = strdup(name);
  h[r->nhdrs].value = strdup(value);
  if (!h[r->nhdrs].name || !h[r->nhdrs].value) abort();
  r->nhdrs++;
}

/* Keeps the response on the request; a second answer is a handler bug. */
void reply_set(m31_req *r, int status, const char *ctype,
               struct MHD_Response *resp, size_t bytes) {
  if (!resp) abort();
  if (r->resp) {
    m31_log(LOG_ERROR, "%s: answered twice (%d after %d); kept the first",
            r->id, status, r->status);
    MHD_destroy_response(resp);
    return;
  }
  if (ctype) MHD_add_response_header(resp, "Content-Type", ctype);
  for (size_t i = 0; i < r->nhdrs; i++)
    MHD_add_response_header(resp, r->hdrs[i].name, r->hdrs[i].value);
  r->resp = resp;
  r->status = status;
  r->resp_bytes = bytes;
}

/* Takes a malloc'ed buffer. */
static void reply_take(m31_req *r, int status, const char *ctype, char *buf,
                       size_t len) {
  reply_set(r, status, ctype,
            MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE),
            len);
}

void reply_bytes(m31_req *r, int status, const char *ctype, const void *body,
                 size_t len) {
  reply_set(
      r, status, ctype,
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY),
      len);
}

void reply_static(m31_req *r, int status, const char *ctype, const void *body,
                  size_t len) {
  reply_set(r, status, ctype,
            MHD_create_response_from_buffer(len, (void *)body,
                                            MHD_RESPMEM_PERSISTENT),
            len);
}

void reply_empty(m31_req *r, int status) {
  reply_set(r, status, NULL,
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
            0);
}

static void reply_problem_json(m31_req *r, json_t *p) {
  int status = (int)json_integer_value(json_object_get(p, "status"));
  char *text = json_dumps(p, JSON_COMPACT);

  json_decref(p);
  if (!text) abort();
  reply_take(r, status, "application/problem+json", text, strlen(text));
}

void reply_problem(m31_req *r, int status, const char *field, const char *fmt,
                   ...) {
  char detail[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (status >= 500 && status != 501) /* 501: the client asked for it */
    m31_log(LOG_ERROR, "%s: %d %s", r->id, status, detail);
  reply_problem_json(r, reply_problem_new(status, field, detail));
}

void reply_json(m31_req *r, int status, json_t *body) {
  const char *fmt = req_query(r, "fmt");
  char *text;

  if (!body) {
    reply_problem(r, 500, NULL, "the answer could not be built");
    return;
  }
  if (fmt && strcmp(fmt, "ruby") == 0) {
    text = ruby_literal_new(body);
    json_decref(body);
    if (!text) {
      reply_problem(r, 500, NULL, "the answer cannot be written as Ruby");
      return;
    }
    reply_take(r, status, "text/x-ruby", text, strlen(text));
    return;
  }
  text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) abort();
  reply_take(r, status, "application/json", text, strlen(text));
}

static int has_header(const m31_req *r, const char *name) {
  for (size_t i = 0; i < r->nhdrs; i++)
    if (strcasecmp(r->hdrs[i].name, name) == 0) return 1;
  return 0;
}

enum MHD_Result reply_queue(m31_req *r, int closing) {
  if (!r->resp) {
    m31_log(LOG_ERROR, "%s: the handler did not answer", r->id);
    reply_problem(r, 500, NULL, "the handler did not answer");
  }
  if (!has_header(r, "Cache-Control"))
    MHD_add_response_header(r->resp, "Cache-Control", "no-store");
  MHD_add_response_header(r->resp, "M31-Request-Id", r->id);
  cors_answer(r, r->resp);
  /* While stopping, keep-alive clients are told to go elsewhere. */
  if (closing) MHD_add_response_header(r->resp, "Connection", "close");
  return MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
}
