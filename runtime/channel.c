/*
 * channel.c — the channels of runtime/channel.h.
 *
 * One mutex per hub guards the endpoint table, the channels and the
 * deadline heap. Callbacks never run under it: an operation collects the
 * waiters it completes on a local list (done_list) and runs them after
 * unlocking. A sync channel is an async one of capacity 0 whose senders
 * always wait: a parked sender holds its message until a receiver takes it
 * or its wait ends, so a send that fails has queued nothing.
 */
#include "runtime/channel.h"
#include "util/base64.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct chan chan;
typedef struct endpoint endpoint;
typedef struct waiter waiter;

enum { END_SEND = 0, END_RECV = 1 };

struct waiter {
  int kind; /* END_SEND or END_RECV */
  endpoint *ep;
  chan_done_fn fn;
  void *arg;
  json_t *msg;         /* a sender's message (own ref); a receiver's prize */
  uint64_t seq;        /* the message's number once it has one */
  chan_code code;      /* the outcome, set when completed */
  uint64_t deadline;   /* monotonic ns */
  size_t heap_i;       /* index in the hub's heap */
  waiter *prev, *next; /* the channel's queue of this kind */
  waiter *done_next;   /* on a done_list */
};

struct endpoint {
  char id[CHAN_ID_MAX];
  int kind;
  int closed;
  chan *ch;
  endpoint *hnext;         /* hash chain */
  endpoint *cprev, *cnext; /* the channel's endpoints */
};

typedef struct qitem {
  json_t *msg;
  uint64_t seq;
  struct qitem *next;
} qitem;

struct chan {
  uint64_t num; /* the hex of its id */
  char id[CHAN_ID_MAX];
  json_t *type;
  int sync;
  size_t capacity;
  qitem *qhead, *qtail;
  size_t queued;
  uint64_t next_seq;
  int open[2];       /* open endpoints per kind */
  endpoint *eps;     /* all endpoints */
  waiter *wq[2][2];  /* [kind][0 head, 1 tail] */
  chan *prev, *next; /* the hub's channels, in creation order */
};

