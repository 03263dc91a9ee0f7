/*
 * test_runtime_table.c — the node's fibril records: ids, states, the
 * family tree, listing with filters and paging, malformed ids.
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

static const char *state_of(rt_table *t, const char *id, char buf[16]) {
  json_t *o = rt_table_get(t, id);
  snprintf(buf, 16, "%s", json_string_value(json_object_get(o, "state")));
  json_decref(o);
  return buf;
}

static void test_ids_and_states(void **state) {
  rt_table *t = rt_table_new("E3");
  char a[RT_ID_MAX], b[RT_ID_MAX], s[16];
  rt_error e = {0};
  (void)state;
  assert_int_equal(rt_table_add(t, NULL, a), 0);
  assert_string_equal(a, "E3-1");
  assert_int_equal(rt_table_add(t, NULL, b), 0);
  assert_string_equal(b, "E3-2");
  assert_string_equal(state_of(t, a, s), "ready");
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_RUNNING), 0);
  assert_string_equal(state_of(t, a, s), "running");
  json_t *v = json_integer(42);
  assert_int_equal(rt_table_finish(t, a, RT_FIBRIL_DONE, v, NULL, 3000000, 128),
                   0);
  json_decref(v);
  json_t *o = rt_table_get(t, a);
  assert_int_equal(json_integer_value(json_object_get(o, "result")), 42);
  assert_int_equal(json_integer_value(json_object_get(o, "cpu_ms")), 3);
  assert_int_equal(json_integer_value(json_object_get(o, "memory_bytes")), 128);
  assert_true(json_is_string(json_object_get(o, "ended")));
  assert_string_equal(json_string_value(json_object_get(o, "node")), "E3");
  assert_string_equal(json_string_value(json_object_get(o, "uri")),
                      "/fibrils/E3-1");
  json_decref(o);
  /* final is final */
  assert_int_equal(rt_table_state_set(t, a, RT_FIBRIL_RUNNING), -1);
  rt_error_set(&e, "", "late");
  assert_int_equal(rt_table_finish(t, a, RT_FIBRIL_KILLED, NULL, &e, 0, 0), -1);
  /* a non-final state cannot finish */
  assert_int_equal(rt_table_finish(t, b, RT_FIBRIL_RUNNING, NULL, NULL, 0, 0),
                   -1);
  rt_error_set(&e, "TypeError", "no");
  assert_int_equal(rt_table_finish(t, b, RT_FIBRIL_FAILED, NULL, &e, 0, 0), 0);
  o = rt_table_get(t, b);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(o, "error"), "class")),
      "TypeError");
  assert_true(json_is_null(json_object_get(o, "reason")));
  json_decref(o);
  rt_error_clear(&e);
  rt_table_free(t);
}

