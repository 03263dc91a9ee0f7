/*
 * object.c — putting, reading and deleting objects, and what every write
 * of a head shares (object_write).
 */
#include "store/internal.h"

#include <string.h>

int branch_is_main(const char *branch) {
  return !branch || !strcmp(branch, "main");
}

static void head_key(kbuf *k, const char *space, const char *key,
                     const char *branch) {
  if (branch_is_main(branch))
    key_make(k, K_HEAD, space, key, NULL);
  else
    key_make(k, K_BRANCH, space, key, branch);
}

void version_key(kbuf *k, const char *space, const char *key,
                 const char *branch, uint64_t v) {
  key_make(k, K_VERSION, space, key, branch_is_main(branch) ? "main" : branch);
  kb_byte(k, 0);
  kb_u64(k, v);
}

static uint64_t version_of(const json_t *stored) {
  return (uint64_t)json_integer_value(json_object_get(stored, "version"));
}

json_t *object_out(const char *key, const json_t *stored) {
  static const char *const f[] = {"attrs", "labels", "version", "branch",
                                  "modified"};
  json_t *o = json_object();
  json_object_set_new(o, "key", json_string(key));
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    json_t *v = json_object_get(stored, f[i]);
    if (v) json_object_set(o, f[i], v);
  }
  return o;
}

int object_head_load(txn *t, wop *op, const char *branch, json_t **old) {
  kbuf k = {0};
  const store_wopts *w = op->w;
  *old = NULL;
  head_key(&k, op->space, op->key, branch);
  int rc = txn_get_json(t, k.p, k.n, old);
  kb_free(&k);
  if (rc < 0)
    return err_set(&op->err, STORE_IO, "", "cannot read %.100s", op->key);
  if (!*old && !branch_is_main(branch))
    return err_set(&op->err, STORE_NOT_FOUND, "branch",
                   "%.100s has no branch %.100s", op->key, branch);
  if (w && w->has_if_match &&
      (!*old || (w->if_match != 0 && version_of(*old) != w->if_match))) {
    json_decref(*old);
    *old = NULL;
    return err_set(&op->err, STORE_PRECONDITION, "If-Match",
                   "the current version of %.100s does not match", op->key);
  }
  return 0;
}

int object_write(txn *t, wop *op, const json_t *schema, const char *branch,
                 const json_t *old, const json_t *attrs, const json_t *labels) {
  kbuf k = {0};
  char now[40];
  int main = branch_is_main(branch);
  uint64_t v = old ? version_of(old) + 1 : 1;
  json_t *st = json_object();
  char *d;
  size_t dn;
  time_now_rfc3339(now, sizeof now);
  /* With the key inside, a stored main head is the very answer to a GET
   * (store_object_get_text): keys are sorted, so "version" comes last. */
  json_object_set_new(st, "key", json_string(op->key));
  json_object_set_new(st, "attrs", json_deep_copy(attrs));
  json_object_set_new(st, "labels", json_deep_copy(labels));
  json_object_set_new(st, "version", json_integer((json_int_t)v));
  json_object_set_new(st, "branch", json_string(main ? "main" : branch));
  json_object_set_new(st, "modified", json_string(now));
  if (!main) json_object_set(st, "from", json_object_get(old, "from"));
  head_key(&k, op->space, op->key, branch);
  d = json_dump_compact(st);
  dn = strlen(d);
  txn_put(t, k.p, k.n, d, dn);
  if (schema_versioning(schema)) {
    version_key(&k, op->space, op->key, branch, v);
    txn_put(t, k.p, k.n, d, dn);
  }
  if (main) {
    index_update(t, schema, op->space, op->key, old, st);
    if (!old) count_add(t, op->space, 1);
  }
  op->out = object_out(op->key, st);
  op->created = !old;
  /* The change feed gets the object as a GET answers it: a stored main
   * head is that text already; a branch head also holds "from". */
  if (txn_feeding(t)) {
    txn_change(
        t, op->kind == OP_OBJECT_PUT ? STORE_CHANGE_PUT : STORE_CHANGE_PATCH,
        op->space, op->key, main ? "main" : branch, v,
        main ? d : json_dump_compact(op->out));
    if (main) d = NULL;
  }
  free(d);
  json_decref(st);
  kb_free(&k);
  return 0;
}

static const char *op_branch(const wop *op) {
  return op->w ? op->w->branch : NULL;
}

