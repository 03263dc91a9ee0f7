/*
 * store.h — M31's flat, labeled, versioned object store: a plain C API over
 * one LevelDB per node. It knows nothing of HTTP or mruby; values cross it as
 * jansson values (the interchange format).
 *
 * Concurrency: every function is thread-safe. All mutations go through one
 * writer thread (a single-writer queue): it validates and applies operations
 * one after another, so a PATCH is atomic on its record without any lock held
 * across HTTP, and it writes a whole group of operations in one synced
 * LevelDB write (group commit). A mutating call returns only after its write
 * is durable. Each mutating call has an asynchronous twin (*_async) that
 * returns at once and reports through a completion once the write is
 * durable, so a caller need not hold a thread while the group's fsync runs;
 * the synchronous calls are thin wrappers that wait for that completion.
 * Reads go straight to LevelDB, with space schemas cached in memory.
 *
 * Errors: functions return 0 on success and -1 on failure, filling *err. A
 * failed call changes nothing.
 *
 * Ownership: `json_t **out` parameters receive a new reference the caller
 * must json_decref(). `const json_t *` parameters are borrowed, never stolen.
 * Strings are borrowed and copied when kept.
 */
#ifndef M31_STORE_H
#define M31_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/** Why a call failed. The resources layer maps each to an HTTP status. */
typedef enum {
  STORE_OK = 0,
  STORE_BAD_REQUEST, /* malformed input: bad name, bad query, bad cursor (400)
                      */
  STORE_NOT_FOUND,   /* no such space, object, version or branch (404) */
  STORE_CONFLICT,    /* space exists with another schema; branch exists (409) */
  STORE_PRECONDITION, /* If-Match version does not match (412) */
  STORE_INVALID,      /* a value does not fit the schema (422) */
  STORE_IO,           /* LevelDB or the file system failed (500) */
} store_code;

typedef struct {
  store_code code;
  char field[128];  /* the offending field ("attrs.freq", "name"), or "" */
  char detail[256]; /* one human sentence, no trailing newline */
} store_err;

/* Limits, enforced by store_name_check and the object calls. */
#define STORE_NAME_MAX 200      /* bytes in a space name or key */
#define STORE_ATTR_NAME_MAX 128 /* bytes in an attribute or label name */
#define STORE_MAX_DEPTH 32      /* nesting of a stored JSON value */

/** Space defaults when "opts" leaves them out. */
#define STORE_DEFAULT_PARTITIONS 8
#define STORE_DEFAULT_FAILURES 2

/**
 * Opens (creating if needed) the store in directory `dir`, with LevelDB's
 * paranoid checks and checksum verification on, and starts the writer.
 * Returns 0 and *out, or -1 with err (STORE_IO).
 */
int store_open(const char *dir, store **out, store_err *err);

/** Stops the writer after the queued writes are durable, closes LevelDB. NULL
 * ok. */
void store_close(store *s);

/**
 * Checks a space name, key, branch name (what = "space", "key", "branch"):
 * 1..STORE_NAME_MAX bytes of valid UTF-8, no control characters (< 0x20,
 * 0x7f), no '/', not "." or "..". Returns 0, or -1 with STORE_BAD_REQUEST
 * and err->field = what.
 */
int store_name_check(const char *name, const char *what, store_err *err);

/* ------------------------------------------------- asynchronous mutations */

/**
 * The outcome of a mutation, handed to its completion. Borrowed for the
 * completion's duration, except `out`, which the completion takes.
 */
typedef struct {
  int rc;        /* 0 or -1 */
  json_t *out;   /* refcount: new, now the completion's; NULL on failure and
                    for deletes */
  int created;   /* what the synchronous call puts in *created */
  store_err err; /* when rc == -1 */
} store_result;

/**
 * The completion of a *_async call. It runs exactly once: on the writer
 * thread after the operation's group is durable (or its write failed), or
 * on the calling thread before the *_async call returns when the call fails
 * before it is queued (a bad name or body shape, the store closing). It must
 * not block, since every later write waits for it, and must not call a
 * synchronous mutating function of this store (that would deadlock).
 * `ud` is the caller's, passed through untouched.
 */
typedef void (*store_done_fn)(void *ud, store_result *res);

/* ---------------------------------------------------------------- spaces */