static void test_bad_ids(void **state) {
  rt_table *t = rt_table_new("n-1");
  char a[RT_ID_MAX];
  (void)state;
  assert_int_equal(rt_table_add(t, NULL, a), 0);
  assert_string_equal(a, "n-1-1");
  json_t *o = rt_table_get(t, "n-1-1");
  assert_non_null(o);
  json_decref(o);
  const char *bad[] = {"n-1-2",  "n-1-0", "n-1-01", "n-1-",  "n-1",
                       "m-1-1",  "n-1-x", "n-1-1-", "",      "n-1-g",
                       "n-1--1", "n-11",  "N-1-1",  "n-1- 1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_null(rt_table_get(t, bad[i]));
  assert_null(rt_table_get(t, NULL));
  assert_int_equal(rt_table_add(t, "n-1-9", a), -1);
  rt_table_free(t);
  char longnode[80];
  memset(longnode, 'a', sizeof longnode - 1);
  longnode[sizeof longnode - 1] = '\0';
  assert_null(rt_table_new(longnode));
}

static void test_family(void **state) {
  rt_table *t = rt_table_new("N");
  char p[RT_ID_MAX], c1[RT_ID_MAX], c2[RT_ID_MAX], g[RT_ID_MAX], x[RT_ID_MAX];
  size_t next;
  (void)state;
  rt_table_add(t, NULL, p);
  rt_table_add(t, p, c1);
  rt_table_add(t, NULL, x);
  rt_table_add(t, p, c2);
  rt_table_add(t, c1, g);
  json_t *o = rt_table_get(t, p);
  json_t *kids = json_object_get(o, "children");
  assert_int_equal(json_array_size(kids), 2);
  assert_string_equal(json_string_value(json_array_get(kids, 0)), c1);
  assert_string_equal(json_string_value(json_array_get(kids, 1)), c2);
  json_decref(o);
  o = rt_table_get(t, g);
  assert_string_equal(json_string_value(json_object_get(o, "parent")), c1);
  json_decref(o);
  json_t *tree = rt_table_tree(t, p);
  assert_int_equal(json_array_size(tree), 4); /* p, c1, c2, g */
  assert_string_equal(json_string_value(json_array_get(tree, 0)), p);
  assert_string_equal(json_string_value(json_array_get(tree, 3)), g);
  json_decref(tree);
  tree = rt_table_tree(t, "N-99");
  assert_int_equal(json_array_size(tree), 0);
  json_decref(tree);
  json_t *l = rt_table_list(t, -1, p, 0, 10, &next);
  assert_int_equal(json_array_size(l), 2);
  assert_int_equal(next, 0);
  json_decref(l);
  l = rt_table_list(t, -1, "N-77", 0, 10, &next);
  assert_int_equal(json_array_size(l), 0);
  json_decref(l);
  rt_table_free(t);
}

static void test_list_paging(void **state) {
  rt_table *t = rt_table_new("P");
  char id[RT_ID_MAX];
  size_t next = 0, seen = 0;
  (void)state;
  for (int i = 0; i < 25; i++) {
    rt_table_add(t, NULL, id);
    if (i % 2 == 0) {
      json_t *v = json_integer(i);
      rt_table_finish(t, id, RT_FIBRIL_DONE, v, NULL, 0, 0);
      json_decref(v);
    }
  }
  assert_int_equal(rt_table_count(t, RT_FIBRIL_DONE), 13);
  assert_int_equal(rt_table_count(t, -1), 25);
  do {
    json_t *l = rt_table_list(t, RT_FIBRIL_DONE, NULL, next, 4, &next);
    for (size_t i = 0; i < json_array_size(l); i++) {
      json_t *o = json_array_get(l, i);
      assert_string_equal(json_string_value(json_object_get(o, "state")),
                          "done");
      assert_int_equal(json_integer_value(json_object_get(o, "result")),
                       (json_int_t)(2 * seen));
      seen++;
    }
    assert_true(json_array_size(l) <= 4);
    json_decref(l);
  } while (next);
  assert_int_equal(seen, 13);
  rt_table_free(t);
}

static void test_extra_members(void **state) {
  rt_table *t = rt_table_new("X");
  char a[RT_ID_MAX], b[RT_ID_MAX], s[16];
  size_t next;
  json_t *o, *v;
  (void)state;
  rt_table_add(t, NULL, a);
  rt_table_add(t, a, b);
  assert_int_equal(rt_table_extra_set(t, a, "code", json_string("sha256:ab")),
                   0);
  assert_int_equal(
      rt_table_extra_set(t, a, "channels",
                         json_pack("{s:s, s:s}", "send", "/channels/X-1",
                                   "recv", "/channels/X-2")),
      0);
  /* the record's own members win */
  assert_int_equal(rt_table_extra_set(t, a, "state", json_string("bogus")), 0);
  assert_int_equal(rt_table_extra_set(t, a, "id", json_string("X-99")), 0);
  assert_int_equal(rt_table_extra_set(t, a, "children", json_array()), 0);
  o = rt_table_get(t, a);
  assert_string_equal(json_string_value(json_object_get(o, "code")),
                      "sha256:ab");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(o, "channels"), "recv")),
                      "/channels/X-2");
  assert_string_equal(json_string_value(json_object_get(o, "state")), "ready");
  assert_string_equal(json_string_value(json_object_get(o, "id")), a);
  assert_int_equal(json_array_size(json_object_get(o, "children")), 1);
  json_decref(o);
  /* set again: the new value */
  assert_int_equal(rt_table_extra_set(t, a, "code", json_string("sha256:cd")),
                   0);
  o = rt_table_get(t, a);
  assert_string_equal(json_string_value(json_object_get(o, "code")),
                      "sha256:cd");
  json_decref(o);
  /* another record has none of them */
  o = rt_table_get(t, b);
  assert_null(json_object_get(o, "code"));
  json_decref(o);
  /* listing shows them; so does a finished record */
  v = json_integer(1);
  assert_int_equal(rt_table_finish(t, a, RT_FIBRIL_DONE, v, NULL, 0, 0), 0);
  json_decref(v);
  assert_string_equal(state_of(t, a, s), "done");
  json_t *l = rt_table_list(t, -1, NULL, 0, 10, &next);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(l, 0), "code")),
      "sha256:cd");
  assert_null(json_object_get(json_array_get(l, 1), "code"));
  json_decref(l);
  /* an unknown id: -1, and the value is still released */
  v = json_string("kept");
  json_incref(v);
  assert_int_equal(rt_table_extra_set(t, "X-99", "code", v), -1);
  assert_int_equal(v->refcount, 1);
  json_incref(v);
  assert_int_equal(rt_table_extra_set(t, "nonsense", "code", v), -1);
  assert_int_equal(v->refcount, 1);
  json_decref(v);
  rt_table_free(t);
}

/* rt_table_get answers a new record: changing it, nested members
 * included, changes nothing in the table. */
static void test_extra_not_shared(void **state) {
  rt_table *t = rt_table_new("Y");
  char a[RT_ID_MAX];
  json_t *o;
  (void)state;
  rt_table_add(t, NULL, a);
  rt_table_extra_set(t, a, "channels",
                     json_pack("{s:s}", "send", "/channels/Y-1"));
  o = rt_table_get(t, a);
  json_object_set_new(json_object_get(o, "channels"), "send",
                      json_string("changed"));
  json_decref(o);
  o = rt_table_get(t, a);
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(o, "channels"), "send")),
                      "/channels/Y-1");
  json_decref(o);
  rt_table_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_and_states),
      cmocka_unit_test(test_bad_ids),
      cmocka_unit_test(test_family),
      cmocka_unit_test(test_list_paging),
      cmocka_unit_test(test_extra_members),
      cmocka_unit_test(test_extra_not_shared),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
