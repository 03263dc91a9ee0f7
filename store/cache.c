/*
 * cache.c — parsed space schemas in memory, so a read does not fetch and
 * parse its space's schema from LevelDB every time.
 *
 * Entries are immutable once made and shared by reference (jansson's
 * reference counts are atomic); nobody modifies a cached schema. Only the
 * writer changes schemas, and it removes a space's entry around the
 * LevelDB write that creates or deletes it. Readers fill the cache on a
 * miss, which races with that write: a reader could read the old schema
 * from LevelDB just before the write and insert it just after, serving a
 * deleted (or deleted and recreated) space's old schema for ever. So the
 * cache has a generation, odd while such a write is under way and bumped
 * at both of its ends; a reader inserts only when the generation it saw
 * before reading LevelDB was even and is unchanged after.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_BUCKETS 256
#define CACHE_MAX 4096 /* entries; past it the cache starts over */

struct schema_entry {
  schema_entry *next;
  char *name;
  json_t *schema; /* refcount: the cache's own */
};

static uint64_t name_hash(const char *p) {
  uint64_t h = 1469598103934665603ULL;
  for (; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return h;
}

void schema_cache_init(store *s) {
  schema_cache *c = &s->schemas;
  pthread_mutex_init(&c->mu, NULL);
  c->gen = 0;
  c->nbuckets = CACHE_BUCKETS;
  c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
  if (!c->buckets) abort();
  c->count = 0;
}

static void entry_free(schema_entry *e) {
  json_decref(e->schema);
  free(e->name);
  free(e);
}

/* Needs the lock. */
static void do_clear(schema_cache *c) {
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (schema_entry *e = c->buckets[i], *n; e; e = n) {
      n = e->next;
      entry_free(e);
    }
    c->buckets[i] = NULL;
  }
  c->count = 0;
}

void schema_cache_free(store *s) {
  schema_cache *c = &s->schemas;
  if (!c->buckets) return;
  do_clear(c);
  free(c->buckets);
  c->buckets = NULL;
  pthread_mutex_destroy(&c->mu);
}

/* Needs the lock. The bucket slot holding `name`'s entry, or its end. */
static schema_entry **do_slot(schema_cache *c, const char *name) {
  schema_entry **p = &c->buckets[name_hash(name) & (c->nbuckets - 1)];
  while (*p && strcmp((*p)->name, name) != 0)
    p = &(*p)->next;
  return p;
}

/* A new reference to the cached schema, or NULL; *gen is the generation. */
static json_t *cache_get(schema_cache *c, const char *name, uint64_t *gen) {
  json_t *v = NULL;
  pthread_mutex_lock(&c->mu);
  schema_entry *e = *do_slot(c, name);
  if (e) v = json_incref(e->schema);
  *gen = c->gen;
  pthread_mutex_unlock(&c->mu);
  return v;
}

/* Keeps a reference to v unless a write touched spaces since `gen`. */
static void cache_put(schema_cache *c, const char *name, json_t *v,
                      uint64_t gen) {
  pthread_mutex_lock(&c->mu);
  if (gen == c->gen && gen % 2 == 0 && !*do_slot(c, name)) {
    if (c->count >= CACHE_MAX) do_clear(c);
    schema_entry **slot = do_slot(c, name), *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->name = xstrndup(name, strlen(name));
    e->schema = json_incref(v);
    *slot = e;
    c->count++;
  }
  pthread_mutex_unlock(&c->mu);
}

int schema_load(store *s, const char *space, json_t **out, store_err *err) {
  kbuf k = {0};
  char *v = NULL;
  size_t n = 0;
  uint64_t gen;
  if ((*out = cache_get(&s->schemas, space, &gen))) return 0;
  key_make(&k, K_SPACE, space, NULL, NULL);
  int rc = db_get(s, k.p, k.n, &v, &n, NULL);
  kb_free(&k);
  if (schema_parse(v, n, rc, space, out, err) != 0) return -1;
  cache_put(&s->schemas, space, *out, gen);
  return 0;
}

static void gen_bump(store *s) {
  pthread_mutex_lock(&s->schemas.mu);
  s->schemas.gen++;
  pthread_mutex_unlock(&s->schemas.mu);
}

void schema_cache_write_begin(store *s) { gen_bump(s); }

void schema_cache_forget(store *s, const char *space) {
  schema_cache *c = &s->schemas;
  pthread_mutex_lock(&c->mu);
  schema_entry **slot = do_slot(c, space), *e = *slot;
  if (e) {
    *slot = e->next;
    entry_free(e);
    c->count--;
  }
  pthread_mutex_unlock(&c->mu);
}

void schema_cache_write_end(store *s) { gen_bump(s); }
