/*
 * channels.c — /channels: one-way typed FIFOs (runtime/channel.h) over
 * HTTP. Each endpoint is a URI, /channels/{id}: POST sends on a send end,
 * GET receives on a receive end (one message by long-poll, or a stream of
 * them as server-sent events).
 *
 * Waiting never holds a pool thread: a long-poll parks its request
 * (req_suspend) and the channel's callback resumes it from the sender's
 * thread or the hub's timer thread; an event stream parks its connection
 * between messages (reply_stream / stream_wake). A parked client that goes
 * away is noticed only when its wait ends (a long-poll's ?wait=, a stream's
 * heartbeat): a message handed to it meanwhile is lost (at most once).
 */
#include "resources/resources.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CH_LIMIT_DEFAULT 100
#define CH_LIMIT_MAX 1000
#define CH_CAPACITY_DEFAULT 16
#define CH_HEARTBEAT_DEFAULT 15.0

static const int status_of_code[] = {
    [CHAN_OK] = 200,        [CHAN_PENDING] = 500, [CHAN_EMPTY] = 204,
    [CHAN_FULL] = 409,      [CHAN_CLOSED] = 410,  [CHAN_NOT_FOUND] = 404,
    [CHAN_WRONG_END] = 409, [CHAN_INVALID] = 422, [CHAN_BAD_REQUEST] = 400,
    [CHAN_STOPPING] = 503,
};

static void reply_chan_err(m31_req *r, const chan_err *e) {
  reply_problem(r, status_of_code[e->code], e->field[0] ? e->field : NULL, "%s",
                e->detail);
}

static json_t *uri_new(const char *id) {
  char buf[CHAN_ID_MAX + 16];
  snprintf(buf, sizeof buf, "/channels/%s", id);
  return json_string(buf);
}

/* Rewrites the "send" and "recv" id arrays of an info object as URIs. */
static json_t *ids_to_uris(json_t *o) {
  static const char *const keys[] = {"send", "recv"};

  for (int k = 0; k < 2; k++) {
    json_t *a = json_object_get(o, keys[k]), *out = json_array(), *v;
    size_t i;
    json_array_foreach(a, i, v) {
      json_array_append_new(out, uri_new(json_string_value(v)));
    }
    json_object_set_new(o, keys[k], out);
  }
  return o;
}

/* ?name= as seconds in [0, max] (decimals allowed); default when absent. */
static int seconds_or_reply(m31_req *r, const char *name, double dflt,
                            double min, double max, double *out) {
  const char *s = req_query(r, name);
  char *end;

  *out = dflt;
  if (!s) return 0;
  *out = strtod(s, &end);
  if (!*s || *end || !isfinite(*out) || *out < min || *out > max) {
    reply_problem(r, 400, name, "%s must be a number of seconds from %g to %g",
                  name, min, max);
    return -1;
  }
  return 0;
}

/* --------------------------------------------------------------- /channels */

void channels_list(m31_req *r) {
  const char *s = req_query(r, "limit"), *cursor = req_query(r, "cursor");
  size_t limit = CH_LIMIT_DEFAULT;
  json_t *items, *v;
  chan_err err = {0};
  int more;
  size_t i;

  if (s) {
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (!*s || *end || s[0] == '-' || s[0] == '+' || n < 1 ||
        n > CH_LIMIT_MAX) {
      reply_problem(r, 400, "limit", "limit must be an integer from 1 to %d",
                    CH_LIMIT_MAX);
      return;
    }
    limit = n;
  }
  if (chan_list(resources_channels(), cursor, limit, &items, &more, &err) !=
      0) {
    reply_chan_err(r, &err);
    return;
  }
  json_array_foreach(items, i, v) { ids_to_uris(v); }
  v = json_array_get(items, json_array_size(items) - 1);
  reply_json(r, 200,
             json_pack("{s:o, s:o}", "items", items, "next",
                       more && v ? json_copy(json_object_get(v, "channel"))
                                 : json_null()));
}

