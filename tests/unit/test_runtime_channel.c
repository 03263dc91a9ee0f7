/*
 * Unit tests for runtime/channel.c: types, sync and async sends, capacity,
 * clones, close and delete, timeouts from the timer thread, shutdown, and
 * many threads sending and receiving through waiters at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "runtime/channel.c"

#include <unistd.h>

/* A waiter's outcome, filled by its callback; `done` flips last. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  chan_code code;
  json_t *msg;
  uint64_t seq;
} outcome;

static void outcome_init(outcome *o) {
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
}

static void on_done(void *arg, chan_code code, json_t *msg, uint64_t seq) {
  outcome *o = arg;

  pthread_mutex_lock(&o->mu);
  o->code = code;
  o->msg = msg;
  o->seq = seq;
  o->done = 1;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

static void outcome_wait(outcome *o) {
  pthread_mutex_lock(&o->mu);
  while (!o->done)
    pthread_cond_wait(&o->cv, &o->mu);
  pthread_mutex_unlock(&o->mu);
}

static void outcome_free(outcome *o) {
  json_decref(o->msg);
  pthread_cond_destroy(&o->cv);
  pthread_mutex_destroy(&o->mu);
}

static json_t *J(const char *text) {
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(v);
  return v;
}

static int send_text(chan_hub *h, const char *id, const char *text,
                     chan_err *err) {
  json_t *v = J(text);
  uint64_t seq;
  int rc = chan_send(h, id, v, 0, on_done, NULL, &seq, err);
  json_decref(v);
  return rc;
}

static void test_types(void **state) {
  chan_err err;
  json_t *t;

  (void)state;
  t = J("\"Int\"");
  assert_int_equal(chan_type_check(t, &err), 0);
  json_t *i3 = json_integer(3), *f = json_real(1.5);
  assert_int_equal(chan_value_check(t, i3, &err), 0);
  json_decref(i3);
  assert_int_equal(chan_value_check(t, f, &err), -1);
  assert_string_equal(err.field, "value");
  json_decref(f);
  json_decref(t);
  t = J("\"Bytes\"");
  json_t *b = json_string("aGk="), *bad = json_string("a?");
  assert_int_equal(chan_value_check(t, b, &err), 0);
  assert_int_equal(chan_value_check(t, bad, &err), -1);
  json_decref(b);
  json_decref(bad);
  json_decref(t);
  t = J("{\"word\":\"String\",\"n\":\"Int\"}");
  assert_int_equal(chan_type_check(t, &err), 0);
  json_t *ok = J("{\"word\":\"pi\",\"n\":3}");
  json_t *wrong = J("{\"word\":\"pi\",\"n\":\"3\"}");
  json_t *missing = J("{\"word\":\"pi\"}");
  json_t *extra = J("{\"word\":\"pi\",\"n\":3,\"x\":1}");
  assert_int_equal(chan_value_check(t, ok, &err), 0);
  assert_int_equal(chan_value_check(t, wrong, &err), -1);
  assert_string_equal(err.field, "value.n");
  assert_int_equal(chan_value_check(t, missing, &err), -1);
  assert_string_equal(err.field, "value.n");
  assert_int_equal(chan_value_check(t, extra, &err), -1);
  assert_string_equal(err.field, "value.x");
  json_decref(ok);
  json_decref(wrong);
  json_decref(missing);
  json_decref(extra);
  json_decref(t);
  t = J("\"Integer\"");
  assert_int_equal(chan_type_check(t, &err), -1);
  assert_int_equal(err.code, CHAN_INVALID);
  json_decref(t);
  t = J("{\"a\":\"Nope\"}");
  assert_int_equal(chan_type_check(t, &err), -1);
  json_decref(t);
}

static void test_async_fifo_and_capacity(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Int\""), *out;
  chan_err err;
  uint64_t seq;

  (void)state;
  assert_int_equal(chan_create(h, t, 0, 2, s, r, &err), 0);
  assert_int_equal(send_text(h, s, "1", &err), CHAN_OK);
  assert_int_equal(send_text(h, s, "2", &err), CHAN_OK);
  assert_int_equal(send_text(h, s, "3", &err), -1);
  assert_int_equal(err.code, CHAN_FULL);
  assert_int_equal(send_text(h, s, "\"x\"", &err), -1);
  assert_int_equal(err.code, CHAN_INVALID);
  assert_int_equal(send_text(h, r, "1", &err), -1);
  assert_int_equal(err.code, CHAN_WRONG_END);
  for (int i = 1; i <= 2; i++) {
    assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err),
                     CHAN_OK);
    assert_int_equal(json_integer_value(out), i);
    assert_int_equal(seq, (uint64_t)i);
    json_decref(out);
  }
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_EMPTY);
  assert_int_equal(chan_recv(h, "t-0", 0, on_done, NULL, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_NOT_FOUND);
  assert_int_equal(chan_create(h, t, 0, 0, s, r, &err), -1);
  assert_string_equal(err.field, "capacity");
  assert_int_equal(chan_count(h), 1);
  json_decref(t);
  chan_hub_free(h);
}

static void test_sync_rendezvous(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Any\""), *v = J("[1,2]"), *out;
  outcome snd, rcv;
  chan_err err;
  uint64_t seq;

  (void)state;
  outcome_init(&snd);
  outcome_init(&rcv);
  assert_int_equal(chan_create(h, t, 1, 0, s, r, &err), 0);
  /* no receiver and no wait: refused, nothing queued */
  assert_int_equal(send_text(h, s, "1", &err), -1);
  assert_int_equal(err.code, CHAN_FULL);
  /* a waiting sender is taken by the next receiver */
  assert_int_equal(chan_send(h, s, v, 5, on_done, &snd, &seq, &err),
                   CHAN_PENDING);
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err),
                   CHAN_OK);
  assert_true(json_equal(out, v));
  json_decref(out);
  outcome_wait(&snd);
  assert_int_equal(snd.code, CHAN_OK);
  /* a waiting receiver is handed the next send */
  assert_int_equal(chan_recv(h, r, 5, on_done, &rcv, &out, &seq, &err),
                   CHAN_PENDING);
  assert_int_equal(send_text(h, s, "7", &err), CHAN_OK);
  outcome_wait(&rcv);
  assert_int_equal(rcv.code, CHAN_OK);
  assert_int_equal(json_integer_value(rcv.msg), 7);
  outcome_free(&snd);
  outcome_free(&rcv);
  json_decref(v);
  json_decref(t);
  chan_hub_free(h);
}

