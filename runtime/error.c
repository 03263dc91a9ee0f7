/*
 * error.c — rt_error: filling it from a Ruby exception, and its JSON form.
 */
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/error.h>
#include <mruby/string.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

void rt_error_clear(rt_error *e) {
  if (!e) return;
  json_decref(e->backtrace);
  memset(e, 0, sizeof *e);
}

void rt_error_set(rt_error *e, const char *klass, const char *fmt, ...) {
  va_list ap;
  if (!e) return;
  rt_error_clear(e);
  snprintf(e->klass, sizeof e->klass, "%s", klass);
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

json_t *rt_error_json(const rt_error *e) {
  json_t *bt = e->backtrace ? json_incref(e->backtrace) : json_array();
  return json_pack("{s:s, s:s, s:o}", "class", e->klass, "message", e->message,
                   "backtrace", bt);
}

typedef struct {
  mrb_value recv;
  const char *name;
} call_args;

static mrb_value call_body(mrb_state *mrb, void *ud) {
  call_args *a = ud;
  return mrb_funcall(mrb, a->recv, a->name, 0);
}

/* recv.name() with no argument; nil if it raised. Leaves mrb->exc as it
 * found it, so it can run while an exception is being reported. */
static mrb_value call_quiet(mrb_state *mrb, mrb_value recv, const char *name) {
  struct RObject *saved = mrb->exc;
  call_args a = {recv, name};
  mrb_bool failed = FALSE;
  mrb->exc = NULL;
  mrb_value v = mrb_protect_error(mrb, call_body, &a, &failed);
  if (failed || mrb->exc) v = mrb_nil_value();
  mrb->exc = saved;
  return v;
}

static json_t *backtrace_json(mrb_state *mrb, mrb_value exc) {
  mrb_value bt = call_quiet(mrb, exc, "backtrace");
  json_t *out;
  if (!mrb_array_p(bt)) return NULL;
  out = json_array();
  for (mrb_int i = 0; out && i < RARRAY_LEN(bt); i++) {
    mrb_value line = RARRAY_PTR(bt)[i];
    if (!mrb_string_p(line)) continue;
    json_array_append_new(out,
                          json_stringn(RSTRING_PTR(line), RSTRING_LEN(line)));
  }
  return out;
}

void rt_error_from_exc(mrb_state *mrb, mrb_value exc, rt_error *err) {
  int ai;
  mrb_value msg;
  if (!err) return;
  ai = mrb_gc_arena_save(mrb);
  msg = call_quiet(mrb, exc, "message");
  rt_error_clear(err);
  snprintf(err->klass, sizeof err->klass, "%s", mrb_obj_classname(mrb, exc));
  if (mrb_string_p(msg))
    snprintf(err->message, sizeof err->message, "%.*s",
             (int)(RSTRING_LEN(msg) < 4096 ? RSTRING_LEN(msg) : 4096),
             RSTRING_PTR(msg));
  err->backtrace = backtrace_json(mrb, exc);
  mrb_gc_arena_restore(mrb, ai);
}

int rt_exc_take(mrb_state *mrb, rt_error *err) {
  if (!mrb->exc) return 0;
  mrb_value exc = mrb_obj_value(mrb->exc);
  mrb->exc = NULL;
  rt_error_from_exc(mrb, exc, err);
  return -1;
}
