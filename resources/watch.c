/*
 * watch.c — change streams as server-sent events: GET /fs/{space}?watch
 * (the space's committed changes) and GET /fibrils?watch (fibril records
 * as they change).
 *
 * Each stream family has a feed: a ring of the last events, already
 * written as SSE frames, numbered by one sequence per feed. The store's
 * writer thread appends the changes of each durable group (store_feed_set)
 * and the fibril table appends records as they change (rt_table_watch_set);
 * both only copy and append under one mutex and wake the parked streams
 * whose filter the event matches, so neither ever waits for a client.
 *
 * A stream owns a cursor (the seq of the last event it sent or skipped)
 * and one frame being sent: that is all a connection ever holds. Its pull
 * copies the next matching frame out of the ring; with nothing to send it
 * parks (reply_stream) until an event for it or its heartbeat is due. A
 * parked stream has seen everything, so an append that does not match it
 * moves its cursor on: only a stream that is not reading (a slow client)
 * can fall out of the ring, and it is then told `reset` and ended.
 *
 * Sequence numbers start above the epoch, the time watch_init ran in
 * microseconds, so they grow across restarts too: a Last-Event-ID from an
 * earlier run is always older than what is retained, and gets a reset.
 *
 * One timer thread sends heartbeats: it wakes parked streams whose
 * heartbeat is due. resources_quiesce (watch_quiesce) wakes every stream,
 * which then sends `close` and ends, so a stopping node is not held up.
 */
#include "resources/resources.h"
#include "util/text.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_EVENTS_MAX 10000       /* events a feed retains */
#define WATCH_BYTES_MAX (32ul << 20) /* bytes of frames a feed retains */
#define WATCH_HEARTBEAT_DEFAULT 15.0 /* seconds, as channel streams */
#define WATCH_OBJECT_MAX (1ul << 20) /* larger objects are not in events */

/* ------------------------------------------------------------------ ring */

/* One retained event. */
typedef struct {
  uint64_t seq;
  char *topic; /* fs: the space; fibrils: the parent's id, or NULL */
  char *sub;   /* fs: the key (NULL for a space delete); fibrils: the id */
  int last;    /* a stream of this topic ends after it (space deleted) */
  char *frame; /* "id: ..\nevent: ..\ndata: ..\n\n" */
  size_t len;
} wev;

/* The retained events of a feed, oldest first. The caller locks. */
typedef struct {
  wev *ev;
  size_t cap, first, n;    /* a ring of cap slots; n used from first */
  size_t bytes, max_bytes; /* frame bytes retained, and their cap */
  uint64_t epoch;          /* the seq before this run's first event */
  uint64_t head;           /* the newest seq given out (epoch: none yet) */
} wring;

static void wring_init(wring *r, size_t cap, size_t max_bytes, uint64_t epoch) {
  memset(r, 0, sizeof *r);
  r->ev = calloc(cap, sizeof *r->ev);
  if (!r->ev) abort();
  r->cap = cap;
  r->max_bytes = max_bytes;
  r->epoch = r->head = epoch;
}

static wev *wring_at(const wring *r, size_t i) {
  return &r->ev[(r->first + i) % r->cap];
}

/* The seq of the oldest event retained; head + 1 when there is none. */
static uint64_t wring_oldest(const wring *r) {
  return r->n ? wring_at(r, 0)->seq : r->head + 1;
}

/* 1 when every event after seq `after` is still retained. */
static int wring_resumable(const wring *r, uint64_t after) {
  return after <= r->head && after + 1 >= wring_oldest(r);
}

static void wring_evict(wring *r) {
  wev *e = wring_at(r, 0);
  r->bytes -= e->len;
  free(e->topic);
  free(e->sub);
  free(e->frame);
  memset(e, 0, sizeof *e);
  r->first = (r->first + 1) % r->cap;
  r->n--;
}

/*
 * Appends the event numbered head + 1 (its frame must say so), taking
 * topic, sub and frame; the oldest events go first to keep within cap
 * events and max_bytes (the new one is kept even when alone over it).
 */
