/*
 * Unit tests for server/request.c: query accessors, the JSON media types,
 * and the nesting scan that runs before jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/request.c"

static void test_content_types(void **state) {
  (void)state;
  assert_true(req_content_type_is_json("application/json"));
  assert_true(req_content_type_is_json("Application/JSON; charset=utf-8"));
  assert_true(req_content_type_is_json(" application/json ;charset=UTF-8"));
  assert_true(req_content_type_is_json("application/merge-patch+json"));
  assert_true(req_content_type_is_json("application/problem+json; x=y"));
  assert_false(req_content_type_is_json(NULL));
  assert_false(req_content_type_is_json(""));
  assert_false(req_content_type_is_json("text/plain"));
  assert_false(req_content_type_is_json("application/x-www-form-urlencoded"));
  assert_false(req_content_type_is_json("application/jsonx"));
  assert_false(req_content_type_is_json("+json"));
  assert_false(req_content_type_is_json("application/+json"));
}

static void test_query_accessors(void **state) {
  m31_req *r = req_new("/fs/w?a=1&b&a=2");
  const char *why, *n, *v;

  (void)state;
  assert_int_equal(uri_parse(r->raw_uri, &r->uri, &why), 0);
  assert_string_equal(req_path(r), "/fs/w");
  assert_string_equal(req_query(r, "a"), "1");
  assert_string_equal(req_query(r, "b"), "");
  assert_null(req_query(r, "c"));
  assert_int_equal(req_query_count(r), 3);
  req_query_at(r, 2, &n, &v);
  assert_string_equal(n, "a");
  assert_string_equal(v, "2");
  assert_null(req_param(r, 0));
  req_free(r);
}

static void test_depth_scan(void **state) {
  char deep[200];
  int line, col;

  (void)state;
  memset(deep, '[', 65);
  deep[65] = '\0';
  assert_int_equal(json_too_deep(deep, 64, &line, &col), 0);
  assert_int_equal(json_too_deep(deep, 65, &line, &col), 1);
  assert_int_equal(line, 1);
  assert_int_equal(col, 65);
  /* brackets inside strings do not count */
  snprintf(
      deep, sizeof deep, "{\"a\\\"[[[[\": \"%s\"}",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
  assert_int_equal(json_too_deep(deep, strlen(deep), &line, &col), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_types),
      cmocka_unit_test(test_query_accessors),
      cmocka_unit_test(test_depth_scan),
  };
  return cmocka_run_group_tests_name("server_request", tests, NULL, NULL);
}
