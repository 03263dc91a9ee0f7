/*
 * keys.h — LevelDB key layout and order-preserving value encodings.
 *
 * Every key starts with a kind byte, then NUL-separated components. Names
 * (spaces, keys, branches, attributes, labels) never contain control
 * characters, so a NUL separator cannot collide with a name and a prefix
 * ending in NUL selects exactly one name's range:
 *
 *   S\0<space>                          schema
 *   C\0<space>                          object count (8 bytes, big-endian)
 *   O\0<space>\0<key>                   main head
 *   B\0<space>\0<key>\0<branch>         other branch heads
 *   V\0<space>\0<key>\0<branch>\0<u64>  version records (versioned spaces)
 *   I\0<space>\0<attr>\0<enc><key>      attribute index (value = key)
 *   L\0<space>\0<label>\0<enc><key>     label index (value = key)
 *   K\0<namespace>\0<name>              raw bytes (store_blob_*), in no
 *                                       space: K\0code\0sha256:<hex> is
 *                                       the source /code registered
 *
 * Scans of a space's data all start at one of its kinds' prefixes, so the
 * K keys never show in listings, counts or queries.
 *
 * Encoded values are self-delimiting (fixed width, or escaped and
 * terminated), so the object key follows directly and memcmp order of the
 * encodings is the order of the values.
 */
#ifndef M31_STORE_KEYS_H
#define M31_STORE_KEYS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum {
  K_SPACE = 'S',
  K_COUNT = 'C',
  K_HEAD = 'O',
  K_BRANCH = 'B',
  K_VERSION = 'V',
  K_INDEX = 'I',
  K_LABEL = 'L',
  K_BLOB = 'K',
};

/* Type tags of labels and Any values: their order is null < false < true <
 * int < real < string < other. */
enum {
  TAG_NULL = 1,
  TAG_FALSE,
  TAG_TRUE,
  TAG_INT,
  TAG_REAL,
  TAG_STRING,
  TAG_OTHER,
};

/** A growable byte buffer for keys. Zero-initialise or kb_init. */
typedef struct {
  char *p;
  size_t n, cap;
} kbuf;

void kb_init(kbuf *b);
void kb_free(kbuf *b);
void kb_put(kbuf *b, const void *p, size_t n);
void kb_byte(kbuf *b, unsigned char c);
void kb_u64(kbuf *b, uint64_t v);

/**
 * Resets b to kind followed by "\0<c>" for each non-NULL component (up to
 * three). An empty last component leaves a trailing NUL: a range prefix.
 */
void key_make(kbuf *b, char kind, const char *c1, const char *c2,
              const char *c3);

/** Big-endian u64 at p (8 bytes). */
uint64_t key_u64(const char *p);

void enc_int(kbuf *b, int64_t v);
void enc_real(kbuf *b, double v);
/** Escapes NUL as 00 FF; with `terminate`, ends with 00 01. */
void enc_bytes(kbuf *b, const char *p, size_t n, int terminate);
/** Type tag then the typed encoding; arrays and objects as compact JSON. */
void enc_tagged(kbuf *b, const json_t *v);
/** The tag enc_tagged would write for v. */
int enc_tag(const json_t *v);

#endif
