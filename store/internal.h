/*
 * internal.h — what the store's files share: the store handle, the writer's
 * queue of operations, the writer's overlay (txn), schemas and the helpers
 * the object, patch, index and query code build on. Not for use outside
 * store/.
 */
#ifndef M31_STORE_INTERNAL_H
#define M31_STORE_INTERNAL_H

#include "store/keys.h"
#include "store/store.h"
#include "util/base64.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------ operations */

typedef enum {
  OP_SPACE_PUT,
  OP_SPACE_DELETE,
  OP_OBJECT_PUT,
  OP_OBJECT_PATCH,
  OP_OBJECT_PATCH_MANY, /* body = {"<key>": patch body, ...} */
  OP_OBJECT_DELETE,
  OP_BRANCH_CREATE,
  OP_BLOB_PUT,
} op_kind;

/**
 * One queued mutation. It owns copies of everything it reads (the caller of
 * a *_async function may free its arguments at once) and is freed by the
 * writer after its completion ran.
 */
typedef struct wop {
  op_kind kind;
  char *space;          /* owned */
  char *key;            /* object key, or NULL; owned */
  char *name;           /* branch to create, or NULL; owned */
  json_t *body;         /* refcount: own reference, or NULL */
  char *data;           /* OP_BLOB_PUT's bytes: owned, or NULL */
  size_t dlen;          /* and their length */
  const store_wopts *w; /* NULL, or &wcopy */
  store_wopts wcopy;    /* wcopy.branch is owned */
  uint64_t from;
  store_done_fn cb; /* runs once, then the op is freed */
  void *ud;
  /* results, written by the writer */
  int rc;
  json_t *out; /* refcount: new, handed to the completion */
  int created;
  int spaces_delta; /* +1 space created, -1 deleted: applied after commit */
  store_err err;
  struct wop *next;
} wop;

/* The schema cache: parsed schemas by space name, shared read-only. */
typedef struct schema_entry schema_entry;
typedef struct {
  pthread_mutex_t mu;
  uint64_t gen; /* odd while the writer writes a group that changes spaces */
  schema_entry **buckets;
  size_t nbuckets, count;
} schema_cache;

struct store {
  leveldb_t *db;
  leveldb_options_t *opts;
  leveldb_readoptions_t *ropts;
  leveldb_writeoptions_t *wopts;
  leveldb_filterpolicy_t *bloom;
  leveldb_cache_t *cache;
  leveldb_env_t *env;

  pthread_mutex_t mu;  /* guards the queue and `stopping` */
  pthread_cond_t wake; /* the writer sleeps on it */
  wop *head, *tail;
  int stopping;
  pthread_t writer;

  schema_cache schemas;

  store_feed_fn feed; /* guarded by mu; the writer copies it per group */
  void *feed_ud;

  atomic_uint_fast64_t reads, writes, commits, keys_read, spaces;
};

/**
 * Makes an operation, copying the strings and *w and taking a reference to
 * body (all may be NULL). Never NULL.
 */
wop *wop_new(op_kind kind, const char *space, const char *key, const char *name,
             const json_t *body, const store_wopts *w, store_done_fn cb,
             void *ud);

/**
 * Queues `op` (taken) for the writer. Its completion runs once the op was
 * applied and its group is durable (or failed), on the writer thread; or at
 * once on this thread when the store is closing.
 */
void db_submit(store *s, wop *op);

/** Runs cb with a failure (err copied) on this thread. */
void db_fail_now(store_done_fn cb, void *ud, const store_err *err);

/*
 * A synchronous call over an asynchronous one: pass db_waiter_done and the
 * waiter as the completion, then db_waiter_wait.
 */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  store_result res;
} db_waiter;

void db_waiter_init(db_waiter *w);
void db_waiter_done(void *ud, store_result *res);

/**
 * Waits for the completion, hands its results out (out and created may be
 * NULL; *out takes the reference), destroys the waiter. Returns res.rc.
 */
int db_waiter_wait(db_waiter *w, json_t **out, int *created, store_err *err);

/* ------------------------------------------------------------ the overlay */

typedef struct txn txn;

/** A fresh, empty overlay over s's LevelDB for one group of operations. */
txn *txn_new(store *s);
void txn_free(txn *t);

/**
 * Reads `key` as seen by the current operation: its own pending writes,
 * then the group's, then LevelDB. Returns 1 with *val (malloc'd, NUL
 * terminated, caller frees) and *vlen, 0 when absent, -1 on an I/O error.
 */
int txn_get(txn *t, const char *key, size_t klen, char **val, size_t *vlen);

