/*
 * test_store_blob.c — raw blobs by (namespace, name): put, get, absent,
 * bad names, durable across close and reopen, and invisible to spaces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

#include <pthread.h>

static const char FP[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_put_get(void **state) {
  fixture *f = *state;
  store_err err = {0};
  char *data = NULL;
  size_t len = 0;
  static const char bin[] = {'a', 0, 'b', (char)0xff, 'c'};

  assert_int_equal(store_blob_put(f->s, "code", FP, "def f; end", 10, &err), 0);
  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), 0);
  assert_int_equal(len, 10);
  assert_string_equal(data, "def f; end"); /* NUL-terminated */
  free(data);

  /* any bytes; a put overwrites */
  assert_int_equal(store_blob_put(f->s, "code", FP, bin, sizeof bin, &err), 0);
  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), 0);
  assert_int_equal(len, sizeof bin);
  assert_memory_equal(data, bin, sizeof bin);
  assert_int_equal(data[len], 0);
  free(data);

  /* an empty blob is a blob */
  assert_int_equal(store_blob_put(f->s, "code", "empty", "", 0, &err), 0);
  assert_int_equal(store_blob_get(f->s, "code", "empty", &data, &len, &err), 0);
  assert_int_equal(len, 0);
  free(data);
}

static void test_absent_and_names(void **state) {
  fixture *f = *state;
  store_err err = {0};
  char *data = (char *)"x";
  size_t len = 0;

  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_string_equal(err.field, "name");
  assert_null(data);
  /* another namespace is another blob */
  assert_int_equal(store_blob_put(f->s, "other", FP, "1", 1, &err), 0);
  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);

  assert_int_equal(store_blob_put(f->s, "a/b", "n", "1", 1, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  assert_string_equal(err.field, "namespace");
  assert_int_equal(store_blob_put(f->s, "code", "", "1", 1, &err), -1);
  assert_string_equal(err.field, "name");
  assert_int_equal(store_blob_get(f->s, "code", "..", &data, &len, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, rc;
} async_wait;

static void async_done(void *ud, store_result *res) {
  async_wait *w = ud;
  pthread_mutex_lock(&w->mu);
  w->rc = res->rc;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* What an async put reports as done is durable: it survives a close and a
 * reopen of the store. */
static void test_durable(void **state) {
  fixture *f = *state;
  store_err err = {0};
  async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1};
  char *src = strdup("def main(a) a end"), *data = NULL;
  size_t len = 0;

  store_blob_put_async(f->s, "code", FP, src, strlen(src), async_done, &w);
  free(src); /* copied */
  pthread_mutex_lock(&w.mu);
  while (!w.done)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  assert_int_equal(w.rc, 0);

  store_close(f->s);
  assert_int_equal(store_open(f->dir, &f->s, &err), 0);
  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), 0);
  assert_string_equal(data, "def main(a) a end");
  free(data);
}

/* Blobs belong to no space: not listed, not counted, not searched. */
static void test_invisible(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  int more = 1;
  uint64_t keys = 0;
  store_stats st;

  space_make(f->s, "code", "{\"attrs\":{\"n\":\"Int\"}}");
  assert_int_equal(store_blob_put(f->s, "code", FP, "x", 1, &err), 0);
  assert_int_equal(store_blob_put(f->s, "zz", "k", "y", 1, &err), 0);

  assert_int_equal(store_space_list(f->s, NULL, 100, &out, &more, &err), 0);
  assert_int_equal(json_array_size(out), 1);
  assert_int_equal(more, 0);
  json_decref(out);
  store_stats_get(f->s, &st);
  assert_int_equal(st.spaces, 1);

  assert_int_equal(store_space_get(f->s, "code", &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 0);
  json_decref(out);

  store_query q = {.limit = 100};
  assert_int_equal(store_query_run(f->s, "code", &q, &out, &keys, &err), 0);
  assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
  json_decref(out);
  assert_int_equal(store_object_get(f->s, "code", FP, NULL, 0, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_space_get(f->s, "zz", &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);

  /* nor does deleting a space of the same name touch them */
  assert_int_equal(store_space_delete(f->s, "code", &err), 0);
  char *data = NULL;
  size_t len = 0;
  assert_int_equal(store_blob_get(f->s, "code", FP, &data, &len, &err), 0);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_absent_and_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invisible, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