void channels_create(m31_req *r) {
  json_t *body = NULL, *type, *mode, *cap;
  char send_id[CHAN_ID_MAX], recv_id[CHAN_ID_MAX];
  const char *k;
  json_t *v;
  chan_err err = {0};
  int sync = 0;
  size_t capacity = CH_CAPACITY_DEFAULT;

  if (req_json_or_reply(r, &body) != 0) return;
  if (!json_is_object(body)) {
    reply_problem(r, 422, NULL, "the body must be a JSON object");
    goto Exit;
  }
  json_object_foreach(body, k, v) {
    if (strcmp(k, "type") && strcmp(k, "mode") && strcmp(k, "capacity")) {
      reply_problem(r, 422, k, "%.100s is not a field of a channel", k);
      goto Exit;
    }
  }
  type = json_object_get(body, "type");
  mode = json_object_get(body, "mode");
  cap = json_object_get(body, "capacity");
  if (!type) {
    reply_problem(r, 422, "type", "type is required");
    goto Exit;
  }
  if (mode && (!json_is_string(mode) ||
               (strcmp(json_string_value(mode), "sync") != 0 &&
                strcmp(json_string_value(mode), "async") != 0))) {
    reply_problem(r, 422, "mode", "mode must be \"sync\" or \"async\"");
    goto Exit;
  }
  sync = mode && strcmp(json_string_value(mode), "sync") == 0;
  if (sync) capacity = 0;
  if (cap) {
    if (!json_is_integer(cap) || json_integer_value(cap) < 0 ||
        json_integer_value(cap) > CHAN_CAPACITY_MAX) {
      reply_problem(r, 422, "capacity",
                    "capacity must be an integer from %d to %d", sync ? 0 : 1,
                    CHAN_CAPACITY_MAX);
      goto Exit;
    }
    capacity = (size_t)json_integer_value(cap);
  }
  if (chan_create(resources_channels(), type, sync, capacity, send_id, recv_id,
                  &err) != 0) {
    reply_chan_err(r, &err);
    goto Exit;
  }
  {
    json_t *info = NULL;
    if (chan_info(resources_channels(), send_id, &info, &err) != 0) {
      reply_chan_err(r, &err);
      goto Exit;
    }
    json_t *out = json_pack("{s:O, s:o, s:o, s:O, s:O, s:O}", "id",
                            json_object_get(info, "channel"), "send",
                            uri_new(send_id), "recv", uri_new(recv_id), "type",
                            json_object_get(info, "type"), "mode",
                            json_object_get(info, "mode"), "capacity",
                            json_object_get(info, "capacity"));
    json_decref(info);
    reply_header(r, "Location",
                 json_string_value(json_object_get(out, "recv")));
    reply_json(r, 201, out);
  }
Exit:
  json_decref(body);
}

/* ---------------------------------------------------- /channels/{id}: send */

/* What a parked request waits for; the channel's callback fills it. */
typedef struct {
  m31_req *r;
  chan_code code;
  json_t *msg; /* a received message, own reference */
  uint64_t seq;
  chan_err err; /* when the wait could not start */
} chan_wait;

static void on_chan_done(void *arg, chan_code code, json_t *msg, uint64_t seq) {
  chan_wait *w = arg;

  w->code = code;
  w->msg = msg;
  w->seq = seq;
  if (code != CHAN_OK && code != CHAN_EMPTY) {
    w->err.code = code;
    snprintf(w->err.detail, sizeof w->err.detail, "%s",
             code == CHAN_CLOSED     ? "the channel was closed while waiting"
             : code == CHAN_FULL     ? "the message was not taken within the "
                                       "wait; nothing was queued"
             : code == CHAN_STOPPING ? "the node is stopping"
                                     : "the wait ended");
  }
  req_resume(w->r);
}

static void sent_reply(m31_req *r, chan_wait *w) {
  char seq[32];

  if (w->code != CHAN_OK) {
    reply_chan_err(r, &w->err);
    return;
  }
  snprintf(seq, sizeof seq, "%llu", (unsigned long long)w->seq);
  reply_header(r, "M31-Message-Seq", seq);
  reply_json(r, 200, json_pack("{s:I}", "seq", (json_int_t)w->seq));
}

static void send_resumed(m31_req *r, void *arg) {
  chan_wait *w = arg;

  sent_reply(r, w);
  free(w);
}

