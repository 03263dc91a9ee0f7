/*
 * space.c — creating, reading, listing and deleting spaces.
 */
#include "store/internal.h"

#include <string.h>

/* Copies member `f` of from (when present) into to. */
static void member_copy(json_t *to, const json_t *from, const char *f) {
  json_t *m = json_object_get(from, f);
  if (m) json_object_set_new(to, f, json_deep_copy(m));
}

/* The API's view of a space from its stored schema (refcount: new). Deep
 * copies: the stored schema may be the cache's, shared with other threads,
 * and the view is handed to code that may change it. */
static json_t *space_view(const char *name, const json_t *stored,
                          uint64_t objects) {
  json_t *v = json_object();
  json_object_set_new(v, "name", json_string(name));
  member_copy(v, stored, "key");
  member_copy(v, stored, "attrs");
  member_copy(v, stored, "opts");
  json_object_set_new(v, "objects", json_integer((json_int_t)objects));
  member_copy(v, stored, "created");
  return v;
}

static uint64_t count_decode(const char *v, size_t n) {
  return n == 8 ? key_u64(v) : 0;
}

void count_add(txn *t, const char *space, int64_t delta) {
  kbuf k = {0}, v = {0};
  char *old = NULL;
  size_t n = 0;
  uint64_t c = 0;
  key_make(&k, K_COUNT, space, NULL, NULL);
  if (txn_get(t, k.p, k.n, &old, &n) == 1) c = count_decode(old, n);
  free(old);
  c = (delta < 0 && c < (uint64_t)-delta) ? 0 : c + (uint64_t)delta;
  kb_u64(&v, c);
  txn_put(t, k.p, k.n, v.p, v.n);
  kb_free(&k);
  kb_free(&v);
}

uint64_t count_get(store *s, const char *space) {
  kbuf k = {0};
  char *v = NULL;
  size_t n = 0;
  uint64_t c = 0;
  key_make(&k, K_COUNT, space, NULL, NULL);
  if (db_get(s, k.p, k.n, &v, &n, NULL) == 1) c = count_decode(v, n);
  free(v);
  kb_free(&k);
  return c;
}

static int same_schema(const json_t *a, const json_t *b) {
  static const char *const f[] = {"key", "attrs", "opts"};
  for (size_t i = 0; i < 3; i++)
    if (!json_equal(json_object_get(a, f[i]), json_object_get(b, f[i])))
      return 0;
  return 1;
}

int space_apply_put(store *s, txn *t, wop *op) {
  json_t *old = NULL, *stored = NULL;
  kbuf k = {0}, c = {0};
  char now[40];
  int ret = -1;
  if (schema_load_txn(s, t, op->space, &old, &op->err) == 0) {
    if (!same_schema(old, op->body)) {
      err_set(&op->err, STORE_CONFLICT, "space",
              "space %.100s exists with another schema", op->space);
      goto Exit;
    }
    op->out = space_view(op->space, old, 0);
    op->created = 0;
    ret = 0;
    goto Exit;
  }
  if (op->err.code != STORE_NOT_FOUND) goto Exit;
  memset(&op->err, 0, sizeof op->err);
  stored = json_deep_copy(op->body);
  time_now_rfc3339(now, sizeof now);
  json_object_set_new(stored, "created", json_string(now));
  key_make(&k, K_SPACE, op->space, NULL, NULL);
  txn_put_json(t, k.p, k.n, stored);
  key_make(&k, K_COUNT, op->space, NULL, NULL);
  kb_u64(&c, 0);
  txn_put(t, k.p, k.n, c.p, c.n);
  op->out = space_view(op->space, stored, 0);
  op->created = 1;
  op->spaces_delta = 1;
  ret = 0;
Exit:
  json_decref(old);
  json_decref(stored);
  kb_free(&k);
  kb_free(&c);
  return ret;
}

/* Deletes every key of one kind in the space: "X\0space\0" .. "X\0space\1".
 * All of it goes into the group's one batch, so a huge space makes a huge
 * batch (memory in proportion to its keys); chunking it across groups
 * would need a "deleting" mark on the space, not done yet. */
static int del_kind(txn *t, char kind, const char *space) {
  kbuf lo = {0};
  key_make(&lo, kind, space, "", NULL);
  long n = txn_del_prefix(t, lo.p, lo.n);
  kb_free(&lo);
  return n < 0 ? -1 : 0;
}

