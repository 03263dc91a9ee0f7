/*
 * test_store_patch.c — PATCH operations, their type checks, labels, and
 * atomicity under concurrent writers (group commit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

#include <pthread.h>

static const char *SPEC =
    "{\"attrs\":{\"i\":\"Int\",\"f\":\"Float\",\"s\":\"String\","
    "\"l\":\"List\",\"a\":\"Any\"}}";

static void expect_patch(store *s, const char *body, store_code code,
                         const char *field) {
  store_err err = {0};
  assert_int_equal(obj_patch(s, "t", "k", body, NULL, &err), -1);
  assert_int_equal(err.code, code);
  assert_string_equal(err.field, field);
}

static void test_ops(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL, *h = NULL;
  int created = 0;
  space_make(f->s, "t", SPEC);
  json_t *b = J("{\"attrs\":{\"i\":{\"$incr\":5},\"f\":{\"$incr\":1.5},"
                "\"l\":{\"$append\":\"x\"}},\"labels\":{\"seen\":true}}");
  assert_int_equal(
      store_object_patch(f->s, "t", "k", b, NULL, &out, &created, &err), 0);
  assert_int_equal(created, 1);
  json_decref(b);
  json_t *a = json_object_get(out, "attrs");
  assert_true(json_is_integer(json_object_get(a, "i")));
  assert_int_equal(json_integer_value(json_object_get(a, "i")), 5);
  assert_true(json_is_real(json_object_get(a, "f")));
  assert_true(json_equal(json_object_get(a, "l"), h = J("[\"x\"]")));
  json_decref(h);
  json_decref(out);

  assert_int_equal(obj_patch(f->s, "t", "k",
                             "{\"attrs\":{\"i\":{\"$max\":3},\"f\":{\"$incr\":"
                             "2},\"l\":{\"$append\":[1]},\"s\":\"hi\"},"
                             "\"labels\":{\"seen\":null,\"n\":1}}",
                             &out, &err),
                   0);
  a = json_object_get(out, "attrs");
  assert_int_equal(json_integer_value(json_object_get(a, "i")), 5);
  assert_true(json_is_real(json_object_get(a, "f")));
  assert_true(json_number_value(json_object_get(a, "f")) == 3.5);
  assert_int_equal(json_array_size(json_object_get(a, "l")), 2);
  assert_string_equal(json_string_value(json_object_get(a, "s")), "hi");
  assert_null(json_object_get(json_object_get(out, "labels"), "seen"));
  assert_non_null(json_object_get(json_object_get(out, "labels"), "n"));
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
  json_decref(out);

  assert_int_equal(
      obj_patch(f->s, "t", "k",
                "{\"attrs\":{\"i\":{\"$min\":-2},\"s\":{\"$unset\":"
                "true}}}",
                &out, &err),
      0);
  a = json_object_get(out, "attrs");
  assert_int_equal(json_integer_value(json_object_get(a, "i")), -2);
  assert_null(json_object_get(a, "s"));
  json_decref(out);
  assert_int_equal(json_integer_value(attr_of(f->s, "t", "k", "i", &h)), -2);
  json_decref(h);
}

static void test_op_errors(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *h = NULL;
  space_make(f->s, "t", SPEC);
  assert_int_equal(obj_put(f->s, "t", "k",
                           "{\"attrs\":{\"i\":"
                           "9223372036854775800}}",
                           &err),
                   0);
  expect_patch(f->s, "{\"attrs\":{\"i\":{\"$incr\":100}}}", STORE_INVALID,
               "attrs.i");
  expect_patch(f->s, "{\"attrs\":{\"i\":{\"$incr\":1.5}}}", STORE_INVALID,
               "attrs.i");
  expect_patch(f->s, "{\"attrs\":{\"s\":{\"$incr\":1}}}", STORE_INVALID,
               "attrs.s");
  expect_patch(f->s, "{\"attrs\":{\"i\":{\"$append\":1}}}", STORE_INVALID,
               "attrs.i");
  expect_patch(f->s, "{\"attrs\":{\"i\":{\"$mul\":2}}}", STORE_INVALID,
               "attrs.i");
  expect_patch(f->s, "{\"attrs\":{\"i\":\"x\"}}", STORE_INVALID, "attrs.i");
  expect_patch(f->s, "{\"attrs\":{\"q\":1}}", STORE_INVALID, "attrs.q");
  expect_patch(f->s, "{\"x\":1}", STORE_BAD_REQUEST, "x");
  /* nothing changed */
  assert_int_equal(json_integer_value(attr_of(f->s, "t", "k", "i", &h)),
                   9223372036854775800LL);
  json_decref(h);
  assert_int_equal(obj_patch(f->s, "t", "k",
                             "{\"attrs\":{\"i\":{\"$incr\":7}}}", NULL, &err),
                   0);
  /* a patch to a missing branch does not create it */
  json_t *b = J("{}");
  store_wopts w = {"exp", 0, 0};
  int created;
  assert_int_equal(
      store_object_patch(f->s, "t", "k", b, &w, NULL, &created, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  json_decref(b);
}

typedef struct {
  store *s;
  int n;
  int failures;
} worker_arg;

static void *incr_worker(void *p) {
  worker_arg *a = p;
  json_t *b = json_loads("{\"attrs\":{\"i\":{\"$incr\":1}}}", 0, NULL);
  for (int i = 0; i < a->n; i++) {
    store_err err = {0};
    int created;
    if (store_object_patch(a->s, "t", "hot", b, NULL, NULL, &created, &err))
      a->failures++;
  }
  json_decref(b);
  return NULL;
}

/* 8 threads x 1000 $incr of one key end at exactly 8000, in fewer synced
 * writes than operations (groups share an fsync). */
static void test_concurrent_incr(void **state) {
  fixture *f = *state;
  pthread_t th[8];
  worker_arg args[8];
  json_t *h = NULL;
  store_stats before, after;
  space_make(f->s, "t", SPEC);
  store_stats_get(f->s, &before);
  for (int i = 0; i < 8; i++) {
    args[i] = (worker_arg){f->s, 1000, 0};
    assert_int_equal(pthread_create(&th[i], NULL, incr_worker, &args[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  assert_int_equal(json_integer_value(attr_of(f->s, "t", "hot", "i", &h)),
                   8000);
  assert_int_equal(json_integer_value(json_object_get(h, "version")), 8000);
  json_decref(h);
  store_stats_get(f->s, &after);
  assert_int_equal(after.writes - before.writes, 8000);
  assert_true(after.commits - before.commits < 8000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_op_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_incr, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
