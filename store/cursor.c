/*
 * cursor.c — search cursors: URL-safe base64 of a format byte, a hash of
 * the query's predicates (so a cursor cannot be replayed on another query)
 * and the last index key returned.
 */
#include "store/internal.h"

#include <string.h>

enum { CURSOR_FORMAT = 1, CURSOR_HEAD = 9 };

char *cursor_make(uint64_t h, const char *last, size_t n) {
  kbuf b = {0};
  kb_byte(&b, CURSOR_FORMAT);
  kb_u64(&b, h);
  kb_put(&b, last, n);
  char *c = b64_encode(b.p, b.n, 1);
  if (!c) abort(); /* as xmalloc: the store does not run out quietly */
  kb_free(&b);
  return c;
}

int cursor_read(const char *c, uint64_t h, char **last, size_t *n) {
  unsigned char *raw = NULL;
  size_t len = 0;
  if (b64_decode(c, strlen(c), 1, &raw, &len) != 0) return -1;
  if (len <= CURSOR_HEAD || raw[0] != CURSOR_FORMAT ||
      key_u64((const char *)raw + 1) != h) {
    free(raw);
    return -1;
  }
  *n = len - CURSOR_HEAD;
  *last = xstrndup((const char *)raw + CURSOR_HEAD, *n);
  free(raw);
  return 0;
}
