/*
 * test_runtime_jam.c — M31::Jam (runtime/jam.c): unzip of archives made
 * here with libzip's writing API (entries, order, binary contents, not a
 * zip, corrupt, encrypted, lying sizes, a bomb refused for the budget),
 * and words/count against a reference splitter (tr -cs A-Za-z '\n').
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <mruby.h>
#include <mruby/variable.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "runtime/internal.h"

static int setup(void **state) {
  *state = rt_vm_new(32u << 20);
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  rt_vm_free(*state);
  return 0;
}

/* Evaluates src: the JSON text of its value (new), or "!Class: message". */
static char *ev(rt_vm *vm, const char *src) {
  rt_error err = {0};
  json_t *out = NULL;
  char *s;
  if (rt_vm_eval(vm, src, strlen(src), "test.rb", &out, &err) != 0) {
    if (asprintf(&s, "!%s: %s", err.klass, err.message) < 0) abort();
    rt_error_clear(&err);
    return s;
  }
  s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
  json_decref(out);
  return s;
}

static void ev_is(rt_vm *vm, const char *src, const char *want) {
  char *got = ev(vm, src);
  if (strcmp(got, want) != 0)
    fail_msg("%s\n gave %s\n want %s", src, got, want);
  free(got);
}

/* Asserts src raised klass with a message holding part. */
static void ev_raises(rt_vm *vm, const char *src, const char *klass,
                      const char *part) {
  char *got = ev(vm, src), want[128];
  snprintf(want, sizeof want, "!%s: ", klass);
  if (strncmp(got, want, strlen(want)) != 0 || !strstr(got, part))
    fail_msg("%s\n gave %s\n want %s...%s...", src, got, want, part);
  free(got);
}

/* Sets the global $name of the VM to a String of the n bytes at p. */
static void gv_bytes(rt_vm *vm, const char *name, const void *p, size_t n) {
  mrb_state *mrb = rt_vm_mrb(vm);
  int ai = mrb_gc_arena_save(mrb);
  mrb_gv_set(mrb, mrb_intern_cstr(mrb, name),
             mrb_str_new(mrb, (const char *)p, (mrb_int)n));
  mrb_gc_arena_restore(mrb, ai);
}

/* ---------------------------------------------------------- zip making */

typedef struct zent {
  const char *name; /* ending in "/": a directory */
  const void *data;
  size_t len;
  int store; /* 1: stored, 0: deflated */
} zent;

