/*
 * cors.c — cross-origin requests from browsers (--cors-origin), off by
 * default.
 *
 * With a list of origins configured, an answer to a request whose Origin
 * is in the list says so (Access-Control-Allow-Origin: that origin, or *
 * when the list is *) and exposes the headers the API sends; a preflight
 * (OPTIONS with Access-Control-Request-Method) on a route answers 204 with
 * the route's methods, the request headers the API reads, and a max age.
 * An Origin that is not in the list gets no CORS header at all (the
 * preflight is the plain 204 with Allow), so the browser refuses. No
 * credentials are ever allowed: the API has no cookies to protect.
 * Without the flag nothing here adds a header.
 */
#include "server/internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Response headers a script may read, beyond the CORS-safelisted ones. */
#define CORS_EXPOSE                                                            \
  "Location, ETag, Link, Allow, M31-Request-Id, M31-Keys-Read, "               \
  "M31-Message-Seq"
/* Request headers the API reads, beyond the CORS-safelisted ones. */
#define CORS_ALLOW_HEADERS                                                     \
  "Content-Type, If-Match, If-None-Match, Last-Event-ID, Accept"
#define CORS_MAX_AGE "600"

/* Trims spaces from [*p, *p + *n). */
static void trim(const char **p, size_t *n) {
  while (*n && (**p == ' ' || **p == '\t'))
    (*p)++, (*n)--;
  while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
    (*n)--;
}

/* 1 for scheme "://" host [":" port], nothing after: what a browser sends
 * as Origin (RFC 6454), "null" excluded. */
static int origin_valid(const char *p, size_t n) {
  size_t i = 0, host;

  if (!n || !isalpha((unsigned char)p[0])) return 0;
  while (i < n && (isalnum((unsigned char)p[i]) || strchr("+-.", p[i])))
    i++;
  if (n - i < 4 || memcmp(p + i, "://", 3) != 0) return 0;
  host = i += 3;
  if (p[i] == '[') { /* an IPv6 literal */
    i++;
    while (i < n &&
           (isxdigit((unsigned char)p[i]) || p[i] == ':' || p[i] == '.'))
      i++;
    if (i == n || p[i] != ']' || i == host + 1) return 0;
    i++;
  } else {
    while (i < n && (isalnum((unsigned char)p[i]) || strchr("-._~", p[i])))
      i++;
  }
  if (i == host) return 0;
  if (i < n && p[i] == ':') {
    size_t d = ++i;
    while (i < n && isdigit((unsigned char)p[i]))
      i++;
    if (i == d || i - d > 5) return 0;
  }
  return i == n;
}

int cors_list_check(const char *list, char *why, size_t n) {
  const char *p = list;

  if (!*list) return 0;
  for (;;) {
    size_t len = strcspn(p, ",");
    const char *item = p;
    trim(&item, &len);
    if (len == 1 && item[0] == '*') {
      if (strchr(list, ',')) {
        snprintf(why, n, "* allows every origin and stands alone");
        return -1;
      }
    } else if (!origin_valid(item, len)) {
      snprintf(why, n,
               "'%.*s' is not an origin such as https://app.example:8443",
               (int)(len > 100 ? 100 : len), item);
      return -1;
    }
    p += strcspn(p, ",");
    if (!*p++) return 0;
  }
}

int cors_origin_allowed(const char *list, const char *origin) {
  size_t olen;

  if (!list || !*list || !origin) return 0;
  olen = strlen(origin);
  for (const char *p = list;;) {
    size_t len = strcspn(p, ",");
    const char *item = p;
    trim(&item, &len);
    if ((len == 1 && item[0] == '*') ||
        (len == olen && strncasecmp(item, origin, len) == 0))
      return 1;
    p += strcspn(p, ",");
    if (!*p++) return 0;
  }
}

/* The configured list, "" when off. */
static const char *cors_list(void) { return server_config()->cors_origin; }

/* cors_preflight with its inputs given: list, the request's Origin and
 * Access-Control-Request-Method headers (NULL when absent). */
static void preflight_add(m31_req *r, const char *list, const char *origin,
                          const char *method) {
  if (!*list || !method || !cors_origin_allowed(list, origin)) return;
  reply_header(r, "Access-Control-Allow-Methods", r->match.allow);
  reply_header(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
  reply_header(r, "Access-Control-Max-Age", CORS_MAX_AGE);
}

void cors_preflight(m31_req *r) {
  preflight_add(r, cors_list(), req_header(r, "Origin"),
                req_header(r, "Access-Control-Request-Method"));
}

/* cors_answer with its inputs given. */
static void answer_add(struct MHD_Response *resp, const char *list,
                       const char *origin) {
  if (!*list) return;
  /* The answer depends on Origin (its presence at least), matched or not:
   * caches must know. */
  MHD_add_response_header(resp, "Vary", "Origin");
  if (!cors_origin_allowed(list, origin)) return;
  MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                          strcmp(list, "*") == 0 ? "*" : origin);
  MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
}

void cors_answer(m31_req *r, struct MHD_Response *resp) {
  answer_add(resp, cors_list(), req_header(r, "Origin"));
}
