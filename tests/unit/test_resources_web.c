/*
 * Unit tests for resources/web.c: the embedded console's table (every file
 * of web/ is there with its content type and an ETag of its bytes; names
 * match exactly) and the If-None-Match rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "resources/web.c"

static void test_table_has_the_console(void **state) {
  const web_asset *index = web_asset_find("index.html");
  const web_asset *app = web_asset_find("app.js");
  const web_asset *css = web_asset_find("style.css");

  (void)state;
  assert_non_null(index);
  assert_string_equal(index->ctype, "text/html; charset=utf-8");
  assert_true(index->len > 0);
  assert_int_equal(index->bytes[index->len], '\0');
  assert_non_null(strstr(index->bytes, "/web/app.js"));
  assert_non_null(app);
  assert_string_equal(app->ctype, "text/javascript; charset=utf-8");
  assert_non_null(css);
  assert_string_equal(css->ctype, "text/css; charset=utf-8");
  for (const web_asset *a = m31_web_assets; a->name; a++) {
    assert_int_equal(strlen(a->etag), 34); /* quotes and 32 hex digits */
    assert_int_equal(a->etag[0], '"');
    assert_int_equal(a->etag[33], '"');
    assert_int_equal(strspn(a->etag + 1, "0123456789abcdef"), 32);
    assert_null(strchr(a->name, '/'));
    assert_ptr_equal(web_asset_find(a->name), a);
  }
}

static void test_names_match_exactly(void **state) {
  (void)state;
  assert_null(web_asset_find(""));
  assert_null(web_asset_find(".."));
  assert_null(web_asset_find("../web/app.js"));
  assert_null(web_asset_find("app.js/"));
  assert_null(web_asset_find("APP.JS"));
  assert_null(web_asset_find("app"));
}

static void test_if_none_match(void **state) {
  const char *tag = "\"0123456789abcdef0123456789abcdef\"";

  (void)state;
  assert_false(etag_listed(NULL, tag));
  assert_false(etag_listed("", tag));
  assert_true(etag_listed(tag, tag));
  assert_true(etag_listed("*", tag));
  assert_true(etag_listed("W/\"0123456789abcdef0123456789abcdef\"", tag));
  assert_true(etag_listed("\"x\", \"0123456789abcdef0123456789abcdef\"", tag));
  assert_false(etag_listed("\"0123456789abcdef0123456789abcde\"", tag));
  assert_false(etag_listed("\"0123456789abcdef0123456789abcdef0\"", tag));
  assert_false(etag_listed("0123456789abcdef0123456789abcdef", tag));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_has_the_console),
      cmocka_unit_test(test_names_match_exactly),
      cmocka_unit_test(test_if_none_match),
  };
  return cmocka_run_group_tests_name("resources_web", tests, NULL, NULL);
}
