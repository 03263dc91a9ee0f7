/*
 * test_runtime_combine.c — combined increments (runtime/combine.c and
 * runtime/prelude/fs.rb) on one VM: what fs.invoke puts off, when it is
 * sent, and that other records still go out one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* The host keeps every system call [op, args] and answers as the node
 * would: fs.incr_many {"ok": {"applied": N}}, fs.* {"ok": null},
 * chan.send {"seq": 1}. */
typedef struct host {
  rt_sched *s;
  json_t *calls;
} host;

static void on_call(void *ud, rt_fibril *f, const char *op, json_t *args) {
  host *h = ud;
  rt_error err = {0};
  json_t *v;
  json_array_append_new(h->calls, json_pack("[s, O]", op, args));
  if (strcmp(op, "fs.incr_many") == 0)
    v = json_pack("{s:{s:I}}", "ok", "applied",
                  (json_int_t)json_object_size(json_array_get(args, 2)));
  else if (strncmp(op, "fs.", 3) == 0)
    v = json_pack("{s:n}", "ok");
  else
    v = json_pack("{s:i}", "seq", 1);
  assert_int_equal(rt_sched_answer(h->s, f, v, &err), 0);
  json_decref(v);
}

typedef struct fixture {
  rt_vm *vm;
  host h;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  fx->vm = rt_vm_new(64u << 20);
  fx->h.s = rt_sched_new(fx->vm, on_call, &fx->h);
  fx->h.calls = json_array();
  *state = fx;
  return fx->vm && fx->h.s ? 0 : -1;
}

static int teardown(void **state) {
  fixture *fx = *state;
  rt_sched_free(fx->h.s);
  rt_vm_free(fx->vm);
  json_decref(fx->h.calls);
  free(fx);
  return 0;
}

/* Runs src to its end; returns its result (borrowed until teardown). */
static json_t *run(fixture *fx, const char *src) {
  rt_fibril *f;
  rt_error err = {0};
  assert_int_equal(rt_sched_spawn(fx->h.s, "f1", src, strlen(src), "t.rb", NULL,
                                  NULL, 0, &f, &err),
                   0);
  rt_sched_run(fx->h.s);
  if (rt_fibril_state_get(f) != RT_FIBRIL_DONE)
    fail_msg("fibril %s: %s", rt_fibril_state_name(rt_fibril_state_get(f)),
             rt_fibril_error(f) ? rt_fibril_error(f)->message : "");
  return rt_fibril_result(f);
}

static const char *op_of(fixture *fx, size_t i) {
  return json_string_value(json_array_get(json_array_get(fx->h.calls, i), 0));
}

static json_t *args_of(fixture *fx, size_t i) {
  return json_array_get(json_array_get(fx->h.calls, i), 1);
}

static void increments_are_sent_once_at_the_end(void **state) {
  fixture *fx = *state;
  json_t *r =
      run(fx, "a = (1..100).map { |i| fs.invoke(:w, {word: "
              "%w(pi e pi tau)[i % 4], freq: Int.incr, n: Int.incr(2)}) "
              "}\n a.compact.size");
  assert_int_equal(json_integer_value(r), 0); /* each invoke answered nil */
  assert_int_equal(json_array_size(fx->h.calls), 1);
  assert_string_equal(op_of(fx, 0), "fs.incr_many");
  json_t *want = json_pack("[s, s, {s:{s:i, s:i}, s:{s:i, s:i}, s:{s:i, s:i}}]",
                           "w", "word", "e", "freq", 25, "n", 50, "pi", "freq",
                           50, "n", 100, "tau", "freq", 25, "n", 50);
  assert_true(json_equal(args_of(fx, 0), want));
  json_decref(want);
}

