/*
 * Unit tests for server/reply.c: the problem document's shape, its type slug
 * and title, client text that is not UTF-8, and the answer kept on the
 * request (status, body size, one answer only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/reply.c"

static void test_problem_shape(void **state) {
  json_t *p = reply_problem_new(422, "attrs.freq", "attrs.freq must be an Int");
  const char *k;
  json_t *v;
  size_t n = 0;

  (void)state;
  assert_string_equal(json_string_value(json_object_get(p, "type")),
                      "https://m31.dev/problems/unprocessable-content");
  assert_string_equal(json_string_value(json_object_get(p, "title")),
                      "Unprocessable Content");
  assert_int_equal(json_integer_value(json_object_get(p, "status")), 422);
  assert_string_equal(json_string_value(json_object_get(p, "detail")),
                      "attrs.freq must be an Int");
  assert_string_equal(json_string_value(json_object_get(p, "field")),
                      "attrs.freq");
  json_object_foreach(p, k, v) n++;
  assert_int_equal(n, 5);
  json_decref(p);

  p = reply_problem_new(404, NULL, "gone");
  assert_null(json_object_get(p, "field"));
  assert_string_equal(json_string_value(json_object_get(p, "type")),
                      "https://m31.dev/problems/not-found");
  json_decref(p);
}

static void test_titles_and_slugs(void **state) {
  static const struct {
    int status;
    const char *title, *slug;
  } cases[] = {
      {400, "Bad Request", "bad-request"},
      {405, "Method Not Allowed", "method-not-allowed"},
      {412, "Precondition Failed", "precondition-failed"},
      {413, "Content Too Large", "content-too-large"},
      {415, "Unsupported Media Type", "unsupported-media-type"},
      {431, "Request Header Fields Too Large",
       "request-header-fields-too-large"},
      {500, "Internal Server Error", "internal-server-error"},
  };
  char slug[64];

  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    assert_string_equal(reply_reason(cases[i].status), cases[i].title);
    slug_format(cases[i].title, slug, sizeof slug);
    assert_string_equal(slug, cases[i].slug);
  }
}

static void test_detail_that_is_not_utf8(void **state) {
  json_t *p = reply_problem_new(400, "k\xff", "bad \xc3 name");

  (void)state;
  assert_non_null(p);
  assert_string_equal(json_string_value(json_object_get(p, "detail")),
                      "bad \\xc3 name");
  assert_string_equal(json_string_value(json_object_get(p, "field")), "k\\xff");
  json_decref(p);
}

static void test_answer_is_kept_once(void **state) {
  m31_req *r = req_new("/x?fmt=ruby");
  const char *why;

  (void)state;
  assert_int_equal(uri_parse(r->raw_uri, &r->uri, &why), 0);
  reply_header(r, "ETag", "\"1\"");
  reply_json(r, 200, json_pack("{s:i}", "a", 1));
  assert_int_equal(r->status, 200);
  assert_int_equal(r->resp_bytes, strlen("{\"a\" => 1}\n"));
  reply_problem(r, 500, NULL, "second answer is ignored");
  assert_int_equal(r->status, 200);
  req_free(r);

  r = req_new("/x");
  reply_problem(r, 409, "name", "exists");
  assert_int_equal(r->status, 409);
  assert_non_null(r->resp);
  req_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_problem_shape),
      cmocka_unit_test(test_titles_and_slugs),
      cmocka_unit_test(test_detail_that_is_not_utf8),
      cmocka_unit_test(test_answer_is_kept_once),
  };
  return cmocka_run_group_tests_name("server_reply", tests, NULL, NULL);
}
