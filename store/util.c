/*
 * util.c — small helpers every store file uses: errors, allocation, time,
 * JSON dumps, direct LevelDB reads and the name check.
 */
#include "store/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int err_set(store_err *err, store_code code, const char *field, const char *fmt,
            ...) {
  va_list ap;
  if (!err) return -1;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_start(ap, fmt);
  vsnprintf(err->detail, sizeof err->detail, fmt, ap);
  va_end(ap);
  return -1;
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

char *xstrndup(const char *p, size_t n) {
  char *d = xmalloc(n + 1);
  memcpy(d, p, n);
  d[n] = 0;
  return d;
}

void time_now_rfc3339(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  char day[24];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, size, "%s.%03ldZ", day, ts.tv_nsec / 1000000);
}

char *json_dump_compact(const json_t *v) {
  char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (!d) abort();
  return d;
}

int db_get(store *s, const char *key, size_t klen, char **val, size_t *vlen,
           store_err *err) {
  char *e = NULL;
  size_t n = 0;
  char *v = leveldb_get(s->db, s->ropts, key, klen, &n, &e);
  if (e) {
    err_set(err, STORE_IO, "", "LevelDB read failed: %s", e);
    leveldb_free(e);
    return -1;
  }
  if (!v) return 0;
  *val = xstrndup(v, n);
  *vlen = n;
  leveldb_free(v);
  return 1;
}

int db_get_json(store *s, const char *key, size_t klen, json_t **out,
                store_err *err) {
  char *v = NULL;
  size_t n = 0;
  int rc = db_get(s, key, klen, &v, &n, err);
  if (rc <= 0) return rc;
  *out = json_loadb(v, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  free(v);
  if (!*out)
    return err_set(err, STORE_IO, "", "a stored value is not valid JSON");
  return 1;
}

/* Length of the UTF-8 sequence at p (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  size_t len;
  uint32_t cp;
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    len = 2, cp = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    len = 3, cp = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    len = 4, cp = p[0] & 0x07;
  else
    return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* overlongs, surrogates and code points past U+10FFFF */
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return len;
}

int store_name_check(const char *name, const char *what, store_err *err) {
  size_t n = name ? strlen(name) : 0;
  const unsigned char *p = (const unsigned char *)name;
  if (n == 0 || n > STORE_NAME_MAX)
    return err_set(err, STORE_BAD_REQUEST, what, "%s must be 1..%d bytes", what,
                   STORE_NAME_MAX);
  if (!strcmp(name, ".") || !strcmp(name, ".."))
    return err_set(err, STORE_BAD_REQUEST, what, "%s cannot be . or ..", what);
  for (size_t i = 0; i < n;) {
    size_t len = utf8_seq(p + i, n - i);
    if (!len)
      return err_set(err, STORE_BAD_REQUEST, what, "%s is not valid UTF-8",
                     what);
    if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/')
      return err_set(err, STORE_BAD_REQUEST, what,
                     "%s cannot contain '/' or control characters", what);
    i += len;
  }
  return 0;
}