/**
 * Creates space `name` from `spec` = {"key": "word", "attrs": {"freq":
 * "Int", ...}, "opts": {"partitions": 8, "failures": 2, "versioning":
 * false}}. "key" names the key (a label for humans; default "key"), "attrs"
 * maps attribute names to one of Int, Float, String, Bool, Bytes, List, Map,
 * Any; "opts" fields are optional (defaults above, versioning false).
 * Unknown top-level or opts fields are STORE_BAD_REQUEST.
 * If the space exists with the same normalised schema: *created = 0 and
 * success; with another: STORE_CONFLICT. *out (may be NULL) receives the
 * schema as store_space_get returns it.
 */
int store_space_put(store *s, const char *name, const json_t *spec,
                    int *created, json_t **out, store_err *err);

/**
 * store_space_put without waiting: res->out and res->created as above.
 * Copies name and takes its own copy of spec; both may be freed on return.
 */
void store_space_put_async(store *s, const char *name, const json_t *spec,
                           store_done_fn cb, void *ud);

/**
 * The normalised schema of a space plus its object count:
 * {"name","key","attrs":{...},"opts":{"partitions","failures","versioning"},
 *  "objects": N, "created": "<RFC 3339 UTC>"}.
 */
int store_space_get(store *s, const char *name, json_t **out, store_err *err);

/**
 * Lists spaces in name order, at most `limit` (1..1000) after name `after`
 * (NULL = from the start): *out = array of store_space_get objects;
 * *more = 1 when more follow.
 */
int store_space_list(store *s, const char *after, size_t limit, json_t **out,
                     int *more, store_err *err);

/** Removes a space and every object, version, branch and index entry in it. */
int store_space_delete(store *s, const char *name, store_err *err);

/** store_space_delete without waiting (name copied). */
void store_space_delete_async(store *s, const char *name, store_done_fn cb,
                              void *ud);

/* --------------------------------------------------------------- objects */

/** Which head a call reads or writes, and its precondition. */
typedef struct {
  const char *branch; /* NULL or "main" for the main branch */
  int has_if_match;   /* 1: fail with STORE_PRECONDITION unless ... */
  uint64_t if_match;  /* ... the current version equals this (0 = absent) */
} store_wopts;

/**
 * An object as returned by every call below:
 * {"key": k, "attrs": {...}, "labels": {...}, "version": N, "branch": "main",
 *  "modified": "<RFC 3339 UTC with milliseconds>"}.
 * Versions start at 1 and grow by one per write of that branch, whether or
 * not the space keeps history.
 */

/**
 * Replaces object `key` with body {"attrs": {...}, "labels": {...}} (both
 * optional; unknown top-level fields are STORE_BAD_REQUEST). Every attribute
 * must be declared and of its type (Int: JSON integer in int64; Float: any
 * JSON number; String; Bool; Bytes: base64 string; List: array; Map: object;
 * Any: anything), else STORE_INVALID naming "attrs.<name>". Label names are
 * 1..STORE_ATTR_NAME_MAX bytes, values any JSON. *created = 1 when there was
 * no object. *out (may be NULL) receives the new object.
 */
int store_object_put(store *s, const char *space, const char *key,
                     const json_t *body, const store_wopts *w, json_t **out,
                     int *created, store_err *err);

/**
 * store_object_put without waiting: res->out is the new object. Copies the
 * strings and *w (may be NULL) and takes its own reference to body, so the
 * caller may free or drop them on return (it must not modify body after).
 */
void store_object_put_async(store *s, const char *space, const char *key,
                            const json_t *body, const store_wopts *w,
                            store_done_fn cb, void *ud);

/**
 * Atomically updates one record. body = {"attrs": {name: op-or-value},
 * "labels": {name: value-or-null}}. An attr op is one of {"$incr": n}
 * (Int/Float), {"$append": v} (List; v appended), {"$max": n}, {"$min": n}
 * (Int/Float), {"$unset": true}; a plain value sets the attribute. Missing
 * numbers start at 0, missing lists at []. Labels merge; null removes one.
 * A missing object is created (*created = 1).
 */
int store_object_patch(store *s, const char *space, const char *key,
                       const json_t *body, const store_wopts *w, json_t **out,
                       int *created, store_err *err);

/** store_object_patch without waiting; arguments as store_object_put_async. */
void store_object_patch_async(store *s, const char *space, const char *key,
                              const json_t *body, const store_wopts *w,
                              store_done_fn cb, void *ud);

/* ------------------------------------------------------- many patches */

