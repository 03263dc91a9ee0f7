/*
 * test_store_search.c — secondary indexes and search: conditions, index
 * consistency after updates and deletes, cursors, keys read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

static const char *SPEC =
    "{\"attrs\":{\"freq\":\"Int\",\"w\":\"Float\",\"s\":\"String\","
    "\"ok\":\"Bool\",\"l\":\"List\",\"a\":\"Any\"}}";

/* Runs a query; returns the number of items (or the count), -1 on error. */
static long run(store *s, const store_pred *p, size_t n, json_t **out,
                uint64_t *keys, store_err *err) {
  store_query q = {.preds = p, .npreds = n, .limit = 1000};
  json_t *o = NULL;
  memset(err, 0, sizeof *err);
  if (store_query_run(s, "t", &q, &o, keys, err) != 0) return -1;
  long r = (long)json_array_size(json_object_get(o, "items"));
  if (out)
    *out = o;
  else
    json_decref(o);
  return r;
}

static long run1(store *s, int is_label, const char *name, store_op op,
                 const char *value) {
  store_pred p = {is_label, name, op, value};
  store_err err;
  return run(s, &p, 1, NULL, NULL, &err);
}

static void put_n(store *s, int n) {
  char key[32], body[200];
  store_err err;
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "k%05d", i);
    snprintf(body, sizeof body,
             "{\"attrs\":{\"freq\":%d,\"w\":%d.5,\"s\":\"str%d\",\"ok\":%s,"
             "\"a\":%d},\"labels\":{\"mod\":%d,\"name\":\"n%d\"}}",
             i - 5, i - 5, i, i % 2 ? "true" : "false", i, i % 3, i);
    assert_int_equal(obj_put(s, "t", key, body, &err), 0);
  }
}

static void test_conditions(void **state) {
  fixture *f = *state;
  space_make(f->s, "t", SPEC);
  put_n(f->s, 20); /* freq -5..14 */
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "3"), 1);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "-3"), 1);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_GT, "10"), 4);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_GTE, "10"), 5);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_LT, "-3"), 2);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_LTE, "-3"), 3);
  assert_int_equal(run1(f->s, 0, "w", STORE_OP_LT, "-3"), 3);
  assert_int_equal(run1(f->s, 0, "w", STORE_OP_EQ, "0.5"), 1);
  assert_int_equal(run1(f->s, 0, "s", STORE_OP_PREFIX, "str1"), 11);
  assert_int_equal(run1(f->s, 0, "s", STORE_OP_EQ, "str1"), 1);
  assert_int_equal(run1(f->s, 0, "ok", STORE_OP_EQ, "true"), 10);
  assert_int_equal(run1(f->s, 0, "a", STORE_OP_GTE, "15"), 5);
  assert_int_equal(run1(f->s, 1, "mod", STORE_OP_EQ, "0"), 7);
  assert_int_equal(run1(f->s, 1, "mod", STORE_OP_EQ, "\"0\""), 0);
  assert_int_equal(run1(f->s, 1, "name", STORE_OP_EQ, "n4"), 1);
  assert_int_equal(run1(f->s, 1, "name", STORE_OP_PREFIX, "n1"), 11);
  assert_int_equal(run1(f->s, 1, "mod", STORE_OP_GT, "0"), 13);

  /* a conjunction; both bounds of one field narrow the scan */
  store_pred p[3] = {{0, "freq", STORE_OP_GTE, "0"},
                     {0, "freq", STORE_OP_LT, "4"},
                     {1, "mod", STORE_OP_EQ, "1"}};
  store_err err;
  uint64_t keys = 0;
  json_t *out = NULL;
  assert_int_equal(run(f->s, p, 2, NULL, &keys, &err), 4);
  assert_true(keys <= 10);
  assert_int_equal(run(f->s, p, 3, &out, &keys, &err), 1);
  json_t *it = json_array_get(json_object_get(out, "items"), 0);
  assert_string_equal(json_string_value(json_object_get(it, "key")), "k00007");
  json_decref(out);

  /* no conditions: every object, in key order */
  assert_int_equal(run(f->s, NULL, 0, &out, NULL, &err), 20);
  it = json_array_get(json_object_get(out, "items"), 19);
  assert_string_equal(json_string_value(json_object_get(it, "key")), "k00019");
  assert_true(json_is_null(json_object_get(out, "next")));
  json_decref(out);
}

