/*
 * combine.c — M31::FS.__combine(space, record), the C half of combined
 * increments (runtime/prelude/fs.rb says what they are).
 *
 * A word count calls fs.invoke once per word, so this runs tens of
 * millions of times: in Ruby it cost ~2.8 us a call. Here it allocates
 * nothing for a key already pending: names become Symbols, and the
 * fibril's pending table is M31.ctx[:incr] =
 *   {space => {key attr => {key String => {attr => n}}}}
 * with space, key attr and attr as Symbols.
 */
#include <mruby.h>
#include <mruby/hash.h>
#include <mruby/string.h>
#include <string.h>

#include "runtime/internal.h"

#define INCR_KEYS_MAX 50000 /* keys pending before fs.rb must flush */

typedef struct one {
  mrb_value k, v;
} one;

static int take_one(mrb_state *mrb, mrb_value k, mrb_value v, void *ud) {
  (void)mrb;
  ((one *)ud)->k = k;
  ((one *)ud)->v = v;
  return 1;
}

/* The n of {"$incr" => n}, the whole of v; 0 (and *is 0) otherwise. */
static mrb_int incr_of(mrb_state *mrb, mrb_value v, int *is) {
  one e = {mrb_nil_value(), mrb_nil_value()};
  *is = 0;
  if (!mrb_hash_p(v) || mrb_hash_size(mrb, v) != 1) return 0;
  mrb_hash_foreach(mrb, mrb_hash_ptr(v), take_one, &e);
  if (!mrb_string_p(e.k) || RSTRING_LEN(e.k) != 5 ||
      memcmp(RSTRING_PTR(e.k), "$incr", 5) != 0 || !mrb_integer_p(e.v))
    return 0;
  *is = 1;
  return mrb_integer(e.v);
}

/* A Symbol or String name as a Symbol value. */
static mrb_value name_sym(mrb_state *mrb, mrb_value k) {
  return mrb_symbol_p(k) ? k : mrb_symbol_value(mrb_intern_str(mrb, k));
}

/* What one pass over a record found. */
typedef struct scan {
  mrb_value keyattr, key; /* the one String value and its name */
  int ok;                 /* 0 once something else than an increment is seen */
} scan;

static int scan_each(mrb_state *mrb, mrb_value k, mrb_value v, void *ud) {
  scan *s = ud;
  int is;
  incr_of(mrb, v, &is);
  if (is && (mrb_symbol_p(k) || mrb_string_p(k))) return 0;
  if (!mrb_string_p(v) || !mrb_nil_p(s->key) ||
      !(mrb_symbol_p(k) || mrb_string_p(k))) {
    s->ok = 0;
    return 1;
  }
  s->keyattr = k;
  s->key = v;
  return 0;
}

/* One pass of adding a record's increments to rec: with check set it only
 * looks for a sum that would overflow (then overflow is set). */
typedef struct add {
  mrb_value rec;
  int check, overflow;
} add;

static int add_each(mrb_state *mrb, mrb_value k, mrb_value v, void *ud) {
  add *a = ud;
  mrb_value name, old;
  mrb_int sum;
  int is;
  mrb_int n = incr_of(mrb, v, &is);
  if (!is) return 0;
  name = name_sym(mrb, k);
  old = mrb_hash_get(mrb, a->rec, name);
  if (__builtin_add_overflow(mrb_integer_p(old) ? mrb_integer(old) : 0, n,
                             &sum)) {
    a->overflow = 1;
    return 1;
  }
  if (!a->check) mrb_hash_set(mrb, a->rec, name, mrb_int_value(mrb, sum));
  return 0;
}

/* The Hash h[key], made when absent (then *made is set). */
static mrb_value sub_hash(mrb_state *mrb, mrb_value h, mrb_value key,
                          int *made) {
  mrb_value v = mrb_hash_get(mrb, h, key);
  if (mrb_hash_p(v)) return v;
  v = mrb_hash_new(mrb);
  if (mrb_string_p(key)) { /* the caller may change its String later */
    key = mrb_str_dup(mrb, key);
    MRB_SET_FROZEN_FLAG(mrb_basic_ptr(key));
  }
  mrb_hash_set(mrb, h, key, v);
  if (made) *made = 1;
  return v;
}

/* __combine(space, record): 1 when record (increments of one String key)
 * was put off, 2 when INCR_KEYS_MAX keys are now pending (ctx[:incr_n]
 * counts them), false when record is not one or no fibril runs. */
static mrb_value fs_combine(mrb_state *mrb, mrb_value self) {
  rt_vm *vm = mrb->allocf_ud; /* vm.c: mrb_open_core(vm_alloc, vm) */
  mrb_value space, record, pending, recs, rec, nk, n;
  scan s = {mrb_nil_value(), mrb_nil_value(), 1};
  int made = 0;
  (void)self;
  mrb_get_args(mrb, "oo", &space, &record);
  if (!mrb_hash_p(vm->ctx) || !mrb_hash_p(record) ||
      !(mrb_string_p(space) || mrb_symbol_p(space)))
    return mrb_false_value();
  mrb_hash_foreach(mrb, mrb_hash_ptr(record), scan_each, &s);
  if (!s.ok || mrb_nil_p(s.key)) return mrb_false_value();
  pending = sub_hash(mrb, vm->ctx,
                     mrb_symbol_value(mrb_intern_lit(mrb, "incr")), NULL);
  recs = sub_hash(mrb, sub_hash(mrb, pending, name_sym(mrb, space), NULL),
                  name_sym(mrb, s.keyattr), NULL);
  rec = sub_hash(mrb, recs, s.key, &made);
  add a = {rec, 1, 0};
  mrb_hash_foreach(mrb, mrb_hash_ptr(record), add_each, &a);
  if (a.overflow) /* sent alone, the store reports it */
    return mrb_false_value();
  a.check = 0;
  mrb_hash_foreach(mrb, mrb_hash_ptr(record), add_each, &a);
  if (!made) return mrb_int_value(mrb, 1);
  nk = mrb_symbol_value(mrb_intern_lit(mrb, "incr_n"));
  n = mrb_hash_get(mrb, vm->ctx, nk);
  n = mrb_int_value(mrb, (mrb_integer_p(n) ? mrb_integer(n) : 0) + 1);
  mrb_hash_set(mrb, vm->ctx, nk, n);
  return mrb_int_value(mrb, mrb_integer(n) >= INCR_KEYS_MAX ? 2 : 1);
}

void rt_combine_init(mrb_state *mrb) {
  struct RClass *m31 = mrb_define_module(mrb, "M31");
  struct RClass *fs = mrb_define_module_under(mrb, m31, "FS");
  mrb_define_module_function(mrb, fs, "__combine", fs_combine, MRB_ARGS_REQ(2));
}
