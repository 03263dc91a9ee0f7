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
      {"\"\\xff\".to_sym", "!TypeError: value: string is not valid UTF-8"},
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

/* ------------------------------------------- tagged: $bytes, $endpoint */

#include <mruby/hash.h>
#include <mruby/string.h>
#include <sys/wait.h>
#include <unistd.h>

/* JSON text -> Ruby value (in the arena); fails the test on error. */
static mrb_value from_text(mrb_state *mrb, const char *text) {
  json_error_t je;
  json_t *in = json_loads(text, JSON_DECODE_ANY, &je);
  rt_error err = {0};
  mrb_value v;
  if (!in) fail_msg("bad test JSON %s", text);
  if (rt_json_to_value(mrb, in, &v, &err) != 0)
    fail_msg("%s: %s %s", text, err.klass, err.message);
  json_decref(in);
  return v;
}

/* Ruby value -> compact JSON text (static); "!Class: message" on error. */
static const char *to_text(mrb_state *mrb, mrb_value v) {
  static char buf[2048];
  rt_error err = {0};
  json_t *out = NULL;
  if (rt_value_to_json(mrb, v, &out, &err) != 0) {
    snprintf(buf, sizeof buf, "!%s: %s", err.klass, err.message);
    rt_error_clear(&err);
    return buf;
  }
  char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, sizeof buf, "%s", s);
  free(s);
  json_decref(out);
  return buf;
}

static void assert_bytes(mrb_value v, const char *bytes, size_t n) {
  assert_true(mrb_string_p(v));
  assert_int_equal(RSTRING_LEN(v), n);
  assert_memory_equal(RSTRING_PTR(v), bytes, n);
}

static void test_bytes_tagged(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  int ai = mrb_gc_arena_save(mrb);
  static const char bin[] = {'\xff', '\0', '\x01', 'a', 'b', 'c', '\0'};
  /* Ruby -> JSON: a String that is not UTF-8 is tagged, NULs kept */
  mrb_value v = mrb_str_new(mrb, bin, sizeof bin);
  assert_string_equal(to_text(mrb, v), "{\"$bytes\":\"/wABYWJjAA==\"}");
  assert_string_equal(to_json_text(*state, "\"\\xff\\x00\\x01abc\\x00\"", &err),
                      "{\"$bytes\":\"/wABYWJjAA==\"}");
  /* and back, byte for byte */
  assert_bytes(from_text(mrb, "{\"$bytes\": \"/wABYWJjAA==\"}"), bin,
               sizeof bin);
  /* inside containers, both ways */
  assert_string_equal(
      to_json_text(*state, "[{'k' => \"\\xc3\\x28\"}, \"ok\"]", &err),
      "[{\"k\":{\"$bytes\":\"wyg=\"}},\"ok\"]");
  v = from_text(mrb, "[{\"a\": {\"$bytes\": \"/w==\"}}]");
  assert_bytes(
      mrb_hash_get(mrb, mrb_ary_ref(mrb, v, 0), mrb_str_new_lit(mrb, "a")),
      "\xff", 1);
  /* valid UTF-8 stays a string, NUL bytes and the empty string included */
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "a\0b", 3)),
                      "\"a\\u0000b\"");
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "", 0)), "\"\"");
  /* {"$bytes": ""} is the empty String */
  assert_bytes(from_text(mrb, "{\"$bytes\": \"\"}"), "", 0);
  /* a single NUL is valid UTF-8, a lone continuation byte is not */
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "\0", 1)), "\"\\u0000\"");
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "\x80", 1)),
                      "{\"$bytes\":\"gA==\"}");
  /* overlong and surrogate encodings are not UTF-8 */
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "\xc0\xaf", 2)),
                      "{\"$bytes\":\"wK8=\"}");
  assert_string_equal(to_text(mrb, mrb_str_new(mrb, "\xed\xa0\x80", 3)),
                      "{\"$bytes\":\"7aCA\"}");
  mrb_gc_arena_restore(mrb, ai);
  rt_error_clear(&err);
}

/* Random binary Strings (each starts with 0xff, so none is UTF-8) survive
 * Ruby -> JSON -> Ruby exactly, every length from 1 to 300. */
