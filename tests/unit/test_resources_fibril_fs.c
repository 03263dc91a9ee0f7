/*
 * Unit tests for resources/fibril_fs.c: the fs calls of fibrils against a
 * fresh store (condition text, record splitting, each call's answer, and
 * that a write's answer comes only after it is durable on the writer
 * thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "resources/resources.h"
#include "tests/unit/store_fixture.h"

/* Waits for the answer of an fs call, from whichever thread gives it. */
typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  json_t *value;
  pthread_t thread;
} waiter;

static void answered(void *ud, json_t *value) {
  waiter *w = ud;
  pthread_mutex_lock(&w->mu);
  assert_null(w->value); /* exactly once */
  w->value = value;
  w->thread = pthread_self();
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Runs op with args (JSON text); the answer (new). */
static json_t *call(store *s, const char *op, const char *args) {
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};
  json_t *a = J(args);
  fsc_call(s, op, a, answered, &w);
  pthread_mutex_lock(&w.mu);
  while (!w.value)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  json_decref(a);
  return w.value;
}

static json_t *ok(json_t *answer) {
  json_t *v = json_object_get(answer, "ok");
  if (!v) fail_msg("not ok: %s", json_dumps(answer, 0));
  return v;
}

static void assert_json(const json_t *v, const char *text) {
  json_t *want = J(text);
  if (!json_equal(v, want)) {
    char *got = json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fail_msg("got %s, want %s", got, text);
  }
  json_decref(want);
}

static void test_pred_text(void **state) {
  char buf[32];
  json_t *v;
  (void)state;
  assert_int_equal(fsc_pred_text(v = json_string("pi"), buf, sizeof buf), 0);
  assert_string_equal(buf, "pi");
  json_decref(v);
  assert_int_equal(fsc_pred_text(v = json_integer(-42), buf, sizeof buf), 0);
  assert_string_equal(buf, "-42");
  json_decref(v);
  assert_int_equal(fsc_pred_text(v = json_real(0.5), buf, sizeof buf), 0);
  assert_string_equal(buf, "0.5");
  json_decref(v);
  assert_int_equal(fsc_pred_text(json_true(), buf, sizeof buf), 0);
  assert_string_equal(buf, "true");
  assert_int_equal(fsc_pred_text(json_false(), buf, sizeof buf), 0);
  assert_string_equal(buf, "false");
  assert_int_equal(fsc_pred_text(json_null(), buf, sizeof buf), -1);
  assert_int_equal(fsc_pred_text(v = json_array(), buf, sizeof buf), -1);
  json_decref(v);
  assert_int_equal(fsc_pred_text(v = json_string("0123456789"), buf, 4), -1);
  json_decref(v);
}

static void test_invoke_split(void **state) {
  json_t *rec = J("{\"word\": \"pi\", \"freq\": {\"$incr\": 1}, \"n\": 2}"),
         *body;
  const char *key;
  store_err e;
  (void)state;
  assert_int_equal(fsc_invoke_split("word", rec, &key, &body, &e), 0);
  assert_string_equal(key, "pi");
  assert_json(body, "{\"attrs\": {\"freq\": {\"$incr\": 1}, \"n\": 2}}");
  json_decref(body);
  assert_int_equal(fsc_invoke_split("key", rec, &key, &body, &e), -1);
  assert_int_equal(e.code, STORE_BAD_REQUEST);
  assert_string_equal(e.field, "key");
  assert_null(body);
  json_decref(rec);
  rec = J("[1]");
  assert_int_equal(fsc_invoke_split("word", rec, &key, &body, &e), -1);
  json_decref(rec);
}

