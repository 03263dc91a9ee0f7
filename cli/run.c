/*
 * run.c — `m31 run FILE.rb [ARGS...]`: spawns a fibril with the file's
 * source (POST /fibrils), prints what it sends to its parent as lines of
 * JSON (long-polls on channels.recv until 410: closed and drained), then
 * reads its end (GET /fibrils/{id}). With --stdin a second thread sends
 * each input line to channels.send and closes it at end of input. Ctrl-C
 * kills the fibril (DELETE /fibrils/{id}).
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_WAIT_S 30
#define END_WAIT_MS 10000 /* how long the record may take to turn final */
#define BACKTRACE_LINES 5

int cli_source_defines_main(const char *src) {
  int in_doc = 0;

  for (const char *l = src; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
    if (in_doc) {
      if (!strncmp(l, "=end", 4) && (isspace((unsigned char)l[4]) || !l[4]))
        in_doc = 0;
      continue;
    }
    if (!strncmp(l, "=begin", 6) && (isspace((unsigned char)l[6]) || !l[6])) {
      in_doc = 1;
      continue;
    }
    if (strncmp(l, "def", 3) || (l[3] != ' ' && l[3] != '\t')) continue;
    const char *p = l + 3;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncmp(p, "main", 4)) continue;
    p += 4;
    if (!*p || strchr("( \t;=\r\n", *p)) return 1;
  }
  return 0;
}

/* {"code", "fn", "args", "budget"?}. Refcount: new; NULL when the source
 * is not UTF-8. */
static json_t *spawn_body_new(const char *src, int has_main, char *const *args,
                              int nargs, long cpu_ms) {
  json_t *code = json_string(src), *a, *b;

  if (!code) return NULL;
  if (!(a = json_array())) abort();
  for (int i = 0; i < nargs; i++)
    json_array_append_new(a, cli_json_arg_new(args[i]));
  b = json_pack("{s:o, s:s?, s:o}", "code", code, "fn",
                has_main ? "main" : NULL, "args", a);
  if (!b) abort();
  if (cpu_ms)
    json_object_set_new(b, "budget",
                        json_pack("{s:I}", "cpu_ms", (json_int_t)cpu_ms));
  return b;
}

/* ------------------------------------------------------------ --stdin */

/* The --stdin thread's own copy of what it needs; it frees it. */
typedef struct {
  char base[1024];
  char send[512]; /* the fibril's channels.send */
} feeder;

/* Sends one message, retrying while the channel is full; 0 sent, 1 the
 * fibril is gone (410/404), -1 another failure (printed). */
static int feed_one(cli_http *h, const char *uri, const json_t *msg) {
  for (;;) {
    cli_resp r;
    json_t *ans;
    char err[512];
    if (cli_http_json(h, "POST", uri, msg, POLL_WAIT_S + 10, &r, &ans, err,
                      sizeof err) != 0) {
      fprintf(stderr, "m31 run: --stdin: %s\n", err);
      return -1;
    }
    long st = r.status;
    if (st >= 400 && st != 409 && st != 410 && st != 404) cli_problem_print(&r);
    cli_resp_free(&r);
    json_decref(ans);
    if (st < 300) return 0;
    if (st != 409) return st == 410 || st == 404 ? 1 : -1;
  }
}

/* The --stdin thread: each line (without its newline) as a JSON string. */
static void *feeder_main(void *ud) {
  feeder *f = ud;
  cli_http *h = cli_http_new(f->base);
  char uri[600], *line = NULL;
  size_t cap = 0;
  ssize_t n;

  snprintf(uri, sizeof uri, "%s?wait=%d", f->send, POLL_WAIT_S);
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
    json_t *msg = json_stringn(line, (size_t)n);
    if (!msg) {
      fprintf(stderr, "m31 run: --stdin: a line is not UTF-8; skipped\n");
      continue;
    }
    int rc = feed_one(h, uri, msg);
    json_decref(msg);
    if (rc != 0) goto Exit;
  }
  /* end of input: close our end, so PARENT.recv raises ChannelClosed */
  snprintf(uri, sizeof uri, "%s/close", f->send);
  cli_resp r;
  char err[512];
  if (cli_http_do(h, "POST", uri, NULL, NULL, 0, 30, &r, err, sizeof err) == 0)
    cli_resp_free(&r);
