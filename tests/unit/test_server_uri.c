/*
 * Unit tests for server/uri.c: percent-decoding, path segments (a decoded
 * '/' stays inside its segment), query parameters, and the targets refused
 * (%00, bad escapes, control bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/uri.c"

static void test_decode(void **state) {
  char *out;

  (void)state;
  assert_int_equal(uri_decode("a%20b%2Fc%c3%A9", 15, 0, &out), 0);
  assert_string_equal(out, "a b/c\xc3\xa9");
  free(out);
  assert_int_equal(uri_decode("a+b", 3, 0, &out), 0);
  assert_string_equal(out, "a+b");
  free(out);
  assert_int_equal(uri_decode("a+b%2B", 6, 1, &out), 0);
  assert_string_equal(out, "a b+");
  free(out);
}

static void test_decode_refuses(void **state) {
  static const char *const bad[] = {"%00", "a%0", "a%", "%zz", "%g1", "x%00y"};
  char *out = NULL;

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(uri_decode(bad[i], strlen(bad[i]), 0, &out), -1);
  assert_null(out);
}

static void test_segments(void **state) {
  uri_parts p;
  const char *why;

  (void)state;
  assert_int_equal(uri_parse("/fs/a%2Fb/%2e%2e", &p, &why), 0);
  assert_int_equal(p.nsegs, 3);
  assert_string_equal(p.segs[0], "fs");
  assert_string_equal(p.segs[1], "a/b");
  assert_string_equal(p.segs[2], "..");
  assert_int_equal(p.nq, 0);
  uri_parts_free(&p);

  assert_int_equal(uri_parse("/", &p, &why), 0);
  assert_int_equal(p.nsegs, 1);
  assert_string_equal(p.segs[0], "");
  uri_parts_free(&p);

  assert_int_equal(uri_parse("/fs/", &p, &why), 0);
  assert_int_equal(p.nsegs, 2);
  assert_string_equal(p.segs[1], "");
  uri_parts_free(&p);
}

static void test_query(void **state) {
  uri_parts p;
  const char *why;

  (void)state;
  assert_int_equal(
      uri_parse("/fs/w?word=pi&&label.x=%22a+b%22&schema&e=&w=a%3Db", &p, &why),
      0);
  assert_int_equal(p.nsegs, 2);
  assert_int_equal(p.nq, 5);
  assert_string_equal(p.qnames[0], "word");
  assert_string_equal(p.qvalues[0], "pi");
  assert_string_equal(p.qnames[1], "label.x");
  assert_string_equal(p.qvalues[1], "\"a b\"");
  assert_string_equal(p.qnames[2], "schema");
  assert_string_equal(p.qvalues[2], "");
  assert_string_equal(p.qnames[3], "e");
  assert_string_equal(p.qvalues[3], "");
  assert_string_equal(p.qvalues[4], "a=b");
  uri_parts_free(&p);
}

static void test_refused_targets(void **state) {
  static const char *const bad[] = {
      "/fs/s/abc%00.json", "/fs?x=%00", "/fs?x%00=1",  "/fs/%",    "/fs/%4",
      "/fs?x=%zz",         "*",         "http://h/fs", "/fs/a\tb", "/fs/a b",
      "/fs/\x7f",          "",
  };
  uri_parts p;
  const char *why = NULL;

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    why = NULL;
    if (uri_parse(bad[i], &p, &why) != -1) fail_msg("accepted '%s'", bad[i]);
    assert_non_null(why);
    assert_int_equal(p.nsegs, 0);
    assert_int_equal(p.nq, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_decode_refuses),
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_refused_targets),
  };
  return cmocka_run_group_tests_name("server_uri", tests, NULL, NULL);
}
