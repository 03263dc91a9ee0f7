/*
 * channel.h — channels: thread-safe, one-way, typed FIFOs with two kinds of
 * endpoint (send and receive), each with its own id. Part of runtime/; it
 * knows nothing of HTTP: resources/channels.c serves it, and fibrils will
 * use the same calls.
 *
 * A hub holds every channel of a node. A channel has
 *   - a type: "Int", "Float", "String", "Bool", "Bytes" (base64 text),
 *     "List", "Map", "Any", or a schema object {"attr": "Type", ...}: a JSON
 *     object with exactly those fields, each of its type (null is not a
 *     value of any type but Any);
 *   - a mode: sync (capacity 0: a send completes only when a receiver takes
 *     the message) or async with a capacity n >= 1 (a send completes when
 *     the message is queued);
 *   - endpoints: one send and one receive end at creation; chan_clone adds
 *     more of either kind. Ids are "<node>-<hex>", unique on the node across
 *     restarts.
 *
 * Closing follows pipes: an endpoint closes on chan_close or chan_delete.
 * When no send end is open, receivers drain what is queued and then get
 * CHAN_CLOSED; when no receive end is open, senders get CHAN_CLOSED and
 * what was queued is dropped. A closed endpoint itself answers
 * CHAN_CLOSED. A channel goes away with its last endpoint.
 *
 * Waiting: chan_send and chan_recv take a wait in seconds. When they cannot
 * finish at once and wait > 0 they register a waiter and return
 * CHAN_PENDING; the waiter's callback then runs exactly once, on another
 * thread (the peer's, or the hub's timer thread), never with a hub lock
 * held. Waiters are served in arrival order. A message is delivered at most
 * once: a receiver's callback owns the message it is given.
 *
 * Locking: one mutex per hub guards everything; every call holds it for
 * O(1) work (O(log n) for the deadline heap), except list and close.
 */
#ifndef M31_RUNTIME_CHANNEL_H
#define M31_RUNTIME_CHANNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN_ID_MAX 96
#define CHAN_CAPACITY_MAX 100000
#define CHAN_WAIT_MAX 60.0 /* seconds */

typedef struct chan_hub chan_hub;

/** Outcomes; the resources layer maps each to an HTTP status. */
typedef enum {
  CHAN_OK = 0,
  CHAN_PENDING,     /* a waiter was registered; its callback will run */
  CHAN_EMPTY,       /* nothing to receive within the wait (204) */
  CHAN_FULL,        /* the message was not taken within the wait (409) */
  CHAN_CLOSED,      /* the endpoint or the channel is closed (410) */
  CHAN_NOT_FOUND,   /* no endpoint has this id (404) */
  CHAN_WRONG_END,   /* send on a receive end or the reverse (409) */
  CHAN_INVALID,     /* a bad type, mode, capacity or message (422) */
  CHAN_BAD_REQUEST, /* a malformed argument: cursor (400) */
  CHAN_STOPPING,    /* the hub is shutting down (503) */
} chan_code;

typedef struct {
  chan_code code;
  char field[128];  /* the offending field ("type", "value.name"), or "" */
  char detail[256]; /* one sentence */
} chan_err;

/**
 * A waiter's completion. code is CHAN_OK (for a receiver, msg is the
 * message, refcount: new, and seq its number in the channel, from 1; for a
 * sender msg is NULL and seq the number given to its message), CHAN_EMPTY
 * (a receiver's wait ended), CHAN_FULL (a sender's wait ended: nothing was
 * queued), CHAN_CLOSED or CHAN_STOPPING.
 */
typedef void (*chan_done_fn)(void *arg, chan_code code, json_t *msg,
                             uint64_t seq);

/**
 * Makes a hub whose ids start with `node` (copied) and starts its timer
 * thread. Never NULL (dies if the thread cannot start).
 */
chan_hub *chan_hub_new(const char *node);

