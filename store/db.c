/*
 * db.c — opening and closing the store, the single writer thread and its
 * group commit, and the stats.
 *
 * Callers queue operations and sleep; the writer takes every queued
 * operation at once, applies them in order against one overlay (txn.c),
 * writes the group in one synced LevelDB write and wakes each caller with
 * its own result. Since only the writer mutates, an operation's
 * read-modify-write of a record is atomic without locks held across HTTP,
 * and concurrent writers share one fsync.
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
  case OP_OBJECT_DELETE:
    return object_apply_delete(s, t, op);
  case OP_BRANCH_CREATE:
    return branch_apply_create(s, t, op);
  }
  return err_set(&op->err, STORE_IO, "", "unknown operation");
}

/* Applies one group and makes it durable; every op gets its rc. */
static void group_run(store *s, wop *group) {
  txn *t = txn_new(s);
  char *e = NULL;
  int any = 0;
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
  if (any && txn_write(t, &e) != 0) {
    for (wop *op = group; op; op = op->next) {
      if (op->rc != 0) continue;
      op->rc = err_set(&op->err, STORE_IO, "", "LevelDB write failed: %s", e);
      json_decref(op->out);
      op->out = NULL;
    }
    leveldb_free(e);
  } else if (any) {
    atomic_fetch_add(&s->commits, 1);
    for (wop *op = group; op; op = op->next) {
      if (op->rc != 0) continue;
      atomic_fetch_add(&s->writes, 1);
      atomic_fetch_add(&s->spaces, (uint64_t)(int64_t)op->spaces_delta);
    }
  }
  txn_free(t);
}

static void *writer_main(void *arg) {
  store *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stopping)
      pthread_cond_wait(&s->wake, &s->mu);
    if (!s->head) break; /* stopping, and the queue is drained */
    wop *group = s->head;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    group_run(s, group);
    pthread_mutex_lock(&s->mu);
    for (wop *op = group, *n; op; op = n) {
      n = op->next; /* op may vanish once done is seen */
      op->done = 1;
      pthread_cond_signal(&op->cv);
    }
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int db_submit(store *s, wop *op) {
  op->done = 0;
  op->rc = -1;
  op->out = NULL;
  op->next = NULL;
  pthread_cond_init(&op->cv, NULL);
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&op->cv);
    return err_set(&op->err, STORE_IO, "", "the store is closing");
  }
  if (s->tail)
    s->tail->next = op;
  else
    s->head = op;
  s->tail = op;
  pthread_cond_signal(&s->wake);
  while (!op->done)
    pthread_cond_wait(&op->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  pthread_cond_destroy(&op->cv);
  return op->rc;
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