/**
 * Like txn_get, but only from the overlay: 1 with *val (malloc'd) when the
 * group or the current operation put the key, 0 when it deleted it, 2 when
 * the overlay does not know it (LevelDB's value stands).
 */
int txn_get_overlay(txn *t, const char *key, size_t klen, char **val,
                    size_t *vlen);

/** Like txn_get, parsing the value as JSON (refcount: new). */
int txn_get_json(txn *t, const char *key, size_t klen, json_t **out);

/** Stages a put (the bytes are copied) for the current operation. */
void txn_put(txn *t, const char *key, size_t klen, const char *val,
             size_t vlen);

/** Stages a put of `v` dumped compactly. */
void txn_put_json(txn *t, const char *key, size_t klen, const json_t *v);

/** Stages a delete for the current operation. */
void txn_del(txn *t, const char *key, size_t klen);

/**
 * Stages deletes of every key in [lo, hi), in LevelDB and in the overlay.
 * Returns the number of keys deleted, or -1 on an I/O error.
 */
long txn_del_range(txn *t, const char *lo, size_t lolen, const char *hi,
                   size_t hilen);

/**
 * txn_del_range over every key starting with `prefix` (whose last byte,
 * a separator, is below 0xff).
 */
long txn_del_prefix(txn *t, const char *prefix, size_t n);

/** The current operation succeeded: its pending writes join the group. */
void txn_op_commit(txn *t);

/** The current operation failed: its pending writes are dropped. */
void txn_op_abort(txn *t);

/** Writes the group's writes in one synced batch. 0, or -1 (errmsg set). */
int txn_write(txn *t, char **errmsg);

/*
 * Changes for the change feed (store_feed_set), kept like the writes: the
 * current operation's join the group's on txn_op_commit and are dropped on
 * txn_op_abort. Nothing is kept unless txn_changes_collect was called.
 */

/** From now on this overlay keeps the changes its operations report. */
void txn_changes_collect(txn *t);

/** 1 when changes are kept: only then is an object's text worth making. */
int txn_feeding(const txn *t);

/**
 * Reports a change of the current operation; the strings are copied,
 * object (malloc'ed, NUL-terminated, or NULL) is taken, also when changes
 * are not kept.
 */
void txn_change(txn *t, store_change_op op, const char *space, const char *key,
                const char *branch, uint64_t version, char *object);

/** The changes of the group's committed operations, in order (borrowed). */
const store_change *txn_changes(const txn *t, size_t *n);

/* -------------------------------------------------------------- helpers */

/** Fills err (printf-style detail); always returns -1 for `return err_set`. */
int err_set(store_err *err, store_code code, const char *field, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));

/** Allocation that must not fail: aborts on out of memory. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *p, size_t n);

/** Now as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 32 bytes). */
void time_now_rfc3339(char *buf, size_t size);

/** A compact, key-sorted dump (malloc'd, caller frees); aborts on OOM. */
char *json_dump_compact(const json_t *v);

/** Reads `key` from LevelDB directly: 1 found (*val malloc'd), 0, -1. */
int db_get(store *s, const char *key, size_t klen, char **val, size_t *vlen,
           store_err *err);

/** db_get parsing JSON. 1, 0 or -1 (STORE_IO in err). */
int db_get_json(store *s, const char *key, size_t klen, json_t **out,
                store_err *err);

/* base64: util/base64.h */

/* --------------------------------------------------------------- schemas */

typedef enum {
  T_INT,
  T_FLOAT,
  T_STRING,
  T_BOOL,
  T_BYTES,
  T_LIST,
  T_MAP,
  T_ANY,
} attr_type;

/**
 * Validates and normalises a space spec into {"key","attrs","opts"} with
 * defaults filled in. Returns 0 and *out (refcount: new), or -1 with err.
 */
int schema_normalize(const json_t *spec, json_t **out, store_err *err);

/** The type of attribute `name` in `schema`, or -1 when undeclared. */
int schema_attr_type(const json_t *schema, const char *name);

/** 1 when the space keeps history. */
int schema_versioning(const json_t *schema);

/** 1 when values of type t are indexed and searchable. */
int type_indexable(int t);

/** 1 when no member name of obj (an object, or anything else) holds a NUL. */
int json_keys_clean(const json_t *obj);

/** Checks the shape of an object body: only "attrs" and "labels", objects. */
int body_shape_check(const json_t *body, store_err *err);

/**
 * Checks attrs and labels against the schema (declared, typed, depth,
 * label names). Returns 0, or -1 with STORE_INVALID naming the field.
 */
