/*
 * Unit tests for server/cors.c: which --cors-origin values are accepted,
 * which Origins a list allows, the headers of an answer and of a
 * preflight, and the flag and variable in config_parse. The .c is
 * included to reach its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/cors.c"

static void test_lists_accepted(void **state) {
  static const char *const ok[] = {
      "",
      "*",
      "https://app.example",
      "http://localhost:3000",
      "https://a.example, http://b.example:8080",
      " https://a.example ,https://b.example ",
      "http://127.0.0.1:8031",
      "http://[::1]:8031",
      "app+x://host",
  };
  char why[160];

  (void)state;
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    assert_int_equal(cors_list_check(ok[i], why, sizeof why), 0);
}

static void test_lists_refused(void **state) {
  static const char *const bad[] = {
      "x",
      "null",
      "https://",
      "https://a.example/",
      "https://a.example/path",
      "https://a.example:",
      "https://a.example:123456",
      "a.example",
      "*, https://a.example",
      "https://a.example,,https://b.example",
      "https://a.example,",
      "https://a b.example",
      "http://[::1",
      "http://[]",
      "1http://a.example",
  };
  char why[160];

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    why[0] = '\0';
    if (cors_list_check(bad[i], why, sizeof why) != -1)
      fail_msg("accepted %s", bad[i]);
    assert_true(why[0] != '\0');
  }
}

static void test_origin_matching(void **state) {
  const char *list = "https://a.example, http://localhost:3000";

  (void)state;
  assert_true(cors_origin_allowed(list, "https://a.example"));
  assert_true(cors_origin_allowed(list, "http://localhost:3000"));
  assert_true(cors_origin_allowed(list, "HTTPS://A.EXAMPLE"));
  assert_false(cors_origin_allowed(list, "https://a.example:443"));
  assert_false(cors_origin_allowed(list, "http://a.example"));
  assert_false(cors_origin_allowed(list, "https://a.example.evil"));
  assert_false(cors_origin_allowed(list, "https://evil.a.example"));
  assert_false(cors_origin_allowed(list, "http://localhost"));
  assert_false(cors_origin_allowed(list, "http://localhost:30000"));
  assert_false(cors_origin_allowed(list, "null"));
  assert_false(cors_origin_allowed(list, ""));
  assert_false(cors_origin_allowed(list, NULL));
  assert_true(cors_origin_allowed("*", "https://any.example"));
  assert_true(cors_origin_allowed("*", "null"));
  assert_false(cors_origin_allowed("*", NULL));
  assert_false(cors_origin_allowed("", "https://a.example"));
  assert_false(cors_origin_allowed(NULL, "https://a.example"));
}

/* The value of header name in resp, or NULL. */
static const char *hdr(struct MHD_Response *resp, const char *name) {
  return MHD_get_response_header(resp, name);
}

static struct MHD_Response *resp_new(void) {
  return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
}

static void test_answer_headers(void **state) {
  struct MHD_Response *resp = resp_new();

  (void)state;
  /* off: nothing at all */
  answer_add(resp, "", "https://a.example");
  assert_null(hdr(resp, "Vary"));
  assert_null(hdr(resp, "Access-Control-Allow-Origin"));
  MHD_destroy_response(resp);

  /* a listed origin is echoed, with the exposed headers */
  resp = resp_new();
  answer_add(resp, "https://a.example,https://b.example", "https://b.example");
  assert_string_equal(hdr(resp, "Access-Control-Allow-Origin"),
                      "https://b.example");
  assert_string_equal(hdr(resp, "Vary"), "Origin");
  assert_non_null(strstr(hdr(resp, "Access-Control-Expose-Headers"), "ETag"));
  assert_non_null(
      strstr(hdr(resp, "Access-Control-Expose-Headers"), "Location"));
  assert_non_null(
      strstr(hdr(resp, "Access-Control-Expose-Headers"), "M31-Keys-Read"));
  assert_null(hdr(resp, "Access-Control-Allow-Credentials"));
  MHD_destroy_response(resp);

  /* another origin: only Vary */
  resp = resp_new();
  answer_add(resp, "https://a.example", "https://c.example");
  assert_string_equal(hdr(resp, "Vary"), "Origin");
  assert_null(hdr(resp, "Access-Control-Allow-Origin"));
  assert_null(hdr(resp, "Access-Control-Expose-Headers"));
  MHD_destroy_response(resp);

  /* "*" answers *, whatever the origin; no Origin, no CORS */
  resp = resp_new();
  answer_add(resp, "*", "https://c.example");
  assert_string_equal(hdr(resp, "Access-Control-Allow-Origin"), "*");
  MHD_destroy_response(resp);
  resp = resp_new();
  answer_add(resp, "*", NULL);
  assert_null(hdr(resp, "Access-Control-Allow-Origin"));
  MHD_destroy_response(resp);
}

