/*
 * index.c — secondary index entries of main heads: one per indexable
 * attribute and one per label, kept in the same write batch as the head.
 * An entry's key ends with the object key and its value is the object key,
 * so a scan needs no parsing to find the head.
 */
#include "store/internal.h"

#include <string.h>

void index_prefix(kbuf *b, int is_label, const char *space, const char *name) {
  key_make(b, is_label ? K_LABEL : K_INDEX, space, name, "");
}

int index_encode(kbuf *b, int is_label, int t, const json_t *v) {
  if (is_label || t == T_ANY) {
    enc_tagged(b, v);
    return 0;
  }
  switch (t) {
  case T_INT:
    if (!json_is_integer(v)) return -1;
    enc_int(b, json_integer_value(v));
    return 0;
  case T_FLOAT:
    if (!json_is_number(v)) return -1;
    enc_real(b, json_number_value(v));
    return 0;
  case T_STRING:
  case T_BYTES:
    if (!json_is_string(v)) return -1;
    enc_bytes(b, json_string_value(v), json_string_length(v), 1);
    return 0;
  case T_BOOL:
    if (!json_is_boolean(v)) return -1;
    kb_byte(b, json_is_true(v) ? 1 : 0);
    return 0;
  default:
    return -1;
  }
}

/* Stages the puts (del = 0) or deletes (del = 1) of head's entries. */
static void index_apply(txn *t, const json_t *schema, const char *space,
                        const char *key, const json_t *head, int del) {
  kbuf k = {0};
  const char *name;
  json_t *v;
  size_t klen = strlen(key);
  json_object_foreach(json_object_get(head, "attrs"), name, v) {
    int type = schema_attr_type(schema, name);
    if (type < 0 || !type_indexable(type)) continue;
    index_prefix(&k, 0, space, name);
    if (index_encode(&k, 0, type, v)) continue;
    kb_put(&k, key, klen);
    if (del)
      txn_del(t, k.p, k.n);
    else
      txn_put(t, k.p, k.n, key, klen);
  }
  json_object_foreach(json_object_get(head, "labels"), name, v) {
    index_prefix(&k, 1, space, name);
    index_encode(&k, 1, T_ANY, v);
    kb_put(&k, key, klen);
    if (del)
      txn_del(t, k.p, k.n);
    else
      txn_put(t, k.p, k.n, key, klen);
  }
  kb_free(&k);
}

void index_update(txn *t, const json_t *schema, const char *space,
                  const char *key, const json_t *old_head,
                  const json_t *new_head) {
  if (old_head) index_apply(t, schema, space, key, old_head, 1);
  if (new_head) index_apply(t, schema, space, key, new_head, 0);
}