int body_validate(const json_t *schema, const json_t *attrs,
                  const json_t *labels, store_err *err);

/** Checks one value against type t (depth included). 1 fits, 0 not. */
int value_fits(int t, const json_t *v);

/**
 * Loads space `name`'s schema inside the writer, as the group sees it so
 * far; NOT_FOUND when absent. *out is shared with the cache: refcount new,
 * but never modify it.
 */
int schema_load_txn(store *s, txn *t, const char *space, json_t **out,
                    store_err *err);

/**
 * Loads a schema for a reader, from the cache or LevelDB (cache.c). *out is
 * shared with other threads: refcount new, but never modify it.
 */
int schema_load(store *s, const char *space, json_t **out, store_err *err);

/** Parses a stored schema (v, n; v is freed) after a get that returned rc. */
int schema_parse(char *v, size_t n, int rc, const char *space, json_t **out,
                 store_err *err);

/* ---------------------------------------------------------- schema cache */

void schema_cache_init(store *s);
void schema_cache_free(store *s);

/**
 * The writer brackets a LevelDB write that creates or deletes spaces with
 * these, and forgets each such space in between: while a write is under
 * way no reader fills the cache, and a reader that read LevelDB before it
 * cannot put what it read in after it.
 */
void schema_cache_write_begin(store *s);
void schema_cache_forget(store *s, const char *space);
void schema_cache_write_end(store *s);

/* -------------------------------------------------------------- objects */

/**
 * Builds the object as answered by the API from its stored form:
 * "key" first, internal fields dropped. Refcount: new.
 */
json_t *object_out(const char *key, const json_t *stored);

/** Adds delta to the space's object count inside the writer. */
void count_add(txn *t, const char *space, int64_t delta);

/** Reads the object count from LevelDB. */
uint64_t count_get(store *s, const char *space);

/**
 * Writes a new head of (space, key, branch) with `attrs` and `labels`
 * (borrowed; validated by the caller), after `old` (the previous stored head
 * or NULL): version, version record, indexes, count. Sets op->out.
 */
int object_write(txn *t, wop *op, const json_t *schema, const char *branch,
                 const json_t *old, const json_t *attrs, const json_t *labels);

/**
 * Loads the head the op writes (main or its branch) and checks op->w's
 * precondition. Returns 0 with *old (refcount: new, NULL when absent), or -1.
 * A missing branch other than main is STORE_NOT_FOUND.
 */
int object_head_load(txn *t, wop *op, const char *branch, json_t **old);

/**
 * Checks the names, then loads the schema and the stored head of (space,
 * key, branch) from LevelDB for a reader. 0 with both (refcount: new), or -1
 * (STORE_NOT_FOUND naming "space", "key" or "branch").
 */
int object_read_checked(store *s, const char *space, const char *key,
                        const char *branch, json_t **schema, json_t **head,
                        store_err *err);

/** Resets k to the key of version v of a branch's history. */
void version_key(kbuf *k, const char *space, const char *key,
                 const char *branch, uint64_t v);

/** 1 when branch names main (NULL or "main"). */
int branch_is_main(const char *branch);

/* writer-side operations, each 0 or -1 with op->err */
int space_apply_put(store *s, txn *t, wop *op);
int space_apply_delete(store *s, txn *t, wop *op);
int object_apply_put(store *s, txn *t, wop *op);
int object_apply_delete(store *s, txn *t, wop *op);
int patch_apply(store *s, txn *t, wop *op);
int patch_many_apply(store *s, txn *t, wop *op);
int branch_apply_create(store *s, txn *t, wop *op);
int blob_apply_put(store *s, txn *t, wop *op);

/* -------------------------------------------------------------- indexes */

/**
 * Moves the index entries of (space, key) from its old main head to its new
 * one (either may be NULL) inside the writer's overlay.
 */
void index_update(txn *t, const json_t *schema, const char *space,
                  const char *key, const json_t *old_head,
                  const json_t *new_head);

/** Appends the index key prefix of an attribute or label. */
void index_prefix(kbuf *b, int is_label, const char *space, const char *name);

/**
 * Appends the order-preserving encoding of v as attribute type t (or as a
 * label when is_label). Returns 0, or -1 when not indexable.
 */
int index_encode(kbuf *b, int is_label, int t, const json_t *v);

/* -------------------------------------------------------------- cursors */

/** A cursor for a query with predicate hash h, last index key `last`. */
char *cursor_make(uint64_t h, const char *last, size_t n);

/** Decodes a cursor; -1 when it does not decode or h differs. */
int cursor_read(const char *c, uint64_t h, char **last, size_t *n);

#endif
