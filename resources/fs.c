/*
 * fs.c — /fs: spaces, objects, their versions and branches, and search.
 * Each handler checks names and parameters, calls the store once, and shapes
 * the answer (status, ETag, Location). The store validates bodies.
 *
 * Writes park their request (req_suspend) while the store's writer makes
 * them durable, so a pool thread is never held across an fsync and one
 * group commit can gather every connection's write, not one per thread.
 */
#include "resources/resources.h"
#include "util/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FS_LIMIT_DEFAULT 100
#define FS_LIMIT_MAX 1000
#define FS_MAX_PREDS 32
#define FS_MAX_FIELDS 64

static const int status_of_code[] = {
    [STORE_OK] = 200,       [STORE_BAD_REQUEST] = 400,  [STORE_NOT_FOUND] = 404,
    [STORE_CONFLICT] = 409, [STORE_PRECONDITION] = 412, [STORE_INVALID] = 422,
    [STORE_IO] = 500,
};

static void reply_store_err(m31_req *r, const store_err *e) {
  reply_problem(r, status_of_code[e->code], e->field[0] ? e->field : NULL, "%s",
                e->detail);
}

/* Checks capture i as a name of kind `what`; on failure has replied 400. */
static int name_param_or_reply(m31_req *r, int i, const char *what,
                               const char **out) {
  store_err err = {0};

  *out = req_param(r, i);
  if (!*out || store_name_check(*out, what, &err) != 0) {
    reply_store_err(r, &err);
    return -1;
  }
  return 0;
}

/* ?limit=, 1..FS_LIMIT_MAX, default FS_LIMIT_DEFAULT. */
static int limit_or_reply(m31_req *r, size_t *out) {
  const char *s = req_query(r, "limit");
  uint64_t v;

  *out = FS_LIMIT_DEFAULT;
  if (!s) return 0;
  if (u64_parse(s, &v) != 0 || v < 1 || v > FS_LIMIT_MAX) {
    reply_problem(r, 400, "limit", "limit must be an integer from 1 to %d",
                  FS_LIMIT_MAX);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

/* ?branch=: NULL for main (absent or "main"), else a checked name. */
static int branch_or_reply(m31_req *r, const char **out) {
  const char *b = req_query(r, "branch");
  store_err err = {0};

  *out = NULL;
  if (!b || strcmp(b, "main") == 0) return 0;
  if (store_name_check(b, "branch", &err) != 0) {
    reply_store_err(r, &err);
    return -1;
  }
  *out = b;
  return 0;
}

/* If-Match: `*` (must exist) or one strong tag `"N"`. */
static int if_match_or_reply(m31_req *r, store_wopts *w) {
  const char *h = req_header(r, "If-Match");
  char digits[32];
  size_t n;

  if (!h) return 0;
  while (*h == ' ')
    h++;
  n = strlen(h);
  while (n > 0 && h[n - 1] == ' ')
    n--;
  w->has_if_match = 1;
  if (n == 1 && h[0] == '*') return 0;
  if (n >= 3 && n - 2 < sizeof digits && h[0] == '"' && h[n - 1] == '"') {
    memcpy(digits, h + 1, n - 2);
    digits[n - 2] = '\0';
    if (u64_parse(digits, &w->if_match) == 0 && w->if_match > 0) return 0;
  }
  reply_problem(r, 400, "If-Match",
                "If-Match must be * or one version tag such as \"3\"");
  return -1;
}

static int wopts_or_reply(m31_req *r, store_wopts *w) {
  memset(w, 0, sizeof *w);
  if (branch_or_reply(r, &w->branch) != 0) return -1;
  return if_match_or_reply(r, w);
}

/* Percent-encodes all but RFC 3986 unreserved bytes. Returns malloc'ed. */
static char *segment_escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(strlen(s) * 3 + 1), *o = out;

  if (!out) abort();
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
      *o++ = (char)*p;
    } else {
      *o++ = '%';
      *o++ = hex[*p >> 4];
      *o++ = hex[*p & 15];
    }
  }
  *o = '\0';
  return out;
}

