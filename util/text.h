/*
 * text.h — small text helpers that server/, resources/ and cli/ share.
 */
#ifndef M31_UTIL_TEXT_H
#define M31_UTIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

/** Parses decimal digits only (no sign, no space) into *out; -1 when s is
 *  empty, holds anything else, or passes 2^64 - 1. */
int u64_parse(const char *s, uint64_t *out);

/**
 * 1 when an If-None-Match header value names tag (weakly: W/ is ignored,
 * as RFC 9110 asks for If-None-Match) or is "*"; 0 otherwise or when h is
 * NULL.
 */
int etag_listed(const char *h, const char *tag);

/** ms since the epoch as "YYYY-MM-DDThh:mm:ss.mmmZ" (UTC) into buf. */
void time_rfc3339(int64_t ms, char *buf, size_t n);

/** A growable byte buffer, always NUL-terminated once written. Zero it to
 *  start; free p when done. */
typedef struct tbuf {
  char *p;
  size_t len, cap;
} tbuf;

/** Appends n bytes of s (aborts when out of memory, as the node does). */
void tbuf_put(tbuf *b, const void *s, size_t n);

#endif
