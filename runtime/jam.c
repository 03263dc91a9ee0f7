/*
 * jam.c — module M31::Jam of every VM (runtime/prelude/jam.rb adds
 * Kernel#jam): unzip, words and count, written in C because they are
 * either a library (libzip) or a tight loop over every byte of a book.
 *
 * unzip reads an archive from memory (a String), never from a file: the
 * worker's seccomp filter allows no open(), and libzip's buffer source
 * makes no system call at all. Two walls stop a zip bomb. Before anything
 * is inflated, the entries' declared sizes are summed and refused when
 * they pass what the VM's budget has left (so a bomb is refused before it
 * costs anything). Then no declared size is trusted: each entry is read
 * in bounded chunks into a String of its declared size, and one byte more
 * than declared makes the archive "corrupt". Every Ruby allocation here is
 * counted by the VM's allocator, libzip's own small ones are not (they
 * grow with the number of entries, bounded by the input).
 *
 * words and count split text the way `tr -cs A-Za-z '\n' | tr A-Z a-z`
 * does: maximal runs of ASCII letters, lower-cased; every other byte
 * (digits, punctuation, UTF-8 bytes >= 0x80) separates.
 */
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/error.h>
#include <mruby/hash.h>
#include <mruby/string.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>

#include "runtime/internal.h"

#define JAM_CHUNK (1u << 20) /* bytes inflated per zip_fread */

/* -------------------------------------------------------------- errors */

static struct RClass *jam_module(mrb_state *mrb) {
  return mrb_module_get_under(mrb, mrb_module_get(mrb, "M31"), "Jam");
}

