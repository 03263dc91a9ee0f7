/*
 * Unit tests for resources/fibril_http.c: the link scanner and URL
 * resolution (fhttp_links), argument checks (answered at once, on the
 * caller's thread), and real requests against a small HTTP server run by
 * this test on 127.0.0.1: statuses, content types and charsets, text and
 * bytes, headers, redirects (followed, refused, too many), byte caps while
 * receiving, timeouts, and stopping with a request in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resources/resources.h"

static json_t *J(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
  if (!j) fail_msg("bad JSON in the test: %s: %s", text, e.text);
  return j;
}

static void assert_json(const json_t *v, const char *text) {
  json_t *want = J(text);
  if (!json_equal(v, want)) {
    char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    fail_msg("got  %s\nwant %s", got, text);
  }
  json_decref(want);
}

/* ------------------------------------------------------------- links */

static void links_is(const char *html, const char *base, const char *want) {
  json_t *got = fhttp_links(html, strlen(html), base);
  assert_json(got, want);
  json_decref(got);
}

static void test_links_resolve(void **state) {
  (void)state;
  links_is("<a href=\"b.html\">b</a> <a href='../up.html'>up</a>"
           "<a href=/root?q=1&amp;r=2#frag>r</a>"
           "<a href=\"//Other.ORG:80/p\">o</a>"
           "<a href=\"?only\">q</a>"
           "<a href=\"https://x.org/\">x</a>",
           "http://host.test/dir/page.html?z=9",
           "[\"http://host.test/dir/b.html\",\"http://host.test/up.html\","
           "\"http://host.test/root?q=1&r=2\",\"http://other.org/p\","
           "\"http://host.test/dir/page.html?only\",\"https://x.org/\"]");
  /* duplicates (also after resolution and fragment removal) once, in
   * order; empty and #fragment-only hrefs skipped */
  links_is("<a href=a>1</a><a href=b>2</a><a href=./a>3</a><a href=a#x>4</a>"
           "<a href=''>e</a><a href=\"#top\">t</a><a href=\"  \">s</a>"
           "<a href=b>5</a>",
           "http://h/", "[\"http://h/a\",\"http://h/b\"]");
  /* other schemes are not links to fetch */
  links_is("<a href=\"mailto:me@x.org\">m</a><a href=\"javascript:go()\">j"
           "</a><a href=\"ftp://x.org/f\">f</a><a href=\"file:///etc/passwd\">"
           "</a><a href=\"data:text/plain,hi\"></a><a href=\"HTTPS://Y.ORG\">"
           "</a>",
           "http://h/", "[\"https://y.org/\"]");
  /* whitespace around and newlines inside a URL are dropped; spaces and
   * UTF-8 are percent-encoded */
  links_is("<a href=\"  \n spaced.html\t \">s</a>"
           "<a href=\"li\nne.html\">n</a><a href=\"a b.html\">a</a>"
           "<a href=\"caf\xc3\xa9.html\">c</a>",
           "http://h/d/",
           "[\"http://h/d/spaced.html\",\"http://h/d/line.html\","
           "\"http://h/d/a%20b.html\",\"http://h/d/caf%c3%a9.html\"]");
  /* character references */
  links_is("<a href=\"x?a=1&amp;b=2&#38;c=3&#x26;d=4&lt;&quot;&apos;&zz;\">"
           "</a>",
           "http://h/", "[\"http://h/x?a=1&b=2&c=3&d=4%3c%22'&zz;\"]");
  /* what a URL may not hold is percent-encoded; a UTF-8 host stays */
  links_is("<a href=\"/p{1}|x^`\\y?q=<b>\">x</a>"
           "<a href=\"http://\xc3\xbcn\xc3\xaf.test/\xc3\xa4\">u</a>",
           "http://h/",
           "[\"http://h/p%7b1%7d%7cx%5e%60%5cy?q=%3cb%3e\","
           "\"http://\xc3\xbcn\xc3\xaf.test/%c3%a4\"]");
  /* a base that is not a URL gives nothing */
  links_is("<a href=a>a</a>", "not a url", "[]");
  links_is("<a href=a>a</a>", "", "[]");
}

