/*
 * test_runtime_nucleus.c — workers as processes: results, system calls
 * over the pipe, the sandbox in place, a runaway turn killed, a crashed
 * worker replaced. Every wait is bounded. Not run under ASan (the workers
 * run under seccomp, which ASan's runtime does not survive).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"

typedef struct seen {
  rt_event_kind kind;
  char id[RT_ID_MAX], klass[64], message[512], text[512];
} seen;

typedef struct host {
  rt_nucleus *n;
  seen ev[256];
  int nev;
} host;

static void on_event(void *ud, const rt_event *e) {
  host *h = ud;
  seen *s = &h->ev[h->nev++ % 256];
  memset(s, 0, sizeof *s);
  s->kind = e->kind;
  snprintf(s->id, sizeof s->id, "%s", e->id);
  if (e->error) {
    snprintf(s->klass, sizeof s->klass, "%s", e->error->klass);
    snprintf(s->message, sizeof s->message, "%s", e->error->message);
  }
  if (e->kind == RT_EV_DONE || e->kind == RT_EV_CALL) {
    char *t = json_dumps(e->kind == RT_EV_DONE ? e->result : e->args,
                         JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(s->text, sizeof s->text, "%s", t);
    free(t);
  }
  if (e->kind != RT_EV_CALL) return;
  if (strcmp(e->op, "add") == 0) {
    json_int_t sum = 0;
    for (size_t i = 0; i < json_array_size(e->args); i++)
      sum += json_integer_value(json_array_get(e->args, i));
    json_t *v = json_integer(sum);
    assert_int_equal(rt_nucleus_answer(h->n, e->id, v), 0);
    json_decref(v);
  } else if (strcmp(e->op, "fail") == 0) {
    assert_int_equal(rt_nucleus_raise(h->n, e->id, "KeyError", "nope"), 0);
  } /* "park": never answered */
}

/* Polls until fibril id has ended (or 5 s); returns its final event. */
static seen *wait_end(host *h, const char *id) {
  for (int i = 0; i < 500; i++) {
    for (int k = 0; k < h->nev && k < 256; k++)
      if (h->ev[k].kind != RT_EV_CALL && strcmp(h->ev[k].id, id) == 0)
        return &h->ev[k];
    assert_true(rt_nucleus_poll(h->n, 10) >= 0);
  }
  fail_msg("fibril %s did not end", id);
  return NULL;
}

static int setup(void **state) {
  host *h = calloc(1, sizeof *h);
  rt_nucleus_opts o = {.workers = 2};
  o.limits.fibril_cpu_ms = 300;
  h->n = rt_nucleus_new(&o, on_event, h);
  *state = h;
  return h->n ? 0 : -1;
}

static int teardown(void **state) {
  host *h = *state;
  rt_nucleus_free(h->n);
  free(h);
  return 0;
}

static void test_results(void **state) {
  host *h = *state;
  json_t *args = json_pack("[i, i]", 20, 22);
  assert_int_equal(rt_nucleus_run(h->n, "a", "[1, 'two', 3.5, nil]", "a.rb",
                                  NULL, NULL, 0, 0),
                   0);
  assert_int_equal(rt_nucleus_run(h->n, "b", "def add2(x, y) x + y end", "b.rb",
                                  "add2", args, 0, 0),
                   0);
  assert_int_equal(rt_nucleus_run(h->n, "c", "\n raise IndexError, 'far'",
                                  "c.rb", NULL, NULL, 0, 0),
                   0);
  assert_int_equal(rt_nucleus_run(h->n, "a", "1", "x.rb", NULL, NULL, 0, 0),
                   -1);
  json_decref(args);
  assert_string_equal(wait_end(h, "a")->text, "[1,\"two\",3.5,null]");
  assert_string_equal(wait_end(h, "b")->text, "42");
  seen *c = wait_end(h, "c");
  assert_int_equal(c->kind, RT_EV_FAILED);
  assert_string_equal(c->klass, "IndexError");
  assert_string_equal(c->message, "far");
  assert_int_equal(rt_nucleus_inflight(h->n), 0);
}

static void test_system_calls(void **state) {
  host *h = *state;
  const char *src = "x = M31.call('add', 1, 2) + M31.call('add', 30)\n"
                    "begin; M31.call('fail'); rescue KeyError => e; end\n"
                    "[x, e.message]";
  assert_int_equal(rt_nucleus_run(h->n, "s", src, "s.rb", NULL, NULL, 0, 0), 0);
  assert_string_equal(wait_end(h, "s")->text, "[33,\"nope\"]");
  int calls = 0;
  for (int k = 0; k < h->nev; k++)
    calls += h->ev[k].kind == RT_EV_CALL;
  assert_int_equal(calls, 3);
}