static void jam_raise(mrb_state *mrb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Raises M31::Jam::Error with a formatted message. */
static void jam_raise(mrb_state *mrb, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  mrb_raise(mrb, mrb_class_get_under(mrb, jam_module(mrb), "Error"), msg);
}

/*
 * Raises for libzip error ze (of the archive, an entry or our own), naming
 * the entry when there is one. Frees the text libzip made for ze first.
 */
static void zip_raise(mrb_state *mrb, zip_error_t *ze, const char *entry)
    __attribute__((noreturn));
static void zip_raise(mrb_state *mrb, zip_error_t *ze, const char *entry) {
  char what[256] = "", why[256];
  int code = zip_error_code_zip(ze);
  if (entry) snprintf(what, sizeof what, " (entry %s)", entry);
  snprintf(why, sizeof why, "%s", zip_error_strerror(ze));
  zip_error_fini(ze);
  switch (code) {
  case ZIP_ER_NOZIP:
    jam_raise(mrb, "not a zip archive");
  case ZIP_ER_NOPASSWD:
  case ZIP_ER_WRONGPASSWD:
  case ZIP_ER_ENCRNOTSUPP:
    jam_raise(mrb, "encrypted zip archive%s: not supported", what);
  case ZIP_ER_COMPNOTSUPP:
    jam_raise(mrb, "zip archive%s: unsupported compression method", what);
  case ZIP_ER_MEMORY:
    mrb_exc_raise(mrb, mrb_obj_value(mrb->nomem_err));
  default:
    jam_raise(mrb, "corrupt zip archive%s: %s", what, why);
  }
}

/* -------------------------------------------------------------- unzip */

/* What unzip holds outside the GC, freed whatever happens. */
typedef struct unzip_ctx {
  mrb_value src;    /* the archive (a String on the caller's stack) */
  zip_source_t *zs; /* owned until za takes it */
  zip_t *za;
  zip_file_t *zf;
} unzip_ctx;

static int is_dir(const zip_stat_t *st) {
  size_t n = strlen(st->name);
  return n > 0 && st->name[n - 1] == '/';
}

/* Stats entry i; NULL (no raise) for a directory. */
static const zip_stat_t *entry_stat(mrb_state *mrb, unzip_ctx *u,
                                    zip_uint64_t i, zip_stat_t *st) {
  zip_stat_init(st);
  if (zip_stat_index(u->za, i, 0, st) != 0)
    zip_raise(mrb, zip_get_error(u->za), NULL);
  if (!(st->valid & ZIP_STAT_NAME) || !(st->valid & ZIP_STAT_SIZE))
    jam_raise(mrb, "corrupt zip archive: entry %llu has no name or size",
              (unsigned long long)i);
  if (is_dir(st)) return NULL;
  if ((st->valid & ZIP_STAT_ENCRYPTION_METHOD) &&
      st->encryption_method != ZIP_EM_NONE)
    jam_raise(mrb, "encrypted zip archive (entry %s): not supported", st->name);
  if ((st->valid & ZIP_STAT_COMP_METHOD) &&
      !zip_compression_method_supported(st->comp_method, 0))
    jam_raise(mrb, "zip archive (entry %s): unsupported compression method",
              st->name);
  return st;
}

/*
 * Refuses an archive whose file entries declare more bytes than the VM's
 * budget has left (the budget of the fibril's turn while one runs).
 */
static void budget_check(mrb_state *mrb, unzip_ctx *u, zip_uint64_t n) {
  rt_vm *vm = mrb->allocf_ud; /* vm.c: mrb_open_core(vm_alloc, vm) */
  uint64_t total = 0, left;
  zip_stat_t st;
  for (zip_uint64_t i = 0; i < n; i++) {
    if (!entry_stat(mrb, u, i, &st)) continue;
    if (st.size > UINT64_MAX - total)
      jam_raise(mrb, "zip archive declares more bytes than can exist");
    total += st.size;
  }
  if (!vm->limit) return;
  left = vm->limit > vm->used ? vm->limit - vm->used : 0;
  if (total > left) { /* garbage counts against the budget until collected */
    mrb_full_gc(mrb);
    left = vm->limit > vm->used ? vm->limit - vm->used : 0;
  }
  if (total > left)
    jam_raise(mrb,
              "zip archive declares %llu bytes when inflated; this fibril "
              "has %llu bytes of memory left",
              (unsigned long long)total, (unsigned long long)left);
}

/*
 * Inflates entry i, declared st->size bytes, into a new String. Reads at
 * most one byte past the declared size: more is a corrupt archive.
 */
static mrb_value entry_read(mrb_state *mrb, unzip_ctx *u, zip_uint64_t i,
                            const zip_stat_t *st) {
  zip_uint64_t got = 0, size = st->size;
  mrb_value s;
  char *p;
  if (size >= (zip_uint64_t)MRB_INT_MAX / 2)
    jam_raise(mrb, "zip archive (entry %s): too large", st->name);
  s = mrb_str_new_capa(mrb, (mrb_int)size + 1);
  p = RSTRING_PTR(s);
  if (!(u->zf = zip_fopen_index(u->za, i, 0)))
    zip_raise(mrb, zip_get_error(u->za), st->name);
  while (got <= size) {
    zip_uint64_t want = size + 1 - got;
    zip_int64_t r =
        zip_fread(u->zf, p + got, want < JAM_CHUNK ? want : JAM_CHUNK);
    if (r < 0) zip_raise(mrb, zip_file_get_error(u->zf), st->name);
    if (r == 0) break;
    got += (zip_uint64_t)r;
  }
  zip_fclose(u->zf);
  u->zf = NULL;
  if (got != size)
    jam_raise(mrb, "corrupt zip archive (entry %s): %s than its declared %llu",
              st->name, got > size ? "more bytes" : "fewer bytes",
              (unsigned long long)size);
  return mrb_str_resize(mrb, s, (mrb_int)got);
}

/* The body of unzip, under protection: it may raise at any point and
 * jam_unzip frees what u holds. */
static mrb_value unzip_body(mrb_state *mrb, void *ud) {
  unzip_ctx *u = ud;
  zip_error_t ze;
  zip_stat_t st;
  zip_int64_t n;
  mrb_value h;
  int ai;
  if (RSTRING_LEN(u->src) == 0) jam_raise(mrb, "not a zip archive (empty)");
  zip_error_init(&ze);
  u->zs = zip_source_buffer_create(RSTRING_PTR(u->src),
                                   (zip_uint64_t)RSTRING_LEN(u->src), 0, &ze);
  if (u->zs)
    u->za = zip_open_from_source(u->zs, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!u->za) zip_raise(mrb, &ze, NULL);
  u->zs = NULL; /* the archive owns it now */
  zip_error_fini(&ze);
  if ((n = zip_get_num_entries(u->za, 0)) < 0)
    jam_raise(mrb, "corrupt zip archive: no entry count");
  budget_check(mrb, u, (zip_uint64_t)n);
  h = mrb_hash_new_capa(mrb, (mrb_int)n);
  ai = mrb_gc_arena_save(mrb);
  for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
    if (!entry_stat(mrb, u, i, &st)) continue;
    mrb_value name = mrb_str_new_cstr(mrb, st.name);
    mrb_hash_set(mrb, h, name, entry_read(mrb, u, i, &st));
    mrb_gc_arena_restore(mrb, ai);
  }
  return h;
}

