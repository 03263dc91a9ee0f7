/*
 * txn.c — the writer's overlay: a hash map of LevelDB key -> new value or
 * tombstone for one group of operations. Each entry has the group's state
 * and the current operation's pending state, so a failed operation is
 * dropped without touching the others, and a later operation of the group
 * sees the effects of the earlier ones (two $incr of one key in one group).
 */
#include "store/internal.h"

#include <string.h>

enum { ST_NONE, ST_PUT, ST_DEL };

typedef struct ent {
  struct ent *next;    /* hash chain */
  struct ent *touched; /* entries the current operation changed */
  char *key;
  size_t klen;
  uint64_t hash;
  int state, pstate; /* group's, current operation's (ST_NONE: untouched) */
  char *val, *pval;
  size_t vlen, pvlen;
} ent;

struct txn {
  store *s;
  ent **buckets;
  size_t nbuckets, count;
  ent *touched;
  /* changes: [0, ncommitted) the group's, [ncommitted, nchg) the current
   * operation's; strings owned */
  int feed;
  store_change *chg;
  size_t nchg, ncommitted, chgcap;
};

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return h;
}

txn *txn_new(store *s) {
  txn *t = xmalloc(sizeof *t);
  t->s = s;
  t->nbuckets = 64;
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  if (!t->buckets) abort();
  t->count = 0;
  t->touched = NULL;
  t->feed = 0;
  t->chg = NULL;
  t->nchg = t->ncommitted = t->chgcap = 0;
  return t;
}

static void change_free(store_change *c) {
  free((char *)c->space);
  free((char *)c->key);
  free((char *)c->branch);
  free((char *)c->object);
}

/* Drops the current operation's changes. */
static void changes_abort(txn *t) {
  for (size_t i = t->ncommitted; i < t->nchg; i++)
    change_free(&t->chg[i]);
  t->nchg = t->ncommitted;
}

void txn_free(txn *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nbuckets; i++) {
    for (ent *e = t->buckets[i], *n; e; e = n) {
      n = e->next;
      free(e->key);
      free(e->val);
      free(e->pval);
      free(e);
    }
  }
  free(t->buckets);
  for (size_t i = 0; i < t->nchg; i++)
    change_free(&t->chg[i]);
  free(t->chg);
  free(t);
}