static const wev *wring_push(wring *r, char *topic, char *sub, int last,
                             char *frame, size_t len) {
  wev *e;
  while (r->n && (r->n == r->cap || r->bytes + len > r->max_bytes))
    wring_evict(r);
  e = wring_at(r, r->n++);
  e->seq = ++r->head;
  e->topic = topic;
  e->sub = sub;
  e->last = last;
  e->frame = frame;
  e->len = len;
  r->bytes += len;
  return e;
}

static void wring_free(wring *r) {
  while (r->n)
    wring_evict(r);
  free(r->ev);
  r->ev = NULL;
}

static int str_eq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* Whether a stream filtered on topic and sub (NULL: any) wants e. The
 * event that ends a topic goes to every stream of the topic. */
static int wev_matches(const wev *e, const char *topic, const char *sub) {
  return (!topic || str_eq(e->topic, topic)) &&
         (e->last || !sub || str_eq(e->sub, sub));
}

/*
 * The first event after seq `after` (resumable) that matches, or NULL
 * with *upto = head: the stream has seen everything up to there.
 */
static const wev *wring_next(const wring *r, uint64_t after, const char *topic,
                             const char *sub, uint64_t *upto) {
  for (size_t i = (size_t)(after + 1 - wring_oldest(r)); i < r->n; i++) {
    const wev *e = wring_at(r, i);
    if (wev_matches(e, topic, sub)) return e;
  }
  *upto = r->head;
  return NULL;
}

/* --------------------------------------------------------- feeds, streams */

typedef struct watcher watcher;

typedef struct {
  wring ring;
  watcher *parked; /* streams waiting for an event or a heartbeat */
  long streams;    /* open streams of this feed */
} wfeed;