/* Jam.unzip(bytes) -> {name => contents} for every file entry. */
static mrb_value jam_unzip(mrb_state *mrb, mrb_value self) {
  unzip_ctx u = {.src = mrb_nil_value()};
  mrb_bool failed = FALSE;
  mrb_value out;
  (void)self;
  mrb_get_args(mrb, "S", &u.src);
  out = mrb_protect_error(mrb, unzip_body, &u, &failed);
  if (u.zf) zip_fclose(u.zf);
  if (u.za) zip_discard(u.za);
  if (u.zs) zip_source_free(u.zs);
  if (failed) mrb_exc_raise(mrb, out);
  return out;
}

/* -------------------------------------------------------- words, count */

/* 1 for an ASCII letter (c | 0x20 folds A-Z onto a-z and nothing else
 * onto a-z). */
static inline int is_letter(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26;
}

/* The next word at or after *p (before end): its start, *len; NULL when
 * none is left. *p moves past the word. */
static inline const unsigned char *
word_next(const unsigned char **p, const unsigned char *end, size_t *len) {
  const unsigned char *q = *p, *w;
  while (q < end && !is_letter(*q))
    q++;
  if (q == end) {
    *p = q;
    return NULL;
  }
  w = q;
  while (q < end && is_letter(*q))
    q++;
  *len = (size_t)(q - w);
  *p = q;
  return w;
}

/* A new String holding the len letters at w, lower-cased. */
static mrb_value word_new(mrb_state *mrb, const unsigned char *w, size_t len) {
  mrb_value s = mrb_str_new(mrb, NULL, (mrb_int)len);
  char *d = RSTRING_PTR(s);
  for (size_t i = 0; i < len; i++)
    d[i] = (char)(w[i] | 0x20);
  return s;
}

/* Jam.words(text) -> the words of text, in order. One counting scan sizes
 * the Array, a second makes the words. */
static mrb_value jam_words(mrb_state *mrb, mrb_value self) {
  mrb_value text, a;
  const unsigned char *p, *end, *w;
  size_t len, n = 0;
  int ai;
  (void)self;
  mrb_get_args(mrb, "S", &text);
  p = (const unsigned char *)RSTRING_PTR(text);
  end = p + RSTRING_LEN(text);
  for (const unsigned char *q = p; word_next(&q, end, &len);)
    n++;
  a = mrb_ary_new_capa(mrb, (mrb_int)n);
  ai = mrb_gc_arena_save(mrb);
  while ((w = word_next(&p, end, &len))) {
    mrb_ary_push(mrb, a, word_new(mrb, w, len));
    mrb_gc_arena_restore(mrb, ai);
  }
  return a;
}

/*
 * count's table: the distinct words in order of first appearance (each
 * points into the text), and an open-addressed index of them. Its memory
 * comes from the VM's allocator (counted in the budget); count frees it
 * whatever happens.
 */
typedef struct wentry {
  const unsigned char *w; /* into the text, not lower-cased */
  size_t len;
  uint64_t hash;
  mrb_int count;
} wentry;

typedef struct wtable {
  mrb_value text;
  wentry *e;
  size_t n, cap;  /* entries */
  uint32_t *slot; /* entry index + 1; 0 = empty */
  size_t nslot;   /* a power of two, at least 2 * n */
} wtable;

static uint64_t word_hash(const unsigned char *w, size_t len) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a over the lower case */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (w[i] | 0x20)) * 1099511628211ull;
  return h;
}