struct chan_hub {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t timer;
  int stop_timer, stopping;
  char node[64];
  uint64_t counter;
  endpoint **tab;
  size_t tab_n, neps;
  chan *chead, *ctail;
  size_t nchans;
  waiter **heap;
  size_t heap_n, heap_cap;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int chan_fail(chan_err *err, chan_code code, const char *field,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int chan_fail(chan_err *err, chan_code code, const char *field,
                     const char *fmt, ...) {
  va_list ap;

  if (!err) return -1;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_start(ap, fmt);
  vsnprintf(err->detail, sizeof err->detail, fmt, ap);
  va_end(ap);
  return -1;
}

/* ------------------------------------------------------------------ types */

static const char *const type_names[] = {"Int",   "Float", "String", "Bool",
                                         "Bytes", "List",  "Map",    "Any"};

static int type_name_ok(const char *s) {
  for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
    if (strcmp(s, type_names[i]) == 0) return 1;
  return 0;
}

int chan_type_check(const json_t *type, chan_err *err) {
  const char *k;
  json_t *v;

  if (json_is_string(type)) {
    if (type_name_ok(json_string_value(type))) return 0;
    return chan_fail(err, CHAN_INVALID, "type",
                     "type must be Int, Float, String, Bool, Bytes, List, Map, "
                     "Any or a schema object");
  }
  if (!json_is_object(type) || json_object_size(type) == 0)
    return chan_fail(err, CHAN_INVALID, "type",
                     "type must be a type name or a non-empty schema object");
  json_object_foreach((json_t *)type, k, v) {
    if (!json_is_string(v) || !type_name_ok(json_string_value(v)))
      return chan_fail(err, CHAN_INVALID, "type",
                       "type.%.100s must be a type name", k);
  }
  return 0;
}

/* A Bytes value: base64 text, or {"$bytes": base64} as binary Ruby
 * Strings cross the interchange. */
static int bytes_ok(const json_t *v) {
  const json_t *b = json_object_get(v, "$bytes");
  if (b && json_object_size(v) == 1) v = b;
  return json_is_string(v) &&
         b64_valid(json_string_value(v), json_string_length(v));
}

static int named_ok(const char *t, const json_t *v) {
  switch (t[0]) {
  case 'I':
    return json_is_integer(v);
  case 'F':
    return json_is_number(v);
  case 'S':
    return json_is_string(v);
  case 'B':
    if (t[1] == 'o') return json_is_boolean(v);
    return bytes_ok(v);
  case 'L':
    return json_is_array(v);
  case 'M':
    return json_is_object(v);
  default:
    return v != NULL; /* Any */
  }
}

int chan_value_check(const json_t *type, const json_t *v, chan_err *err) {
  const char *k;
  json_t *t;

  if (json_is_string(type)) {
    const char *name = json_string_value(type);
    if (named_ok(name, v)) return 0;
    return chan_fail(err, CHAN_INVALID, "value", "the message must be %s %s",
                     name[0] == 'I' || name[0] == 'A' ? "an" : "a", name);
  }
  if (!json_is_object(v))
    return chan_fail(err, CHAN_INVALID, "value",
                     "the message must be an object with the channel's fields");
  json_object_foreach((json_t *)type, k, t) {
    json_t *f = json_object_get(v, k);
    char field[128];
    snprintf(field, sizeof field, "value.%.100s", k);
    if (!f) return chan_fail(err, CHAN_INVALID, field, "%s is missing", field);
    if (!named_ok(json_string_value(t), f))
      return chan_fail(err, CHAN_INVALID, field, "%s must be a %s", field,
                       json_string_value(t));
  }
  json_object_foreach((json_t *)v, k, t) {
    if (!json_object_get(type, k)) {
      char field[128];
      snprintf(field, sizeof field, "value.%.100s", k);
      return chan_fail(err, CHAN_INVALID, field,
                       "%s is not a field of the channel's type", field);
    }
  }
  return 0;
}

/* ------------------------------------------------------------ id table */

static size_t id_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)h;
}

static endpoint *do_ep_find(chan_hub *h, const char *id) {
  endpoint *e = h->tab[id_hash(id) % h->tab_n];
  while (e && strcmp(e->id, id) != 0)
    e = e->hnext;
  return e;
}

static void do_ep_insert(chan_hub *h, endpoint *e) {
  if (h->neps + 1 > h->tab_n) { /* grow: keep chains short */
    size_t n = h->tab_n * 2;
    endpoint **t = calloc(n, sizeof *t);
    if (!t) abort();
    for (size_t i = 0; i < h->tab_n; i++) {
      endpoint *x = h->tab[i], *nx;
      for (; x; x = nx) {
        nx = x->hnext;
        x->hnext = t[id_hash(x->id) % n];
        t[id_hash(x->id) % n] = x;
      }
    }
    free(h->tab);
    h->tab = t;
    h->tab_n = n;
  }
  e->hnext = h->tab[id_hash(e->id) % h->tab_n];
  h->tab[id_hash(e->id) % h->tab_n] = e;
  h->neps++;
}

static void do_ep_unlink(chan_hub *h, endpoint *e) {
  endpoint **p = &h->tab[id_hash(e->id) % h->tab_n];
  while (*p != e)
    p = &(*p)->hnext;
  *p = e->hnext;
  h->neps--;
}

static uint64_t do_next_num(chan_hub *h) { return h->counter++; }

/* --------------------------------------------------------- deadline heap */

static void heap_swap(chan_hub *h, size_t a, size_t b) {
  waiter *t = h->heap[a];
  h->heap[a] = h->heap[b];
  h->heap[b] = t;
  h->heap[a]->heap_i = a;
  h->heap[b]->heap_i = b;
}

