/*
 * Unit tests for cli/args.c: the command line of the m31 client (commands,
 * flags before and after the command, flags a command does not take, the
 * number of arguments, help), URL joining and arguments read as JSON. The
 * .c is included to reach its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/args.c"

static char err[256];

/* Parses a NULL-terminated list of arguments after "m31". */
static int parse_env(cli_opts *o, const char *env, const char *a0, ...) {
  const char *argv[32] = {"m31"};
  int argc = 1;
  va_list ap;

  va_start(ap, a0);
  for (const char *a = a0; a && argc < 31; a = va_arg(ap, const char *))
    argv[argc++] = a;
  va_end(ap);
  err[0] = '\0';
  return cli_args_parse(o, argc, (char *const *)argv, env, err, sizeof err);
}

#define parse(o, ...) parse_env(o, NULL, __VA_ARGS__, NULL)

static void test_get_uri(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "get", "/fs/words/pi"), 0);
  assert_string_equal(o.cmd->name, "get");
  assert_int_equal(o.npos, 1);
  assert_string_equal(o.pos[0], "/fs/words/pi");
  assert_string_equal(o.url, CLI_URL_DEFAULT);
  assert_int_equal(o.include, 0);
  cli_opts_free(&o);
}

static void test_url_flag_env_and_default(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "--url", "http://a:1", "get", "/x"), 0);
  assert_string_equal(o.url, "http://a:1");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get", "/x", "--url=http://b:2"), 0);
  assert_string_equal(o.url, "http://b:2");
  cli_opts_free(&o);
  assert_int_equal(parse_env(&o, "http://env:3", "get", "/x", NULL), 0);
  assert_string_equal(o.url, "http://env:3");
  cli_opts_free(&o);
  /* the flag wins over M31_URL; an empty M31_URL is the default */
  assert_int_equal(
      parse_env(&o, "http://env:3", "get", "--url", "http://f:4", "/x", NULL),
      0);
  assert_string_equal(o.url, "http://f:4");
  cli_opts_free(&o);
  assert_int_equal(parse_env(&o, "", "get", "/x", NULL), 0);
  assert_string_equal(o.url, CLI_URL_DEFAULT);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get", "/x", "--url"), -1);
  assert_string_equal(err, "--url needs a value");
  cli_opts_free(&o);
}

static void test_include_only_where_taken(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "-i", "rm", "/fs/a/b"), 0);
  assert_int_equal(o.include, 1);
  assert_string_equal(o.cmd->name, "rm");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "ps", "--include"), -1);
  assert_string_equal(err, "--include is not a flag of this command");
  assert_non_null(o.cmd); /* so its usage can be printed */
  cli_opts_free(&o);
}

static void test_argument_counts(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "put", "/fs/w"), 0);
  assert_int_equal(o.npos, 1);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "put", "/fs/w", "{}"), 0);
  assert_int_equal(o.npos, 2);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "put", "/fs/w", "{}", "x"), -1);
  assert_string_equal(err, "too many arguments (m31 put URI [JSON])");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get"), -1);
  assert_string_equal(err, "missing arguments (m31 get URI)");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "ps", "extra"), -1);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "run"), -1);
  cli_opts_free(&o);
}

static void test_dash_and_negative_numbers_are_arguments(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "patch", "/fs/a/b", "-"), 0);
  assert_string_equal(o.pos[1], "-");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "post", "/channels/s", "-5"), 0);
  assert_string_equal(o.pos[1], "-5");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "post", "--", "/channels/s", "-x"), 0);
  assert_string_equal(o.pos[1], "-x");
  cli_opts_free(&o);
}

static void test_run_flags_end_at_the_file(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(
      parse(&o, "run", "--stdin", "-q", "--cpu-ms", "500", "p.rb", "1"), 0);
  assert_int_equal(o.stdin_fwd, 1);
  assert_int_equal(o.quiet, 1);
  assert_int_equal(o.cpu_ms, 500);
  assert_int_equal(o.npos, 2);
  cli_opts_free(&o);
  /* after FILE everything is the program's */
  assert_int_equal(parse(&o, "run", "p.rb", "--stdin", "-q", "x"), 0);
  assert_int_equal(o.stdin_fwd, 0);
  assert_int_equal(o.quiet, 0);
  assert_int_equal(o.npos, 4);
  assert_string_equal(o.pos[1], "--stdin");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "run", "--cpu-ms=0", "p.rb"), -1);
  assert_string_equal(err, "--cpu-ms must be an integer from 1 to 3600000");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "run", "--cpu-ms", "12x", "p.rb"), -1);
  cli_opts_free(&o);
}

