/*
 * blob.c — raw byte values by (namespace, name), outside every space: the
 * node keeps what is not an object here (the Ruby source of /code). They
 * live under their own kind byte (keys.h), so no space listing, count,
 * index or query ever reads them, and a put goes through the writer like
 * any mutation, so it is durable when its completion runs.
 */
#include "store/internal.h"

#include <string.h>

int blob_apply_put(store *s, txn *t, wop *op) {
  kbuf k = {0};
  (void)s;
  key_make(&k, K_BLOB, op->space, op->key, NULL);
  txn_put(t, k.p, k.n, op->data, op->dlen);
  kb_free(&k);
  return 0;
}

static int blob_names_check(const char *ns, const char *name, store_err *err) {
  return store_name_check(ns, "namespace", err) ||
                 store_name_check(name, "name", err)
             ? -1
             : 0;
}

void store_blob_put_async(store *s, const char *ns, const char *name,
                          const void *data, size_t len, store_done_fn cb,
                          void *ud) {
  store_err err = {0};
  wop *op;
  if (blob_names_check(ns, name, &err)) {
    db_fail_now(cb, ud, &err);
    return;
  }
  op = wop_new(OP_BLOB_PUT, ns, name, NULL, NULL, NULL, cb, ud);
  op->data = xstrndup(data, len);
  op->dlen = len;
  db_submit(s, op);
}

int store_blob_put(store *s, const char *ns, const char *name, const void *data,
                   size_t len, store_err *err) {
  db_waiter wt;
  db_waiter_init(&wt);
  store_blob_put_async(s, ns, name, data, len, db_waiter_done, &wt);
  return db_waiter_wait(&wt, NULL, NULL, err);
}

int store_blob_get(store *s, const char *ns, const char *name, char **data,
                   size_t *len, store_err *err) {
  kbuf k = {0};
  int rc;
  *data = NULL;
  if (blob_names_check(ns, name, err)) return -1;
  atomic_fetch_add(&s->reads, 1);
  key_make(&k, K_BLOB, ns, name, NULL);
  rc = db_get(s, k.p, k.n, data, len, err);
  kb_free(&k);
  if (rc == 0)
    return err_set(err, STORE_NOT_FOUND, "name", "no %.100s %.100s", ns, name);
  return rc < 0 ? -1 : 0;
}