/**
 * Applies patches = {"<key>": <patch body as store_object_patch takes>, ...}
 * to the main heads of objects of one space as ONE writer operation: the
 * schema is read once, the patches are applied one after another (each
 * sees the ones before it) with their versions, indexes and object count
 * exactly as single patches, and all are written in the same LevelDB
 * batch. All or nothing: if any patch fails, none is applied and res->err
 * names its key: field "<key>.<field>" (e.g. "w1.attrs.freq"), or "<key>"
 * when the failure has no field; a missing space is STORE_NOT_FOUND naming
 * "space". Objects that do not exist are created as store_object_patch
 * creates them (numbers start at 0, lists at []).
 * res->out = {"applied": N}; res->created is 0. An empty object applies
 * nothing and succeeds. The space name is copied; patches is borrowed: the
 * store takes its own reference, so the caller may drop its own on return
 * but must not modify patches after.
 */
void store_object_patch_many_async(store *s, const char *space,
                                   const json_t *patches, store_done_fn cb,
                                   void *ud);

/** store_object_patch_many_async waiting for it: *out (may be NULL) as
 * res->out. */
int store_object_patch_many(store *s, const char *space, const json_t *patches,
                            json_t **out, store_err *err);

/**
 * Reads the head of `branch` (NULL = main), or `version` of it when
 * version > 0 (only in a versioned space, else STORE_NOT_FOUND unless it is
 * the head's version).
 */
int store_object_get(store *s, const char *space, const char *key,
                     const char *branch, uint64_t version, json_t **out,
                     store_err *err);

/**
 * The hot path of a GET: the main head of `key` as the JSON text that
 * store_object_get would answer (the same members, keys in sorted order),
 * read without parsing or encoding, and its version for the ETag.
 * *text is malloc'ed and NUL-terminated; the caller frees it.
 */
int store_object_get_text(store *s, const char *space, const char *key,
                          char **text, size_t *len, uint64_t *version,
                          store_err *err);

/**
 * Deletes an object. On main: the object with its history, branches and index
 * entries. With w->branch naming another branch: only that branch.
 */
int store_object_delete(store *s, const char *space, const char *key,
                        const store_wopts *w, store_err *err);

/** store_object_delete without waiting (strings and *w copied). */
void store_object_delete_async(store *s, const char *space, const char *key,
                               const store_wopts *w, store_done_fn cb,
                               void *ud);

/**
 * History of a branch, oldest first: [{"version", "modified", "size"}] where
 * size is the bytes of the stored JSON. Without versioning, only the head.
 */
int store_versions_list(store *s, const char *space, const char *key,
                        const char *branch, json_t **out, store_err *err);

/**
 * Makes branch `name` of object `key` from main's version `from` (needs a
 * versioned space: else STORE_CONFLICT). The branch's head is a copy of that
 * version with "branch": name; its later versions number on from `from`.
 * STORE_CONFLICT if the branch exists; "main" cannot be made.
 * *out = the branch's head object.
 */
int store_branch_create(store *s, const char *space, const char *key,
                        const char *name, uint64_t from, json_t **out,
                        store_err *err);

/** store_branch_create without waiting: res->out is the branch's head.
 * The strings are copied. */
void store_branch_create_async(store *s, const char *space, const char *key,
                               const char *name, uint64_t from,
                               store_done_fn cb, void *ud);

/** Branches of an object: [{"name", "from", "version", "modified"}], main
 * first. */
int store_branch_list(store *s, const char *space, const char *key,
                      json_t **out, store_err *err);

/* ---------------------------------------------------------------- search */

typedef enum {
  STORE_OP_EQ,
  STORE_OP_GT,
  STORE_OP_GTE,
  STORE_OP_LT,
  STORE_OP_LTE,
  STORE_OP_PREFIX,
} store_op;

/**
 * One condition: attribute (or label when is_label) `name` compared with
 * `value`, the raw text from the URI. For an attribute the schema gives the
 * value's type (Int, Float, Bool "true"/"false", String and Bytes as text;
 * List and Map cannot be searched: STORE_BAD_REQUEST). For a label or an Any
 * attribute the text is read as JSON when it parses, else as a string.
 * PREFIX applies to strings only.
 */
typedef struct {
  int is_label;
  const char *name;
  store_op op;
  const char *value;
} store_pred;

