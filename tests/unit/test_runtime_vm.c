/*
 * test_runtime_vm.c — the sandboxed VM: what must not exist, the memory
 * budget, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "runtime/runtime.h"

static int setup(void **state) {
  *state = rt_vm_new(32u << 20);
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  rt_vm_free(*state);
  return 0;
}

/* Evaluates src; returns the JSON result text (static buffer) or "!Class". */
static const char *ev(rt_vm *vm, const char *src, rt_error *err) {
  static char buf[4096];
  json_t *out = NULL;
  if (rt_vm_eval(vm, src, strlen(src), "test.rb", &out, err) != 0) {
    snprintf(buf, sizeof buf, "!%s", err->klass);
    return buf;
  }
  char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, sizeof buf, "%s", s);
  free(s);
  json_decref(out);
  return buf;
}

static void test_eval_basic(void **state) {
  rt_error err = {0};
  assert_string_equal(ev(*state, "[1 + 1, 'x' * 3, {a: nil}]", &err),
                      "[2,\"xxx\",{\"a\":null}]");
  assert_string_equal(ev(*state, "def sq(x) x * x end; sq(12)", &err), "144");
  assert_string_equal(
      ev(*state, "[1, 2, 3].map { |x| x * 2 }.inject(:+)", &err), "12");
  assert_string_equal(ev(*state, "format('%05.1f', 3.14159)", &err),
                      "\"003.1\"");
  assert_string_equal(ev(*state, "Struct.new(:a).new(1).a", &err), "1");
  assert_string_equal(ev(*state, "[1,2,3].each_slice(2).to_a", &err),
                      "[[1,2],[3]]");
  rt_error_clear(&err);
}

/* Everything that reaches the world outside the VM must be missing. */
static void test_sandbox_no_io(void **state) {
  static const char *const forbidden[] = {
      "IO",
      "File",
      "Socket",
      "TCPSocket",
      "UNIXSocket",
      "BasicSocket",
      "ObjectSpace",
      "Process",
      "IO.popen('id')",
      "File.read('/etc/passwd')",
      "$stdout.write('x')",
      "$stderr.write('x')",
      "$stderr.reopen('/tmp/x')",
      "$stdout.class.popen('id')",
      "STDOUT",
      "open('/etc/passwd')",
      "Kernel.open('/etc/passwd')",
      "`id`",
      "%x(id)",
      "system('id')",
      "exec('id')",
      "spawn('id')",
      "fork",
      "syscall(39)",
      "require 'socket'",
      "load '/etc/passwd'",
      "Object.const_get(:IO)",
      "Kernel.send(:open, '/etc/passwd')",
      "ObjectSpace.each_object(Class).to_a",
      "eval('IO')",
      "eval('File')",
      "eval('Socket')",
      "eval('TCPSocket')",
      "eval('$stdout.write(1)')",
      "eval('$stderr.write(1)')",
      "eval('IO.popen(\"id\")')",
      "eval('open(\"/etc/passwd\")')",
      "eval('`id`')",
      "eval('system(\"id\")')",
      "eval('exec(\"id\")')",
      "eval('ObjectSpace')",
      "instance_eval('IO')",
      "Object.new.instance_eval('File')",
  };
  rt_error err = {0};
  for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
    const char *r = ev(*state, forbidden[i], &err);
    /* (mruby's core defines ` to raise NotImplementedError) */
    if (strcmp(r, "!NameError") != 0 && strcmp(r, "!NoMethodError") != 0 &&
        strcmp(r, "!NotImplementedError") != 0)
      fail_msg("%s gave %s (%s)", forbidden[i], r, err.message);
  }
  rt_error_clear(&err);
}

static void test_eval_allowed(void **state) {
  rt_error err = {0};
  /* no IO objects hide in globals; puts/print/p are system calls */
  assert_string_equal(ev(*state, "[$stdout, $stderr, $stdin]", &err),
                      "[null,null,null]");
  assert_string_equal(ev(*state, "$stderr.puts('x')", &err), "!FiberError");
  assert_string_equal(ev(*state, "eval('6 * 7')", &err), "42");
  rt_error_clear(&err);
}