static void heap_up(chan_hub *h, size_t i) {
  while (i > 0 && h->heap[(i - 1) / 2]->deadline > h->heap[i]->deadline) {
    heap_swap(h, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(chan_hub *h, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->heap_n && h->heap[l]->deadline < h->heap[m]->deadline) m = l;
    if (r < h->heap_n && h->heap[r]->deadline < h->heap[m]->deadline) m = r;
    if (m == i) return;
    heap_swap(h, i, m);
    i = m;
  }
}

static void do_heap_push(chan_hub *h, waiter *w) {
  if (h->heap_n == h->heap_cap) {
    h->heap_cap = h->heap_cap ? h->heap_cap * 2 : 64;
    h->heap = realloc(h->heap, h->heap_cap * sizeof *h->heap);
    if (!h->heap) abort();
  }
  w->heap_i = h->heap_n;
  h->heap[h->heap_n++] = w;
  heap_up(h, w->heap_i);
}

static void do_heap_remove(chan_hub *h, waiter *w) {
  size_t i = w->heap_i;

  h->heap_n--;
  if (i != h->heap_n) {
    h->heap[i] = h->heap[h->heap_n];
    h->heap[i]->heap_i = i;
    heap_down(h, i);
    heap_up(h, i);
  }
}

/* ---------------------------------------------------------------- waiters */

static void wq_push(chan *c, waiter *w) {
  waiter **q = c->wq[w->kind];
  w->next = NULL;
  w->prev = q[1];
  if (q[1])
    q[1]->next = w;
  else
    q[0] = w;
  q[1] = w;
}

static void wq_unlink(chan *c, waiter *w) {
  waiter **q = c->wq[w->kind];
  if (w->prev)
    w->prev->next = w->next;
  else
    q[0] = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q[1] = w->prev;
  w->prev = w->next = NULL;
}

/* Takes w off its queue and the heap, and onto *done with its outcome. */
static void do_complete(chan_hub *h, waiter *w, chan_code code, waiter **done) {
  wq_unlink(w->ep->ch, w);
  do_heap_remove(h, w);
  w->code = code;
  w->done_next = *done;
  *done = w;
}

/* Runs completions (no lock held), in the order they were made. */
static void done_run(waiter *done) {
  waiter *rev = NULL, *n;

  for (; done; done = n) {
    n = done->done_next;
    done->done_next = rev;
    rev = done;
  }
  for (; rev; rev = n) {
    n = rev->done_next;
    json_t *msg =
        rev->kind == END_RECV && rev->code == CHAN_OK ? rev->msg : NULL;
    if (rev->kind == END_SEND) json_decref(rev->msg);
    rev->fn(rev->arg, rev->code, msg, rev->seq);
    free(rev);
  }
}

static void *timer_main(void *arg) {
  chan_hub *h = arg;

  pthread_mutex_lock(&h->mu);
  while (!h->stop_timer) {
    waiter *done = NULL;
    uint64_t now = now_ns();
    while (h->heap_n && h->heap[0]->deadline <= now) {
      waiter *w = h->heap[0];
      do_complete(h, w, w->kind == END_RECV ? CHAN_EMPTY : CHAN_FULL, &done);
    }
    if (done) {
      pthread_mutex_unlock(&h->mu);
      done_run(done);
      pthread_mutex_lock(&h->mu);
      continue;
    }
    if (!h->heap_n) {
      pthread_cond_wait(&h->cv, &h->mu);
    } else {
      struct timespec ts;
      uint64_t d = h->heap[0]->deadline - now;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      d += (uint64_t)ts.tv_nsec;
      ts.tv_sec += (time_t)(d / 1000000000u);
      ts.tv_nsec = (long)(d % 1000000000u);
      pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

static waiter *do_waiter_add(chan_hub *h, endpoint *e, int kind, double wait,
                             chan_done_fn fn, void *arg) {
  waiter *w = calloc(1, sizeof *w);

  if (!w) abort();
  w->kind = kind;
  w->ep = e;
  w->fn = fn;
  w->arg = arg;
  w->deadline = now_ns() + (uint64_t)(wait * 1e9);
  wq_push(e->ch, w);
  do_heap_push(h, w);
  if (w->heap_i == 0) pthread_cond_signal(&h->cv);
  return w;
}

int chan_cancel(chan_hub *h, void *arg) {
  waiter *w = NULL;
  pthread_mutex_lock(&h->mu);
  for (size_t i = 0; i < h->heap_n && !w; i++)
    if (h->heap[i]->arg == arg) w = h->heap[i];
  if (w) {
    wq_unlink(w->ep->ch, w);
    do_heap_remove(h, w);
  }
  pthread_mutex_unlock(&h->mu);
  if (!w) return 0;
  if (w->kind == END_SEND) json_decref(w->msg);
  free(w);
  return 1;
}

/* ------------------------------------------------------------------- hub */

chan_hub *chan_hub_new(const char *node) {
  chan_hub *h = calloc(1, sizeof *h);
  pthread_condattr_t ca;
  struct timespec now;

  if (!h) abort();
  snprintf(h->node, sizeof h->node, "%s", node);
  clock_gettime(CLOCK_REALTIME, &now);
  /* Ids stay unique across restarts: the counter starts at the clock. */
  h->counter = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
  h->tab_n = 64;
  h->tab = calloc(h->tab_n, sizeof *h->tab);
  if (!h->tab) abort();
  pthread_mutex_init(&h->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&h->timer, NULL, timer_main, h) != 0) abort();
  return h;
}

void chan_hub_shutdown(chan_hub *h) {
  waiter *done = NULL;

  pthread_mutex_lock(&h->mu);
  h->stopping = 1;
  while (h->heap_n)
    do_complete(h, h->heap[0], CHAN_STOPPING, &done);
  pthread_mutex_unlock(&h->mu);
  done_run(done);
}

static void chan_free(chan *c) {
  qitem *q, *n;

  for (q = c->qhead; q; q = n) {
    n = q->next;
    json_decref(q->msg);
    free(q);
  }
  json_decref(c->type);
  free(c);
}

void chan_hub_free(chan_hub *h) {
  chan *c, *cn;

  if (!h) return;
  chan_hub_shutdown(h);
  pthread_mutex_lock(&h->mu);
  h->stop_timer = 1;
  pthread_cond_signal(&h->cv);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->timer, NULL);
  for (c = h->chead; c; c = cn) {
    endpoint *e, *en;
    cn = c->next;
    for (e = c->eps; e; e = en) {
      en = e->cnext;
      free(e);
    }
    chan_free(c);
  }
  free(h->tab);
  free(h->heap);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

/* -------------------------------------------------------------- channels */

static endpoint *do_ep_new(chan_hub *h, chan *c, int kind) {
  endpoint *e = calloc(1, sizeof *e);

  if (!e) abort();
  snprintf(e->id, sizeof e->id, "%s-%" PRIx64, h->node, do_next_num(h));
  e->kind = kind;
  e->ch = c;
  e->cnext = c->eps;
  if (c->eps) c->eps->cprev = e;
  c->eps = e;
  c->open[kind]++;
  do_ep_insert(h, e);
  return e;
}

int chan_create(chan_hub *h, const json_t *type, int sync, size_t capacity,
                char send_id[CHAN_ID_MAX], char recv_id[CHAN_ID_MAX],
                chan_err *err) {
  chan *c;

  if (chan_type_check(type, err) != 0) return -1;
  if (sync && capacity != 0)
    return chan_fail(err, CHAN_INVALID, "capacity",
                     "a sync channel has capacity 0");
  if (!sync && (capacity < 1 || capacity > CHAN_CAPACITY_MAX))
    return chan_fail(err, CHAN_INVALID, "capacity",
                     "capacity must be an integer from 1 to %d",
                     CHAN_CAPACITY_MAX);
  c = calloc(1, sizeof *c);
  if (!c) abort();
  c->type = json_deep_copy(type);
  if (!c->type) abort();
  c->sync = sync;
  c->capacity = capacity;
  pthread_mutex_lock(&h->mu);
  c->num = do_next_num(h);
  snprintf(c->id, sizeof c->id, "%s-%" PRIx64, h->node, c->num);
  snprintf(send_id, CHAN_ID_MAX, "%s", do_ep_new(h, c, END_SEND)->id);
  snprintf(recv_id, CHAN_ID_MAX, "%s", do_ep_new(h, c, END_RECV)->id);
  c->prev = h->ctail;
  if (h->ctail)
    h->ctail->next = c;
  else
    h->chead = c;
  h->ctail = c;
  h->nchans++;
  pthread_mutex_unlock(&h->mu);
  return 0;
}

/* Finds an endpoint; on failure fills err. Lock held. */
static endpoint *do_lookup(chan_hub *h, const char *id, chan_err *err) {
  endpoint *e = do_ep_find(h, id);

  if (!e)
    chan_fail(err, CHAN_NOT_FOUND, NULL, "there is no channel endpoint %.80s",
              id);
  return e;
}

static void q_push(chan *c, json_t *msg, uint64_t seq) {
  qitem *q = malloc(sizeof *q);

  if (!q) abort();
  q->msg = msg;
  q->seq = seq;
  q->next = NULL;
  if (c->qtail)
    c->qtail->next = q;
  else
    c->qhead = q;
  c->qtail = q;
  c->queued++;
}

static json_t *q_pop(chan *c, uint64_t *seq) {
  qitem *q = c->qhead;
  json_t *msg = q->msg;

  c->qhead = q->next;
  if (!c->qhead) c->qtail = NULL;
  c->queued--;
  *seq = q->seq;
  free(q);
  return msg;
}

int chan_send(chan_hub *h, const char *id, const json_t *msg, double wait,
              chan_done_fn fn, void *arg, uint64_t *seq, chan_err *err) {
  waiter *done = NULL, *w;
  endpoint *e;
  chan *c;
  int ret = -1;

  if (!(wait >= 0)) wait = 0;
  if (wait > CHAN_WAIT_MAX) wait = CHAN_WAIT_MAX;
  pthread_mutex_lock(&h->mu);
  if (!(e = do_lookup(h, id, err))) goto Exit;
  c = e->ch;
  if (e->kind != END_SEND) {
    chan_fail(err, CHAN_WRONG_END, NULL, "%.80s is a receiving end", id);
    goto Exit;
  }
  if (chan_value_check(c->type, msg, err) != 0) goto Exit;
  if (e->closed || c->open[END_RECV] == 0) {
    chan_fail(err, CHAN_CLOSED, NULL,
              e->closed ? "this sending end is closed"
                        : "no receiving end of the channel is open");
    goto Exit;
  }
  if ((w = c->wq[END_RECV][0])) { /* a receiver waits: hand it over */
    w->msg = json_incref((json_t *)msg);
    w->seq = *seq = ++c->next_seq;
    do_complete(h, w, CHAN_OK, &done);
    ret = CHAN_OK;
  } else if (!c->sync && c->queued < c->capacity) {
    *seq = ++c->next_seq;
    q_push(c, json_incref((json_t *)msg), *seq);
    ret = CHAN_OK;
  } else if (wait == 0 || h->stopping) {
    if (h->stopping && wait > 0)
      chan_fail(err, CHAN_STOPPING, NULL, "the node is stopping");
    else
      chan_fail(err, CHAN_FULL, NULL,
                c->sync ? "no receiver is waiting; nothing was sent"
                        : "the channel is full; nothing was queued");
  } else {
    w = do_waiter_add(h, e, END_SEND, wait, fn, arg);
    w->msg = json_incref((json_t *)msg);
    ret = CHAN_PENDING;
  }
Exit:
  pthread_mutex_unlock(&h->mu);
  done_run(done);
  return ret;
}

int chan_recv(chan_hub *h, const char *id, double wait, chan_done_fn fn,
              void *arg, json_t **out, uint64_t *seq, chan_err *err) {
  waiter *done = NULL, *w;
  endpoint *e;
  chan *c;
  int ret = -1;

  if (!(wait >= 0)) wait = 0;
  if (wait > CHAN_WAIT_MAX) wait = CHAN_WAIT_MAX;
  pthread_mutex_lock(&h->mu);
  if (!(e = do_lookup(h, id, err))) goto Exit;
  c = e->ch;
  if (e->kind != END_RECV) {
    chan_fail(err, CHAN_WRONG_END, NULL, "%.80s is a sending end", id);
    goto Exit;
  }
  if (e->closed) {
    chan_fail(err, CHAN_CLOSED, NULL, "this receiving end is closed");
    goto Exit;
  }
  if (c->queued) {
    *out = q_pop(c, seq);
    if ((w = c->wq[END_SEND][0])) { /* room now: the first sender's turn */
      w->seq = ++c->next_seq;
      q_push(c, w->msg, w->seq);
      w->msg = NULL;
      do_complete(h, w, CHAN_OK, &done);
    }
    ret = CHAN_OK;
  } else if ((w = c->wq[END_SEND][0])) { /* sync: take from the sender */
    w->seq = *seq = ++c->next_seq;
    *out = w->msg;
    w->msg = NULL;
    do_complete(h, w, CHAN_OK, &done);
    ret = CHAN_OK;
  } else if (c->open[END_SEND] == 0) {
    chan_fail(err, CHAN_CLOSED, NULL, "the channel is closed and drained");
  } else if (wait == 0 || h->stopping) {
    if (h->stopping && wait > 0)
      chan_fail(err, CHAN_STOPPING, NULL, "the node is stopping");
    else
      chan_fail(err, CHAN_EMPTY, NULL, "nothing to receive");
  } else {
    do_waiter_add(h, e, END_RECV, wait, fn, arg);
    ret = CHAN_PENDING;
  }
Exit:
  pthread_mutex_unlock(&h->mu);
  done_run(done);
  return ret;
}

int chan_clone(chan_hub *h, const char *id, char out[CHAN_ID_MAX],
               chan_err *err) {
  endpoint *e;
  int ret = -1;

  pthread_mutex_lock(&h->mu);
  if (!(e = do_lookup(h, id, err))) goto Exit;
  if (e->closed) {
    chan_fail(err, CHAN_CLOSED, NULL, "a closed end cannot be cloned");
    goto Exit;
  }
  snprintf(out, CHAN_ID_MAX, "%s", do_ep_new(h, e->ch, e->kind)->id);
  ret = 0;
Exit:
  pthread_mutex_unlock(&h->mu);
  return ret;
}

/* Completes every waiter of kind on c (of endpoint e only, when e). */
static void do_fail_waiters(chan_hub *h, chan *c, int kind, endpoint *e,
                            waiter **done) {
  waiter *w = c->wq[kind][0], *n;

  for (; w; w = n) {
    n = w->next;
    if (!e || w->ep == e) do_complete(h, w, CHAN_CLOSED, done);
  }
}

static void do_close(chan_hub *h, endpoint *e, waiter **done) {
  chan *c = e->ch;

  if (e->closed) return;
  e->closed = 1;
  c->open[e->kind]--;
  do_fail_waiters(h, c, e->kind, e, done);
  if (c->open[END_SEND] == 0) /* nothing more will come */
    do_fail_waiters(h, c, END_RECV, NULL, done);
  if (c->open[END_RECV] == 0) { /* nobody will take it */
    do_fail_waiters(h, c, END_SEND, NULL, done);
    while (c->queued) {
      uint64_t s;
      json_decref(q_pop(c, &s));
    }
  }
}

int chan_close(chan_hub *h, const char *id, chan_err *err) {
  waiter *done = NULL;
  endpoint *e;
  int ret = -1;

  pthread_mutex_lock(&h->mu);
  if ((e = do_lookup(h, id, err))) {
    do_close(h, e, &done);
    ret = 0;
  }
  pthread_mutex_unlock(&h->mu);
  done_run(done);
  return ret;
}

int chan_delete(chan_hub *h, const char *id, chan_err *err) {
  waiter *done = NULL;
  endpoint *e;
  chan *c = NULL;
  int ret = -1;

  pthread_mutex_lock(&h->mu);
  if ((e = do_lookup(h, id, err))) {
    c = e->ch;
    do_close(h, e, &done);
    do_ep_unlink(h, e);
    if (e->cprev)
      e->cprev->cnext = e->cnext;
    else
      c->eps = e->cnext;
    if (e->cnext) e->cnext->cprev = e->cprev;
    free(e);
    if (!c->eps) {
      if (c->prev)
        c->prev->next = c->next;
      else
        h->chead = c->next;
      if (c->next)
        c->next->prev = c->prev;
      else
        h->ctail = c->prev;
      h->nchans--;
    } else {
      c = NULL;
    }
    ret = 0;
  }
  pthread_mutex_unlock(&h->mu);
  done_run(done);
  if (c) chan_free(c);
  return ret;
}

/* ------------------------------------------------------------ describing */

static json_t *do_chan_json(const chan *c) {
  json_t *o, *ids[2];
  const endpoint *e;

  ids[0] = json_array();
  ids[1] = json_array();
  /* endpoints are kept newest first; list them oldest first */
  for (e = c->eps; e && e->cnext; e = e->cnext)
    ;
  for (; e; e = e->cprev)
    json_array_append_new(ids[e->kind], json_string(e->id));
  o = json_pack("{s:s, s:O, s:s, s:I, s:I, s:i, s:i, s:o, s:o}", "channel",
                c->id, "type", c->type, "mode", c->sync ? "sync" : "async",
                "capacity", (json_int_t)c->capacity, "queued",
                (json_int_t)c->queued, "send_open", c->open[END_SEND],
                "recv_open", c->open[END_RECV], "send", ids[0], "recv", ids[1]);
  if (!o) abort();
  return o;
}

int chan_info(chan_hub *h, const char *id, json_t **out, chan_err *err) {
  endpoint *e;
  int ret = -1;

  pthread_mutex_lock(&h->mu);
  if ((e = do_lookup(h, id, err))) {
    *out = do_chan_json(e->ch);
    json_object_set_new(*out, "id", json_string(e->id));
    json_object_set_new(*out, "end",
                        json_string(e->kind == END_SEND ? "send" : "recv"));
    json_object_set_new(*out, "closed", json_boolean(e->closed));
    ret = 0;
  }
  pthread_mutex_unlock(&h->mu);
  return ret;
}

int chan_list(chan_hub *h, const char *after, size_t limit, json_t **items,
              int *more, chan_err *err) {
  uint64_t from = 0;
  size_t nl;
  chan *c;

  if (after) {
    char *end;
    nl = strlen(h->node);
    if (strncmp(after, h->node, nl) != 0 || after[nl] != '-' || !after[nl + 1])
      return chan_fail(err, CHAN_BAD_REQUEST, "cursor",
                       "not a cursor of this list");
    errno = 0;
    from = strtoull(after + nl + 1, &end, 16);
    if (errno || *end)
      return chan_fail(err, CHAN_BAD_REQUEST, "cursor",
                       "not a cursor of this list");
  }
  *items = json_array();
  *more = 0;
  pthread_mutex_lock(&h->mu);
  for (c = h->chead; c; c = c->next) {
    if (after && c->num <= from) continue;
    if (json_array_size(*items) == limit) {
      *more = 1;
      break;
    }
    json_array_append_new(*items, do_chan_json(c));
  }
  pthread_mutex_unlock(&h->mu);
  return 0;
}

size_t chan_count(chan_hub *h) {
  size_t n;

  pthread_mutex_lock(&h->mu);
  n = h->nchans;
  pthread_mutex_unlock(&h->mu);
  return n;
}
