/*
 * Unit tests for resources/fibril_sys.c: the channel system calls of
 * fibrils (fsys_chan_call) against a real hub, and the endpoints a fibril
 * holds (fsys_hold, fsys_release). Every answer is counted: a call must
 * answer exactly once, at once or later from another thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resources/resources.h"

/* The answers one call gave: how many, the last one, and its thread. */
typedef struct answer {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count;
  json_t *value;
  pthread_t thread;
} answer;

#define ANSWER_INIT                                                            \
  { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, 0 }

static void answered(void *ud, json_t *value) {
  answer *a = ud;
  pthread_mutex_lock(&a->mu);
  a->count++;
  json_decref(a->value);
  a->value = value;
  a->thread = pthread_self();
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

static int count_of(answer *a) {
  int n;
  pthread_mutex_lock(&a->mu);
  n = a->count;
  pthread_mutex_unlock(&a->mu);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits (at most secs) for a's first answer; fails the test on timeout. */
static json_t *await_answer(answer *a, double secs) {
  struct timespec end;
  clock_gettime(CLOCK_REALTIME, &end);
  end.tv_sec += (time_t)secs;
  end.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
  if (end.tv_nsec >= 1000000000L) end.tv_sec++, end.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&a->mu);
  while (a->count == 0)
    if (pthread_cond_timedwait(&a->cv, &a->mu, &end) != 0) break;
  pthread_mutex_unlock(&a->mu);
  if (count_of(a) == 0) fail_msg("no answer within %.1f s", secs);
  return a->value;
}

static void answer_clear(answer *a) {
  json_decref(a->value);
  a->value = NULL;
  a->count = 0;
}

static json_t *J(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
  if (!j) fail_msg("bad test JSON %s: %s", text, e.text);
  return j;
}

/* Starts op with args (JSON text) into a; a is not awaited. */
static void start(chan_hub *h, const char *op, const char *args, answer *a) {
  json_t *j = J(args);
  fsys_chan_call(h, NULL, op, j, answered, a);
  json_decref(j);
}

/* Runs op with args and returns its answer (new), which must come at once
 * and exactly once. */
static json_t *call(chan_hub *h, const char *op, const char *args) {
  answer a = ANSWER_INIT;
  json_t *v;
  start(h, op, args, &a);
  if (a.count != 1)
    fail_msg("%s %s answered %d times at once", op, args, a.count);
  v = a.value;
  a.value = NULL;
  return v;
}

static void assert_json(const json_t *v, const char *text) {
  json_t *want = J(text);
  if (!json_equal(v, want)) {
    char *got = json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fail_msg("got %s, want %s", got, text);
  }
  json_decref(want);
}

/* Asserts v is {"error": {"code": code, ...}} (field too when not NULL). */
static void assert_error(const json_t *v, const char *code, const char *field) {
  json_t *e = json_object_get(v, "error");
  if (!json_is_object(e)) {
    char *got = json_dumps(v, JSON_ENCODE_ANY);
    fail_msg("not an error: %s (want %s)", got, code);
  }
  assert_string_equal(json_string_value(json_object_get(e, "code")), code);
  assert_true(json_is_string(json_object_get(e, "message")));
  assert_true(json_is_string(json_object_get(e, "field")));
  if (field)
    assert_string_equal(json_string_value(json_object_get(e, "field")), field);
}

/* A new channel: its two ends into s and r. */
static void make(chan_hub *h, const char *spec, char s[CHAN_ID_MAX],
                 char r[CHAN_ID_MAX]) {
  json_t *v = call(h, "new", spec);
  const char *ss = json_string_value(json_object_get(v, "send"));
  const char *rr = json_string_value(json_object_get(v, "recv"));
  if (!ss || !rr) fail_msg("new %s: no ends", spec);
  assert_int_equal(json_object_size(v), 2);
  snprintf(s, CHAN_ID_MAX, "%s", ss);
  snprintf(r, CHAN_ID_MAX, "%s", rr);
  json_decref(v);
}

static json_t *info(chan_hub *h, const char *id) {
  char args[256];
  snprintf(args, sizeof args, "[\"%s\"]", id);
  json_t *v = call(h, "info", args), *i = json_object_get(v, "info");
  if (!i) fail_msg("info %s: %s", id, json_dumps(v, 0));
  json_incref(i);
  json_decref(v);
  return i;
}

static json_int_t queued(chan_hub *h, const char *id) {
  json_t *i = info(h, id);
  json_int_t n = json_integer_value(json_object_get(i, "queued"));
  json_decref(i);
  return n;
}

/* printf into a static buffer, for building args. */
static const char *A(const char *fmt, ...) {
  static char buf[4][512];
  static int k;
  va_list ap;
  char *b = buf[k++ % 4];
  va_start(ap, fmt);
  vsnprintf(b, 512, fmt, ap);
  va_end(ap);
  return b;
}

static int setup(void **state) {
  *state = chan_hub_new("t");
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  chan_hub_shutdown(*state);
  chan_hub_free(*state);
  fsys_free();
  return 0;
}

static void test_new_send_recv_info(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *v, *i;
  make(h, "[\"Int\", \"async\", 4]", s, r);
  assert_string_not_equal(s, r);
  assert_int_equal(strncmp(s, "t-", 2), 0);
  v = call(h, "send", A("[\"%s\", 5, 0]", s));
  assert_json(v, "{\"seq\": 1}");
  json_decref(v);
  v = call(h, "send", A("[\"%s\", 6, 30]", s));
  assert_json(v, "{\"seq\": 2}");
  json_decref(v);
  i = info(h, r);
  assert_string_equal(json_string_value(json_object_get(i, "end")), "recv");
  assert_string_equal(json_string_value(json_object_get(i, "type")), "Int");
  assert_string_equal(json_string_value(json_object_get(i, "mode")), "async");
  assert_int_equal(json_integer_value(json_object_get(i, "capacity")), 4);
  assert_int_equal(json_integer_value(json_object_get(i, "queued")), 2);
  assert_true(json_is_false(json_object_get(i, "closed")));
  json_decref(i);
  v = call(h, "recv", A("[\"%s\", 0]", r));
  assert_json(v, "{\"value\": 5}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 30]", r)); /* queued: no wait */
  assert_json(v, "{\"value\": 6}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 0]", r));
  assert_json(v, "{\"timeout\": true}");
  json_decref(v);
  /* Any carries any JSON, null and tagged objects included */
  make(h, "[\"Any\", \"async\", 8]", s, r);
  const char *vals[] = {"null", "{\"$endpoint\": \"t-1\"}", "[1, {\"a\": []}]",
                        "\"\""};
  for (size_t k = 0; k < 4; k++) {
    json_decref(call(h, "send", A("[\"%s\", %s, 0]", s, vals[k])));
  }
  for (size_t k = 0; k < 4; k++) {
    json_t *want = J(vals[k]);
    v = call(h, "recv", A("[\"%s\", 0]", r));
    assert_true(json_object_size(v) == 1);
    assert_true(json_equal(json_object_get(v, "value"), want));
    json_decref(want);
    json_decref(v);
  }
  /* schema types */
  make(h, "[{\"word\": \"String\", \"n\": \"Int\"}, \"async\", 2]", s, r);
  v = call(h, "send", A("[\"%s\", {\"word\": \"pi\", \"n\": 3}, 0]", s));
  assert_json(v, "{\"seq\": 1}");
  json_decref(v);
}