static void test_links_base(void **state) {
  (void)state;
  /* the first <base href> counts, for links before it too; relative
   * bases resolve against the page */
  links_is("<a href=before>b</a><base href=\"http://cdn.test/x/\">"
           "<base href=\"http://ignored.test/\"><a href=after>a</a>",
           "http://h/p",
           "[\"http://cdn.test/x/before\","
           "\"http://cdn.test/x/after\"]");
  links_is("<head><BASE HREF=\"sub/\"></head><a href=c>c</a>", "http://h/dir/p",
           "[\"http://h/dir/sub/c\"]");
  /* a <base> without href is no base; a bad one keeps the page's URL */
  links_is("<base target=_top><base href=\"http://b/\"><a href=c>c</a>",
           "http://h/", "[\"http://b/c\"]");
  links_is("<base href=\"mailto:x\"><a href=c>c</a>", "http://h/",
           "[\"http://h/c\"]");
}

static void test_links_tolerant(void **state) {
  (void)state;
  /* case, attribute order, other attributes, <area>; not <link>, not
   * data-href, not href on other tags */
  links_is("<A CLASS=\"x\" HREF=\"one\">1</A><a\nid=q\nhref = 'two' >2</a>"
           "<map><area shape=rect href=three></map>"
           "<link rel=stylesheet href=no1><a data-href=no2 title=x>t</a>"
           "<div href=no3></div><img src=no4><a name=anchor>n</a>",
           "http://h/",
           "[\"http://h/one\",\"http://h/two\",\"http://h/three\"]");
  /* comments, scripts, styles, titles and textareas hide tags */
  links_is("<!-- <a href=c1> --><a href=ok1>"
           "<script>var s = \"<a href='s1'>\";</script>"
           "<SCRIPT type=x>if (a<b) document.write('<a href=s2>')</SCRIPT >"
           "<style>a[href=\"st1\"]{}</style><title><a href=t1></title>"
           "<textarea><a href=ta1></textarea><!--><a href=ok2>"
           "<!---><a href=ok3><!DOCTYPE html><?xml x?><a href=ok4>",
           "http://h/",
           "[\"http://h/ok1\",\"http://h/ok2\",\"http://h/ok3\","
           "\"http://h/ok4\"]");
  /* the first href of a tag counts; a "<" in text is text */
  links_is("1 < 2 <a href=first href=second>x</a> <a/href=slash>s</a>",
           "http://h/", "[\"http://h/first\",\"http://h/slash\"]");
  /* truncated documents do not read past their end */
  static const char *const cut[] = {"<a href=\"unterminated",
                                    "<a href=",
                                    "<a href",
                                    "<a",
                                    "<",
                                    "<!-- open",
                                    "<script>open",
                                    "<a href='x'",
                                    ""};
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
    json_t *got = fhttp_links(cut[i], strlen(cut[i]), "http://h/");
    assert_true(json_is_array(got));
    json_decref(got);
  }
  /* bytes that are not UTF-8 are percent-encoded */
  links_is("<a href=\"\xff\xfe.html\">x</a>", "http://h/",
           "[\"http://h/%ff%fe.html\"]");
}

/* --------------------------------------------------- the test server */

static struct {
  int fd, port;
  pthread_t thread;
} srv = {-1, 0, 0};

static void send_all(int c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w, n -= (size_t)w;
  }
}

static void reply(int c, const char *status, const char *headers,
                  const char *body, size_t len) {
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: "
                   "close\r\n\r\n",
                   status, headers, len);
  send_all(c, head, (size_t)n);
  send_all(c, body, len);
}

