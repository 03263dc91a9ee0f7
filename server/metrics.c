/*
 * metrics.c — request counters by route, method and status, and a latency
 * histogram by route and method, written in Prometheus text format 0.0.4.
 * One small mutex guards the table: an update is a short linear search over
 * a few dozen series, far cheaper than the request it counts.
 */
#include "server/internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                 1,      2.5,   5,      10};
#define NBUCKETS (sizeof buckets / sizeof *buckets)
#define MAX_STATUSES 16

typedef struct {
  const char *route; /* a static string from the route table, or "none" */
  const char *method;
  uint64_t bucket[NBUCKETS]; /* cumulative counts are made when written */
  uint64_t count;
  double sum;
  struct {
    int status;
    uint64_t n;
  } statuses[MAX_STATUSES];
  int nstatuses;
} series;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series *table;
static size_t ntable;
static uint64_t aborted;

/* Bounds the label values a client can make up: unknown methods are OTHER. */
static const char *method_label(const char *m) {
  static const char *const known[] = {"GET",   "HEAD",   "PUT",    "POST",
                                      "PATCH", "DELETE", "OPTIONS"};
  for (size_t i = 0; m && i < sizeof known / sizeof *known; i++)
    if (strcmp(m, known[i]) == 0) return known[i];
  return "OTHER";
}

/* Needs the lock. */
static series *do_series_get(const char *route, const char *method) {
  series *s;

  for (size_t i = 0; i < ntable; i++)
    if (strcmp(table[i].route, route) == 0 && table[i].method == method)
      return &table[i];
  s = realloc(table, (ntable + 1) * sizeof *table);
  if (!s) abort();
  table = s;
  s = &table[ntable++];
  memset(s, 0, sizeof *s);
  s->route = route;
  s->method = method;
  return s;
}

/* Needs the lock. */
static void do_status_count(series *s, int status) {
  for (int i = 0; i < s->nstatuses; i++) {
    if (s->statuses[i].status == status) {
      s->statuses[i].n++;
      return;
    }
  }
  if (s->nstatuses == MAX_STATUSES) return; /* cannot happen: few statuses */
  s->statuses[s->nstatuses].status = status;
  s->statuses[s->nstatuses++].n = 1;
}

void metrics_record(const char *route_name, const char *method, int status,
                    double seconds) {
  size_t b = 0;
  series *s;

  while (b < NBUCKETS && seconds > buckets[b])
    b++;
  pthread_mutex_lock(&lock);
  s = do_series_get(route_name ? route_name : "none", method_label(method));
  do_status_count(s, status);
  if (b < NBUCKETS) s->bucket[b]++;
  s->count++;
  s->sum += seconds;
  pthread_mutex_unlock(&lock);
}

void metrics_record_aborted(void) {
  pthread_mutex_lock(&lock);
  aborted++;
  pthread_mutex_unlock(&lock);
}

void metrics_reset(void) {
  pthread_mutex_lock(&lock);
  free(table);
  table = NULL;
  ntable = 0;
  aborted = 0;
  pthread_mutex_unlock(&lock);
}

void text_appendf(char **buf, size_t *len, const char *fmt, ...) {
  va_list ap;
  int n;
  char *p;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  p = realloc(*buf, *len + (size_t)n + 1);
  if (!p) abort();
  va_start(ap, fmt);
  vsnprintf(p + *len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  *buf = p;
  *len += (size_t)n;
}

/* Needs the lock. */
static void do_write_counts(char **buf, size_t *len) {
  text_appendf(buf, len,
               "# HELP m31_http_requests_total HTTP requests answered, by "
               "route, method and status.\n"
               "# TYPE m31_http_requests_total counter\n");
  for (size_t i = 0; i < ntable; i++)
    for (int j = 0; j < table[i].nstatuses; j++)
      text_appendf(buf, len,
                   "m31_http_requests_total{route=\"%s\",method=\"%s\","
                   "status=\"%d\"} %llu\n",
                   table[i].route, table[i].method, table[i].statuses[j].status,
                   (unsigned long long)table[i].statuses[j].n);
  text_appendf(buf, len,
               "# HELP m31_http_requests_aborted_total Requests that ended "
               "without an answer from the node (closed, refused by the "
               "parser, or timed out).\n"
               "# TYPE m31_http_requests_aborted_total counter\n"
               "m31_http_requests_aborted_total %llu\n",
               (unsigned long long)aborted);
}

/* Needs the lock. */
static void do_write_histogram(char **buf, size_t *len) {
  text_appendf(buf, len,
               "# HELP m31_http_request_duration_seconds Time from the request "
               "line to the end of the answer.\n"
               "# TYPE m31_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i < ntable; i++) {
    const series *s = &table[i];
    uint64_t cum = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
      cum += s->bucket[b];
      text_appendf(buf, len,
                   "m31_http_request_duration_seconds_bucket{route=\"%s\","
                   "method=\"%s\",le=\"%g\"} %llu\n",
                   s->route, s->method, buckets[b], (unsigned long long)cum);
    }
    text_appendf(buf, len,
                 "m31_http_request_duration_seconds_bucket{route=\"%s\","
                 "method=\"%s\",le=\"+Inf\"} %llu\n"
                 "m31_http_request_duration_seconds_sum{route=\"%s\","
                 "method=\"%s\"} %.6f\n"
                 "m31_http_request_duration_seconds_count{route=\"%s\","
                 "method=\"%s\"} %llu\n",
                 s->route, s->method, (unsigned long long)s->count, s->route,
                 s->method, s->sum, s->route, s->method,
                 (unsigned long long)s->count);
  }
}

void server_metrics_write(char **buf, size_t *len) {
  pthread_mutex_lock(&lock);
  do_write_counts(buf, len);
  do_write_histogram(buf, len);
  pthread_mutex_unlock(&lock);
}
