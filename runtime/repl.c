/*
 * repl.c — the C half of a REPL session's VM (runtime/prelude/repl.rb):
 * a syntax check that tells an incomplete input from a wrong one, and a
 * test of whether a value crosses the interchange.
 */
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/string.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interchange.h"
#include "runtime/internal.h"

/* Messages of mruby 3.1's parser when the input stopped too early: more
 * lines may complete it. */
static int incomplete(const char *msg) {
  static const char *const early[] = {"unexpected $end", "unterminated",
                                      "unexpected end-of-input",
                                      "embedded document meets end of file"};
  for (size_t i = 0; i < sizeof early / sizeof early[0]; i++)
    if (strstr(msg, early[i])) return 1;
  return 0;
}

/* M31::REPL.__check(code): nil when code compiles, else [message, line,
 * incomplete?]; message is "(repl):line:col: text". */
static mrb_value repl_check(mrb_state *mrb, mrb_value self) {
  rt_vm *vm = mrb->allocf_ud; /* vm.c: mrb_open_core(vm_alloc, vm) */
  const char *src;
  mrb_int len;
  mrb_value proc, out[3];
  rt_error err = {0};
  int ai = mrb_gc_arena_save(mrb);
  (void)self;
  mrb_get_args(mrb, "s", &src, &len);
  if (rt_vm_compile(vm, src, (size_t)len, "(repl)", &proc, &err) == 0) {
    mrb_gc_arena_restore(mrb, ai);
    return mrb_nil_value();
  }
  mrb_gc_arena_restore(mrb, ai);
  const char *p = strchr(err.message, ':');
  out[0] = mrb_str_new_cstr(mrb, err.message);
  out[1] = mrb_int_value(mrb, p ? strtol(p + 1, NULL, 10) : 0);
  out[2] = mrb_bool_value(incomplete(err.message));
  rt_error_clear(&err);
  return mrb_ary_new_from_values(mrb, 3, out);
}

/* M31::REPL.__interchangeable?(v): true when v converts to JSON. */
static mrb_value repl_interchangeable(mrb_state *mrb, mrb_value self) {
  mrb_value v;
  json_t *j = NULL;
  rt_error err = {0};
  int ok;
  (void)self;
  mrb_get_args(mrb, "o", &v);
  ok = rt_value_to_json(mrb, v, &j, &err) == 0;
  json_decref(j);
  rt_error_clear(&err);
  return mrb_bool_value(ok);
}

void rt_repl_init(mrb_state *mrb) {
  struct RClass *m31 = mrb_define_module(mrb, "M31");
  struct RClass *repl = mrb_define_module_under(mrb, m31, "REPL");
  mrb_define_module_function(mrb, repl, "__check", repl_check, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, repl, "__interchangeable?",
                             repl_interchangeable, MRB_ARGS_REQ(1));
}