static void test_sandboxed(void **state) {
  host *h = *state;
  char path[64], line[256];
  int seccomp = -1, nproc0 = 0;
  snprintf(path, sizeof path, "/proc/%d/status",
           rt_nucleus_worker_pid(h->n, 0));
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Seccomp: %d", &seccomp) == 1) break;
  fclose(f);
  assert_int_equal(seccomp, 2); /* filter mode */
  snprintf(path, sizeof path, "/proc/%d/limits",
           rt_nucleus_worker_pid(h->n, 0));
  f = fopen(path, "r");
  assert_non_null(f);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "Max processes", 13) == 0)
      nproc0 = strstr(line, " 0 ") != NULL;
  fclose(f);
  assert_true(nproc0);
  /* the VM inside has no way out either */
  assert_int_equal(
      rt_nucleus_run(h->n, "io", "IO.popen('id')", "io.rb", NULL, NULL, 0, 0),
      0);
  assert_string_equal(wait_end(h, "io")->klass, "NameError");
}

static void test_runaway_killed(void **state) {
  host *h = *state;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* a parked fibril on each worker: one shares the runaway's worker */
  assert_int_equal(
      rt_nucleus_run(h->n, "p0", "M31.call('park')", "p.rb", NULL, NULL, 0, 0),
      0);
  assert_int_equal(
      rt_nucleus_run(h->n, "p1", "M31.call('park')", "p.rb", NULL, NULL, 0, 0),
      0);
  rt_nucleus_poll(h->n, 50);
  assert_int_equal(
      rt_nucleus_run(h->n, "spin", "loop {}", "spin.rb", NULL, NULL, 200, 0),
      0);
  seen *s = wait_end(h, "spin");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(s->kind, RT_EV_KILLED);
  assert_string_equal(s->message, "cpu budget exceeded");
  double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("# loop {} with a 200 ms budget killed after %.2f s\n", secs);
  assert_true(secs < 3.0);
  /* the parked fibril that shared its worker failed with the worker */
  int died = 0;
  for (int k = 0; k < h->nev; k++)
    died += h->ev[k].kind == RT_EV_FAILED &&
            strcmp(h->ev[k].klass, "WorkerDied") == 0;
  assert_int_equal(died, 1);
  assert_int_equal(
      rt_nucleus_run(h->n, "after", "6 * 7", "a.rb", NULL, NULL, 0, 0), 0);
  assert_string_equal(wait_end(h, "after")->text, "42");
}

static void test_crash_restart(void **state) {
  host *h = *state;
  pid_t old0 = rt_nucleus_worker_pid(h->n, 0),
        old1 = rt_nucleus_worker_pid(h->n, 1);
  assert_int_equal(
      rt_nucleus_run(h->n, "w0", "M31.call('park')", "p.rb", NULL, NULL, 0, 0),
      0);
  assert_int_equal(
      rt_nucleus_run(h->n, "w1", "M31.call('park')", "p.rb", NULL, NULL, 0, 0),
      0);
  rt_nucleus_poll(h->n, 50);
  assert_int_equal(kill(old0, SIGSEGV), 0);
  assert_int_equal(kill(old1, SIGSEGV), 0);
  seen *a = wait_end(h, "w0"), *b = wait_end(h, "w1");
  assert_int_equal(a->kind, RT_EV_FAILED);
  assert_string_equal(a->klass, "WorkerDied");
  if (!strstr(a->message, "signal 11")) fail_msg("reason: %s", a->message);
  assert_int_equal(b->kind, RT_EV_FAILED);
  assert_true(rt_nucleus_worker_pid(h->n, 0) > 0);
  assert_true(rt_nucleus_worker_pid(h->n, 0) != old0);
  assert_true(rt_nucleus_worker_pid(h->n, 1) != old1);
  assert_int_equal(
      rt_nucleus_run(h->n, "next", "'served'", "n.rb", NULL, NULL, 0, 0), 0);
  assert_string_equal(wait_end(h, "next")->text, "\"served\"");
}

int main(void) {
#if defined(__SANITIZE_ADDRESS__)
  printf("# skipped under ASan: workers run under seccomp\n");
  return 0;
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_results, setup, teardown),
      cmocka_unit_test_setup_teardown(test_system_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sandboxed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_runaway_killed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_restart, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
