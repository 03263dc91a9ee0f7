/*
 * test_store_feed.c — the store's change feed (store_feed_set): every
 * committed write reports its change once it is durable and before its
 * caller is answered, in the order applied, with the object as a GET
 * answers it; failed operations report nothing; patch_many reports one
 * patch per key, or nothing when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

#include <pthread.h>

static const char *OPS[] = {"put", "patch", "delete", "branch", "deleted"};

/* What the feed was told, as JSON: [{"op","space","key","branch",
 * "version","object"(text)}]. Written on the writer thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *seen;
static int calls;

static void record(void *ud, const store_change *c, size_t n) {
  assert_ptr_equal(ud, &seen);
  assert_true(n >= 1);
  pthread_mutex_lock(&mu);
  calls++;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(c[i].object ? strlen(c[i].object) : 0, c[i].object_len);
    json_array_append_new(
        seen,
        json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:s?}", "op", OPS[c[i].op],
                  "space", c[i].space, "key", c[i].key, "branch", c[i].branch,
                  "version", (json_int_t)c[i].version, "object", c[i].object));
  }
  pthread_mutex_unlock(&mu);
}

static int feed_setup(void **state) {
  setup(state);
  seen = json_array();
  calls = 0;
  store_feed_set(((fixture *)*state)->s, record, &seen);
  return 0;
}

static int feed_teardown(void **state) {
  teardown(state);
  json_decref(seen);
  return 0;
}

/* The i-th change seen (borrowed). */
static json_t *change(size_t i) {
  json_t *c;
  pthread_mutex_lock(&mu);
  c = json_array_get(seen, i);
  pthread_mutex_unlock(&mu);
  if (!c) fail_msg("no change %zu", i);
  return c;
}

static size_t nseen(void) {
  size_t n;
  pthread_mutex_lock(&mu);
  n = json_array_size(seen);
  pthread_mutex_unlock(&mu);
  return n;
}

static const char *str(json_t *c, const char *k) {
  return json_string_value(json_object_get(c, k));
}

static void expect(size_t i, const char *op, const char *key,
                   const char *branch, int version) {
  json_t *c = change(i);
  assert_string_equal(str(c, "op"), op);
  assert_string_equal(str(c, "space"), "w");
  if (key)
    assert_string_equal(str(c, "key"), key);
  else
    assert_true(json_is_null(json_object_get(c, "key")));
  if (branch)
    assert_string_equal(str(c, "branch"), branch);
  else
    assert_true(json_is_null(json_object_get(c, "branch")));
  assert_int_equal(json_integer_value(json_object_get(c, "version")), version);
}

static void test_each_write_reports_its_change(void **state) {
  store *s = ((fixture *)*state)->s;
  store_err err;
  json_t *out = NULL, *b;
  char *text;
  size_t len;
  uint64_t version;

  space_make(s, "w",
             "{\"attrs\":{\"n\":\"Int\"},\"opts\":{\"versioning\":true}}");
  assert_int_equal(nseen(), 0); /* a space made is not an object change */
  assert_int_equal(obj_put(s, "w", "a", "{\"attrs\":{\"n\":1}}", &err), 0);
  expect(0, "put", "a", "main", 1);
  /* the object is the very text a GET answers */
  assert_int_equal(
      store_object_get_text(s, "w", "a", &text, &len, &version, &err), 0);
  assert_string_equal(str(change(0), "object"), text);
  free(text);
  assert_int_equal(
      obj_patch(s, "w", "a", "{\"attrs\":{\"n\":{\"$incr\":2}}}", &out, &err),
      0);
  expect(1, "patch", "a", "main", 2);
  b = json_loads(str(change(1), "object"), 0, NULL);
  assert_true(json_equal(b, out));
  json_decref(b);
  json_decref(out);

  assert_int_equal(store_branch_create(s, "w", "a", "exp", 1, &out, &err), 0);
  expect(2, "branch", "a", "exp", 1);
  b = json_loads(str(change(2), "object"), 0, NULL);
  assert_true(json_equal(b, out)); /* as GET ?branch=exp answers it */
  assert_null(json_object_get(b, "from"));
  json_decref(b);
  json_decref(out);
  store_wopts w = {.branch = "exp"};
  json_t *body = J("{\"attrs\":{\"n\":7}}");
  int created;
  assert_int_equal(
      store_object_put(s, "w", "a", body, &w, &out, &created, &err), 0);
  expect(3, "put", "a", "exp", 2);
  json_decref(out);
  json_decref(body);
  assert_int_equal(store_object_delete(s, "w", "a", &w, &err), 0);
  expect(4, "delete", "a", "exp", 2);
  assert_true(json_is_null(json_object_get(change(4), "object")));
  assert_int_equal(store_object_delete(s, "w", "a", NULL, &err), 0);
  expect(5, "delete", "a", "main", 2);
  assert_int_equal(store_space_delete(s, "w", &err), 0);
  expect(6, "deleted", NULL, NULL, 0);
  assert_int_equal(nseen(), 7);
}

