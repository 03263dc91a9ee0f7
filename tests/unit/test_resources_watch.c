/*
 * Unit tests for resources/watch.c: the ring of retained events (eviction
 * by count and by bytes, what can be resumed), filters, and a stream's
 * progress through a feed without HTTP: replay after since, reset when
 * since is not retained, reset and end when it falls behind, heartbeats,
 * parked streams woken only by what matches them, the end of a space,
 * stopping; and the frames the store's and the fibril table's feeds make.
 * The .c is included to reach its statics; stream_wake is replaced by a
 * recorder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "resources/watch.c"

#define EPOCH 1000

static int woken; /* stream_wake calls seen */

static void wake_record(m31_stream *s) {
  (void)s;
  woken++;
}

static int setup(void **state) {
  (void)state;
  memset(&W.fs, 0, sizeof W.fs);
  memset(&W.fibrils, 0, sizeof W.fibrils);
  wring_init(&W.fs.ring, 4, 1000, EPOCH);
  wring_init(&W.fibrils.ring, 4, 1000, EPOCH);
  pthread_cond_init(&W.tick, NULL);
  W.timer_next = UINT64_MAX;
  W.stopping = 0;
  watch_wake_fn = wake_record;
  woken = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wring_free(&W.fs.ring);
  wring_free(&W.fibrils.ring);
  pthread_cond_destroy(&W.tick);
  return 0;
}

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

/* Appends an event of topic/sub with a small frame naming its seq. */
static void push(wfeed *f, const char *topic, const char *sub, int last) {
  char frame[64];
  watcher *wake = NULL;
  int n = snprintf(frame, sizeof frame, "id: %llu\n\n",
                   (unsigned long long)f->ring.head + 1);
  do_append(f, dup(topic), dup(sub), last, strdup(frame), (size_t)n, &wake);
  wake_list(wake);
}

/* What w sends next (its buffer as a string; "" when it parks). */
static char sent[4096];
static const char *advance(watcher *w, uint64_t now) {
  if (!do_advance(w, now)) {
    do_park(w);
    return "";
  }
  snprintf(sent, sizeof sent, "%.*s", (int)w->len, w->buf);
  return sent;
}

static watcher *stream_new(wfeed *f, const char *topic, const char *sub,
                           int since_given, uint64_t since) {
  watcher *w = watcher_new(f, topic, sub, 15, since_given, since);
  w->due_ns = UINT64_MAX / 2; /* no heartbeat unless a test asks */
  return w;
}

static void stream_free(watcher *w) {
  if (w->parked) do_unpark(w);
  watcher_free(w);
}

static void test_ring_evicts_by_count_and_bytes(void **state) {
  wring *r = &W.fs.ring;

  (void)state;
  assert_int_equal(r->head, EPOCH);
  assert_int_equal(wring_oldest(r), EPOCH + 1);
  assert_true(wring_resumable(r, EPOCH));
  assert_false(wring_resumable(r, EPOCH + 1)); /* the future */
  for (int i = 0; i < 4; i++)
    push(&W.fs, "s", "k", 0);
  assert_int_equal(r->n, 4);
  assert_int_equal(r->head, EPOCH + 4);
  assert_true(wring_resumable(r, EPOCH));
  push(&W.fs, "s", "k", 0); /* the fifth: the first goes */
  assert_int_equal(r->n, 4);
  assert_int_equal(wring_oldest(r), EPOCH + 2);
  assert_false(wring_resumable(r, EPOCH));
  assert_true(wring_resumable(r, EPOCH + 1));
  assert_true(wring_resumable(r, EPOCH + 5));
  assert_false(wring_resumable(r, 3)); /* an earlier run */

  /* bytes: a big frame pushes out as many as it needs, and stays alone
   * when it is over the cap by itself */
  char *big = malloc(900);
  memset(big, 'x', 900);
  watcher *wake = NULL;
  do_append(&W.fs, dup("s"), NULL, 0, big, 900, &wake);
  assert_true(r->bytes <= r->max_bytes);
  assert_int_equal(wring_at(r, r->n - 1)->len, 900);
  char *huge = malloc(2000);
  memset(huge, 'y', 2000);
  do_append(&W.fs, dup("s"), NULL, 0, huge, 2000, &wake);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->bytes, 2000);
  assert_int_equal(wring_oldest(r), r->head);
  push(&W.fs, "s", "k", 0);
  assert_int_equal(r->n, 1);
  assert_null(wake);
}