/* One stream: its filter, its place in the feed and the bytes it sends. */
struct watcher {
  wfeed *feed;
  char *topic, *sub;      /* the filter (owned; NULL: any) */
  uint64_t cursor;        /* the last seq sent or skipped */
  int fresh;              /* nothing sent from the ring yet */
  uint64_t hb_ns, due_ns; /* heartbeat interval; when the next is due */
  int beat;               /* the timer woke it: a heartbeat is due */
  int ended;              /* buf holds the last bytes */
  int parked;             /* in feed->parked */
  watcher *prev, *next;
  m31_stream *s;
  char *buf;
  size_t len, off, cap;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t tick; /* the timer thread sleeps on it */
  pthread_t timer;
  int running;         /* watch_init succeeded */
  int stopping;        /* watch_quiesce ran: streams end, none start */
  int ending;          /* watch_free: the timer thread ends */
  uint64_t timer_next; /* when the timer wakes next; UINT64_MAX: not */
  wfeed fs, fibrils;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* stream_wake; unit tests put their own. */
static void (*watch_wake_fn)(m31_stream *s) = stream_wake;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Replaces what w has to send with len bytes of text (copied). */
static void watcher_put(watcher *w, const char *text, size_t len) {
  if (len > w->cap) {
    free(w->buf);
    w->cap = len < 256 ? 256 : len;
    if (!(w->buf = malloc(w->cap))) abort();
  }
  memcpy(w->buf, text, len);
  w->len = len;
  w->off = 0;
}

static void watcher_printf(watcher *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void watcher_printf(watcher *w, const char *fmt, ...) {
  char text[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof text) abort(); /* fixed texts only */
  watcher_put(w, text, (size_t)n);
}

/* Caller locks. */
static void do_unpark(watcher *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    w->feed->parked = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
  w->parked = 0;
}

/* Caller locks. The timer is told when w is due before it would wake. */
static void do_park(watcher *w) {
  w->prev = NULL;
  w->next = w->feed->parked;
  if (w->next) w->next->prev = w;
  w->feed->parked = w;
  w->parked = 1;
  if (w->due_ns < W.timer_next) {
    W.timer_next = w->due_ns;
    pthread_cond_signal(&W.tick);
  }
}

/* Wakes the streams of a list made under the lock (linked by next), after
 * the unlock: a stream may end and be freed as soon as it is woken. */
static void wake_list(watcher *w) {
  for (watcher *n; w; w = n) {
    n = w->next;
    watch_wake_fn(w->s);
  }
}

/*
 * Appends an event to feed f and moves every parked stream it matches
 * onto *wake; the others have seen it (they had nothing to send). Takes
 * topic, sub and frame. Caller locks.
 */
static void do_append(wfeed *f, char *topic, char *sub, int last, char *frame,
                      size_t len, watcher **wake) {
  const wev *e = wring_push(&f->ring, topic, sub, last, frame, len);
  for (watcher *w = f->parked, *n; w; w = n) {
    n = w->next;
    if (wev_matches(e, w->topic, w->sub)) {
      do_unpark(w);
      w->next = *wake;
      *wake = w;
    } else {
      w->cursor = e->seq;
    }
  }
}

static void reset_put(watcher *w, const char *reason) {
  const wring *r = &w->feed->ring;
  char oldest[32] = "null";
  if (r->n)
    snprintf(oldest, sizeof oldest, "%llu",
             (unsigned long long)wring_oldest(r));
  watcher_printf(w,
                 "id: %llu\nevent: reset\ndata: {\"reason\":\"%s\","
                 "\"oldest\":%s,\"last\":%llu,\"epoch\":%llu}\n\n",
                 (unsigned long long)r->head, reason, oldest,
                 (unsigned long long)r->head, (unsigned long long)r->epoch);
}

/*
 * Puts the next bytes w has to send into its buffer: 1, or 0 when there is
 * nothing (then the caller parks it). Caller locks.
 */
static int do_advance(watcher *w, uint64_t now) {
  wring *r = &w->feed->ring;
  const wev *e;
  uint64_t upto = 0;

  if (W.stopping) {
    watcher_printf(w, "event: close\ndata: {\"reason\":\"stopping\"}\n\n");
    w->ended = 1;
    return 1;
  }
  if (!wring_resumable(r, w->cursor)) {
    if (w->fresh) { /* since is not retained: on from now */
      w->fresh = 0;
      reset_put(w, "since");
      w->cursor = r->head;
      w->due_ns = now + w->hb_ns;
      return 1;
    }
    reset_put(w, "behind"); /* the ring dropped what it had not sent */
    w->ended = 1;
    return 1;
  }
  w->fresh = 0;
  if ((e = wring_next(r, w->cursor, w->topic, w->sub, &upto))) {
    watcher_put(w, e->frame, e->len);
    w->cursor = e->seq;
    w->ended = e->last;
    w->due_ns = now + w->hb_ns;
    return 1;
  }
  w->cursor = upto;
  if (w->beat || now >= w->due_ns) {
    watcher_printf(w, ": keep-alive\n\n");
    w->beat = 0;
    w->due_ns = now + w->hb_ns;
    return 1;
  }
  return 0;
}

static long watch_pull(m31_stream *s, void *arg, char *buf, size_t max) {
  watcher *w = arg;
  int more;

  w->s = s;
  for (;;) {
    if (w->off < w->len) {
      size_t n = w->len - w->off < max ? w->len - w->off : max;
      memcpy(buf, w->buf + w->off, n);
      w->off += n;
      return (long)n;
    }
    if (w->ended) return -1;
    pthread_mutex_lock(&W.mu);
    more = do_advance(w, mono_ns());
    if (!more) do_park(w);
    pthread_mutex_unlock(&W.mu);
    if (!more) return 0;
  }
}

static void watcher_free(watcher *w) {
  if (!w) return;
  free(w->topic);
  free(w->sub);
  free(w->buf);
  free(w);
}

/* The stream is over (or was never sent). */
static void watch_done(void *arg) {
  watcher *w = arg;
  pthread_mutex_lock(&W.mu);
  w->feed->streams--;
  if (w->parked)
    do_unpark(w); /* not expected: a parked stream is woken
                     before the daemon lets it go */
  pthread_mutex_unlock(&W.mu);
  watcher_free(w);
}

/* A stream of feed f from seq since (or from now), filtered on topic and
 * sub (copied; NULL: any). */
static watcher *watcher_new(wfeed *f, const char *topic, const char *sub,
                            double heartbeat, int since_given, uint64_t since) {
  watcher *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->feed = f;
  if ((topic && !(w->topic = strdup(topic))) ||
      (sub && !(w->sub = strdup(sub))))
    abort();
  w->fresh = 1;
  w->hb_ns = (uint64_t)(heartbeat * 1e9);
  pthread_mutex_lock(&W.mu);
  f->streams++;
  w->cursor = since_given ? since : f->ring.head;
  w->due_ns = mono_ns() + w->hb_ns;
  pthread_mutex_unlock(&W.mu);
  return w;
}

/* ------------------------------------------------------------ the timer */

static void *timer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&W.mu);
  while (!W.ending) {
    uint64_t now = mono_ns(), next = UINT64_MAX;
    watcher *wake = NULL;
    wfeed *feeds[] = {&W.fs, &W.fibrils};

    for (int i = 0; i < 2; i++) {
      for (watcher *w = feeds[i]->parked, *n; w; w = n) {
        n = w->next;
        if (w->due_ns <= now) {
          do_unpark(w);
          w->beat = 1;
          w->next = wake;
          wake = w;
        } else if (w->due_ns < next) {
          next = w->due_ns;
        }
      }
    }
    W.timer_next = next;
    if (wake) {
      pthread_mutex_unlock(&W.mu);
      wake_list(wake);
      pthread_mutex_lock(&W.mu);
      continue;
    }
    if (next == UINT64_MAX) {
      pthread_cond_wait(&W.tick, &W.mu);
    } else {
      struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
                            .tv_nsec = (long)(next % 1000000000u)};
      pthread_cond_timedwait(&W.tick, &W.mu, &ts);
    }
  }
  pthread_mutex_unlock(&W.mu);
  return NULL;
}

