/*
 * db.c — opening and closing the store, the single writer thread and its
 * group commit, and the stats.
 *
 * Callers queue operations; the writer takes every queued operation at
 * once, applies them in order against one overlay (txn.c), writes the group
 * in one synced LevelDB write and runs each operation's completion with its
 * own result. A caller that must wait (the synchronous calls) waits on a
 * db_waiter; the HTTP front instead parks the connection, so a group is
 * not bounded by the number of pool threads. Since only the writer mutates, an
 * operation's read-modify-write of a record is atomic without locks held across
 * HTTP, and concurrent writers share one fsync.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

static int apply(store *s, txn *t, wop *op) {
  switch (op->kind) {
  case OP_SPACE_PUT:
    return space_apply_put(s, t, op);
  case OP_SPACE_DELETE:
    return space_apply_delete(s, t, op);
  case OP_OBJECT_PUT:
    return object_apply_put(s, t, op);
  case OP_OBJECT_PATCH:
    return patch_apply(s, t, op);
  case OP_OBJECT_PATCH_MANY:
    return patch_many_apply(s, t, op);
  case OP_OBJECT_DELETE:
    return object_apply_delete(s, t, op);
  case OP_BRANCH_CREATE:
    return branch_apply_create(s, t, op);
  case OP_BLOB_PUT:
    return blob_apply_put(s, t, op);
  }
  return err_set(&op->err, STORE_IO, "", "unknown operation");
}

/* The space ops of a group that succeeded change what the schema cache may
 * hold: they are the ones that create or delete a space. */
static int group_changes_spaces(const wop *group) {
  for (const wop *op = group; op; op = op->next)
    if (op->rc == 0 && op->spaces_delta != 0) return 1;
  return 0;
}

/* Writes the group; schemas it changes leave the cache for the write's
 * duration (see cache.c for why both ends matter). */
static int group_write(store *s, txn *t, wop *group, char **e) {
  int spaces = group_changes_spaces(group), rc;
  if (spaces) {
    schema_cache_write_begin(s);
    for (wop *op = group; op; op = op->next)
      if (op->rc == 0 && op->spaces_delta != 0)
        schema_cache_forget(s, op->space);
  }
  rc = txn_write(t, e);
  if (spaces) schema_cache_write_end(s);
  return rc;
}

static void op_fail(wop *op, const char *why) {
  op->rc = err_set(&op->err, STORE_IO, "", "LevelDB write failed: %s", why);
  json_decref(op->out);
  op->out = NULL;
}

/* After a durable write: counters, and the object count a space put
 * answers (read now, so it is the committed one). */
static void op_committed(store *s, wop *op) {
  atomic_fetch_add(&s->writes, 1);
  atomic_fetch_add(&s->spaces, (uint64_t)(int64_t)op->spaces_delta);
  if (op->kind == OP_SPACE_PUT && op->out)
    json_object_set_new(op->out, "objects",
                        json_integer((json_int_t)count_get(s, op->space)));
}

/* Applies one group and makes it durable; every op gets its rc. Once it
 * is durable, feed (when not NULL) gets the group's changes. */
static void group_run(store *s, wop *group, store_feed_fn feed, void *ud) {
  txn *t = txn_new(s);
  char *e = NULL;
  int any = 0;
  if (feed) txn_changes_collect(t);
  for (wop *op = group; op; op = op->next) {
    op->rc = apply(s, t, op);
    if (op->rc == 0) {
      txn_op_commit(t);
      any = 1;
    } else {
      txn_op_abort(t);
      json_decref(op->out);
      op->out = NULL;
    }
  }
  if (any && group_write(s, t, group, &e) != 0) {
    for (wop *op = group; op; op = op->next)
      if (op->rc == 0) op_fail(op, e);
    leveldb_free(e);
  } else if (any) {
    atomic_fetch_add(&s->commits, 1);
    for (wop *op = group; op; op = op->next)
      if (op->rc == 0) op_committed(s, op);
    size_t n;
    const store_change *c = txn_changes(t, &n);
    if (feed && n) feed(ud, c, n);
  }
  txn_free(t);
}

static void wop_free(wop *op) {
  free(op->space);
  free(op->key);
  free(op->name);
  free(op->data);
  free((char *)op->wcopy.branch);
  json_decref(op->body);
  json_decref(op->out);
  free(op);
}

/* Hands each op its result; the completion takes `out`. */
static void group_complete(wop *group) {
  for (wop *op = group, *n; op; op = n) {
    store_result res = {.rc = op->rc, .out = op->out, .created = op->created};
    n = op->next;
    if (op->rc != 0) {
      res.err = op->err;
      res.created = 0;
    }
    op->out = NULL;
    op->cb(op->ud, &res);
    wop_free(op);
  }
}

static void *writer_main(void *arg) {
  store *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stopping)
      pthread_cond_wait(&s->wake, &s->mu);
    if (!s->head) break; /* stopping, and the queue is drained */
    wop *group = s->head;
    store_feed_fn feed = s->feed;
    void *feed_ud = s->feed_ud;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    group_run(s, group, feed, feed_ud);
    group_complete(group);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static char *strdup_or_null(const char *p) {
  return p ? xstrndup(p, strlen(p)) : NULL;
}

