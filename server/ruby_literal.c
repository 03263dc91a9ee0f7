/*
 * ruby_literal.c — a JSON value written as Ruby source that evaluates to the
 * same value, for ?fmt=ruby. The text may be eval'ed by a fibril or the
 * REPL, so strings are double-quoted with every '#' escaped: no "#{...}"
 * interpolation can run, whatever the data holds.
 */
#include "server/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define RUBY_MAX_DEPTH 256

typedef tbuf sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) { tbuf_put(b, s, n); }

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The escape for one byte inside "...", or NULL when it stands as is. */
static const char *byte_escape(unsigned char c, char *tmp, size_t n) {
  switch (c) {
  case '\\':
    return "\\\\";
  case '"':
    return "\\\"";
  case '#':
    return "\\#";
  case '\n':
    return "\\n";
  case '\t':
    return "\\t";
  case '\r':
    return "\\r";
  case 0x1b:
    return "\\e";
  }
  if (c < 0x20 || c == 0x7f) {
    snprintf(tmp, n, "\\u{%x}", c);
    return tmp;
  }
  return NULL; /* UTF-8 bytes stay: Ruby source is UTF-8 */
}

static void put_string(sbuf *b, const char *s, size_t n) {
  char tmp[16];
  size_t run = 0;

  sb_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    const char *esc = byte_escape((unsigned char)s[i], tmp, sizeof tmp);
    if (!esc) continue;
    sb_put(b, s + run, i - run);
    sb_str(b, esc);
    run = i + 1;
  }
  sb_put(b, s + run, n - run);
  sb_put(b, "\"", 1);
}

/* The shortest text that reads back as the same double, always a Float. */
static void put_real(sbuf *b, double d) {
  char tmp[40];

  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  /* "1e+20" is a Float to Ruby; "3" would be an Integer. */
  if (!strpbrk(tmp, ".eE")) strcat(tmp, ".0");
  sb_str(b, tmp);
}

static int put_value(sbuf *b, const json_t *v, int depth);

static int put_array(sbuf *b, const json_t *v, int depth) {
  size_t i;
  json_t *item;

  sb_put(b, "[", 1);
  json_array_foreach(v, i, item) {
    if (i) sb_put(b, ", ", 2);
    if (put_value(b, item, depth + 1) != 0) return -1;
  }
  sb_put(b, "]", 1);
  return 0;
}

static int put_hash(sbuf *b, const json_t *v, int depth) {
  const char *k;
  json_t *item;
  int first = 1;

  sb_put(b, "{", 1);
  json_object_foreach((json_t *)v, k, item) {
    if (!first) sb_put(b, ", ", 2);
    first = 0;
    put_string(b, k, strlen(k));
    sb_put(b, " => ", 4);
    if (put_value(b, item, depth + 1) != 0) return -1;
  }
  sb_put(b, "}", 1);
  return 0;
}

static int put_value(sbuf *b, const json_t *v, int depth) {
  if (depth > RUBY_MAX_DEPTH) return -1;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return put_hash(b, v, depth);
  case JSON_ARRAY:
    return put_array(b, v, depth);
  case JSON_STRING:
    put_string(b, json_string_value(v), json_string_length(v));
    return 0;
  case JSON_INTEGER:
    sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return 0;
  case JSON_REAL:
    put_real(b, json_real_value(v));
    return 0;
  case JSON_TRUE:
    sb_str(b, "true");
    return 0;
  case JSON_FALSE:
    sb_str(b, "false");
    return 0;
  case JSON_NULL:
    sb_str(b, "nil");
    return 0;
  }
  return -1;
}

char *ruby_literal_new(const json_t *v) {
  sbuf b = {0};

  if (!v || put_value(&b, v, 0) != 0) {
    free(b.p);
    return NULL;
  }
  sb_put(&b, "\n", 1);
  return b.p;
}
