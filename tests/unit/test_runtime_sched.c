/*
 * test_runtime_sched.c — fibrils on one VM: many at once, system calls
 * answered now or later, failures, kills, budgets; a switch benchmark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime.h"

/* The host: answers "add" with the sum of its args, "fail" with a raise;
 * answers at once when sync, else queues the fibril for later. */
typedef struct host {
  rt_sched *s;
  int sync;
  rt_fibril *waiting[1024];
  json_t *answers[1024];
  int nwaiting;
  int calls;
  char printed[256];
} host;

static void on_call(void *ud, rt_fibril *f, const char *op, json_t *args) {
  host *h = ud;
  rt_error err = {0};
  h->calls++;
  if (strcmp(op, "fail") == 0) {
    assert_int_equal(rt_sched_raise(h->s, f, "KeyError", "no such key"), 0);
    return;
  }
  if (strcmp(op, "print") == 0) {
    strncat(h->printed, json_string_value(json_array_get(args, 0)),
            sizeof h->printed - strlen(h->printed) - 1);
    assert_int_equal(rt_sched_answer(h->s, f, NULL, &err), 0);
    return;
  }
  if (strcmp(op, "park") == 0) return; /* never answered */
  assert_string_equal(op, "add");
  json_int_t sum = 0;
  for (size_t i = 0; i < json_array_size(args); i++)
    sum += json_integer_value(json_array_get(args, i));
  json_t *v = json_integer(sum);
  if (h->sync) {
    assert_int_equal(rt_sched_answer(h->s, f, v, &err), 0);
    json_decref(v);
  } else {
    h->waiting[h->nwaiting] = f;
    h->answers[h->nwaiting++] = v;
  }
}

static void answer_all(host *h) {
  rt_error err = {0};
  int n = h->nwaiting;
  h->nwaiting = 0;
  for (int i = 0; i < n; i++) {
    assert_int_equal(rt_sched_answer(h->s, h->waiting[i], h->answers[i], &err),
                     0);
    json_decref(h->answers[i]);
  }
}

typedef struct fixture {
  rt_vm *vm;
  host h;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  fx->vm = rt_vm_new(64u << 20);
  fx->h.s = rt_sched_new(fx->vm, on_call, &fx->h);
  *state = fx;
  return fx->vm && fx->h.s ? 0 : -1;
}

static int teardown(void **state) {
  fixture *fx = *state;
  rt_sched_free(fx->h.s);
  rt_vm_free(fx->vm);
  free(fx);
  return 0;
}

static rt_fibril *spawn(fixture *fx, const char *id, const char *src,
                        const char *fn, json_t *args, uint64_t budget) {
  rt_fibril *f = NULL;
  rt_error err = {0};
  if (rt_sched_spawn(fx->h.s, id, src, strlen(src), "user.rb", fn, args, budget,
                     &f, &err) != 0)
    fail_msg("spawn %s: %s %s", id, err.klass, err.message);
  return f;
}

static void test_many_fibrils(void **state) {
  fixture *fx = *state;
  enum { N = 300 };
  rt_fibril *fs[N];
  const char *src = "t = 0\n"
                    "5.times { |k| t = M31.call('add', t, k + 1) }\n"
                    "t\n";
  for (int i = 0; i < N; i++) {
    char id[16];
    snprintf(id, sizeof id, "f-%d", i);
    fs[i] = spawn(fx, id, src, NULL, NULL, 0);
  }
  for (int round = 0; round < 5; round++) {
    assert_int_equal(rt_sched_run(fx->h.s), N);
    for (int i = 0; i < N; i++)
      assert_int_equal(rt_fibril_state_get(fs[i]), RT_FIBRIL_WAITING);
    answer_all(&fx->h);
  }
  assert_int_equal(rt_sched_run(fx->h.s), N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(rt_fibril_state_get(fs[i]), RT_FIBRIL_DONE);
    assert_int_equal(json_integer_value(rt_fibril_result(fs[i])), 15);
    assert_int_equal(rt_sched_reap(fx->h.s, fs[i]), 0);
  }
  assert_int_equal(fx->h.calls, 5 * N);
  assert_int_equal(rt_sched_count(fx->h.s), 0);
}

