/*
 * branch.c — version history and branches of an object.
 */
#include "store/internal.h"

#include <string.h>

static json_t *version_item(uint64_t v, const json_t *stored, size_t size) {
  json_t *o = json_object();
  json_object_set_new(o, "version", json_integer((json_int_t)v));
  json_object_set(o, "modified", json_object_get(stored, "modified"));
  json_object_set_new(o, "size", json_integer((json_int_t)size));
  return o;
}

/* Appends every version record under prefix `p` to items. */
static int versions_scan(store *s, const kbuf *p, json_t *items,
                         store_err *err) {
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
  char *e = NULL;
  for (leveldb_iter_seek(it, p->p, p->n); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn, vn;
    const char *k = leveldb_iter_key(it, &kn);
    if (kn != p->n + 8 || memcmp(k, p->p, p->n)) break;
    const char *v = leveldb_iter_value(it, &vn);
    json_t *stored = json_loadb(v, vn, JSON_ALLOW_NUL, NULL);
    json_array_append_new(items, version_item(key_u64(k + p->n), stored, vn));
    json_decref(stored);
  }
  leveldb_iter_get_error(it, &e);
  leveldb_iter_destroy(it);
  if (e) {
    leveldb_free(e);
    return err_set(err, STORE_IO, "", "LevelDB iteration failed");
  }
  return 0;
}

int store_versions_list(store *s, const char *space, const char *key,
                        const char *branch, json_t **out, store_err *err) {
  json_t *schema = NULL, *head = NULL, *items = json_array();
  kbuf p = {0};
  int ret = -1;
  if (object_read_checked(s, space, key, branch, &schema, &head, err))
    goto Exit;
  if (schema_versioning(schema)) {
    key_make(&p, K_VERSION, space, key,
             branch_is_main(branch) ? "main" : branch);
    kb_byte(&p, 0);
    if (versions_scan(s, &p, items, err)) goto Exit;
  } else {
    char *d = json_dump_compact(head);
    json_array_append_new(items,
                          version_item((uint64_t)json_integer_value(
                                           json_object_get(head, "version")),
                                       head, strlen(d)));
    free(d);
  }
  *out = json_incref(items);
  ret = 0;
Exit:
  json_decref(schema);
  json_decref(head);
  json_decref(items);
  kb_free(&p);
  return ret;
}

int branch_apply_create(store *s, txn *t, wop *op) {
  json_t *schema = NULL, *src = NULL, *exists = NULL;
  kbuf k = {0};
  int ret = -1;
  if (schema_load_txn(s, t, op->space, &schema, &op->err)) goto Exit;
  if (!schema_versioning(schema)) {
    err_set(&op->err, STORE_CONFLICT, "space",
            "branches need a space with versioning on");
    goto Exit;
  }
  version_key(&k, op->space, op->key, "main", op->from);
  if (txn_get_json(t, k.p, k.n, &src) != 1) {
    err_set(&op->err, STORE_NOT_FOUND, "from",
            "%.100s has no version %llu on main", op->key,
            (unsigned long long)op->from);
    goto Exit;
  }
  key_make(&k, K_BRANCH, op->space, op->key, op->name);
  if (txn_get_json(t, k.p, k.n, &exists) != 0) {
    err_set(&op->err, STORE_CONFLICT, "name", "branch %.100s exists", op->name);
    goto Exit;
  }
  json_object_set_new(src, "branch", json_string(op->name));
  json_object_set_new(src, "from", json_integer((json_int_t)op->from));
  txn_put_json(t, k.p, k.n, src);
  version_key(&k, op->space, op->key, op->name, op->from);
  txn_put_json(t, k.p, k.n, src);
  op->out = object_out(op->key, src);
  op->created = 1;
  txn_change(t, STORE_CHANGE_BRANCH, op->space, op->key, op->name, op->from,
             txn_feeding(t) ? json_dump_compact(op->out) : NULL);
  ret = 0;
Exit:
  json_decref(schema);
  json_decref(src);
  json_decref(exists);
  kb_free(&k);
  return ret;
}

void store_branch_create_async(store *s, const char *space, const char *key,
                               const char *name, uint64_t from,
                               store_done_fn cb, void *ud) {
  store_err err = {0};
  wop *op;
  if (store_name_check(space, "space", &err) ||
      store_name_check(key, "key", &err) ||
      store_name_check(name, "name", &err) ||
      (!strcmp(name, "main") &&
       err_set(&err, STORE_CONFLICT, "name", "main exists already"))) {
    db_fail_now(cb, ud, &err);
    return;
  }
  op = wop_new(OP_BRANCH_CREATE, space, key, name, NULL, NULL, cb, ud);
  op->from = from;
  db_submit(s, op);
}

int store_branch_create(store *s, const char *space, const char *key,
                        const char *name, uint64_t from, json_t **out,
                        store_err *err) {
  db_waiter w;
  db_waiter_init(&w);
  store_branch_create_async(s, space, key, name, from, db_waiter_done, &w);
  return db_waiter_wait(&w, out, NULL, err);
}

static json_t *branch_item(const char *name, const json_t *stored) {
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(name));
  json_t *from = json_object_get(stored, "from");
  json_object_set_new(o, "from", from ? json_incref(from) : json_null());
  json_object_set(o, "version", json_object_get(stored, "version"));
  json_object_set(o, "modified", json_object_get(stored, "modified"));
  return o;
}

int store_branch_list(store *s, const char *space, const char *key,
                      json_t **out, store_err *err) {
  json_t *schema = NULL, *head = NULL, *items = json_array();
  kbuf p = {0};
  leveldb_iterator_t *it = NULL;
  char *e = NULL;
  int ret = -1;
  if (object_read_checked(s, space, key, NULL, &schema, &head, err)) goto Exit;
  json_array_append_new(items, branch_item("main", head));
  key_make(&p, K_BRANCH, space, key, "");
  it = leveldb_create_iterator(s->db, s->ropts);
  for (leveldb_iter_seek(it, p.p, p.n); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn, vn;
    const char *k = leveldb_iter_key(it, &kn);
    if (kn < p.n || memcmp(k, p.p, p.n)) break;
    const char *v = leveldb_iter_value(it, &vn);
    char *name = xstrndup(k + p.n, kn - p.n);
    json_t *stored = json_loadb(v, vn, JSON_ALLOW_NUL, NULL);
    if (stored) json_array_append_new(items, branch_item(name, stored));
    json_decref(stored);
    free(name);
  }
  leveldb_iter_get_error(it, &e);
  if (e) {
    leveldb_free(e);
    err_set(err, STORE_IO, "", "LevelDB iteration failed");
    goto Exit;
  }
  *out = json_incref(items);
  ret = 0;
Exit:
  if (it) leveldb_iter_destroy(it);
  json_decref(schema);
  json_decref(head);
  json_decref(items);
  kb_free(&p);
  return ret;
}
