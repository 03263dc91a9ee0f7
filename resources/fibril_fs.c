/*
 * fibril_fs.c — the `fs` system calls of fibrils (runtime/prelude/fs.rb),
 * run by the node with the store API, never by a worker.
 *
 * Every call answers through its completion exactly once, with
 * {"ok": value} or {"error": {"code", "field", "message"}} (the prelude
 * raises M31::StoreError on the latter). Reads (get, search) run on the
 * calling thread and complete before fsc_call returns. Writes (add_space,
 * put, invoke, delete) go to the store's *_async calls: their completion
 * runs on the store's writer thread once the write is durable, so a fibril
 * resumes only after its write is on disk, and the thread that drives the
 * workers never waits for an fsync.
 */
#include "resources/resources.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FSC_SEARCH_MAX 10000 /* objects one fs.search answers at most */

static const char *code_name(store_code c) {
  switch (c) {
  case STORE_OK:
    return "ok";
  case STORE_BAD_REQUEST:
    return "bad_request";
  case STORE_NOT_FOUND:
    return "not_found";
  case STORE_CONFLICT:
    return "conflict";
  case STORE_PRECONDITION:
    return "precondition";
  case STORE_INVALID:
    return "invalid";
  case STORE_IO:
    break;
  }
  return "io";
}

json_t *fsc_error(const store_err *e) {
  return json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code_name(e->code),
                   "field", e->field, "message", e->detail);
}

json_t *fsc_ok(json_t *value) {
  return json_pack("{s:o}", "ok", value ? value : json_null());
}

static void fail(fsc_done_fn done, void *ud, store_code code, const char *field,
                 const char *msg) {
  store_err e = {.code = code};
  snprintf(e.field, sizeof e.field, "%s", field);
  snprintf(e.detail, sizeof e.detail, "%s", msg);
  done(ud, fsc_error(&e));
}

