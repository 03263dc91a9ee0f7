/*
 * Unit tests for resources/fs.c's parsing helpers: search conditions, integer
 * parameters and the escaping of Location headers. The .c is included to
 * reach its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "resources/fs.c"

static void test_pred_plain_attribute_is_equality(void **state) {
  store_pred p;
  char *owned = NULL;

  (void)state;
  assert_int_equal(pred_parse("freq", "3", &p, &owned), 0);
  assert_false(p.is_label);
  assert_string_equal(p.name, "freq");
  assert_int_equal(p.op, STORE_OP_EQ);
  assert_string_equal(p.value, "3");
  free(owned);
}

static void test_pred_suffixes_name_the_operator(void **state) {
  static const struct {
    const char *param, *name;
    store_op op;
  } cases[] = {
      {"freq.gt", "freq", STORE_OP_GT},
      {"freq.gte", "freq", STORE_OP_GTE},
      {"freq.lt", "freq", STORE_OP_LT},
      {"freq.lte", "freq", STORE_OP_LTE},
      {"w.prefix", "w", STORE_OP_PREFIX},
      {"w.eq", "w", STORE_OP_EQ},
      {"label.a.b", "a.b", STORE_OP_EQ},
      {"label.a.gt.eq", "a.gt", STORE_OP_EQ},
      {"label.lang", "lang", STORE_OP_EQ},
      {"w.other", "w.other", STORE_OP_EQ},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    store_pred p;
    char *owned = NULL;

    assert_int_equal(pred_parse(cases[i].param, "v", &p, &owned), 0);
    assert_string_equal(p.name, cases[i].name);
    assert_int_equal(p.op, cases[i].op);
    assert_int_equal(p.is_label, strncmp(cases[i].param, "label.", 6) == 0);
    free(owned);
  }
}

static void test_pred_empty_names_are_refused(void **state) {
  store_pred p;
  char *owned = NULL;

  (void)state;
  assert_int_equal(pred_parse("label.", "x", &p, &owned), -1);
  free(owned);
  owned = NULL;
  assert_int_equal(pred_parse(".gt", "x", &p, &owned), -1);
  free(owned);
}

static void test_u64_parse(void **state) {
  uint64_t v;

  (void)state;
  assert_int_equal(u64_parse("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(u64_parse("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(u64_parse("18446744073709551616", &v), -1);
  assert_int_equal(u64_parse("", &v), -1);
  assert_int_equal(u64_parse("-1", &v), -1);
  assert_int_equal(u64_parse("1x", &v), -1);
  assert_int_equal(u64_parse(" 1", &v), -1);
}

static void test_segment_escape(void **state) {
  char *s;

  (void)state;
  s = segment_escape("a b/c%d~é");
  assert_string_equal(s, "a%20b%2Fc%25d~%C3%A9");
  free(s);
}

static void test_reserved_params(void **state) {
  (void)state;
  assert_true(is_reserved_param("limit"));
  assert_true(is_reserved_param("cursor"));
  assert_true(is_reserved_param("fmt"));
  assert_false(is_reserved_param("freq"));
  assert_false(is_reserved_param("label.limit"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pred_plain_attribute_is_equality),
      cmocka_unit_test(test_pred_suffixes_name_the_operator),
      cmocka_unit_test(test_pred_empty_names_are_refused),
      cmocka_unit_test(test_u64_parse),
      cmocka_unit_test(test_segment_escape),
      cmocka_unit_test(test_reserved_params),
  };
  return cmocka_run_group_tests_name("resources_fs", tests, NULL, NULL);
}