static void test_clone_close(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX], s2[CHAN_ID_MAX];
  json_t *v, *i;
  make(h, "[\"String\", \"async\", 4]", s, r);
  v = call(h, "clone", A("[\"%s\"]", s));
  assert_int_equal(json_object_size(v), 1);
  snprintf(s2, sizeof s2, "%s", json_string_value(json_object_get(v, "id")));
  json_decref(v);
  assert_string_not_equal(s2, s);
  i = info(h, s2);
  assert_string_equal(json_string_value(json_object_get(i, "end")), "send");
  assert_int_equal(json_integer_value(json_object_get(i, "send_open")), 2);
  json_decref(i);
  v = call(h, "close", A("[\"%s\"]", s));
  assert_json(v, "{}");
  json_decref(v);
  v = call(h, "close", A("[\"%s\"]", s)); /* idempotent */
  assert_json(v, "{}");
  json_decref(v);
  v = call(h, "send", A("[\"%s\", \"a\", 0]", s));
  assert_error(v, "closed", NULL);
  json_decref(v);
  v = call(h, "clone", A("[\"%s\"]", s));
  assert_error(v, "closed", NULL);
  json_decref(v);
  v = call(h, "send", A("[\"%s\", \"b\", 0]", s2)); /* the clone is open */
  assert_json(v, "{\"seq\": 1}");
  json_decref(v);
  v = call(h, "close", A("[\"%s\"]", s2));
  json_decref(v);
  /* no send end open: drain, then closed */
  v = call(h, "recv", A("[\"%s\", 0]", r));
  assert_json(v, "{\"value\": \"b\"}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 5]", r));
  assert_error(v, "closed", "");
  json_decref(v);
  /* a recv clone */
  make(h, "[\"Int\", \"async\", 4]", s, r);
  v = call(h, "clone", A("[\"%s\"]", r));
  i = info(h, json_string_value(json_object_get(v, "id")));
  assert_string_equal(json_string_value(json_object_get(i, "end")), "recv");
  assert_int_equal(json_integer_value(json_object_get(i, "recv_open")), 2);
  json_decref(i);
  json_decref(v);
}