static void test_ps_filters(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "ps", "--state", "done", "--parent=n1-2"), 0);
  assert_string_equal(o.state, "done");
  assert_string_equal(o.parent, "n1-2");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get", "/x", "--state", "done"), -1);
  assert_string_equal(err, "--state is not a flag of this command");
  cli_opts_free(&o);
}

static void test_help_forms(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "help"), 0);
  assert_true(o.help);
  assert_null(o.cmd);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "--help"), 0);
  assert_true(o.help);
  assert_null(o.cmd);
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "help", "run"), 0);
  assert_true(o.help);
  assert_string_equal(o.cmd->name, "run");
  cli_opts_free(&o);
  /* help needs no arguments, even where the command does */
  assert_int_equal(parse(&o, "get", "-h"), 0);
  assert_true(o.help);
  assert_string_equal(o.cmd->name, "get");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "help", "nope"), -1);
  cli_opts_free(&o);
}

static void test_unknown_command_and_flag(void **state) {
  cli_opts o;
  (void)state;
  assert_int_equal(parse(&o, "frobnicate"), -1);
  assert_string_equal(err, "unknown command 'frobnicate'");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get", "--nope", "/x"), -1);
  assert_string_equal(err, "unknown flag --nope");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "-i"), -1);
  assert_string_equal(err, "no command given");
  cli_opts_free(&o);
  assert_int_equal(parse(&o, "get", "--include=yes", "/x"), -1);
  assert_string_equal(err, "--include takes no value");
  cli_opts_free(&o);
}

static void test_url_join(void **state) {
  char out[64];
  (void)state;
  assert_int_equal(cli_url_join("http://h:1", "/fs/a", out, sizeof out), 0);
  assert_string_equal(out, "http://h:1/fs/a");
  assert_int_equal(cli_url_join("http://h:1/", "/fs/a", out, sizeof out), 0);
  assert_string_equal(out, "http://h:1/fs/a");
  assert_int_equal(cli_url_join("http://h:1", "fs/a?x=1", out, sizeof out), 0);
  assert_string_equal(out, "http://h:1/fs/a?x=1");
  assert_int_equal(
      cli_url_join("http://h:1", "http://other:2/sys", out, sizeof out), 0);
  assert_string_equal(out, "http://other:2/sys");
  assert_int_equal(cli_url_join("http://h:1", "", out, sizeof out), -1);
  assert_int_equal(cli_url_join("http://h:1", "/a", out, 10), -1);
}

static void json_arg_is(const char *arg, const char *want) {
  json_t *v = cli_json_arg_new(arg);
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  assert_string_equal(s, want);
  free(s);
  json_decref(v);
}

static void test_json_args(void **state) {
  (void)state;
  json_arg_is("42", "42");
  json_arg_is("-3", "-3");
  json_arg_is("2.5", "2.5");
  json_arg_is("true", "true");
  json_arg_is("null", "null");
  json_arg_is("[1, \"a\"]", "[1,\"a\"]");
  json_arg_is("{\"k\": 1}", "{\"k\":1}");
  json_arg_is("\"42\"", "\"42\""); /* a quoted number stays a string */
  json_arg_is("hello", "\"hello\"");
  json_arg_is("", "\"\"");
  json_arg_is("1 2", "\"1 2\"");
  json_arg_is("[1,", "\"[1,\"");
  json_arg_is("TRUE", "\"TRUE\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_uri),
      cmocka_unit_test(test_url_flag_env_and_default),
      cmocka_unit_test(test_include_only_where_taken),
      cmocka_unit_test(test_argument_counts),
      cmocka_unit_test(test_dash_and_negative_numbers_are_arguments),
      cmocka_unit_test(test_run_flags_end_at_the_file),
      cmocka_unit_test(test_ps_filters),
      cmocka_unit_test(test_help_forms),
      cmocka_unit_test(test_unknown_command_and_flag),
      cmocka_unit_test(test_url_join),
      cmocka_unit_test(test_json_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
