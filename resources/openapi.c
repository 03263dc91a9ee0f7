/*
 * openapi.c — GET /openapi.json: the API contract, embedded at build time
 * (build/gen/openapi_json.c), with a strong ETag so clients revalidate it
 * cheaply.
 */
#include "resources/resources.h"
#include "util/text.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern const char m31_openapi_json[];
extern const unsigned long m31_openapi_json_len;

static char etag[24];
static pthread_once_t etag_once = PTHREAD_ONCE_INIT;

/* FNV-1a 64 of the document: it changes only with a new build. */
static void etag_make(void) {
  uint64_t h = 0xcbf29ce484222325ull;

  for (unsigned long i = 0; i < m31_openapi_json_len; i++) {
    h ^= (unsigned char)m31_openapi_json[i];
    h *= 0x100000001b3ull;
  }
  snprintf(etag, sizeof etag, "\"%016llx\"", (unsigned long long)h);
}

void openapi_get(m31_req *r) {
  pthread_once(&etag_once, etag_make);
  reply_header(r, "ETag", etag);
  reply_header(r, "Cache-Control", "no-cache");
  if (etag_listed(req_header(r, "If-None-Match"), etag)) {
    reply_empty(r, 304);
    return;
  }
  reply_static(r, 200, "application/json", m31_openapi_json,
               m31_openapi_json_len);
}
