/*
 * ps.c — `m31 ps [--state S] [--parent ID]`: every page of GET /fibrils,
 * as a table. Column widths are set by the widest id, state and parent.
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 1000
#define MAX_PAGES 100 /* 100,000 fibrils: enough for a table */
#define SUMMARY_MAX 60

/* Appends "&name=<escaped value>" to q. */
static void query_add(char *q, size_t n, const char *name, const char *v) {
  if (!v) return;
  char *e = curl_easy_escape(NULL, v, 0);
  if (!e) abort();
  size_t used = strlen(q);
  snprintf(q + used, n - used, "&%s=%s", name, e);
  curl_free(e);
}

/* Bytes as 512B, 12.5K, 3.0M. */
static void human(char *out, size_t n, json_int_t b) {
  const char *unit = "KMGT";
  double v = (double)b;
  int u = -1;
  if (b < 1024) {
    snprintf(out, n, "%lldB", (long long)b);
    return;
  }
  while (v >= 1024 && u < 3)
    v /= 1024, u++;
  snprintf(out, n, "%.1f%c", v, unit[u]);
}

static const char *str_or(const json_t *f, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(f, k));
  return s ? s : dflt;
}

/* The result (done), "Class: message" (failed) or reason (killed),
 * on one line and cut to SUMMARY_MAX characters. */
static void summary(char *out, size_t n, const json_t *f) {
  const char *state = json_string_value(json_object_get(f, "state"));
  const json_t *err = json_object_get(f, "error");
  char buf[512] = "";

  if (state && !strcmp(state, "done")) {
    char *s = cli_json_line(json_object_get(f, "result"));
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
  } else if (json_is_object(err)) {
    snprintf(buf, sizeof buf, "%s: %s", str_or(err, "class", "Error"),
             str_or(err, "message", ""));
  } else {
    snprintf(buf, sizeof buf, "%s", str_or(f, "reason", ""));
  }
  for (char *p = buf; *p; p++)
    if (*p == '\n' || *p == '\t') *p = ' ';
  size_t len = strlen(buf);
  if (len > SUMMARY_MAX) {
    memcpy(buf + SUMMARY_MAX - 3, "...", 4);
    len = SUMMARY_MAX;
  }
  if (len >= n) len = n - 1;
  memcpy(out, buf, len);
  out[len] = '\0';
}

/* Reads every page into `all` (refcount: borrowed, appended to). */
static int pages_read(const cli_opts *o, cli_http *h, json_t *all) {
  char uri[2048], err[512];
  json_t *cursor = NULL;

  for (int page = 0; page < MAX_PAGES; page++) {
    cli_resp r;
    json_t *ans;
    char q[1500] = "";
    query_add(q, sizeof q, "state", o->state);
    query_add(q, sizeof q, "parent", o->parent);
    query_add(q, sizeof q, "cursor", json_string_value(cursor));
    snprintf(uri, sizeof uri, "/fibrils?limit=%d%s", PAGE, q);
    json_decref(cursor);
    cursor = NULL;
    int rc = cli_http_json(h, "GET", uri, NULL, 60, &r, &ans, err, sizeof err);
    if (rc != 0) {
      fprintf(stderr, "m31 ps: %s\n", err);
      return rc == -2 ? CLI_INTERRUPTED : CLI_API;
    }
    if (r.status != 200 || !json_is_array(json_object_get(ans, "items"))) {
      cli_problem_print(&r);
      cli_resp_free(&r);
      json_decref(ans);
      return CLI_API;
    }
    json_array_extend(all, json_object_get(ans, "items"));
    if (json_is_string(json_object_get(ans, "next")))
      cursor = json_incref(json_object_get(ans, "next"));
    cli_resp_free(&r);
    json_decref(ans);
    if (!cursor) return CLI_OK;
  }
  fprintf(stderr, "m31 ps: more than %d fibrils; showing the first ones\n",
          PAGE * MAX_PAGES);
  json_decref(cursor);
  return CLI_OK;
}

/* The created time without its milliseconds: 2026-11-23T11:30:11Z. */
static void when(char *out, size_t n, const char *iso) {
  const char *dot = strchr(iso, '.');
  if (dot && strchr(dot, 'Z'))
    snprintf(out, n, "%.*sZ", (int)(dot - iso), iso);
  else
    snprintf(out, n, "%s", iso);
}

static void table_print(const json_t *all) {
  int wid = 2, wst = 5, wpar = 6;
  size_t i;
  const json_t *f;

  json_array_foreach(all, i, f) {
    int a = (int)strlen(str_or(f, "id", "")),
        b = (int)strlen(str_or(f, "state", "")),
        c = (int)strlen(str_or(f, "parent", "-"));
    wid = a > wid ? a : wid, wst = b > wst ? b : wst;
    wpar = c > wpar ? c : wpar;
  }
  printf("%-*s  %-*s  %-*s  %7s  %7s  %-20s  %s\n", wid, "ID", wst, "STATE",
         wpar, "PARENT", "CPU_MS", "MEMORY", "CREATED", "RESULT");
  json_array_foreach(all, i, f) {
    char mem[32], sum[SUMMARY_MAX + 8], at[64];
    human(mem, sizeof mem,
          json_integer_value(json_object_get(f, "memory_bytes")));
    summary(sum, sizeof sum, f);
    when(at, sizeof at, str_or(f, "created", "-"));
    printf("%-*s  %-*s  %-*s  %7lld  %7s  %-20s  %s\n", wid,
           str_or(f, "id", "?"), wst, str_or(f, "state", "?"), wpar,
           str_or(f, "parent", "-"),
           (long long)json_integer_value(json_object_get(f, "cpu_ms")), mem, at,
           sum);
  }
}

int cli_cmd_ps(const cli_opts *o) {
  cli_http *h = cli_http_new(o->url);
  json_t *all = json_array();
  int ret;

  if (!all) abort();
  if ((ret = pages_read(o, h, all)) == CLI_OK) table_print(all);
  json_decref(all);
  cli_http_free(h);
  return ret;
}
