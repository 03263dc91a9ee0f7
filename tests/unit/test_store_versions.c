/*
 * test_store_versions.c — version history and branches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

static const char *VSPEC =
    "{\"attrs\":{\"n\":\"Int\"},\"opts\":{\"versioning\":true}}";

static void incr(store *s, const char *sp, const char *key, const char *br) {
  json_t *b = J("{\"attrs\":{\"n\":{\"$incr\":1}}}");
  store_wopts w = {br, 0, 0};
  store_err err = {0};
  int created;
  if (store_object_patch(s, sp, key, b, &w, NULL, &created, &err))
    fail_msg("patch: %s", err.detail);
  json_decref(b);
}

static int64_t n_at(store *s, const char *br, uint64_t v) {
  json_t *o = NULL;
  store_err err = {0};
  if (store_object_get(s, "v", "k", br, v, &o, &err)) return -1;
  int64_t n =
      json_integer_value(json_object_get(json_object_get(o, "attrs"), "n"));
  json_decref(o);
  return n;
}

static void test_versions(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  space_make(f->s, "v", VSPEC);
  for (int i = 0; i < 5; i++)
    incr(f->s, "v", "k", NULL);
  assert_int_equal(n_at(f->s, NULL, 0), 5);
  assert_int_equal(n_at(f->s, NULL, 2), 2);
  assert_int_equal(n_at(f->s, NULL, 6), -1);
  assert_int_equal(store_versions_list(f->s, "v", "k", NULL, &out, &err), 0);
  assert_int_equal(json_array_size(out), 5);
  json_t *first = json_array_get(out, 0);
  assert_int_equal(json_integer_value(json_object_get(first, "version")), 1);
  assert_true(json_integer_value(json_object_get(first, "size")) > 0);
  assert_non_null(json_object_get(first, "modified"));
  json_decref(out);

  /* without versioning: only the head */
  space_make(f->s, "p", "{\"attrs\":{\"n\":\"Int\"}}");
  for (int i = 0; i < 3; i++)
    incr(f->s, "p", "k", NULL);
  assert_int_equal(store_versions_list(f->s, "p", "k", NULL, &out, &err), 0);
  assert_int_equal(json_array_size(out), 1);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(out, 0), "version")),
      3);
  json_decref(out);
  assert_int_equal(store_branch_create(f->s, "p", "k", "exp", 1, &out, &err),
                   -1);
  assert_int_equal(err.code, STORE_CONFLICT);
  assert_int_equal(store_versions_list(f->s, "v", "zz", NULL, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
}

static void test_branches(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  space_make(f->s, "v", VSPEC);
  for (int i = 0; i < 5; i++)
    incr(f->s, "v", "k", NULL);
  assert_int_equal(store_branch_create(f->s, "v", "k", "exp", 3, &out, &err),
                   0);
  assert_string_equal(json_string_value(json_object_get(out, "branch")), "exp");
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 3);
  assert_null(json_object_get(out, "from"));
  json_decref(out);
  assert_int_equal(store_branch_create(f->s, "v", "k", "exp", 3, &out, &err),
                   -1);
  assert_int_equal(err.code, STORE_CONFLICT);
  assert_int_equal(store_branch_create(f->s, "v", "k", "main", 3, &out, &err),
                   -1);
  assert_int_equal(err.code, STORE_CONFLICT);
  assert_int_equal(store_branch_create(f->s, "v", "k", "x", 9, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_branch_create(f->s, "v", "k", "a/b", 1, &out, &err),
                   -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);

  /* writes to the branch number on from 3; main is unaffected */
  incr(f->s, "v", "k", "exp");
  assert_int_equal(n_at(f->s, "exp", 0), 4);
  assert_int_equal(n_at(f->s, "exp", 4), 4);
  assert_int_equal(n_at(f->s, "exp", 3), 3);
  assert_int_equal(n_at(f->s, NULL, 0), 5);
  assert_int_equal(store_object_get(f->s, "v", "k", "exp", 0, &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 4);
  json_decref(out);
  assert_int_equal(store_versions_list(f->s, "v", "k", "exp", &out, &err), 0);
  assert_int_equal(json_array_size(out), 2);
  json_decref(out);

  /* a missing branch is not created by a write */
  json_t *b = J("{}");
  store_wopts w = {"nope", 0, 0};
  int created;
  assert_int_equal(
      store_object_put(f->s, "v", "k", b, &w, NULL, &created, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  json_decref(b);

  assert_int_equal(store_branch_create(f->s, "v", "k", "b2", 1, NULL, &err), 0);
  assert_int_equal(store_branch_list(f->s, "v", "k", &out, &err), 0);
  assert_int_equal(json_array_size(out), 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(out, 0), "name")),
      "main");
  json_t *exp = json_array_get(out, 2);
  assert_string_equal(json_string_value(json_object_get(exp, "name")), "exp");
  assert_int_equal(json_integer_value(json_object_get(exp, "from")), 3);
  assert_int_equal(json_integer_value(json_object_get(exp, "version")), 4);
  json_decref(out);

  /* branches are not searched */
  store_pred p = {0, "n", STORE_OP_EQ, "4"};
  store_query q = {.preds = &p, .npreds = 1, .limit = 10};
  assert_int_equal(store_query_run(f->s, "v", &q, &out, NULL, &err), 0);
  assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
  json_decref(out);

  /* deleting a branch removes it only; deleting main removes everything */
  w.branch = "b2";
  assert_int_equal(store_object_delete(f->s, "v", "k", &w, &err), 0);
  assert_int_equal(n_at(f->s, "b2", 0), -1);
  assert_int_equal(n_at(f->s, NULL, 0), 5);
  assert_int_equal(store_object_delete(f->s, "v", "k", NULL, &err), 0);
  assert_int_equal(n_at(f->s, "exp", 0), -1);
  assert_int_equal(n_at(f->s, NULL, 2), -1);
  incr(f->s, "v", "k", NULL);
  assert_int_equal(store_versions_list(f->s, "v", "k", NULL, &out, &err), 0);
  assert_int_equal(json_array_size(out), 1);
  json_decref(out);
  assert_int_equal(store_branch_list(f->s, "v", "k", &out, &err), 0);
  assert_int_equal(json_array_size(out), 1);
  json_decref(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_branches, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
