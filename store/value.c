/*
 * value.c — object bodies: their shape, and each value against its declared
 * type.
 */
#include "store/internal.h"

#include <string.h>

/* 1 when v nests no deeper than `left` more levels. */
static int depth_ok(const json_t *v, int left) {
  size_t i;
  const char *k;
  json_t *x;
  if (!json_is_array(v) && !json_is_object(v)) return 1;
  if (left <= 0) return 0;
  if (json_is_array(v)) {
    json_array_foreach((json_t *)v, i, x) if (!depth_ok(x, left - 1)) return 0;
  } else {
    json_object_foreach((json_t *)v, k, x) if (!depth_ok(x, left - 1)) return 0;
  }
  return 1;
}

int value_fits(int t, const json_t *v) {
  int ok;
  switch (t) {
  case T_INT:
    ok = json_is_integer(v);
    break;
  case T_FLOAT:
    ok = json_is_number(v);
    break;
  case T_STRING:
    ok = json_is_string(v);
    break;
  case T_BOOL:
    ok = json_is_boolean(v);
    break;
  case T_BYTES:
    ok = json_is_string(v) &&
         b64_valid(json_string_value(v), json_string_length(v));
    break;
  case T_LIST:
    ok = json_is_array(v);
    break;
  case T_MAP:
    ok = json_is_object(v);
    break;
  default:
    ok = 1;
  }
  return ok && depth_ok(v, STORE_MAX_DEPTH);
}

int json_keys_clean(const json_t *obj) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    if (json_object_iter_key_len(json_object_key_to_iter(k)) != strlen(k))
      return 0;
  }
  return 1;
}

int body_shape_check(const json_t *body, store_err *err) {
  const char *name;
  json_t *v;
  if (!json_is_object(body))
    return err_set(err, STORE_BAD_REQUEST, "",
                   "the body must be a JSON object");
  if (!json_keys_clean(body))
    return err_set(err, STORE_BAD_REQUEST, "", "a name holds a NUL");
  json_object_foreach((json_t *)body, name, v) {
    if (strcmp(name, "attrs") && strcmp(name, "labels"))
      return err_set(err, STORE_BAD_REQUEST, name, "unknown field \"%.100s\"",
                     name);
    if (!json_is_object(v))
      return err_set(err, STORE_BAD_REQUEST, name, "%s must be an object",
                     name);
    if (!json_keys_clean(v))
      return err_set(err, STORE_INVALID, name, "a name in %s holds a NUL",
                     name);
  }
  return 0;
}

static const char *type_word(int t) {
  static const char *const w[] = {"an Int", "a Float",        "a String",
                                  "a Bool", "Bytes (base64)", "a List",
                                  "a Map",  "a value"};
  return t >= 0 && t <= T_ANY ? w[t] : "a value";
}

static int label_name_ok(const char *n) {
  size_t len = strlen(n);
  if (len == 0 || len > STORE_ATTR_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f) return 0;
  return 1;
}

int body_validate(const json_t *schema, const json_t *attrs,
                  const json_t *labels, store_err *err) {
  const char *name;
  json_t *v;
  char field[160];
  json_object_foreach((json_t *)attrs, name, v) {
    int t = schema_attr_type(schema, name);
    snprintf(field, sizeof field, "attrs.%s", name);
    if (t < 0)
      return err_set(err, STORE_INVALID, field,
                     "%.140s is not declared in the space", field);
    if (!value_fits(T_ANY, v))
      return err_set(err, STORE_INVALID, field, "%.140s nests deeper than %d",
                     field, STORE_MAX_DEPTH);
    if (!value_fits(t, v))
      return err_set(err, STORE_INVALID, field, "%.140s must be %s", field,
                     type_word(t));
  }
  json_object_foreach((json_t *)labels, name, v) {
    snprintf(field, sizeof field, "labels.%s", name);
    if (!label_name_ok(name))
      return err_set(err, STORE_INVALID, field,
                     "label names are 1..%d bytes without control "
                     "characters",
                     STORE_ATTR_NAME_MAX);
    if (!value_fits(T_ANY, v))
      return err_set(err, STORE_INVALID, field, "%.140s nests deeper than %d",
                     field, STORE_MAX_DEPTH);
  }
  return 0;
}