/* A zip archive of the n entries, made in memory: new bytes, *len. */
static unsigned char *zip_make(const zent *e, size_t n, size_t *len) {
  zip_error_t ze;
  zip_source_t *src;
  zip_t *za;
  zip_stat_t st;
  unsigned char *buf;
  zip_error_init(&ze);
  assert_non_null(src = zip_source_buffer_create(NULL, 0, 0, &ze));
  assert_non_null(za = zip_open_from_source(src, ZIP_TRUNCATE, &ze));
  zip_source_keep(src);
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(e[i].name);
    if (e[i].name[nl - 1] == '/') {
      assert_true(zip_dir_add(za, e[i].name, ZIP_FL_ENC_UTF_8) >= 0);
      continue;
    }
    zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
    zip_int64_t idx = zip_file_add(za, e[i].name, s, ZIP_FL_ENC_UTF_8);
    assert_true(idx >= 0);
    if (e[i].store)
      assert_int_equal(
          zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
  }
  assert_int_equal(zip_close(za), 0);
  assert_int_equal(zip_source_open(src), 0);
  assert_int_equal(zip_source_stat(src, &st), 0);
  assert_non_null(buf = malloc(st.size ? st.size : 1));
  assert_int_equal(zip_source_read(src, buf, st.size), (zip_int64_t)st.size);
  zip_source_close(src);
  zip_source_free(src);
  zip_error_fini(&ze);
  *len = st.size;
  return buf;
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* Calls fn on every local (sig 0x04034b50) and central (0x02014b50)
 * header of the archive: is_central, the header's offset. */
static void headers_each(unsigned char *z, size_t len,
                         void (*fn)(unsigned char *h, int central)) {
  for (size_t i = 0; i + 46 <= len; i++) {
    if (rd32(z + i) == 0x04034b50) fn(z + i, 0);
    if (rd32(z + i) == 0x02014b50) fn(z + i, 1);
  }
}

/* ---------------------------------------------------------------- unzip */

static void test_unzip_entries(void **state) {
  rt_vm *vm = *state;
  unsigned char bin[256];
  static const char book[] = "It was the best of times, it was the worst.";
  for (int i = 0; i < 256; i++)
    bin[i] = (unsigned char)i;
  zent e[] = {
      {"book.txt", book, sizeof book - 1, 0},
      {"dir/", NULL, 0, 0},
      {"dir/bin.dat", bin, sizeof bin, 0},
      {"stored.txt", "plain", 5, 1},
      {"empty", "", 0, 0},
      {"caf\xc3\xa9.txt", "\xc3\xa9t\xc3\xa9", 5, 0},
  };
  size_t len;
  unsigned char *z = zip_make(e, sizeof e / sizeof e[0], &len);
  gv_bytes(vm, "$zip", z, len);
  free(z);
  ev_is(vm, "h = jam.unzip($zip); h.keys",
        "[\"book.txt\",\"dir/bin.dat\",\"stored.txt\",\"empty\",\"caf\xc3\xa9"
        ".txt\"]");
  ev_is(vm,
        "h = jam.unzip($zip); [h['book.txt'], h['stored.txt'], h['empty'], "
        "h['caf\xc3\xa9.txt']]",
        "[\"It was the best of times, it was the worst.\",\"plain\",\"\","
        "\"\xc3\xa9t\xc3\xa9\"]");
  ev_is(vm,
        "b = jam.unzip($zip)['dir/bin.dat']; [b.class.to_s, b.bytesize, "
        "b.bytes == (0..255).to_a]",
        "[\"String\",256,true]");
  /* a binary entry crosses the interchange as bytes */
  ev_is(vm, "jam.unzip($zip)['dir/bin.dat'][250, 6]",
        "{\"$bytes\":\"+vv8/f7/\"}");
  ev_is(vm, "jam.count(jam.unzip($zip)['book.txt'])",
        "{\"it\":2,\"was\":2,\"the\":2,\"best\":1,\"of\":1,\"times\":1,"
        "\"worst\":1}");
  /* an archive with no entries, and one with only a directory */
  zent d[] = {{"only/", NULL, 0, 0}};
  z = zip_make(d, 1, &len);
  gv_bytes(vm, "$dir", z, len);
  free(z);
  ev_is(vm, "jam.unzip($dir)", "{}");
  ev_is(vm, "jam.unzip(\"PK\\x05\\x06\" + \"\\0\" * 18)", "{}");
}

static void test_unzip_not_a_zip(void **state) {
  rt_vm *vm = *state;
  ev_raises(vm, "jam.unzip('hello, this is not a zip archive at all')",
            "M31::Jam::Error", "not a zip archive");
  ev_raises(vm, "jam.unzip('')", "M31::Jam::Error", "not a zip archive");
  ev_raises(vm, "jam.unzip(nil)", "TypeError", "");
  ev_raises(vm, "jam.unzip(42)", "TypeError", "");
  ev_is(vm,
        "begin; jam.unzip('PK'); rescue M31::Jam::Error => e; "
        "[e.is_a?(StandardError), M31::Jam::Error.ancestors.include?("
        "StandardError)]; end",
        "[true,true]");
}

static void test_unzip_corrupt(void **state) {
  rt_vm *vm = *state;
  char text[4000];
  size_t len;
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = "abcdefghij klmnopqrstuvwxyz"[(i * 7 + i / 13) % 27];
  zent e[] = {{"a.txt", text, sizeof text, 0}, {"b.txt", "bee", 3, 1}};
  unsigned char *z = zip_make(e, 2, &len);
  /* a flipped byte inside a's deflated data: a bad stream or a bad CRC */
  unsigned char *bad = malloc(len);
  memcpy(bad, z, len);
  bad[30 + 5 + 40] ^= 0x55; /* header (30) + name (5) + into the data */
  gv_bytes(vm, "$bad", bad, len);
  ev_raises(vm, "jam.unzip($bad)", "M31::Jam::Error", "corrupt zip archive");
  /* cut short: the central directory is gone */
  gv_bytes(vm, "$cut", z, len / 2);
  ev_raises(vm, "jam.unzip($cut)", "M31::Jam::Error", "zip archive");
  /* the end record lost its last bytes */
  gv_bytes(vm, "$cut2", z, len - 3);
  ev_raises(vm, "jam.unzip($cut2)", "M31::Jam::Error", "zip archive");
  /* the VM is fine afterwards */
  gv_bytes(vm, "$ok", z, len);
  ev_is(vm, "jam.unzip($ok)['b.txt']", "\"bee\"");
  free(bad);
  free(z);
}

static void size_lie(unsigned char *h, int central) {
  wr32(h + (central ? 24 : 22), 10); /* uncompressed size: 10 bytes */
}

static void encrypted_flag(unsigned char *h, int central) {
  h[central ? 8 : 6] |= 1; /* general purpose bit 0: encrypted */
}

/* An entry that inflates past its declared size is corrupt: the read
 * stops one byte after the declared size. */
static void test_unzip_size_lie(void **state) {
  rt_vm *vm = *state;
  char text[1000];
  size_t len;
  memset(text, 'A', sizeof text);
  zent e[] = {{"a.txt", text, sizeof text, 0}};
  unsigned char *z = zip_make(e, 1, &len);
  headers_each(z, len, size_lie);
  gv_bytes(vm, "$lie", z, len);
  ev_raises(vm, "jam.unzip($lie)", "M31::Jam::Error",
            "more bytes than its declared 10");
  free(z);
}

static void test_unzip_encrypted(void **state) {
  rt_vm *vm = *state;
  size_t len;
  zent e[] = {{"secret.txt", "top secret text", 15, 0}};
  unsigned char *z = zip_make(e, 1, &len);
  headers_each(z, len, encrypted_flag);
  gv_bytes(vm, "$enc", z, len);
  ev_raises(vm, "jam.unzip($enc)", "M31::Jam::Error", "encrypted");
  free(z);
}

/* 32 MiB of zeros deflate to a few KiB: refused before inflating, in a VM
 * of 16 MiB, which then still works; the same archive inflates in a VM
 * with room for it. */
static void test_unzip_bomb_refused(void **state) {
  rt_vm *vm = rt_vm_new(16u << 20), *big;
  size_t n = 32u << 20, len, before;
  char *zeros = calloc(1, n);
  zent e[] = {{"small.txt", "hi", 2, 0}, {"zeros", zeros, n, 0}};
  unsigned char *z;
  (void)state;
  assert_non_null(vm);
  assert_non_null(zeros);
  z = zip_make(e, 2, &len);
  assert_true(len < 100000);
  gv_bytes(vm, "$bomb", z, len);
  before = rt_vm_mem_used(vm);
  ev_raises(vm, "jam.unzip($bomb)", "M31::Jam::Error",
            "declares 33554434 bytes when inflated");
  assert_true(rt_vm_mem_used(vm) < before + (1u << 20));
  ev_is(vm, "[1, 2].inject(:+)", "3");
  rt_vm_free(vm);
  assert_non_null(big = rt_vm_new(128u << 20));
  gv_bytes(big, "$bomb", z, len);
  ev_is(big,
        "h = jam.unzip($bomb); [h['small.txt'], h['zeros'].bytesize, "
        "h['zeros'].count(\"\\0\")]",
        "[\"hi\",33554432,33554432]");
  rt_vm_free(big);
  free(z);
  free(zeros);
}

/* ---------------------------------------------------------- words, count */

/* The reference: tr -cs A-Za-z '\n' | tr A-Z a-z, as a JSON array. */
static json_t *words_ref(const unsigned char *p, size_t n) {
  json_t *a = json_array();
  char *w = malloc(n + 1);
  size_t k = 0;
  for (size_t i = 0; i <= n; i++) {
    int letter =
        i < n && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'));
    if (letter) {
      w[k++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    } else if (k) {
      json_array_append_new(a, json_stringn(w, k));
      k = 0;
    }
  }
  free(w);
  return a;
}

static void test_words_edges(void **state) {
  rt_vm *vm = *state;
  ev_is(vm, "jam.words('')", "[]");
  ev_is(vm, "jam.words(\" 123 -- !? \\n\\t 4.5 \")", "[]");
  ev_is(vm, "jam.words('a\\nb')", "[\"a\",\"nb\"]"); /* a backslash */
  ev_is(vm, "jam.words('a')", "[\"a\"]");
  ev_is(vm, "jam.words('Hello, World!')", "[\"hello\",\"world\"]");
  ev_is(vm, "jam.words(\"It's 42pi--PI\")", "[\"it\",\"s\",\"pi\",\"pi\"]");
  ev_is(vm,
        "jam.words('caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 Stra\xc3\x9f"
        "e')",
        "[\"caf\",\"na\",\"ve\",\"stra\",\"e\"]");
  ev_is(vm, "jam.words('@[`{Zz')", "[\"zz\"]"); /* the neighbours of A-Z a-z */
  ev_is(vm, "jam.words(\"\\xff\\xfeAB\\x80cd\\0ef\")",
        "[\"ab\",\"cd\",\"ef\"]");
  ev_is(vm,
        "w = jam.words('x' * 100000 + ' ' + 'Y' * 70000); "
        "[w.size, w[0].size, w[1].size, w[1][0], w[0].frozen?]",
        "[2,100000,70000,\"y\",false]");
  ev_raises(vm, "jam.words(nil)", "TypeError", "");
  ev_raises(vm, "jam.count(:sym)", "TypeError", "");
}

static void test_count_edges(void **state) {
  rt_vm *vm = *state;
  ev_is(vm, "jam.count('')", "{}");
  ev_is(vm, "jam.count('1 2 3 ...')", "{}");
  ev_is(vm, "jam.count('b a B c A b')", "{\"b\":3,\"a\":2,\"c\":1}");
  ev_is(vm, "jam.count('Pi pI pi PI')", "{\"pi\":4}");
  ev_is(vm,
        "c = jam.count('a' * 5000 + ' ' + 'A' * 5000 + ' ' + 'a' * 4999); "
        "[c.size, c['a' * 5000], c['a' * 4999]]",
        "[2,2,1]");
}

/* Random text of letters, separators and UTF-8 bytes: words match the
 * reference; count matches a Ruby tally of words, order included; enough
 * distinct words to grow count's table several times. */
static void test_words_count_random(void **state) {
  rt_vm *vm = *state;
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
  size_t n = 300000;
  unsigned char *t = malloc(n);
  uint32_t x = 12345;
  json_t *want;
  char *ws, *got, src[64];
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    uint32_t r = (x >> 16) & 0x7fff;
    if (r % 10 < 6)
      t[i] = (unsigned char)alpha[r % (sizeof alpha - 1)];
    else if (r % 10 < 8)
      t[i] = " ,.;\n-'"[r % 7];
    else if (r % 10 < 9)
      t[i] = (unsigned char)(0x80 + r % 128);
    else
      t[i] = (unsigned char)('0' + r % 10);
  }
  gv_bytes(vm, "$text", t, n);
  want = words_ref(t, n);
  ws = json_dumps(want, JSON_COMPACT);
  snprintf(src, sizeof src, "jam.words($text)");
  got = ev(vm, src);
  assert_true(json_array_size(want) > 10000);
  if (strcmp(got, ws) != 0) fail_msg("words differ from the reference");
  free(got);
  ev_is(vm,
        "w = jam.words($text); c = jam.count($text); h = {}; "
        "w.each { |x| h[x] = (h[x] || 0) + 1 }; "
        "[h == c, h.keys == c.keys, c.size > 4000, c.values.inject(:+) == "
        "w.size]",
        "[true,true,true,true]");
  json_decref(want);
  free(ws);
  free(t);
}

/* Out of memory in words and count raises NoMemoryError, frees what count
 * held (the sanitizer build checks leaks) and leaves the VM usable. */
static void test_words_count_budget(void **state) {
  rt_vm *vm = rt_vm_new(6u << 20);
  (void)state;
  assert_non_null(vm);
  ev_is(vm, "$t = 'ab cd ' * 200000; $t.size", "1200000");
  ev_raises(vm, "jam.words($t)", "NoMemoryError", "");
  ev_raises(vm,
            "$u = (1..150000).map { |k| 'w' + "
            "k.to_s(26).tr('0-9', 'q-z') }.join(' '); jam.count($u)",
            "NoMemoryError", "");
  ev_is(vm, "jam.count('still works works')", "{\"still\":1,\"works\":2}");
  rt_vm_free(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unzip_entries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unzip_not_a_zip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unzip_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unzip_size_lie, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unzip_encrypted, setup, teardown),
      cmocka_unit_test(test_unzip_bomb_refused),
      cmocka_unit_test_setup_teardown(test_words_edges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_count_edges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_words_count_random, setup, teardown),
      cmocka_unit_test(test_words_count_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