typedef struct {
  const store_pred *preds; /* conjunction; none = every object */
  size_t npreds;
  size_t limit;              /* 1..1000 */
  const char *cursor;        /* NULL, or "next" from the previous page */
  const char *const *fields; /* NULL = whole objects; else attr names kept */
  size_t nfields;
  int count_only; /* 1: only {"count": N} */
} store_query;

/**
 * Runs a search on the main heads of a space. One condition drives an index
 * range scan (equality first, then a range, then a prefix); the others are
 * checked on each candidate, so a selective query reads keys in proportion
 * to its answer. *out = {"items": [objects], "next": "<cursor>" or null}, or
 * {"count": N} with count_only. *keys_read counts LevelDB entries read.
 * An unknown attribute or a bad value or cursor is STORE_BAD_REQUEST naming
 * the field.
 */
int store_query_run(store *s, const char *space, const store_query *q,
                    json_t **out, uint64_t *keys_read, store_err *err);

/* ----------------------------------------------------------------- blobs */

/*
 * Raw bytes by (namespace, name), for what the node keeps that is not an
 * object (the source /code registered, in namespace "code"). Blobs belong
 * to no space: no listing, count, index or query sees them. Both names
 * follow store_name_check (field "namespace" or "name" when bad).
 */

/**
 * Writes (or overwrites) blob (ns, name) = data[0..len) through the writer;
 * the completion runs once it is durable (res->out NULL). The names and the
 * bytes are copied, so the caller may free them on return.
 */
void store_blob_put_async(store *s, const char *ns, const char *name,
                          const void *data, size_t len, store_done_fn cb,
                          void *ud);

/** store_blob_put_async waiting for it. */
int store_blob_put(store *s, const char *ns, const char *name, const void *data,
                   size_t len, store_err *err);

/**
 * Reads blob (ns, name): 0 with *data (new: malloc'ed, NUL-terminated past
 * its *len bytes; the caller frees it), or -1 with STORE_NOT_FOUND naming
 * "name" when absent (*data NULL), STORE_IO on a read failure.
 */
int store_blob_get(store *s, const char *ns, const char *name, char **data,
                   size_t *len, store_err *err);

/* ----------------------------------------------------------- change feed */

/** What a committed change did (store_feed_fn). */
typedef enum {
  STORE_CHANGE_PUT,          /* an object or branch head replaced (PUT) */
  STORE_CHANGE_PATCH,        /* updated by a patch (also patch_many) */
  STORE_CHANGE_DELETE,       /* an object (main) or one branch removed */
  STORE_CHANGE_BRANCH,       /* a branch made (store_branch_create) */
  STORE_CHANGE_SPACE_DELETE, /* the space and all in it removed */
} store_change_op;

/**
 * One committed change. Every string is borrowed for the callback's
 * duration only: copy what you keep.
 */
typedef struct {
  store_change_op op;
  const char *space;
  const char *key;    /* NULL for SPACE_DELETE */
  const char *branch; /* "main" or the branch's name; NULL for SPACE_DELETE */
  uint64_t version;   /* the version written; a DELETE: the version removed */
  const char *object; /* the object after the change as a GET of it answers
                         it, compact JSON, NUL-terminated; NULL for deletes */
  size_t object_len;
} store_change;

/**
 * The change feed: called on the writer thread after each group of writes
 * is durable and before any of the group's completions runs, with the
 * group's changes in the order they were applied (n >= 1). Failed
 * operations contribute nothing; store_object_patch_many gives one PATCH
 * per key. Like a completion it must not block (every later write waits
 * for it) and must not call a mutating function of this store.
 */
typedef void (*store_feed_fn)(void *ud, const store_change *changes, size_t n);

/**
 * Sets the change feed (fn NULL: none, the default; then no change is
 * recorded at all). Set it before writes start: a group the writer has
 * already taken reports to the feed it was taken with.
 */
void store_feed_set(store *s, store_feed_fn fn, void *ud);

/* ----------------------------------------------------------------- stats */

typedef struct {
  uint64_t reads;      /* get/list/search calls */
  uint64_t writes;     /* mutating operations applied */
  uint64_t commits;    /* synced LevelDB writes (groups) */
  uint64_t keys_read;  /* entries read by searches */
  uint64_t spaces;     /* spaces now */
  uint64_t disk_bytes; /* LevelDB's approximate size on disk */
} store_stats;

/** Fills *out with counters since open. */
void store_stats_get(store *s, store_stats *out);

#endif
