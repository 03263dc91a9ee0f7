/*
 * test_runtime_code.c — SHA-256 against the FIPS 180-4 examples and
 * lengths around the padding boundary, fingerprints, and the registry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static void hex(const unsigned char *d, char out[65]) {
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, size_t len, const char *want) {
  unsigned char d[32];
  char h[65];
  rt_sha256(msg, len, d);
  hex(d, h);
  assert_string_equal(h, want);
}

static void test_sha256_vectors(void **state) {
  (void)state;
  check("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check(two, strlen(two),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* a million 'a': many blocks */
  char *m = malloc(1000000);
  memset(m, 'a', 1000000);
  check(m, 1000000,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(m);
}

/* Lengths 55, 56, 63, 64 cross the one/two padding block boundary: the
 * digest of a prefix must not depend on bytes past it. */
static void test_sha256_padding(void **state) {
  char buf[130];
  unsigned char a[32], b[32];
  (void)state;
  memset(buf, 'x', sizeof buf);
  for (size_t n = 50; n < 130; n++) {
    rt_sha256(buf, n, a);
    buf[n] = 'y';
    rt_sha256(buf, n, b);
    buf[n] = 'x';
    assert_memory_equal(a, b, 32);
    rt_sha256(buf, n + 1, b);
    assert_memory_not_equal(a, b, 32);
  }
}

static void test_fingerprint(void **state) {
  char fp[RT_FP_LEN];
  (void)state;
  rt_code_fingerprint("abc", 3, fp);
  assert_string_equal(
      fp, "sha256:"
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_true(rt_code_fingerprint_valid(fp));
  fp[10] = 'A';
  assert_false(rt_code_fingerprint_valid(fp));
  assert_false(rt_code_fingerprint_valid("sha256:abc"));
  assert_false(rt_code_fingerprint_valid(NULL));
  assert_false(rt_code_fingerprint_valid(
      "md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

static void test_registry(void **state) {
  rt_code_reg *r = rt_code_reg_new();
  char fp[RT_FP_LEN], fp2[RT_FP_LEN], src[64];
  int created;
  size_t len;
  (void)state;
  assert_int_equal(rt_code_reg_put(r, "1 + 1", 5, fp, &created), 0);
  assert_true(created);
  assert_int_equal(rt_code_reg_put(r, "1 + 1", 5, fp2, &created), 0);
  assert_false(created);
  assert_string_equal(fp, fp2);
  char *got = rt_code_reg_get(r, fp, &len);
  assert_non_null(got);
  assert_int_equal(len, 5);
  assert_string_equal(got, "1 + 1");
  free(got);
  assert_null(rt_code_reg_get(r, "sha256:nothex", NULL));
  /* many entries: the table grows and keeps them all */
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(src, sizeof src, "x = %d", i);
    assert_int_equal(rt_code_reg_put(r, src, (size_t)n, fp, &created), 0);
    assert_true(created);
  }
  assert_int_equal(rt_code_reg_count(r), 1001);
  for (int i = 0; i < 1000; i += 37) {
    int n = snprintf(src, sizeof src, "x = %d", i);
    rt_code_fingerprint(src, (size_t)n, fp);
    got = rt_code_reg_get(r, fp, NULL);
    assert_non_null(got);
    assert_string_equal(got, src);
    free(got);
  }
  rt_code_fingerprint("never put", 9, fp);
  assert_null(rt_code_reg_get(r, fp, NULL));
  rt_code_reg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test(test_sha256_padding),
      cmocka_unit_test(test_fingerprint),
      cmocka_unit_test(test_registry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