int object_apply_put(store *s, txn *t, wop *op) {
  json_t *schema = NULL, *old = NULL, *empty = json_object();
  json_t *attrs = json_object_get(op->body, "attrs");
  json_t *labels = json_object_get(op->body, "labels");
  int ret = -1;
  if (schema_load_txn(s, t, op->space, &schema, &op->err) ||
      body_validate(schema, attrs, labels, &op->err) ||
      object_head_load(t, op, op_branch(op), &old))
    goto Exit;
  ret = object_write(t, op, schema, op_branch(op), old, attrs ? attrs : empty,
                     labels ? labels : empty);
Exit:
  json_decref(schema);
  json_decref(old);
  json_decref(empty);
  return ret;
}

/* Removes every key under `prefix` built from the given components. */
static int del_under(txn *t, char kind, const char *space, const char *key,
                     const char *branch) {
  kbuf k = {0};
  key_make(&k, kind, space, key, branch);
  kb_byte(&k, 0);
  long n = txn_del_prefix(t, k.p, k.n);
  kb_free(&k);
  return n < 0 ? -1 : 0;
}

int object_apply_delete(store *s, txn *t, wop *op) {
  json_t *schema = NULL, *old = NULL;
  const char *branch = op_branch(op);
  kbuf k = {0};
  int ret = -1;
  if (schema_load_txn(s, t, op->space, &schema, &op->err) ||
      object_head_load(t, op, branch, &old))
    goto Exit;
  if (!old) {
    err_set(&op->err, STORE_NOT_FOUND, "key", "no object %.100s", op->key);
    goto Exit;
  }
  head_key(&k, op->space, op->key, branch);
  txn_del(t, k.p, k.n);
  if (branch_is_main(branch)) {
    index_update(t, schema, op->space, op->key, old, NULL);
    count_add(t, op->space, -1);
    if (del_under(t, K_VERSION, op->space, op->key, NULL) ||
        del_under(t, K_BRANCH, op->space, op->key, NULL))
      goto Io;
  } else if (del_under(t, K_VERSION, op->space, op->key, branch)) {
    goto Io;
  }
  txn_change(t, STORE_CHANGE_DELETE, op->space, op->key,
             branch_is_main(branch) ? "main" : branch, version_of(old), NULL);
  ret = 0;
  goto Exit;
Io:
  err_set(&op->err, STORE_IO, "", "LevelDB iteration failed");
Exit:
  json_decref(schema);
  json_decref(old);
  kb_free(&k);
  return ret;
}

/* Name checks and the body's shape, before anything is queued. */
static int object_args_check(const char *space, const char *key,
                             const json_t *body, const store_wopts *w,
                             store_err *err) {
  if (store_name_check(space, "space", err) ||
      store_name_check(key, "key", err))
    return -1;
  if (w && w->branch && store_name_check(w->branch, "branch", err)) return -1;
  return body ? body_shape_check(body, err) : 0;
}

static void object_submit(store *s, op_kind kind, const char *space,
                          const char *key, const json_t *body,
                          const store_wopts *w, store_done_fn cb, void *ud) {
  store_err err = {0};
  if (object_args_check(space, key, body, w, &err)) {
    db_fail_now(cb, ud, &err);
    return;
  }
  db_submit(s, wop_new(kind, space, key, NULL, body, w, cb, ud));
}

/* PUT and PATCH need a body. */
static void object_write_submit(store *s, op_kind kind, const char *space,
                                const char *key, const json_t *body,
                                const store_wopts *w, store_done_fn cb,
                                void *ud) {
  store_err err = {0};
  if (!body) {
    err_set(&err, STORE_BAD_REQUEST, "", "a body is needed");
    db_fail_now(cb, ud, &err);
    return;
  }
  object_submit(s, kind, space, key, body, w, cb, ud);
}

void store_object_put_async(store *s, const char *space, const char *key,
                            const json_t *body, const store_wopts *w,
                            store_done_fn cb, void *ud) {
  object_write_submit(s, OP_OBJECT_PUT, space, key, body, w, cb, ud);
}

void store_object_patch_async(store *s, const char *space, const char *key,
                              const json_t *body, const store_wopts *w,
                              store_done_fn cb, void *ud) {
  object_write_submit(s, OP_OBJECT_PATCH, space, key, body, w, cb, ud);
}

void store_object_delete_async(store *s, const char *space, const char *key,
                               const store_wopts *w, store_done_fn cb,
                               void *ud) {
  object_submit(s, OP_OBJECT_DELETE, space, key, NULL, w, cb, ud);
}

int store_object_put(store *s, const char *space, const char *key,
                     const json_t *body, const store_wopts *w, json_t **out,
                     int *created, store_err *err) {
  db_waiter wt;
  db_waiter_init(&wt);
  store_object_put_async(s, space, key, body, w, db_waiter_done, &wt);
  return db_waiter_wait(&wt, out, created, err);
}

