/*
 * query.c — search over the main heads of a space. Each predicate becomes a
 * range [lo, hi) of its index; the driving predicate's field (equality
 * first, then a range, then a prefix) is scanned with the ranges of every
 * predicate on that same field intersected, and each candidate's head is
 * read and checked against all predicates. So a selective query reads keys
 * in proportion to its answer, not to the space.
 */
#include "store/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const store_pred *p;
  int type;    /* T_*; T_ANY for labels */
  int tagged;  /* encodings start with a type tag */
  kbuf enc;    /* the value's encoding (a prefix's: unterminated) */
  kbuf lo, hi; /* the range of index keys the predicate allows */
} qpred;

static const char *const OP_SUFFIX[] = {"",    ".gt",  ".gte",
                                        ".lt", ".lte", ".prefix"};

static int pred_bad(const store_pred *p, store_err *err, const char *what) {
  char field[200];
  snprintf(field, sizeof field, "%s%.150s%s", p->is_label ? "label." : "",
           p->name, OP_SUFFIX[p->op]);
  return err_set(err, STORE_BAD_REQUEST, field, "%s: %s", field, what);
}

/* Parses p->value as type t into a new JSON value, NULL when it does not. */
static json_t *value_parse(int t, int is_label, const store_pred *p) {
  const char *s = p->value;
  char *end;
  if (p->op == STORE_OP_PREFIX || t == T_STRING || t == T_BYTES)
    return json_string(s);
  if (is_label || t == T_ANY) {
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : json_string(s);
  }
  errno = 0;
  /* strtoll and strtod skip blanks and take "+", "inf", "0x": not numbers */
  if ((t == T_INT || t == T_FLOAT) && !(*s == '-' || (*s >= '0' && *s <= '9')))
    return NULL;
  if (t == T_INT) {
    long long v = strtoll(s, &end, 10);
    return (*s && !*end && !errno) ? json_integer(v) : NULL;
  }
  if (t == T_FLOAT) {
    double v = strtod(s, &end);
    return (*s && !*end && !errno && isfinite(v)) ? json_real(v) : NULL;
  }
  if (t == T_BOOL && (!strcmp(s, "true") || !strcmp(s, "false")))
    return json_boolean(!strcmp(s, "true"));
  return NULL;
}

/* Sets q->lo and q->hi from the encoded value under prefix `base`. */
static void pred_bounds(qpred *q, const kbuf *base) {
  kbuf *lo = &q->lo, *hi = &q->hi;
  /* the whole field, or only the value's tag within it */
  kb_put(lo, base->p, base->n);
  if (q->tagged) kb_byte(lo, (unsigned char)q->enc.p[0]);
  kb_put(hi, lo->p, lo->n);
  hi->p[hi->n - 1]++;
  switch (q->p->op) {
  case STORE_OP_EQ:
  case STORE_OP_PREFIX:
    lo->n = base->n;
    kb_put(lo, q->enc.p, q->enc.n);
    hi->n = 0;
    kb_put(hi, lo->p, lo->n);
    kb_byte(hi, 0xff); /* keys are UTF-8: 0xff never follows a value */
    break;
  case STORE_OP_GT:
    lo->n = base->n;
    kb_put(lo, q->enc.p, q->enc.n);
    kb_byte(lo, 0xff);
    break;
  case STORE_OP_GTE:
    lo->n = base->n;
    kb_put(lo, q->enc.p, q->enc.n);
    break;
  case STORE_OP_LT:
  case STORE_OP_LTE:
    hi->n = 0;
    kb_put(hi, base->p, base->n);
    kb_put(hi, q->enc.p, q->enc.n);
    if (q->p->op == STORE_OP_LTE) kb_byte(hi, 0xff);
    break;
  }
}

