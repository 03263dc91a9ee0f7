/*
 * load_space.c — fills a space of a stopped node's store quickly, and times
 * a search in process (the node must be stopped: one process per LevelDB).
 * Links build/libm31.a and calls the store API directly.
 *
 *   load_space load  DATA SPACE N [THREADS]
 *       Creates SPACE {"attrs": {"grp": "Int", "n": "Int", "s": "String"}}
 *       in DATA/db and puts objects "o0000000".."o<N-1>" with
 *       {"attrs": {"grp": i % (N/10), "n": i, "s": "value-<i>"}}, so
 *       grp=G matches 10 objects. THREADS (default 64) callers share the
 *       store's group commit. Prints "loaded N objects in S s (R/s)".
 *
 *   load_space query DATA SPACE N REPS
 *       REPS indexed queries grp=G (G spread over 0..N/10-1) through
 *       store_query_run; prints "indexed: Q queries, X us/query,
 *       Y keys read/query, Z matches/query".
 *
 *   load_space scan  DATA SPACE N G
 *       The same predicate without its index: pages through every object
 *       (store_query_run with no condition, limit 1000, cursor) and keeps
 *       those with grp=G; prints "scan: M matches, K keys read, S s".
 *
 * Exit 1 on any store error (printed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const store_err *e) {
  fprintf(stderr, "load_space: %s: code %d field '%s': %s\n", what, e->code,
          e->field, e->detail);
  exit(1);
}

typedef struct {
  store *s;
  const char *space;
  long from, to, groups;
} slice;

static void *loader(void *arg) {
  slice *sl = arg;
  char key[32], sval[48];
  store_err err;
  for (long i = sl->from; i < sl->to; i++) {
    snprintf(key, sizeof key, "o%07ld", i);
    snprintf(sval, sizeof sval, "value-%ld", i);
    json_t *body =
        json_pack("{s:{s:I,s:I,s:s}}", "attrs", "grp",
                  (json_int_t)(i % sl->groups), "n", (json_int_t)i, "s", sval);
    int created = 0;
    if (!body || store_object_put(sl->s, sl->space, key, body, NULL, NULL,
                                  &created, &err) != 0)
      die("store_object_put", &err);
    json_decref(body);
  }
  return NULL;
}

static int cmd_load(store *s, const char *space, long n, int threads) {
  store_err err;
  json_t *spec = json_pack("{s:{s:s,s:s,s:s}}", "attrs", "grp", "Int", "n",
                           "Int", "s", "String");
  int created = 0;
  if (store_space_put(s, space, spec, &created, NULL, &err) != 0)
    die("store_space_put", &err);
  json_decref(spec);
  long groups = n / 10 > 0 ? n / 10 : 1;
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  slice *sl = calloc((size_t)threads, sizeof *sl);
  double t0 = now();
  for (int t = 0; t < threads; t++) {
    sl[t] = (slice){s, space, n * t / threads, n * (t + 1) / threads, groups};
    pthread_create(&tid[t], NULL, loader, &sl[t]);
  }
  for (int t = 0; t < threads; t++)
    pthread_join(tid[t], NULL);
  double dt = now() - t0;
  printf("loaded %ld objects in %.1f s (%.0f/s) with %d threads\n", n, dt,
         (double)n / dt, threads);
  free(tid);
  free(sl);
  return 0;
}

static int cmd_query(store *s, const char *space, long n, int reps) {
  long groups = n / 10 > 0 ? n / 10 : 1;
  uint64_t keys = 0, matches = 0;
  char val[32];
  store_err err;
  double t0 = now();
  for (int r = 0; r < reps; r++) {
    long g = (long)((unsigned long)r * 7919UL % (unsigned long)groups);
    snprintf(val, sizeof val, "%ld", g);
    store_pred p = {0, "grp", STORE_OP_EQ, val};
    store_query q = {&p, 1, 1000, NULL, NULL, 0, 0};
    json_t *out = NULL;
    uint64_t kr = 0;
    if (store_query_run(s, space, &q, &out, &kr, &err) != 0)
      die("store_query_run", &err);
    keys += kr;
    matches += json_array_size(json_object_get(out, "items"));
    json_decref(out);
  }
  double dt = now() - t0;
  printf("indexed: %d queries, %.1f us/query, %.1f keys read/query, %.1f "
         "matches/query\n",
         reps, dt * 1e6 / reps, (double)keys / reps, (double)matches / reps);
  return 0;
}

static int cmd_scan(store *s, const char *space, long g) {
  uint64_t keys = 0, matches = 0, seen = 0;
  char *cursor = NULL;
  store_err err;
  double t0 = now();
  for (;;) {
    store_query q = {NULL, 0, 1000, cursor, NULL, 0, 0};
    json_t *out = NULL;
    uint64_t kr = 0;
    if (store_query_run(s, space, &q, &out, &kr, &err) != 0)
      die("store_query_run (scan)", &err);
    keys += kr;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(out, "items"), i, it) {
      seen++;
      json_t *v = json_object_get(json_object_get(it, "attrs"), "grp");
      if (json_is_integer(v) && json_integer_value(v) == g) matches++;
    }
    free(cursor);
    const char *next = json_string_value(json_object_get(out, "next"));
    cursor = next ? strdup(next) : NULL;
    json_decref(out);
    if (!cursor) break;
  }
  double dt = now() - t0;
  printf("scan: %llu objects, %llu matches, %llu keys read, %.3f s\n",
         (unsigned long long)seen, (unsigned long long)matches,
         (unsigned long long)keys, dt);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: load_space load DATA SPACE N [THREADS]\n"
                    "       load_space query DATA SPACE N REPS\n"
                    "       load_space scan DATA SPACE N G\n");
    return 2;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/db", argv[2]);
  store *s = NULL;
  store_err err;
  if (store_open(dir, &s, &err) != 0) die("store_open", &err);
  long n = atol(argv[4]);
  int rc;
  if (!strcmp(argv[1], "load"))
    rc = cmd_load(s, argv[3], n, argc > 5 ? atoi(argv[5]) : 64);
  else if (!strcmp(argv[1], "query"))
    rc = cmd_query(s, argv[3], n, argc > 5 ? atoi(argv[5]) : 1000);
  else if (!strcmp(argv[1], "scan"))
    rc = cmd_scan(s, argv[3], argc > 5 ? atol(argv[5]) : 0);
  else {
    fprintf(stderr, "load_space: unknown command %s\n", argv[1]);
    rc = 2;
  }
  store_close(s);
  return rc;
}