/* One connection: reads the request head, answers by path, closes. */
static void *srv_conn(void *arg) {
  int c = (int)(intptr_t)arg;
  char req[8192], method[16] = "", path[1024] = "";
  size_t got = 0;
  while (got < sizeof req - 1) {
    ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  req[got] = '\0';
  sscanf(req, "%15s %1023s", method, path);
  if (strcmp(path, "/html") == 0 || strncmp(path, "/html?", 6) == 0) {
    static const char page[] =
        "<html><head><title>T</title></head><body>"
        "<a href=\"one.html\">1</a> <a href='/two'>2</a></body></html>";
    reply(c, "200 OK",
          "Content-Type: Text/HTML; Charset=\"ISO-8859-1\"\r\nX-Multi: a\r\n"
          "X-Multi: b\r\n",
          page, sizeof page - 1);
  } else if (strcmp(path, "/bin") == 0) {
    char b[256];
    for (int i = 0; i < 256; i++)
      b[i] = (char)i;
    reply(c, "200 OK", "Content-Type: application/octet-stream\r\n", b, 256);
  } else if (strcmp(path, "/plain") == 0) {
    reply(c, "200 OK", "Content-Type: text/plain\r\n", "caf\xc3\xa9", 5);
  } else if (strcmp(path, "/none") == 0) {
    reply(c, "200 OK", "X-Latin: caf\xe9\r\n", "x", 1);
  } else if (strcmp(path, "/big") == 0) {
    char *b = malloc(100000);
    memset(b, 'a', 100000);
    reply(c, "200 OK", "Content-Type: text/plain\r\n", b, 100000);
    free(b);
  } else if (strcmp(path, "/chunked") == 0) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                               "\r\nTransfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\n";
    char chunk[1000 + 16];
    send_all(c, head, sizeof head - 1);
    memcpy(chunk, "3e8\r\n", 5);
    memset(chunk + 5, 'z', 1000);
    memcpy(chunk + 1005, "\r\n", 2);
    for (int i = 0; i < 10; i++)
      send_all(c, chunk, 1007);
    send_all(c, "0\r\n\r\n", 5);
  } else if (strcmp(path, "/redir") == 0) {
    reply(c, "302 Found", "Location: /html?from=redir\r\nX-Redir: yes\r\n", "",
          0);
  } else if (strcmp(path, "/ftp") == 0) {
    reply(c, "302 Found", "Location: ftp://127.0.0.1/x\r\n", "", 0);
  } else if (strcmp(path, "/loop") == 0) {
    reply(c, "302 Found", "Location: /loop\r\n", "", 0);
  } else if (strcmp(path, "/slow") == 0) {
    sleep(3);
    reply(c, "200 OK", "", "late", 4);
  } else if (strcmp(path, "/echo") == 0) {
    reply(c, "200 OK", "Content-Type: text/plain; charset=utf-8\r\n", req, got);
  } else {
    reply(c, "404 Not Found", "Content-Type: text/plain\r\n", "nope", 4);
  }
  close(c);
  return NULL;
}

static void *srv_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_t t;
    int c = accept(srv.fd, NULL, NULL);
    if (c < 0) return NULL;
    pthread_create(&t, NULL, srv_conn, (void *)(intptr_t)c);
    pthread_detach(t);
  }
}

static int group_setup(void **state) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof a;
  char err[256];
  int one = 1;
  (void)state;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv.fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(srv.fd, 64) != 0 ||
      getsockname(srv.fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  srv.port = ntohs(a.sin_port);
  if (pthread_create(&srv.thread, NULL, srv_main, NULL) != 0) return -1;
  if (fhttp_init(err, sizeof err) != 0) {
    fprintf(stderr, "fhttp_init: %s\n", err);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  fhttp_shutdown();
  shutdown(srv.fd, SHUT_RDWR);
  close(srv.fd);
  pthread_join(srv.thread, NULL);
  return 0;
}

/* -------------------------------------------------------------- calls */

/* Waits for the answer of an http call, from whichever thread gives it. */
typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  json_t *value;
  int calls;
  pthread_t thread;
} waiter;