static void expect_bad(store *s, const store_pred *p, const char *field) {
  store_err err;
  assert_int_equal(run(s, p, 1, NULL, NULL, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  assert_string_equal(err.field, field);
}

static void test_bad_queries(void **state) {
  fixture *f = *state;
  store_err err;
  json_t *out = NULL;
  space_make(f->s, "t", SPEC);
  expect_bad(f->s, &(store_pred){0, "freq", STORE_OP_GT, "1x"}, "freq.gt");
  expect_bad(f->s, &(store_pred){0, "freq", STORE_OP_EQ, ""}, "freq");
  expect_bad(f->s,
             &(store_pred){0, "freq", STORE_OP_EQ, "99999999999999999999"},
             "freq");
  expect_bad(f->s, &(store_pred){0, "w", STORE_OP_LT, "abc"}, "w.lt");
  expect_bad(f->s, &(store_pred){0, "w", STORE_OP_LT, "inf"}, "w.lt");
  expect_bad(f->s, &(store_pred){0, "freq", STORE_OP_LT, " 1"}, "freq.lt");
  expect_bad(f->s, &(store_pred){0, "ok", STORE_OP_EQ, "yes"}, "ok");
  expect_bad(f->s, &(store_pred){0, "nope", STORE_OP_EQ, "1"}, "nope");
  expect_bad(f->s, &(store_pred){0, "l", STORE_OP_EQ, "1"}, "l");
  expect_bad(f->s, &(store_pred){0, "freq", STORE_OP_PREFIX, "1"},
             "freq.prefix");
  store_query q = {.limit = 0};
  assert_int_equal(store_query_run(f->s, "t", &q, &out, NULL, &err), -1);
  assert_string_equal(err.field, "limit");
  q.limit = 1001;
  assert_int_equal(store_query_run(f->s, "t", &q, &out, NULL, &err), -1);
  q.limit = 10;
  const char *garbage[] = {"!!!", "AAAA", "x", ""};
  for (size_t i = 0; i < 4; i++) {
    q.cursor = garbage[i];
    assert_int_equal(store_query_run(f->s, "t", &q, &out, NULL, &err), -1);
    assert_int_equal(err.code, STORE_BAD_REQUEST);
    assert_string_equal(err.field, "cursor");
  }
  q.cursor = NULL;
  assert_int_equal(store_query_run(f->s, "zz", &q, &out, NULL, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
}

/* Updates and deletes move index entries with the head. */
static void test_index_consistency(void **state) {
  fixture *f = *state;
  store_err err;
  space_make(f->s, "t", SPEC);
  assert_int_equal(obj_put(f->s, "t", "k",
                           "{\"attrs\":{\"freq\":1,\"s\":"
                           "\"a\\u0000b\"},\"labels\":"
                           "{\"x\":[1,2]}}",
                           &err),
                   0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "1"), 1);
  assert_int_equal(run1(f->s, 1, "x", STORE_OP_EQ, "[1,2]"), 1);
  assert_int_equal(obj_patch(f->s, "t", "k",
                             "{\"attrs\":{\"freq\":{\"$incr\":1}},\"labels\":"
                             "{\"x\":null,\"y\":\"z\"}}",
                             NULL, &err),
                   0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "1"), 0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "2"), 1);
  assert_int_equal(run1(f->s, 1, "x", STORE_OP_EQ, "[1,2]"), 0);
  assert_int_equal(run1(f->s, 1, "y", STORE_OP_EQ, "z"), 1);
  assert_int_equal(run1(f->s, 0, "s", STORE_OP_PREFIX, "a"), 1);
  assert_int_equal(obj_put(f->s, "t", "k", "{\"attrs\":{\"freq\":5}}", &err),
                   0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_EQ, "2"), 0);
  assert_int_equal(run1(f->s, 1, "y", STORE_OP_EQ, "z"), 0);
  assert_int_equal(run1(f->s, 0, "s", STORE_OP_PREFIX, "a"), 0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_GTE, "5"), 1);
  assert_int_equal(store_object_delete(f->s, "t", "k", NULL, &err), 0);
  assert_int_equal(run1(f->s, 0, "freq", STORE_OP_GTE, "0"), 0);
  assert_int_equal(run(f->s, NULL, 0, NULL, NULL, &err), 0);
}

