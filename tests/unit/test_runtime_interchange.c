/*
 * test_runtime_interchange.c — Ruby value <-> JSON round trips and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interchange.h"
#include "runtime/internal.h"
#include <mruby/array.h>

static int setup(void **state) {
  *state = rt_vm_new(0);
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  rt_vm_free(*state);
  return 0;
}

/* JSON text -> Ruby -> JSON: equal to the original, reals by bits. */
static void round_trip(rt_vm *vm, const char *text) {
  mrb_state *mrb = rt_vm_mrb(vm);
  json_error_t je;
  json_t *in = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  json_t *out = NULL;
  rt_error err = {0};
  mrb_value v;
  int ai = mrb_gc_arena_save(mrb);
  if (!in) fail_msg("bad test JSON %s", text);
  assert_int_equal(rt_json_to_value(mrb, in, &v, &err), 0);
  assert_int_equal(rt_value_to_json(mrb, v, &out, &err), 0);
  if (!json_equal(in, out)) {
    char *a = json_dumps(out, JSON_ENCODE_ANY);
    fail_msg("%s came back as %s", text, a);
  }
  json_decref(in);
  json_decref(out);
  mrb_gc_arena_restore(mrb, ai);
}

static void test_scalars(void **state) {
  static const char *const cases[] = {
      "null",
      "true",
      "false",
      "0",
      "-1",
      "1",
      "4611686018427387903",
      "4611686018427387904",
      "-4611686018427387905",
      "9223372036854775807",
      "-9223372036854775808",
      "1.0",
      "-0.0",
      "0.1",
      "1e300",
      "-2.5e-300",
      "3.14159265358979",
      "123456.789",
      "\"\"",
      "\"plain\"",
      "\"caf\\u00e9 \\u65e5\\u672c \\ud83d\\ude00\"",
      "\"nul\\u0000inside\"",
      "\"\\n\\t\\\"\\\\\""};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    round_trip(*state, cases[i]);
}

static void test_containers(void **state) {
  round_trip(*state, "[]");
  round_trip(*state, "{}");
  round_trip(*state, "[1, 1.0, \"1\", null, [true, {\"a\": []}]]");
  round_trip(*state,
             "{\"z\": 1, \"a\": {\"b\": {\"c\": [1, 2, {\"d\": 0.5}]}}}");
  round_trip(*state, "{\"\\u00e9\": \"\\u00e9\", \"\": 0}");
}

/* Ints stay ints and floats stay floats, by type, in both directions. */
static void test_types_kept(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  json_t *j = json_pack("[I, f]", (json_int_t)1, 1.0), *out = NULL;
  mrb_value v;
  assert_int_equal(rt_json_to_value(mrb, j, &v, &err), 0);
  assert_true(mrb_integer_p(mrb_ary_ref(mrb, v, 0)));
  assert_true(mrb_float_p(mrb_ary_ref(mrb, v, 1)));
  assert_int_equal(rt_value_to_json(mrb, v, &out, &err), 0);
  assert_true(json_is_integer(json_array_get(out, 0)));
  assert_true(json_is_real(json_array_get(out, 1)));
  json_decref(j);
  json_decref(out);
}

static const char *to_json_text(rt_vm *vm, const char *src, rt_error *err) {
  static char buf[1024];
  json_t *out = NULL;
  if (rt_vm_eval(vm, src, strlen(src), "t.rb", &out, err) != 0) {
    snprintf(buf, sizeof buf, "!%s: %s", err->klass, err->message);
    return buf;
  }
  char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, sizeof buf, "%s", s);
  free(s);
  json_decref(out);
  return buf;
}

static void test_ruby_side(void **state) {
  rt_error err = {0};
  assert_string_equal(to_json_text(*state, "{a: :b, 'c' => [nil]}", &err),
                      "{\"a\":\"b\",\"c\":[null]}");
  assert_string_equal(to_json_text(*state, "4611686018427387903 * 2 + 1", &err),
                      "9223372036854775807");
  assert_string_equal(to_json_text(*state, "-9223372036854775807 - 1", &err),
                      "-9223372036854775808");
  /* in word-boxed floats 0.1 + 0.2 lands on 0.3's truncated value, so
   * it comes out as the double 0.3 (printed by jansson with 17 digits) */
  assert_string_equal(to_json_text(*state, "0.1 + 0.2", &err),
                      "0.29999999999999999");
  assert_string_equal(to_json_text(*state, "'日本'", &err), "\"日本\"");
  rt_error_clear(&err);
}

static void test_errors(void **state) {
  static const char *const cases[][2] = {
      {"1..2", "!TypeError: value: cannot convert Range to JSON"},
      {"[1, {x: Object.new}]",
       "!TypeError: value[1].x: cannot convert Object to JSON"},
      {"0.0 / 0", "!TypeError: value: NaN and Infinity are not JSON"},
      {"[1.0 / 0]", "!TypeError: value[0]: NaN and Infinity are not JSON"},
      {"\"\\xff\"", "!TypeError: value: string is not valid UTF-8"},
      {"{1 => 2}",
       "!TypeError: value: a Hash key must be a String or a Symbol"},
      {"{a: 1, 'a' => 2}",
       "!TypeError: value.a: key appears twice (as a String and a Symbol)"},
      {"a = []; a << a; a",
       "!TypeError: value[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0]: nested deeper than 64 levels (or a cycle)"},
  };
  rt_error err = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *r = to_json_text(*state, cases[i][0], &err);
    if (strncmp(r, cases[i][1], strlen(cases[i][1]) > 60 ? 40 : 200) != 0)
      fail_msg("%s gave %s", cases[i][0], r);
  }
  rt_error_clear(&err);
}

static void test_depth_from_json(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  json_t *j = json_array(), *in = j;
  mrb_value v;
  for (int i = 0; i < RT_JSON_DEPTH_MAX + 5; i++) {
    json_t *k = json_array();
    json_array_append_new(j, k);
    j = k;
  }
  assert_int_equal(rt_json_to_value(mrb, in, &v, &err), -1);
  assert_string_equal(err.klass, "TypeError");
  json_decref(in);
  rt_error_clear(&err);
}

/* Reals of up to 14 significant digits survive mruby's word-boxed floats
 * exactly (see interchange.c); sample the whole exponent range. */
static void test_reals_14_digits(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  srand(31);
  for (int e = -300; e <= 300; e += 3) {
    for (int k = 0; k < 300; k++) {
      char s[64];
      long long mant = (((long long)rand() << 31) ^ rand()) % 100000000000000LL;
      snprintf(s, sizeof s, "%lld.0e%d", mant, e);
      json_t *in = json_real(strtod(s, NULL)), *out = NULL;
      mrb_value v;
      int ai = mrb_gc_arena_save(mrb);
      assert_int_equal(rt_json_to_value(mrb, in, &v, &err), 0);
      assert_int_equal(rt_value_to_json(mrb, v, &out, &err), 0);
      if (json_real_value(in) != json_real_value(out))
        fail_msg("%s came back as %.17g", s, json_real_value(out));
      json_decref(in);
      json_decref(out);
      mrb_gc_arena_restore(mrb, ai);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_containers),
      cmocka_unit_test(test_types_kept),
      cmocka_unit_test(test_ruby_side),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_depth_from_json),
      cmocka_unit_test(test_reals_14_digits),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