static void test_errors(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *v;
  make(h, "[\"Int\", \"async\", 4]", s, r);
  v = call(h, "send", A("[\"%s\", \"x\", 0]", s));
  assert_error(v, "invalid", "value");
  json_decref(v);
  v = call(h, "send", A("[\"%s\", 1.5, 5]", s));
  assert_error(v, "invalid", "value");
  json_decref(v);
  assert_int_equal(queued(h, r), 0); /* nothing was queued */
  v = call(h, "send", A("[\"%s\", 1, 0]", r));
  assert_error(v, "wrong_end", NULL);
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 0]", s));
  assert_error(v, "wrong_end", NULL);
  json_decref(v);
  const char *ops[][2] = {
      {"send", "[\"t-nope\", 1, 0]"}, {"recv", "[\"t-nope\", 0]"},
      {"clone", "[\"t-nope\"]"},      {"close", "[\"t-nope\"]"},
      {"info", "[\"t-nope\"]"},       {"recv", "[\"\", 0]"}};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
    v = call(h, ops[k][0], ops[k][1]);
    assert_error(v, "not_found", NULL);
    json_decref(v);
  }
  /* a schema channel names the field at fault */
  make(h, "[{\"word\": \"String\", \"n\": \"Int\"}, \"async\", 2]", s, r);
  v = call(h, "send", A("[\"%s\", {\"word\": \"pi\", \"n\": \"3\"}, 0]", s));
  assert_error(v, "invalid", "value.n");
  json_decref(v);
  assert_int_equal(queued(h, s), 0);
  /* new: type, mode and capacity */
  const char *bad_new[][2] = {
      {"[\"Integer\", \"async\", 4]", "type"},
      {"[{\"a\": \"Nope\"}, \"async\", 4]", "type"},
      {"[null, \"async\", 4]", "type"},
      {"[\"Int\", \"fast\", 4]", "mode"},
      {"[\"Int\", 5, 4]", "mode"},
      {"[\"Int\", \"async\", -1]", "capacity"},
      {"[\"Int\", \"async\", 1.5]", "capacity"},
      {"[\"Int\", \"async\", \"4\"]", "capacity"},
      {"[\"Int\", \"async\", 0]", "capacity"},
      {"[\"Int\", \"sync\", 3]", "capacity"},
      {"[\"Int\", \"async\", 100001]", "capacity"},
  };
  size_t n0 = chan_count(h);
  for (size_t k = 0; k < sizeof bad_new / sizeof *bad_new; k++) {
    v = call(h, "new", bad_new[k][0]);
    if (!json_object_get(v, "error"))
      fail_msg("new %s was accepted", bad_new[k][0]);
    assert_error(v, "invalid", bad_new[k][1]);
    json_decref(v);
  }
  assert_int_equal(chan_count(h), n0); /* nothing was made */
}

static void test_bad_args(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  json_t *v;
  make(h, "[\"Int\", \"async\", 4]", s, r);
  /* fmt's %s is the send end (which 's') or the receive end ('r') */
  const struct {
    const char *op, *fmt;
    char which;
  } bad[] = {
      {"send", "[\"%s\", 1]", 's'},
      {"send", "[\"%s\", 1, 0, 0]", 's'},
      {"recv", "[\"%s\"]", 'r'},
      {"recv", "[\"%s\", 0, 0]", 'r'},
      {"clone", "[\"%s\", 1]", 's'},
      {"close", "[]", 0},
      {"info", "[5]", 0},
      {"send", "[null, 1, 0]", 0},
      {"frob", "[\"%s\"]", 's'},
      {"", "[]", 0},
      {"new", "[\"Int\", \"async\"]", 0},
      {"new", "[\"Int\", \"async\", 4, 1]", 0},
      {"SEND", "[\"%s\", 1, 0]", 's'},
      {"recv", "{}", 0},
      {"sendx", "[\"%s\", 1, 0]", 's'},
  };
  size_t n0 = chan_count(h);
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    const char *args =
        bad[k].which ? A(bad[k].fmt, bad[k].which == 's' ? s : r) : bad[k].fmt;
    v = call(h, bad[k].op, args);
    if (!json_object_get(v, "error"))
      fail_msg("%s %s was accepted: %s", bad[k].op, args, json_dumps(v, 0));
    assert_error(v, "bad_request", NULL);
    json_decref(v);
  }
  /* args that are no array at all */
  answer a = ANSWER_INIT;
  fsys_chan_call(h, NULL, "recv", NULL, answered, &a);
  assert_int_equal(a.count, 1);
  assert_error(a.value, "bad_request", NULL);
  answer_clear(&a);
  assert_int_equal(chan_count(h), n0);
  assert_int_equal(queued(h, r), 0);
}