/* The value of the response header name queued on r, or NULL. */
static const char *req_hdr_value(const m31_req *r, const char *name) {
  for (size_t i = 0; i < r->nhdrs; i++)
    if (strcasecmp(r->hdrs[i].name, name) == 0) return r->hdrs[i].value;
  return NULL;
}

static void test_preflight_headers(void **state) {
  const char *list = "https://a.example";
  m31_req *r = req_new("/fs/x");

  (void)state;
  snprintf(r->match.allow, sizeof r->match.allow, "%s",
           "PUT, GET, HEAD, DELETE, OPTIONS");
  preflight_add(r, list, "https://a.example", "PUT");
  assert_string_equal(req_hdr_value(r, "Access-Control-Allow-Methods"),
                      "PUT, GET, HEAD, DELETE, OPTIONS");
  assert_non_null(
      strstr(req_hdr_value(r, "Access-Control-Allow-Headers"), "If-Match"));
  assert_non_null(strstr(req_hdr_value(r, "Access-Control-Allow-Headers"),
                         "Last-Event-ID"));
  assert_string_equal(req_hdr_value(r, "Access-Control-Max-Age"), "600");
  req_free(r);

  /* not a preflight, another origin, CORS off: nothing */
  const char *cases[][3] = {{list, "https://a.example", NULL},
                            {list, "https://b.example", "PUT"},
                            {"", "https://a.example", "PUT"},
                            {list, NULL, "PUT"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    r = req_new("/fs/x");
    preflight_add(r, cases[i][0], cases[i][1], cases[i][2]);
    assert_int_equal(r->nhdrs, 0);
    req_free(r);
  }
}

static const char *env_cors(const char *name) {
  return strcmp(name, "M31_CORS_ORIGIN") == 0 ? "https://env.example" : NULL;
}

static void test_config_flag_and_variable(void **state) {
  m31_config cfg;
  char err[256];
  char *flag[] = {"--cors-origin", "https://a.example,http://b.example:81"};
  char *star[] = {"--cors-origin=*"};
  char *bad[] = {"--cors-origin", "https://a.example/"};
  char *empty[] = {"--cors-origin", ""};

  (void)state;
  assert_int_equal(config_parse(&cfg, 0, NULL, NULL, err, sizeof err),
                   CONFIG_OK);
  assert_string_equal(cfg.cors_origin, "");
  assert_int_equal(config_parse(&cfg, 2, flag, NULL, err, sizeof err),
                   CONFIG_OK);
  assert_string_equal(cfg.cors_origin, "https://a.example,http://b.example:81");
  assert_int_equal(config_parse(&cfg, 1, star, NULL, err, sizeof err),
                   CONFIG_OK);
  assert_string_equal(cfg.cors_origin, "*");
  assert_int_equal(config_parse(&cfg, 0, NULL, env_cors, err, sizeof err),
                   CONFIG_OK);
  assert_string_equal(cfg.cors_origin, "https://env.example");
  assert_int_equal(config_parse(&cfg, 2, flag, env_cors, err, sizeof err),
                   CONFIG_OK); /* the flag wins */
  assert_string_equal(cfg.cors_origin, "https://a.example,http://b.example:81");
  assert_int_equal(config_parse(&cfg, 2, empty, env_cors, err, sizeof err),
                   CONFIG_OK); /* an empty flag turns it off */
  assert_string_equal(cfg.cors_origin, "");
  assert_int_equal(config_parse(&cfg, 2, bad, NULL, err, sizeof err),
                   CONFIG_ERROR);
  assert_non_null(strstr(err, "--cors-origin"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_accepted),
      cmocka_unit_test(test_lists_refused),
      cmocka_unit_test(test_origin_matching),
      cmocka_unit_test(test_answer_headers),
      cmocka_unit_test(test_preflight_headers),
      cmocka_unit_test(test_config_flag_and_variable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