int fsc_pred_text(const json_t *v, char *buf, size_t len) {
  int n;
  switch (json_typeof(v)) {
  case JSON_STRING:
    n = snprintf(buf, len, "%s", json_string_value(v));
    break;
  case JSON_INTEGER:
    n = snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    break;
  case JSON_REAL:
    n = snprintf(buf, len, "%.17g", json_real_value(v));
    break;
  case JSON_TRUE:
    n = snprintf(buf, len, "true");
    break;
  case JSON_FALSE:
    n = snprintf(buf, len, "false");
    break;
  default:
    return -1;
  }
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

int fsc_invoke_split(const char *keyname, const json_t *rec, const char **key,
                     json_t **body, store_err *err) {
  json_t *attrs, *k = json_object_get(rec, keyname), *v;
  const char *name;
  memset(err, 0, sizeof *err);
  *key = NULL, *body = NULL;
  if (!json_is_object(rec)) {
    err->code = STORE_BAD_REQUEST;
    snprintf(err->detail, sizeof err->detail, "a record must be a Hash");
    return -1;
  }
  if (!json_is_string(k)) {
    err->code = STORE_BAD_REQUEST;
    snprintf(err->field, sizeof err->field, "%s", keyname);
    snprintf(err->detail, sizeof err->detail,
             "the record needs its key %s as a String", keyname);
    return -1;
  }
  if (!(attrs = json_object())) return -1;
  json_object_foreach((json_t *)rec, name, v) {
    if (v != k) json_object_set(attrs, name, v);
  }
  *key = json_string_value(k);
  *body = json_pack("{s:o}", "attrs", attrs);
  return 0;
}

/* ----------------------------------------------------------- the calls */

/* What a write's store completion needs. */
typedef struct wctx {
  fsc_done_fn done;
  void *ud;
  int is_delete;
} wctx;

static void written(void *arg, store_result *res) {
  wctx *w = arg;
  json_t *v;
  if (res->rc == 0)
    v = fsc_ok(w->is_delete ? json_true() : res->out);
  else if (w->is_delete && res->err.code == STORE_NOT_FOUND &&
           strcmp(res->err.field, "key") == 0)
    v = fsc_ok(json_false());
  else
    v = fsc_error(&res->err);
  if (res->rc != 0) json_decref(res->out);
  w->done(w->ud, v);
  free(w);
}

static wctx *wctx_new(fsc_done_fn done, void *ud) {
  wctx *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->done = done, w->ud = ud;
  return w;
}

static void call_get(store *s, const char *space, const char *key,
                     fsc_done_fn done, void *ud) {
  json_t *out;
  store_err e = {0};
  if (store_object_get(s, space, key, NULL, 0, &out, &e) == 0)
    done(ud, fsc_ok(out));
  else if (e.code == STORE_NOT_FOUND && strcmp(e.field, "key") == 0)
    done(ud, fsc_ok(NULL));
  else
    done(ud, fsc_error(&e));
}

/* The key attribute's name of space into *schema (new), or -1 with e. */
static const char *space_key(store *s, const char *space, json_t **schema,
                             store_err *e) {
  if (store_space_get(s, space, schema, e) != 0) return NULL;
  return json_string_value(json_object_get(*schema, "key"));
}

static void call_invoke(store *s, const char *space, json_t *rec,
                        fsc_done_fn done, void *ud) {
  json_t *schema, *body;
  store_err e = {0};
  const char *keyname = space_key(s, space, &schema, &e), *key;
  if (!keyname) {
    done(ud, fsc_error(&e));
    return;
  }
  if (fsc_invoke_split(keyname, rec, &key, &body, &e) != 0) {
    json_decref(schema);
    done(ud, fsc_error(&e));
    return;
  }
  store_object_patch_async(s, space, key, body, NULL, written,
                           wctx_new(done, ud));
  json_decref(body);
  json_decref(schema);
}

/* fs.incr_many [space, keyattr, {key: {attr: n, ...}, ...}]: the combined
 * increments of one fibril (runtime/prelude/fs.rb), applied as one store
 * operation; answers {"applied": N}. */
static void call_incr_many(store *s, const char *space, const char *keyattr,
                           json_t *recs, fsc_done_fn done, void *ud) {
  json_t *schema;
  store_err e = {0};
  const char *keyname = space_key(s, space, &schema, &e);
  if (!keyname) {
    done(ud, fsc_error(&e));
    return;
  }
  if (!keyattr || strcmp(keyattr, keyname) != 0 || !json_is_object(recs)) {
    fail(done, ud, STORE_INVALID, keyattr ? keyattr : "",
         "the record names no key attribute of the space");
    json_decref(schema);
    return;
  }
  fsc_incr_submit(s, space, recs, done, ud); /* fibril_incr.c */
  json_decref(schema);
}

/* 1 when every condition of conds other than skip holds on obj's attrs. */
static int matches(const json_t *obj, const json_t *conds, const char *skip) {
  json_t *attrs = json_object_get(obj, "attrs"), *v;
  const char *k;
  json_object_foreach((json_t *)conds, k, v) {
    json_t *a = json_object_get(attrs, k);
    if (strcmp(k, skip) == 0) continue;
    if (!a) return 0;
    if (json_is_number(a) && json_is_number(v)) {
      if (json_number_value(a) != json_number_value(v)) return 0;
    } else if (!json_equal(a, v)) {
      return 0;
    }
  }
  return 1;
}

static void call_search(store *s, const char *space, json_t *conds,
                        fsc_done_fn done, void *ud) {
  json_t *schema, *items, *v;
  store_err e = {0};
  const char *keyname, *k;
  size_t n = json_object_size(conds), i = 0;
  if (!json_is_object(conds)) {
    fail(done, ud, STORE_BAD_REQUEST, "", "conditions must be a Hash");
    return;
  }
  if (!(keyname = space_key(s, space, &schema, &e))) {
    done(ud, fsc_error(&e));
    return;
  }
  items = json_array();
  v = json_object_get(conds, keyname);
  if (v) { /* the key names at most one record: read it */
    json_t *obj;
    if (!json_is_string(v)) {
      fail(done, ud, STORE_BAD_REQUEST, keyname, "a key is a String");
      goto Exit;
    }
    if (store_object_get(s, space, json_string_value(v), NULL, 0, &obj, &e) ==
        0) {
      if (matches(obj, conds, keyname)) json_array_append(items, obj);
      json_decref(obj);
    } else if (!(e.code == STORE_NOT_FOUND && strcmp(e.field, "key") == 0)) {
      done(ud, fsc_error(&e));
      goto Exit;
    }
    done(ud, fsc_ok(json_incref(items)));
    goto Exit;
  }
  store_pred *preds = calloc(n ? n : 1, sizeof *preds);
  char(*texts)[256] = calloc(n ? n : 1, sizeof *texts);
  char cursor[512] = "";
  if (!preds || !texts) abort();
  json_object_foreach(conds, k, v) {
    if (fsc_pred_text(v, texts[i], sizeof texts[i]) != 0) {
      store_err pe = {.code = STORE_BAD_REQUEST};
      snprintf(pe.field, sizeof pe.field, "%s", k);
      snprintf(pe.detail, sizeof pe.detail,
               "a condition is a String, Integer, Float or Boolean");
      done(ud, fsc_error(&pe));
      free(preds), free(texts);
      goto Exit;
    }
    preds[i] = (store_pred){.name = k, .op = STORE_OP_EQ, .value = texts[i]};
    i++;
  }
  for (;;) {
    store_query q = {.preds = preds,
                     .npreds = n,
                     .limit = 1000,
                     .cursor = cursor[0] ? cursor : NULL};
    json_t *page;
    uint64_t kr;
    if (store_query_run(s, space, &q, &page, &kr, &e) != 0) {
      done(ud, fsc_error(&e));
      free(preds), free(texts);
      goto Exit;
    }
    json_array_extend(items, json_object_get(page, "items"));
    const char *next = json_string_value(json_object_get(page, "next"));
    snprintf(cursor, sizeof cursor, "%s", next ? next : "");
    json_decref(page);
    if (!next || json_array_size(items) >= FSC_SEARCH_MAX) break;
  }
  free(preds), free(texts);
  done(ud, fsc_ok(json_incref(items)));
Exit:
  json_decref(items);
  json_decref(schema);
}

void fsc_call(store *s, const char *op, const json_t *args, fsc_done_fn done,
              void *ud) {
  const char *a0 = json_string_value(json_array_get(args, 0));
  const char *a1 = json_string_value(json_array_get(args, 1));
  json_t *j1 = json_array_get(args, 1), *j2 = json_array_get(args, 2);
  store_err e = {0};
  size_t n = json_array_size(args);
  if (!a0) {
    fail(done, ud, STORE_BAD_REQUEST, "space", "a space name is a String");
    return;
  }
  if (store_name_check(a0, "space", &e) != 0) {
    done(ud, fsc_error(&e));
    return;
  }
  if (strcmp(op, "add_space") == 0 && n == 2 && json_is_object(j1)) {
    wctx *w = wctx_new(done, ud);
    store_space_put_async(s, a0, j1, written, w);
  } else if (strcmp(op, "put") == 0 && n == 3 && a1 && json_is_object(j2)) {
    store_object_put_async(s, a0, a1, j2, NULL, written, wctx_new(done, ud));
  } else if (strcmp(op, "get") == 0 && n == 2 && a1) {
    call_get(s, a0, a1, done, ud);
  } else if (strcmp(op, "invoke") == 0 && n == 2) {
    call_invoke(s, a0, j1, done, ud);
  } else if (strcmp(op, "versions") == 0 && n == 3 && a1) {
    json_t *out;
    const char *branch = json_string_value(j2);
    if (store_versions_list(s, a0, a1, branch, &out, &e) == 0)
      done(ud, fsc_ok(out));
    else
      done(ud, fsc_error(&e));
  } else if (strcmp(op, "branches") == 0 && n == 2 && a1) {
    json_t *out;
    if (store_branch_list(s, a0, a1, &out, &e) == 0)
      done(ud, fsc_ok(out));
    else
      done(ud, fsc_error(&e));
  } else if (strcmp(op, "incr_many") == 0 && n == 3) {
    call_incr_many(s, a0, a1, j2, done, ud);
  } else if (strcmp(op, "search") == 0 && n == 2) {
    call_search(s, a0, j1, done, ud);
  } else if (strcmp(op, "delete") == 0 && n == 2 && a1) {
    wctx *w = wctx_new(done, ud);
    w->is_delete = 1;
    store_object_delete_async(s, a0, a1, NULL, written, w);
  } else {
    fail(done, ud, STORE_BAD_REQUEST, "", "bad arguments to an fs call");
  }
}
