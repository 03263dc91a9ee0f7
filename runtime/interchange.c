/*
 * interchange.c — Ruby values <-> JSON; the rules are in interchange.h.
 *
 * Floats: Debian's mruby word-boxes Float and drops the two lowest bits of
 * the mantissa (no MRB_WORDBOX_NO_FLOAT_TRUNCATE). A JSON real therefore
 * cannot keep all its bits inside Ruby. Going back, we write the shortest
 * decimal that lands on the same truncated value, which gives back the
 * original exactly for every real of up to 14 significant digits (checked
 * over 1.7M random values across the exponent range; see the unit test);
 * longer ones may move by a few units in the last place.
 */
#include <mruby.h>
#include <math.h>
#include <mruby/array.h>
#include <mruby/error.h>
#include <mruby/hash.h>
#include <mruby/string.h>
#include <mruby/variable.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interchange.h"
#include "runtime/internal.h"
#include "util/base64.h"

/* Where we are in the value, for error messages: "value[2].name". */
typedef struct path {
  char buf[192];
  size_t len;
} path;

static size_t path_push_index(path *p, size_t i) {
  size_t old = p->len;
  int n = snprintf(p->buf + old, sizeof p->buf - old, "[%zu]", i);
  if (n > 0) p->len = old + (size_t)n < sizeof p->buf ? old + n : p->len;
  return old;
}

static size_t path_push_key(path *p, const char *k, size_t klen) {
  size_t old = p->len;
  int n = snprintf(p->buf + old, sizeof p->buf - old, ".%.*s",
                   (int)(klen > 40 ? 40 : klen), k);
  if (n > 0) p->len = old + (size_t)n < sizeof p->buf ? old + n : p->len;
  return old;
}

static void path_pop(path *p, size_t old) {
  p->len = old;
  p->buf[old] = '\0';
}

/* ------------------------------------------------------- Ruby -> JSON */

typedef struct to_json {
  mrb_state *mrb;
  rt_error *err;
  path at;
  int depth;
} to_json;

static json_t *conv(to_json *c, mrb_value v);

static json_t *fail(to_json *c, const char *what) {
  rt_error_set(c->err, "TypeError", "%s: %s", c->at.buf, what);
  return NULL;
}

/* The double to write for Ruby float f (see the top of the file). */
static double float_out(mrb_state *mrb, mrb_float f) {
  char s[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, f);
    double d = strtod(s, NULL);
    if (mrb_float(mrb_float_value(mrb, d)) == f) return d;
  }
  return f;
}

static json_t *conv_string(to_json *c, const char *s, mrb_int len) {
  json_t *j = json_stringn(s, (size_t)len);
  return j ? j : fail(c, "string is not valid UTF-8");
}

/* A String that is not UTF-8 is bytes: {"$bytes": "<base64>"}. */
static json_t *conv_bytes(to_json *c, const char *s, mrb_int len) {
  json_t *j = json_stringn(s, (size_t)len);
  char *b64;
  if (j) return j;
  if (!(b64 = b64_encode(s, (size_t)len, 0))) return fail(c, "out of memory");
  j = json_pack("{s:s}", "$bytes", b64);
  free(b64);
  return j ? j : fail(c, "out of memory");
}

/* The class M31::<name>, or NULL when the prelude has not defined it. */
static struct RClass *m31_class(mrb_state *mrb, const char *name) {
  struct RClass *m;
  if (!mrb_class_defined(mrb, "M31")) return NULL;
  m = mrb_module_get(mrb, "M31");
  if (!mrb_const_defined_at(mrb, mrb_obj_value(m), mrb_intern_cstr(mrb, name)))
    return NULL;
  return mrb_class_get_under(mrb, m, name);
}

/* An M31::Endpoint is {"$endpoint": "<id>"}; NULL (nothing set) when v is
 * no endpoint. */
static json_t *conv_endpoint(to_json *c, mrb_value v, int *is) {
  struct RClass *k = m31_class(c->mrb, "Endpoint");
  mrb_value id;
  *is = k && mrb_obj_is_kind_of(c->mrb, v, k);
  if (!*is) return NULL;
  id = mrb_iv_get(c->mrb, v, mrb_intern_lit(c->mrb, "@id"));
  json_t *j;
  if (!mrb_string_p(id)) return fail(c, "an Endpoint without an id");
  j = json_pack("{s:s%}", "$endpoint", RSTRING_PTR(id),
                (size_t)RSTRING_LEN(id));
  return j ? j : fail(c, "an Endpoint id is not valid UTF-8");
}