static void test_fn_and_args(void **state) {
  fixture *fx = *state;
  fx->h.sync = 1;
  json_t *args = json_pack("[i, s, {s: [f]}]", 2, "x", "k", 1.5);
  rt_fibril *f = spawn(fx, "fn",
                       "def go(n, s, h)\n"
                       "  [M31.call('add', n, 40), s * 2, h['k']]\n"
                       "end\n",
                       "go", args, 0);
  json_decref(args);
  rt_sched_run(fx->h.s);
  assert_int_equal(rt_fibril_state_get(f), RT_FIBRIL_DONE);
  char *r = json_dumps(rt_fibril_result(f), JSON_COMPACT);
  assert_string_equal(r, "[42,\"xx\",[1.5]]");
  free(r);
}

static void test_failure(void **state) {
  fixture *fx = *state;
  fx->h.sync = 1;
  rt_fibril *f = spawn(fx, "bad",
                       "M31.call('add', 1)\n"
                       "def boom\n"
                       "  raise ArgumentError, 'bad input'\n"
                       "end\n"
                       "boom\n",
                       NULL, NULL, 0);
  rt_sched_run(fx->h.s);
  assert_int_equal(rt_fibril_state_get(f), RT_FIBRIL_FAILED);
  assert_string_equal(rt_fibril_state_name(RT_FIBRIL_FAILED), "failed");
  const rt_error *e = rt_fibril_error(f);
  assert_string_equal(e->klass, "ArgumentError");
  assert_string_equal(e->message, "bad input");
  assert_non_null(
      strstr(json_string_value(json_array_get(e->backtrace, 0)), "user.rb:3"));
  json_t *j = rt_error_json(e);
  assert_string_equal(json_string_value(json_object_get(j, "class")),
                      "ArgumentError");
  json_decref(j);
}

static void test_syscall_raises(void **state) {
  fixture *fx = *state;
  fx->h.sync = 1;
  rt_fibril *f = spawn(fx, "r",
                       "begin\n  M31.call('fail')\n"
                       "rescue KeyError => e\n  \"rescued #{e.message}\"\nend",
                       NULL, NULL, 0);
  rt_fibril *g = spawn(fx, "r2", "M31.call('fail')", NULL, NULL, 0);
  rt_sched_run(fx->h.s);
  assert_string_equal(json_string_value(rt_fibril_result(f)),
                      "rescued no such key");
  assert_int_equal(rt_fibril_state_get(g), RT_FIBRIL_FAILED);
  assert_string_equal(rt_fibril_error(g)->klass, "KeyError");
  /* the backtrace names the prelude by its pseudo-path */
  char *bt = json_dumps(rt_fibril_error(g)->backtrace, 0);
  assert_non_null(strstr(bt, "<m31>/prelude/sys.rb"));
  free(bt);
}

static void test_print_and_misuse(void **state) {
  fixture *fx = *state;
  fx->h.sync = 1;
  rt_fibril *p =
      spawn(fx, "p", "puts 'hello', 1; print 'a', 'b'; p :x; 7", NULL, NULL, 0);
  rt_fibril *y = spawn(fx, "y", "Fiber.yield 5", NULL, NULL, 0);
  rt_fibril *r = spawn(fx, "res", "1..2", NULL, NULL, 0);
  rt_fibril *a =
      spawn(fx, "args", "M31.call('add', Object.new)", NULL, NULL, 0);
  rt_fibril *n = spawn(fx, "nest", "Fiber.new { M31.call('add', 1) }.resume",
                       NULL, NULL, 0);
  rt_error err = {0};
  rt_fibril *dup = NULL;
  assert_int_equal(
      rt_sched_spawn(fx->h.s, "p", "1", 1, "x.rb", NULL, NULL, 0, &dup, &err),
      -1);
  assert_int_equal(rt_sched_spawn(fx->h.s, "syn", "def (", 5, "x.rb", NULL,
                                  NULL, 0, &dup, &err),
                   -1);
  assert_string_equal(err.klass, "SyntaxError");
  assert_non_null(strstr(err.message, "x.rb:1:"));
  rt_error_clear(&err);
  rt_sched_run(fx->h.s);
  assert_string_equal(fx->h.printed, "hello\n1\nab:x\n");
  assert_int_equal(json_integer_value(rt_fibril_result(p)), 7);
  assert_string_equal(rt_fibril_error(y)->klass, "FiberError");
  assert_string_equal(rt_fibril_error(r)->klass, "TypeError");
  assert_string_equal(rt_fibril_error(a)->klass, "TypeError");
  /* a call from a nested fiber yields to that fiber's resumer, not to C */
  assert_int_equal(rt_fibril_state_get(n), RT_FIBRIL_DONE);
}

