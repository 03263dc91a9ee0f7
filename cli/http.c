/*
 * http.c — the client's one way to talk to a node: a libcurl easy handle
 * per thread (so connections are kept between requests), answers collected
 * into memory, and SIGINT honoured through the progress callback.
 */
#include "cli/cli.h"
#include "util/text.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 10L
#define MAX_ANSWER (256u << 20) /* an answer larger than this is an error */

struct cli_http {
  CURL *curl;
  char *base;
};

volatile sig_atomic_t cli_interrupted;

typedef tbuf buf;

static size_t buf_add(buf *b, const char *data, size_t n) {
  if (b->len + n + 1 > MAX_ANSWER) return 0; /* curl: write error */
  tbuf_put(b, data, n);
  return n;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  return buf_add(ud, data, size * n);
}

/* The header block of each answer replaces the one before it, so an
 * interim 100 Continue is not what the caller sees. */
static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  buf *b = ud;
  if (n * size >= 5 && !strncmp(data, "HTTP/", 5)) b->len = 0;
  return buf_add(b, data, size * n);
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
                       curl_off_t d) {
  (void)ud, (void)a, (void)b, (void)c, (void)d;
  return cli_interrupted ? 1 : 0;
}

void cli_http_global_init(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) abort();
}

cli_http *cli_http_new(const char *base) {
  cli_http *h = calloc(1, sizeof *h);
  if (!h || !(h->curl = curl_easy_init()) || !(h->base = strdup(base))) abort();
  return h;
}

void cli_http_free(cli_http *h) {
  if (!h) return;
  curl_easy_cleanup(h->curl);
  free(h->base);
  free(h);
}

const char *cli_http_base(const cli_http *h) { return h->base; }

void cli_resp_free(cli_resp *r) {
  free(r->body);
  free(r->headers);
  memset(r, 0, sizeof *r);
}

/* The media type of the answer, lower case, without parameters. */
static void ctype_copy(CURL *c, cli_resp *r) {
  char *ct = NULL;
  size_t i = 0;

  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  for (; ct && ct[i] && ct[i] != ';' && !isspace((unsigned char)ct[i]) &&
         i + 1 < sizeof r->ctype;
       i++)
    r->ctype[i] = (char)tolower((unsigned char)ct[i]);
  r->ctype[i] = '\0';
}

/* Sets the handle up for one request; the caller performs it. */
static void request_setup(CURL *c, const char *method, const char *url,
                          const char *body, size_t len, long timeout_s,
                          struct curl_slist *hdrs, buf *b, buf *hb) {
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "m31-cli");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, hb);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  if (strcmp(method, "GET") == 0) return;
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    return;
  }
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body || strcmp(method, "DELETE") != 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
}

int cli_http_do(cli_http *h, const char *method, const char *uri,
                const char *ctype, const char *body, size_t len, long timeout_s,
                cli_resp *resp, char *err, size_t errlen) {
  struct curl_slist *hdrs = NULL;
  buf b = {0}, hb = {0};
  char url[8192], line[256];
  int ret = -1;

  memset(resp, 0, sizeof *resp);
  if (cli_url_join(h->base, uri, url, sizeof url) != 0) {
    snprintf(err, errlen, "bad URI '%.200s'", uri);
    return -1;
  }
  /* no "Expect: 100-continue": the node answers a large body at once */
  if (!(hdrs = curl_slist_append(hdrs, "Expect:"))) abort();
  /* without a type, not curl's default form type for a POST */
  snprintf(line, sizeof line, "Content-Type:%s%s", body && ctype ? " " : "",
           body && ctype ? ctype : "");
  if (!(hdrs = curl_slist_append(hdrs, line))) abort();
  request_setup(h->curl, method, url, body, len, timeout_s, hdrs, &b, &hb);
  CURLcode rc = curl_easy_perform(h->curl);
  if (rc == CURLE_ABORTED_BY_CALLBACK && cli_interrupted) {
    snprintf(err, errlen, "interrupted");
    ret = -2;
    goto Exit;
  }
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(rc));
    goto Exit;
  }
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
  ctype_copy(h->curl, resp);
  resp->body = b.p ? b.p : calloc(1, 1);
  resp->len = b.len;
  resp->headers = hb.p ? hb.p : calloc(1, 1);
  resp->hlen = hb.len;
  if (!resp->body || !resp->headers) abort();
  b.p = hb.p = NULL;
  ret = 0;
Exit:
  curl_slist_free_all(hdrs);
  free(b.p);
  free(hb.p);
  return ret;
}

int cli_http_json(cli_http *h, const char *method, const char *uri,
                  const json_t *body, long timeout_s, cli_resp *resp,
                  json_t **out, char *err, size_t errlen) {
  char *text = NULL;
  int ret;

  *out = NULL;
  if (body && !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)))
    abort();
  ret = cli_http_do(h, method, uri, text ? "application/json" : NULL, text,
                    text ? strlen(text) : 0, timeout_s, resp, err, errlen);
  free(text);
  if (ret == 0 && strstr(resp->ctype, "json") && resp->len > 0)
    *out = json_loadb(resp->body, resp->len, JSON_DECODE_ANY, NULL);
  return ret;
}
