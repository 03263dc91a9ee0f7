/*
 * Unit tests for cli/run.c: whether a Ruby file defines a top-level
 * `def main` (which decides "fn"), and the body of the spawn request. The
 * .c is included to reach its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/run.c"

static void test_defines_main(void **state) {
  (void)state;
  assert_true(cli_source_defines_main("def main(n)\n  n\nend\n"));
  assert_true(cli_source_defines_main("def main\n  1\nend"));
  assert_true(cli_source_defines_main("x = 1\ndef main; x; end"));
  assert_true(cli_source_defines_main("def main(a, b) a + b end"));
  assert_true(cli_source_defines_main("def  main (a)\nend\n"));
  assert_true(cli_source_defines_main("def\tmain\r\nend\r\n"));
  assert_true(cli_source_defines_main("def main = 42\n"));
  assert_true(cli_source_defines_main("def helper; end\ndef main; end"));
}

static void test_defines_no_main(void **state) {
  (void)state;
  assert_false(cli_source_defines_main(""));
  assert_false(cli_source_defines_main("6 * 7"));
  assert_false(cli_source_defines_main("def main_loop; end"));
  assert_false(cli_source_defines_main("def mainly(x) x end"));
  assert_false(cli_source_defines_main("# def main\n1"));
  assert_false(cli_source_defines_main("main(3)"));
  assert_false(cli_source_defines_main("define main"));
  /* not top level: indented, inside a class */
  assert_false(cli_source_defines_main("class A\n  def main; end\nend\n"));
  assert_false(cli_source_defines_main("def self.main; end"));
  /* inside a block comment */
  assert_false(cli_source_defines_main("=begin\ndef main\n=end\n1\n"));
  assert_true(cli_source_defines_main("=begin\nx\n=end\ndef main; end\n"));
}

static void body_is(json_t *b, const char *want) {
  char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(s, want);
  free(s);
  json_decref(b);
}

static void test_spawn_body(void **state) {
  char *args[] = {"3", "word", "[1]", "\"7\""};
  (void)state;
  body_is(spawn_body_new("def main(*a) a end", 1, args, 4, 0),
          "{\"args\":[3,\"word\",[1],\"7\"],\"code\":\"def main(*a) a "
          "end\",\"fn\":\"main\"}");
  body_is(spawn_body_new("6 * 7", 0, NULL, 0, 0),
          "{\"args\":[],\"code\":\"6 * 7\",\"fn\":null}");
  body_is(spawn_body_new("1", 0, NULL, 0, 250),
          "{\"args\":[],\"budget\":{\"cpu_ms\":250},\"code\":\"1\","
          "\"fn\":null}");
}

static void test_spawn_body_not_utf8(void **state) {
  (void)state;
  assert_null(spawn_body_new("x = \"\xff\"", 0, NULL, 0, 0));
}

static void test_state_final(void **state) {
  (void)state;
  assert_true(state_final("done"));
  assert_true(state_final("failed"));
  assert_true(state_final("killed"));
  assert_false(state_final("waiting"));
  assert_false(state_final("running"));
  assert_false(state_final(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defines_main),
      cmocka_unit_test(test_defines_no_main),
      cmocka_unit_test(test_spawn_body),
      cmocka_unit_test(test_spawn_body_not_utf8),
      cmocka_unit_test(test_state_final),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