static void test_timeouts(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  answer a = ANSWER_INIT;
  struct timespec t0, t1;
  json_t *v;
  make(h, "[\"Int\", \"async\", 1]", s, r);
  /* a recv that waits and sees nothing */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  start(h, "recv", A("[\"%s\", 0.2]", r), &a);
  assert_int_equal(count_of(&a), 0);
  assert_json(await_answer(&a, 5), "{\"timeout\": true}");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(dt >= 0.15 && dt < 3);
  assert_false(pthread_equal(a.thread, pthread_self())); /* the timer's */
  sleep_ms(100);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
  /* a send on a full channel that waits for room in vain: nothing queued */
  v = call(h, "send", A("[\"%s\", 1, 0]", s));
  json_decref(v);
  v = call(h, "send", A("[\"%s\", 2, 0]", s));
  assert_json(v, "{\"timeout\": true}");
  json_decref(v);
  start(h, "send", A("[\"%s\", 2, 0.2]", s), &a);
  assert_int_equal(count_of(&a), 0);
  assert_json(await_answer(&a, 5), "{\"timeout\": true}");
  sleep_ms(100);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
  assert_int_equal(queued(h, r), 1);
  /* a negative wait is no wait */
  v = call(h, "send", A("[\"%s\", 2, -5]", s));
  assert_json(v, "{\"timeout\": true}");
  json_decref(v);
  /* sync: nobody is receiving */
  make(h, "[\"Int\", \"sync\", 0]", s, r);
  v = call(h, "send", A("[\"%s\", 1, 0]", s));
  assert_json(v, "{\"timeout\": true}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 0]", r));
  assert_json(v, "{\"timeout\": true}");
  json_decref(v);
}

static void test_pending_completed_later(void **state) {
  chan_hub *h = *state;
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  answer a = ANSWER_INIT, b = ANSWER_INIT;
  json_t *v;
  /* a recv that waits is completed by a later send, exactly once */
  make(h, "[\"Map\", \"async\", 4]", s, r);
  start(h, "recv", A("[\"%s\", 10]", r), &a);
  start(h, "recv", A("[\"%s\", 10]", r), &b);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 0);
  assert_int_equal(count_of(&b), 0);
  v = call(h, "send", A("[\"%s\", {\"n\": 1}, 0]", s));
  assert_json(v, "{\"seq\": 1}");
  json_decref(v);
  assert_json(await_answer(&a, 5), "{\"value\": {\"n\": 1}}");
  assert_int_equal(count_of(&b), 0); /* first come, first served */
  v = call(h, "send", A("[\"%s\", {\"n\": 2}, 0]", s));
  json_decref(v);
  assert_json(await_answer(&b, 5), "{\"value\": {\"n\": 2}}");
  sleep_ms(100);
  assert_int_equal(count_of(&a), 1);
  assert_int_equal(count_of(&b), 1);
  assert_int_equal(queued(h, r), 0);
  answer_clear(&a);
  answer_clear(&b);
  /* sync: a waiting send is completed by a later recv */
  make(h, "[\"Int\", \"sync\", 0]", s, r);
  start(h, "send", A("[\"%s\", 7, 10]", s), &a);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 0);
  v = call(h, "recv", A("[\"%s\", 0]", r));
  assert_json(v, "{\"value\": 7}");
  json_decref(v);
  assert_json(await_answer(&a, 5), "{\"seq\": 1}");
  sleep_ms(50);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
  /* a waiting recv is told when the last send end closes */
  make(h, "[\"Int\", \"async\", 4]", s, r);
  start(h, "recv", A("[\"%s\", 10]", r), &a);
  sleep_ms(50);
  v = call(h, "close", A("[\"%s\"]", s));
  json_decref(v);
  assert_error(await_answer(&a, 5), "closed", NULL);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
  /* a waiting send is told when the last receive end closes */
  make(h, "[\"Int\", \"sync\", 0]", s, r);
  start(h, "send", A("[\"%s\", 1, 10]", s), &a);
  sleep_ms(50);
  json_decref(call(h, "close", A("[\"%s\"]", r)));
  assert_error(await_answer(&a, 5), "closed", NULL);
  answer_clear(&a);
  /* a waiting recv is told when the hub stops */
  make(h, "[\"Int\", \"async\", 4]", s, r);
  start(h, "recv", A("[\"%s\", 10]", r), &a);
  sleep_ms(50);
  chan_hub_shutdown(h);
  assert_error(await_answer(&a, 5), "stopping", NULL);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
}