static void test_calls(void **state) {
  fixture *f = *state;
  json_t *a;

  a = call(f->s, "add_space",
           "[\"w\", {\"key\": \"word\", \"attrs\": {\"freq\": \"Int\"}}]");
  assert_string_equal(json_string_value(json_object_get(ok(a), "key")), "word");
  json_decref(a);
  a = call(f->s, "put", "[\"w\", \"pi\", {\"attrs\": {\"freq\": 2}}]");
  assert_int_equal(json_integer_value(json_object_get(ok(a), "version")), 1);
  json_decref(a);
  for (int i = 0; i < 5; i++)
    json_decref(call(f->s, "invoke",
                     "[\"w\", {\"word\": \"pi\", \"freq\": {\"$incr\": 3}}]"));
  a = call(f->s, "get", "[\"w\", \"pi\"]");
  assert_json(json_object_get(ok(a), "attrs"), "{\"freq\": 17}");
  json_decref(a);
  a = call(f->s, "get", "[\"w\", \"nope\"]");
  assert_true(json_is_null(ok(a)));
  json_decref(a);
  a = call(f->s, "search", "[\"w\", {\"freq\": 17}]");
  assert_int_equal(json_array_size(ok(a)), 1);
  json_decref(a);
  a = call(f->s, "search", "[\"w\", {\"word\": \"pi\", \"freq\": 3}]");
  assert_int_equal(json_array_size(ok(a)), 0);
  json_decref(a);
  a = call(f->s, "delete", "[\"w\", \"pi\"]");
  assert_true(json_is_true(ok(a)));
  json_decref(a);
  a = call(f->s, "delete", "[\"w\", \"pi\"]");
  assert_true(json_is_false(ok(a)));
  json_decref(a);
}

static void test_errors(void **state) {
  fixture *f = *state;
  json_t *a;
  space_make(f->s, "w", "{\"key\": \"word\", \"attrs\": {\"freq\": \"Int\"}}");
  a = call(f->s, "put", "[\"w\", \"pi\", {\"attrs\": {\"freq\": \"x\"}}]");
  assert_json(json_object_get(a, "error"),
              "{\"code\": \"invalid\", \"field\": \"attrs.freq\", "
              "\"message\": \"attrs.freq must be an Int\"}");
  json_decref(a);
  a = call(f->s, "get", "[\"nospace\", \"pi\"]");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(a, "error"), "field")),
      "space");
  json_decref(a);
  a = call(f->s, "invoke", "[\"w\", {\"freq\": 1}]");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(a, "error"), "field")),
      "word");
  json_decref(a);
  a = call(f->s, "search", "[\"w\", {\"freq\": [1]}]");
  assert_non_null(json_object_get(a, "error"));
  json_decref(a);
  a = call(f->s, "frobnicate", "[\"w\"]");
  assert_non_null(json_object_get(a, "error"));
  json_decref(a);
  a = call(f->s, "get", "[1, \"pi\"]");
  assert_non_null(json_object_get(a, "error"));
  json_decref(a);
}

/* A write answers on the writer thread, after its commit; a read at once. */
static void test_write_answers_after_commit(void **state) {
  fixture *f = *state;
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};
  json_t *a = J("[\"w\", \"pi\", {\"attrs\": {\"freq\": 1}}]");
  store_stats before, after;
  space_make(f->s, "w", "{\"key\": \"word\", \"attrs\": {\"freq\": \"Int\"}}");
  store_stats_get(f->s, &before);
  fsc_call(f->s, "put", a, answered, &w);
  pthread_mutex_lock(&w.mu);
  while (!w.value)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  store_stats_get(f->s, &after);
  assert_true(after.commits > before.commits);
  assert_false(pthread_equal(w.thread, pthread_self()));
  json_decref(w.value);
  json_decref(a);
  w.value = NULL;
  a = J("[\"w\", \"pi\"]");
  fsc_call(f->s, "get", a, answered, &w);
  assert_non_null(w.value); /* answered before fsc_call returned */
  assert_true(pthread_equal(w.thread, pthread_self()));
  json_decref(w.value);
  json_decref(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pred_text),
      cmocka_unit_test(test_invoke_split),
      cmocka_unit_test_setup_teardown(test_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_answers_after_commit, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("resources_fibril_fs", tests, NULL, NULL);
}