static void test_kill_and_budget(void **state) {
  fixture *fx = *state;
  fx->h.sync = 1;
  rt_fibril *w = spawn(fx, "w", "M31.call('park')", NULL, NULL, 0);
  rt_fibril *b = spawn(fx, "b",
                       "loop { x = 0; 200_000.times { x += 1 }; "
                       "M31.call('add', 1) }",
                       NULL, NULL, 5 * 1000 * 1000);
  rt_sched_run(fx->h.s);
  assert_int_equal(rt_fibril_state_get(w), RT_FIBRIL_WAITING);
  assert_int_equal(rt_sched_kill(fx->h.s, w, "user asked"), 0);
  assert_int_equal(rt_fibril_state_get(w), RT_FIBRIL_KILLED);
  assert_string_equal(rt_fibril_error(w)->message, "user asked");
  assert_int_equal(rt_fibril_state_get(b), RT_FIBRIL_KILLED);
  assert_string_equal(rt_fibril_error(b)->message, "cpu budget exceeded");
  assert_true(rt_fibril_cpu_ns(b) > 5 * 1000 * 1000);
}

static void test_switch_benchmark(void **state) {
  fixture *fx = *state;
  enum { N = 200000 };
  fx->h.sync = 1;
  char src[256];
  rt_error err = {0};
  json_t *out = NULL;
  snprintf(src, sizeof src,
           "def f(a, b) a + b end; t = 0; %d.times { |i| t = f(t, 1) }; t", N);
  uint64_t t0 = 0, t1, t2;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  t0 = ts.tv_sec * 1000000000ull + ts.tv_nsec;
  assert_int_equal(rt_vm_eval(fx->vm, src, strlen(src), "b.rb", &out, &err), 0);
  json_decref(out);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  t1 = ts.tv_sec * 1000000000ull + ts.tv_nsec;
  snprintf(src, sizeof src,
           "t = 0; %d.times { |i| t = M31.call('add', t, 1) }; t", N);
  rt_fibril *f = spawn(fx, "bench", src, NULL, NULL, 0);
  rt_sched_run(fx->h.s);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  t2 = ts.tv_sec * 1000000000ull + ts.tv_nsec;
  assert_int_equal(json_integer_value(rt_fibril_result(f)), N);
  double call = (double)(t1 - t0) / N, sw = (double)(t2 - t1) / N;
  printf("# method call %.0f ns; fibril system call round trip (yield, "
         "C, JSON both ways, resume) %.0f ns; ratio %.1f\n",
         call, sw, sw / call);
}

/* ------------------------------------------------------ M31.ctx per fibril */

static json_t *eval_json(rt_vm *vm, const char *src) {
  rt_error err = {0};
  json_t *out = NULL;
  if (rt_vm_eval(vm, src, strlen(src), "ctx.rb", &out, &err) != 0)
    fail_msg("%s: %s %s", src, err.klass, err.message);
  return out;
}

static void assert_result(rt_fibril *f, const char *text) {
  json_error_t je;
  json_t *want = json_loads(text, JSON_DECODE_ANY, &je);
  if (rt_fibril_state_get(f) != RT_FIBRIL_DONE)
    fail_msg("%s is %s: %s %s", rt_fibril_id(f),
             rt_fibril_state_name(rt_fibril_state_get(f)),
             rt_fibril_error(f) ? rt_fibril_error(f)->klass : "",
             rt_fibril_error(f) ? rt_fibril_error(f)->message : "");
  if (!json_equal(rt_fibril_result(f), want)) {
    char *got = json_dumps(rt_fibril_result(f), JSON_ENCODE_ANY);
    fail_msg("%s answered %s, want %s", rt_fibril_id(f), got, text);
  }
  json_decref(want);
}

