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

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each test gets a fresh store in its own temporary directory. */
typedef struct {
  char dir[64];
  store *s;
} fixture;

static int rm_entry(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  store_err err = {0};
  snprintf(f->dir, sizeof f->dir, "/tmp/m31-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(store_open(f->dir, &f->s, &err), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  store_close(f->s);
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* Parses test JSON (refcount: new); fails the test when it does not. */
__attribute__((unused)) static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
  return v;
}

__attribute__((unused)) static void space_make(store *s, const char *name,
                                               const char *spec) {
  json_t *v = J(spec);
  store_err err = {0};
  int created = 0;
  if (store_space_put(s, name, v, &created, NULL, &err) != 0)
    fail_msg("space_put %s: %s", name, err.detail);
  json_decref(v);
}

/* PUT of a JSON text body; returns the store's rc, err filled. */
__attribute__((unused)) static int obj_put(store *s, const char *sp,
                                           const char *key, const char *body,
                                           store_err *err) {
  json_t *v = J(body);
  int created;
  memset(err, 0, sizeof *err);
  int rc = store_object_put(s, sp, key, v, NULL, NULL, &created, err);
  json_decref(v);
  return rc;
}

__attribute__((unused)) static int obj_patch(store *s, const char *sp,
                                             const char *key, const char *body,
                                             json_t **out, store_err *err) {
  json_t *v = J(body);
  int created;
  memset(err, 0, sizeof *err);
  int rc = store_object_patch(s, sp, key, v, NULL, out, &created, err);
  json_decref(v);
  return rc;
}

/* An attribute of a stored object (borrowed from *holder, which the caller
 * json_decrefs). */
__attribute__((unused)) static json_t *attr_of(store *s, const char *sp,
                                               const char *key,
                                               const char *attr,
                                               json_t **holder) {
  store_err err = {0};
  if (store_object_get(s, sp, key, NULL, 0, holder, &err) != 0)
    fail_msg("get %s: %s", key, err.detail);
  return json_object_get(json_object_get(*holder, "attrs"), attr);
}

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