/**
 * Completes every waiter with CHAN_STOPPING and makes later waits answer
 * CHAN_STOPPING at once. Idempotent; the hub stays usable otherwise.
 */
void chan_hub_shutdown(chan_hub *h);

/** Stops the timer thread and frees every channel. No call may be running. */
void chan_hub_free(chan_hub *h);

/**
 * Checks a channel type (borrowed). 0, or -1 with err (CHAN_INVALID,
 * field "type").
 */
int chan_type_check(const json_t *type, chan_err *err);

/**
 * Checks a message against a type (both borrowed). 0, or -1 with err
 * (CHAN_INVALID; field "value" or "value.<attr>").
 */
int chan_value_check(const json_t *type, const json_t *v, chan_err *err);

/**
 * Creates a channel. type is borrowed (copied); sync makes a rendezvous
 * channel (capacity must be 0); async needs 1 <= capacity <=
 * CHAN_CAPACITY_MAX. On success fills send_id and recv_id.
 */
int chan_create(chan_hub *h, const json_t *type, int sync, size_t capacity,
                char send_id[CHAN_ID_MAX], char recv_id[CHAN_ID_MAX],
                chan_err *err);

/**
 * Sends msg (borrowed; the channel keeps its own reference) on send end id.
 * Returns CHAN_OK (taken or queued now; *seq set), CHAN_PENDING (fn will
 * run; the caller must not touch arg after the return), or -1 with err:
 * NOT_FOUND, WRONG_END, INVALID (nothing queued), CLOSED, FULL (wait 0 and
 * no room or, sync, no receiver waiting), STOPPING. wait is clamped to
 * [0, CHAN_WAIT_MAX].
 */
int chan_send(chan_hub *h, const char *id, const json_t *msg, double wait,
              chan_done_fn fn, void *arg, uint64_t *seq, chan_err *err);

/**
 * Receives on receive end id: CHAN_OK with *out (refcount: new) and *seq,
 * CHAN_PENDING (fn will run), or -1 with err: NOT_FOUND, WRONG_END,
 * EMPTY (wait 0 and nothing), CLOSED (closed and drained), STOPPING.
 */
int chan_recv(chan_hub *h, const char *id, double wait, chan_done_fn fn,
              void *arg, json_t **out, uint64_t *seq, chan_err *err);

/**
 * Withdraws the pending wait registered with arg: 1 when it was still
 * waiting (its callback will not run, nothing was taken or queued), 0 when
 * there is none or its completion has begun (the callback runs). O(number
 * of waiters).
 */
int chan_cancel(chan_hub *h, void *arg);

/** Adds an endpoint of the same kind as id (which must be open). */
int chan_clone(chan_hub *h, const char *id, char out[CHAN_ID_MAX],
               chan_err *err);

/** Closes endpoint id (idempotent); its waiters complete CHAN_CLOSED. */
int chan_close(chan_hub *h, const char *id, chan_err *err);

/** Closes and removes endpoint id; the channel goes with its last one. */
int chan_delete(chan_hub *h, const char *id, chan_err *err);

/**
 * Describes endpoint id: {"id", "end": "send"|"recv", "channel", "type",
 * "mode", "capacity", "queued", "closed" (this end), "send_open",
 * "recv_open" (open ends of each kind), "send": [ids], "recv": [ids]}.
 * *out refcount: new.
 */
int chan_info(chan_hub *h, const char *id, json_t **out, chan_err *err);

/**
 * Lists channels in creation order after channel id `after` (NULL: from
 * the first), at most limit: *items is an array (new) of {"channel",
 * "type", "mode", "capacity", "queued", "send": [ids], "recv": [ids]};
 * *more says whether more follow. An `after` that is no channel id of this
 * hub's form is CHAN_BAD_REQUEST.
 */
int chan_list(chan_hub *h, const char *after, size_t limit, json_t **items,
              int *more, chan_err *err);

/** Number of channels (for /sys/info and tests). */
size_t chan_count(chan_hub *h);

#endif
