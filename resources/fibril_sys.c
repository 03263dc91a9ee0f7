/*
 * fibril_sys.c — the channel system calls of fibrils ("chan.*", from
 * runtime/prelude/chan.rb) and the endpoints each fibril holds.
 *
 * A call answers through done(ud, value) exactly once, with a JSON object:
 * what the call gives ({"send","recv"}, {"seq"}, {"value"}, {"id"},
 * {"info"}, {}), {"timeout": true} when a wait ended with nothing done, or
 * {"error": {"code", "field", "message"}} (code "closed" becomes
 * M31::ChannelClosed in Ruby, any other M31::ChannelError). A call that
 * cannot finish at once leaves a waiter in the hub: its completion runs on
 * the peer's thread or the hub's timer thread, and answers from there.
 *
 * Holding: the ends a spawn gives a fibril (its PARENT pair, its ends of
 * its children's pairs) are deleted when it ends, as a process's pipes
 * are closed, so the other side sees the end (after draining what was
 * queued) instead of waiting for ever. The record of who holds what is
 * kept by the nucleus thread alone.
 */
#include "resources/resources.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *held; /* fibril id -> array of endpoint ids */

/* The wait each fibril has in the hub (a fibril makes one call at a time),
 * so that its end can withdraw it: a message must not go to a fibril that
 * is gone, nor a dead fibril's send be delivered. Completions run on other
 * threads, hence the lock. */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *pending; /* fibril id -> waiter address (integer) */

static const char *code_name(chan_code c) {
  switch (c) {
  case CHAN_CLOSED:
    return "closed";
  case CHAN_NOT_FOUND:
    return "not_found";
  case CHAN_WRONG_END:
    return "wrong_end";
  case CHAN_INVALID:
    return "invalid";
  case CHAN_BAD_REQUEST:
    return "bad_request";
  case CHAN_STOPPING:
    return "stopping";
  default:
    return "error";
  }
}

static json_t *error_value(const char *code, const char *field,
                           const char *message) {
  return json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "field", field,
                   "message", message);
}

static json_t *chan_error_value(const chan_err *e) {
  return error_value(code_name(e->code), e->field, e->detail);
}

/* The completion of a send or recv that waited. */
typedef struct waiter {
  fsc_done_fn done;
  void *ud;
  char fibril[CHAN_ID_MAX]; /* "" when not tracked */
} waiter;

static void pending_set(waiter *w) {
  if (!w->fibril[0]) return;
  pthread_mutex_lock(&pending_lock);
  if (!pending) pending = json_object();
  json_object_set_new(pending, w->fibril,
                      json_integer((json_int_t)(intptr_t)w));
  pthread_mutex_unlock(&pending_lock);
}

/* Forgets fibril's wait if it is w (any, when w is NULL); the one it was. */
static waiter *pending_take(const char *fibril, waiter *w) {
  waiter *was = NULL;
  pthread_mutex_lock(&pending_lock);
  json_t *v = json_object_get(pending, fibril);
  if (v) was = (waiter *)(intptr_t)json_integer_value(v);
  if (was && (!w || was == w))
    json_object_del(pending, fibril);
  else
    was = NULL;
  pthread_mutex_unlock(&pending_lock);
  return was;
}

static void waited(void *arg, chan_code code, json_t *msg, uint64_t seq) {
  waiter *w = arg;
  json_t *v;
  if (w->fibril[0]) pending_take(w->fibril, w);
  if (code == CHAN_OK && msg)
    v = json_pack("{s:o}", "value", msg);
  else if (code == CHAN_OK)
    v = json_pack("{s:I}", "seq", (json_int_t)seq);
  else if (code == CHAN_EMPTY || code == CHAN_FULL)
    v = json_pack("{s:b}", "timeout", 1);
  else
    v = error_value(code_name(code), "",
                    code == CHAN_CLOSED ? "the channel is closed"
                                        : "the node is stopping");
  w->done(w->ud, v);
  free(w);
}

/* A wait in seconds from a JSON number, clamped by the hub. */
static double wait_of(const json_t *j) {
  return json_is_number(j) ? json_number_value(j) : 0;
}

static waiter *waiter_new(const char *fibril, fsc_done_fn done, void *ud) {
  waiter *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->done = done, w->ud = ud;
  snprintf(w->fibril, sizeof w->fibril, "%s", fibril ? fibril : "");
  return w;
}

static void call_send(chan_hub *h, const char *fibril, const char *id,
                      const json_t *msg, double wait, fsc_done_fn done,
                      void *ud) {
  waiter *w = waiter_new(fibril, done, ud);
  chan_err e = {0};
  uint64_t seq = 0;
  int rc;
  pending_set(w); /* before the hub can complete it on another thread */
  rc = chan_send(h, id, msg, wait, waited, w, &seq, &e);
  if (rc == CHAN_PENDING) return;
  pending_take(w->fibril, w);
  free(w);
  if (rc == CHAN_OK)
    done(ud, json_pack("{s:I}", "seq", (json_int_t)seq));
  else if (e.code == CHAN_FULL)
    done(ud, json_pack("{s:b}", "timeout", 1));
  else
    done(ud, chan_error_value(&e));
}