/* Sets Location to /fs/{space}[/{key}][?branch=b], each part escaped. */
static void set_location(m31_req *r, const char *space, const char *key,
                         const char *branch) {
  char *es = segment_escape(space);
  char *ek = key ? segment_escape(key) : NULL;
  char *eb = branch ? segment_escape(branch) : NULL;
  size_t n = strlen(es) + (ek ? strlen(ek) : 0) + (eb ? strlen(eb) : 0) + 32;
  char *loc = malloc(n);

  if (!loc) abort();
  snprintf(loc, n, "/fs/%s%s%s%s%s", es, ek ? "/" : "", ek ? ek : "",
           eb ? "?branch=" : "", eb ? eb : "");
  reply_header(r, "Location", loc);
  free(loc);
  free(es);
  free(ek);
  free(eb);
}

/* The strong entity tag of an object: its version, quoted. */
static void etag_format(const json_t *obj, char *buf, size_t n) {
  snprintf(buf, n, "\"%" JSON_INTEGER_FORMAT "\"",
           json_integer_value(json_object_get(obj, "version")));
}

/* Answers a written object: 201 + Location when created, ETag always. */
static void reply_object(m31_req *r, json_t *obj, int created,
                         const char *space, const char *key,
                         const char *branch) {
  char tag[32];

  etag_format(obj, tag, sizeof tag);
  reply_header(r, "ETag", tag);
  if (created) set_location(r, space, key, branch);
  reply_json(r, created ? 201 : 200, obj);
}

/* ------------------------------------------------------------ parked writes */

typedef struct parked_write parked_write;

/* Shapes the answer of a write that succeeded. */
typedef void (*write_answer_fn)(m31_req *r, parked_write *pw);

/*
 * What a parked write carries from its handler to its answer. The strings
 * are borrowed from the request (or from body), which outlive the parking.
 */
struct parked_write {
  m31_req *r;
  write_answer_fn answer;
  const char *space, *key, *branch;
  json_t *body;     /* refcount: own, or NULL; keeps `branch` alive */
  store_result res; /* the store's result; res.out is ours */
};

/* The store's completion, on its writer thread: keep the result, wake the
 * request. Nothing else here: every later write waits for this. */
static void write_done(void *ud, store_result *res) {
  parked_write *pw = ud;

  pw->res = *res;
  res->out = NULL;
  req_resume(pw->r);
}

/* Back on a pool thread: answer, free. */
static void write_answer(m31_req *r, void *arg) {
  parked_write *pw = arg;

  if (pw->res.rc != 0)
    reply_store_err(r, &pw->res.err);
  else
    pw->answer(r, pw);
  json_decref(pw->res.out);
  json_decref(pw->body);
  free(pw);
}

/* Parks r; pass the result to the store call as (write_done, pw), and
 * touch pw no more after that call. */
static parked_write *write_park(m31_req *r, write_answer_fn answer,
                                const char *space, const char *key,
                                const char *branch) {
  parked_write *pw = calloc(1, sizeof *pw);

  if (!pw) abort();
  pw->r = r;
  pw->answer = answer;
  pw->space = space;
  pw->key = key;
  pw->branch = branch;
  req_suspend(r, write_answer, pw);
  return pw;
}

/* The result's object, taken (refcount: new). */
static json_t *write_out_take(parked_write *pw) {
  json_t *o = pw->res.out;

  pw->res.out = NULL;
  return o;
}

static void answer_object(m31_req *r, parked_write *pw) {
  reply_object(r, write_out_take(pw), pw->res.created, pw->space, pw->key,
               pw->branch);
}

static void answer_branch(m31_req *r, parked_write *pw) {
  reply_object(r, write_out_take(pw), 1, pw->space, pw->key, pw->branch);
}

static void answer_space(m31_req *r, parked_write *pw) {
  if (pw->res.created) set_location(r, pw->space, NULL, NULL);
  reply_json(r, pw->res.created ? 201 : 200, write_out_take(pw));
}

static void answer_deleted(m31_req *r, parked_write *pw) {
  (void)pw;
  reply_empty(r, 204);
}

/* ---------------------------------------------------------------- spaces */

