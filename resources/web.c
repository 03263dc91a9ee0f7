/*
 * web.c — GET / and GET /web/{file}: the browser console, embedded at build
 * time (scripts/embed-web.sh writes the table of the files of web/). Every
 * answer carries a strong ETag (a hash of the bytes) and is revalidated on each
 * use (Cache-Control: no-cache, then 304 while the build is the same), so a
 * new node's console is picked up at once without fingerprinted URLs.
 *
 * The console's pages are locked to this node: a Content-Security-Policy
 * that allows only 'self' (no inline script or style, no other origin for
 * anything), nosniff, and no framing.
 */
#include "resources/resources.h"
#include "util/text.h"
#include "resources/web.h"

#include <string.h>

/* Scripts, styles, images, fetches and event streams: this origin only. */
#define WEB_CSP                                                                \
  "default-src 'self'; script-src 'self'; style-src 'self'; "                  \
  "img-src 'self'; connect-src 'self'; font-src 'self'; "                      \
  "object-src 'none'; base-uri 'none'; form-action 'self'; "                   \
  "frame-ancestors 'none'"

const web_asset *web_asset_find(const char *name) {
  for (const web_asset *a = m31_web_assets; a->name; a++)
    if (strcmp(a->name, name) == 0) return a;
  return NULL;
}

/* Answers one asset: 304 when the client holds these bytes, else 200. */
static void web_asset_reply(m31_req *r, const web_asset *a) {
  reply_header(r, "ETag", a->etag);
  reply_header(r, "Cache-Control", "no-cache");
  reply_header(r, "X-Content-Type-Options", "nosniff");
  reply_header(r, "Content-Security-Policy", WEB_CSP);
  reply_header(r, "Referrer-Policy", "no-referrer");
  if (etag_listed(req_header(r, "If-None-Match"), a->etag)) {
    reply_empty(r, 304);
    return;
  }
  reply_static(r, 200, a->ctype, a->bytes, a->len);
}

void web_index_get(m31_req *r) {
  const web_asset *a = web_asset_find("index.html");

  if (!a) { /* a build without web/index.html */
    reply_problem(r, 404, NULL, "this node was built without a console");
    return;
  }
  web_asset_reply(r, a);
}

void web_file_get(m31_req *r) {
  const char *name = req_param(r, 0);
  const web_asset *a = web_asset_find(name);

  if (!a) {
    reply_problem(r, 404, "file", "the console has no file %.200s", name);
    return;
  }
  web_asset_reply(r, a);
}
