/*
 * vm.c — one sandboxed mruby VM with a memory budget.
 *
 * The sandbox is an allow-list. Debian's libmruby.a holds every gem,
 * mruby-io and mruby-socket included, and mrb_open() loads them all;
 * removing their constants afterwards does not help ($stdout.class.popen
 * still runs a shell). So the VM is built from mrb_open_core() and only the
 * gems below are initialised: IO, File, Socket, Kernel#open, backticks,
 * system/exec, ObjectSpace and Process never exist in it. The worker's
 * seccomp filter (sandbox.c) is the second wall, the process the third.
 *
 * Kept on purpose:
 * - mruby-eval (Kernel#eval, instance_eval of strings): it compiles code
 *   with the same powers as the fibril's own code, which is compiled by the
 *   same compiler anyway; with no IO class in the VM there is nothing more
 *   to reach. Tests try eval of every forbidden name.
 * - mruby-time: Time.now reads the vDSO clock; the worker calls tzset()
 *   before seccomp so localtime never opens a file.
 * Left out: io, socket, objectspace (walks every object of the VM, other
 * fibrils' included), print (writes to fd 1; the prelude's puts/print/p
 * are system calls instead), and the bin-/test gems.
 *
 * The gem init functions are internal names of mruby 3.1's build
 * (GENERATED_TMP_mrb_<gem>_gem_init); the version check below stops the
 * build if another mruby is installed.
 */
#include <mruby.h>
#include <malloc.h>
#include <mruby/compile.h>
#include <mruby/error.h>
#include <mruby/proc.h>
#include <mruby/string.h>
#include <mruby/version.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "runtime/interchange.h"

#if MRUBY_RELEASE_MAJOR != 3 || MRUBY_RELEASE_MINOR != 1
#error "runtime/vm.c names mruby 3.1's gem init functions; check them"
#endif

// clang-format off
#define GEMS(X)                                                             \
  X(compar_ext) X(enum_ext) X(string_ext) X(numeric_ext) X(array_ext)       \
  X(hash_ext) X(range_ext) X(proc_ext) X(symbol_ext) X(object_ext)          \
  X(kernel_ext) X(class_ext) X(metaprog) X(method) X(math) X(struct)        \
  X(sprintf) X(pack) X(random) X(time) X(fiber) X(enumerator)               \
  X(enum_lazy) X(toplevel_ext) X(rational) X(complex) X(eval)
// clang-format on

#define DECLARE(g)                                                             \
  void GENERATED_TMP_mrb_mruby_##g##_gem_init(mrb_state *);                    \
  void GENERATED_TMP_mrb_mruby_##g##_gem_final(mrb_state *);
GEMS(DECLARE)

typedef struct gem {
  void (*init)(mrb_state *);
  void (*final)(mrb_state *);
} gem;

