/*
 * print.c — how the client shows answers: bodies (pretty JSON on a
 * terminal, the bytes as they came otherwise), header blocks, and a failed
 * answer as one line, "Title: detail".
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_isatty(FILE *f) { return isatty(fileno(f)); }

int cli_color(FILE *f) {
  const char *nc = getenv("NO_COLOR");
  return cli_isatty(f) && !(nc && *nc);
}

/* The first line of the body, at most max bytes of it. */
static void excerpt(char *out, size_t n, const char *body, size_t len,
                    size_t max) {
  size_t k = 0;
  while (k < len && k < max && body[k] != '\n' && body[k] != '\r')
    k++;
  snprintf(out, n, "%.*s%s", (int)k, body, k < len ? "..." : "");
}

void cli_problem_format(char *out, size_t n, const cli_resp *r) {
  json_t *p = NULL;
  const char *title = NULL, *detail = NULL;
  char ex[200];

  if (r->len > 0) p = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
  if (json_is_object(p)) {
    title = json_string_value(json_object_get(p, "title"));
    detail = json_string_value(json_object_get(p, "detail"));
  }
  if (title && detail && *detail)
    snprintf(out, n, "%s: %s", title, detail);
  else if (title)
    snprintf(out, n, "%s", title);
  else if (detail)
    snprintf(out, n, "HTTP %ld: %s", r->status, detail);
  else if (r->len > 0) {
    excerpt(ex, sizeof ex, r->body, r->len, 160);
    snprintf(out, n, "HTTP %ld: %s", r->status, ex);
  } else
    snprintf(out, n, "HTTP %ld", r->status);
  json_decref(p);
}

void cli_problem_print(const cli_resp *r) {
  char line[1200];
  cli_problem_format(line, sizeof line, r);
  fprintf(stderr, "%s\n", line);
}

void cli_headers_print(FILE *f, const cli_resp *r) {
  for (size_t i = 0; i < r->hlen; i++)
    if (r->headers[i] != '\r') fputc(r->headers[i], f);
}

char *cli_json_line(const json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s) abort();
  return s;
}

void cli_body_print(FILE *f, const cli_resp *r, int pretty) {
  json_t *v = NULL;

  if (pretty && strstr(r->ctype, "json") && r->len > 0)
    v = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
  if (v) {
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!s) abort();
    fprintf(f, "%s\n", s);
    free(s);
    json_decref(v);
    return;
  }
  fwrite(r->body, 1, r->len, f);
  if (pretty && r->len > 0 && r->body[r->len - 1] != '\n') fputc('\n', f);
}

char *cli_read_all(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0, k;
  char *p = malloc(cap);

  if (!p) abort();
  while ((k = fread(p + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n - 1 == 0) {
      char *q = realloc(p, cap *= 2);
      if (!q) abort();
      p = q;
    }
  }
  if (ferror(f)) {
    free(p);
    return NULL;
  }
  p[n] = '\0';
  if (len) *len = n;
  return p;
}