/* ----------------------------------------------------------- life cycle */

static uint64_t epoch_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int watch_init(char *errbuf, size_t errlen) {
  pthread_condattr_t ca;
  uint64_t epoch = epoch_now();

  wring_init(&W.fs.ring, WATCH_EVENTS_MAX, WATCH_BYTES_MAX, epoch);
  wring_init(&W.fibrils.ring, WATCH_EVENTS_MAX, WATCH_BYTES_MAX, epoch);
  W.timer_next = UINT64_MAX;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&W.tick, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&W.timer, NULL, timer_main, NULL) != 0) {
    snprintf(errbuf, errlen, "cannot start the watch timer thread");
    return -1;
  }
  W.running = 1;
  return 0;
}

void watch_quiesce(void) {
  watcher *wake = NULL;
  wfeed *feeds[] = {&W.fs, &W.fibrils};

  pthread_mutex_lock(&W.mu);
  W.stopping = 1;
  for (int i = 0; i < 2; i++) {
    while (feeds[i]->parked) {
      watcher *w = feeds[i]->parked;
      do_unpark(w);
      w->next = wake;
      wake = w;
    }
  }
  pthread_mutex_unlock(&W.mu);
  wake_list(wake);
}

void watch_free(void) {
  if (W.running) {
    pthread_mutex_lock(&W.mu);
    W.ending = 1;
    pthread_cond_signal(&W.tick);
    pthread_mutex_unlock(&W.mu);
    pthread_join(W.timer, NULL);
    pthread_cond_destroy(&W.tick);
    W.running = 0;
  }
  wring_free(&W.fs.ring);
  wring_free(&W.fibrils.ring);
}

/* ----------------------------------------------------------- the feeds */

static const char *const change_event[] = {
    [STORE_CHANGE_PUT] = "put",
    [STORE_CHANGE_PATCH] = "patch",
    [STORE_CHANGE_DELETE] = "delete",
    [STORE_CHANGE_BRANCH] = "branch",
    [STORE_CHANGE_SPACE_DELETE] = "deleted",
};

/*
 * The frame of change c as event seq (malloc'ed; *len its length):
 * data {"seq","space","key","op","version","branch","object"}, without
 * key, version, branch and object for a space delete, without object for
 * a delete.
 */