static void test_failures_report_nothing(void **state) {
  store *s = ((fixture *)*state)->s;
  store_err err;
  json_t *body = J("{\"attrs\":{\"n\":1}}");
  store_wopts w = {.has_if_match = 1, .if_match = 9};
  int created;

  space_make(s, "w", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(obj_put(s, "w", "a", "{\"attrs\":{\"n\":\"x\"}}", &err), -1);
  assert_int_equal(obj_put(s, "w", "a", "{\"attrs\":{\"zz\":1}}", &err), -1);
  assert_int_equal(obj_put(s, "nope", "a", "{}", &err), -1);
  assert_int_equal(
      store_object_put(s, "w", "a", body, &w, NULL, &created, &err), -1);
  assert_int_equal(store_object_delete(s, "w", "a", NULL, &err), -1);
  assert_int_equal(store_branch_create(s, "w", "a", "b", 1, NULL, &err), -1);
  assert_int_equal(store_space_delete(s, "nope", &err), -1);
  assert_int_equal(nseen(), 0);
  assert_int_equal(calls, 0);
  json_decref(body);
}

static void test_patch_many_reports_each_key_or_none(void **state) {
  store *s = ((fixture *)*state)->s;
  store_err err;
  json_t *p = J("{\"x\":{\"attrs\":{\"n\":{\"$incr\":1}}},"
                "\"y\":{\"attrs\":{\"n\":{\"$incr\":2}}},"
                "\"x2\":{\"labels\":{\"l\":true}}}");
  json_t *bad = J("{\"x\":{\"attrs\":{\"n\":{\"$incr\":1}}},"
                  "\"y\":{\"attrs\":{\"n\":\"no\"}}}");

  space_make(s, "w", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(store_object_patch_many(s, "w", p, NULL, &err), 0);
  assert_int_equal(nseen(), 3);
  expect(0, "patch", "x", "main", 1);
  expect(1, "patch", "y", "main", 1);
  expect(2, "patch", "x2", "main", 1);
  assert_int_equal(calls, 1); /* one group, one call */
  assert_int_equal(store_object_patch_many(s, "w", bad, NULL, &err), -1);
  assert_int_equal(nseen(), 3);
  assert_int_equal(store_object_patch_many(s, "w", p, NULL, &err), 0);
  expect(3, "patch", "x", "main", 2);
  json_decref(p);
  json_decref(bad);
}

/* Async writes queued together: only the ones that succeed report, in
 * the order they were queued, before their completions run. */
typedef struct {
  int done;
  size_t seen_at_completion;
} probe;

static void probe_done(void *ud, store_result *res) {
  probe *p = ud;
  json_decref(res->out);
  p->seen_at_completion = json_array_size(seen); /* writer thread */
  __atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
}

static void test_a_group_reports_in_order_before_completions(void **state) {
  store *s = ((fixture *)*state)->s;
  const char *bodies[] = {"{\"attrs\":{\"n\":1}}", "{\"attrs\":{\"n\":\"x\"}}",
                          "{\"attrs\":{\"n\":3}}", "{\"attrs\":{\"n\":4}}"};
  const char *keys[] = {"k0", "k1", "k2", "k0"};
  probe pr[4] = {0};

  space_make(s, "w", "{\"attrs\":{\"n\":\"Int\"}}");
  for (int i = 0; i < 4; i++) {
    json_t *b = J(bodies[i]);
    store_object_put_async(s, "w", keys[i], b, NULL, probe_done, &pr[i]);
    json_decref(b);
  }
  for (int i = 0; i < 4; i++)
    while (!__atomic_load_n(&pr[i].done, __ATOMIC_SEQ_CST))
      usleep(1000);
  assert_int_equal(nseen(), 3);
  expect(0, "put", "k0", "main", 1);
  expect(1, "put", "k2", "main", 1);
  expect(2, "put", "k0", "main", 2);
  assert_true(pr[0].seen_at_completion >= 1);
  assert_true(pr[3].seen_at_completion == 3);
}

static void test_no_feed_no_calls(void **state) {
  store *s = ((fixture *)*state)->s;
  store_err err;

  store_feed_set(s, NULL, NULL);
  space_make(s, "w", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(obj_put(s, "w", "a", "{\"attrs\":{\"n\":1}}", &err), 0);
  assert_int_equal(nseen(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_each_write_reports_its_change,
                                      feed_setup, feed_teardown),
      cmocka_unit_test_setup_teardown(test_failures_report_nothing, feed_setup,
                                      feed_teardown),
      cmocka_unit_test_setup_teardown(test_patch_many_reports_each_key_or_none,
                                      feed_setup, feed_teardown),
      cmocka_unit_test_setup_teardown(
          test_a_group_reports_in_order_before_completions, feed_setup,
          feed_teardown),
      cmocka_unit_test_setup_teardown(test_no_feed_no_calls, feed_setup,
                                      feed_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
