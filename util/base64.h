/*
 * base64.h — base64 (RFC 4648) in its two alphabets: the standard one with
 * padding (Bytes values, binary strings crossing the interchange) and the
 * URL-safe one without padding (cursors). Shared by store/ and runtime/.
 */
#ifndef M31_UTIL_BASE64_H
#define M31_UTIL_BASE64_H

#include <stddef.h>

/**
 * Encodes n bytes of p: url 0 is the standard alphabet with '=' padding,
 * url 1 the URL-safe alphabet without padding. A new NUL-terminated string
 * (free it); NULL when out of memory.
 */
char *b64_encode(const void *p, size_t n, int url);

/**
 * Decodes len characters of s in the alphabet chosen by url (padding is
 * required by the standard alphabet and refused by the URL-safe one) into
 * *out (new, free it; one spare byte holds a NUL) and *n. -1 when s is not
 * base64 of that alphabet or memory runs out.
 */
int b64_decode(const char *s, size_t len, int url, unsigned char **out,
               size_t *n);

/** 1 when len characters of s are padded standard base64, else 0. */
int b64_valid(const char *s, size_t len);

#endif
