/*
 * patch.c — PATCH: atomic updates of one record ($incr, $append, $max,
 * $min, $unset, plain sets; labels merge), and of many records of one space
 * in one operation (store_object_patch_many). Runs in the writer, so the
 * read of the current head and the write of the new one cannot interleave
 * with another write.
 */
#include "store/internal.h"

#include <math.h>
#include <string.h>

typedef enum { NUM_INCR, NUM_MAX, NUM_MIN } num_op;

static int bad(store_err *err, const char *field, const char *what) {
  return err_set(err, STORE_INVALID, field, "%.140s: %s", field, what);
}

/* Integer arithmetic; *res is new. */
static int num_int(num_op o, json_int_t a, json_int_t b, json_t **res,
                   const char *field, store_err *err) {
  long long r;
  if (o == NUM_INCR) {
    if (__builtin_add_overflow((long long)a, (long long)b, &r))
      return bad(err, field, "$incr overflows a 64-bit integer");
  } else {
    r = (o == NUM_MAX) == (a > b) ? a : b;
  }
  *res = json_integer((json_int_t)r);
  return 0;
}

/* Real arithmetic on numbers a (current) and b (argument); *res is new. */
static int num_real(num_op o, const json_t *a, const json_t *b, json_t **res,
                    const char *field, store_err *err) {
  double x = json_number_value(a), y = json_number_value(b);
  if (o == NUM_INCR) {
    if (!isfinite(x + y)) return bad(err, field, "$incr overflows a Float");
    *res = json_real(x + y);
  } else {
    *res = json_deep_copy((o == NUM_MAX) == (x > y) ? a : b);
  }
  return 0;
}

static int op_numeric(int t, num_op o, json_t *attrs, const char *name,
                      const json_t *arg, const char *field, store_err *err) {
  json_t *cur = json_object_get(attrs, name), *zero = json_integer(0);
  json_t *res = NULL;
  int rc;
  if (!cur) cur = zero;
  if (t != T_INT && t != T_FLOAT && t != T_ANY)
    rc = bad(err, field, "this operation needs an Int or a Float");
  else if (!json_is_number(arg) || (t == T_INT && !json_is_integer(arg)))
    rc = bad(err, field,
             "the operand must be a number of the attribute's "
             "type");
  else if (!json_is_number(cur))
    rc = bad(err, field, "the current value is not a number");
  else if (json_is_integer(cur) && json_is_integer(arg) && t != T_FLOAT)
    rc = num_int(o, json_integer_value(cur), json_integer_value(arg), &res,
                 field, err);
  else
    rc = num_real(o, cur, arg, &res, field, err);
  if (rc == 0 && o == NUM_INCR && t == T_FLOAT && json_is_integer(res)) {
    json_t *r = json_real((double)json_integer_value(res));
    json_decref(res);
    res = r;
  }
  if (rc == 0) json_object_set_new(attrs, name, res);
  json_decref(zero);
  return rc;
}

static int op_append(int t, json_t *attrs, const char *name, const json_t *arg,
                     const char *field, store_err *err) {
  json_t *cur = json_object_get(attrs, name);
  if (t != T_LIST && t != T_ANY) return bad(err, field, "$append needs a List");
  if (cur && !json_is_array(cur))
    return bad(err, field, "$append needs a List");
  if (!cur) {
    cur = json_array();
    json_object_set_new(attrs, name, cur);
  }
  json_array_append_new(cur, json_deep_copy(arg));
  return 0;
}

/* Applies {"$op": arg} to attribute `name` of attrs (a private copy). */
static int op_apply(int t, json_t *attrs, const char *name, const json_t *v,
                    store_err *err) {
  char field[160];
  const char *op = "";
  json_t *arg = NULL;
  snprintf(field, sizeof field, "attrs.%s", name);
  if (json_object_size(v) != 1)
    return bad(err, field, "an operation is one {\"$op\": value}");
  json_object_foreach((json_t *)v, op, arg) break;
  if (!strcmp(op, "$incr"))
    return op_numeric(t, NUM_INCR, attrs, name, arg, field, err);
  if (!strcmp(op, "$max"))
    return op_numeric(t, NUM_MAX, attrs, name, arg, field, err);
  if (!strcmp(op, "$min"))
    return op_numeric(t, NUM_MIN, attrs, name, arg, field, err);
  if (!strcmp(op, "$append")) return op_append(t, attrs, name, arg, field, err);
  if (!strcmp(op, "$unset")) {
    if (!json_is_true(arg)) return bad(err, field, "$unset takes true");
    json_object_del(attrs, name);
    return 0;
  }
  return bad(err, field,
             "unknown operation (use $incr, $append, $max, "
             "$min or $unset)");
}

/* 1 when v is an operation: an object with a member named "$...". */
static int is_op(const json_t *v) {
  const char *k;
  json_t *x;
  if (!json_is_object(v)) return 0;
  json_object_foreach((json_t *)v, k, x) if (k[0] == '$') return 1;
  return 0;
}