int space_apply_delete(store *s, txn *t, wop *op) {
  static const char kinds[] = {K_HEAD, K_BRANCH, K_VERSION, K_INDEX, K_LABEL};
  json_t *old = NULL;
  kbuf k = {0};
  if (schema_load_txn(s, t, op->space, &old, &op->err) != 0) return -1;
  json_decref(old);
  for (size_t i = 0; i < sizeof kinds; i++)
    if (del_kind(t, kinds[i], op->space) != 0)
      return err_set(&op->err, STORE_IO, "", "LevelDB iteration failed");
  key_make(&k, K_SPACE, op->space, NULL, NULL);
  txn_del(t, k.p, k.n);
  key_make(&k, K_COUNT, op->space, NULL, NULL);
  txn_del(t, k.p, k.n);
  kb_free(&k);
  op->spaces_delta = -1;
  txn_change(t, STORE_CHANGE_SPACE_DELETE, op->space, NULL, NULL, 0, NULL);
  return 0;
}

void store_space_put_async(store *s, const char *name, const json_t *spec,
                           store_done_fn cb, void *ud) {
  json_t *norm = NULL;
  store_err err = {0};
  if (store_name_check(name, "space", &err) ||
      schema_normalize(spec, &norm, &err)) {
    db_fail_now(cb, ud, &err);
    return;
  }
  db_submit(s, wop_new(OP_SPACE_PUT, name, NULL, NULL, norm, NULL, cb, ud));
  json_decref(norm);
}

int store_space_put(store *s, const char *name, const json_t *spec,
                    int *created, json_t **out, store_err *err) {
  db_waiter w;
  db_waiter_init(&w);
  store_space_put_async(s, name, spec, db_waiter_done, &w);
  return db_waiter_wait(&w, out, created, err);
}

int store_space_get(store *s, const char *name, json_t **out, store_err *err) {
  json_t *stored = NULL;
  atomic_fetch_add(&s->reads, 1);
  if (store_name_check(name, "space", err) ||
      schema_load(s, name, &stored, err))
    return -1;
  *out = space_view(name, stored, count_get(s, name));
  json_decref(stored);
  return 0;
}

int store_space_list(store *s, const char *after, size_t limit, json_t **out,
                     int *more, store_err *err) {
  kbuf start = {0};
  json_t *items;
  leveldb_iterator_t *it;
  char *e = NULL;
  if (limit < 1 || limit > 1000)
    return err_set(err, STORE_BAD_REQUEST, "limit", "limit must be 1..1000");
  atomic_fetch_add(&s->reads, 1);
  key_make(&start, K_SPACE, after ? after : "", NULL, NULL);
  if (after) kb_byte(&start, 0); /* strictly after: names never hold a NUL */
  items = json_array();
  *more = 0;
  it = leveldb_create_iterator(s->db, s->ropts);
  for (leveldb_iter_seek(it, start.p, start.n); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn, vn;
    const char *k = leveldb_iter_key(it, &kn);
    if (kn < 2 || k[0] != K_SPACE) break;
    if (json_array_size(items) == limit) {
      *more = 1;
      break;
    }
    const char *v = leveldb_iter_value(it, &vn);
    char *name = xstrndup(k + 2, kn - 2);
    json_t *stored = json_loadb(v, vn, JSON_ALLOW_NUL, NULL);
    if (stored)
      json_array_append_new(items,
                            space_view(name, stored, count_get(s, name)));
    json_decref(stored);
    free(name);
  }
  leveldb_iter_get_error(it, &e);
  leveldb_iter_destroy(it);
  kb_free(&start);
  if (e) {
    leveldb_free(e);
    json_decref(items);
    return err_set(err, STORE_IO, "", "LevelDB iteration failed");
  }
  *out = items;
  return 0;
}

void store_space_delete_async(store *s, const char *name, store_done_fn cb,
                              void *ud) {
  store_err err = {0};
  if (store_name_check(name, "space", &err)) {
    db_fail_now(cb, ud, &err);
    return;
  }
  db_submit(s, wop_new(OP_SPACE_DELETE, name, NULL, NULL, NULL, NULL, cb, ud));
}

int store_space_delete(store *s, const char *name, store_err *err) {
  db_waiter w;
  db_waiter_init(&w);
  store_space_delete_async(s, name, db_waiter_done, &w);
  return db_waiter_wait(&w, NULL, NULL, err);
}
