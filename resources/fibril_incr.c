/*
 * fibril_incr.c — the combined increments of many fibrils (fs.incr_many,
 * runtime/prelude/fs.rb), merged while the store is busy.
 *
 * A word count flushes a batch per book, and the books' words overlap
 * most of the time: with one batch of a space in the store, the batches
 * that arrive meanwhile wait, summed into one, which goes next. Under
 * load the store then writes each word once per round instead of once per
 * book. Each fibril is still answered only once its increments are
 * durable, and each record is still changed atomically. A merged batch
 * that fails (one fibril's record does not fit the schema) is retried one
 * fibril at a time, so each gets its own answer and the good ones apply.
 */
#include "resources/resources.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct member { /* one fibril's batch and its answer */
  json_t *recs;         /* {key: {attr: n}} */
  fsc_done_fn done;
  void *ud;
  struct member *next;
} member;

typedef struct batch {
  store *s;
  char space[STORE_NAME_MAX + 1];
  json_t *sums; /* {key: {attr: n}}, the members' summed */
  int overflow; /* a sum passed 64 bits: send the members one by one */
  member *members;
} batch;

typedef struct slot { /* a space with a batch in the store */
  char space[STORE_NAME_MAX + 1];
  batch *waiting; /* merged while the store works on the one in flight */
  struct slot *next;
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;

/* Adds recs into b's sums. */
static void sums_add(batch *b, const json_t *recs) {
  const char *key, *a;
  json_t *rec, *v;
  json_object_foreach((json_t *)recs, key, rec) {
    json_t *sum = json_object_get(b->sums, key);
    if (!sum) {
      sum = json_object();
      json_object_set_new(b->sums, key, sum);
    }
    json_object_foreach(rec, a, v) {
      json_int_t old = json_integer_value(json_object_get(sum, a)), n;
      if (!json_is_integer(v) ||
          __builtin_add_overflow(old, json_integer_value(v), &n)) {
        b->overflow = 1;
        continue;
      }
      json_object_set_new(sum, a, json_integer(n));
    }
  }
}

static batch *batch_new(store *s, const char *space) {
  batch *b = calloc(1, sizeof *b);
  if (!b) abort();
  b->s = s;
  strncpy(b->space, space, STORE_NAME_MAX);
  b->sums = json_object();
  return b;
}

static void member_add(batch *b, const json_t *recs, fsc_done_fn done,
                       void *ud) {
  member *m = calloc(1, sizeof *m);
  if (!m) abort();
  m->recs = json_incref((json_t *)recs);
  m->done = done, m->ud = ud;
  m->next = b->members;
  b->members = m;
  sums_add(b, recs);
}

/* {key: {"attrs": {attr: {"$incr": n}}}} for the store. */
static json_t *patches_of(const json_t *recs) {
  json_t *patches = json_object(), *rec, *v;
  const char *key, *a;
  json_object_foreach((json_t *)recs, key, rec) {
    json_t *attrs = json_object();
    json_object_foreach(rec, a, v) {
      json_object_set_new(attrs, a, json_pack("{s:O}", "$incr", v));
    }
    json_object_set_new(patches, key, json_pack("{s:o}", "attrs", attrs));
  }
  return patches;
}

static void submit(batch *b);

/* One member alone, after its merged batch failed. */
static void solo_written(void *arg, store_result *res) {
  member *m = arg;
  json_t *v = res->rc == 0
                  ? fsc_ok(json_pack("{s:I}", "applied",
                                     (json_int_t)json_object_size(m->recs)))
                  : fsc_error(&res->err);
  json_decref(res->out);
  m->done(m->ud, v);
  json_decref(m->recs);
  free(m);
}

static void solo(store *s, const char *space, member *m) {
  json_t *p = patches_of(m->recs);
  store_object_patch_many_async(s, space, p, solo_written, m);
  json_decref(p);
}

/* The batch in flight is durable (or failed): answer its members, then
 * send what merged meanwhile. Runs on the store's writer thread. */
static void written(void *arg, store_result *res) {
  batch *b = arg, *next = NULL;
  int ok = res->rc == 0, alone = b->members && !b->members->next;
  json_decref(res->out);
  for (member *m = b->members, *n; m; m = n) {
    n = m->next;
    if (!ok && !alone) { /* find out whose record it was */
      solo(b->s, b->space, m);
      continue;
    }
    m->done(m->ud, ok ? fsc_ok(json_pack("{s:I}", "applied",
                                         (json_int_t)json_object_size(m->recs)))
                      : fsc_error(&res->err));
    json_decref(m->recs);
    free(m);
  }
  pthread_mutex_lock(&lock);
  for (slot **p = &slots; *p; p = &(*p)->next)
    if (strcmp((*p)->space, b->space) == 0) {
      slot *sl = *p;
      if (!(next = sl->waiting)) { /* nothing waits: the space is idle */
        *p = sl->next;
        free(sl);
      }
      sl = next ? sl : NULL;
      if (sl) sl->waiting = NULL;
      break;
    }
  pthread_mutex_unlock(&lock);
  json_decref(b->sums);
  free(b);
  if (next) submit(next);
}

static void submit(batch *b) {
  if (b->overflow) { /* no sum to send: each member on its own */
    for (member *m = b->members, *n; m; m = n) {
      n = m->next;
      solo(b->s, b->space, m);
    }
    b->members = NULL;
    store_result none = {.rc = 0};
    written(b, &none); /* answers no one; sends what waits */
    return;
  }
  json_t *p = patches_of(b->sums);
  store_object_patch_many_async(b->s, b->space, p, written, b);
  json_decref(p);
}

void fsc_incr_submit(store *s, const char *space, const json_t *recs,
                     fsc_done_fn done, void *ud) {
  batch *go = NULL;
  slot *sl;
  pthread_mutex_lock(&lock);
  for (sl = slots; sl && strcmp(sl->space, space) != 0; sl = sl->next)
    ;
  if (!sl) { /* the space is idle: this batch goes now */
    if (!(sl = calloc(1, sizeof *sl))) abort();
    strncpy(sl->space, space, STORE_NAME_MAX);
    sl->next = slots;
    slots = sl;
    go = batch_new(s, space);
    member_add(go, recs, done, ud);
  } else { /* one is in the store: wait, merged with the others waiting */
    if (!sl->waiting) sl->waiting = batch_new(s, space);
    member_add(sl->waiting, recs, done, ud);
  }
  pthread_mutex_unlock(&lock);
  if (go) submit(go);
}
