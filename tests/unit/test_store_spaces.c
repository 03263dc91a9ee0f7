/*
 * test_store_spaces.c — spaces: create, same/other schema, spec validation,
 * listing, delete, and reopening the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

static void test_space_create_get(void **state) {
  fixture *f = *state;
  json_t *spec = J("{\"key\":\"word\",\"attrs\":{\"freq\":\"Int\"}}");
  json_t *out = NULL;
  store_err err = {0};
  int created = -1;
  assert_int_equal(store_space_put(f->s, "words", spec, &created, &out, &err),
                   0);
  assert_int_equal(created, 1);
  assert_string_equal(json_string_value(json_object_get(out, "name")), "words");
  json_t *opts = json_object_get(out, "opts");
  assert_int_equal(json_integer_value(json_object_get(opts, "partitions")), 8);
  assert_int_equal(json_integer_value(json_object_get(opts, "failures")), 2);
  assert_true(json_is_false(json_object_get(opts, "versioning")));
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 0);
  assert_non_null(json_string_value(json_object_get(out, "created")));
  json_decref(out);

  /* the same spec again, with defaults spelled out: equal */
  json_t *same = J("{\"key\":\"word\",\"attrs\":{\"freq\":\"Int\"},\"opts\":"
                   "{\"partitions\":8,\"failures\":2,\"versioning\":false}}");
  assert_int_equal(store_space_put(f->s, "words", same, &created, NULL, &err),
                   0);
  assert_int_equal(created, 0);
  json_t *other = J("{\"key\":\"word\",\"attrs\":{\"freq\":\"Float\"}}");
  assert_int_equal(store_space_put(f->s, "words", other, &created, NULL, &err),
                   -1);
  assert_int_equal(err.code, STORE_CONFLICT);

  assert_int_equal(store_space_get(f->s, "words", &out, &err), 0);
  assert_string_equal(json_string_value(json_object_get(out, "key")), "word");
  json_decref(out);
  assert_int_equal(store_space_get(f->s, "nope", &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  json_decref(spec);
  json_decref(same);
  json_decref(other);
}

/* A bad spec fails with the code and field the API promises. */
static void expect_spec(store *s, const char *spec, store_code code,
                        const char *field) {
  json_t *v = J(spec);
  store_err err = {0};
  int created;
  assert_int_equal(store_space_put(s, "sp", v, &created, NULL, &err), -1);
  assert_int_equal(err.code, code);
  assert_string_equal(err.field, field);
  json_decref(v);
}

static void test_space_spec_validation(void **state) {
  fixture *f = *state;
  expect_spec(f->s, "{\"attrs\":{\"a\":\"Integer\"}}", STORE_INVALID,
              "attrs.a");
  expect_spec(f->s, "{\"attrs\":{\"1a\":\"Int\"}}", STORE_INVALID, "attrs.1a");
  expect_spec(f->s, "{\"attrs\":{\"a-b\":\"Int\"}}", STORE_INVALID,
              "attrs.a-b");
  expect_spec(f->s, "{\"opts\":{\"partitions\":0}}", STORE_INVALID,
              "opts.partitions");
  expect_spec(f->s, "{\"opts\":{\"partitions\":1025}}", STORE_INVALID,
              "opts.partitions");
  expect_spec(f->s, "{\"opts\":{\"failures\":16}}", STORE_INVALID,
              "opts.failures");
  expect_spec(f->s, "{\"opts\":{\"versioning\":1}}", STORE_INVALID,
              "opts.versioning");
  expect_spec(f->s, "{\"opts\":{\"replicas\":1}}", STORE_BAD_REQUEST, "opts");
  expect_spec(f->s, "{\"colour\":1}", STORE_BAD_REQUEST, "colour");
  expect_spec(f->s, "[1]", STORE_BAD_REQUEST, "");

  json_t *v = J("{}");
  store_err err = {0};
  int created;
  assert_int_equal(store_space_put(f->s, "a/b", v, &created, NULL, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  assert_string_equal(err.field, "space");
  assert_int_equal(store_space_put(f->s, "..", v, &created, NULL, &err), -1);
  assert_int_equal(store_space_put(f->s, "a\x01", v, &created, NULL, &err), -1);
  assert_int_equal(store_space_put(f->s, "\xff", v, &created, NULL, &err), -1);
  assert_int_equal(store_space_put(f->s, "", v, &created, NULL, &err), -1);
  char big[STORE_NAME_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(store_space_put(f->s, big, v, &created, NULL, &err), -1);
  big[STORE_NAME_MAX] = 0;
  assert_int_equal(store_space_put(f->s, big, v, &created, NULL, &err), 0);
  assert_int_equal(
      store_space_put(f->s, "héllo wörld", v, &created, NULL, &err), 0);
  json_decref(v);
}

static void test_space_list_delete(void **state) {
  fixture *f = *state;
  char name[16];
  json_t *items = NULL;
  store_err err = {0};
  int more = 0;
  for (int i = 0; i < 25; i++) {
    snprintf(name, sizeof name, "s%02d", i);
    space_make(f->s, name, "{}");
  }
  assert_int_equal(store_space_list(f->s, NULL, 10, &items, &more, &err), 0);
  assert_int_equal(json_array_size(items), 10);
  assert_int_equal(more, 1);
  json_decref(items);
  assert_int_equal(store_space_list(f->s, "s19", 10, &items, &more, &err), 0);
  assert_int_equal(json_array_size(items), 5);
  assert_int_equal(more, 0);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(items, 0), "name")),
      "s20");
  json_decref(items);
  assert_int_equal(store_space_list(f->s, NULL, 0, &items, &more, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);

  store_stats st;
  store_stats_get(f->s, &st);
  assert_int_equal(st.spaces, 25);
  assert_int_equal(obj_put(f->s, "s03", "k", "{}", &err), 0);
  assert_int_equal(store_space_delete(f->s, "s03", &err), 0);
  assert_int_equal(store_space_delete(f->s, "s03", &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  json_t *out = NULL;
  assert_int_equal(store_object_get(f->s, "s03", "k", NULL, 0, &out, &err), -1);
  /* recreated, the space is empty */
  space_make(f->s, "s03", "{}");
  assert_int_equal(store_object_get(f->s, "s03", "k", NULL, 0, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_space_get(f->s, "s03", &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 0);
  json_decref(out);
  store_stats_get(f->s, &st);
  assert_int_equal(st.spaces, 25);
  assert_true(st.commits > 0 && st.writes >= st.commits);
}

static void test_reopen_keeps_everything(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  space_make(f->s, "v",
             "{\"attrs\":{\"n\":\"Int\"},\"opts\":"
             "{\"versioning\":true}}");
  for (int i = 0; i < 3; i++)
    assert_int_equal(obj_patch(f->s, "v", "k",
                               "{\"attrs\":{\"n\":"
                               "{\"$incr\":1}}}",
                               NULL, &err),
                     0);
  store_close(f->s);
  assert_int_equal(store_open(f->dir, &f->s, &err), 0);
  assert_int_equal(store_object_get(f->s, "v", "k", NULL, 2, &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
  json_decref(out);
  json_t *h = NULL;
  assert_int_equal(json_integer_value(attr_of(f->s, "v", "k", "n", &h)), 3);
  json_decref(h);
  assert_int_equal(store_space_get(f->s, "v", &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 1);
  json_decref(out);
  store_pred p = {0, "n", STORE_OP_EQ, "3"};
  store_query q = {.preds = &p, .npreds = 1, .limit = 10};
  assert_int_equal(store_query_run(f->s, "v", &q, &out, NULL, &err), 0);
  assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
  json_decref(out);
  store_stats st;
  store_stats_get(f->s, &st);
  assert_int_equal(st.spaces, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_space_create_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_space_spec_validation, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_space_list_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
