/*
 * request.c — the request as handlers see it: accessors over what the
 * daemon read and the URI parser decoded, and the JSON body reader.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REQ_JSON_MAX_DEPTH 64

m31_req *req_new(const char *raw_uri) {
  m31_req *r = calloc(1, sizeof *r);

  if (!r || !(r->raw_uri = strdup(raw_uri))) abort();
  r->path = strndup(raw_uri, strcspn(raw_uri, "?"));
  if (!r->path) abort();
  return r;
}

void req_free(m31_req *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nhdrs; i++) {
    free(r->hdrs[i].name);
    free(r->hdrs[i].value);
  }
  free(r->hdrs);
  if (r->resp) MHD_destroy_response(r->resp);
  uri_parts_free(&r->uri);
  free(r->body);
  free(r->path);
  free(r->raw_uri);
  free(r);
}

const char *req_id(const m31_req *r) { return r->id; }

const char *req_method(const m31_req *r) {
  return r->method ? r->method : "GET";
}

const char *req_path(const m31_req *r) { return r->path; }

const char *req_param(const m31_req *r, int i) {
  return i >= 0 && i < r->match.nparams ? r->match.params[i] : NULL;
}

const char *req_query(const m31_req *r, const char *name) {
  for (size_t i = 0; i < r->uri.nq; i++)
    if (strcmp(r->uri.qnames[i], name) == 0) return r->uri.qvalues[i];
  return NULL;
}

size_t req_query_count(const m31_req *r) { return r->uri.nq; }

void req_query_at(const m31_req *r, size_t i, const char **name,
                  const char **value) {
  *name = i < r->uri.nq ? r->uri.qnames[i] : NULL;
  *value = i < r->uri.nq ? r->uri.qvalues[i] : NULL;
}

const char *req_header(const m31_req *r, const char *name) {
  if (!r->conn) return NULL;
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_body(const m31_req *r, size_t *len) {
  if (len) *len = r->body_len;
  return r->body ? r->body : "";
}

int req_content_type_is_json(const char *ctype) {
  size_t n, slash;

  if (!ctype) return 0;
  while (*ctype == ' ' || *ctype == '\t')
    ctype++;
  n = strcspn(ctype, ";");
  while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
    n--;
  if (n == 16 && strncasecmp(ctype, "application/json", 16) == 0) return 1;
  /* type/subtype+json: RFC 6839's structured syntax suffix */
  slash = strcspn(ctype, "/");
  return slash > 0 && slash + 1 < n && n - slash - 1 > 5 &&
         strncasecmp(ctype + n - 5, "+json", 5) == 0 &&
         memchr(ctype, ' ', n) == NULL;
}

/*
 * Finds where the body's nesting passes REQ_JSON_MAX_DEPTH, before jansson
 * recurses into it. Returns 0 when it does not; else 1 with line/column.
 */
static int json_too_deep(const char *s, size_t n, int *line, int *col) {
  int depth = 0, in_str = 0, esc = 0;

  *line = 1;
  *col = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    (*col)++;
    if (c == '\n') {
      (*line)++;
      *col = 0;
    }
    if (in_str) {
      if (esc)
        esc = 0;
      else if (c == '\\')
        esc = 1;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > REQ_JSON_MAX_DEPTH) return 1;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return 0;
}

static int json_or_reply(m31_req *r, size_t flags, json_t **out) {
  json_error_t e;
  int line, col;

  *out = NULL;
  if (!req_content_type_is_json(req_header(r, "Content-Type"))) {
    reply_problem(r, 415, "Content-Type",
                  "the body must be JSON (Content-Type: application/json)");
    return -1;
  }
  if (json_too_deep(r->body ? r->body : "", r->body_len, &line, &col)) {
    reply_problem(r, 400, NULL,
                  "JSON nested deeper than %d levels at line %d, column %d",
                  REQ_JSON_MAX_DEPTH, line, col);
    return -1;
  }
  *out = json_loadb(r->body ? r->body : "", r->body_len,
                    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | flags, &e);
  if (!*out) {
    reply_problem(r, 400, NULL, "malformed JSON at line %d, column %d: %s",
                  e.line, e.column, e.text);
    return -1;
  }
  return 0;
}

int req_json_or_reply(m31_req *r, json_t **out) {
  return json_or_reply(r, 0, out);
}

int req_json_value_or_reply(m31_req *r, json_t **out) {
  return json_or_reply(r, JSON_DECODE_ANY, out);
}
