/*
 * test_store_async.c — the asynchronous mutations (completion runs once, on
 * the writer thread after the write is durable, or at once on the caller's
 * thread for a call refused before it is queued; many calls share a group
 * commit) and the schema cache (a space deleted and recreated with another
 * schema is never served with the old one, also under concurrent readers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

/* One completion's record, waited for on a condition variable. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  pthread_t thread;
  store_result res;
} done_rec;

static void rec_init(done_rec *d) {
  memset(d, 0, sizeof *d);
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
}

static void rec_done(void *ud, store_result *res) {
  done_rec *d = ud;
  pthread_mutex_lock(&d->mu);
  d->calls++;
  d->thread = pthread_self();
  d->res = *res;
  res->out = NULL; /* taken */
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static void rec_wait(done_rec *d) {
  pthread_mutex_lock(&d->mu);
  while (d->calls == 0)
    pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

static void rec_free(done_rec *d) {
  json_decref(d->res.out);
  pthread_mutex_destroy(&d->mu);
  pthread_cond_destroy(&d->cv);
}

static void test_async_put_completes_on_the_writer(void **state) {
  fixture *f = *state;
  json_t *body = J("{\"attrs\":{\"n\":1}}"), *got = NULL;
  store_err err = {0};
  done_rec d;

  space_make(f->s, "sp", "{\"attrs\":{\"n\":\"Int\"}}");
  rec_init(&d);
  store_object_put_async(f->s, "sp", "k", body, NULL, rec_done, &d);
  json_decref(body); /* the store keeps its own reference */
  rec_wait(&d);
  assert_int_equal(d.calls, 1);
  assert_false(pthread_equal(d.thread, pthread_self()));
  assert_int_equal(d.res.rc, 0);
  assert_int_equal(d.res.created, 1);
  assert_int_equal(json_integer_value(json_object_get(d.res.out, "version")),
                   1);
  /* durable and visible once the completion ran */
  assert_int_equal(store_object_get(f->s, "sp", "k", NULL, 0, &got, &err), 0);
  json_decref(got);
  rec_free(&d);
}

static void test_async_refusal_completes_at_once(void **state) {
  fixture *f = *state;
  json_t *body = J("{\"attrs\":{}}");
  done_rec d;

  rec_init(&d);
  store_object_put_async(f->s, "sp", "a/b", body, NULL, rec_done, &d);
  /* a bad key is refused before queueing: the completion already ran here */
  assert_int_equal(d.calls, 1);
  assert_true(pthread_equal(d.thread, pthread_self()));
  assert_int_equal(d.res.rc, -1);
  assert_int_equal(d.res.err.code, STORE_BAD_REQUEST);
  assert_string_equal(d.res.err.field, "key");
  assert_null(d.res.out);
  rec_free(&d);
  json_decref(body);
}

static void test_async_failure_reports_the_error(void **state) {
  fixture *f = *state;
  json_t *body = J("{\"attrs\":{\"n\":\"x\"}}");
  done_rec d;

  space_make(f->s, "sp", "{\"attrs\":{\"n\":\"Int\"}}");
  rec_init(&d);
  store_object_patch_async(f->s, "sp", "k", body, NULL, rec_done, &d);
  json_decref(body);
  rec_wait(&d);
  assert_int_equal(d.res.rc, -1);
  assert_int_equal(d.res.err.code, STORE_INVALID);
  assert_string_equal(d.res.err.field, "attrs.n");
  assert_null(d.res.out);
  rec_free(&d);
}

/* Many writes queued at once, no thread waiting on any: they share commits,
 * and each completion runs exactly once. */
static void test_async_writes_share_group_commits(void **state) {
  enum { N = 200 };
  fixture *f = *state;
  static done_rec d[N];
  json_t *body = J("{\"attrs\":{\"n\":{\"$incr\":1}}}"), *holder = NULL;
  store_stats before, after;
  char key[32];

  space_make(f->s, "sp", "{\"attrs\":{\"n\":\"Int\"}}");
  store_stats_get(f->s, &before);
  for (int i = 0; i < N; i++) {
    rec_init(&d[i]);
    snprintf(key, sizeof key, "c%d", i % 7);
    store_object_patch_async(f->s, "sp", key, body, NULL, rec_done, &d[i]);
  }
  json_decref(body);
  for (int i = 0; i < N; i++) {
    rec_wait(&d[i]);
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].res.rc, 0);
    rec_free(&d[i]);
  }
  store_stats_get(f->s, &after);
  assert_int_equal(after.writes - before.writes, N);
  assert_true(after.commits - before.commits < N);
  /* 200 increments spread over 7 counters: c0 got ceil(200/7) = 29 */
  assert_int_equal(json_integer_value(attr_of(f->s, "sp", "c0", "n", &holder)),
                   29);
  json_decref(holder);
}

