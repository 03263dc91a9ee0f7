/*
 * test_resources_fibril_incr.c — fibrils' increment batches merged while
 * the store is busy (resources/fibril_incr.c): every batch is answered
 * once, with its own count, after its increments are durable; the sums
 * are exact; a merged batch that fails is retried one batch at a time, so
 * only the bad one fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "resources/resources.h"
#include "store_fixture.h"

typedef struct answers {
  pthread_mutex_t mu;
  int n, ok, failed;
  json_int_t applied;
} answers;

static void answered(void *ud, json_t *v) {
  answers *a = ud;
  pthread_mutex_lock(&a->mu);
  a->n++;
  if (json_object_get(v, "ok")) {
    a->ok++;
    a->applied += json_integer_value(
        json_object_get(json_object_get(v, "ok"), "applied"));
  } else {
    a->failed++;
  }
  pthread_mutex_unlock(&a->mu);
  json_decref(v);
}

/* Waits (bounded) until n answers came. */
static void wait_for(answers *a, int n) {
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&a->mu);
    int got = a->n;
    pthread_mutex_unlock(&a->mu);
    if (got >= n) return;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  fail_msg("only %d of %d answers", a->n, n);
}

static json_int_t freq(fixture *f, const char *key) {
  json_t *o;
  store_err e = {0};
  assert_int_equal(store_object_get(f->s, "w", key, NULL, 0, &o, &e), 0);
  json_int_t v =
      json_integer_value(json_object_get(json_object_get(o, "attrs"), "freq"));
  json_decref(o);
  return v;
}

static void space(fixture *f) {
  json_t *spec = json_pack("{s:s, s:{s:s, s:s}}", "key", "word", "attrs",
                           "freq", "Int", "lang", "String");
  store_err e = {0};
  int created;
  assert_int_equal(store_space_put(f->s, "w", spec, &created, NULL, &e), 0);
  json_decref(spec);
}

static void many_batches_sum_exactly(void **state) {
  fixture *f = *state;
  answers a = {.mu = PTHREAD_MUTEX_INITIALIZER};
  space(f);
  /* 200 batches at once: most wait while one is written, merged */
  for (int i = 0; i < 200; i++) {
    json_t *recs = json_pack("{s:{s:i}, s:{s:i}}", "pi", "freq", 1, "e", "freq",
                             i % 2 ? 2 : 0);
    fsc_incr_submit(f->s, "w", recs, answered, &a);
    json_decref(recs);
  }
  wait_for(&a, 200);
  assert_int_equal(a.ok, 200);
  assert_int_equal(a.applied, 400); /* each answers its own records */
  assert_int_equal(freq(f, "pi"), 200);
  assert_int_equal(freq(f, "e"), 200);
  json_t *o;
  store_err e = {0};
  assert_int_equal(store_object_get(f->s, "w", "pi", NULL, 0, &o, &e), 0);
  assert_true(json_integer_value(json_object_get(o, "version")) < 200);
  json_decref(o);
}

static void a_bad_batch_fails_alone(void **state) {
  fixture *f = *state;
  answers a = {.mu = PTHREAD_MUTEX_INITIALIZER};
  space(f);
  for (int i = 0; i < 50; i++) {
    /* every tenth increments a String attribute: refused */
    json_t *recs = i % 10 == 5 ? json_pack("{s:{s:i}}", "pi", "lang", 1)
                               : json_pack("{s:{s:i}}", "pi", "freq", 1);
    fsc_incr_submit(f->s, "w", recs, answered, &a);
    json_decref(recs);
  }
  wait_for(&a, 50);
  assert_int_equal(a.failed, 5);
  assert_int_equal(a.ok, 45);
  assert_int_equal(freq(f, "pi"), 45);
}

static void sums_that_overflow_go_one_by_one(void **state) {
  fixture *f = *state;
  answers a = {.mu = PTHREAD_MUTEX_INITIALIZER};
  space(f);
  for (int i = 0; i < 6; i++) {
    json_t *recs = json_pack("{s:{s:I}}", "big", "freq", (json_int_t)1 << 61);
    fsc_incr_submit(f->s, "w", recs, answered, &a);
    json_decref(recs);
  }
  wait_for(&a, 6);
  /* 2^61 * 3 fits in 63 bits; the fourth on would overflow */
  assert_int_equal(a.ok, 3);
  assert_int_equal(a.failed, 3);
  assert_true(freq(f, "big") == ((json_int_t)1 << 61) * 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(many_batches_sum_exactly, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_bad_batch_fails_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(sums_that_overflow_go_one_by_one, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
