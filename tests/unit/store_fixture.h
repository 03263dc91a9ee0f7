/*
 * store_fixture.h — what every store unit test shares: a fresh store in its
 * own temporary directory per test (setup/teardown), and short helpers that
 * take JSON text. Included by test files only; everything here is static.
 */
#ifndef M31_TEST_STORE_FIXTURE_H
#define M31_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each test gets a fresh store in its own temporary directory. */
typedef struct {
  char dir[64];
  store *s;
} fixture;

static int rm_entry(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  store_err err = {0};
  snprintf(f->dir, sizeof f->dir, "/tmp/m31-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(store_open(f->dir, &f->s, &err), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  store_close(f->s);
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* Parses test JSON (refcount: new); fails the test when it does not. */
__attribute__((unused)) static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
  return v;
}

__attribute__((unused)) static void space_make(store *s, const char *name,
                                               const char *spec) {
  json_t *v = J(spec);
  store_err err = {0};
  int created = 0;
  if (store_space_put(s, name, v, &created, NULL, &err) != 0)
    fail_msg("space_put %s: %s", name, err.detail);
  json_decref(v);
}

/* PUT of a JSON text body; returns the store's rc, err filled. */
__attribute__((unused)) static int obj_put(store *s, const char *sp,
                                           const char *key, const char *body,
                                           store_err *err) {
  json_t *v = J(body);
  int created;
  memset(err, 0, sizeof *err);
  int rc = store_object_put(s, sp, key, v, NULL, NULL, &created, err);
  json_decref(v);
  return rc;
}

__attribute__((unused)) static int obj_patch(store *s, const char *sp,
                                             const char *key, const char *body,
                                             json_t **out, store_err *err) {
  json_t *v = J(body);
  int created;
  memset(err, 0, sizeof *err);
  int rc = store_object_patch(s, sp, key, v, NULL, out, &created, err);
  json_decref(v);
  return rc;
}

/* An attribute of a stored object (borrowed from *holder, which the caller
 * json_decrefs). */
__attribute__((unused)) static json_t *attr_of(store *s, const char *sp,
                                               const char *key,
                                               const char *attr,
                                               json_t **holder) {
  store_err err = {0};
  if (store_object_get(s, sp, key, NULL, 0, holder, &err) != 0)
    fail_msg("get %s: %s", key, err.detail);
  return json_object_get(json_object_get(*holder, "attrs"), attr);
}

#endif
