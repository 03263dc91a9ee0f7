/*
 * Unit tests for server/ruby_literal.c: every JSON type as Ruby literal
 * text, strings that cannot interpolate, Floats that stay Floats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/ruby_literal.c"

/* Parses JSON text and checks its Ruby literal (without the newline). */
static void expect(const char *json, const char *ruby) {
  json_error_t e;
  json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  char *out;
  size_t n;

  if (!v) fail_msg("bad test JSON %s: %s", json, e.text);
  out = ruby_literal_new(v);
  assert_non_null(out);
  n = strlen(out);
  assert_true(n > 0 && out[n - 1] == '\n');
  out[n - 1] = '\0';
  if (strcmp(out, ruby) != 0) fail_msg("%s -> %s, want %s", json, out, ruby);
  free(out);
  json_decref(v);
}

static void test_scalars(void **state) {
  (void)state;
  expect("true", "true");
  expect("false", "false");
  expect("null", "nil");
  expect("42", "42");
  expect("-9223372036854775808", "-9223372036854775808");
  expect("9223372036854775807", "9223372036854775807");
}

static void test_floats_always_look_like_floats(void **state) {
  (void)state;
  expect("1.0", "1.0");
  expect("0.1", "0.1");
  expect("-2.5", "-2.5");
  expect("1e300", "1e+300");
  expect("1.5e-7", "1.5e-07");
  expect("-0.0", "-0.0");
  expect("100000000000000000000.0", "1e+20");
  expect("0.30000000000000004", "0.30000000000000004");
}

static void test_strings_escape_and_never_interpolate(void **state) {
  (void)state;
  expect("\"plain\"", "\"plain\"");
  expect("\"#{`rm -rf /`}\"", "\"\\#{`rm -rf /`}\"");
  expect("\"a\\\"b\\\\c\"", "\"a\\\"b\\\\c\"");
  expect("\"l1\\nl2\\tt\\r\"", "\"l1\\nl2\\tt\\r\"");
  expect("\"\\u001b[0m\"", "\"\\e[0m\"");
  expect("\"\\u0001\\u007f\\u0000\"", "\"\\u{1}\\u{7f}\\u{0}\"");
  expect("\"caf\\u00e9 \\u2603\"", "\"caf\xc3\xa9 \xe2\x98\x83\"");
  expect("\"#@x #$y\"", "\"\\#@x \\#$y\"");
}

static void test_containers(void **state) {
  (void)state;
  expect("[]", "[]");
  expect("{}", "{}");
  expect("[1, [2.5, \"x\"], {}]", "[1, [2.5, \"x\"], {}]");
  expect("{\"k\": 1, \"#{x}\": [true, null], \"m\": {\"a\": \"b\"}}",
         "{\"k\" => 1, \"\\#{x}\" => [true, nil], \"m\" => {\"a\" => \"b\"}}");
}

static void test_too_deep_is_refused(void **state) {
  json_t *v = json_array(), *inner = v;

  (void)state;
  for (int i = 0; i < RUBY_MAX_DEPTH + 2; i++) {
    json_t *next = json_array();
    json_array_append_new(inner, next);
    inner = next;
  }
  assert_null(ruby_literal_new(v));
  json_decref(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_floats_always_look_like_floats),
      cmocka_unit_test(test_strings_escape_and_never_interpolate),
      cmocka_unit_test(test_containers),
      cmocka_unit_test(test_too_deep_is_refused),
  };
  return cmocka_run_group_tests_name("server_ruby", tests, NULL, NULL);
}
