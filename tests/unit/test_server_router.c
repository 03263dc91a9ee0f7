/*
 * Unit tests for server/router.c: template captures, 404 against 405 with
 * the Allow list, HEAD as GET, OPTIONS. Uses its own table, so the test does
 * not depend on the resources' routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/router.c"

static void h(m31_req *r) { (void)r; }

static const route table[] = {
    {"GET", "/fs", h, "fs_spaces"},
    {"PUT", "/fs/{space}", h, "fs_space"},
    {"GET", "/fs/{space}", h, "fs_space"},
    {"DELETE", "/fs/{space}", h, "fs_space"},
    {"GET", "/fs/{space}/{key}", h, "fs_object"},
    {"PATCH", "/fs/{space}/{key}", h, "fs_object"},
    {"GET", "/fs/{space}/{key}/versions", h, "fs_versions"},
    {"POST", "/fs/{space}/{key}/branches", h, "fs_branches"},
    {"GET", "/sys/health", h, "sys_health"},
    {NULL, NULL, NULL, NULL},
};

/* Splits "a/b/c" (no leading '/') into the segments uri_parse would make. */
static int match(const char *method, const char *path, route_match *m) {
  static char buf[256];
  static char *segs[16];
  size_t n = 0;

  snprintf(buf, sizeof buf, "%s", path + 1);
  segs[n++] = buf;
  for (char *p = buf; *p; p++)
    if (*p == '/') {
      *p = '\0';
      segs[n++] = p + 1;
    }
  return router_match(table, method, segs, n, m);
}

static void test_literal_and_captures(void **state) {
  route_match m;

  (void)state;
  assert_int_equal(match("GET", "/fs", &m), ROUTE_FOUND);
  assert_string_equal(m.route->name, "fs_spaces");
  assert_int_equal(m.nparams, 0);

  assert_int_equal(match("PATCH", "/fs/words/pi", &m), ROUTE_FOUND);
  assert_string_equal(m.route->pattern, "/fs/{space}/{key}");
  assert_int_equal(m.nparams, 2);
  assert_string_equal(m.params[0], "words");
  assert_string_equal(m.params[1], "pi");

  assert_int_equal(match("POST", "/fs/w/k/branches", &m), ROUTE_FOUND);
  assert_string_equal(m.route->name, "fs_branches");
}

static void test_decoded_slash_stays_one_capture(void **state) {
  char s0[] = "fs", s1[] = "a/b";
  char *segs[] = {s0, s1};
  route_match m;

  (void)state;
  assert_int_equal(router_match(table, "GET", segs, 2, &m), ROUTE_FOUND);
  assert_string_equal(m.route->name, "fs_space");
  assert_string_equal(m.params[0], "a/b");
}

static void test_empty_segment_is_captured(void **state) {
  route_match m;

  (void)state;
  /* The resource answers 400 naming the empty name, not a vague 404. */
  assert_int_equal(match("GET", "/fs/", &m), ROUTE_FOUND);
  assert_string_equal(m.params[0], "");
  assert_int_equal(match("PATCH", "/fs//k", &m), ROUTE_FOUND);
  assert_string_equal(m.params[0], "");
  assert_string_equal(m.params[1], "k");
}

static void test_not_found(void **state) {
  route_match m;

  (void)state;
  assert_int_equal(match("GET", "/nope", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match("GET", "/fs/a/b/c/d", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match("GET", "/fsx", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match("GET", "/sys", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match("DELETE", "/nope", &m), ROUTE_NOT_FOUND);
  assert_string_equal(m.allow, "");
}

static void test_method_not_allowed_lists_allow(void **state) {
  route_match m;

  (void)state;
  assert_int_equal(match("POST", "/fs/w", &m), ROUTE_BAD_METHOD);
  assert_null(m.route);
  assert_string_equal(m.allow, "PUT, GET, HEAD, DELETE, OPTIONS");
  assert_int_equal(match("DELETE", "/sys/health", &m), ROUTE_BAD_METHOD);
  assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
  assert_int_equal(match("GET", "/fs/w/k/branches", &m), ROUTE_BAD_METHOD);
  assert_string_equal(m.allow, "POST, OPTIONS");
}

static void test_head_and_options(void **state) {
  route_match m;

  (void)state;
  assert_int_equal(match("HEAD", "/fs/w/k", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method, "GET");
  assert_int_equal(match("OPTIONS", "/fs/w/k", &m), ROUTE_OPTIONS);
  assert_string_equal(m.allow, "GET, HEAD, PATCH, OPTIONS");
  assert_int_equal(match("OPTIONS", "/nope", &m), ROUTE_NOT_FOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literal_and_captures),
      cmocka_unit_test(test_decoded_slash_stays_one_capture),
      cmocka_unit_test(test_empty_segment_is_captured),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_method_not_allowed_lists_allow),
      cmocka_unit_test(test_head_and_options),
  };
  return cmocka_run_group_tests_name("server_router", tests, NULL, NULL);
}
