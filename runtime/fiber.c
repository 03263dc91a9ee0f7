/*
 * fiber.c — making and resuming the mruby Fiber of a fibril from C.
 *
 * A fiber cannot yield across a C frame, so C only ever resumes: the
 * fiber's body (M31.fibril, runtime/prelude/sys.rb) is Ruby all the way
 * down to each Fiber.yield. Every resume runs under mrb_protect_error: an
 * unprotected raise with no handler would abort the process.
 */
#include <mruby.h>
#include <mruby/error.h>
#include <mruby/string.h>
#include <time.h>

#include "runtime/internal.h"

typedef struct fiber_args {
  struct RClass *m31;
  mrb_value proc, fn, args;
} fiber_args;

static mrb_value fiber_new_body(mrb_state *mrb, void *ud) {
  fiber_args *a = ud;
  return mrb_funcall(mrb, mrb_obj_value(a->m31), "fibril", 3, a->proc, a->fn,
                     a->args);
}

int rt_fiber_new(rt_vm *vm, mrb_value proc, const char *fn, mrb_value args,
                 mrb_value *fiber, rt_error *err) {
  mrb_state *mrb = vm->mrb;
  fiber_args a = {vm->m31, proc, mrb_nil_value(), args};
  mrb_bool failed = FALSE;
  mrb_value v;
  if (!vm->m31) {
    rt_error_set(err, "RuntimeError", "the prelude is not loaded");
    return -1;
  }
  if (fn) a.fn = mrb_str_new_cstr(mrb, fn);
  v = mrb_protect_error(mrb, fiber_new_body, &a, &failed);
  if (failed) {
    rt_error_from_exc(mrb, v, err);
    return -1;
  }
  if (rt_exc_take(mrb, err) != 0) return -1;
  *fiber = v;
  return 0;
}

typedef struct step_args {
  mrb_value fiber, arg;
  int has_arg;
} step_args;

static mrb_value step_body(mrb_state *mrb, void *ud) {
  step_args *a = ud;
  return mrb_fiber_resume(mrb, a->fiber, a->has_arg ? 1 : 0, &a->arg);
}

rt_step rt_fiber_step(mrb_state *mrb, mrb_value fiber, int has_arg,
                      mrb_value arg, mrb_value *v) {
  step_args a = {fiber, arg, has_arg};
  mrb_bool failed = FALSE;
  mrb->exc = NULL;
  *v = mrb_protect_error(mrb, step_body, &a, &failed);
  if (failed) return RT_STEP_RAISE;
  if (mrb->exc) {
    /* an exception that ends the fiber comes back as the value, with
     * mrb->exc set */
    *v = mrb_obj_value(mrb->exc);
    mrb->exc = NULL;
    return RT_STEP_RAISE;
  }
  return mrb_test(mrb_fiber_alive_p(mrb, fiber)) ? RT_STEP_YIELD : RT_STEP_DONE;
}

uint64_t rt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rt_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