static void test_timeouts(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Int\""), *v = J("1"), *out;
  outcome snd, rcv;
  chan_err err;
  uint64_t seq;

  (void)state;
  outcome_init(&snd);
  outcome_init(&rcv);
  assert_int_equal(chan_create(h, t, 1, 0, s, r, &err), 0);
  assert_int_equal(chan_recv(h, r, 0.05, on_done, &rcv, &out, &seq, &err),
                   CHAN_PENDING);
  outcome_wait(&rcv);
  assert_int_equal(rcv.code, CHAN_EMPTY);
  assert_int_equal(chan_send(h, s, v, 0.05, on_done, &snd, &seq, &err),
                   CHAN_PENDING);
  outcome_wait(&snd);
  assert_int_equal(snd.code, CHAN_FULL);
  /* the timed-out sender left nothing behind */
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_EMPTY);
  outcome_free(&snd);
  outcome_free(&rcv);
  json_decref(v);
  json_decref(t);
  chan_hub_free(h);
}

static void test_clones_close_delete(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX], s2[CHAN_ID_MAX];
  json_t *t = J("\"Int\""), *out, *info;
  outcome rcv;
  chan_err err;
  uint64_t seq;

  (void)state;
  outcome_init(&rcv);
  assert_int_equal(chan_create(h, t, 0, 4, s, r, &err), 0);
  assert_int_equal(chan_clone(h, s, s2, &err), 0);
  assert_int_equal(chan_info(h, s2, &info, &err), 0);
  assert_string_equal(json_string_value(json_object_get(info, "end")), "send");
  assert_int_equal(json_array_size(json_object_get(info, "send")), 2);
  json_decref(info);
  assert_int_equal(send_text(h, s2, "5", &err), CHAN_OK);
  assert_int_equal(chan_close(h, s, &err), 0);
  assert_int_equal(send_text(h, s, "6", &err), -1);
  assert_int_equal(err.code, CHAN_CLOSED);
  /* one send end is still open: a receiver waits */
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err),
                   CHAN_OK);
  json_decref(out);
  assert_int_equal(chan_recv(h, r, 5, on_done, &rcv, &out, &seq, &err),
                   CHAN_PENDING);
  /* deleting the last send end ends the wait: closed */
  assert_int_equal(chan_delete(h, s2, &err), 0);
  outcome_wait(&rcv);
  assert_int_equal(rcv.code, CHAN_CLOSED);
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_CLOSED);
  assert_int_equal(chan_info(h, s2, &info, &err), -1);
  assert_int_equal(err.code, CHAN_NOT_FOUND);
  assert_int_equal(chan_delete(h, s, &err), 0);
  assert_int_equal(chan_count(h), 1);
  assert_int_equal(chan_delete(h, r, &err), 0);
  assert_int_equal(chan_count(h), 0);
  outcome_free(&rcv);
  json_decref(t);
  chan_hub_free(h);
}

static void test_drain_after_close_and_no_receiver(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Int\""), *out;
  chan_err err;
  uint64_t seq;

  (void)state;
  assert_int_equal(chan_create(h, t, 0, 4, s, r, &err), 0);
  assert_int_equal(send_text(h, s, "1", &err), CHAN_OK);
  assert_int_equal(chan_close(h, s, &err), 0);
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err),
                   CHAN_OK);
  json_decref(out);
  assert_int_equal(chan_recv(h, r, 0, on_done, NULL, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_CLOSED);
  assert_int_equal(chan_create(h, t, 0, 4, s, r, &err), 0);
  assert_int_equal(send_text(h, s, "1", &err), CHAN_OK);
  assert_int_equal(chan_close(h, r, &err), 0);
  assert_int_equal(send_text(h, s, "2", &err), -1);
  assert_int_equal(err.code, CHAN_CLOSED);
  json_decref(t);
  chan_hub_free(h); /* frees the channels left, and their queues */
}