Exit:
  free(line);
  cli_http_free(h);
  free(f);
  return NULL;
}

/* --------------------------------------------------------------- output */

/* Long-polls `recv` until 410 (or 404: already removed). Each message is
 * printed as one line of JSON. */
static int stream_messages(cli_http *h, const char *recv) {
  char uri[600], err[512];

  snprintf(uri, sizeof uri, "%s?wait=%d", recv, POLL_WAIT_S);
  for (;;) {
    cli_resp r;
    int rc = cli_http_do(h, "GET", uri, NULL, NULL, 0, POLL_WAIT_S + 15, &r,
                         err, sizeof err);
    if (rc != 0) {
      if (rc != -2) fprintf(stderr, "m31 run: %s\n", err);
      return rc == -2 ? CLI_INTERRUPTED : CLI_API;
    }
    long st = r.status;
    if (st == 200) {
      json_t *v = json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL);
      char *s = v ? cli_json_line(v) : NULL;
      printf("%s\n", s ? s : r.body);
      fflush(stdout);
      free(s);
      json_decref(v);
    } else if (st != 204 && st != 410 && st != 404) {
      cli_problem_print(&r);
    }
    cli_resp_free(&r);
    if (st == 410 || st == 404) return CLI_OK;
    if (st != 200 && st != 204) return CLI_API;
  }
}

static int state_final(const char *s) {
  return s &&
         (!strcmp(s, "done") || !strcmp(s, "failed") || !strcmp(s, "killed"));
}

/* GET /fibrils/{id} until the record is final. *rec: new reference. */
static int record_final(cli_http *h, const char *uri, json_t **rec) {
  char err[512];
  for (int waited = 0;; waited += 20) {
    cli_resp r;
    int rc = cli_http_json(h, "GET", uri, NULL, 30, &r, rec, err, sizeof err);
    if (rc != 0) {
      fprintf(stderr, "m31 run: %s\n", err);
      return rc == -2 ? CLI_INTERRUPTED : CLI_API;
    }
    if (r.status != 200 || !json_is_object(*rec)) {
      cli_problem_print(&r);
      cli_resp_free(&r);
      return CLI_API;
    }
    cli_resp_free(&r);
    if (state_final(json_string_value(json_object_get(*rec, "state"))))
      return CLI_OK;
    if (waited >= END_WAIT_MS) {
      fprintf(stderr, "m31 run: the fibril's channel closed but it is still "
                      "not finished\n");
      return CLI_API;
    }
    json_decref(*rec);
    *rec = NULL;
    nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
  }
}

/* Prints a backtrace line with the code's fingerprint shown as the file. */
static void frame_print(const char *line, const char *fp, const char *file) {
  const char *at = fp && *fp ? strstr(line, fp) : NULL;
  if (at)
    fprintf(stderr, "\tfrom %.*s%s%s\n", (int)(at - line), line, file,
            at + strlen(fp));
  else
    fprintf(stderr, "\tfrom %s\n", line);
}

/* The end of the fibril: its result on stdout, or its error on stderr. */
static int end_report(const json_t *rec, const char *file, int quiet) {
  const char *state = json_string_value(json_object_get(rec, "state"));
  const json_t *e = json_object_get(rec, "error");

  if (!strcmp(state, "done")) {
    if (!quiet) {
      char *s = cli_json_line(json_object_get(rec, "result"));
      printf("%s\n", s);
      free(s);
    }
    return CLI_OK;
  }
  if (!strcmp(state, "killed")) {
    const char *why = json_string_value(json_object_get(rec, "reason"));
    fprintf(stderr, "killed: %s\n", why ? why : "(no reason)");
    return CLI_API;
  }
  const char *cls = json_string_value(json_object_get(e, "class")),
             *msg = json_string_value(json_object_get(e, "message")),
             *fp = json_string_value(json_object_get(rec, "code"));
  fprintf(stderr, "%s: %s\n", cls ? cls : "Error", msg ? msg : "");
  const json_t *bt = json_object_get(e, "backtrace");
  for (size_t i = 0; i < json_array_size(bt) && i < BACKTRACE_LINES; i++) {
    const char *l = json_string_value(json_array_get(bt, i));
    if (l) frame_print(l, fp, file);
  }
  return CLI_API;
}

