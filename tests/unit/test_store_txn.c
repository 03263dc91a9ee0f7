/*
 * test_store_txn.c — the writer's overlay: a later operation of a group sees
 * the earlier ones, a failed one leaves nothing, range deletes see keys
 * only the group has written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/internal.h"

#include "tests/unit/store_fixture.h"

static int has(txn *t, const char *key, const char *want) {
  char *v = NULL;
  size_t n = 0;
  int rc = txn_get(t, key, strlen(key), &v, &n);
  int ok = want ? rc == 1 && n == strlen(want) && !memcmp(v, want, n) : rc == 0;
  free(v);
  return ok;
}

static void test_overlay(void **state) {
  fixture *f = *state;
  char *e = NULL;
  txn *t = txn_new(f->s);
  txn_put(t, "a1", 2, "x", 1);
  txn_op_commit(t);
  assert_true(has(t, "a1", "x"));
  txn_put(t, "a1", 2, "y", 1); /* a failing op overwrites, then aborts */
  txn_put(t, "a2", 2, "z", 1);
  assert_true(has(t, "a1", "y"));
  txn_op_abort(t);
  assert_true(has(t, "a1", "x"));
  assert_true(has(t, "a2", NULL));
  for (int i = 0; i < 500; i++) { /* grows the table */
    char k[16];
    snprintf(k, sizeof k, "b%03d", i);
    txn_put(t, k, strlen(k), "v", 1);
  }
  txn_op_commit(t);
  assert_int_equal(txn_write(t, &e), 0);
  txn_free(t);

  t = txn_new(f->s);
  assert_true(has(t, "b123", "v"));
  txn_put(t, "b9", 2, "w", 1); /* only in the overlay */
  txn_del(t, "b000", 4);
  txn_op_commit(t);
  assert_int_equal(txn_del_prefix(t, "b", 1), 500);
  assert_true(has(t, "b9", NULL));
  assert_true(has(t, "a1", "x"));
  txn_op_commit(t);
  assert_int_equal(txn_write(t, &e), 0);
  txn_free(t);
  t = txn_new(f->s);
  assert_true(has(t, "b123", NULL));
  assert_true(has(t, "a1", "x"));
  txn_free(t);
}

/* Concurrent writers, some failing: the failures change nothing and the
 * others all land. */
typedef struct {
  store *s;
  int bad;
} arg;

static void *writer(void *p) {
  arg *a = p;
  json_t *good = json_loads("{\"attrs\":{\"n\":{\"$incr\":1}}}", 0, NULL);
  json_t *bad = json_loads("{\"attrs\":{\"n\":\"x\"}}", 0, NULL);
  for (int i = 0; i < 300; i++) {
    store_err err;
    int created;
    store_object_patch(a->s, "t", "k", a->bad ? bad : good, NULL, NULL,
                       &created, &err);
  }
  json_decref(good);
  json_decref(bad);
  return NULL;
}

static void test_mixed_group(void **state) {
  fixture *f = *state;
  pthread_t th[6];
  arg args[6];
  json_t *h = NULL;
  space_make(f->s, "t", "{\"attrs\":{\"n\":\"Int\"}}");
  for (int i = 0; i < 6; i++) {
    args[i] = (arg){f->s, i % 2};
    pthread_create(&th[i], NULL, writer, &args[i]);
  }
  for (int i = 0; i < 6; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(json_integer_value(attr_of(f->s, "t", "k", "n", &h)), 900);
  json_decref(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_overlay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mixed_group, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