static void test_list_and_shutdown(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Int\""), *items, *out;
  outcome rcv;
  chan_err err;
  uint64_t seq;
  int more;

  (void)state;
  outcome_init(&rcv);
  for (int i = 0; i < 3; i++)
    assert_int_equal(chan_create(h, t, 0, 1, s, r, &err), 0);
  assert_int_equal(chan_list(h, NULL, 2, &items, &more, &err), 0);
  assert_int_equal(json_array_size(items), 2);
  assert_true(more);
  char cursor[CHAN_ID_MAX];
  snprintf(
      cursor, sizeof cursor, "%s",
      json_string_value(json_object_get(json_array_get(items, 1), "channel")));
  json_decref(items);
  assert_int_equal(chan_list(h, cursor, 2, &items, &more, &err), 0);
  assert_int_equal(json_array_size(items), 1);
  assert_false(more);
  json_decref(items);
  assert_int_equal(chan_list(h, "zz", 2, &items, &more, &err), -1);
  assert_int_equal(err.code, CHAN_BAD_REQUEST);
  assert_int_equal(chan_recv(h, r, 30, on_done, &rcv, &out, &seq, &err),
                   CHAN_PENDING);
  chan_hub_shutdown(h);
  outcome_wait(&rcv);
  assert_int_equal(rcv.code, CHAN_STOPPING);
  assert_int_equal(chan_recv(h, r, 30, on_done, &rcv, &out, &seq, &err), -1);
  assert_int_equal(err.code, CHAN_STOPPING);
  outcome_free(&rcv);
  json_decref(t);
  chan_hub_free(h);
}

/* Many threads: senders with waits on a small async channel, receivers
 * with waits; every message arrives exactly once. */
#define NTHREADS 4
#define PER_THREAD 500

typedef struct {
  chan_hub *h;
  const char *id;
  int base;
  long sum;
} worker;

static void *sender_main(void *arg) {
  worker *w = arg;

  for (int i = 0; i < PER_THREAD; i++) {
    json_t *v = json_integer(w->base + i);
    outcome o;
    chan_err err;
    uint64_t seq;
    int rc;
    do {
      outcome_init(&o);
      rc = chan_send(w->h, w->id, v, 5, on_done, &o, &seq, &err);
      if (rc == CHAN_PENDING) {
        outcome_wait(&o);
        rc = o.code == CHAN_OK ? 0 : -1;
      }
      outcome_free(&o);
    } while (rc != 0);
    json_decref(v);
  }
  return NULL;
}

static void *receiver_main(void *arg) {
  worker *w = arg;

  for (int i = 0; i < PER_THREAD; i++) {
    json_t *out = NULL;
    outcome o;
    chan_err err;
    uint64_t seq;
    int rc;
    outcome_init(&o);
    rc = chan_recv(w->h, w->id, 5, on_done, &o, &out, &seq, &err);
    if (rc == CHAN_PENDING) {
      outcome_wait(&o);
      assert_int_equal(o.code, CHAN_OK);
      out = o.msg;
      o.msg = NULL;
    } else {
      assert_int_equal(rc, CHAN_OK);
    }
    w->sum += (long)json_integer_value(out);
    json_decref(out);
    outcome_free(&o);
  }
  return NULL;
}

static void test_threads(void **state) {
  chan_hub *h = chan_hub_new("t");
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *t = J("\"Int\"");
  pthread_t th[2 * NTHREADS];
  worker w[2 * NTHREADS];
  chan_err err;
  long want = 0, got = 0;

  (void)state;
  for (int sync = 0; sync <= 1; sync++) {
    assert_int_equal(chan_create(h, t, sync, sync ? 0 : 3, s, r, &err), 0);
    want = got = 0;
    for (int i = 0; i < NTHREADS; i++) {
      w[i] = (worker){h, s, i * 100000, 0};
      w[NTHREADS + i] = (worker){h, r, 0, 0};
      for (int j = 0; j < PER_THREAD; j++)
        want += i * 100000 + j;
    }
    for (int i = 0; i < NTHREADS; i++) {
      pthread_create(&th[i], NULL, sender_main, &w[i]);
      pthread_create(&th[NTHREADS + i], NULL, receiver_main, &w[NTHREADS + i]);
    }
    for (int i = 0; i < 2 * NTHREADS; i++)
      pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
      got += w[NTHREADS + i].sum;
    assert_int_equal(got, want);
  }
  json_decref(t);
  chan_hub_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_async_fifo_and_capacity),
      cmocka_unit_test(test_sync_rendezvous),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_clones_close_delete),
      cmocka_unit_test(test_drain_after_close_and_no_receiver),
      cmocka_unit_test(test_list_and_shutdown),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests_name("runtime_channel", tests, NULL, NULL);
}
