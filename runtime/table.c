/*
 * table.c — the node's record of its fibrils: state, result or error,
 * parent and children, what they used, when they began and ended.
 *
 * Ids are "<node>-<hex counter>", the counter starting at 1, and the
 * record of counter c sits at index c-1: finding an id is parsing it.
 * Records are kept for the node's life (in memory; see README). One
 * mutex guards the table: the HTTP threads read it, the nucleus thread
 * writes it. The watch callback (GET /fibrils?watch) is called under that
 * mutex, so what it is told is in the order the changes were made.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime.h"
#include "util/text.h"

typedef struct frec {
  char id[RT_ID_MAX];
  long parent; /* index of the parent, or -1 */
  rt_fibril_state state;
  json_t *result; /* DONE */
  json_t *error;  /* FAILED: {class, message, backtrace} */
  char reason[160];
  uint64_t cpu_ns, mem_bytes;
  int64_t created_ms, ended_ms;
  json_t *extra; /* members added to the record (rt_table_extra_set) */
  long *kids;    /* indexes of the children */
  size_t nkids, kcap;
  int announced; /* the watch callback has been given the record */
} frec;

struct rt_table {
  pthread_mutex_t lock;
  char node[RT_ID_MAX - 17]; /* room for "-" and 16 hex digits */
  frec *r;
  size_t n, cap;
  rt_table_watch_fn watch; /* rt_table_watch_set; NULL: none */
  int (*want)(void *ud);   /* rt_table_watch_want_set; NULL: always */
  void *watch_ud;
};

rt_table *rt_table_new(const char *node) {
  rt_table *t;
  if (strlen(node) >= sizeof t->node || !(t = calloc(1, sizeof *t)))
    return NULL;
  snprintf(t->node, sizeof t->node, "%s", node);
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

void rt_table_free(rt_table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    json_decref(t->r[i].result);
    json_decref(t->r[i].error);
    json_decref(t->r[i].extra);
    free(t->r[i].kids);
  }
  free(t->r);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

/* The index of id, or -1. Caller locks. */
static long do_index(const rt_table *t, const char *id) {
  size_t nl = strlen(t->node);
  char *end;
  unsigned long long c;
  if (!id || strncmp(id, t->node, nl) != 0 || id[nl] != '-') return -1;
  id += nl + 1; /* lower-case hex, no sign, space or leading zero */
  if (!*id || *id == '0' || strspn(id, "0123456789abcdef") != strlen(id) ||
      strlen(id) > 16)
    return -1;
  c = strtoull(id, &end, 16);
  if (*end || c == 0 || c > t->n) return -1;
  return (long)(c - 1);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rt_table_add(rt_table *t, const char *parent, char id[RT_ID_MAX]) {
  int ret = -1;
  long p;
  frec *f;
  pthread_mutex_lock(&t->lock);
  p = parent ? do_index(t, parent) : -1;
  if (parent && p < 0) goto Exit;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    frec *r = realloc(t->r, cap * sizeof *r);
    if (!r) goto Exit;
    t->r = r, t->cap = cap;
  }
  if (p >= 0) {
    frec *pf = &t->r[p];
    if (pf->nkids == pf->kcap) {
      size_t kcap = pf->kcap ? 2 * pf->kcap : 4;
      long *k = realloc(pf->kids, kcap * sizeof *k);
      if (!k) goto Exit;
      pf->kids = k, pf->kcap = kcap;
    }
    pf->kids[pf->nkids++] = (long)t->n;
  }
  f = &t->r[t->n];
  memset(f, 0, sizeof *f);
  snprintf(f->id, sizeof f->id, "%s-%zx", t->node, t->n + 1);
  f->parent = p;
  f->state = RT_FIBRIL_READY;
  f->created_ms = now_ms();
  t->n++;
  snprintf(id, RT_ID_MAX, "%s", f->id);
  ret = 0;
Exit:
  pthread_mutex_unlock(&t->lock);
  return ret;
}

static int finished(rt_fibril_state s) {
  return s == RT_FIBRIL_DONE || s == RT_FIBRIL_FAILED || s == RT_FIBRIL_KILLED;
}

static json_t *do_json(const rt_table *t, long i);

/* Gives the watch callback record i as it is now. Caller locks. */
static void do_watch(rt_table *t, long i) {
  json_t *o;
  if (!t->watch) return;
  if (t->want && !t->want(t->watch_ud)) {
    t->r[i].announced = 1;
    t->watch(t->watch_ud, NULL);
    return;
  }
  o = do_json(t, i);
  t->r[i].announced = 1;
  t->watch(t->watch_ud, o);
  json_decref(o);
}

/* Before record i's state changes: a record not announced yet is, in the
 * state it was made in, with what was added to it since (so a watcher sees
 * a new fibril once, complete, rather than once per member). Caller locks. */
static void do_watch_before(rt_table *t, long i) {
  if (!t->r[i].announced) do_watch(t, i);
}

int rt_table_state_set(rt_table *t, const char *id, rt_fibril_state s) {
  int ret = -1;
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0 && !finished(t->r[i].state)) {
    if (t->r[i].state != s) {
      do_watch_before(t, i);
      t->r[i].state = s;
      do_watch(t, i);
    }
    ret = 0;
  }
  pthread_mutex_unlock(&t->lock);
  return ret;
}

