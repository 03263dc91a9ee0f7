/*
 * test_store_objects.c — objects: put, get, delete, versions numbering,
 * If-Match, validation against the schema, object counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

#include "tests/unit/store_fixture.h"

static const char *SPEC =
    "{\"attrs\":{\"i\":\"Int\",\"f\":\"Float\",\"s\":\"String\","
    "\"b\":\"Bool\",\"y\":\"Bytes\",\"l\":\"List\",\"m\":\"Map\","
    "\"a\":\"Any\"}}";

static void test_put_get_delete(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL, *body;
  int created = -1;
  space_make(f->s, "t", SPEC);
  body =
      J("{\"attrs\":{\"i\":3,\"f\":2,\"s\":\"x\",\"b\":true,\"y\":\"AAE=\","
        "\"l\":[1],\"m\":{\"k\":1},\"a\":null},\"labels\":{\"lang\":\"en\"}}");
  assert_int_equal(
      store_object_put(f->s, "t", "pi", body, NULL, &out, &created, &err), 0);
  assert_int_equal(created, 1);
  assert_string_equal(json_string_value(json_object_get(out, "key")), "pi");
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
  assert_string_equal(json_string_value(json_object_get(out, "branch")),
                      "main");
  const char *mod = json_string_value(json_object_get(out, "modified"));
  assert_int_equal(strlen(mod), 24);
  assert_int_equal(mod[23], 'Z');
  json_decref(out);
  assert_int_equal(
      store_object_put(f->s, "t", "pi", body, NULL, &out, &created, &err), 0);
  assert_int_equal(created, 0);
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
  json_decref(out);

  assert_int_equal(store_object_get(f->s, "t", "pi", NULL, 0, &out, &err), 0);
  assert_true(json_equal(json_object_get(out, "attrs"),
                         json_object_get(body, "attrs")));
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(out, "labels"), "lang")),
                      "en");
  json_decref(out);
  /* without versioning only the head's version is found */
  assert_int_equal(store_object_get(f->s, "t", "pi", NULL, 2, &out, &err), 0);
  json_decref(out);
  assert_int_equal(store_object_get(f->s, "t", "pi", NULL, 1, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);

  assert_int_equal(store_space_get(f->s, "t", &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 1);
  json_decref(out);
  assert_int_equal(store_object_delete(f->s, "t", "pi", NULL, &err), 0);
  assert_int_equal(store_object_delete(f->s, "t", "pi", NULL, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_object_get(f->s, "t", "pi", NULL, 0, &out, &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(store_space_get(f->s, "t", &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "objects")), 0);
  json_decref(out);
  /* a new object starts again at version 1 */
  assert_int_equal(
      store_object_put(f->s, "t", "pi", body, NULL, &out, &created, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
  json_decref(out);
  json_decref(body);
  assert_int_equal(obj_put(f->s, "nope", "k", "{}", &err), -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
}

static void expect_put(store *s, const char *body, store_code code,
                       const char *field) {
  store_err err = {0};
  assert_int_equal(obj_put(s, "t", "k", body, &err), -1);
  assert_int_equal(err.code, code);
  assert_string_equal(err.field, field);
}

static void test_validation(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *out = NULL;
  space_make(f->s, "t", SPEC);
  expect_put(f->s, "{\"attrs\":{\"zz\":1}}", STORE_INVALID, "attrs.zz");
  expect_put(f->s, "{\"attrs\":{\"i\":1.5}}", STORE_INVALID, "attrs.i");
  expect_put(f->s, "{\"attrs\":{\"i\":\"1\"}}", STORE_INVALID, "attrs.i");
  expect_put(f->s, "{\"attrs\":{\"f\":\"1\"}}", STORE_INVALID, "attrs.f");
  expect_put(f->s, "{\"attrs\":{\"s\":1}}", STORE_INVALID, "attrs.s");
  expect_put(f->s, "{\"attrs\":{\"b\":0}}", STORE_INVALID, "attrs.b");
  expect_put(f->s, "{\"attrs\":{\"y\":\"AAE\"}}", STORE_INVALID, "attrs.y");
  expect_put(f->s, "{\"attrs\":{\"y\":\"A*E=\"}}", STORE_INVALID, "attrs.y");
  expect_put(f->s, "{\"attrs\":{\"y\":\"A=E=\"}}", STORE_INVALID, "attrs.y");
  expect_put(f->s, "{\"attrs\":{\"l\":{}}}", STORE_INVALID, "attrs.l");
  expect_put(f->s, "{\"attrs\":{\"m\":[]}}", STORE_INVALID, "attrs.m");
  expect_put(f->s, "{\"attrs\":[]}", STORE_BAD_REQUEST, "attrs");
  expect_put(f->s, "{\"labels\":1}", STORE_BAD_REQUEST, "labels");
  expect_put(f->s, "{\"version\":1}", STORE_BAD_REQUEST, "version");
  /* JSON text cannot hold a NUL in a name, but a built value can */
  json_t *nul = J("{\"attrs\":{}}");
  json_object_setn_new(json_object_get(nul, "attrs"), "i\0x", 3,
                       json_integer(1));
  int created;
  assert_int_equal(
      store_object_put(f->s, "t", "k", nul, NULL, NULL, &created, &err), -1);
  assert_int_equal(err.code, STORE_INVALID);
  json_decref(nul);

  /* 32 levels are fine, 33 are not */
  char deep[200] = "{\"attrs\":{\"a\":";
  for (int i = 0; i < 33; i++)
    strcat(deep, "[");
  for (int i = 0; i < 33; i++)
    strcat(deep, "]");
  strcat(deep, "}}");
  expect_put(f->s, deep, STORE_INVALID, "attrs.a");
  memmove(strchr(deep, '['), strchr(deep, '[') + 1, strlen(deep));
  memmove(strchr(deep, ']'), strchr(deep, ']') + 1, strlen(deep));
  assert_int_equal(obj_put(f->s, "t", "k", deep, &err), 0);

  /* a failed write changed nothing */
  assert_int_equal(store_object_get(f->s, "t", "k", NULL, 0, &out, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
  json_decref(out);
  assert_int_equal(obj_put(f->s, "t", "a/b", "{}", &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
  assert_string_equal(err.field, "key");
}

static void test_if_match(void **state) {
  fixture *f = *state;
  store_err err = {0};
  json_t *body = J("{}");
  int created;
  store_wopts w = {NULL, 1, 0};
  space_make(f->s, "t", SPEC);
  /* "*" on a missing object */
  assert_int_equal(
      store_object_put(f->s, "t", "k", body, &w, NULL, &created, &err), -1);
  assert_int_equal(err.code, STORE_PRECONDITION);
  assert_int_equal(obj_put(f->s, "t", "k", "{}", &err), 0);
  assert_int_equal(
      store_object_put(f->s, "t", "k", body, &w, NULL, &created, &err), 0);
  w.if_match = 1;
  assert_int_equal(
      store_object_put(f->s, "t", "k", body, &w, NULL, &created, &err), -1);
  assert_int_equal(err.code, STORE_PRECONDITION);
  w.if_match = 2;
  assert_int_equal(
      store_object_patch(f->s, "t", "k", body, &w, NULL, &created, &err), 0);
  assert_int_equal(store_object_delete(f->s, "t", "k", &w, &err), -1);
  assert_int_equal(err.code, STORE_PRECONDITION);
  w.if_match = 3;
  assert_int_equal(store_object_delete(f->s, "t", "k", &w, &err), 0);
  json_decref(body);
}

/* The GET fast path answers the same object as store_object_get. */
static void test_get_text_matches_get(void **state) {
  fixture *f = *state;
  store_err err = {0};
  char *text = NULL;
  size_t len = 0;
  uint64_t version = 0;
  json_t *obj = NULL, *parsed;
  json_error_t je;

  space_make(f->s, "t", "{\"attrs\":{\"n\":\"Int\",\"m\":\"Map\"}}");
  /* A nested "version" member must not be mistaken for the object's. */
  assert_int_equal(obj_put(f->s, "t", "k",
                           "{\"attrs\":{\"n\":7,\"m\":{\"version\":99}},"
                           "\"labels\":{\"version\":\"x\"}}",
                           &err),
                   0);
  assert_int_equal(obj_put(f->s, "t", "k",
                           "{\"attrs\":{\"n\":8,\"m\":{\"version\":99}}}",
                           &err),
                   0);
  assert_int_equal(
      store_object_get_text(f->s, "t", "k", &text, &len, &version, &err), 0);
  assert_int_equal(version, 2);
  assert_int_equal(strlen(text), len);
  assert_int_equal(store_object_get(f->s, "t", "k", NULL, 0, &obj, &err), 0);
  parsed = json_loadb(text, len, 0, &je);
  assert_non_null(parsed);
  assert_true(json_equal(parsed, obj));
  json_decref(parsed);
  json_decref(obj);
  free(text);

  assert_int_equal(
      store_object_get_text(f->s, "t", "nope", &text, &len, &version, &err),
      -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_null(text);
  assert_int_equal(
      store_object_get_text(f->s, "nope", "k", &text, &len, &version, &err),
      -1);
  assert_int_equal(err.code, STORE_NOT_FOUND);
  assert_int_equal(
      store_object_get_text(f->s, "t", "..", &text, &len, &version, &err), -1);
  assert_int_equal(err.code, STORE_BAD_REQUEST);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_if_match, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get_text_matches_get, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
