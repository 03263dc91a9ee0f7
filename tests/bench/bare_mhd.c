/*
 * bare_mhd.c — the ceiling for M31's GET: a libmicrohttpd server that does
 * nothing but answer every request with the bytes of one captured M31 GET
 * response (same body, same headers), with M31's threading model and daemon
 * options (epoll internal thread, a pool of 2 x cores threads, the same
 * timeouts and limits; see server/http.c). Like any dynamic handler it
 * builds a fresh response per request (copying the body); it does no
 * routing, no parsing, no store read and no JSON. Like M31 it answers on
 * the access handler's second call, when the request is complete.
 *
 *   bare_mhd --headers FILE --body FILE [--port N] [--threads N]
 *
 * FILE of headers: one "Name: value" a line (CR LF or LF); Content-Length
 * and Date lines are skipped (libmicrohttpd writes both). Logs
 * "listening on http://127.0.0.1:PORT" on stderr, then serves until SIGTERM
 * or SIGINT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_HEADERS 32

static char *body;
static size_t body_len;
static char *hname[MAX_HEADERS], *hvalue[MAX_HEADERS];
static int nheaders;

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int load_headers(const char *path) {
  size_t len;
  char *text = slurp(path, &len);
  if (!text) return -1;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    char *colon = strchr(line, ':');
    if (!colon || colon == line) continue; /* status line or blank */
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    if (!strcasecmp(line, "Content-Length") || !strcasecmp(line, "Date"))
      continue;
    if (nheaders == MAX_HEADERS) break;
    hname[nheaders] = strdup(line);
    hvalue[nheaders] = strdup(v);
    nheaders++;
  }
  free(text);
  return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls) {
  (void)cls, (void)url, (void)method, (void)version, (void)upload;
  static int seen;
  /* Answer only once the request is complete (the call after the headers'
   * one): a response queued on the first call makes libmicrohttpd close the
   * connection, as it cannot know the request's end was read. */
  if (*req_cls == NULL) {
    *req_cls = &seen;
    return MHD_YES;
  }
  if (*upload_size) { /* a body: swallow it */
    *upload_size = 0;
    return MHD_YES;
  }
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  for (int i = 0; i < nheaders; i++)
    MHD_add_response_header(resp, hname[i], hvalue[i]);
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ret;
}

int main(int argc, char **argv) {
  const char *hfile = NULL, *bfile = NULL;
  int port = 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = (int)(cores > 0 ? 2 * cores : 2);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--headers"))
      hfile = argv[i + 1];
    else if (!strcmp(argv[i], "--body"))
      bfile = argv[i + 1];
    else if (!strcmp(argv[i], "--port"))
      port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "bare_mhd: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (!hfile || !bfile) {
    fprintf(stderr, "usage: bare_mhd --headers FILE --body FILE [--port N] "
                    "[--threads N]\n");
    return 2;
  }
  if (load_headers(hfile) != 0 || !(body = slurp(bfile, &body_len))) {
    perror("bare_mhd: reading the captured response");
    return 1;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* the daemon's threads inherit it */

  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d =
      MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                           MHD_ALLOW_SUSPEND_RESUME,
                       0, NULL, NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, &a,
                       MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                       MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                       MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "bare_mhd: cannot start the daemon\n");
    return 1;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr, "listening on http://127.0.0.1:%u (%d threads)\n",
          info ? (unsigned)info->port : 0u, threads);
  fflush(stderr);

  int sig;
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  return 0;
}
