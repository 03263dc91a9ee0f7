/*
 * http_seq.c — a sequential HTTP/1.1 client for latency rows of `make
 * bench`: each connection (a thread, keep-alive) sends a round of requests
 * one after the other, waiting for each answer, and times the round. The
 * same client runs against M31 and against bare_mhd, so the ratio of the
 * two is the server's share.
 *
 *   http_seq --url http://HOST:PORT [--duration S] [--warmup S]
 *            [--conns N] [--chan] REQUEST...
 *
 * REQUEST: "METHOD PATH" or "METHOD PATH BODY" (the body is sent as
 * application/json). With --chan, each connection first makes a channel
 * of its own (POST /channels {"type":"Any"}) and "{send}" / "{recv}" in a
 * PATH stand for its two ends' URIs. An answer other than 200 or 201 (a
 * 204 from an empty channel included) counts as an error.
 *
 * Prints one line: "rounds R per_s X median_us M p99_us P errors E"
 * (per_s: rounds per second over all connections; median and p99 of the
 * round's latency). Exit 1 when a connection cannot be made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQS 8
#define MAX_CONNS 64
#define BUF_MAX 65536

typedef struct req_spec {
  const char *method, *path, *body; /* body NULL: none */
} req_spec;

static struct sockaddr_in addr;
static char host_hdr[96];
static req_spec specs[MAX_REQS];
static int nspecs, make_chan;
static double warmup_s = 0.5, duration_s = 4;