static int word_eq(const wentry *e, const unsigned char *w, size_t len) {
  if (e->len != len) return 0;
  for (size_t i = 0; i < len; i++)
    if ((e->w[i] | 0x20) != (w[i] | 0x20)) return 0;
  return 1;
}

static void nomem(mrb_state *mrb) __attribute__((noreturn));
static void nomem(mrb_state *mrb) {
  mrb_exc_raise(mrb, mrb_obj_value(mrb->nomem_err));
}

/* Doubles the index and places every entry again. */
static void table_grow(mrb_state *mrb, wtable *t) {
  size_t ns = t->nslot ? t->nslot * 2 : 1024;
  uint32_t *s;
  if (ns > SIZE_MAX / sizeof *s || t->n >= UINT32_MAX) nomem(mrb);
  if (!(s = mrb_malloc_simple(mrb, ns * sizeof *s))) nomem(mrb);
  memset(s, 0, ns * sizeof *s);
  for (size_t i = 0; i < t->n; i++) {
    size_t k = (size_t)t->e[i].hash & (ns - 1);
    while (s[k])
      k = (k + 1) & (ns - 1);
    s[k] = (uint32_t)(i + 1);
  }
  mrb_free(mrb, t->slot);
  t->slot = s;
  t->nslot = ns;
}

static void table_add(mrb_state *mrb, wtable *t, const unsigned char *w,
                      size_t len) {
  uint64_t h = word_hash(w, len);
  size_t k;
  if (2 * (t->n + 1) > t->nslot) table_grow(mrb, t);
  for (k = (size_t)h & (t->nslot - 1); t->slot[k];
       k = (k + 1) & (t->nslot - 1)) {
    wentry *e = &t->e[t->slot[k] - 1];
    if (e->hash == h && word_eq(e, w, len)) {
      e->count++;
      return;
    }
  }
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 512;
    wentry *ne;
    if (nc > SIZE_MAX / sizeof *ne) nomem(mrb);
    if (!(ne = mrb_realloc_simple(mrb, t->e, nc * sizeof *ne))) nomem(mrb);
    t->e = ne, t->cap = nc;
  }
  t->e[t->n] = (wentry){w, len, h, 1};
  t->slot[k] = (uint32_t)(++t->n);
}

static mrb_value count_body(mrb_state *mrb, void *ud) {
  wtable *t = ud;
  const unsigned char *p = (const unsigned char *)RSTRING_PTR(t->text);
  const unsigned char *end = p + RSTRING_LEN(t->text), *w;
  size_t len;
  mrb_value h;
  int ai;
  while ((w = word_next(&p, end, &len)))
    table_add(mrb, t, w, len);
  h = mrb_hash_new_capa(mrb, (mrb_int)t->n);
  ai = mrb_gc_arena_save(mrb);
  for (size_t i = 0; i < t->n; i++) {
    /* a frozen key is kept as is (an unfrozen one would be copied) */
    mrb_value key = mrb_obj_freeze(mrb, word_new(mrb, t->e[i].w, t->e[i].len));
    mrb_hash_set(mrb, h, key, mrb_int_value(mrb, t->e[i].count));
    mrb_gc_arena_restore(mrb, ai);
  }
  return h;
}

/* Jam.count(text) -> {word => count}, words in order of first appearance. */
static mrb_value jam_count(mrb_state *mrb, mrb_value self) {
  wtable t = {.text = mrb_nil_value()};
  mrb_bool failed = FALSE;
  mrb_value out;
  (void)self;
  mrb_get_args(mrb, "S", &t.text);
  out = mrb_protect_error(mrb, count_body, &t, &failed);
  mrb_free(mrb, t.e);
  mrb_free(mrb, t.slot);
  if (failed) mrb_exc_raise(mrb, out);
  return out;
}

/* ----------------------------------------------------------------- init */

void rt_jam_init(mrb_state *mrb) {
  struct RClass *m31 = mrb_define_module(mrb, "M31");
  struct RClass *jam = mrb_define_module_under(mrb, m31, "Jam");
  mrb_define_class_under(mrb, jam, "Error", mrb->eStandardError_class);
  mrb_define_module_function(mrb, jam, "unzip", jam_unzip, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, jam, "words", jam_words, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, jam, "count", jam_count, MRB_ARGS_REQ(1));
}
