/*
 * test_runtime_session.c — sessions: VMs of their own inside a worker
 * ("run" frames naming a session). What one session defines stays for
 * its next fibrils and is not seen by another; dropping a session kills
 * its fibrils and forgets its VM; a session dies with its worker and is
 * reported lost. Every wait is bounded.
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

#include "runtime/runtime.h"

typedef struct seen {
  rt_event_kind kind;
  char id[RT_ID_MAX], klass[64], message[512], text[1024];
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
  if (e->kind == RT_EV_DONE) {
    char *t = json_dumps(e->result, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(s->text, sizeof s->text, "%s", t);
    free(t);
  }
  if (e->kind == RT_EV_CALL && strcmp(e->op, "big") == 0) {
    /* 4 MiB: far more than the socket holds while the worker is busy */
    char *text = malloc(4u << 20);
    memset(text, 'x', (4u << 20) - 1);
    text[(4u << 20) - 1] = '\0';
    json_t *v = json_string(text);
    assert_int_equal(rt_nucleus_answer(h->n, e->id, v), 0);
    json_decref(v);
    free(text);
  } else if (e->kind == RT_EV_CALL) { /* prints, parks: answer nil */
    assert_int_equal(rt_nucleus_answer(h->n, e->id, NULL), 0);
  }
}

/* Polls until an event of kind (not a call) names id, or 5 s. */
static seen *wait_for(host *h, const char *id, int lost) {
  for (int i = 0; i < 500; i++) {
    for (int k = 0; k < h->nev && k < 256; k++) {
      seen *s = &h->ev[k];
      if (s->kind == RT_EV_CALL || strcmp(s->id, id) != 0) continue;
      if (lost == (s->kind == RT_EV_SESSION_LOST)) return s;
    }
    assert_true(rt_nucleus_poll(h->n, 10) >= 0);
  }
  fail_msg("no event for %s", id);
  return NULL;
}

/* Evaluates code in session as the REPL does; returns its final event. */
static seen *eval(host *h, const char *session, const char *id,
                  const char *code) {
  json_t *args = json_pack("[s]", code);
  assert_int_equal(
      rt_nucleus_run_session(h->n, session, id, "__m31_repl", args, 0, 0, NULL),
      0);
  json_decref(args);
  return wait_for(h, id, 0);
}

static int setup(void **state) {
  host *h = calloc(1, sizeof *h);
  rt_nucleus_opts o = {.workers = 2};
  o.limits.fibril_cpu_ms = 300;
  h->n = rt_nucleus_new(&o, on_event, h);
  *state = h;
  return h->n ? 0 : -1;
}

/* One worker, so both fibrils share it. */
static int setup1(void **state) {
  host *h = calloc(1, sizeof *h);
  rt_nucleus_opts o = {.workers = 1};
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

static void definitions_stay_in_their_session(void **state) {
  host *h = *state;
  seen *s = eval(h, "s1", "e1", "a = 20\ndef twice(x) x * 2 end\n$g = 1");
  assert_int_equal(s->kind, RT_EV_DONE);
  s = eval(h, "s1", "e2", "twice(a) + 2");
  assert_int_equal(s->kind, RT_EV_DONE);
  assert_non_null(strstr(s->text, "\"value\":42"));
  s = eval(h, "s2", "e3", "twice(1)");
  assert_int_equal(s->kind, RT_EV_FAILED);
  assert_string_equal(s->klass, "NoMethodError");
  s = eval(h, "s2", "e4", "$g");
  assert_non_null(strstr(s->text, "\"value\":null"));
  s = eval(h, "s2", "e5", "a");
  assert_int_equal(s->kind, RT_EV_FAILED);
}

static void incomplete_input_runs_nothing(void **state) {
  host *h = *state;
  seen *s = eval(h, "s1", "e1", "def f(x)");
  assert_int_equal(s->kind, RT_EV_DONE);
  assert_string_equal(s->text, "{\"incomplete\":true}");
  s = eval(h, "s1", "e2", "x = 1\n)");
  assert_int_equal(s->kind, RT_EV_FAILED);
  assert_string_equal(s->klass, "SyntaxError");
  assert_non_null(strstr(s->message, "(repl):2:"));
}

static void a_dropped_session_starts_over(void **state) {
  host *h = *state;
  json_t *args = json_pack("[s]", "M31::Endpoint.new('x').recv");
  assert_int_equal(eval(h, "s1", "e1", "k = 5")->kind, RT_EV_DONE);
  /* a fibril of the session waits in a system call the host never... */
  assert_int_equal(
      rt_nucleus_run_session(h->n, "s1", "e2", "__m31_repl", args, 0, 0, NULL),
      0);
  json_decref(args);
  assert_int_equal(rt_nucleus_session_drop(h->n, "s1"), 0);
  seen *s = wait_for(h, "e2", 0);
  assert_int_equal(s->kind, RT_EV_KILLED);
  assert_string_equal(s->message, "session ended");
  assert_int_equal(rt_nucleus_session_drop(h->n, "s1"), -1);
  s = eval(h, "s1", "e3", "k");
  assert_int_equal(s->kind, RT_EV_FAILED); /* a new VM: k is gone */
}

static void a_session_is_lost_with_its_worker(void **state) {
  host *h = *state;
  assert_int_equal(eval(h, "s1", "e1", "k = 5")->kind, RT_EV_DONE);
  seen *s = eval(h, "s1", "e2", "loop {}");
  assert_int_equal(s->kind, RT_EV_KILLED);
  assert_string_equal(s->message, "cpu budget exceeded");
  wait_for(h, "s1", 1);
  assert_int_equal(eval(h, "s1", "e3", "k")->kind, RT_EV_FAILED);
}

/* The node never blocks writing to a worker: a large answer for one
 * fibril while another is in a long turn that ends in a large call of its
 * own once deadlocked the two (each blocked in write). */
static void large_frames_both_ways_do_not_deadlock(void **state) {
  host *h = *state;
  json_t *none = json_array();
  const char *waiter = "M31.call('big').size";
  const char *busy = "x = 0; 3_000_000.times { x += 1 }\n"
                     "M31.call('print', 'y' * 2_000_000); x";
  assert_int_equal(
      rt_nucleus_run(h->n, "w", waiter, "w.rb", NULL, none, 60000, 0), 0);
  assert_int_equal(
      rt_nucleus_run(h->n, "b", busy, "b.rb", NULL, none, 60000, 0), 0);
  seen *s = wait_for(h, "w", 0);
  assert_int_equal(s->kind, RT_EV_DONE);
  assert_string_equal(s->text, "4194303");
  s = wait_for(h, "b", 0);
  assert_int_equal(s->kind, RT_EV_DONE);
  json_decref(none);
}

int main(void) {
#if defined(__SANITIZE_ADDRESS__)
  printf("# skipped under ASan: workers run under seccomp\n");
  return 0;
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(definitions_stay_in_their_session, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(incomplete_input_runs_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_dropped_session_starts_over, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_session_is_lost_with_its_worker, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(large_frames_both_ways_do_not_deadlock,
                                      setup1, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