static void call_recv(chan_hub *h, const char *fibril, const char *id,
                      double wait, fsc_done_fn done, void *ud) {
  waiter *w = waiter_new(fibril, done, ud);
  chan_err e = {0};
  json_t *msg = NULL;
  uint64_t seq = 0;
  int rc;
  pending_set(w);
  rc = chan_recv(h, id, wait, waited, w, &msg, &seq, &e);
  if (rc == CHAN_PENDING) return;
  pending_take(w->fibril, w);
  free(w);
  if (rc == CHAN_OK)
    done(ud, json_pack("{s:o}", "value", msg));
  else if (e.code == CHAN_EMPTY)
    done(ud, json_pack("{s:b}", "timeout", 1));
  else
    done(ud, chan_error_value(&e));
}

static void call_new(chan_hub *h, const json_t *args, fsc_done_fn done,
                     void *ud) {
  const char *mode = json_string_value(json_array_get(args, 1));
  json_t *cap = json_array_get(args, 2);
  char s[CHAN_ID_MAX], r[CHAN_ID_MAX];
  chan_err e = {0};
  if (!mode || (strcmp(mode, "sync") && strcmp(mode, "async"))) {
    done(ud, error_value("invalid", "mode", "mode is :sync or :async"));
    return;
  }
  if (!json_is_integer(cap) || json_integer_value(cap) < 0) {
    done(ud,
         error_value("invalid", "capacity", "capacity is an Integer from 0"));
    return;
  }
  if (chan_create(h, json_array_get(args, 0), strcmp(mode, "sync") == 0,
                  (size_t)json_integer_value(cap), s, r, &e) != 0)
    done(ud, chan_error_value(&e));
  else
    done(ud, json_pack("{s:s, s:s}", "send", s, "recv", r));
}

void fsys_chan_call(chan_hub *h, const char *fibril, const char *op,
                    const json_t *args, fsc_done_fn done, void *ud) {
  const char *id = json_string_value(json_array_get(args, 0));
  size_t n = json_array_size(args);
  chan_err e = {0};
  char out[CHAN_ID_MAX];
  json_t *info;
  if (strcmp(op, "new") == 0 && n == 3) return call_new(h, args, done, ud);
  if (!id) {
    done(ud, error_value("bad_request", "id", "an endpoint id is a String"));
  } else if (strcmp(op, "send") == 0 && n == 3) {
    call_send(h, fibril, id, json_array_get(args, 1),
              wait_of(json_array_get(args, 2)), done, ud);
  } else if (strcmp(op, "recv") == 0 && n == 2) {
    call_recv(h, fibril, id, wait_of(json_array_get(args, 1)), done, ud);
  } else if (strcmp(op, "clone") == 0 && n == 1) {
    if (chan_clone(h, id, out, &e) != 0)
      done(ud, chan_error_value(&e));
    else
      done(ud, json_pack("{s:s}", "id", out));
  } else if (strcmp(op, "close") == 0 && n == 1) {
    done(ud, chan_close(h, id, &e) != 0 ? chan_error_value(&e) : json_object());
  } else if (strcmp(op, "info") == 0 && n == 1) {
    if (chan_info(h, id, &info, &e) != 0)
      done(ud, chan_error_value(&e));
    else
      done(ud, json_pack("{s:o}", "info", info));
  } else {
    done(ud, error_value("bad_request", "", "bad arguments to a chan call"));
  }
}

void fsys_hold(const char *fibril, const char *endpoint) {
  json_t *ends;
  if (!held) held = json_object();
  if (!(ends = json_object_get(held, fibril))) {
    ends = json_array();
    json_object_set_new(held, fibril, ends);
  }
  json_array_append_new(ends, json_string(endpoint));
}

void fsys_release(chan_hub *h, const char *fibril) {
  json_t *ends = json_object_get(held, fibril), *v;
  size_t i;
  chan_err e;
  waiter *w = pending_take(fibril, NULL);
  if (w && chan_cancel(h, w)) { /* withdrawn: answer the dead fibril */
    w->done(w->ud, json_null());
    free(w);
  }
  if (!ends) return;
  json_array_foreach(ends, i, v) chan_delete(h, json_string_value(v), &e);
  json_object_del(held, fibril);
}

/* Ends to delete later: [deadline (ms, monotonic), endpoint id] pairs in
 * deadline order (each is added a fixed time after now). Nucleus thread. */
static json_t *expiring;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fsys_expire_later(const char *endpoint, unsigned seconds) {
  if (!expiring) expiring = json_array();
  json_array_append_new(
      expiring, json_pack("[I, s]", (json_int_t)(mono_ms() + seconds * 1000LL),
                          endpoint));
}

void fsys_tick(chan_hub *h) {
  int64_t now = mono_ms();
  chan_err e;
  while (json_array_size(expiring) > 0) {
    json_t *first = json_array_get(expiring, 0);
    if (json_integer_value(json_array_get(first, 0)) > now) break;
    chan_delete(h, json_string_value(json_array_get(first, 1)), &e);
    json_array_remove(expiring, 0);
  }
}

void fsys_free(void) {
  json_decref(expiring);
  expiring = NULL;
  json_decref(held);
  held = NULL;
  pthread_mutex_lock(&pending_lock);
  json_decref(pending);
  pending = NULL;
  pthread_mutex_unlock(&pending_lock);
}
