/*
 * Unit tests for cli/print.c: a failed answer as one line ("Not Found: no
 * object pi in space words"), and bodies printed pretty or as they came.
 * The .c is included to reach its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/print.c"

static cli_resp resp(long status, const char *ctype, const char *body) {
  cli_resp r = {0};
  r.status = status;
  r.body = (char *)body;
  r.len = strlen(body);
  snprintf(r.ctype, sizeof r.ctype, "%s", ctype);
  return r;
}

static void problem_is(long status, const char *body, const char *want) {
  char out[256];
  cli_resp r = resp(status, "application/problem+json", body);
  cli_problem_format(out, sizeof out, &r);
  assert_string_equal(out, want);
}

static void test_problem_title_and_detail(void **state) {
  (void)state;
  problem_is(404,
             "{\"type\":\"https://m31.dev/problems/not-found\",\"title\":"
             "\"Not Found\",\"status\":404,\"detail\":\"no object pi in "
             "space words\",\"field\":\"key\"}",
             "Not Found: no object pi in space words");
  problem_is(422, "{\"title\":\"Unprocessable Content\",\"detail\":\"\"}",
             "Unprocessable Content");
  problem_is(410, "{\"title\":\"Gone\"}", "Gone");
  problem_is(500, "{\"detail\":\"disk on fire\"}", "HTTP 500: disk on fire");
}

static void test_problem_not_json(void **state) {
  (void)state;
  problem_is(414, "<html><body>URI too long</body></html>",
             "HTTP 414: <html><body>URI too long</body></html>");
  problem_is(400, "first line\nsecond line", "HTTP 400: first line...");
  problem_is(503, "", "HTTP 503");
  problem_is(409, "[1,2]", "HTTP 409: [1,2]");
}

static void test_problem_long_body_cut(void **state) {
  char big[1000], out[512];
  (void)state;
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cli_resp r = resp(502, "text/plain", big);
  cli_problem_format(out, sizeof out, &r);
  assert_int_equal(strlen(out), strlen("HTTP 502: ") + 160 + 3);
  /* a tiny buffer is still NUL-terminated */
  cli_problem_format(out, 8, &r);
  assert_string_equal(out, "HTTP 50");
}

/* What cli_body_print wrote, in a static buffer. */
static const char *printed(const cli_resp *r, int pretty) {
  static char buf[512];
  FILE *f = tmpfile();
  assert_non_null(f);
  cli_body_print(f, r, pretty);
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void test_body_pretty_or_as_is(void **state) {
  (void)state;
  cli_resp r = resp(200, "application/json", "{\"a\":[1,2],\"b\":\"x\"}");
  assert_string_equal(printed(&r, 0), "{\"a\":[1,2],\"b\":\"x\"}");
  assert_string_equal(
      printed(&r, 1),
      "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}\n");
  cli_resp n = resp(200, "application/json", "42");
  assert_string_equal(printed(&n, 1), "42\n");
  cli_resp t = resp(200, "text/plain", "m31_up 1");
  assert_string_equal(printed(&t, 0), "m31_up 1");
  assert_string_equal(printed(&t, 1), "m31_up 1\n");
  cli_resp e = resp(204, "", "");
  assert_string_equal(printed(&e, 1), "");
}

static void test_headers_without_cr(void **state) {
  char buf[128];
  cli_resp r = {0};
  FILE *f = tmpfile();
  (void)state;
  r.headers = "HTTP/1.1 200 OK\r\nETag: \"1\"\r\n\r\n";
  r.hlen = strlen(r.headers);
  cli_headers_print(f, &r);
  rewind(f);
  buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
  fclose(f);
  assert_string_equal(buf, "HTTP/1.1 200 OK\nETag: \"1\"\n\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_problem_title_and_detail),
      cmocka_unit_test(test_problem_not_json),
      cmocka_unit_test(test_problem_long_body_cut),
      cmocka_unit_test(test_body_pretty_or_as_is),
      cmocka_unit_test(test_headers_without_cr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