static void test_filters(void **state) {
  wev e = {.topic = "s", .sub = "k"}, end = {.topic = "s", .last = 1};
  wev orphan = {.topic = NULL, .sub = "f1"};

  (void)state;
  assert_true(wev_matches(&e, NULL, NULL));
  assert_true(wev_matches(&e, "s", NULL));
  assert_true(wev_matches(&e, "s", "k"));
  assert_false(wev_matches(&e, "t", NULL));
  assert_false(wev_matches(&e, "s", "j"));
  assert_true(wev_matches(&end, "s", "j")); /* the end reaches every key */
  assert_false(wev_matches(&end, "t", NULL));
  assert_true(wev_matches(&orphan, NULL, NULL));
  assert_false(wev_matches(&orphan, "f0", NULL)); /* no parent */
}

static void test_replay_after_since_then_live(void **state) {
  watcher *w;

  (void)state;
  push(&W.fs, "s", "a", 0); /* 1001 */
  push(&W.fs, "t", "a", 0); /* 1002, another space */
  push(&W.fs, "s", "b", 0); /* 1003 */
  w = stream_new(&W.fs, "s", NULL, 1, EPOCH + 1);
  assert_string_equal(advance(w, 0), "id: 1003\n\n");
  assert_string_equal(advance(w, 0), ""); /* parked, seen up to head */
  assert_true(w->parked);
  push(&W.fs, "t", "x", 0); /* not for it: still parked, cursor moves */
  assert_true(w->parked);
  assert_int_equal(w->cursor, EPOCH + 4);
  assert_int_equal(woken, 0);
  push(&W.fs, "s", "c", 0);
  assert_false(w->parked);
  assert_int_equal(woken, 1);
  assert_string_equal(advance(w, 0), "id: 1005\n\n");
  stream_free(w);

  /* from now: only what comes after */
  w = stream_new(&W.fs, "s", NULL, 0, 0);
  assert_string_equal(advance(w, 0), "");
  push(&W.fs, "s", "d", 0);
  assert_string_equal(advance(w, 0), "id: 1006\n\n");
  stream_free(w);
}

static void test_key_filter_and_end_of_space(void **state) {
  watcher *w = stream_new(&W.fs, "s", "k", 0, 0);

  (void)state;
  push(&W.fs, "s", "j", 0);
  push(&W.fs, "s", "k", 0);
  assert_string_equal(advance(w, 0), "id: 1002\n\n");
  assert_false(w->ended);
  push(&W.fs, "s", NULL, 1); /* the space is deleted */
  assert_string_equal(advance(w, 0), "id: 1003\n\n");
  assert_true(w->ended);
  stream_free(w);
}

static void test_reset_when_since_is_not_retained(void **state) {
  watcher *w;

  (void)state;
  for (int i = 0; i < 6; i++)
    push(&W.fs, "s", "k", 0); /* 1001..1006; 1003..1006 kept */
  /* too old: reset, then on from now */
  w = stream_new(&W.fs, "s", NULL, 1, EPOCH + 1);
  assert_string_equal(advance(w, 0),
                      "id: 1006\nevent: reset\ndata: {\"reason\":\"since\","
                      "\"oldest\":1003,\"last\":1006,\"epoch\":1000}\n\n");
  assert_false(w->ended);
  assert_string_equal(advance(w, 0), "");
  push(&W.fs, "s", "k", 0);
  assert_string_equal(advance(w, 0), "id: 1007\n\n");
  stream_free(w);
  /* just old enough: everything after it */
  w = stream_new(&W.fs, "s", NULL, 1, EPOCH + 3);
  assert_string_equal(advance(w, 0), "id: 1004\n\n");
  stream_free(w);
  /* from the future (or another run): reset */
  w = stream_new(&W.fs, "s", NULL, 1, EPOCH + 100);
  assert_non_null(strstr(advance(w, 0), "event: reset"));
  stream_free(w);
  /* an empty ring with since before this run */
  w = stream_new(&W.fibrils, NULL, NULL, 1, 5);
  assert_string_equal(advance(w, 0),
                      "id: 1000\nevent: reset\ndata: {\"reason\":\"since\","
                      "\"oldest\":null,\"last\":1000,\"epoch\":1000}\n\n");
  stream_free(w);
  /* since = the epoch on an empty ring: nothing missed */
  w = stream_new(&W.fibrils, NULL, NULL, 1, EPOCH);
  assert_string_equal(advance(w, 0), "");
  stream_free(w);
}

