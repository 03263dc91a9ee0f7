/*
 * base64.c — RFC 4648 base64, table-driven both ways (the interchange
 * moves whole zip files through it).
 */
#include "util/base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char STD[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *b64_encode(const void *p, size_t n, int url) {
  const unsigned char *b = p;
  const char *abc = url ? URL : STD;
  char *out = malloc(n / 3 * 4 + 5);
  size_t o = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    size_t k = n - i < 3 ? n - i : 3;
    uint32_t v = (uint32_t)b[i] << 16;
    if (k > 1) v |= (uint32_t)b[i + 1] << 8;
    if (k > 2) v |= b[i + 2];
    for (size_t j = 0; j <= k; j++)
      out[o++] = abc[(v >> (18 - 6 * j)) & 63];
    for (size_t j = k; !url && j < 3; j++)
      out[o++] = '=';
  }
  out[o] = '\0';
  return out;
}

/* value + 1 of each character of the alphabet; 0 for any other byte */
static void table_fill(unsigned char t[256], const char *abc) {
  for (int i = 0; i < 64; i++)
    t[(unsigned char)abc[i]] = (unsigned char)(i + 1);
}

int b64_decode(const char *s, size_t len, int url, unsigned char **out,
               size_t *n) {
  unsigned char t[256] = {0}, *buf;
  size_t o = 0, pad = 0;
  uint32_t acc = 0;
  int bits = 0;
  table_fill(t, url ? URL : STD);
  if (!url) {
    if (len % 4) return -1;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
      pad++;
    len -= pad;
  } else if (len % 4 == 1) {
    return -1;
  }
  if (!(buf = malloc(len * 3 / 4 + 2))) return -1;
  for (size_t i = 0; i < len; i++) {
    unsigned v = t[(unsigned char)s[i]];
    if (!v) {
      free(buf);
      return -1;
    }
    acc = (acc << 6) | (v - 1);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  buf[o] = '\0';
  *out = buf;
  *n = o;
  return 0;
}

int b64_valid(const char *s, size_t len) {
  unsigned char *p;
  size_t n;
  if (b64_decode(s, len, 0, &p, &n) != 0) return 0;
  free(p);
  return 1;
}