static void test_ctx_visible_in_turn_only(void **state) {
  fixture *fx = *state;
  rt_error err = {0};
  json_t *v, *out;
  fx->h.sync = 0;
  out = eval_json(fx->vm, "M31.ctx");
  assert_true(json_is_null(out));
  json_decref(out);
  /* two fibrils, each its own ctx, read before and after a yield */
  const char *src = "a = M31.ctx['key']\n"
                    "M31.call('add', 1)\n"
                    "[a, M31.ctx['key'], M31.ctx['id'], M31.ctx.class.to_s]\n";
  rt_fibril *f = spawn(fx, "ctx-a", src, NULL, NULL, 0);
  rt_fibril *g = spawn(fx, "ctx-b", src, NULL, NULL, 0);
  assert_int_equal(
      rt_fibril_ctx_set(fx->h.s, f, "key", v = json_string("A"), &err), 0);
  json_decref(v);
  v = json_pack("{s:[i, s]}", "deep", 1, "x");
  assert_int_equal(rt_fibril_ctx_set(fx->h.s, g, "key", v, &err), 0);
  json_decref(v);
  assert_int_equal(rt_sched_run(fx->h.s), 2);
  assert_int_equal(rt_fibril_state_get(f), RT_FIBRIL_WAITING);
  /* between turns (both wait): nil at the top level */
  out = eval_json(fx->vm, "M31.ctx.inspect");
  assert_string_equal(json_string_value(out), "nil");
  json_decref(out);
  /* a change while it waits is seen at its next turn */
  assert_int_equal(
      rt_fibril_ctx_set(fx->h.s, f, "key", v = json_string("A2"), &err), 0);
  json_decref(v);
  answer_all(&fx->h);
  rt_sched_run(fx->h.s);
  assert_result(f, "[\"A\", \"A2\", \"ctx-a\", \"Hash\"]");
  assert_result(g, "[{\"deep\": [1, \"x\"]}, {\"deep\": [1, \"x\"]}, "
                   "\"ctx-b\", \"Hash\"]");
  out = eval_json(fx->vm, "M31.ctx");
  assert_true(json_is_null(out));
  json_decref(out);
  /* a finished fibril takes no more */
  assert_int_equal(
      rt_fibril_ctx_set(fx->h.s, f, "key", v = json_string("B"), &err), -1);
  json_decref(v);
  assert_true(err.klass[0] != '\0');
  rt_error_clear(&err);
}

static void test_ctx_bad_value_and_parent(void **state) {
  fixture *fx = *state;
  rt_error err = {0};
  json_t *v, *deep = json_array(), *j = deep;
  fx->h.sync = 1;
  rt_fibril *f = spawn(fx, "ctx-p",
                       "p = PARENT\n"
                       "[p.class.to_s, p.tx.id, p.rx.id, sys.id, "
                       "M31.ctx['n'], p.equal?(PARENT)]\n",
                       NULL, NULL, 0);
  rt_fibril *g = spawn(fx, "ctx-np", "[PARENT, M31.ctx['n']]", NULL, NULL, 0);
  /* a value that does not convert: -1, and the context keeps the rest */
  for (int i = 0; i < RT_JSON_DEPTH_MAX + 5; i++) {
    json_t *k = json_array();
    json_array_append_new(j, k);
    j = k;
  }
  assert_int_equal(rt_fibril_ctx_set(fx->h.s, f, "n", deep, &err), -1);
  assert_string_equal(err.klass, "TypeError");
  rt_error_clear(&err);
  json_decref(deep);
  v = json_pack("{s:s, s:s}", "send", "n-s", "recv", "n-r");
  assert_int_equal(rt_fibril_ctx_set(fx->h.s, f, "parent", v, &err), 0);
  json_decref(v);
  rt_sched_run(fx->h.s);
  assert_result(f, "[\"M31::Pair\", \"n-s\", \"n-r\", \"ctx-p\", null, true]");
  assert_result(g, "[null, null]");
  /* PARENT outside a fibril is a NameError */
  json_t *out = NULL;
  assert_int_equal(rt_vm_eval(fx->vm, "PARENT", 6, "t.rb", &out, &err), -1);
  assert_string_equal(err.klass, "NameError");
  rt_error_clear(&err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_many_fibrils, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fn_and_args, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_syscall_raises, setup, teardown),
      cmocka_unit_test_setup_teardown(test_print_and_misuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill_and_budget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_switch_benchmark, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ctx_visible_in_turn_only, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ctx_bad_value_and_parent, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
