/*
 * web.h — the browser console's files (the folder web/), embedded into the
 * binary at build time by scripts/embed-web.sh and served by resources/web.c.
 */
#ifndef M31_RESOURCES_WEB_H
#define M31_RESOURCES_WEB_H

#include <stddef.h>

/** One embedded file. All members are static data of the binary. */
typedef struct {
  const char *name;  /* "app.js": its name under web/, served at /web/<name> */
  const char *ctype; /* "text/javascript; charset=utf-8" */
  const char *etag;  /* "\"<32 hex digits of its SHA-256>\"", quotes included */
  const char *bytes; /* the file's bytes (NUL-terminated as well) */
  size_t len;        /* their number, without the NUL */
} web_asset;

/** The generated table (build/gen/web_assets.c), ended by a NULL name. */
extern const web_asset m31_web_assets[];

/**
 * The asset named name, or NULL when there is none. The name is compared
 * byte for byte (no path: "a/b" and ".." never match). Borrowed: the row
 * lives as long as the process.
 */
const web_asset *web_asset_find(const char *name);

#endif
