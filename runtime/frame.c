/*
 * frame.c — length-prefixed JSON frames (the protocol is in runtime.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* 1 at end of stream before the first byte, 0 when all n read, else -1. */
static int read_all(int fd, char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return got == 0 ? 1 : -1;
    got += (size_t)r;
  }
  return 0;
}

char *rt_frame_encode(const json_t *msg, size_t *len) {
  size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
  unsigned char *buf;
  if (n == 0 || n > RT_FRAME_MAX) {
    errno = EMSGSIZE;
    return NULL;
  }
  if (!(buf = malloc(n + 4))) return NULL;
  if (json_dumpb(msg, (char *)buf + 4, n, JSON_COMPACT) != n) {
    free(buf);
    errno = EINVAL;
    return NULL;
  }
  buf[0] = (unsigned char)(n >> 24), buf[1] = (unsigned char)(n >> 16);
  buf[2] = (unsigned char)(n >> 8), buf[3] = (unsigned char)n;
  *len = n + 4;
  return (char *)buf;
}

int rt_frame_write(int fd, const json_t *msg) {
  size_t n;
  char *buf = rt_frame_encode(msg, &n);
  int ret = buf ? write_all(fd, buf, n) : -1;
  free(buf);
  return ret;
}

int rt_frame_read(int fd, json_t **out) {
  unsigned char hdr[4];
  char *body = NULL;
  json_t *msg = NULL;
  size_t n;
  int r = read_all(fd, (char *)hdr, 4);
  if (r != 0) return r;
  n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
      hdr[3];
  if (n == 0 || n > RT_FRAME_MAX || !(body = malloc(n))) return -1;
  if (read_all(fd, body, n) == 0)
    msg = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
  free(body);
  if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "t"))) {
    json_decref(msg);
    return -1;
  }
  *out = msg;
  return 0;
}