void fs_spaces_list(m31_req *r) {
  const char *after = req_query(r, "cursor");
  store_err err = {0};
  json_t *items = NULL, *last;
  size_t limit;
  int more = 0;

  if (limit_or_reply(r, &limit) != 0) return;
  /* The cursor is the last name of the previous page: names are opaque
   * enough and need no encoding of their own. */
  if (after && store_name_check(after, "cursor", &err) != 0) {
    reply_store_err(r, &err);
    return;
  }
  if (store_space_list(resources_store(), after, limit, &items, &more, &err) !=
      0) {
    reply_store_err(r, &err);
    return;
  }
  last = json_array_get(items, json_array_size(items) - 1);
  reply_json(
      r, 200,
      json_pack("{s:o, s:O}", "items", items, "next",
                more && last ? json_object_get(last, "name") : json_null()));
}

void fs_space_put(m31_req *r) {
  const char *space;
  parked_write *pw;
  json_t *spec = NULL;

  if (name_param_or_reply(r, 0, "space", &space) != 0) return;
  if (req_json_or_reply(r, &spec) != 0) return;
  pw = write_park(r, answer_space, space, NULL, NULL);
  store_space_put_async(resources_store(), space, spec, write_done, pw);
  json_decref(spec);
}

void fs_space_delete(m31_req *r) {
  const char *space;
  parked_write *pw;

  if (name_param_or_reply(r, 0, "space", &space) != 0) return;
  pw = write_park(r, answer_deleted, space, NULL, NULL);
  store_space_delete_async(resources_store(), space, write_done, pw);
}

/* ---------------------------------------------------------------- search */

/* Query parameters that shape the answer rather than select objects. */
static int is_reserved_param(const char *name) {
  static const char *const reserved[] = {"schema", "limit", "cursor",
                                         "fields", "count", "fmt"};
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
    if (strcmp(name, reserved[i]) == 0) return 1;
  return 0;
}

/*
 * Reads one condition from a parameter name: [label.]name[.op]. The name is
 * copied into *owned (malloc'ed) because the suffix is cut off.
 */
static int pred_parse(const char *param, const char *value, store_pred *p,
                      char **owned) {
  static const struct {
    const char *suffix;
    store_op op;
  } ops[] = {{"eq", STORE_OP_EQ},   {"gt", STORE_OP_GT},
             {"gte", STORE_OP_GTE}, {"lt", STORE_OP_LT},
             {"lte", STORE_OP_LTE}, {"prefix", STORE_OP_PREFIX}};
  char *name, *dot;

  memset(p, 0, sizeof *p);
  if (strncmp(param, "label.", 6) == 0) {
    p->is_label = 1;
    param += 6;
  }
  name = *owned = strdup(param);
  if (!name) abort();
  p->op = STORE_OP_EQ;
  dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof ops / sizeof *ops; i++) {
    if (strcmp(dot + 1, ops[i].suffix) == 0) {
      p->op = ops[i].op;
      *dot = '\0';
      break;
    }
  }
  p->name = name;
  p->value = value;
  return *name ? 0 : -1;
}