int rt_table_finish(rt_table *t, const char *id, rt_fibril_state s,
                    json_t *result, const rt_error *err, uint64_t cpu_ns,
                    uint64_t mem_bytes) {
  int ret = -1;
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0 && !finished(t->r[i].state) && finished(s)) {
    frec *f = &t->r[i];
    do_watch_before(t, i);
    f->state = s;
    f->cpu_ns = cpu_ns, f->mem_bytes = mem_bytes;
    f->ended_ms = now_ms();
    if (s == RT_FIBRIL_DONE) f->result = json_incref(result);
    if (s == RT_FIBRIL_FAILED && err) f->error = rt_error_json(err);
    if (s == RT_FIBRIL_KILLED)
      snprintf(f->reason, sizeof f->reason, "%.159s",
               err && err->message[0] ? err->message : "killed");
    do_watch(t, i);
    ret = 0;
  }
  pthread_mutex_unlock(&t->lock);
  return ret;
}

/* The public shape of record i (refcount: new). Caller locks. */
static json_t *do_json(const rt_table *t, long i) {
  const frec *f = &t->r[i];
  char created[40], ended[40], uri[RT_ID_MAX + 16];
  json_t *kids = json_array(), *o;
  for (size_t k = 0; k < f->nkids; k++)
    json_array_append_new(kids, json_string(t->r[f->kids[k]].id));
  time_rfc3339(f->created_ms, created, sizeof created);
  if (f->ended_ms) time_rfc3339(f->ended_ms, ended, sizeof ended);
  snprintf(uri, sizeof uri, "/fibrils/%s", f->id);
  o = json_pack(
      "{s:s, s:s, s:s, s:O?, s:O?, s:s?, s:s?, s:o, s:s, s:I, s:I, s:s, s:s?}",
      "id", f->id, "uri", uri, "state", rt_fibril_state_name(f->state),
      "result", f->result, "error", f->error, "reason",
      f->state == RT_FIBRIL_KILLED ? f->reason : NULL, "parent",
      f->parent >= 0 ? t->r[f->parent].id : NULL, "children", kids, "node",
      t->node, "cpu_ms", (json_int_t)(f->cpu_ns / 1000000), "memory_bytes",
      (json_int_t)f->mem_bytes, "created", created, "ended",
      f->ended_ms ? ended : NULL);
  if (f->extra) { /* a copy: the caller may change what it gets */
    json_t *x = json_deep_copy(f->extra);
    json_object_update_missing(o, x);
    json_decref(x);
  }
  return o;
}

int rt_table_extra_set(rt_table *t, const char *id, const char *key,
                       json_t *value) {
  int ret = -1;
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0 && value &&
      (t->r[i].extra || (t->r[i].extra = json_object())) &&
      json_object_set(t->r[i].extra, key, value) == 0) {
    if (t->r[i].announced) do_watch(t, i);
    ret = 0;
  }
  pthread_mutex_unlock(&t->lock);
  json_decref(value);
  return ret;
}

json_t *rt_table_extra_get(rt_table *t, const char *id, const char *key) {
  json_t *v = NULL;
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0 && t->r[i].extra)
    v = json_deep_copy(json_object_get(t->r[i].extra, key));
  pthread_mutex_unlock(&t->lock);
  return v;
}

json_t *rt_table_get(rt_table *t, const char *id) {
  json_t *o = NULL;
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0) o = do_json(t, i);
  pthread_mutex_unlock(&t->lock);
  return o;
}

json_t *rt_table_list(rt_table *t, int state, const char *parent, size_t after,
                      size_t limit, size_t *next) {
  json_t *items = json_array();
  long p = -2;
  pthread_mutex_lock(&t->lock);
  if (parent) p = do_index(t, parent);
  *next = 0;
  for (size_t i = after; i < t->n && (!parent || p >= 0); i++) {
    const frec *f = &t->r[i];
    if (state >= 0 && (int)f->state != state) continue;
    if (parent && f->parent != p) continue;
    if (json_array_size(items) == limit) {
      *next = i;
      break;
    }
    json_array_append_new(items, do_json(t, (long)i));
  }
  pthread_mutex_unlock(&t->lock);
  return items;
}

json_t *rt_table_tree(rt_table *t, const char *id) {
  json_t *ids = json_array();
  long i;
  pthread_mutex_lock(&t->lock);
  if ((i = do_index(t, id)) >= 0) {
    json_array_append_new(ids, json_string(t->r[i].id));
    /* breadth first over the array as it grows */
    for (size_t k = 0; k < json_array_size(ids); k++) {
      long j = do_index(t, json_string_value(json_array_get(ids, k)));
      for (size_t c = 0; c < t->r[j].nkids; c++)
        json_array_append_new(ids, json_string(t->r[t->r[j].kids[c]].id));
    }
  }
  pthread_mutex_unlock(&t->lock);
  return ids;
}

void rt_table_watch_want_set(rt_table *t, int (*want)(void *ud)) {
  pthread_mutex_lock(&t->lock);
  t->want = want;
  pthread_mutex_unlock(&t->lock);
}

void rt_table_watch_set(rt_table *t, rt_table_watch_fn fn, void *ud) {
  pthread_mutex_lock(&t->lock);
  t->watch = fn;
  t->watch_ud = ud;
  pthread_mutex_unlock(&t->lock);
}

size_t rt_table_count(rt_table *t, int state) {
  size_t c = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->n; i++)
    if (state < 0 || (int)t->r[i].state == state) c++;
  pthread_mutex_unlock(&t->lock);
  return c;
}
