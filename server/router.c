/*
 * router.c — matches a method and decoded path segments against the route
 * table. Templates are walked segment by segment on every request: the table
 * is a few dozen rows of a few segments, cheaper to scan than to compile.
 */
#include "server/internal.h"

#include <string.h>

/*
 * True when the template matches the segments; captures point into segs.
 * A {name} matches exactly one segment, whatever bytes its decoding holds:
 * an empty one or a decoded '/' included, so that the resource can answer
 * 400 naming the bad name instead of a vague 404.
 */
static int template_match(const char *tpl, char *const *segs, size_t nsegs,
                          const char **params, int *nparams) {
  size_t i = 0;

  *nparams = 0;
  if (*tpl != '/') return 0;
  tpl++;
  for (;; i++) {
    size_t len = strcspn(tpl, "/");
    if (i == nsegs) return 0;
    if (len >= 2 && tpl[0] == '{' && tpl[len - 1] == '}') {
      if (*nparams == ROUTER_MAX_PARAMS) return 0;
      params[(*nparams)++] = segs[i];
    } else if (strlen(segs[i]) != len || memcmp(segs[i], tpl, len) != 0) {
      return 0;
    }
    tpl += len;
    if (*tpl == '\0') return i + 1 == nsegs;
    tpl++;
  }
}

/* Adds a method to the comma-separated Allow list unless it is there. */
static void allow_add(char *allow, size_t n, const char *method) {
  size_t mlen = strlen(method);

  for (const char *p = allow; *p;) {
    size_t len = strcspn(p, ",");
    if (len == mlen && memcmp(p, method, len) == 0) return;
    p += len;
    while (*p == ',' || *p == ' ')
      p++;
  }
  if (strlen(allow) + mlen + 3 > n) return;
  if (*allow) strcat(allow, ", ");
  strcat(allow, method);
}

int router_match(const route *table, const char *method, char *const *segs,
                 size_t nsegs, route_match *m) {
  const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
  const char *params[ROUTER_MAX_PARAMS];
  int nparams, found = 0;

  memset(m, 0, sizeof *m);
  for (const route *rt = table; rt->method; rt++) {
    if (!template_match(rt->pattern, segs, nsegs, params, &nparams)) continue;
    allow_add(m->allow, sizeof m->allow, rt->method);
    if (strcmp(rt->method, "GET") == 0)
      allow_add(m->allow, sizeof m->allow, "HEAD");
    if (!found && strcmp(rt->method, want) == 0) {
      found = 1;
      m->route = rt;
      m->nparams = nparams;
      memcpy(m->params, params, (size_t)nparams * sizeof *params);
    }
  }
  if (!m->allow[0]) return ROUTE_NOT_FOUND;
  allow_add(m->allow, sizeof m->allow, "OPTIONS");
  if (found) return ROUTE_FOUND;
  return strcmp(method, "OPTIONS") == 0 ? ROUTE_OPTIONS : ROUTE_BAD_METHOD;
}