static void test_a_stream_that_falls_behind_is_reset_and_ended(void **state) {
  watcher *w = stream_new(&W.fs, "s", NULL, 0, 0);

  (void)state;
  push(&W.fs, "s", "k", 0);
  assert_string_equal(advance(w, 0), "id: 1001\n\n");
  /* not parked (its client is not reading): the ring moves on */
  for (int i = 0; i < 5; i++)
    push(&W.fs, "s", "k", 0);
  assert_int_equal(woken, 0);
  assert_non_null(strstr(advance(w, 0), "\"reason\":\"behind\""));
  assert_true(w->ended);
  stream_free(w);
}

static void test_a_parked_stream_never_falls_behind(void **state) {
  watcher *w = stream_new(&W.fs, "quiet", NULL, 0, 0);

  (void)state;
  assert_string_equal(advance(w, 0), "");
  for (int i = 0; i < 50; i++)
    push(&W.fs, "busy", "k", 0);
  assert_int_equal(woken, 0);
  assert_true(w->parked);
  do_unpark(w); /* as the heartbeat timer would */
  w->beat = 1;
  assert_string_equal(advance(w, 0), ": keep-alive\n\n");
  push(&W.fs, "quiet", "k", 0);
  assert_string_equal(advance(w, 0), "id: 1051\n\n");
  stream_free(w);
}

static void test_heartbeat_when_due(void **state) {
  watcher *w = stream_new(&W.fs, "s", NULL, 0, 0);

  (void)state;
  w->due_ns = 100;
  assert_string_equal(advance(w, 99), "");
  do_unpark(w);
  assert_string_equal(advance(w, 100), ": keep-alive\n\n");
  assert_int_equal(w->due_ns, 100 + w->hb_ns);
  /* an event puts the next heartbeat off */
  push(&W.fs, "s", "k", 0);
  assert_string_equal(advance(w, 500), "id: 1001\n\n");
  assert_int_equal(w->due_ns, 500 + w->hb_ns);
  W.timer_next = UINT64_MAX;
  assert_string_equal(advance(w, 501), "");
  /* parking earlier than the timer's next wake tells the timer */
  assert_int_equal(W.timer_next, w->due_ns);
  stream_free(w);
}

static void test_stopping_closes_every_stream(void **state) {
  watcher *a = stream_new(&W.fs, "s", NULL, 0, 0);
  watcher *b = stream_new(&W.fibrils, NULL, NULL, 0, 0);

  (void)state;
  assert_string_equal(advance(a, 0), "");
  assert_string_equal(advance(b, 0), "");
  W.running = 0;
  watch_quiesce();
  assert_int_equal(woken, 2);
  assert_false(a->parked);
  assert_string_equal(advance(a, 0),
                      "event: close\ndata: {\"reason\":\"stopping\"}\n\n");
  assert_true(a->ended);
  assert_non_null(strstr(advance(b, 0), "stopping"));
  W.stopping = 0;
  stream_free(a);
  stream_free(b);
}

/* The data line of the newest event of ring r, parsed (refcount: new). */
static json_t *last_data(const wring *r, char *event, size_t n) {
  const wev *e = wring_at(r, r->n - 1);
  const char *ev = strstr(e->frame, "event: "), *d = strstr(e->frame, "data: ");
  assert_non_null(ev);
  assert_non_null(d);
  snprintf(event, n, "%.*s", (int)strcspn(ev + 7, "\n"), ev + 7);
  return json_loadb(d + 6, strcspn(d + 6, "\n"), 0, NULL);
}

