/*
 * uri.c — the request target, split and percent-decoded by us rather than by
 * libmicrohttpd: its decoder turns "%2F" into a separator-looking '/' and
 * silently truncates at "%00" (HARDENING.md), so the daemon hands us the raw
 * bytes and we decide.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int uri_decode(const char *s, size_t n, int plus_space, char **out) {
  char *d = malloc(n + 1);
  size_t o = 0;

  if (!d) abort();
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      int h, l;
      if (i + 2 >= n) goto Bad;
      h = hex_value(s[i + 1]);
      l = hex_value(s[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0)) goto Bad;
      d[o++] = (char)(h << 4 | l);
      i += 2;
    } else if (plus_space && s[i] == '+') {
      d[o++] = ' ';
    } else {
      d[o++] = s[i];
    }
  }
  d[o] = '\0';
  *out = d;
  return 0;
Bad:
  free(d);
  return -1;
}

/* Appends a string to a growing array of strings (takes it). */
static void strv_push(char ***v, size_t *n, char *s) {
  char **nv = realloc(*v, (*n + 1) * sizeof **v);

  if (!nv) abort();
  nv[(*n)++] = s;
  *v = nv;
}

/* The path part: '/'-separated segments after the leading '/'. */
static int path_split(const char *p, size_t n, uri_parts *out) {
  size_t start = 1;

  for (size_t i = 1; i <= n; i++) {
    if (i < n && p[i] != '/') continue;
    char *seg;
    if (uri_decode(p + start, i - start, 0, &seg) != 0) return -1;
    strv_push(&out->segs, &out->nsegs, seg);
    start = i + 1;
  }
  return 0;
}

/* One "name=value" or "name" piece of the query. */
static int query_piece(const char *s, size_t n, uri_parts *out) {
  const char *eq = memchr(s, '=', n);
  size_t nlen = eq ? (size_t)(eq - s) : n;
  char *name, *value;

  if (uri_decode(s, nlen, 1, &name) != 0) return -1;
  if (uri_decode(eq ? eq + 1 : "", eq ? n - nlen - 1 : 0, 1, &value) != 0) {
    free(name);
    return -1;
  }
  size_t n_names = out->nq;

  strv_push(&out->qnames, &n_names, name);
  strv_push(&out->qvalues, &out->nq, value);
  return 0;
}

/* The query: '&'-separated pieces; empty pieces ("a&&b") are skipped. */
static int query_split(const char *q, uri_parts *out) {
  while (*q) {
    size_t n = strcspn(q, "&");
    if (n > 0 && query_piece(q, n, out) != 0) return -1;
    q += n;
    if (*q == '&') q++;
  }
  return 0;
}

/* Bytes that never belong in a request target, raw. */
static int has_control_byte(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f) return 1;
  return 0;
}

int uri_parse(const char *raw, uri_parts *out, const char **why) {
  const char *q = strchr(raw, '?');
  size_t plen = q ? (size_t)(q - raw) : strlen(raw);

  memset(out, 0, sizeof *out);
  if (raw[0] != '/') {
    *why = "the request target must be a path starting with /";
    return -1;
  }
  if (has_control_byte(raw)) {
    *why = "the request target holds a space or control character";
    return -1;
  }
  if (path_split(raw, plen, out) != 0 || (q && query_split(q + 1, out) != 0)) {
    uri_parts_free(out);
    *why = "the request target has a malformed or NUL (%00) percent escape";
    return -1;
  }
  return 0;
}

void uri_parts_free(uri_parts *p) {
  for (size_t i = 0; i < p->nsegs; i++)
    free(p->segs[i]);
  for (size_t i = 0; i < p->nq; i++) {
    free(p->qnames[i]);
    free(p->qvalues[i]);
  }
  free(p->segs);
  free(p->qnames);
  free(p->qvalues);
  memset(p, 0, sizeof *p);
}