static char *fs_frame(uint64_t seq, const store_change *c, size_t *len) {
  const char *ev = change_event[c->op];
  json_t *o =
      json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "space", c->space);
  char *env, *frame;
  size_t n, cap;

  if (!o) abort();
  if (c->op != STORE_CHANGE_SPACE_DELETE) {
    json_object_set_new(o, "key", json_string(c->key));
    json_object_set_new(o, "op", json_string(ev));
    json_object_set_new(o, "version", json_integer((json_int_t)c->version));
    json_object_set_new(o, "branch", json_string(c->branch));
  } else {
    json_object_set_new(o, "op", json_string(ev));
  }
  env = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!env) abort(); /* names are checked UTF-8 */
  n = strlen(env);
  cap = n + c->object_len + 96;
  if (!(frame = malloc(cap))) abort();
  if (c->object) {
    env[n - 1] = '\0'; /* the envelope's closing brace */
    *len = (size_t)snprintf(frame, cap,
                            "id: %llu\nevent: %s\ndata: %s,\"object\":%s}\n\n",
                            (unsigned long long)seq, ev, env, c->object);
  } else {
    *len = (size_t)snprintf(frame, cap, "id: %llu\nevent: %s\ndata: %s\n\n",
                            (unsigned long long)seq, ev, env);
  }
  free(env);
  return frame;
}

static char *strdup_or_null(const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d) abort();
  return d;
}

void watch_store_feed(void *ud, const store_change *changes, size_t n) {
  watcher *wake = NULL;

  (void)ud;
  pthread_mutex_lock(&W.mu);
  for (size_t i = 0; i < n && W.fs.ring.ev; i++) {
    const store_change *c = &changes[i];
    size_t len;
    char *frame;
    if (c->object_len > WATCH_OBJECT_MAX) {
      /* kept out of the ring: the event says what changed, a GET the rest */
      store_change slim = *c;
      slim.object = NULL;
      slim.object_len = 0;
      frame = fs_frame(W.fs.ring.head + 1, &slim, &len);
    } else {
      frame = fs_frame(W.fs.ring.head + 1, c, &len);
    }
    do_append(&W.fs, strdup_or_null(c->space), strdup_or_null(c->key),
              c->op == STORE_CHANGE_SPACE_DELETE, frame, len, &wake);
  }
  pthread_mutex_unlock(&W.mu);
  wake_list(wake);
}

int watch_fibrils_wanted(void *ud) {
  long n;
  (void)ud;
  pthread_mutex_lock(&W.mu);
  n = W.fibrils.streams;
  pthread_mutex_unlock(&W.mu);
  return n > 0;
}

/* A change no stream looked at: forget what is retained and count it, so
 * a resume from before it gets a reset rather than a hole. */
static void fibril_gap(void) {
  pthread_mutex_lock(&W.mu);
  if (W.fibrils.ring.ev) {
    while (W.fibrils.ring.n)
      wring_evict(&W.fibrils.ring);
    W.fibrils.ring.head++;
  }
  pthread_mutex_unlock(&W.mu);
}

void watch_fibril_feed(void *ud, const json_t *rec) {
  if (!rec) {
    fibril_gap();
    return;
  }
  char *data = json_dumps(rec, JSON_COMPACT), *frame;
  const char *parent = json_string_value(json_object_get(rec, "parent"));
  const char *id = json_string_value(json_object_get(rec, "id"));
  watcher *wake = NULL;
  size_t cap, len;

  (void)ud;
  if (!data) abort();
  cap = strlen(data) + 64;
  if (!(frame = malloc(cap))) abort();
  pthread_mutex_lock(&W.mu);
  if (W.fibrils.ring.ev) {
    len = (size_t)snprintf(frame, cap, "id: %llu\nevent: fibril\ndata: %s\n\n",
                           (unsigned long long)W.fibrils.ring.head + 1, data);
    do_append(&W.fibrils, strdup_or_null(parent), strdup_or_null(id), 0, frame,
              len, &wake);
    frame = NULL;
  }
  pthread_mutex_unlock(&W.mu);
  free(frame);
  free(data);
  wake_list(wake);
}

/* ------------------------------------------------------------- requests */

int watch_wanted(m31_req *r) {
  const char *q = req_query(r, "watch");
  const char *a = req_header(r, "Accept");
  if (q) return strcmp(q, "false") != 0;
  return a && strstr(a, "text/event-stream") != NULL;
}

/*
 * Where the stream starts: Last-Event-ID (what a reconnecting EventSource
 * sends; it wins) or ?since=, each the seq of the last event seen.
 */