/* Paging through 250 matches 100 at a time gives each exactly once. */
static void test_cursor_paging(void **state) {
  fixture *f = *state;
  store_err err;
  char seen[260] = {0};
  char *cursor = NULL;
  int pages = 0, total = 0;
  space_make(f->s, "t", SPEC);
  put_n(f->s, 260); /* freq -5..254: 250 have freq >= 5 */
  store_pred p = {0, "freq", STORE_OP_GTE, "5"};
  do {
    store_query q = {.preds = &p, .npreds = 1, .limit = 100, .cursor = cursor};
    json_t *out = NULL, *it;
    size_t i;
    assert_int_equal(store_query_run(f->s, "t", &q, &out, NULL, &err), 0);
    json_array_foreach(json_object_get(out, "items"), i, it) {
      int k = atoi(json_string_value(json_object_get(it, "key")) + 1);
      assert_int_equal(seen[k], 0);
      seen[k] = 1;
      total++;
    }
    free(cursor);
    json_t *next = json_object_get(out, "next");
    cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
    json_decref(out);
    pages++;
  } while (cursor && pages < 10);
  assert_int_equal(total, 250);
  assert_true(pages == 3);

  /* a cursor of another query is refused */
  store_query q = {.preds = &p, .npreds = 1, .limit = 100};
  json_t *out = NULL;
  assert_int_equal(store_query_run(f->s, "t", &q, &out, NULL, &err), 0);
  const char *next = json_string_value(json_object_get(out, "next"));
  assert_non_null(next);
  store_pred p2 = {0, "freq", STORE_OP_GTE, "6"};
  store_query q2 = {.preds = &p2, .npreds = 1, .limit = 100, .cursor = next};
  json_t *o2 = NULL;
  assert_int_equal(store_query_run(f->s, "t", &q2, &o2, NULL, &err), -1);
  assert_string_equal(err.field, "cursor");
  json_decref(out);

  /* count and fields */
  store_query qc = {.preds = &p, .npreds = 1, .count_only = 1};
  assert_int_equal(store_query_run(f->s, "t", &qc, &out, NULL, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "count")), 250);
  json_decref(out);
  const char *fields[] = {"s"};
  store_query qf = {
      .preds = &p, .npreds = 1, .limit = 1, .fields = fields, .nfields = 1};
  assert_int_equal(store_query_run(f->s, "t", &qf, &out, NULL, &err), 0);
  json_t *attrs = json_object_get(
      json_array_get(json_object_get(out, "items"), 0), "attrs");
  assert_int_equal(json_object_size(attrs), 1);
  assert_non_null(json_object_get(attrs, "s"));
  json_decref(out);
}

/* A selective query on 10,000 objects reads about its answer's keys. */
static void test_keys_read(void **state) {
  fixture *f = *state;
  store_err err;
  uint64_t keys = 0;
  json_t *out = NULL;
  space_make(f->s, "t", SPEC);
  put_n(f->s, 10000);
  store_pred p = {0, "freq", STORE_OP_EQ, "4242"};
  assert_int_equal(run(f->s, &p, 1, &out, &keys, &err), 1);
  json_decref(out);
  assert_true(keys <= 3);
  store_pred r = {0, "freq", STORE_OP_LT, "5"};
  assert_int_equal(run(f->s, &r, 1, NULL, &keys, &err), 10);
  assert_true(keys <= 25);
  store_pred l = {1, "name", STORE_OP_PREFIX, "n999"};
  assert_int_equal(run(f->s, &l, 1, NULL, &keys, &err), 11);
  assert_true(keys <= 25);
  store_stats st;
  store_stats_get(f->s, &st);
  assert_true(st.keys_read > 0);
  assert_true(st.disk_bytes > 0);
  assert_true(st.reads >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_consistency, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cursor_paging, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_read, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