typedef struct conn {
  pthread_t thread;
  int fd;
  char buf[BUF_MAX];
  size_t have;
  char send_uri[128], recv_uri[128];
  char *wire[MAX_REQS]; /* the requests' bytes, built once */
  size_t wire_len[MAX_REQS];
  double *lat; /* round latencies, us */
  size_t nlat, cap;
  long errors;
} conn;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_open(conn *c) {
  int one = 1;
  c->have = 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Reads one answer: its status, and its body into body (NUL-terminated,
 * truncated to bodymax - 1) when body is not NULL. -1 on a closed or
 * broken connection, or an answer this client does not read (chunked). */
static int read_answer(conn *c, int *status, char *body, size_t bodymax) {
  char *end;
  for (;;) {
    c->buf[c->have] = '\0';
    if ((end = strstr(c->buf, "\r\n\r\n"))) break;
    if (c->have >= BUF_MAX - 1) return -1;
    ssize_t r = read(c->fd, c->buf + c->have, BUF_MAX - 1 - c->have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c->have += (size_t)r;
  }
  size_t head = (size_t)(end - c->buf) + 4, clen = 0;
  if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1) return -1;
  for (char *l = strstr(c->buf, "\r\n"); l && l < end;
       l = strstr(l + 2, "\r\n")) {
    if (!strncasecmp(l + 2, "Content-Length:", 15))
      clen = strtoul(l + 17, NULL, 10);
    else if (!strncasecmp(l + 2, "Transfer-Encoding:", 18))
      return -1;
  }
  if (head + clen > BUF_MAX - 1) return -1;
  while (c->have < head + clen) {
    ssize_t r = read(c->fd, c->buf + c->have, BUF_MAX - 1 - c->have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c->have += (size_t)r;
  }
  if (body) {
    size_t n = clen < bodymax - 1 ? clen : bodymax - 1;
    memcpy(body, c->buf + head, n);
    body[n] = '\0';
  }
  memmove(c->buf, c->buf + head + clen, c->have - head - clen);
  c->have -= head + clen;
  return 0;
}

static char *wire_new(const char *method, const char *path, const char *body,
                      size_t *len) {
  char *w = NULL;
  int n = body ? asprintf(&w,
                          "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                          "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                          method, path, host_hdr, strlen(body), body)
               : asprintf(&w, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method,
                          path, host_hdr);
  if (n < 0) abort();
  *len = (size_t)n;
  return w;
}

/* The URI of member name ("send", "recv") in a channel's JSON, into out. */
static int json_uri(const char *json, const char *name, char *out, size_t max) {
  char key[32];
  snprintf(key, sizeof key, "\"%s\":\"", name);
  const char *p = strstr(json, key), *q;
  if (!p || !(q = strchr(p += strlen(key), '"')) || (size_t)(q - p) >= max)
    return -1;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = '\0';
  return 0;
}

static int chan_make(conn *c) {
  char body[2048];
  size_t len;
  int status;
  char *w = wire_new("POST", "/channels", "{\"type\":\"Any\"}", &len);
  int rc = write_all(c->fd, w, len) != 0 ||
           read_answer(c, &status, body, sizeof body) != 0 || status != 201 ||
           json_uri(body, "send", c->send_uri, sizeof c->send_uri) != 0 ||
           json_uri(body, "recv", c->recv_uri, sizeof c->recv_uri) != 0;
  free(w);
  if (rc) fprintf(stderr, "http_seq: cannot make a channel: %.200s\n", body);
  return rc ? -1 : 0;
}

/* path with {send} and {recv} replaced by the connection's ends. */
static void path_expand(const conn *c, const char *path, char *out,
                        size_t max) {
  size_t o = 0;
  while (*path && o + 1 < max) {
    const char *with = NULL;
    size_t skip = 0;
    if (!strncmp(path, "{send}", 6)) with = c->send_uri, skip = 6;
    if (!strncmp(path, "{recv}", 6)) with = c->recv_uri, skip = 6;
    if (with) {
      o += (size_t)snprintf(out + o, max - o, "%s", with);
      path += skip;
    } else {
      out[o++] = *path++;
    }
  }
  out[o < max ? o : max - 1] = '\0';
}

static void lat_add(conn *c, double us) {
  if (c->nlat == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 65536;
    if (!(c->lat = realloc(c->lat, c->cap * sizeof *c->lat))) abort();
  }
  c->lat[c->nlat++] = us;
}

/* One round: every request in order. 0, or -1 when the connection broke
 * (it is then reopened). Answers other than 200/201 count as errors. */
static int round_run(conn *c) {
  for (int i = 0; i < nspecs; i++) {
    int status;
    if (write_all(c->fd, c->wire[i], c->wire_len[i]) != 0 ||
        read_answer(c, &status, NULL, 0) != 0) {
      c->errors++;
      close(c->fd);
      if (conn_open(c) != 0) return -2;
      return -1;
    }
    if (status != 200 && status != 201) c->errors++;
  }
  return 0;
}

static void *conn_main(void *arg) {
  conn *c = arg;
  double t_end;
  if (make_chan && chan_make(c) != 0) exit(1);
  for (int i = 0; i < nspecs; i++) {
    char path[512];
    path_expand(c, specs[i].path, path, sizeof path);
    c->wire[i] =
        wire_new(specs[i].method, path, specs[i].body, &c->wire_len[i]);
  }
  t_end = now_s() + warmup_s;
  while (now_s() < t_end)
    if (round_run(c) == -2) exit(1);
  c->errors = 0;
  t_end = now_s() + duration_s;
  for (;;) {
    double t0 = now_s();
    if (t0 >= t_end) break;
    int rc = round_run(c);
    if (rc == -2) exit(1);
    if (rc == 0) lat_add(c, (now_s() - t0) * 1e6);
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int url_parse(const char *url) {
  char host[64];
  int port;
  if (sscanf(url, "http://%63[^:/]:%d", host, &port) != 2) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return -1;
  snprintf(host_hdr, sizeof host_hdr, "%s:%d", host, port);
  return 0;
}

static int spec_parse(char *s, req_spec *r) {
  char *sp = strchr(s, ' ');
  if (!sp || nspecs == MAX_REQS) return -1;
  *sp = '\0';
  r->method = s;
  r->path = sp + 1;
  if ((sp = strchr(sp + 1, ' '))) {
    *sp = '\0';
    r->body = sp + 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static conn conns[MAX_CONNS];
  int nconns = 1, i;
  const char *url = NULL;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--url") && i + 1 < argc)
      url = argv[++i];
    else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
      duration_s = atof(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
      warmup_s = atof(argv[++i]);
    else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
      nconns = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--chan"))
      make_chan = 1;
    else if (spec_parse(argv[i], &specs[nspecs]) == 0)
      nspecs++;
    else
      break;
  }
  if (i < argc || !url || url_parse(url) != 0 || nspecs == 0 || nconns < 1 ||
      nconns > MAX_CONNS || duration_s <= 0) {
    fprintf(stderr,
            "usage: http_seq --url http://HOST:PORT [--duration S] "
            "[--warmup S] [--conns N] [--chan] \"METHOD PATH [BODY]\"...\n");
    return 2;
  }
  for (i = 0; i < nconns; i++) {
    if (conn_open(&conns[i]) != 0) {
      perror("http_seq: connect");
      return 1;
    }
  }
  for (i = 0; i < nconns; i++)
    pthread_create(&conns[i].thread, NULL, conn_main, &conns[i]);
  size_t total = 0;
  long errors = 0;
  for (i = 0; i < nconns; i++) {
    pthread_join(conns[i].thread, NULL);
    total += conns[i].nlat;
    errors += conns[i].errors;
  }
  double *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  if (!all) abort();
  for (i = 0; i < nconns; i++) {
    memcpy(all + k, conns[i].lat, conns[i].nlat * sizeof *all);
    k += conns[i].nlat;
  }
  qsort(all, total, sizeof *all, cmp_double);
  printf("rounds %zu per_s %.0f median_us %.1f p99_us %.1f errors %ld\n", total,
         (double)total / duration_s, total ? all[(total - 1) / 2] : 0.0,
         total ? all[(size_t)((double)(total - 1) * 0.99)] : 0.0, errors);
  return 0;
}
