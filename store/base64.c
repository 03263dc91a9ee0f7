/*
 * base64.c — the standard alphabet check for Bytes values, and URL-safe
 * base64 for cursors.
 */
#include "store/internal.h"

#include <string.h>

static const char STD[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64_valid(const char *s, size_t len) {
  size_t pad = 0;
  if (len % 4) return 0;
  while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
    pad++;
  for (size_t i = 0; i < len - pad; i++)
    if (!s[i] || !strchr(STD, s[i])) return 0;
  return 1;
}

char *base64url_encode(const unsigned char *p, size_t n) {
  char *out = xmalloc(n / 3 * 4 + 5);
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    size_t k = n - i < 3 ? n - i : 3;
    if (k > 1) v |= (uint32_t)p[i + 1] << 8;
    if (k > 2) v |= p[i + 2];
    for (size_t j = 0; j <= k; j++)
      out[o++] = URL[(v >> (18 - 6 * j)) & 63];
  }
  out[o] = 0;
  return out;
}

int base64url_decode(const char *s, unsigned char **out, size_t *n) {
  size_t len = strlen(s), o = 0;
  unsigned char *buf;
  uint32_t acc = 0;
  int bits = 0;
  if (len % 4 == 1) return -1;
  buf = xmalloc(len * 3 / 4 + 1);
  for (size_t i = 0; i < len; i++) {
    const char *c = s[i] ? strchr(URL, s[i]) : NULL;
    if (!c) {
      free(buf);
      return -1;
    }
    acc = (acc << 6) | (uint32_t)(c - URL);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out = buf;
  *n = o;
  return 0;
}
