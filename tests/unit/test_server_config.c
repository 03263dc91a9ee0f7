/*
 * Unit tests for server/config.c: defaults, flags, environment variables,
 * precedence and the messages for bad values. The .c is included to reach
 * its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "server/config.c"

/* A fake environment: pairs of name, value. */
static const char *const *fake_env;

static const char *env_lookup(const char *name) {
  for (size_t i = 0; fake_env && fake_env[i]; i += 2)
    if (strcmp(fake_env[i], name) == 0) return fake_env[i + 1];
  return NULL;
}

static int parse(m31_config *cfg, const char *const *env, int argc,
                 const char **argv, char *err) {
  fake_env = env;
  return config_parse(cfg, argc, (char *const *)argv, env_lookup, err, 256);
}

static void test_defaults_match_readme(void **state) {
  m31_config cfg;
  char err[256];

  (void)state;
  assert_int_equal(parse(&cfg, NULL, 0, NULL, err), CONFIG_OK);
  assert_int_equal(cfg.port, 8031);
  assert_string_equal(cfg.bind, "127.0.0.1");
  assert_string_equal(cfg.data, "./m31-data");
  assert_string_equal(cfg.node, "");
  assert_int_equal(cfg.log_level, LOG_INFO);
  assert_int_equal(cfg.max_body, 8388608);
  assert_int_equal(cfg.threads, 0);
  assert_int_equal(cfg.conn_per_ip, 64);
  assert_int_equal(cfg.conn_timeout, 30);
  assert_int_equal(cfg.request_timeout, 60);
}

static void test_flags_both_forms(void **state) {
  const char *argv[] = {"--port",
                        "0",
                        "--bind=::1",
                        "--data",
                        "/tmp/x",
                        "--node=E3",
                        "--log-level",
                        "debug",
                        "--max-body=10",
                        "--threads",
                        "4",
                        "--conn-per-ip",
                        "0",
                        "--conn-timeout=5",
                        "--request-timeout",
                        "7"};
  m31_config cfg;
  char err[256];

  (void)state;
  assert_int_equal(parse(&cfg, NULL, 16, argv, err), CONFIG_OK);
  assert_int_equal(cfg.port, 0);
  assert_string_equal(cfg.bind, "::1");
  assert_string_equal(cfg.data, "/tmp/x");
  assert_string_equal(cfg.node, "E3");
  assert_int_equal(cfg.log_level, LOG_DEBUG);
  assert_int_equal(cfg.max_body, 10);
  assert_int_equal(cfg.threads, 4);
  assert_int_equal(cfg.conn_per_ip, 0);
  assert_int_equal(cfg.conn_timeout, 5);
  assert_int_equal(cfg.request_timeout, 7);
}

static void test_env_and_flag_precedence(void **state) {
  const char *const env[] = {
      "M31_PORT", "9000",     "M31_DATA", "/env/data", "M31_LOG_LEVEL",
      "warn",     "M31_BIND", "",         NULL};
  const char *argv[] = {"--port", "9001"};
  m31_config cfg;
  char err[256];

  (void)state;
  assert_int_equal(parse(&cfg, env, 2, argv, err), CONFIG_OK);
  assert_int_equal(cfg.port, 9001);           /* the flag wins */
  assert_string_equal(cfg.data, "/env/data"); /* the variable is read */
  assert_int_equal(cfg.log_level, LOG_WARN);
  assert_string_equal(cfg.bind, "127.0.0.1"); /* empty = unset */
}

static void test_help(void **state) {
  const char *argv[] = {"--port", "1", "--help"};
  m31_config cfg;
  char err[256];

  (void)state;
  assert_int_equal(parse(&cfg, NULL, 3, argv, err), CONFIG_HELP);
}

static void expect_error(const char *const *env, int argc, const char **argv,
                         const char *needle) {
  m31_config cfg;
  char err[256] = "";

  assert_int_equal(parse(&cfg, env, argc, argv, err), CONFIG_ERROR);
  if (!strstr(err, needle)) fail_msg("'%s' does not mention '%s'", err, needle);
}

static void test_bad_values(void **state) {
  const char *port[] = {"--port", "65536"};
  const char *neg[] = {"--port=-1"};
  const char *junk[] = {"--threads", "4x"};
  const char *bind[] = {"--bind", "localhost"};
  const char *node[] = {"--node", "a/b"};
  const char *level[] = {"--log-level", "loud"};
  const char *body[] = {"--max-body", "0"};
  const char *timeout[] = {"--conn-timeout", "0"};
  const char *missing[] = {"--port"};
  const char *unknown[] = {"--colour", "red"};
  const char *positional[] = {"extra"};
  const char *empty_data[] = {"--data="};
  const char *const env[] = {"M31_MAX_BODY", "lots", NULL};

  (void)state;
  expect_error(NULL, 2, port, "--port");
  expect_error(NULL, 1, neg, "--port");
  expect_error(NULL, 2, junk, "--threads");
  expect_error(NULL, 2, bind, "IPv4 or IPv6");
  expect_error(NULL, 2, node, "node id");
  expect_error(NULL, 2, level, "error, warn, info or debug");
  expect_error(NULL, 2, body, "--max-body");
  expect_error(NULL, 2, timeout, "--conn-timeout");
  expect_error(NULL, 1, missing, "needs a value");
  expect_error(NULL, 2, unknown, "unknown flag");
  expect_error(NULL, 1, positional, "unknown flag");
  expect_error(NULL, 1, empty_data, "--data");
  expect_error(env, 0, NULL, "M31_MAX_BODY");
}

static void test_long_data_dir_is_refused(void **state) {
  char longdir[1100];
  const char *argv[] = {"--data", longdir};

  (void)state;
  memset(longdir, 'd', sizeof longdir - 1);
  longdir[sizeof longdir - 1] = '\0';
  expect_error(NULL, 2, argv, "too long");
}

static void test_number_parse_overflow(void **state) {
  unsigned long long v;

  (void)state;
  assert_int_equal(number_parse("18446744073709551615", 0, ~0ull, &v), 0);
  assert_int_equal(number_parse("18446744073709551616", 0, ~0ull, &v), -1);
  assert_int_equal(number_parse("", 0, 10, &v), -1);
  assert_int_equal(number_parse(" 1", 0, 10, &v), -1);
  assert_int_equal(number_parse("+1", 0, 10, &v), -1);
}

static void test_usage_lists_every_flag(void **state) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  (void)state;
  config_usage(f);
  fclose(f);
  for (size_t i = 0; i < NOPTS; i++) {
    assert_non_null(strstr(text, opts[i].flag));
    assert_non_null(strstr(text, opts[i].env));
  }
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_match_readme),
      cmocka_unit_test(test_flags_both_forms),
      cmocka_unit_test(test_env_and_flag_precedence),
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_long_data_dir_is_refused),
      cmocka_unit_test(test_number_parse_overflow),
      cmocka_unit_test(test_usage_lists_every_flag),
  };
  return cmocka_run_group_tests_name("server_config", tests, NULL, NULL);
}
