/*
 * schema.c — space specs (normalisation, defaults) and the check of object
 * values against them.
 */
#include "store/internal.h"

#include <string.h>

static const char *const TYPE_NAMES[] = {
    "Int", "Float", "String", "Bool", "Bytes", "List", "Map", "Any",
};

static int type_from_name(const char *name) {
  for (size_t i = 0; i < sizeof TYPE_NAMES / sizeof *TYPE_NAMES; i++)
    if (!strcmp(name, TYPE_NAMES[i])) return (int)i;
  return -1;
}

int type_indexable(int t) { return t != T_LIST && t != T_MAP; }

/* [A-Za-z_][A-Za-z0-9_]*, 1..STORE_ATTR_NAME_MAX bytes. */
static int attr_name_ok(const char *n) {
  size_t len = strlen(n);
  if (len == 0 || len > STORE_ATTR_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = n[i];
    int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return 0;
  }
  return 1;
}

static int norm_attrs(const json_t *attrs, json_t *out, store_err *err) {
  const char *name;
  json_t *v;
  char field[160];
  if (!attrs) return 0;
  if (!json_is_object(attrs))
    return err_set(err, STORE_BAD_REQUEST, "attrs",
                   "attrs must be an object of name: type");
  json_object_foreach((json_t *)attrs, name, v) {
    snprintf(field, sizeof field, "attrs.%s", name);
    if (!attr_name_ok(name))
      return err_set(err, STORE_INVALID, field,
                     "attribute names match [A-Za-z_][A-Za-z0-9_]* and "
                     "are at most %d bytes",
                     STORE_ATTR_NAME_MAX);
    if (!json_is_string(v) || type_from_name(json_string_value(v)) < 0)
      return err_set(err, STORE_INVALID, field,
                     "%s must be one of Int, Float, String, Bool, Bytes, "
                     "List, Map, Any",
                     field);
    json_object_set_new(out, name, json_string(json_string_value(v)));
  }
  return 0;
}

static int norm_int(const json_t *opts, const char *name, long lo, long hi,
                    long dflt, json_t *out, store_err *err) {
  json_t *v = json_object_get(opts, name);
  char field[32];
  snprintf(field, sizeof field, "opts.%s", name);
  if (!v) {
    json_object_set_new(out, name, json_integer(dflt));
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi)
    return err_set(err, STORE_INVALID, field,
                   "%s must be an integer in %ld..%ld", field, lo, hi);
  json_object_set_new(out, name, json_integer(json_integer_value(v)));
  return 0;
}

static int norm_opts(const json_t *opts, json_t *out, store_err *err) {
  const char *name;
  json_t *v;
  if (opts && !json_is_object(opts))
    return err_set(err, STORE_BAD_REQUEST, "opts", "opts must be an object");
  json_object_foreach((json_t *)opts, name, v) {
    if (strcmp(name, "partitions") && strcmp(name, "failures") &&
        strcmp(name, "versioning"))
      return err_set(err, STORE_BAD_REQUEST, "opts",
                     "unknown option \"%.100s\"", name);
  }
  if (norm_int(opts, "partitions", 1, 1024, STORE_DEFAULT_PARTITIONS, out,
               err) ||
      norm_int(opts, "failures", 0, 15, STORE_DEFAULT_FAILURES, out, err))
    return -1;
  v = json_object_get(opts, "versioning");
  if (v && !json_is_boolean(v))
    return err_set(err, STORE_INVALID, "opts.versioning",
                   "opts.versioning must be true or false");
  json_object_set_new(out, "versioning", json_boolean(v && json_is_true(v)));
  return 0;
}

int schema_normalize(const json_t *spec, json_t **out, store_err *err) {
  int ret = -1;
  json_t *n = json_object(), *attrs = json_object(), *opts = json_object();
  const char *name;
  json_t *v, *key;
  if (!json_is_object(spec)) {
    err_set(err, STORE_BAD_REQUEST, "", "a space spec must be a JSON object");
    goto Exit;
  }
  if (!json_keys_clean(spec) ||
      !json_keys_clean(json_object_get(spec, "attrs")) ||
      !json_keys_clean(json_object_get(spec, "opts"))) {
    err_set(err, STORE_BAD_REQUEST, "", "a name in the spec holds a NUL");
    goto Exit;
  }
  json_object_foreach((json_t *)spec, name, v) {
    if (strcmp(name, "key") && strcmp(name, "attrs") && strcmp(name, "opts")) {
      err_set(err, STORE_BAD_REQUEST, name, "unknown field \"%.100s\"", name);
      goto Exit;
    }
  }
  key = json_object_get(spec, "key");
  if (key && (!json_is_string(key) || json_string_length(key) == 0 ||
              json_string_length(key) > STORE_ATTR_NAME_MAX)) {
    err_set(err, STORE_INVALID, "key", "key must be a non-empty string");
    goto Exit;
  }
  if (norm_attrs(json_object_get(spec, "attrs"), attrs, err) ||
      norm_opts(json_object_get(spec, "opts"), opts, err))
    goto Exit;
  json_object_set_new(n, "key",
                      json_string(key ? json_string_value(key) : "key"));
  json_object_set(n, "attrs", attrs);
  json_object_set(n, "opts", opts);
  *out = json_incref(n);
  ret = 0;
Exit:
  json_decref(n);
  json_decref(attrs);
  json_decref(opts);
  return ret;
}

int schema_attr_type(const json_t *schema, const char *name) {
  json_t *t = json_object_get(json_object_get(schema, "attrs"), name);
  return t ? type_from_name(json_string_value(t)) : -1;
}

int schema_versioning(const json_t *schema) {
  return json_is_true(
      json_object_get(json_object_get(schema, "opts"), "versioning"));
}

int schema_parse(char *v, size_t n, int rc, const char *space, json_t **out,
                 store_err *err) {
  if (rc < 0)
    return err_set(err, STORE_IO, "", "cannot read the schema of %.100s",
                   space);
  if (rc == 0)
    return err_set(err, STORE_NOT_FOUND, "space", "no space %.100s", space);
  *out = json_loadb(v, n, JSON_ALLOW_NUL, NULL);
  free(v);
  if (!*out)
    return err_set(err, STORE_IO, "", "the schema of %.100s is corrupt", space);
  return 0;
}

/* The group's own writes first; else the committed schema, which only this
 * writer changes, so the cache is exact for it. */
int schema_load_txn(store *s, txn *t, const char *space, json_t **out,
                    store_err *err) {
  kbuf k = {0};
  char *v = NULL;
  size_t n = 0;
  key_make(&k, K_SPACE, space, NULL, NULL);
  int rc = txn_get_overlay(t, k.p, k.n, &v, &n);
  kb_free(&k);
  if (rc == 2) return schema_load(s, space, out, err);
  return schema_parse(v, n, rc, space, out, err);
}