static void test_store_feed_frames(void **state) {
  const char *obj = "{\"attrs\":{\"n\":1},\"branch\":\"main\",\"key\":\"k\","
                    "\"labels\":{},\"modified\":\"x\",\"version\":3}";
  store_change c[] = {
      {STORE_CHANGE_PATCH, "s", "k", "main", 3, obj, strlen(obj)},
      {STORE_CHANGE_DELETE, "s", "k", "exp", 2, NULL, 0},
      {STORE_CHANGE_SPACE_DELETE, "s", NULL, NULL, 0, NULL, 0},
  };
  char ev[32];
  json_t *d;

  (void)state;
  watch_store_feed(NULL, c, 1);
  d = last_data(&W.fs.ring, ev, sizeof ev);
  assert_string_equal(ev, "patch");
  assert_int_equal(json_integer_value(json_object_get(d, "seq")), EPOCH + 1);
  assert_string_equal(json_string_value(json_object_get(d, "space")), "s");
  assert_string_equal(json_string_value(json_object_get(d, "key")), "k");
  assert_string_equal(json_string_value(json_object_get(d, "op")), "patch");
  assert_int_equal(json_integer_value(json_object_get(d, "version")), 3);
  assert_string_equal(json_string_value(json_object_get(d, "branch")), "main");
  assert_int_equal(
      json_integer_value(json_object_get(
          json_object_get(json_object_get(d, "object"), "attrs"), "n")),
      1);
  assert_string_equal(wring_at(&W.fs.ring, 0)->frame,
                      "id: 1001\nevent: patch\n"
                      "data: {\"seq\":1001,\"space\":\"s\",\"key\":\"k\","
                      "\"op\":\"patch\",\"version\":3,\"branch\":\"main\","
                      "\"object\":{\"attrs\":{\"n\":1},\"branch\":\"main\","
                      "\"key\":\"k\",\"labels\":{},\"modified\":\"x\","
                      "\"version\":3}}\n\n");
  json_decref(d);
  watch_store_feed(NULL, c + 1, 2);
  assert_int_equal(W.fs.ring.head, EPOCH + 3);
  const wev *del = wring_at(&W.fs.ring, 1);
  assert_non_null(strstr(del->frame, "event: delete\n"));
  assert_null(strstr(del->frame, "object"));
  assert_non_null(strstr(del->frame, "\"branch\":\"exp\""));
  assert_false(del->last);
  d = last_data(&W.fs.ring, ev, sizeof ev);
  assert_string_equal(ev, "deleted");
  assert_true(wring_at(&W.fs.ring, 2)->last);
  assert_int_equal(json_object_size(d), 3); /* seq, space, op */
  json_decref(d);
}

static void test_fibril_feed_frames(void **state) {
  json_t *rec = json_pack("{s:s, s:s, s:s}", "id", "n1-2", "state", "done",
                          "parent", "n1-1");
  json_t *orphan =
      json_pack("{s:s, s:s, s:n}", "id", "n1-1", "state", "running", "parent");
  watcher *kids = stream_new(&W.fibrils, "n1-1", NULL, 0, 0);
  char ev[32];
  json_t *d;

  (void)state;
  assert_string_equal(advance(kids, 0), "");
  watch_fibril_feed(NULL, orphan); /* not a child of n1-1 */
  assert_int_equal(woken, 0);
  watch_fibril_feed(NULL, rec);
  assert_int_equal(woken, 1);
  d = last_data(&W.fibrils.ring, ev, sizeof ev);
  assert_string_equal(ev, "fibril");
  assert_true(json_equal(d, rec));
  assert_string_equal(advance(kids, 0), "id: 1002\nevent: fibril\ndata: "
                                        "{\"id\":\"n1-2\",\"state\":\"done\","
                                        "\"parent\":\"n1-1\"}\n\n");
  json_decref(d);
  json_decref(rec);
  json_decref(orphan);
  stream_free(kids);
}

static void test_u64_parse(void **state) {
  uint64_t v;

  (void)state;
  assert_int_equal(u64_parse("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(u64_parse("1795434492421170", &v), 0);
  assert_int_equal(v, 1795434492421170ull);
  assert_int_equal(u64_parse("18446744073709551615", &v), 0);
  assert_int_equal(u64_parse("18446744073709551616", &v), -1);
  assert_int_equal(u64_parse("", &v), -1);
  assert_int_equal(u64_parse("abc", &v), -1);
  assert_int_equal(u64_parse("-1", &v), -1);
  assert_int_equal(u64_parse("+1", &v), -1);
  assert_int_equal(u64_parse("1 ", &v), -1);
  assert_int_equal(u64_parse(NULL, &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ring_evicts_by_count_and_bytes,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_after_since_then_live, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_key_filter_and_end_of_space, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reset_when_since_is_not_retained,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_stream_that_falls_behind_is_reset_and_ended, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_parked_stream_never_falls_behind,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_heartbeat_when_due, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stopping_closes_every_stream, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_store_feed_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fibril_feed_frames, setup, teardown),
      cmocka_unit_test(test_u64_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