void channel_send(m31_req *r) {
  const char *id = req_param(r, 0);
  json_t *msg;
  double wait;
  chan_wait *w;
  int rc;

  if (seconds_or_reply(r, "wait", 0, 0, CHAN_WAIT_MAX, &wait) != 0) return;
  if (req_json_value_or_reply(r, &msg) != 0) return;
  w = calloc(1, sizeof *w);
  if (!w) abort();
  w->r = r;
  if (wait > 0) req_suspend(r, send_resumed, w);
  rc = chan_send(resources_channels(), id, msg, wait, on_chan_done, w, &w->seq,
                 &w->err);
  json_decref(msg);
  if (rc == CHAN_PENDING) return; /* w belongs to the callback now */
  w->code = rc == CHAN_OK ? CHAN_OK : w->err.code;
  if (wait > 0) {
    req_resume(r);
    return;
  }
  sent_reply(r, w);
  free(w);
}

/* ------------------------------------------------- /channels/{id}: receive */

static void received_reply(m31_req *r, chan_wait *w) {
  char seq[32];

  if (w->code == CHAN_EMPTY) {
    reply_empty(r, 204);
    return;
  }
  if (w->code != CHAN_OK) {
    reply_chan_err(r, &w->err);
    return;
  }
  snprintf(seq, sizeof seq, "%llu", (unsigned long long)w->seq);
  reply_header(r, "M31-Message-Seq", seq);
  reply_json(r, 200, w->msg);
  w->msg = NULL;
}

static void recv_resumed(m31_req *r, void *arg) {
  chan_wait *w = arg;

  received_reply(r, w);
  json_decref(w->msg);
  free(w);
}

/* An event stream: what pull has to send, and the wait in flight. */
typedef struct {
  char id[CHAN_ID_MAX];
  double heartbeat;
  m31_stream *s;
  int waiting, ended;
  atomic_int ready; /* the callback has filled code/msg/seq */
  chan_code code;
  json_t *msg;
  uint64_t seq;
  char *buf;
  size_t len, off;
} sse;

static void sse_put(sse *e, const char *text) {
  free(e->buf);
  e->buf = strdup(text);
  if (!e->buf) abort();
  e->len = strlen(text);
  e->off = 0;
}

static void sse_on_done(void *arg, chan_code code, json_t *msg, uint64_t seq) {
  sse *e = arg;
  m31_stream *s = e->s;

  e->code = code;
  e->msg = msg;
  e->seq = seq;
  atomic_store(&e->ready, 1);
  stream_wake(s);
}

/* Turns one outcome into the next bytes to send. */
static void sse_outcome(sse *e, chan_code code, json_t *msg, uint64_t seq) {
  if (code == CHAN_OK) {
    char *data = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n;
    if (!data) abort();
    n = strlen(data) + 64;
    free(e->buf);
    e->buf = malloc(n);
    if (!e->buf) abort();
    e->len =
        (size_t)snprintf(e->buf, n, "id: %llu\nevent: message\ndata: %s\n\n",
                         (unsigned long long)seq, data);
    e->off = 0;
    free(data);
    json_decref(msg);
  } else if (code == CHAN_EMPTY) {
    sse_put(e, ": keep-alive\n\n");
  } else {
    sse_put(e, code == CHAN_CLOSED
                   ? "event: close\ndata: {\"reason\":\"closed\"}\n\n"
               : code == CHAN_NOT_FOUND
                   ? "event: close\ndata: {\"reason\":\"deleted\"}\n\n"
                   : "event: close\ndata: {\"reason\":\"stopping\"}\n\n");
    e->ended = 1;
  }
}

static long sse_pull(m31_stream *s, void *arg, char *buf, size_t max) {
  sse *e = arg;

  e->s = s;
  for (;;) {
    json_t *msg = NULL;
    uint64_t seq = 0;
    chan_err err;
    int rc;

    if (e->off < e->len) {
      size_t n = e->len - e->off < max ? e->len - e->off : max;
      memcpy(buf, e->buf + e->off, n);
      e->off += n;
      return (long)n;
    }
    if (e->ended) return -1;
    if (e->waiting) {
      if (!atomic_load(&e->ready)) return 0;
      e->waiting = 0;
      atomic_store(&e->ready, 0);
      msg = e->msg;
      e->msg = NULL;
      sse_outcome(e, e->code, msg, e->seq);
      continue;
    }
    rc = chan_recv(resources_channels(), e->id, e->heartbeat, sse_on_done, e,
                   &msg, &seq, &err);
    if (rc == CHAN_PENDING) {
      e->waiting = 1;
      return 0;
    }
    sse_outcome(e, rc == CHAN_OK ? CHAN_OK : err.code, msg, seq);
  }
}

