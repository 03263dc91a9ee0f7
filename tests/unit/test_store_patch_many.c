/*
 * test_store_patch_many.c — many patches of one space as one writer
 * operation: applied together, all or nothing, indexes kept as single
 * patches keep them, exact under concurrent writers.
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
    "{\"attrs\":{\"freq\":\"Int\",\"name\":\"String\",\"l\":\"List\"}}";

/* {"w0": {"attrs": {"freq": {"$incr": by}}}, ...} for keys w<from>..w<to-1>
 * (refcount: new). */
static json_t *incr_patches(int from, int to, int by) {
  json_t *p = json_object();
  char key[32];
  for (int i = from; i < to; i++) {
    snprintf(key, sizeof key, "w%d", i);
    json_object_set_new(
        p, key, json_pack("{s:{s:{s:i}}}", "attrs", "freq", "$incr", by));
  }
  return p;
}

static json_int_t freq_of(store *s, const char *key) {
  json_t *h = NULL;
  json_int_t v = json_integer_value(attr_of(s, "t", key, "freq", &h));
  json_decref(h);
  return v;
}

static uint64_t objects_of(store *s, const char *space) {
  json_t *sp = NULL;
  store_err err = {0};
  assert_int_equal(store_space_get(s, space, &sp, &err), 0);
  uint64_t n = (uint64_t)json_integer_value(json_object_get(sp, "objects"));
  json_decref(sp);
  return n;
}

/* Count of a one-condition query, and the index entries it read. */
static long query_count(store *s, const char *space, const char *name,
                        store_op op, const char *value, uint64_t *keys) {
  store_pred p = {0, name, op, value};
  store_query q = {.preds = &p, .npreds = 1, .limit = 1000, .count_only = 1};
  json_t *o = NULL;
  store_err err = {0};
  uint64_t k = 0;
  assert_int_equal(store_query_run(s, space, &q, &o, &k, &err), 0);
  long n = (long)json_integer_value(json_object_get(o, "count"));
  json_decref(o);
  if (keys) *keys = k;
  return n;
}

static void test_applies(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL, *h = NULL;
  space_make(f->s, "t", SPEC);
  assert_int_equal(obj_put(f->s, "t", "w3", "{\"attrs\":{\"freq\":10}}", &err),
                   0);
  json_t *p = incr_patches(0, 2000, 2);
  json_object_set_new(p, "x",
                      J("{\"attrs\":{\"name\":\"ex\",\"l\":{\"$append\":1}},"
                        "\"labels\":{\"k\":\"v\"}}"));
  assert_int_equal(store_object_patch_many(f->s, "t", p, &out, &err), 0);
  json_decref(p);
  assert_int_equal(json_integer_value(json_object_get(out, "applied")), 2001);
  json_decref(out);
  assert_int_equal(freq_of(f->s, "w0"), 2);
  assert_int_equal(freq_of(f->s, "w1999"), 2);
  assert_int_equal(freq_of(f->s, "w3"), 12);
  assert_int_equal(objects_of(f->s, "t"), 2001);

  /* versions go on; a missing object starts at version 1 as PATCH makes it */
  assert_int_equal(store_object_get(f->s, "t", "w3", NULL, 0, &h, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(h, "version")), 2);
  json_decref(h);
  assert_int_equal(store_object_get(f->s, "t", "x", NULL, 0, &h, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(h, "version")), 1);
  assert_true(json_equal(json_object_get(json_object_get(h, "attrs"), "l"),
                         out = J("[1]")));
  json_decref(out);
  json_decref(h);

  /* again: every key exists now, the count stays */
  p = incr_patches(0, 2000, 3);
  assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), 0);
  json_decref(p);
  assert_int_equal(freq_of(f->s, "w5"), 5);
  assert_int_equal(freq_of(f->s, "w3"), 15);
  assert_int_equal(objects_of(f->s, "t"), 2001);
}

