/*
 * test_runtime_zygote.c — workers forked by the zygote: the handoff of
 * the worker's socket (SCM_RIGHTS), the frame protocol over it, reaping
 * through the zygote, and a nucleus that restarts a dead worker from the
 * zygote while this process has other threads. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"

static void test_handoff(void **state) {
  rt_zygote *z = rt_zygote_new(2, NULL);
  pid_t pid = -1;
  int fd = -1, status = 0;
  json_t *m = NULL;
  (void)state;
  assert_non_null(z);
  assert_int_equal(rt_zygote_slots(z), 2);
  assert_non_null(rt_zygote_board(z, 1));
  assert_null(rt_zygote_board(z, 2));
  assert_int_equal(rt_zygote_spawn(z, 0, &pid, &fd), 0);
  assert_true(pid > 0 && fd >= 0);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  /* the worker is the zygote's child, not ours */
  assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
  assert_int_equal(rt_frame_read(fd, &m), 0);
  assert_string_equal(json_string_value(json_object_get(m, "t")), "hello");
  assert_int_equal(json_integer_value(json_object_get(m, "pid")), pid);
  json_decref(m);
  json_t *run = json_pack("{s:s, s:s, s:s, s:s, s:n, s:[ii], s:i}", "t", "run",
                          "id", "f1", "code", "def m(a, b) a * b end", "path",
                          "t.rb", "fn", "args", 6, 7, "cpu_ms", 0);
  json_object_set_new(run, "fn", json_string("m"));
  assert_int_equal(rt_frame_write(fd, run), 0);
  json_decref(run);
  assert_int_equal(rt_frame_read(fd, &m), 0);
  assert_string_equal(json_string_value(json_object_get(m, "t")), "done");
  assert_int_equal(json_integer_value(json_object_get(m, "result")), 42);
  json_decref(m);
  /* code named by its fingerprint is compiled once per worker */
  const char *src = "def sq(x) x * x end";
  char fp[RT_FP_LEN];
  json_int_t compiles[3];
  rt_code_fingerprint(src, strlen(src), fp);
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "sq%d", i);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[i], s:i}", "t", "run",
                          "id", id, "code", i < 2 ? src : "def sq(x) x end",
                          "path", fp, "fn", "sq", "args", i + 2, "cpu_ms", 0);
    if (i == 2) { /* other code: its own fingerprint */
      char fp2[RT_FP_LEN];
      rt_code_fingerprint("def sq(x) x end", 15, fp2);
      json_object_set_new(r, "path", json_string(fp2));
    }
    assert_int_equal(rt_frame_write(fd, r), 0);
    json_decref(r);
    assert_int_equal(rt_frame_read(fd, &m), 0);
    assert_string_equal(json_string_value(json_object_get(m, "t")), "done");
    assert_int_equal(json_integer_value(json_object_get(m, "result")),
                     i < 2 ? (i + 2) * (i + 2) : 4);
    compiles[i] = json_integer_value(json_object_get(m, "compiles"));
    json_decref(m);
  }
  assert_int_equal(compiles[1], compiles[0]);
  assert_int_equal(compiles[2], compiles[1] + 1);
  /* a check compiles without running */
  json_t *chk = json_pack("{s:s, s:s, s:s, s:s}", "t", "check", "id", "c1",
                          "code", "def (", "path", "bad.rb");
  assert_int_equal(rt_frame_write(fd, chk), 0);
  json_decref(chk);
  assert_int_equal(rt_frame_read(fd, &m), 0);
  assert_string_equal(json_string_value(json_object_get(m, "t")), "checked");
  json_t *err = json_object_get(m, "error");
  assert_string_equal(json_string_value(json_object_get(err, "class")),
                      "SyntaxError");
  assert_non_null(
      strstr(json_string_value(json_object_get(err, "message")), "bad.rb:1"));
  json_decref(m);
  /* reaped through the zygote, with its real status */
  kill(pid, SIGSEGV);
  assert_int_equal(rt_zygote_wait(z, pid, &status), 0);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSEGV);
  close(fd);
  assert_int_equal(rt_zygote_spawn(z, 9, &pid, &fd), -1);
  rt_zygote_free(z);
}

static void *idle(void *arg) {
  (void)arg;
  pause();
  return NULL;
}

typedef struct host {
  rt_nucleus *n;
  char last[RT_ID_MAX], klass[64];
  rt_event_kind kind;
  int ended;
} host;

static void on_event(void *ud, const rt_event *e) {
  host *h = ud;
  if (e->kind == RT_EV_CALL) return;
  h->ended++;
  h->kind = e->kind;
  snprintf(h->last, sizeof h->last, "%s", e->id);
  snprintf(h->klass, sizeof h->klass, "%s", e->error ? e->error->klass : "");
}

static void wait_ended(host *h, int n) {
  for (int i = 0; i < 500 && h->ended < n; i++)
    assert_true(rt_nucleus_poll(h->n, 10) >= 0);
  assert_int_equal(h->ended, n);
}

/* The nucleus restarts workers from the zygote while threads run here. */
static void test_nucleus_restart(void **state) {
  rt_zygote *z = rt_zygote_new(1, NULL);
  host h = {0};
  rt_nucleus_opts o = {.zygote = z};
  pthread_t th;
  (void)state;
  assert_non_null(z);
  assert_int_equal(pthread_create(&th, NULL, idle, NULL), 0);
  h.n = rt_nucleus_new(&o, on_event, &h);
  assert_non_null(h.n);
  pid_t w0 = rt_nucleus_worker_pid(h.n, 0);
  assert_int_equal(
      rt_nucleus_run(h.n, "spin", "loop {}", "s.rb", NULL, NULL, 60000, 0), 0);
  usleep(100000);
  kill(w0, SIGSEGV);
  wait_ended(&h, 1);
  assert_string_equal(h.last, "spin");
  assert_int_equal(h.kind, RT_EV_FAILED);
  assert_string_equal(h.klass, "WorkerDied");
  assert_true(rt_nucleus_worker_pid(h.n, 0) > 0);
  assert_true(rt_nucleus_worker_pid(h.n, 0) != w0);
  assert_int_equal(rt_nucleus_run(h.n, "ok", "1", "o.rb", NULL, NULL, 0, 0), 0);
  wait_ended(&h, 2);
  assert_int_equal(h.kind, RT_EV_DONE);
  /* a kill of a fibril in its turn ends (and replaces) its worker */
  pid_t w1 = rt_nucleus_worker_pid(h.n, 0);
  assert_int_equal(
      rt_nucleus_run(h.n, "spin2", "loop {}", "s.rb", NULL, NULL, 60000, 0), 0);
  usleep(100000);
  assert_true(rt_nucleus_poll(h.n, 0) >= 0);
  assert_int_equal(rt_nucleus_kill(h.n, "spin2", "killed by test"), 0);
  assert_int_equal(h.ended, 3);
  assert_int_equal(h.kind, RT_EV_KILLED);
  assert_true(rt_nucleus_worker_pid(h.n, 0) != w1);
  assert_int_equal(rt_nucleus_kill(h.n, "nosuch", NULL), -1);
  rt_nucleus_free(h.n);
  rt_zygote_free(z);
  pthread_cancel(th);
  pthread_join(th, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handoff),
      cmocka_unit_test(test_nucleus_restart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