static void test_deleted_space_recreated_serves_new_schema(void **state) {
  fixture *f = *state;
  json_t *out = NULL;
  store_err err = {0};

  space_make(f->s, "sp", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(obj_put(f->s, "sp", "k", "{\"attrs\":{\"n\":1}}", &err), 0);
  /* readers have cached the Int schema */
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0);
  json_decref(out);
  assert_int_equal(store_object_get(f->s, "sp", "k", NULL, 0, &out, &err), 0);
  json_decref(out);
  assert_int_equal(store_space_delete(f->s, "sp", &err), 0);
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  space_make(f->s, "sp",
             "{\"attrs\":{\"n\":\"String\"},\"opts\":"
             "{\"versioning\":true}}");
  /* the writer validates against the new schema ... */
  assert_int_equal(obj_put(f->s, "sp", "k", "{\"attrs\":{\"n\":1}}", &err), -1);
  assert_int_equal(err.code, STORE_INVALID);
  assert_int_equal(obj_put(f->s, "sp", "k", "{\"attrs\":{\"n\":\"x\"}}", &err),
                   0);
  /* ... and readers see it */
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(out, "attrs"), "n")),
      "String");
  json_decref(out);
  out = NULL;
  assert_int_equal(store_versions_list(f->s, "sp", "k", NULL, &out, &err), 0);
  assert_int_equal(json_array_size(out), 1); /* versioning, from the new one */
  json_decref(out);
}

/* Delete and recreate in one group: the group's own writes win over the
 * cache inside the writer. */
static void test_delete_recreate_in_one_group(void **state) {
  fixture *f = *state;
  json_t *spec = J("{\"attrs\":{\"n\":\"Bool\"}}");
  json_t *body = J("{\"attrs\":{\"n\":true}}"), *out = NULL;
  store_err err = {0};
  done_rec d[3];

  space_make(f->s, "sp", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0); /* cached */
  json_decref(out);
  for (int i = 0; i < 3; i++)
    rec_init(&d[i]);
  store_space_delete_async(f->s, "sp", rec_done, &d[0]);
  store_space_put_async(f->s, "sp", spec, rec_done, &d[1]);
  store_object_put_async(f->s, "sp", "k", body, NULL, rec_done, &d[2]);
  for (int i = 0; i < 3; i++) {
    rec_wait(&d[i]);
    assert_int_equal(d[i].res.rc, 0);
    rec_free(&d[i]);
  }
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(out, "attrs"), "n")),
      "Bool");
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 1);
  json_decref(out);
  json_decref(spec);
  json_decref(body);
}

typedef struct {
  store *s;
  _Atomic int stop;
} reader_arg;

static void *reader_main(void *p) {
  reader_arg *a = p;
  store_err err;
  json_t *out;
  while (!a->stop) {
    out = NULL;
    if (store_space_get(a->s, "sp", &out, &err) == 0) json_decref(out);
  }
  return NULL;
}

/* Readers filling the cache while the space flips between two schemas: at
 * the end the cache must hold the last one. */
static void test_cache_under_concurrent_readers(void **state) {
  fixture *f = *state;
  static const char *const specs[] = {"{\"attrs\":{\"n\":\"Int\"}}",
                                      "{\"attrs\":{\"n\":\"Float\"}}"};
  reader_arg a = {f->s, 0};
  pthread_t th[3];
  json_t *out = NULL;
  store_err err = {0};

  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader_main, &a), 0);
  for (int round = 0; round < 40; round++) {
    space_make(f->s, "sp", specs[round % 2]);
    assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "attrs"), "n")),
        round % 2 ? "Float" : "Int");
    json_decref(out);
    assert_int_equal(store_space_delete(f->s, "sp", &err), 0);
  }
  space_make(f->s, "sp", specs[1]);
  a.stop = 1;
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(store_space_get(f->s, "sp", &out, &err), 0);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(out, "attrs"), "n")),
      "Float");
  json_decref(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_async_put_completes_on_the_writer,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_refusal_completes_at_once,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_failure_reports_the_error,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_writes_share_group_commits,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_deleted_space_recreated_serves_new_schema, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_recreate_in_one_group, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_cache_under_concurrent_readers,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