#define ENTRY(g)                                                               \
  {GENERATED_TMP_mrb_mruby_##g##_gem_init,                                     \
   GENERATED_TMP_mrb_mruby_##g##_gem_final},
static const gem gems[] = {GEMS(ENTRY)};

/*
 * Every allocation of the VM passes here. Sizes are counted with
 * malloc_usable_size so frees need no header. Past the limit the call
 * fails; mruby then collects garbage, retries once and raises NoMemoryError
 * (a preallocated object), which leaves the VM usable.
 */
static void *vm_alloc(mrb_state *mrb, void *p, size_t size, void *ud) {
  rt_vm *vm = ud;
  size_t old = p ? malloc_usable_size(p) : 0;
  void *q;
  (void)mrb;
  if (size == 0) {
    vm->used -= old;
    free(p);
    return NULL;
  }
  if (vm->limit && size > old && vm->used - old + size > vm->limit) {
    vm->refusals++;
    return NULL;
  }
  q = realloc(p, size);
  if (!q) return NULL;
  vm->used = vm->used - old + malloc_usable_size(q);
  if (vm->used > vm->peak) vm->peak = vm->used;
  return q;
}

static mrb_value gems_init(mrb_state *mrb, void *ud) {
  (void)ud;
  for (size_t i = 0; i < sizeof gems / sizeof gems[0]; i++) {
    gems[i].init(mrb);
    mrb_state_atexit(mrb, gems[i].final);
  }
  rt_jam_init(mrb);     /* M31::Jam: C methods jam.rb uses */
  rt_combine_init(mrb); /* M31::FS.__combine, for fs.rb */
  rt_repl_init(mrb);    /* M31::REPL.__check and friends, for repl.rb */
  return mrb_nil_value();
}

static int vm_run_top(rt_vm *vm, const char *src, size_t len, const char *path,
                      rt_error *err);

static int prelude_load(rt_vm *vm, rt_error *err) {
  for (const rt_prelude_file *f = rt_prelude_files; f->path; f++)
    if (vm_run_top(vm, f->src, *f->len, f->path, err) != 0) return -1;
  vm->m31 = mrb_module_get(vm->mrb, "M31");
  return 0;
}

rt_vm *rt_vm_new(size_t mem_limit) {
  rt_vm *vm = calloc(1, sizeof *vm);
  rt_error err = {0};
  mrb_bool failed = FALSE;
  if (!vm) return NULL;
  vm->ctx = mrb_nil_value();
  vm->mrb = mrb_open_core(vm_alloc, vm);
  if (!vm->mrb) goto Fail;
  mrb_protect_error(vm->mrb, gems_init, NULL, &failed);
  if (failed || vm->mrb->exc) goto Fail;
  if (prelude_load(vm, &err) != 0) goto Fail;
  vm->limit = mem_limit;
  if (mem_limit && vm->used > mem_limit) goto Fail;
  return vm;
Fail:
  rt_error_clear(&err);
  rt_vm_free(vm);
  return NULL;
}

void rt_vm_free(rt_vm *vm) {
  if (!vm) return;
  if (vm->mrb) {
    vm->limit = 0;
    mrb_close(vm->mrb);
  }
  free(vm);
}

mrb_state *rt_vm_mrb(rt_vm *vm) { return vm->mrb; }
size_t rt_vm_mem_used(const rt_vm *vm) { return vm->used; }
uint64_t rt_vm_mem_refusals(const rt_vm *vm) { return vm->refusals; }
void rt_vm_mem_limit_set(rt_vm *vm, size_t mem_limit) { vm->limit = mem_limit; }

typedef struct compile_args {
  const char *src;
  size_t len;
  const char *path;
  mrbc_context *cxt;
  struct mrb_parser_state *parser;
} compile_args;

/* Parses and generates code; on a syntax error returns nil and leaves the
 * parser in a->parser for the caller to report and free. */
static mrb_value compile_body(mrb_state *mrb, void *ud) {
  compile_args *a = ud;
  struct RProc *proc;
  a->cxt = mrbc_context_new(mrb);
  a->cxt->capture_errors = TRUE;
  a->cxt->no_exec = TRUE;
  mrbc_filename(mrb, a->cxt, a->path);
  a->parser = mrb_parse_nstring(mrb, a->src, a->len, a->cxt);
  if (!a->parser || a->parser->nerr > 0) return mrb_nil_value();
  proc = mrb_generate_code(mrb, a->parser);
  return proc ? mrb_obj_value(proc) : mrb_nil_value();
}

static void compile_error(compile_args *a, rt_error *err) {
  const struct mrb_parser_message *m;
  if (!a->parser) {
    rt_error_set(err, "NoMemoryError", "%s: out of memory compiling", a->path);
    return;
  }
  if (a->parser->nerr == 0) {
    rt_error_set(err, "ScriptError", "%s: code generation failed", a->path);
    return;
  }
  m = &a->parser->error_buffer[0];
  rt_error_set(err, "SyntaxError", "%s:%d:%d: %s", a->path, m->lineno,
               m->column, m->message ? m->message : "syntax error");
}

int rt_vm_compile(rt_vm *vm, const char *src, size_t len, const char *path,
                  mrb_value *proc, rt_error *err) {
  mrb_state *mrb = vm->mrb;
  compile_args a = {src, len, path ? path : "(fibril)", NULL, NULL};
  mrb_bool failed = FALSE;
  int ret = -1;
  mrb_value v = mrb_protect_error(mrb, compile_body, &a, &failed);
  if (failed)
    rt_error_from_exc(mrb, v, err);
  else if (rt_exc_take(mrb, err) != 0)
    (void)0;
  else if (!mrb_proc_p(v))
    compile_error(&a, err);
  else {
    /* The compiler leaves a top-level proc classless (not callable from
     * Ruby); give it its class so a fiber can call it. */
    mrb_proc_ptr(v)->c = mrb->proc_class;
    *proc = v;
    ret = 0;
  }
  if (a.parser) mrb_parser_free(a.parser);
  if (a.cxt) mrbc_context_free(mrb, a.cxt);
  return ret;
}

/* Runs the prelude on the root fiber (M31.fibril does not exist yet). */
static int vm_run_top(rt_vm *vm, const char *src, size_t len, const char *path,
                      rt_error *err) {
  mrb_state *mrb = vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  int ret = -1;
  mrb_value proc;
  if (rt_vm_compile(vm, src, len, path, &proc, err) != 0) goto Exit;
  mrb_top_run(mrb, mrb_proc_ptr(proc), mrb_top_self(mrb), 0);
  if (rt_exc_take(mrb, err) != 0) goto Exit;
  ret = 0;
Exit:
  mrb_gc_arena_restore(mrb, ai);
  return ret;
}

/* Runs the code in a fiber of its own, so nothing it leaves on a stack
 * outlives it (a root-fiber run would keep its locals alive). */
int rt_vm_eval(rt_vm *vm, const char *src, size_t len, const char *path,
               json_t **out, rt_error *err) {
  mrb_state *mrb = vm->mrb;
  int ai = mrb_gc_arena_save(mrb);
  int ret = -1;
  mrb_value proc, fiber, v;
  if (rt_vm_compile(vm, src, len, path, &proc, err) != 0) goto Exit;
  if (rt_fiber_new(vm, proc, NULL, mrb_nil_value(), &fiber, err) != 0)
    goto Exit;
  switch (rt_fiber_step(mrb, fiber, 0, mrb_nil_value(), &v)) {
  case RT_STEP_DONE:
    ret = rt_value_to_json(mrb, v, out, err);
    break;
  case RT_STEP_RAISE:
    rt_error_from_exc(mrb, v, err);
    break;
  case RT_STEP_YIELD:
    rt_error_set(err, "FiberError",
                 "system calls (print, fs, ...) need a fibril");
    break;
  }
Exit:
  mrb_gc_arena_restore(mrb, ai);
  return ret;
}