static int pred_parse(const json_t *schema, const char *space,
                      const store_pred *p, qpred *q, store_err *err) {
  kbuf base = {0};
  json_t *v = NULL;
  int ret = -1;
  q->p = p;
  if ((int)p->op < 0 || p->op > STORE_OP_PREFIX || !p->name || !p->value)
    return err_set(err, STORE_BAD_REQUEST, "", "malformed condition");
  q->type = p->is_label ? T_ANY : schema_attr_type(schema, p->name);
  q->tagged = p->is_label || q->type == T_ANY;
  if (q->type < 0) return pred_bad(p, err, "no such attribute");
  if (!type_indexable(q->type))
    return pred_bad(p, err, "List and Map attributes cannot be searched");
  if (p->op == STORE_OP_PREFIX && !q->tagged && q->type != T_STRING &&
      q->type != T_BYTES)
    return pred_bad(p, err, "prefix applies to strings only");
  if (!(v = value_parse(q->type, p->is_label, p))) {
    pred_bad(p, err, "the value does not fit the attribute's type");
    goto Exit;
  }
  if (p->op == STORE_OP_PREFIX) {
    if (q->tagged) kb_byte(&q->enc, TAG_STRING);
    enc_bytes(&q->enc, json_string_value(v), json_string_length(v), 0);
  } else {
    index_encode(&q->enc, p->is_label, q->type, v);
  }
  index_prefix(&base, p->is_label, space, p->name);
  pred_bounds(q, &base);
  ret = 0;
Exit:
  json_decref(v);
  kb_free(&base);
  return ret;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

/* 1 when the stored head satisfies q. */
static int pred_match(const qpred *q, const json_t *head) {
  json_t *v = json_object_get(
      json_object_get(head, q->p->is_label ? "labels" : "attrs"), q->p->name);
  kbuf e = {0};
  int c, ok = 0;
  if (!v || index_encode(&e, q->p->is_label, q->type, v)) goto Exit;
  if (q->tagged && e.p[0] != q->enc.p[0])
    goto Exit; /* ranges never cross types */
  c = cmp_bytes(e.p, e.n, q->enc.p, q->enc.n);
  switch (q->p->op) {
  case STORE_OP_EQ:
    ok = c == 0;
    break;
  case STORE_OP_GT:
    ok = c > 0;
    break;
  case STORE_OP_GTE:
    ok = c >= 0;
    break;
  case STORE_OP_LT:
    ok = c < 0;
    break;
  case STORE_OP_LTE:
    ok = c <= 0;
    break;
  case STORE_OP_PREFIX:
    ok = e.n >= q->enc.n && !memcmp(e.p, q->enc.p, q->enc.n);
    break;
  }
Exit:
  kb_free(&e);
  return ok;
}

/* FNV-1a over the space and the predicates: what a cursor belongs to. */
static uint64_t query_hash(const char *space, const store_query *q) {
  uint64_t h = 1469598103934665603ULL;
  kbuf b = {0};
  kb_put(&b, space, strlen(space) + 1);
  for (size_t i = 0; i < q->npreds; i++) {
    const store_pred *p = &q->preds[i];
    kb_byte(&b, (unsigned char)p->is_label);
    kb_put(&b, p->name, strlen(p->name) + 1);
    kb_byte(&b, (unsigned char)p->op);
    kb_put(&b, p->value, strlen(p->value) + 1);
  }
  for (size_t i = 0; i < b.n; i++)
    h = (h ^ (unsigned char)b.p[i]) * 1099511628211ULL;
  kb_free(&b);
  return h;
}

typedef struct {
  store *s;
  const char *space;
  const store_query *q;
  qpred *qs;
  int by_index; /* 0: the range is the main heads themselves */
  kbuf lo, hi;  /* the driving range */
  uint64_t keys;
  json_t *items;
  size_t count;
  char *next; /* cursor of the next page, or NULL */
} scan;

static int same_field(const store_pred *a, const store_pred *b) {
  return a->is_label == b->is_label && !strcmp(a->name, b->name);
}

/* The driving predicate, and its range narrowed by the others on its field. */
static void drive_pick(scan *sc) {
  size_t n = sc->q->npreds, d = 0;
  int best = 99;
  if (n == 0) {
    key_make(&sc->lo, K_HEAD, sc->space, "", NULL);
    kb_put(&sc->hi, sc->lo.p, sc->lo.n);
    sc->hi.p[sc->hi.n - 1]++;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    store_op op = sc->qs[i].p->op;
    int rank = op == STORE_OP_EQ ? 0 : op == STORE_OP_PREFIX ? 2 : 1;
    if (rank < best) best = rank, d = i;
  }
  sc->by_index = 1;
  kb_put(&sc->lo, sc->qs[d].lo.p, sc->qs[d].lo.n);
  kb_put(&sc->hi, sc->qs[d].hi.p, sc->qs[d].hi.n);
  for (size_t i = 0; i < n; i++) {
    const qpred *x = &sc->qs[i];
    if (i == d || !same_field(x->p, sc->qs[d].p)) continue;
    if (cmp_bytes(x->lo.p, x->lo.n, sc->lo.p, sc->lo.n) > 0) {
      sc->lo.n = 0;
      kb_put(&sc->lo, x->lo.p, x->lo.n);
    }
    if (cmp_bytes(x->hi.p, x->hi.n, sc->hi.p, sc->hi.n) < 0) {
      sc->hi.n = 0;
      kb_put(&sc->hi, x->hi.p, x->hi.n);
    }
  }
}

/* Reads the main head of key (counted). 1 found, 0 gone, -1 error. */
static int head_fetch(scan *sc, const char *key, size_t klen, json_t **out) {
  kbuf k = {0};
  char *e = NULL;
  size_t vn = 0;
  key_make(&k, K_HEAD, sc->space, "", NULL);
  kb_put(&k, key, klen);
  char *v = leveldb_get(sc->s->db, sc->s->ropts, k.p, k.n, &vn, &e);
  kb_free(&k);
  sc->keys++;
  if (e) {
    leveldb_free(e);
    return -1;
  }
  if (!v) return 0;
  *out = json_loadb(v, vn, JSON_ALLOW_NUL, NULL);
  leveldb_free(v);
  return *out ? 1 : -1;
}

static json_t *project(json_t *obj, const store_query *q) {
  json_t *attrs, *kept;
  if (!q->fields) return obj;
  attrs = json_object_get(obj, "attrs");
  kept = json_object();
  for (size_t i = 0; i < q->nfields; i++) {
    json_t *v = json_object_get(attrs, q->fields[i]);
    if (v) json_object_set(kept, q->fields[i], v);
  }
  json_object_set_new(obj, "attrs", kept);
  return obj;
}

/* Handles one entry of the driving range. 1 matched, 0 not, -1 error. */
static int scan_entry(scan *sc, const char *k, size_t kn, const char *v,
                      size_t vn) {
  json_t *head = NULL;
  char *key;
  int rc = 1;
  if (sc->by_index) {
    key = xstrndup(v, vn);
    rc = head_fetch(sc, v, vn, &head);
  } else {
    key = xstrndup(k + sc->lo.n, kn - sc->lo.n);
    head = json_loadb(v, vn, JSON_ALLOW_NUL, NULL);
    rc = head ? 1 : -1;
  }
  for (size_t i = 0; rc == 1 && i < sc->q->npreds; i++)
    if (!pred_match(&sc->qs[i], head)) rc = 0;
  if (rc == 1) {
    sc->count++;
    if (!sc->q->count_only)
      json_array_append_new(sc->items, project(object_out(key, head), sc->q));
  }
  json_decref(head);
  free(key);
  return rc;
}

static int in_range(const scan *sc, const char *k, size_t kn) {
  return cmp_bytes(k, kn, sc->lo.p, sc->lo.n) >= 0 &&
         cmp_bytes(k, kn, sc->hi.p, sc->hi.n) < 0;
}

/* Seeks past the cursor (or to lo) and collects a page. */
static int scan_run(scan *sc, const char *after, size_t after_n, uint64_t h) {
  leveldb_iterator_t *it = leveldb_create_iterator(sc->s->db, sc->s->ropts);
  kbuf start = {0};
  char *e = NULL;
  int rc = 0;
  if (after) {
    kb_put(&start, after, after_n);
    kb_byte(&start, 0); /* strictly after the last key returned */
  } else {
    kb_put(&start, sc->lo.p, sc->lo.n);
  }
  for (leveldb_iter_seek(it, start.p, start.n); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn, vn;
    const char *k = leveldb_iter_key(it, &kn);
    if (!in_range(sc, k, kn)) break;
    sc->keys++;
    if (!sc->q->count_only && sc->count == sc->q->limit) {
      /* one more entry exists: the page ends at the previous one */
      sc->next = cursor_make(h, start.p, start.n);
      break;
    }
    const char *v = leveldb_iter_value(it, &vn);
    if ((rc = scan_entry(sc, k, kn, v, vn)) < 0) break;
    if (rc == 1) {
      start.n = 0;
      kb_put(&start, k, kn);
    }
    rc = 0;
  }
  leveldb_iter_get_error(it, &e);
  leveldb_iter_destroy(it);
  kb_free(&start);
  if (e) leveldb_free(e);
  return e || rc < 0 ? -1 : 0;
}

static int query_check(const json_t *schema, const store_query *q,
                       store_err *err) {
  if (!q->count_only && (q->limit < 1 || q->limit > 1000))
    return err_set(err, STORE_BAD_REQUEST, "limit", "limit must be 1..1000");
  if (q->npreds && !q->preds)
    return err_set(err, STORE_BAD_REQUEST, "", "malformed query");
  for (size_t i = 0; q->fields && i < q->nfields; i++)
    if (schema_attr_type(schema, q->fields[i]) < 0)
      return err_set(err, STORE_BAD_REQUEST, "fields",
                     "fields: no attribute %.100s", q->fields[i]);
  return 0;
}

/* Decodes the cursor and checks that it lies in the driving range. */
static int cursor_check(scan *sc, uint64_t h, char **last, size_t *n,
                        store_err *err) {
  if (cursor_read(sc->q->cursor, h, last, n) == 0 && in_range(sc, *last, *n))
    return 0;
  free(*last);
  *last = NULL;
  return err_set(err, STORE_BAD_REQUEST, "cursor",
                 "the cursor does not belong to this query");
}

static json_t *query_answer(scan *sc) {
  json_t *o = json_object();
  if (sc->q->count_only) {
    json_object_set_new(o, "count", json_integer((json_int_t)sc->count));
    return o;
  }
  json_object_set(o, "items", sc->items);
  json_object_set_new(o, "next",
                      sc->next ? json_string(sc->next) : json_null());
  return o;
}

int store_query_run(store *s, const char *space, const store_query *q,
                    json_t **out, uint64_t *keys_read, store_err *err) {
  json_t *schema = NULL;
  scan sc = {.s = s, .space = space, .q = q};
  char *last = NULL;
  size_t last_n = 0, parsed = 0;
  int ret = -1;
  if (keys_read) *keys_read = 0;
  if (store_name_check(space, "space", err) ||
      schema_load(s, space, &schema, err) || query_check(schema, q, err))
    goto Exit;
  atomic_fetch_add(&s->reads, 1);
  sc.qs = calloc(q->npreds ? q->npreds : 1, sizeof *sc.qs);
  if (!sc.qs) abort();
  for (; parsed < q->npreds; parsed++)
    if (pred_parse(schema, space, &q->preds[parsed], &sc.qs[parsed], err)) {
      parsed++; /* its buffers may hold bytes */
      goto Exit;
    }
  drive_pick(&sc);
  uint64_t h = query_hash(space, q);
  if (q->cursor && cursor_check(&sc, h, &last, &last_n, err)) goto Exit;
  sc.items = json_array();
  if (scan_run(&sc, last, last_n, h) != 0) {
    err_set(err, STORE_IO, "", "LevelDB read failed during the search");
    goto Exit;
  }
  *out = query_answer(&sc);
  ret = 0;
Exit:
  atomic_fetch_add(&s->keys_read, sc.keys);
  if (keys_read) *keys_read = sc.keys;
  for (size_t i = 0; i < parsed; i++) {
    kb_free(&sc.qs[i].enc);
    kb_free(&sc.qs[i].lo);
    kb_free(&sc.qs[i].hi);
  }
  free(sc.qs);
  kb_free(&sc.lo);
  kb_free(&sc.hi);
  json_decref(sc.items);
  json_decref(schema);
  free(last);
  free(sc.next);
  return ret;
}