static void a_message_or_another_call_applies_them_first(void **state) {
  fixture *fx = *state;
  run(fx, "fs.invoke('w', {'word' => 'pi', 'freq' => Int.incr})\n"
          "M31::Endpoint.new('x').send(1)\n"
          "fs.invoke('w', {word: 'pi', freq: Int.incr(3)})\n"
          "fs.get('w', 'pi')\n"
          "fs.invoke('w', {word: 'e', freq: 7})\n" /* not increments: sent */
          "nil");
  const char *ops[] = {"fs.incr_many", "chan.send", "fs.incr_many", "fs.get",
                       "fs.invoke"};
  assert_int_equal(json_array_size(fx->h.calls), 5);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(op_of(fx, i), ops[i]);
  assert_int_equal(
      json_integer_value(json_object_get(
          json_object_get(json_array_get(args_of(fx, 2), 2), "pi"), "freq")),
      3);
}

static void records_it_cannot_combine_go_one_by_one(void **state) {
  fixture *fx = *state;
  /* two Strings, no key, a Float step, a key that is no String */
  run(fx, "fs.invoke(:w, {word: 'pi', lang: 'en', freq: Int.incr})\n"
          "fs.invoke(:w, {freq: Int.incr})\n"
          "fs.invoke(:w, {word: 'pi', freq: {'$incr' => 1.5}})\n"
          "fs.invoke(:w, {word: 3, freq: Int.incr})\n"
          "nil");
  assert_int_equal(json_array_size(fx->h.calls), 4);
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(op_of(fx, i), "fs.invoke");
}

static void flush_answers_the_records_written(void **state) {
  fixture *fx = *state;
  json_t *r = run(fx, "3.times { |i| fs.invoke(:w, {word: \"k#{i}\", freq: "
                      "Int.incr}) }\n"
                      "fs.invoke(:v, {id: 'x', n: Int.incr})\n"
                      "[fs.flush, fs.flush]");
  json_t *want = json_pack("[i, i]", 4, 0);
  assert_true(json_equal(r, want));
  json_decref(want);
  assert_int_equal(json_array_size(fx->h.calls), 2); /* one per space */
}

static void a_raise_still_applies_them(void **state) {
  fixture *fx = *state;
  rt_fibril *f;
  rt_error err = {0};
  const char *src = "fs.invoke(:w, {word: 'pi', freq: Int.incr})\n"
                    "raise ArgumentError, 'late'";
  assert_int_equal(rt_sched_spawn(fx->h.s, "f2", src, strlen(src), "t.rb", NULL,
                                  NULL, 0, &f, &err),
                   0);
  rt_sched_run(fx->h.s);
  assert_int_equal(rt_fibril_state_get(f), RT_FIBRIL_FAILED);
  assert_string_equal(rt_fibril_error(f)->klass, "ArgumentError");
  assert_int_equal(json_array_size(fx->h.calls), 1);
  assert_string_equal(op_of(fx, 0), "fs.incr_many");
}

static void the_key_string_is_copied(void **state) {
  fixture *fx = *state;
  run(fx, "w = 'pi'\n fs.invoke(:w, {word: w, freq: Int.incr})\n"
          "w << 'zza'\n nil");
  assert_non_null(json_object_get(json_array_get(args_of(fx, 0), 2), "pi"));
}

static void outside_a_fibril_nothing_is_put_off(void **state) {
  fixture *fx = *state;
  json_t *out = NULL;
  rt_error err = {0};
  const char *src = "M31::FS.__combine(:w, {word: 'pi', freq: Int.incr})";
  assert_int_equal(rt_vm_eval(fx->vm, src, strlen(src), "e.rb", &out, &err), 0);
  assert_true(json_is_false(out));
  json_decref(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(increments_are_sent_once_at_the_end,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          a_message_or_another_call_applies_them_first, setup, teardown),
      cmocka_unit_test_setup_teardown(records_it_cannot_combine_go_one_by_one,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(flush_answers_the_records_written, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_raise_still_applies_them, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(the_key_string_is_copied, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(outside_a_fibril_nothing_is_put_off,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
