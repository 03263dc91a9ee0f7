/*
 * keys.c — key building and order-preserving encodings (see keys.h).
 */
#include "store/keys.h"
#include "store/internal.h"

#include <string.h>

void kb_init(kbuf *b) { memset(b, 0, sizeof *b); }

void kb_free(kbuf *b) {
  free(b->p);
  kb_init(b);
}

void kb_put(kbuf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n)
      cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

void kb_byte(kbuf *b, unsigned char c) { kb_put(b, &c, 1); }

void kb_u64(kbuf *b, uint64_t v) {
  unsigned char be[8];
  for (int i = 7; i >= 0; i--, v >>= 8)
    be[i] = (unsigned char)(v & 0xff);
  kb_put(b, be, 8);
}

uint64_t key_u64(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | u[i];
  return v;
}

void key_make(kbuf *b, char kind, const char *c1, const char *c2,
              const char *c3) {
  const char *cs[3] = {c1, c2, c3};
  b->n = 0;
  kb_byte(b, (unsigned char)kind);
  for (int i = 0; i < 3 && cs[i]; i++) {
    kb_byte(b, 0);
    kb_put(b, cs[i], strlen(cs[i]));
  }
}

/* Flipping the sign bit makes two's complement sort as unsigned. */
void enc_int(kbuf *b, int64_t v) { kb_u64(b, (uint64_t)v ^ (1ULL << 63)); }

/* IEEE-754: positive numbers sort by their bits once the sign bit is set;
 * negative ones sort reversed, so all their bits are flipped. -0 is 0. */
void enc_real(kbuf *b, double v) {
  uint64_t u;
  if (v == 0) v = 0;
  memcpy(&u, &v, sizeof u);
  u = (u & (1ULL << 63)) ? ~u : u | (1ULL << 63);
  kb_u64(b, u);
}

void enc_bytes(kbuf *b, const char *p, size_t n, int terminate) {
  for (size_t i = 0; i < n; i++) {
    kb_byte(b, (unsigned char)p[i]);
    if (p[i] == 0) kb_byte(b, 0xff);
  }
  if (terminate) {
    kb_byte(b, 0);
    kb_byte(b, 1);
  }
}

int enc_tag(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_NULL:
    return TAG_NULL;
  case JSON_FALSE:
    return TAG_FALSE;
  case JSON_TRUE:
    return TAG_TRUE;
  case JSON_INTEGER:
    return TAG_INT;
  case JSON_REAL:
    return TAG_REAL;
  case JSON_STRING:
    return TAG_STRING;
  default:
    return TAG_OTHER;
  }
}

void enc_tagged(kbuf *b, const json_t *v) {
  int tag = enc_tag(v);
  kb_byte(b, (unsigned char)tag);
  if (tag == TAG_INT) {
    enc_int(b, json_integer_value(v));
  } else if (tag == TAG_REAL) {
    enc_real(b, json_real_value(v));
  } else if (tag == TAG_STRING) {
    enc_bytes(b, json_string_value(v), json_string_length(v), 1);
  } else if (tag == TAG_OTHER) {
    char *d = json_dump_compact(v);
    enc_bytes(b, d, strlen(d), 1);
    free(d);
  }
}