static void test_bytes_random_round_trip(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  char buf[300];
  srand(7);
  for (size_t n = 1; n <= sizeof buf; n++) {
    int ai = mrb_gc_arena_save(mrb);
    json_t *j = NULL;
    mrb_value back;
    buf[0] = '\xff';
    for (size_t i = 1; i < n; i++)
      buf[i] = (char)(rand() & 0xff);
    if (n % 7 == 0) buf[n / 2] = '\0';
    assert_int_equal(
        rt_value_to_json(mrb, mrb_str_new(mrb, buf, (mrb_int)n), &j, &err), 0);
    assert_int_equal(json_object_size(j), 1);
    assert_true(json_is_string(json_object_get(j, "$bytes")));
    assert_int_equal(rt_json_to_value(mrb, j, &back, &err), 0);
    assert_bytes(back, buf, n);
    json_decref(j);
    mrb_gc_arena_restore(mrb, ai);
  }
}

/* Objects that only look tagged stay Hashes (and so round-trip). */
static void test_bytes_lookalikes(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  static const char *const cases[] = {
      "{\"$bytes\": \"not base64!\"}",
      "{\"$bytes\": \"/wA\"}",  /* unpadded: the tag is padded base64 */
      "{\"$bytes\": \"_wA=\"}", /* the URL-safe alphabet */
      "{\"$bytes\": \"/wA=\", \"x\": 1}",
      "{\"x\": 1, \"$bytes\": \"/wA=\"}",
      "{\"$bytes\": 5}",
      "{\"$bytes\": null}",
      "{\"$bytes\": [\"/wA=\"]}",
      "{\"$Bytes\": \"/wA=\"}",
      "{\"$endpoint\": \"n-1\", \"x\": 1}",
      "{\"$endpoint\": 5}",
      "{\"$endpoint\": {\"id\": \"n-1\"}}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int ai = mrb_gc_arena_save(mrb);
    mrb_value v = from_text(mrb, cases[i]);
    if (!mrb_hash_p(v))
      fail_msg("%s came in as a %s", cases[i], mrb_obj_classname(mrb, v));
    mrb_gc_arena_restore(mrb, ai);
    round_trip(*state, cases[i]);
  }
}

/* The header: "every JSON value round-trips exactly". A "$bytes" object
 * whose bytes happen to be UTF-8 is a JSON value too. */
/* The documented exception to round trips: bytes that are valid UTF-8
 * come back as a plain string. */
static void test_bytes_utf8_payload_round_trips(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  static const char *const cases[][2] = {{"{\"$bytes\": \"aGk=\"}", "\"hi\""},
                                         {"{\"$bytes\": \"\"}", "\"\""}};
  for (size_t i = 0; i < 2; i++) {
    json_t *in = json_loads(cases[i][0], 0, NULL), *out = NULL;
    rt_error err = {0};
    mrb_value v;
    int ai = mrb_gc_arena_save(mrb);
    assert_int_equal(rt_json_to_value(mrb, in, &v, &err), 0);
    assert_int_equal(rt_value_to_json(mrb, v, &out, &err), 0);
    char *t = json_dumps(out, JSON_ENCODE_ANY);
    assert_string_equal(t, cases[i][1]);
    free(t);
    json_decref(in);
    json_decref(out);
    mrb_gc_arena_restore(mrb, ai);
  }
}

static void test_endpoint_tagged(void **state) {
  mrb_state *mrb = rt_vm_mrb(*state);
  rt_error err = {0};
  int ai = mrb_gc_arena_save(mrb);
  assert_string_equal(to_json_text(*state, "M31::Endpoint.new('n-abc')", &err),
                      "{\"$endpoint\":\"n-abc\"}");
  assert_string_equal(
      to_json_text(*state,
                   "[M31::Endpoint.new('x', 'n-7'), {e: M31::Pair.of("
                   "M31::Endpoint.new('s'), M31::Endpoint.new('r'))}]",
                   &err),
      "[{\"$endpoint\":\"x\"},{\"e\":[{\"$endpoint\":\"s\"},"
      "{\"$endpoint\":\"r\"}]}]");
  mrb_value v = from_text(mrb, "{\"$endpoint\": \"n-1\"}");
  assert_string_equal(mrb_obj_classname(mrb, v), "M31::Endpoint");
  mrb_value id = mrb_funcall(mrb, v, "id", 0);
  assert_null(mrb->exc);
  assert_bytes(id, "n-1", 3);
  assert_string_equal(to_text(mrb, v), "{\"$endpoint\":\"n-1\"}");
  /* nested, and next to bytes */
  v = from_text(mrb,
                "{\"a\": [{\"$endpoint\": \"n-2\"}, {\"$bytes\": \"/w==\"}]}");
  mrb_value a = mrb_hash_get(mrb, v, mrb_str_new_lit(mrb, "a"));
  assert_string_equal(mrb_obj_classname(mrb, mrb_ary_ref(mrb, a, 0)),
                      "M31::Endpoint");
  assert_bytes(mrb_ary_ref(mrb, a, 1), "\xff", 1);
  round_trip(*state,
             "{\"a\": [{\"$endpoint\": \"n-2\"}, {\"$bytes\": \"/w==\"}]}");
  round_trip(*state, "{\"$endpoint\": \"\"}");
  mrb_gc_arena_restore(mrb, ai);
  rt_error_clear(&err);
}