static void sse_free(void *arg) {
  sse *e = arg;

  json_decref(e->msg);
  free(e->buf);
  free(e);
}

static int wants_events(m31_req *r) {
  const char *a = req_header(r, "Accept");
  return a && strstr(a, "text/event-stream") != NULL;
}

static void channel_stream(m31_req *r, const char *id) {
  json_t *info;
  chan_err err = {0};
  double hb;
  sse *e;

  if (seconds_or_reply(r, "heartbeat", CH_HEARTBEAT_DEFAULT, 1, 60, &hb) != 0)
    return;
  if (chan_info(resources_channels(), id, &info, &err) != 0) {
    reply_chan_err(r, &err);
    return;
  }
  if (strcmp(json_string_value(json_object_get(info, "end")), "recv") != 0) {
    json_decref(info);
    reply_problem(r, 409, NULL, "%.80s is a sending end", id);
    return;
  }
  if (json_is_true(json_object_get(info, "closed"))) {
    json_decref(info);
    reply_problem(r, 410, NULL, "this receiving end is closed");
    return;
  }
  json_decref(info);
  e = calloc(1, sizeof *e);
  if (!e) abort();
  snprintf(e->id, sizeof e->id, "%s", id);
  e->heartbeat = hb;
  sse_put(e, ": m31 channel stream\n\n");
  reply_stream(r, 200, "text/event-stream", sse_pull, sse_free, e);
}

void channel_get(m31_req *r) {
  const char *id = req_param(r, 0);
  chan_wait *w;
  chan_err err = {0};
  double wait;
  int rc;

  /* HEAD must not take a message: it describes the end, like ?info. */
  if (req_query(r, "info") || strcmp(req_method(r), "HEAD") == 0) {
    json_t *info;
    if (chan_info(resources_channels(), id, &info, &err) != 0) {
      reply_chan_err(r, &err);
      return;
    }
    json_object_set_new(info, "uri", uri_new(id));
    reply_json(r, 200, ids_to_uris(info));
    return;
  }
  if (wants_events(r)) {
    channel_stream(r, id);
    return;
  }
  if (seconds_or_reply(r, "wait", 0, 0, CHAN_WAIT_MAX, &wait) != 0) return;
  w = calloc(1, sizeof *w);
  if (!w) abort();
  w->r = r;
  if (wait > 0) req_suspend(r, recv_resumed, w);
  rc = chan_recv(resources_channels(), id, wait, on_chan_done, w, &w->msg,
                 &w->seq, &w->err);
  if (rc == CHAN_PENDING) return; /* w belongs to the callback now */
  w->code = rc == CHAN_OK ? CHAN_OK : w->err.code;
  if (wait > 0) {
    req_resume(r);
    return;
  }
  recv_resumed(r, w);
}

/* ------------------------------------------- clones, close and delete */

void channel_clone(m31_req *r) {
  char id[CHAN_ID_MAX];
  chan_err err = {0};
  json_t *info;

  if (chan_clone(resources_channels(), req_param(r, 0), id, &err) != 0 ||
      chan_info(resources_channels(), id, &info, &err) != 0) {
    reply_chan_err(r, &err);
    return;
  }
  json_object_set_new(info, "uri", uri_new(id));
  ids_to_uris(info);
  reply_header(r, "Location", json_string_value(json_object_get(info, "uri")));
  reply_json(r, 201, info);
}

void channel_close(m31_req *r) {
  const char *id = req_param(r, 0);
  chan_err err = {0};
  json_t *info;

  if (chan_close(resources_channels(), id, &err) != 0 ||
      chan_info(resources_channels(), id, &info, &err) != 0) {
    reply_chan_err(r, &err);
    return;
  }
  json_object_set_new(info, "uri", uri_new(id));
  reply_json(r, 200, ids_to_uris(info));
}

void channel_delete(m31_req *r) {
  chan_err err = {0};

  if (chan_delete(resources_channels(), req_param(r, 0), &err) != 0) {
    reply_chan_err(r, &err);
    return;
  }
  reply_empty(r, 204);
}