/* The fs prelude: type names, Int.incr and StoreError (calls need a fibril). */
static void test_fs_prelude(void **state) {
  rt_error err = {0};
  assert_string_equal(ev(*state, "[Int.incr, Int.incr(3)]", &err),
                      "[{\"$incr\":1},{\"$incr\":3}]");
  assert_string_equal(
      ev(*state,
         "[Int, Integer, Float, String, Bool, Bytes, Array, List, Hash, Map, "
         "Any, 'Int', :Float].map { |t| M31.type_name(t) }",
         &err),
      "[\"Int\",\"Int\",\"Float\",\"String\",\"Bool\",\"Bytes\","
      "\"List\",\"List\",\"Map\",\"Map\",\"Any\",\"Int\",\"Float\"]");
  assert_string_equal(ev(*state, "M31.type_name(Object)", &err), "!TypeError");
  assert_string_equal(
      ev(*state,
         "e = M31::StoreError.new('bad', 'attrs.freq', 'invalid'); "
         "[e.message, e.field, e.code, e.is_a?(StandardError)]",
         &err),
      "[\"bad\",\"attrs.freq\",\"invalid\",true]");
  assert_string_equal(ev(*state, "fs.get('w', 'pi')", &err), "!FiberError");
  rt_error_clear(&err);
}

static void test_syntax_error(void **state) {
  rt_error err = {0};
  assert_string_equal(ev(*state, "def (", &err), "!SyntaxError");
  assert_non_null(strstr(err.message, "test.rb"));
  rt_error_clear(&err);
}

static void test_exception_backtrace(void **state) {
  rt_error err = {0};
  const char *src = "def f\n  raise ArgumentError, 'boom'\nend\nf\n";
  assert_string_equal(ev(*state, src, &err), "!ArgumentError");
  assert_string_equal(err.message, "boom");
  assert_non_null(err.backtrace);
  const char *top = json_string_value(json_array_get(err.backtrace, 0));
  assert_non_null(top);
  assert_non_null(strstr(top, "test.rb:2"));
  rt_error_clear(&err);
}

static void test_memory_budget(void **state) {
  (void)state;
  rt_vm *vm = rt_vm_new(8u << 20);
  rt_error err = {0};
  assert_non_null(vm);
  assert_string_equal(ev(vm, "a = []; loop { a << 'x' * 4096 }", &err),
                      "!NoMemoryError");
  assert_true(rt_vm_mem_refusals(vm) > 0);
  /* the VM stays usable, and the garbage is collected */
  assert_string_equal(ev(vm, "[1, 2].inject(:+)", &err), "3");
  assert_string_equal(ev(vm, "('y' * 100_000).size", &err), "100000");
  assert_true(rt_vm_mem_used(vm) <= (8u << 20));
  assert_string_equal(ev(vm, "'x' * (1 << 40)", &err), "!NoMemoryError");
  const char *r = ev(vm, "format('%999999999d', 1).size", &err);
  assert_true(strcmp(r, "!NoMemoryError") == 0 ||
              strcmp(r, "!ArgumentError") == 0);
  /* rescue does not lift the budget: every allocation past it fails */
  assert_string_equal(
      ev(vm,
         "n = 0; a = []; 3.times { begin; loop { a << 'z' * 4096 }; "
         "rescue NoMemoryError; n += 1; end }; a = nil; n",
         &err),
      "3");
  assert_string_equal(ev(vm, "'ok'", &err), "\"ok\"");
  rt_error_clear(&err);
  rt_vm_free(vm);
}

static void test_budget_too_small(void **state) {
  (void)state;
  assert_null(rt_vm_new(4096));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_eval_basic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sandbox_no_io, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eval_allowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exception_backtrace, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_prelude, setup, teardown),
      cmocka_unit_test(test_memory_budget),
      cmocka_unit_test(test_budget_too_small),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
