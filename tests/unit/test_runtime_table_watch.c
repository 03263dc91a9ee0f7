/*
 * test_runtime_table_watch.c — the fibril table's watch callback
 * (rt_table_watch_set): a new record is reported once, complete, in its
 * first state just before its first change of state; then every change of
 * state and of a reported record's members; no report for a change that
 * is refused or changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static json_t *seen; /* copies of what the callback was given */

static void record(void *ud, const json_t *rec) {
  assert_ptr_equal(ud, &seen);
  json_array_append_new(seen, json_deep_copy(rec));
}

static const char *state_at(size_t i) {
  return json_string_value(json_object_get(json_array_get(seen, i), "state"));
}

static void test_reports(void **state) {
  rt_table *t = rt_table_new("n1");
  char a[RT_ID_MAX], b[RT_ID_MAX];
  json_t *res = json_integer(42);

  (void)state;
  seen = json_array();
  rt_table_watch_set(t, record, &seen);
  assert_int_equal(rt_table_add(t, NULL, a), 0);
  assert_int_equal(rt_table_extra_set(t, a, "code", json_string("sha256:x")),
                   0);
  assert_int_equal(json_array_size(seen), 0); /* not yet */
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_RUNNING), 0);
  assert_int_equal(json_array_size(seen), 2);
  assert_string_equal(state_at(0), "ready");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(seen, 0), "code")),
      "sha256:x");
  assert_string_equal(state_at(1), "running");
  /* the same state again is no change */
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_RUNNING), 0);
  assert_int_equal(json_array_size(seen), 2);
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_WAITING), 0);
  assert_string_equal(state_at(2), "waiting");
  /* a member added to a reported record is a change */
  assert_int_equal(rt_table_extra_set(t, a, "note", json_string("x")), 0);
  assert_int_equal(json_array_size(seen), 4);
  assert_string_equal(state_at(3), "waiting");
  /* a child, finished before it ever ran: ready, then failed */
  assert_int_equal(rt_table_add(t, a, b), 0);
  rt_error e = {0};
  rt_error_set(&e, "WorkerDied", "no worker");
  assert_int_equal(rt_table_finish(t, b, RT_FIBRIL_FAILED, NULL, &e, 0, 0), 0);
  rt_error_clear(&e);
  assert_int_equal(json_array_size(seen), 6);
  assert_string_equal(state_at(4), "ready");
  assert_string_equal(state_at(5), "failed");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(seen, 5), "parent")), a);
  /* the parent's record as rt_table_get answers it */
  assert_int_equal(
      rt_table_finish(t, a, RT_FIBRIL_DONE, res, NULL, 1000000, 10), 0);
  json_t *now = rt_table_get(t, a);
  assert_true(json_equal(now, json_array_get(seen, 6)));
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(seen, 6), "result")),
      42);
  json_decref(now);
  /* refused changes report nothing */
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_RUNNING), -1);
  assert_int_equal(rt_table_finish(t, a, RT_FIBRIL_KILLED, NULL, NULL, 0, 0),
                   -1);
  assert_int_equal(rt_table_state_set(t, "n1-99", RT_FIBRIL_RUNNING), -1);
  assert_int_equal(json_array_size(seen), 7);
  /* and none at all once the callback is gone */
  rt_table_watch_set(t, NULL, NULL);
  assert_int_equal(rt_table_add(t, NULL, b), 0);
  assert_int_equal(rt_table_state_set(t, b, RT_FIBRIL_RUNNING), 0);
  assert_int_equal(json_array_size(seen), 7);
  json_decref(res);
  json_decref(seen);
  rt_table_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reports),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