int store_object_patch(store *s, const char *space, const char *key,
                       const json_t *body, const store_wopts *w, json_t **out,
                       int *created, store_err *err) {
  db_waiter wt;
  db_waiter_init(&wt);
  store_object_patch_async(s, space, key, body, w, db_waiter_done, &wt);
  return db_waiter_wait(&wt, out, created, err);
}

int store_object_delete(store *s, const char *space, const char *key,
                        const store_wopts *w, store_err *err) {
  db_waiter wt;
  db_waiter_init(&wt);
  store_object_delete_async(s, space, key, w, db_waiter_done, &wt);
  return db_waiter_wait(&wt, NULL, NULL, err);
}

/* Reads the stored head of (space, key, branch): 0 with *out or -1. */
static int head_read(store *s, const char *space, const char *key,
                     const char *branch, json_t **out, store_err *err) {
  kbuf k = {0};
  head_key(&k, space, key, branch);
  int rc = db_get_json(s, k.p, k.n, out, err);
  kb_free(&k);
  if (rc < 0) return -1;
  if (rc == 0 && !branch_is_main(branch))
    return err_set(err, STORE_NOT_FOUND, "branch",
                   "%.100s has no branch %.100s", key, branch);
  if (rc == 0)
    return err_set(err, STORE_NOT_FOUND, "key", "no object %.100s", key);
  return 0;
}

int object_read_checked(store *s, const char *space, const char *key,
                        const char *branch, json_t **schema, json_t **head,
                        store_err *err) {
  *schema = *head = NULL;
  if (store_name_check(space, "space", err) ||
      store_name_check(key, "key", err) ||
      (branch && store_name_check(branch, "branch", err)))
    return -1;
  atomic_fetch_add(&s->reads, 1);
  if (schema_load(s, space, schema, err) == 0 &&
      head_read(s, space, key, branch, head, err) == 0)
    return 0;
  json_decref(*schema);
  *schema = NULL;
  return -1;
}

int store_object_get(store *s, const char *space, const char *key,
                     const char *branch, uint64_t version, json_t **out,
                     store_err *err) {
  json_t *schema = NULL, *head = NULL, *old = NULL;
  kbuf k = {0};
  int ret = -1;
  if (object_read_checked(s, space, key, branch, &schema, &head, err))
    return -1;
  if (version == 0 || version == version_of(head)) {
    *out = object_out(key, head);
    ret = 0;
    goto Exit;
  }
  if (schema_versioning(schema)) {
    version_key(&k, space, key, branch, version);
    int rc = db_get_json(s, k.p, k.n, &old, err);
    if (rc < 0) goto Exit;
    if (rc == 1) {
      *out = object_out(key, old);
      ret = 0;
      goto Exit;
    }
  }
  err_set(err, STORE_NOT_FOUND, "version", "%.100s has no version %llu", key,
          (unsigned long long)version);
Exit:
  json_decref(schema);
  json_decref(head);
  json_decref(old);
  kb_free(&k);
  return ret;
}

/*
 * Reads the version from the end of a stored main head. Keys are stored
 * sorted and "version" sorts after every other key of a main head, so the
 * text ends with `,"version":N}`.
 */
static int tail_version(const char *text, size_t len, uint64_t *version) {
  static const char tag[] = ",\"version\":";
  size_t end = len, start;
  uint64_t v = 0;

  if (end < 2 || text[end - 1] != '}') return -1;
  start = --end;
  while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9')
    start--;
  if (start == end || end - start > 19 || start < sizeof tag - 1 ||
      memcmp(text + start - (sizeof tag - 1), tag, sizeof tag - 1) != 0)
    return -1;
  for (size_t i = start; i < end; i++)
    v = v * 10 + (uint64_t)(text[i] - '0');
  *version = v;
  return 0;
}

int store_object_get_text(store *s, const char *space, const char *key,
                          char **text, size_t *len, uint64_t *version,
                          store_err *err) {
  json_t *schema = NULL;
  kbuf k = {0};
  int rc, ret = -1;

  *text = NULL;
  if (store_name_check(space, "space", err) ||
      store_name_check(key, "key", err))
    return -1;
  atomic_fetch_add(&s->reads, 1);
  if (schema_load(s, space, &schema, err) != 0) return -1;
  head_key(&k, space, key, NULL);
  rc = db_get(s, k.p, k.n, text, len, err);
  if (rc == 0) err_set(err, STORE_NOT_FOUND, "key", "no object %.100s", key);
  if (rc != 1) goto Exit;
  if (tail_version(*text, *len, version) != 0) {
    err_set(err, STORE_IO, "", "the stored head of %.100s is malformed", key);
    goto Exit;
  }
  ret = 0;
Exit:
  if (ret != 0) {
    free(*text);
    *text = NULL;
  }
  json_decref(schema);
  kb_free(&k);
  return ret;
}
