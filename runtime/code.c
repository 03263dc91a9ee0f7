/*
 * code.c — shipped code by fingerprint: SHA-256 (FIPS 180-4, written
 * from the standard) and a registry from "sha256:<hex>" to source text.
 *
 * The registry is in memory for the node's life (a restart forgets it;
 * see README). It holds only code that compiled: the caller checks it
 * first (rt_nucleus_check) and adds it after.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* --------------------------------------------------------------- SHA-256 */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64], a, b, c, d, e, f, g, hh;
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6];
  hh = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) +
                  ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) +
                  ((a & b) ^ (a & c) ^ (b & c));
    hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d;
  h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void rt_sha256(const void *data, size_t len, unsigned char out[32]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const unsigned char *p = data;
  unsigned char tail[128] = {0};
  size_t full = len / 64 * 64, rest = len - full, tlen;
  uint64_t bits = (uint64_t)len * 8;
  for (size_t i = 0; i < full; i += 64)
    sha256_block(h, p + i);
  if (rest) memcpy(tail, p + full, rest);
  tail[rest] = 0x80;
  tlen = rest + 1 + 8 <= 64 ? 64 : 128;
  for (int i = 0; i < 8; i++)
    tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t i = 0; i < tlen; i += 64)
    sha256_block(h, tail + i);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(h[i] >> 8);
    out[4 * i + 3] = (unsigned char)h[i];
  }
}

void rt_code_fingerprint(const char *src, size_t len, char fp[RT_FP_LEN]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char d[32];
  rt_sha256(src, len, d);
  memcpy(fp, "sha256:", 7);
  for (int i = 0; i < 32; i++) {
    fp[7 + 2 * i] = hex[d[i] >> 4];
    fp[8 + 2 * i] = hex[d[i] & 15];
  }
  fp[RT_FP_LEN - 1] = '\0';
}

int rt_code_fingerprint_valid(const char *fp) {
  if (!fp || strlen(fp) != RT_FP_LEN - 1 || strncmp(fp, "sha256:", 7) != 0)
    return 0;
  for (const char *p = fp + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  return 1;
}

/* -------------------------------------------------------------- registry */

typedef struct centry {
  char fp[RT_FP_LEN];
  char *src; /* NUL-terminated copy */
  size_t len;
} centry;

struct rt_code_reg {
  pthread_mutex_t lock;
  centry *e; /* open addressing on the fingerprint's first bytes */
  size_t cap, n;
};

rt_code_reg *rt_code_reg_new(void) {
  rt_code_reg *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void rt_code_reg_free(rt_code_reg *r) {
  if (!r) return;
  for (size_t i = 0; i < r->cap; i++)
    free(r->e[i].src);
  free(r->e);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static size_t slot_of(const char *fp, size_t cap) {
  size_t h = 0;
  for (int i = 7; i < 7 + 15; i++)
    h = h * 16 + (size_t)(fp[i] <= '9' ? fp[i] - '0' : fp[i] - 'a' + 10);
  return h & (cap - 1);
}

/* The entry of fp, or the empty slot where it would go. Caller locks. */
static centry *do_find(rt_code_reg *r, const char *fp) {
  for (size_t i = slot_of(fp, r->cap);; i = (i + 1) & (r->cap - 1))
    if (!r->e[i].src || strcmp(r->e[i].fp, fp) == 0) return &r->e[i];
}

static int do_grow(rt_code_reg *r) {
  size_t cap = r->cap ? 2 * r->cap : 64;
  centry *old = r->e, *e = calloc(cap, sizeof *e);
  size_t ocap = r->cap;
  if (!e) return -1;
  r->e = e, r->cap = cap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].src) *do_find(r, old[i].fp) = old[i];
  free(old);
  return 0;
}

int rt_code_reg_put(rt_code_reg *r, const char *src, size_t len,
                    char fp[RT_FP_LEN], int *created) {
  centry *e;
  int ret = -1;
  rt_code_fingerprint(src, len, fp);
  *created = 0;
  pthread_mutex_lock(&r->lock);
  if ((r->n + 1) * 2 > r->cap && do_grow(r) != 0) goto Exit;
  e = do_find(r, fp);
  if (!e->src) {
    if (!(e->src = malloc(len + 1))) goto Exit;
    memcpy(e->src, src, len);
    e->src[len] = '\0';
    e->len = len;
    memcpy(e->fp, fp, RT_FP_LEN);
    r->n++;
    *created = 1;
  }
  ret = 0;
Exit:
  pthread_mutex_unlock(&r->lock);
  return ret;
}

char *rt_code_reg_get(rt_code_reg *r, const char *fp, size_t *len) {
  char *copy = NULL;
  centry *e;
  if (!rt_code_fingerprint_valid(fp)) return NULL;
  pthread_mutex_lock(&r->lock);
  if (r->cap && (e = do_find(r, fp))->src && (copy = malloc(e->len + 1))) {
    memcpy(copy, e->src, e->len + 1);
    if (len) *len = e->len;
  }
  pthread_mutex_unlock(&r->lock);
  return copy;
}

size_t rt_code_reg_count(rt_code_reg *r) {
  size_t n;
  pthread_mutex_lock(&r->lock);
  n = r->n;
  pthread_mutex_unlock(&r->lock);
  return n;
}