static int merge(const json_t *schema, const json_t *body, json_t *attrs,
                 json_t *labels, store_err *err) {
  const char *name;
  json_t *v;
  char field[160];
  json_object_foreach(json_object_get(body, "attrs"), name, v) {
    int t = schema_attr_type(schema, name);
    snprintf(field, sizeof field, "attrs.%s", name);
    if (t < 0)
      return err_set(err, STORE_INVALID, field,
                     "%.140s is not declared in the space", field);
    if (is_op(v)) {
      if (op_apply(t, attrs, name, v, err)) return -1;
    } else {
      json_object_set_new(attrs, name, json_deep_copy(v));
    }
  }
  json_object_foreach(json_object_get(body, "labels"), name, v) {
    if (json_is_null(v))
      json_object_del(labels, name);
    else
      json_object_set_new(labels, name, json_deep_copy(v));
  }
  return 0;
}

/* Patches (op->space, op->key) on main or op->w's branch against the
 * space's schema (borrowed), as one PATCH does; sets op->out. */
static int patch_one(txn *t, wop *op, const json_t *schema) {
  json_t *old = NULL, *attrs = NULL, *labels = NULL;
  const char *branch = op->w ? op->w->branch : NULL;
  int ret = -1;
  if (object_head_load(t, op, branch, &old)) goto Exit;
  attrs = old ? json_deep_copy(json_object_get(old, "attrs")) : NULL;
  labels = old ? json_deep_copy(json_object_get(old, "labels")) : NULL;
  if (!attrs) attrs = json_object();
  if (!labels) labels = json_object();
  if (merge(schema, op->body, attrs, labels, &op->err) ||
      body_validate(schema, attrs, labels, &op->err))
    goto Exit;
  ret = object_write(t, op, schema, branch, old, attrs, labels);
Exit:
  json_decref(old);
  json_decref(attrs);
  json_decref(labels);
  return ret;
}

int patch_apply(store *s, txn *t, wop *op) {
  json_t *schema = NULL;
  if (schema_load_txn(s, t, op->space, &schema, &op->err)) return -1;
  int ret = patch_one(t, op, schema);
  json_decref(schema);
  return ret;
}

/* Names the key of a failed patch in err: field "<key>.<field>" (or
 * "<key>"), detail "<key>: <detail>". Built in a kbuf, so a long key
 * is cut at the end of the field rather than overflowing it. */
static void err_key_prefix(store_err *err, const char *key) {
  kbuf b = {0};
  kb_put(&b, key, strlen(key));
  if (err->field[0]) {
    kb_byte(&b, '.');
    kb_put(&b, err->field, strlen(err->field));
  }
  kb_byte(&b, 0);
  snprintf(err->field, sizeof err->field, "%s", b.p);
  b.n = 0;
  kb_put(&b, key, strlen(key) < 100 ? strlen(key) : 100);
  kb_put(&b, ": ", 2);
  kb_put(&b, err->detail, strlen(err->detail));
  kb_byte(&b, 0);
  snprintf(err->detail, sizeof err->detail, "%s", b.p);
  kb_free(&b);
}

/*
 * Every patch of op->body ({"<key>": patch}) in this one operation: the
 * schema is loaded once, and each key goes through patch_one as a PATCH
 * of its own would (head, merge, validation, object_write with its
 * indexes and count), each seeing the ones before it. Their writes are
 * the op's pending writes, so the first failure drops all of them
 * (group_run aborts the op) and the others of the group stand.
 */
int patch_many_apply(store *s, txn *t, wop *op) {
  json_t *schema = NULL, *body;
  const char *key;
  size_t n = 0;
  int ret = -1;
  if (schema_load_txn(s, t, op->space, &schema, &op->err)) return -1;
  json_object_foreach(op->body, key, body) {
    /* a view of op for one key: everything in it is borrowed */
    wop one = {.kind = OP_OBJECT_PATCH,
               .space = op->space,
               .key = (char *)key,
               .body = body};
    int rc = patch_one(t, &one, schema);
    json_decref(one.out);
    if (rc != 0) {
      op->err = one.err;
      err_key_prefix(&op->err, key);
      goto Exit;
    }
    n++;
  }
  op->out = json_pack("{s:I}", "applied", (json_int_t)n);
  ret = 0;
Exit:
  json_decref(schema);
  return ret;
}

/* Names, shapes, before anything is queued; a key's failure names it. */
static int patches_check(const char *space, const json_t *patches,
                         store_err *err) {
  const char *key;
  json_t *body;
  if (store_name_check(space, "space", err)) return -1;
  if (!json_is_object(patches))
    return err_set(err, STORE_BAD_REQUEST, "",
                   "patches must be a JSON object of key: patch");
  if (!json_keys_clean(patches))
    return err_set(err, STORE_BAD_REQUEST, "", "a key holds a NUL");
  json_object_foreach((json_t *)patches, key, body) {
    if (store_name_check(key, "key", err) || body_shape_check(body, err)) {
      err_key_prefix(err, key);
      return -1;
    }
  }
  return 0;
}

void store_object_patch_many_async(store *s, const char *space,
                                   const json_t *patches, store_done_fn cb,
                                   void *ud) {
  store_err err = {0};
  if (patches_check(space, patches, &err)) {
    db_fail_now(cb, ud, &err);
    return;
  }
  db_submit(s, wop_new(OP_OBJECT_PATCH_MANY, space, NULL, NULL, patches, NULL,
                       cb, ud));
}

int store_object_patch_many(store *s, const char *space, const json_t *patches,
                            json_t **out, store_err *err) {
  db_waiter wt;
  db_waiter_init(&wt);
  store_object_patch_many_async(s, space, patches, db_waiter_done, &wt);
  return db_waiter_wait(&wt, out, NULL, err);
}