static void answered(void *ud, json_t *value) {
  waiter *w = ud;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->value = value;
  w->thread = pthread_self();
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void waiter_init(waiter *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

static json_t *waiter_wait(waiter *w) {
  pthread_mutex_lock(&w->mu);
  while (!w->value)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
  usleep(20000); /* a second answer would show in calls */
  assert_int_equal(w->calls, 1);
  return w->value;
}

/* Runs http.req with args (JSON text, "%u" is the server's port); the
 * answer (new); *other: 1 when another thread gave it. */
static json_t *call(const char *op, const char *args_fmt, int *other) {
  char text[2048];
  waiter w;
  json_t *a, *v;
  snprintf(text, sizeof text, args_fmt, srv.port, srv.port);
  a = J(text);
  waiter_init(&w);
  fhttp_call(op, a, answered, &w);
  json_decref(a);
  v = waiter_wait(&w);
  if (other) *other = !pthread_equal(w.thread, pthread_self());
  return v;
}

static json_t *ok(json_t *answer) {
  json_t *v = json_object_get(answer, "ok");
  if (!v) fail_msg("not ok: %s", json_dumps(answer, JSON_COMPACT));
  return v;
}

/* Asserts answer is an error of code and field, its message holding part. */
static void assert_error(json_t *answer, const char *code, const char *field,
                         const char *part) {
  json_t *e = json_object_get(answer, "error");
  char *text = json_dumps(answer, JSON_COMPACT);
  if (!e || strcmp(json_string_value(json_object_get(e, "code")), code) ||
      strcmp(json_string_value(json_object_get(e, "field")), field) ||
      !strstr(json_string_value(json_object_get(e, "message")), part))
    fail_msg("got %s, want %s/%s/...%s...", text, code, field, part);
  free(text);
  json_decref(answer);
}

static void test_bad_arguments(void **state) {
  static const struct {
    const char *op, *args, *field, *part;
  } cases[] = {
      {"get", "[\"http://x/\"]", "", "no such http call"},
      {"req", "[]", "", "http.req takes"},
      {"req", "[\"http://x/\", {}, 3]", "", "http.req takes"},
      {"req", "[42]", "url", "String"},
      {"req", "[\"\"]", "url", "String"},
      {"req", "[\"/relative/path\"]", "url", "not an absolute URL"},
      {"req", "[\"ftp://127.0.0.1/x\"]", "url", "only http and https"},
      {"req", "[\"file:///etc/passwd\"]", "url", "only http and https"},
      {"req", "[\"gopher://h/\"]", "url", "only http and https"},
      {"req", "[\"http://\"]", "url", "URL"},
      {"req", "[\"http://h/\", 5]", "", "options must be a Hash"},
      {"req", "[\"http://h/\", {\"nope\": 1}]", "", "unknown option nope"},
      {"req", "[\"http://h/\", {\"timeout_ms\": 0}]", "", "timeout_ms"},
      {"req", "[\"http://h/\", {\"timeout_ms\": 120001}]", "", "timeout_ms"},
      {"req", "[\"http://h/\", {\"timeout_ms\": \"5\"}]", "", "timeout_ms"},
      {"req", "[\"http://h/\", {\"max_bytes\": -1}]", "", "max_bytes"},
      {"req", "[\"http://h/\", {\"max_bytes\": 268435457}]", "", "max_bytes"},
      {"req", "[\"http://h/\", {\"method\": \"POST\"}]", "", "method"},
      {"req", "[\"http://h/\", {\"method\": \"get\"}]", "", "method"},
      {"req", "[\"http://h/\", {\"headers\": []}]", "", "headers"},
      {"req", "[\"http://h/\", {\"headers\": {\"A\": 1}}]", "", "header A"},
      {"req", "[\"http://h/\", {\"headers\": {\"A\": \"x\\r\\nB: y\"}}]", "",
       "one line"},
      {"req", "[\"http://h/\", {\"headers\": {\"A B\": \"x\"}}]", "",
       "bad header name"},
      {"req", "[\"http://h/\", {\"headers\": {\"A:\": \"x\"}}]", "",
       "bad header name"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int other = 1;
    json_t *v = call(cases[i].op, cases[i].args, &other);
    assert_false(other); /* at once, on the caller's thread */
    assert_error(v, "bad_request", cases[i].field, cases[i].part);
  }
}

static void test_html(void **state) {
  int other = 0;
  json_t *v = call("req", "[\"http://127.0.0.1:%u/html\"]", &other), *r;
  char want[512];
  (void)state;
  assert_true(other);
  r = ok(v);
  assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
  snprintf(want, sizeof want,
           "[\"http://127.0.0.1:%u/one.html\",\"http://127.0.0.1:%u/two\"]",
           srv.port, srv.port);
  assert_json(json_object_get(r, "urls"), want);
  assert_json(json_object_get(r, "content_type"), "\"text/html\"");
  assert_json(json_object_get(r, "charset"), "\"iso-8859-1\"");
  assert_json(json_object_get(json_object_get(r, "headers"), "x-multi"),
              "\"a, b\"");
  assert_json(json_object_get(json_object_get(r, "headers"), "content-type"),
              "\"Text/HTML; Charset=\\\"ISO-8859-1\\\"\"");
  assert_true(strstr(json_string_value(json_object_get(r, "content")),
                     "<a href='/two'>") != NULL);
  json_decref(v);
  /* HEAD: no content, no links */
  v = call("req", "[\"http://127.0.0.1:%u/html\", {\"method\": \"HEAD\"}]",
           NULL);
  r = ok(v);
  assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
  assert_json(json_object_get(r, "content"), "\"\"");
  assert_json(json_object_get(r, "urls"), "[]");
  json_decref(v);
}

static void test_content_kinds(void **state) {
  json_t *v, *r;
  (void)state;
  v = call("req", "[\"http://127.0.0.1:%u/bin\", null]", NULL);
  r = ok(v);
  assert_json(json_object_get(r, "content_type"),
              "\"application/octet-stream\"");
  assert_json(json_object_get(r, "charset"), "null");
  /* not UTF-8: bytes, base64 of 0..255 */
  assert_true(strncmp(json_string_value(json_object_get(
                          json_object_get(r, "content"), "$bytes")),
                      "AAECAwQFBgcICQoLDA0ODxAREhMU", 28) == 0);
  assert_json(json_object_get(r, "urls"), "[]");
  json_decref(v);
  v = call("req", "[\"http://127.0.0.1:%u/plain\"]", NULL);
  r = ok(v);
  assert_json(json_object_get(r, "content"), "\"caf\xc3\xa9\"");
  assert_json(json_object_get(r, "content_type"), "\"text/plain\"");
  json_decref(v);
  /* no Content-Type; a header value in Latin-1 */
  v = call("req", "[\"http://127.0.0.1:%u/none\"]", NULL);
  r = ok(v);
  assert_json(json_object_get(r, "content_type"), "\"\"");
  assert_json(json_object_get(r, "charset"), "null");
  assert_json(json_object_get(json_object_get(r, "headers"), "x-latin"),
              "\"caf\xc3\xa9\"");
  json_decref(v);
  /* a 404 is an answer, not an error */
  v = call("req", "[\"http://127.0.0.1:%u/missing\"]", NULL);
  r = ok(v);
  assert_int_equal(json_integer_value(json_object_get(r, "status")), 404);
  assert_json(json_object_get(r, "content"), "\"nope\"");
  json_decref(v);
}

static void test_request_headers(void **state) {
  json_t *v = call("req",
                   "[\"http://127.0.0.1:%u/echo\", {\"headers\": {\"X-Test\": "
                   "\"yes\", \"X-Empty\": \"\"}, \"timeout_ms\": 5000}]",
                   NULL);
  const char *echo = json_string_value(json_object_get(ok(v), "content"));
  (void)state;
  assert_non_null(strstr(echo, "GET /echo HTTP/1.1\r\n"));
  assert_non_null(strstr(echo, "User-Agent: m31/"));
  assert_non_null(strstr(echo, "X-Test: yes\r\n"));
  assert_non_null(strstr(echo, "X-Empty:\r\n"));
  json_decref(v);
  /* a User-Agent of the fibril's own replaces ours */
  v = call("req",
           "[\"http://127.0.0.1:%u/echo\", {\"headers\": {\"User-Agent\": "
           "\"bot/1\"}}]",
           NULL);
  echo = json_string_value(json_object_get(ok(v), "content"));
  assert_non_null(strstr(echo, "User-Agent: bot/1\r\n"));
  assert_null(strstr(echo, "m31/"));
  json_decref(v);
}

static void test_redirects(void **state) {
  json_t *v = call("req", "[\"http://127.0.0.1:%u/redir\"]", NULL), *r;
  char want[256];
  (void)state;
  r = ok(v);
  snprintf(want, sizeof want, "\"http://127.0.0.1:%u/html?from=redir\"",
           srv.port);
  assert_json(json_object_get(r, "url"), want);
  assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
  /* only the last response's headers */
  assert_null(json_object_get(json_object_get(r, "headers"), "x-redir"));
  assert_non_null(json_object_get(json_object_get(r, "headers"), "x-multi"));
  json_decref(v);
  assert_error(call("req", "[\"http://127.0.0.1:%u/ftp\"]", NULL),
               "unreachable", "url", "not http or https");
  assert_error(call("req", "[\"http://127.0.0.1:%u/loop\"]", NULL),
               "unreachable", "url", "more than 5 redirects");
}

static void test_limits(void **state) {
  json_t *v;
  (void)state;
  /* Content-Length over the cap, and a chunked body passing it */
  assert_error(
      call("req", "[\"http://127.0.0.1:%u/big\", {\"max_bytes\": 1000}]", NULL),
      "too_large", "", "max_bytes (1000)");
  assert_error(call("req",
                    "[\"http://127.0.0.1:%u/chunked\", {\"max_bytes\": 5000}]",
                    NULL),
               "too_large", "", "max_bytes (5000)");
  v = call("req", "[\"http://127.0.0.1:%u/chunked\", {\"max_bytes\": 10000}]",
           NULL);
  assert_int_equal(json_string_length(json_object_get(ok(v), "content")),
                   10000);
  json_decref(v);
  v = call("req", "[\"http://127.0.0.1:%u/big\", {\"max_bytes\": 0}]", NULL);
  assert_error(v, "too_large", "", "max_bytes (0)");
  assert_error(call("req",
                    "[\"http://127.0.0.1:%u/slow\", {\"timeout_ms\": 300}]",
                    NULL),
               "timeout", "", "300 ms");
  /* nothing listens on port 1 */
  assert_error(call("req", "[\"http://127.0.0.1:1/\"]", NULL), "unreachable",
               "", "");
}

/* Many requests at once, on the one thread. */
static void test_concurrent(void **state) {
  enum { N = 40 };
  waiter w[N];
  char text[256];
  (void)state;
  for (int i = 0; i < N; i++) {
    json_t *a;
    snprintf(text, sizeof text, "[\"http://127.0.0.1:%u/%s\"]", srv.port,
             i % 2 ? "html" : "bin");
    a = J(text);
    waiter_init(&w[i]);
    fhttp_call("req", a, answered, &w[i]);
    json_decref(a);
  }
  for (int i = 0; i < N; i++) {
    json_t *v = waiter_wait(&w[i]);
    assert_int_equal(json_integer_value(json_object_get(ok(v), "status")), 200);
    json_decref(v);
  }
}

/* Stopping answers a request in flight at once, and later calls too; a
 * new start serves again. */
static void test_shutdown_in_flight(void **state) {
  waiter w;
  char text[256], err[256];
  json_t *a;
  (void)state;
  snprintf(text, sizeof text, "[\"http://127.0.0.1:%u/slow\"]", srv.port);
  a = J(text);
  waiter_init(&w);
  fhttp_call("req", a, answered, &w);
  usleep(200000);
  fhttp_shutdown();
  assert_int_equal(w.calls, 1); /* answered before fhttp_shutdown returned */
  assert_error(w.value, "unreachable", "", "stopping");
  assert_error(call("req", text, NULL), "unreachable", "", "not running");
  json_decref(a);
  assert_int_equal(fhttp_init(err, sizeof err), 0);
  a = call("req", "[\"http://127.0.0.1:%u/plain\"]", NULL);
  ok(a);
  json_decref(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_links_resolve),
      cmocka_unit_test(test_links_base),
      cmocka_unit_test(test_links_tolerant),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_html),
      cmocka_unit_test(test_content_kinds),
      cmocka_unit_test(test_request_headers),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_shutdown_in_flight),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