static void test_all_or_nothing(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  space_make(f->s, "t", SPEC);
  assert_int_equal(obj_put(f->s, "t", "w1", "{\"attrs\":{\"freq\":1}}", &err),
                   0);
  json_t *p = incr_patches(0, 100, 1);
  json_object_set_new(p, "bad", J("{\"attrs\":{\"name\":{\"$incr\":1}}}"));
  json_object_set_new(p, "w200", J("{\"attrs\":{\"freq\":{\"$incr\":1}}}"));
  assert_int_equal(store_object_patch_many(f->s, "t", p, &out, &err), -1);
  json_decref(p);
  assert_null(out);
  assert_int_equal(err.code, STORE_INVALID);
  assert_string_equal(err.field, "bad.attrs.name");
  assert_non_null(strstr(err.detail, "bad"));

  /* nothing changed: no new object, no increment, no index entry */
  assert_int_equal(freq_of(f->s, "w1"), 1);
  assert_int_equal(objects_of(f->s, "t"), 1);
  assert_int_equal(store_object_get(f->s, "t", "w0", NULL, 0, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_object_get(f->s, "t", "bad", NULL, 0, &out, &err), -1);
  uint64_t keys = 0;
  assert_int_equal(
      query_count(f->s, "t", "freq", STORE_OP_GTE, "-1000000", &keys), 1);
  assert_int_equal(keys, 2); /* its index entry and its head */

  /* failures found before queueing name their key too */
  p = J("{\"a/b\":{\"attrs\":{}}}");
  assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  assert_string_equal(err.field, "a/b.key");
  json_decref(p);
  p = J("{\"k\":{\"x\":1}}");
  assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), -1);
  assert_string_equal(err.field, "k.x");
  json_decref(p);
  p = J("[1]");
  assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  json_decref(p);
  p = J("{\"w1\":{\"attrs\":{\"nope\":1}}}");
  assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), -1);
  assert_string_equal(err.field, "w1.attrs.nope");
  assert_int_equal(store_object_patch_many(f->s, "none", p, NULL, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_string_equal(err.field, "space");
  json_decref(p);
  assert_int_equal(freq_of(f->s, "w1"), 1);
}

/* The same patches, many at once in "t" and one by one in "u", leave the
 * same objects and the same index entries. */
static void test_indexes(void **state) {
  fixture *f = *state;
  store_err err = {0};
  char key[32];
  space_make(f->s, "t", SPEC);
  space_make(f->s, "u", SPEC);
  for (int round = 1; round <= 3; round++) {
    json_t *p = json_object();
    for (int i = 0; i < 300; i++) {
      snprintf(key, sizeof key, "w%d", i);
      json_object_set_new(p, key,
                          json_pack("{s:{s:{s:i}, s:s}, s:{s:i}}", "attrs",
                                    "freq", "$incr", i % 7 + round, "name",
                                    round == 3 ? "last" : "early", "labels",
                                    "round", round));
    }
    assert_int_equal(store_object_patch_many(f->s, "t", p, NULL, &err), 0);
    const char *k;
    json_t *b;
    json_object_foreach(p, k, b) {
      int created;
      assert_int_equal(
          store_object_patch(f->s, "u", k, b, NULL, NULL, &created, &err), 0);
    }
    json_decref(p);
  }
  for (int v = 0; v < 30; v++) {
    char val[16];
    uint64_t kt = 0, ku = 0;
    snprintf(val, sizeof val, "%d", v);
    long nt = query_count(f->s, "t", "freq", STORE_OP_EQ, val, &kt);
    long nu = query_count(f->s, "u", "freq", STORE_OP_EQ, val, &ku);
    assert_int_equal(nt, nu);
    assert_int_equal(kt, ku);
  }
  /* exactly one entry per object (a query reads it and the head): no
   * stale entry of an earlier value */
  uint64_t keys = 0;
  assert_int_equal(query_count(f->s, "t", "freq", STORE_OP_GTE, "-1000", &keys),
                   300);
  assert_int_equal(keys, 600);
  assert_int_equal(query_count(f->s, "t", "name", STORE_OP_EQ, "last", &keys),
                   300);
  assert_int_equal(keys, 600);
  assert_int_equal(query_count(f->s, "t", "name", STORE_OP_EQ, "early", NULL),
                   0);
  store_pred lp = {1, "round", STORE_OP_EQ, "3"};
  store_query q = {.preds = &lp, .npreds = 1, .count_only = 1};
  json_t *o = NULL;
  assert_int_equal(store_query_run(f->s, "t", &q, &o, &keys, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(o, "count")), 300);
  assert_int_equal(keys, 600);
  json_decref(o);
  assert_int_equal(freq_of(f->s, "w6"), 3 * 6 + (1 + 2 + 3));
}

typedef struct {
  store *s;
  int id, rounds, failures;
} worker_arg;

/* Thread i increments w<i*50>..w<i*50+99> by 1, `rounds` times: each key
 * but the ends is patched by two threads. */
static void *many_worker(void *p) {
  worker_arg *a = p;
  json_t *b = incr_patches(a->id * 50, a->id * 50 + 100, 1);
  for (int i = 0; i < a->rounds; i++) {
    store_err err = {0};
    if (store_object_patch_many(a->s, "t", b, NULL, &err)) a->failures++;
  }
  json_decref(b);
  return NULL;
}

static void test_concurrent(void **state) {
  fixture *f = *state;
  pthread_t th[4];
  worker_arg args[4];
  space_make(f->s, "t", SPEC);
  for (int i = 0; i < 4; i++) {
    args[i] = (worker_arg){f->s, i, 50, 0};
    assert_int_equal(pthread_create(&th[i], NULL, many_worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  long total = 0;
  char key[32];
  for (int i = 0; i < 250; i++) {
    snprintf(key, sizeof key, "w%d", i);
    json_int_t v = freq_of(f->s, key);
    assert_int_equal(v, (i < 50 || i >= 200) ? 50 : 100);
    total += (long)v;
  }
  assert_int_equal(total, 4 * 50 * 100);
  assert_int_equal(objects_of(f->s, "t"), 250);
}

static void test_empty(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL, *p = json_object();
  space_make(f->s, "t", SPEC);
  assert_int_equal(store_object_patch_many(f->s, "t", p, &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "applied")), 0);
  json_decref(out);
  json_decref(p);
  assert_int_equal(objects_of(f->s, "t"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_applies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