static void grow(txn *t) {
  size_t nb = t->nbuckets * 2;
  ent **b = calloc(nb, sizeof *b);
  if (!b) abort();
  for (size_t i = 0; i < t->nbuckets; i++) {
    for (ent *e = t->buckets[i], *n; e; e = n) {
      n = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = nb;
}

static ent *find(txn *t, const char *key, size_t klen, int create) {
  uint64_t h = hash_bytes(key, klen);
  ent *e;
  for (e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
    if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen)) return e;
  if (!create) return NULL;
  if (t->count >= t->nbuckets) grow(t);
  e = calloc(1, sizeof *e);
  if (!e) abort();
  e->key = xstrndup(key, klen);
  e->klen = klen;
  e->hash = h;
  e->next = t->buckets[h & (t->nbuckets - 1)];
  t->buckets[h & (t->nbuckets - 1)] = e;
  t->count++;
  return e;
}

int txn_get_overlay(txn *t, const char *key, size_t klen, char **val,
                    size_t *vlen) {
  ent *e = find(t, key, klen, 0);
  if (e && (e->pstate != ST_NONE || e->state != ST_NONE)) {
    int st = e->pstate != ST_NONE ? e->pstate : e->state;
    const char *v = e->pstate != ST_NONE ? e->pval : e->val;
    size_t n = e->pstate != ST_NONE ? e->pvlen : e->vlen;
    if (st == ST_DEL) return 0;
    *val = xstrndup(v, n);
    *vlen = n;
    return 1;
  }
  return 2;
}

int txn_get(txn *t, const char *key, size_t klen, char **val, size_t *vlen) {
  int rc = txn_get_overlay(t, key, klen, val, vlen);
  return rc != 2 ? rc : db_get(t->s, key, klen, val, vlen, NULL);
}

int txn_get_json(txn *t, const char *key, size_t klen, json_t **out) {
  char *v = NULL;
  size_t n = 0;
  int rc = txn_get(t, key, klen, &v, &n);
  if (rc <= 0) return rc;
  *out = json_loadb(v, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  free(v);
  return *out ? 1 : -1;
}

static void stage(txn *t, const char *key, size_t klen, int st, const char *val,
                  size_t vlen) {
  ent *e = find(t, key, klen, 1);
  if (e->pstate == ST_NONE) {
    e->touched = t->touched;
    t->touched = e;
  }
  free(e->pval);
  e->pval = val ? xstrndup(val, vlen) : NULL;
  e->pvlen = vlen;
  e->pstate = st;
}

void txn_put(txn *t, const char *key, size_t klen, const char *val,
             size_t vlen) {
  stage(t, key, klen, ST_PUT, val, vlen);
}

void txn_put_json(txn *t, const char *key, size_t klen, const json_t *v) {
  char *d = json_dump_compact(v);
  txn_put(t, key, klen, d, strlen(d));
  free(d);
}

void txn_del(txn *t, const char *key, size_t klen) {
  stage(t, key, klen, ST_DEL, NULL, 0);
}

/* 1 when the entry holds a value as the current operation sees it. */
static int ent_live(const ent *e) {
  return e->pstate != ST_NONE ? e->pstate == ST_PUT : e->state == ST_PUT;
}

static int in_range(const char *k, size_t kn, const char *lo, size_t lolen,
                    const char *hi, size_t hilen) {
  size_t a = kn < lolen ? kn : lolen, b = kn < hilen ? kn : hilen;
  int c1 = memcmp(k, lo, a), c2 = memcmp(k, hi, b);
  int ge = c1 > 0 || (c1 == 0 && kn >= lolen);
  int lt = c2 < 0 || (c2 == 0 && kn < hilen);
  return ge && lt;
}

long txn_del_range(txn *t, const char *lo, size_t lolen, const char *hi,
                   size_t hilen) {
  long n = 0;
  leveldb_iterator_t *it = leveldb_create_iterator(t->s->db, t->s->ropts);
  char *e = NULL;
  for (leveldb_iter_seek(it, lo, lolen); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn;
    const char *k = leveldb_iter_key(it, &kn);
    if (!in_range(k, kn, lo, lolen, hi, hilen)) break;
    ent *x = find(t, k, kn, 0);
    if (!x || ent_live(x)) n++;
    txn_del(t, k, kn);
  }
  leveldb_iter_get_error(it, &e);
  leveldb_iter_destroy(it);
  if (e) {
    leveldb_free(e);
    return -1;
  }
  /* keys only this group has written so far */
  for (size_t i = 0; i < t->nbuckets; i++)
    for (ent *x = t->buckets[i]; x; x = x->next)
      if (ent_live(x) && in_range(x->key, x->klen, lo, lolen, hi, hilen)) {
        txn_del(t, x->key, x->klen);
        n++;
      }
  return n;
}

void txn_op_commit(txn *t) {
  for (ent *e = t->touched, *n; e; e = n) {
    n = e->touched;
    free(e->val);
    e->val = e->pval;
    e->vlen = e->pvlen;
    e->state = e->pstate;
    e->pval = NULL;
    e->pstate = ST_NONE;
    e->touched = NULL;
  }
  t->touched = NULL;
  t->ncommitted = t->nchg;
}

void txn_op_abort(txn *t) {
  for (ent *e = t->touched, *n; e; e = n) {
    n = e->touched;
    free(e->pval);
    e->pval = NULL;
    e->pstate = ST_NONE;
    e->touched = NULL;
  }
  t->touched = NULL;
  changes_abort(t);
}

int txn_write(txn *t, char **errmsg) {
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  char *e = NULL;
  for (size_t i = 0; i < t->nbuckets; i++)
    for (ent *x = t->buckets[i]; x; x = x->next) {
      if (x->state == ST_PUT)
        leveldb_writebatch_put(wb, x->key, x->klen, x->val, x->vlen);
      else if (x->state == ST_DEL)
        leveldb_writebatch_delete(wb, x->key, x->klen);
    }
  leveldb_write(t->s->db, t->s->wopts, wb, &e);
  leveldb_writebatch_destroy(wb);
  if (e) {
    *errmsg = e;
    return -1;
  }
  return 0;
}

long txn_del_prefix(txn *t, const char *prefix, size_t n) {
  char *hi = xstrndup(prefix, n);
  hi[n - 1]++;
  long r = txn_del_range(t, prefix, n, hi, n);
  free(hi);
  return r;
}

void txn_changes_collect(txn *t) { t->feed = 1; }

int txn_feeding(const txn *t) { return t->feed; }

static char *dup_or_null(const char *p) {
  return p ? xstrndup(p, strlen(p)) : NULL;
}

void txn_change(txn *t, store_change_op op, const char *space, const char *key,
                const char *branch, uint64_t version, char *object) {
  store_change *c;
  if (!t->feed) {
    free(object);
    return;
  }
  if (t->nchg == t->chgcap) {
    t->chgcap = t->chgcap ? 2 * t->chgcap : 8;
    t->chg = xrealloc(t->chg, t->chgcap * sizeof *t->chg);
  }
  c = &t->chg[t->nchg++];
  c->op = op;
  c->space = dup_or_null(space);
  c->key = dup_or_null(key);
  c->branch = dup_or_null(branch);
  c->version = version;
  c->object = object;
  c->object_len = object ? strlen(object) : 0;
}

const store_change *txn_changes(const txn *t, size_t *n) {
  *n = t->ncommitted;
  return t->chg;
}