/* ------------------------------------------------------------------ run */

static void on_sigint(int sig) {
  (void)sig;
  cli_interrupted = 1;
}

/* Ctrl-C: stop waiting, kill the fibril, exit 130. */
static void sigint_catch(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

static void fibril_kill(const char *base, const char *uri) {
  cli_http *h = cli_http_new(base);
  cli_resp r;
  char err[256];
  cli_interrupted = 0;
  if (cli_http_do(h, "DELETE", uri, NULL, NULL, 0, 10, &r, err, sizeof err) ==
      0)
    cli_resp_free(&r);
  cli_http_free(h);
  fprintf(stderr, "m31 run: interrupted; fibril %s killed\n", uri);
}

/* Spawns the fibril: *rec is its record (new reference). */
static int spawn(const cli_opts *o, cli_http *h, json_t **rec) {
  const char *file = o->pos[0];
  FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
  char *src, err[512];
  cli_resp r;

  if (!f) {
    fprintf(stderr, "m31 run: cannot read %s: %s\n", file, strerror(errno));
    return CLI_USAGE;
  }
  src = cli_read_all(f, NULL);
  if (f != stdin) fclose(f);
  if (!src) {
    fprintf(stderr, "m31 run: cannot read %s\n", file);
    return CLI_USAGE;
  }
  int has_main = cli_source_defines_main(src);
  if (!has_main && o->npos > 1)
    fprintf(stderr,
            "m31 run: %s defines no main; its arguments are not "
            "used\n",
            file);
  json_t *body =
      spawn_body_new(src, has_main, o->pos + 1, o->npos - 1, o->cpu_ms);
  free(src);
  if (!body) {
    fprintf(stderr, "m31 run: %s is not UTF-8 text\n", file);
    return CLI_USAGE;
  }
  int rc =
      cli_http_json(h, "POST", "/fibrils", body, 60, &r, rec, err, sizeof err);
  json_decref(body);
  if (rc != 0) {
    fprintf(stderr, "m31 run: %s\n", err);
    return rc == -2 ? CLI_INTERRUPTED : CLI_API;
  }
  int ok = r.status == 201 && json_is_object(*rec);
  if (!ok) cli_problem_print(&r);
  cli_resp_free(&r);
  return ok ? CLI_OK : CLI_API;
}

int cli_cmd_run(const cli_opts *o) {
  cli_http *h = cli_http_new(o->url);
  json_t *rec = NULL, *end = NULL;
  char uri[600];
  pthread_t feed;
  int ret;

  if (o->stdin_fwd && !strcmp(o->pos[0], "-")) {
    fprintf(stderr, "m31 run: --stdin needs the program in a file\n");
    cli_http_free(h);
    return CLI_USAGE;
  }
  sigint_catch();
  if ((ret = spawn(o, h, &rec)) != CLI_OK) goto Exit;
  snprintf(uri, sizeof uri, "/fibrils/%s",
           json_string_value(json_object_get(rec, "id")));
  const json_t *ch = json_object_get(rec, "channels");
  const char *recv = json_string_value(json_object_get(ch, "recv")),
             *send = json_string_value(json_object_get(ch, "send"));
  if (o->stdin_fwd && send) {
    feeder *fd = calloc(1, sizeof *fd);
    if (!fd) abort();
    snprintf(fd->base, sizeof fd->base, "%s", cli_http_base(h));
    snprintf(fd->send, sizeof fd->send, "%s", send);
    if (pthread_create(&feed, NULL, feeder_main, fd) != 0) abort();
    pthread_detach(feed); /* it may be blocked reading when we are done */
  }
  if (recv && (ret = stream_messages(h, recv)) != CLI_OK) goto Exit;
  if ((ret = record_final(h, uri, &end)) != CLI_OK) goto Exit;
  ret = end_report(end, o->pos[0], o->quiet);
Exit:
  fflush(stdout);
  if (ret == CLI_INTERRUPTED && rec) fibril_kill(o->url, uri);
  json_decref(rec);
  json_decref(end);
  cli_http_free(h);
  return ret;
}