/* Splits ?fields=a,b,c into names (copied into one malloc'ed buffer). */
static int fields_parse(const char *s, char **buf, const char **names,
                        size_t *n) {
  char *save = NULL, *tok;

  *n = 0;
  *buf = strdup(s);
  if (!*buf) abort();
  for (tok = strtok_r(*buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (*n == FS_MAX_FIELDS) return -1;
    names[(*n)++] = tok;
  }
  return 0;
}

/* ?count=true|false; a bare ?count means true. */
static int count_or_reply(m31_req *r, int *out) {
  const char *s = req_query(r, "count");

  *out = 0;
  if (!s) return 0;
  if (!*s || strcmp(s, "true") == 0)
    *out = 1;
  else if (strcmp(s, "false") != 0) {
    reply_problem(r, 400, "count", "count must be true or false");
    return -1;
  }
  return 0;
}

/* Fills the conditions from the query; on failure has replied 400. */
static int preds_or_reply(m31_req *r, store_pred *preds, char **owned,
                          size_t *n) {
  const char *name, *value;

  *n = 0;
  for (size_t i = 0; i < req_query_count(r); i++) {
    req_query_at(r, i, &name, &value);
    if (is_reserved_param(name)) continue;
    if (*n == FS_MAX_PREDS) {
      reply_problem(r, 400, name, "a search takes at most %d conditions",
                    FS_MAX_PREDS);
      return -1;
    }
    if (pred_parse(name, value, &preds[*n], &owned[*n]) != 0) {
      (*n)++;
      reply_problem(r, 400, name, "%s does not name an attribute or label",
                    name);
      return -1;
    }
    (*n)++;
  }
  return 0;
}

static void fs_search(m31_req *r, const char *space) {
  store_pred preds[FS_MAX_PREDS];
  char *owned[FS_MAX_PREDS] = {0}, *fields_buf = NULL;
  const char *fields[FS_MAX_FIELDS];
  const char *fields_param = req_query(r, "fields");
  store_query q = {0};
  store_err err = {0};
  json_t *out = NULL;
  uint64_t keys_read = 0;
  char hdr[32];

  if (preds_or_reply(r, preds, owned, &q.npreds) != 0) goto Exit;
  if (limit_or_reply(r, &q.limit) != 0) goto Exit;
  if (count_or_reply(r, &q.count_only) != 0) goto Exit;
  if (fields_param &&
      fields_parse(fields_param, &fields_buf, fields, &q.nfields) != 0) {
    reply_problem(r, 400, "fields", "fields names at most %d attributes",
                  FS_MAX_FIELDS);
    goto Exit;
  }
  q.preds = preds;
  q.cursor = req_query(r, "cursor");
  q.fields = fields_param ? fields : NULL;
  if (store_query_run(resources_store(), space, &q, &out, &keys_read, &err) !=
      0) {
    reply_store_err(r, &err);
    goto Exit;
  }
  snprintf(hdr, sizeof hdr, "%" PRIu64, keys_read);
  reply_header(r, "M31-Keys-Read", hdr);
  reply_json(r, 200, out);
Exit:
  for (size_t i = 0; i < FS_MAX_PREDS; i++)
    free(owned[i]);
  free(fields_buf);
}

void fs_space_get(m31_req *r) {
  const char *space;
  store_err err = {0};
  json_t *out = NULL;

  if (name_param_or_reply(r, 0, "space", &space) != 0) return;
  if (!req_query(r, "schema") && watch_wanted(r)) {
    watch_fs(r, space); /* resources/watch.c */
    return;
  }
  if (!req_query(r, "schema")) {
    fs_search(r, space);
    return;
  }
  if (store_space_get(resources_store(), space, &out, &err) != 0)
    reply_store_err(r, &err);
  else
    reply_json(r, 200, out);
}

/* --------------------------------------------------------------- objects */

/* The {space} and {key} captures, checked. */
static int space_key_or_reply(m31_req *r, const char **space,
                              const char **key) {
  if (name_param_or_reply(r, 0, "space", space) != 0) return -1;
  return name_param_or_reply(r, 1, "key", key);
}

typedef void (*object_write_fn)(store *, const char *, const char *,
                                const json_t *, const store_wopts *,
                                store_done_fn, void *);

static void object_write(m31_req *r, object_write_fn write) {
  const char *space, *key;
  parked_write *pw;
  store_wopts w;
  json_t *body = NULL;

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (wopts_or_reply(r, &w) != 0) return;
  if (req_json_or_reply(r, &body) != 0) return;
  pw = write_park(r, answer_object, space, key, w.branch);
  write(resources_store(), space, key, body, &w, write_done, pw);
  json_decref(body); /* the store keeps its own reference */
}

void fs_object_put(m31_req *r) { object_write(r, store_object_put_async); }

void fs_object_patch(m31_req *r) { object_write(r, store_object_patch_async); }

/* True when If-None-Match lists `tag` or is `*`. */
static int if_none_match_hits(m31_req *r, const char *tag) {
  const char *h = req_header(r, "If-None-Match");

  if (!h) return 0;
  while (*h == ' ')
    h++;
  return strcmp(h, "*") == 0 || strstr(h, tag) != NULL;
}

/* The hot path: a stored main head is already the answer's text. */
static void object_get_text(m31_req *r, const char *space, const char *key) {
  char *text = NULL, tag[32];
  size_t len = 0;
  uint64_t version = 0;
  store_err err = {0};

  if (store_object_get_text(resources_store(), space, key, &text, &len,
                            &version, &err) != 0) {
    reply_store_err(r, &err);
    return;
  }
  snprintf(tag, sizeof tag, "\"%" PRIu64 "\"", version);
  reply_header(r, "ETag", tag);
  if (if_none_match_hits(r, tag))
    reply_empty(r, 304);
  else
    reply_bytes(r, 200, "application/json", text, len);
  free(text);
}

void fs_object_get(m31_req *r) {
  const char *space, *key, *branch, *vs = req_query(r, "version");
  uint64_t version = 0;
  store_err err = {0};
  json_t *out = NULL;
  char tag[32];

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (branch_or_reply(r, &branch) != 0) return;
  if (vs && (u64_parse(vs, &version) != 0 || version == 0)) {
    reply_problem(r, 400, "version", "version must be a positive integer");
    return;
  }
  if (!branch && version == 0 && !req_query(r, "fmt")) {
    object_get_text(r, space, key);
    return;
  }
  if (store_object_get(resources_store(), space, key, branch, version, &out,
                       &err) != 0) {
    reply_store_err(r, &err);
    return;
  }
  etag_format(out, tag, sizeof tag);
  reply_header(r, "ETag", tag);
  if (if_none_match_hits(r, tag)) {
    json_decref(out);
    reply_empty(r, 304);
    return;
  }
  reply_json(r, 200, out);
}

void fs_object_delete(m31_req *r) {
  const char *space, *key;
  parked_write *pw;
  store_wopts w;

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (wopts_or_reply(r, &w) != 0) return;
  pw = write_park(r, answer_deleted, space, key, w.branch);
  store_object_delete_async(resources_store(), space, key, &w, write_done, pw);
}

/* ---------------------------------------------------- versions, branches */

void fs_versions_list(m31_req *r) {
  const char *space, *key, *branch;
  store_err err = {0};
  json_t *items = NULL;

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (branch_or_reply(r, &branch) != 0) return;
  if (store_versions_list(resources_store(), space, key, branch, &items,
                          &err) != 0)
    reply_store_err(r, &err);
  else
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void fs_branches_list(m31_req *r) {
  const char *space, *key;
  store_err err = {0};
  json_t *items = NULL;

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (store_branch_list(resources_store(), space, key, &items, &err) != 0)
    reply_store_err(r, &err);
  else
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* Checks {"name": "exp", "from": 3} and nothing else. */
static int branch_body_or_reply(m31_req *r, const json_t *body,
                                const char **name, uint64_t *from) {
  const json_t *jn = json_object_get(body, "name");
  const json_t *jf = json_object_get(body, "from");
  const char *k;
  json_t *v;

  if (!json_is_object(body)) {
    reply_problem(r, 400, NULL, "the body must be an object");
    return -1;
  }
  json_object_foreach((json_t *)body, k, v) {
    if (strcmp(k, "name") != 0 && strcmp(k, "from") != 0) {
      reply_problem(r, 400, k, "unknown field %s", k);
      return -1;
    }
  }
  if (!json_is_string(jn)) {
    reply_problem(r, 400, "name", "name must be a string");
    return -1;
  }
  if (!json_is_integer(jf) || json_integer_value(jf) < 1) {
    reply_problem(r, 400, "from", "from must be a version number (>= 1)");
    return -1;
  }
  *name = json_string_value(jn);
  *from = (uint64_t)json_integer_value(jf);
  return 0;
}

void fs_branch_create(m31_req *r) {
  const char *space, *key, *name;
  uint64_t from;
  store_err err = {0};
  parked_write *pw;
  json_t *body = NULL;

  if (space_key_or_reply(r, &space, &key) != 0) return;
  if (req_json_or_reply(r, &body) != 0) return;
  if (branch_body_or_reply(r, body, &name, &from) != 0 ||
      store_name_check(name, "name", &err) != 0) {
    if (err.code != STORE_OK) reply_store_err(r, &err);
    json_decref(body);
    return;
  }
  pw = write_park(r, answer_branch, space, key, name);
  pw->body = body; /* `name` lives in it: freed with pw */
  store_branch_create_async(resources_store(), space, key, name, from,
                            write_done, pw);
}