static int since_or_reply(m31_req *r, int *given, uint64_t *since) {
  const char *h = req_header(r, "Last-Event-ID");
  const char *q = req_query(r, "since");

  *given = 0;
  if (h && *h) {
    if (u64_parse(h, since) != 0) {
      reply_problem(r, 400, "Last-Event-ID",
                    "Last-Event-ID must be the id of an event (digits)");
      return -1;
    }
    *given = 1;
    return 0;
  }
  if (q) {
    if (u64_parse(q, since) != 0) {
      reply_problem(r, 400, "since",
                    "since must be the id of an event (digits)");
      return -1;
    }
    *given = 1;
  }
  return 0;
}

/* ?heartbeat= seconds, 1..60 (decimals allowed). */
static int heartbeat_or_reply(m31_req *r, double *out) {
  const char *s = req_query(r, "heartbeat");
  char *end;

  *out = WATCH_HEARTBEAT_DEFAULT;
  if (!s) return 0;
  *out = strtod(s, &end);
  if (!*s || *end || !isfinite(*out) || *out < 1 || *out > 60) {
    reply_problem(r, 400, "heartbeat",
                  "heartbeat must be a number of seconds from 1 to 60");
    return -1;
  }
  return 0;
}

/* Every query parameter is one of names (NULL-ended); else 400. */
static int params_or_reply(m31_req *r, const char *const *names) {
  for (size_t i = 0; i < req_query_count(r); i++) {
    const char *name, *value;
    size_t k = 0;
    req_query_at(r, i, &name, &value);
    while (names[k] && strcmp(names[k], name) != 0)
      k++;
    if (!names[k]) {
      reply_problem(r, 400, name, "%.100s is not a parameter of a watch", name);
      return -1;
    }
  }
  return 0;
}

/* Starts answering w's stream on r (HEAD: only the headers). */
static void watch_start(m31_req *r, watcher *w) {
  if (strcmp(req_method(r), "HEAD") == 0) {
    watcher_free(w);
    reply_bytes(r, 200, "text/event-stream", "", 0);
    return;
  }
  /* sent at once, so the client sees the answer start */
  watcher_printf(w, ": m31 watch\n\n");
  reply_stream(r, 200, "text/event-stream", watch_pull, watch_done, w);
}

static int stopping_or_reply(m31_req *r) {
  int stopping;
  pthread_mutex_lock(&W.mu);
  stopping = W.stopping || !W.fs.ring.ev;
  pthread_mutex_unlock(&W.mu);
  if (stopping) reply_problem(r, 503, NULL, "the node is stopping");
  return stopping ? -1 : 0;
}

void watch_fs(m31_req *r, const char *space) {
  static const char *const names[] = {"watch",     "since", "key",
                                      "heartbeat", "fmt",   NULL};
  const char *key = req_query(r, "key");
  store_err err = {0};
  json_t *schema = NULL;
  double hb;
  uint64_t since = 0;
  int given;
  watcher *w;

  if (params_or_reply(r, names) != 0 || heartbeat_or_reply(r, &hb) != 0 ||
      since_or_reply(r, &given, &since) != 0)
    return;
  if (key && store_name_check(key, "key", &err) != 0) {
    reply_problem(r, 400, "key", "%s", err.detail);
    return;
  }
  if (stopping_or_reply(r) != 0) return;
  /* The cursor is taken before the space is looked at: a delete after the
   * look is then an event of this stream. */
  w = watcher_new(&W.fs, space, key, hb, given, since);
  if (store_space_get(resources_store(), space, &schema, &err) != 0) {
    watcher_free(w);
    reply_problem(r, err.code == STORE_NOT_FOUND ? 404 : 500,
                  err.code == STORE_NOT_FOUND ? "space" : NULL, "%s",
                  err.detail);
    return;
  }
  json_decref(schema);
  watch_start(r, w);
}

void watch_fibrils(m31_req *r) {
  static const char *const names[] = {"watch",     "since", "parent",
                                      "heartbeat", "fmt",   NULL};
  const char *parent = req_query(r, "parent");
  double hb;
  uint64_t since = 0;
  int given;

  if (params_or_reply(r, names) != 0 || heartbeat_or_reply(r, &hb) != 0 ||
      since_or_reply(r, &given, &since) != 0)
    return;
  if (parent && !*parent) {
    reply_problem(r, 400, "parent", "parent must be a fibril id");
    return;
  }
  if (stopping_or_reply(r) != 0) return;
  watch_start(r, watcher_new(&W.fibrils, parent, NULL, hb, given, since));
}