static void test_endpoint_errors(void **state) {
  rt_error err = {0};
  /* an Endpoint without a String id does not convert */
  const char *r = to_json_text(*state, "[M31::Endpoint.allocate]", &err);
  assert_string_equal(r, "!TypeError: value[0]: an Endpoint without an id");
  /* nor does one whose id is not UTF-8: a TypeError, never a quiet drop */
  r = to_json_text(*state, "M31::Endpoint.new(\"\\xff\")", &err);
  if (strncmp(r, "!TypeError: value", 17) != 0)
    fail_msg("an Endpoint with a non-UTF-8 id gave %s", r);
  r = to_json_text(*state, "{a: M31::Endpoint.new(\"\\xff\"), b: 1}", &err);
  if (strncmp(r, "!TypeError: value.a", 19) != 0)
    fail_msg("a Hash holding an Endpoint with a non-UTF-8 id gave %s", r);
  rt_error_clear(&err);
}

/* Before (or without) M31::Endpoint, {"$endpoint": id} is a plain Hash. */
static void test_endpoint_without_class(void **state) {
  rt_vm *vm = rt_vm_new(0);
  rt_error err = {0};
  json_t *out = NULL;
  (void)state;
  assert_non_null(vm);
  const char *src = "M31.send(:remove_const, :Endpoint); 1";
  assert_int_equal(rt_vm_eval(vm, src, strlen(src), "t.rb", &out, &err), 0);
  json_decref(out);
  mrb_state *mrb = rt_vm_mrb(vm);
  mrb_value v = from_text(mrb, "{\"$endpoint\": \"n-1\"}");
  assert_true(mrb_hash_p(v));
  assert_string_equal(to_text(mrb, v), "{\"$endpoint\":\"n-1\"}");
  rt_vm_free(vm);
}

/* rt_json_to_value "never raises": a fibril that redefines
 * Endpoint#initialize to raise must get -1 (or a value), not a raise
 * across C. Run in a child: an unprotected raise aborts the process. */
static void test_endpoint_initialize_raises(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    rt_vm *vm = rt_vm_new(0);
    rt_error err = {0};
    json_t *out = NULL, *in = json_pack("{s:s}", "$endpoint", "n-1");
    mrb_value v;
    const char *src =
        "class M31::Endpoint; def initialize(*a) raise 'boom' end; end; 1";
    if (!vm || rt_vm_eval(vm, src, strlen(src), "t.rb", &out, &err) != 0)
      _exit(3);
    mrb_state *mrb = rt_vm_mrb(vm);
    int rc = rt_json_to_value(mrb, in, &v, &err);
    /* either it converted and left no exception pending, or it failed
     * with the error named */
    _exit((rc == 0 && !mrb->exc) || (rc != 0 && err.klass[0]) ? 0 : 4);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (!WIFEXITED(st))
    fail_msg("rt_json_to_value raised across C: the process died of signal %d",
             WTERMSIG(st));
  assert_int_equal(WEXITSTATUS(st), 0);
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
      cmocka_unit_test(test_bytes_tagged),
      cmocka_unit_test(test_bytes_random_round_trip),
      cmocka_unit_test(test_bytes_lookalikes),
      cmocka_unit_test(test_bytes_utf8_payload_round_trips),
      cmocka_unit_test(test_endpoint_tagged),
      cmocka_unit_test(test_endpoint_errors),
      cmocka_unit_test(test_endpoint_without_class),
      cmocka_unit_test(test_endpoint_initialize_raises),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
