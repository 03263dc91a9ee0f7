/* text.c — see text.h. */
#include "util/text.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int u64_parse(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

int etag_listed(const char *h, const char *tag) {
  size_t tlen = strlen(tag);
  while (h && *h) {
    h += strspn(h, " \t,");
    if (*h == '*') return 1;
    if (strncmp(h, "W/", 2) == 0) h += 2;
    if (strncmp(h, tag, tlen) == 0 &&
        (h[tlen] == '\0' || strchr(" \t,", h[tlen])))
      return 1;
    h += strcspn(h, ",");
  }
  return 0;
}

void tbuf_put(tbuf *b, const void *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void time_rfc3339(int64_t ms, char *buf, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char base[32];
  gmtime_r(&t, &tm);
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, n, "%s.%03dZ", base, (int)(ms % 1000));
}