static json_t *conv_array(to_json *c, mrb_value v) {
  json_t *a = json_array();
  if (!a) return fail(c, "out of memory");
  for (mrb_int i = 0; i < RARRAY_LEN(v); i++) {
    size_t old = path_push_index(&c->at, (size_t)i);
    json_t *e = conv(c, RARRAY_PTR(v)[i]);
    path_pop(&c->at, old);
    if (!e || json_array_append_new(a, e) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

typedef struct hash_ctx {
  to_json *c;
  json_t *obj;
  int failed;
} hash_ctx;

static int hash_each(mrb_state *mrb, mrb_value k, mrb_value v, void *ud) {
  hash_ctx *h = ud;
  const char *ks;
  mrb_int klen;
  if (mrb_string_p(k)) {
    ks = RSTRING_PTR(k), klen = RSTRING_LEN(k);
  } else if (mrb_symbol_p(k)) {
    ks = mrb_sym_name_len(mrb, mrb_symbol(k), &klen);
  } else {
    fail(h->c, "a Hash key must be a String or a Symbol");
    return h->failed = 1;
  }
  size_t old = path_push_key(&h->c->at, ks, (size_t)klen);
  char *key = strndup(ks, (size_t)klen);
  json_t *e = NULL;
  if (!key)
    fail(h->c, "out of memory");
  else if (strlen(key) != (size_t)klen)
    fail(h->c, "a key holds a NUL byte");
  else if (json_object_get(h->obj, key))
    fail(h->c, "key appears twice (as a String and a Symbol)");
  else if ((e = conv(h->c, v)) && json_object_set_new(h->obj, key, e) != 0)
    fail(h->c, "key is not valid UTF-8");
  h->failed = h->c->err->klass[0] != '\0';
  free(key);
  path_pop(&h->c->at, old);
  return h->failed;
}

static json_t *conv_hash(to_json *c, mrb_value v) {
  hash_ctx h = {c, json_object(), 0};
  if (!h.obj) return fail(c, "out of memory");
  mrb_hash_foreach(c->mrb, mrb_hash_ptr(v), hash_each, &h);
  if (h.failed) {
    json_decref(h.obj);
    return NULL;
  }
  return h.obj;
}

static json_t *conv(to_json *c, mrb_value v) {
  json_t *j;
  char what[96];
  if (mrb_nil_p(v)) return json_null();
  if (mrb_false_p(v)) return json_false();
  if (mrb_true_p(v)) return json_true();
  if (mrb_integer_p(v)) return json_integer(mrb_integer(v));
  if (mrb_float_p(v)) {
    if (!isfinite(mrb_float(v)))
      return fail(c, "NaN and Infinity are not JSON");
    return json_real(float_out(c->mrb, mrb_float(v)));
  }
  if (mrb_string_p(v)) return conv_bytes(c, RSTRING_PTR(v), RSTRING_LEN(v));
  if (mrb_symbol_p(v)) {
    mrb_int len;
    const char *s = mrb_sym_name_len(c->mrb, mrb_symbol(v), &len);
    return conv_string(c, s, len);
  }
  if (!mrb_array_p(v) && !mrb_hash_p(v)) {
    int is;
    if ((j = conv_endpoint(c, v, &is)) || is) return j;
    snprintf(what, sizeof what, "cannot convert %s to JSON",
             mrb_obj_classname(c->mrb, v));
    return fail(c, what);
  }
  if (++c->depth > RT_JSON_DEPTH_MAX) {
    c->depth--;
    snprintf(what, sizeof what, "nested deeper than %d levels (or a cycle)",
             RT_JSON_DEPTH_MAX);
    return fail(c, what);
  }
  j = mrb_array_p(v) ? conv_array(c, v) : conv_hash(c, v);
  c->depth--;
  return j;
}

int rt_value_to_json(mrb_state *mrb, mrb_value v, json_t **out, rt_error *err) {
  to_json c = {mrb, err, {"value", 5}, 0};
  rt_error_clear(err);
  *out = conv(&c, v);
  return *out ? 0 : -1;
}

/* ------------------------------------------------------- JSON -> Ruby */

typedef struct from_json {
  const json_t *j;
  int too_deep;
} from_json;

static mrb_value value_of(mrb_state *mrb, const json_t *j, int depth,
                          from_json *f);

static mrb_value array_of(mrb_state *mrb, const json_t *j, int depth,
                          from_json *f) {
  size_t n = json_array_size(j);
  mrb_value a = mrb_ary_new_capa(mrb, (mrb_int)n);
  for (size_t i = 0; i < n; i++) {
    int ai = mrb_gc_arena_save(mrb);
    mrb_value e = value_of(mrb, json_array_get(j, i), depth + 1, f);
    if (f->too_deep) return e;
    mrb_ary_push(mrb, a, e);
    mrb_gc_arena_restore(mrb, ai);
  }
  return a;
}

/* {"$bytes": base64} and {"$endpoint": id} come back as what they were
 * (a binary String, an M31::Endpoint); 1 when j was one of them. */
static int tagged_of(mrb_state *mrb, const json_t *j, mrb_value *out) {
  const char *k;
  json_t *v;
  unsigned char *p;
  size_t n;
  struct RClass *ep;
  if (json_object_size(j) != 1) return 0;
  json_object_foreach((json_t *)j, k, v) break;
  if (!json_is_string(v)) return 0;
  if (strcmp(k, "$bytes") == 0 &&
      b64_decode(json_string_value(v), json_string_length(v), 0, &p, &n) == 0) {
    *out = mrb_str_new(mrb, (const char *)p, (mrb_int)n);
    free(p);
    return 1;
  }
  if (strcmp(k, "$endpoint") == 0 && (ep = m31_class(mrb, "Endpoint"))) {
    mrb_value id =
        mrb_str_new(mrb, json_string_value(v), (mrb_int)json_string_length(v));
    *out = mrb_obj_new(mrb, ep, 1, &id);
    return 1;
  }
  return 0;
}

static mrb_value hash_of(mrb_state *mrb, const json_t *j, int depth,
                         from_json *f) {
  mrb_value h;
  if (tagged_of(mrb, j, &h)) return h;
  h = mrb_hash_new_capa(mrb, (mrb_int)json_object_size(j));
  const char *k;
  size_t klen;
  json_t *e;
  json_object_keylen_foreach((json_t *)j, k, klen, e) {
    int ai = mrb_gc_arena_save(mrb);
    mrb_value key = mrb_str_new(mrb, k, (mrb_int)klen);
    mrb_value val = value_of(mrb, e, depth + 1, f);
    if (f->too_deep) return val;
    mrb_hash_set(mrb, h, key, val);
    mrb_gc_arena_restore(mrb, ai);
  }
  return h;
}

static mrb_value value_of(mrb_state *mrb, const json_t *j, int depth,
                          from_json *f) {
  switch (json_typeof(j)) {
  case JSON_NULL:
    return mrb_nil_value();
  case JSON_TRUE:
    return mrb_true_value();
  case JSON_FALSE:
    return mrb_false_value();
  case JSON_INTEGER:
    return mrb_int_value(mrb, json_integer_value(j));
  case JSON_REAL:
    return mrb_float_value(mrb, json_real_value(j));
  case JSON_STRING:
    return mrb_str_new(mrb, json_string_value(j),
                       (mrb_int)json_string_length(j));
  default:
    break;
  }
  if (depth >= RT_JSON_DEPTH_MAX) {
    f->too_deep = 1;
    return mrb_nil_value();
  }
  return json_is_array(j) ? array_of(mrb, j, depth, f)
                          : hash_of(mrb, j, depth, f);
}

static mrb_value from_json_body(mrb_state *mrb, void *ud) {
  from_json *f = ud;
  return value_of(mrb, f->j, 0, f);
}

int rt_json_to_value(mrb_state *mrb, const json_t *j, mrb_value *out,
                     rt_error *err) {
  from_json f = {j, 0};
  mrb_bool failed = FALSE;
  struct RObject *saved = mrb->exc;
  mrb_value v;
  rt_error_clear(err);
  if (!j) {
    *out = mrb_nil_value();
    return 0;
  }
  mrb->exc = NULL;
  v = mrb_protect_error(mrb, from_json_body, &f, &failed);
  if (failed)
    rt_error_from_exc(mrb, v, err);
  else if (f.too_deep)
    rt_error_set(err, "TypeError", "value: nested deeper than %d levels",
                 RT_JSON_DEPTH_MAX);
  mrb->exc = saved;
  if (failed || f.too_deep) return -1;
  *out = v;
  return 0;
}