static void test_hold_release(void **state) {
  chan_hub *h = *state;
  char ds[CHAN_ID_MAX], dr[CHAN_ID_MAX], us[CHAN_ID_MAX], ur[CHAN_ID_MAX];
  char os[CHAN_ID_MAX], orr[CHAN_ID_MAX];
  answer a = ANSWER_INIT;
  json_t *v;
  /* the two channels of a spawn: to the child (ds -> dr), from it (us ->
   * ur); the child holds dr and us */
  make(h, "[\"Any\", \"async\", 64]", ds, dr);
  make(h, "[\"Any\", \"async\", 64]", us, ur);
  make(h, "[\"Any\", \"async\", 4]", os, orr); /* another fibril's */
  fsys_hold("F-1", dr);
  fsys_hold("F-1", us);
  fsys_hold("F-2", os);
  json_decref(call(h, "send", A("[\"%s\", \"last words\", 0]", us)));
  json_decref(call(h, "send", A("[\"%s\", \"unread\", 0]", ds)));
  json_decref(call(h, "send", A("[\"%s\", 1, 0]", os)));
  size_t n0 = chan_count(h);
  fsys_release(h, "F-1");
  /* the held ends are gone */
  v = call(h, "info", A("[\"%s\"]", dr));
  assert_error(v, "not_found", NULL);
  json_decref(v);
  v = call(h, "info", A("[\"%s\"]", us));
  assert_error(v, "not_found", NULL);
  json_decref(v);
  /* the other side drains what was queued, then sees closed */
  v = call(h, "recv", A("[\"%s\", 0]", ur));
  assert_json(v, "{\"value\": \"last words\"}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 5]", ur));
  assert_error(v, "closed", NULL);
  json_decref(v);
  v = call(h, "send", A("[\"%s\", 2, 5]", ds));
  assert_error(v, "closed", NULL);
  json_decref(v);
  assert_int_equal(chan_count(h), n0); /* each channel keeps one end */
  /* another fibril's holding is untouched */
  assert_int_equal(queued(h, orr), 1);
  /* again, or for a fibril that holds nothing: no effect */
  fsys_release(h, "F-1");
  fsys_release(h, "F-9");
  assert_int_equal(queued(h, orr), 1);
  /* a peer that waits when the holder ends is told at once */
  make(h, "[\"Any\", \"async\", 64]", us, ur);
  fsys_hold("F-3", us);
  start(h, "recv", A("[\"%s\", 10]", ur), &a);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 0);
  fsys_release(h, "F-3");
  assert_error(await_answer(&a, 5), "closed", NULL);
  sleep_ms(50);
  assert_int_equal(count_of(&a), 1);
  answer_clear(&a);
  /* an end already deleted by someone else does not stop the others */
  make(h, "[\"Any\", \"async\", 4]", ds, dr);
  make(h, "[\"Any\", \"async\", 4]", us, ur);
  fsys_hold("F-4", dr);
  fsys_hold("F-4", us);
  chan_err e;
  assert_int_equal(chan_delete(h, dr, &e), 0);
  fsys_release(h, "F-4");
  v = call(h, "info", A("[\"%s\"]", us));
  assert_error(v, "not_found", NULL);
  json_decref(v);
  fsys_release(h, "F-2");
  v = call(h, "recv", A("[\"%s\", 0]", orr));
  assert_json(v, "{\"value\": 1}");
  json_decref(v);
  v = call(h, "recv", A("[\"%s\", 0]", orr));
  assert_error(v, "closed", NULL);
  json_decref(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_new_send_recv_info, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clone_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_completed_later, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hold_release, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