wop *wop_new(op_kind kind, const char *space, const char *key, const char *name,
             const json_t *body, const store_wopts *w, store_done_fn cb,
             void *ud) {
  wop *op = calloc(1, sizeof *op);
  if (!op) abort();
  op->kind = kind;
  op->space = strdup_or_null(space);
  op->key = strdup_or_null(key);
  op->name = strdup_or_null(name);
  /* jansson's reference counts are atomic: the caller may drop its own
   * reference while the writer holds this one. */
  op->body = body ? json_incref((json_t *)body) : NULL;
  if (w) {
    op->wcopy = *w;
    op->wcopy.branch = strdup_or_null(w->branch);
    op->w = &op->wcopy;
  }
  op->cb = cb;
  op->ud = ud;
  op->rc = -1;
  return op;
}

void db_fail_now(store_done_fn cb, void *ud, const store_err *err) {
  store_result res = {.rc = -1};
  if (err) res.err = *err;
  cb(ud, &res);
}

void db_submit(store *s, wop *op) {
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    err_set(&op->err, STORE_IO, "", "the store is closing");
    db_fail_now(op->cb, op->ud, &op->err);
    wop_free(op);
    return;
  }
  if (s->tail)
    s->tail->next = op;
  else
    s->head = op;
  s->tail = op;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

void db_waiter_init(db_waiter *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

void db_waiter_done(void *ud, store_result *res) {
  db_waiter *w = ud;
  pthread_mutex_lock(&w->mu);
  w->res = *res;
  res->out = NULL; /* taken */
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int db_waiter_wait(db_waiter *w, json_t **out, int *created, store_err *err) {
  pthread_mutex_lock(&w->mu);
  while (!w->done)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  if (w->res.rc != 0) {
    if (err) *err = w->res.err;
    return -1;
  }
  if (created) *created = w->res.created;
  if (out)
    *out = w->res.out;
  else
    json_decref(w->res.out);
  return 0;
}

static uint64_t spaces_count(store *s) {
  uint64_t n = 0;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
  const char lo[2] = {K_SPACE, 0};
  for (leveldb_iter_seek(it, lo, 2); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kn;
    const char *k = leveldb_iter_key(it, &kn);
    if (kn < 2 || k[0] != K_SPACE) break;
    n++;
  }
  leveldb_iter_destroy(it);
  return n;
}

static void release(store *s) {
  if (s->db) leveldb_close(s->db);
  if (s->opts) leveldb_options_destroy(s->opts);
  if (s->bloom) leveldb_filterpolicy_destroy(s->bloom);
  if (s->cache) leveldb_cache_destroy(s->cache);
  if (s->env) leveldb_env_destroy(s->env);
  if (s->ropts) leveldb_readoptions_destroy(s->ropts);
  if (s->wopts) leveldb_writeoptions_destroy(s->wopts);
  schema_cache_free(s);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->wake);
  free(s);
}

int store_open(const char *dir, store **out, store_err *err) {
  store *s = calloc(1, sizeof *s);
  char *e = NULL;
  if (!s) return err_set(err, STORE_IO, "", "out of memory");
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->wake, NULL);
  schema_cache_init(s);
  s->opts = leveldb_options_create();
  s->env = leveldb_create_default_env();
  s->bloom = leveldb_filterpolicy_create_bloom(10);
  s->cache = leveldb_cache_create_lru(64 << 20);
  leveldb_options_set_create_if_missing(s->opts, 1);
  leveldb_options_set_paranoid_checks(s->opts, 1);
  leveldb_options_set_filter_policy(s->opts, s->bloom);
  leveldb_options_set_cache(s->opts, s->cache);
  leveldb_options_set_env(s->opts, s->env);
  s->ropts = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(s->ropts, 1);
  s->wopts = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(s->wopts, 1);
  s->db = leveldb_open(s->opts, dir, &e);
  if (e) {
    err_set(err, STORE_IO, "", "cannot open LevelDB at %s: %s", dir, e);
    leveldb_free(e);
    release(s);
    return -1;
  }
  atomic_store(&s->spaces, spaces_count(s));
  if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
    release(s);
    return err_set(err, STORE_IO, "", "cannot start the writer thread");
  }
  *out = s;
  return 0;
}

void store_feed_set(store *s, store_feed_fn fn, void *ud) {
  pthread_mutex_lock(&s->mu);
  s->feed = fn;
  s->feed_ud = ud;
  pthread_mutex_unlock(&s->mu);
}

void store_close(store *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->writer, NULL);
  release(s);
}

void store_stats_get(store *s, store_stats *out) {
  const char *lo = "", *hi = "\xff\xff\xff\xff";
  size_t lolen = 0, hilen = 4;
  uint64_t size = 0;
  memset(out, 0, sizeof *out);
  if (!s) return;
  out->reads = atomic_load(&s->reads);
  out->writes = atomic_load(&s->writes);
  out->commits = atomic_load(&s->commits);
  out->keys_read = atomic_load(&s->keys_read);
  out->spaces = atomic_load(&s->spaces);
  leveldb_approximate_sizes(s->db, 1, &lo, &lolen, &hi, &hilen, &size);
  out->disk_bytes = size;
}
