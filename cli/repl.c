/*
 * repl.c — `m31 repl [URL]`: a terminal session on a node's /repl.
 *
 * POST /repl makes the session; each entry is POSTed to /repl/{id} as
 * text/plain (or JSON with a budget). When the node answers
 * "incomplete": true the entry goes on with the next line and the whole
 * text is sent again. `exit`, `quit` or end of input DELETE the session.
 * On a terminal, lines come from libedit (editing, history kept in
 * ~/.m31_history or $M31_HISTORY); otherwise they are read plainly, without
 * prompts, so input can be piped. Ctrl-C drops the entry being typed, or
 * stops waiting for an evaluation (which goes on in the node).
 */
#include "cli/cli.h"

#include <editline/readline.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT "m31> "
#define PROMPT_MORE "m31* "
#define HISTORY_MAX 1000
#define EVAL_TIMEOUT_S 0 /* an evaluation ends at its CPU budget */

typedef struct {
  cli_http *h;
  char uri[512]; /* the session, /repl/{id} */
  long cpu_ms;
  int edit;  /* libedit reads the lines */
  int color; /* stdout gets colours */
  char history[1024];
} repl;

#define RED "\033[31m"
#define GREEN "\033[32m"
#define DIM "\033[2m"
#define RESET "\033[0m"

/* SIGHUP or SIGTERM: end the session as at end of input. */
static volatile sig_atomic_t quit_sig;

static void on_signal(int sig) {
  if (sig != SIGINT) quit_sig = 1;
  cli_interrupted = 1;
}

/* Without SA_RESTART, so a waiting read returns EINTR. */
static void signals_catch(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* -------------------------------------------------------------- session */

static int session_open(repl *s) {
  cli_resp r;
  json_t *ans, *body = json_object();
  char err[512];

  int rc =
      cli_http_json(s->h, "POST", "/repl", body, 30, &r, &ans, err, sizeof err);
  json_decref(body);
  if (rc != 0) {
    fprintf(stderr, "m31 repl: %s\n", err);
    return -1;
  }
  const char *uri = json_string_value(json_object_get(ans, "uri")),
             *id = json_string_value(json_object_get(ans, "id"));
  int ok = r.status == 201 && (uri || id);
  if (ok && uri)
    snprintf(s->uri, sizeof s->uri, "%s", uri);
  else if (ok)
    snprintf(s->uri, sizeof s->uri, "/repl/%s", id);
  else
    cli_problem_print(&r);
  cli_resp_free(&r);
  json_decref(ans);
  return ok ? 0 : -1;
}

static void session_close(repl *s) {
  cli_resp r;
  char err[256];
  cli_interrupted = 0;
  if (cli_http_do(s->h, "DELETE", s->uri, NULL, NULL, 0, 10, &r, err,
                  sizeof err) == 0)
    cli_resp_free(&r);
}

/* ------------------------------------------------------------- printing */

/* What the node said about one evaluation. Returns 1 when the text is
 * incomplete (more lines are wanted), else 0. */
static int answer_print(const repl *s, const json_t *a) {
  const char *out = json_string_value(json_object_get(a, "output"));
  const char *res = json_string_value(json_object_get(a, "result"));
  const json_t *e = json_object_get(a, "error");

  if (json_is_true(json_object_get(a, "incomplete"))) return 1;
  if (out && *out) {
    fputs(out, stdout);
    if (out[strlen(out) - 1] != '\n') fputc('\n', stdout);
  }
  if (json_is_object(e)) {
    const char *cls = json_string_value(json_object_get(e, "class")),
               *msg = json_string_value(json_object_get(e, "message"));
    const json_t *line = json_object_get(e, "line");
    printf("%s%s: %s", s->color ? RED : "", cls ? cls : "Error",
           msg ? msg : "");
    if (json_is_integer(line))
      printf(" (line %lld)", (long long)json_integer_value(line));
    printf("%s\n", s->color ? RESET : "");
  } else if (res) {
    printf("%s=>%s %s\n", s->color ? GREEN : "", s->color ? RESET : "", res);
  }
  fflush(stdout);
  return 0;
}

/* ----------------------------------------------------------- evaluation */

/* One POST of the text. 0 answered (*ans new), 1 no session (404), -1
 * failed (printed). */
static int eval_post(repl *s, const char *text, json_t **ans) {
  cli_resp r;
  char err[512];
  int rc;

  if (s->cpu_ms) {
    json_t *b = json_pack("{s:s, s:{s:I}}", "code", text, "budget", "cpu_ms",
                          (json_int_t)s->cpu_ms);
    if (!b) {
      fprintf(stderr, "the input is not UTF-8 text\n");
      return -1;
    }
    rc = cli_http_json(s->h, "POST", s->uri, b, EVAL_TIMEOUT_S, &r, ans, err,
                       sizeof err);
    json_decref(b);
  } else {
    rc = cli_http_do(s->h, "POST", s->uri, "text/plain", text, strlen(text),
                     EVAL_TIMEOUT_S, &r, err, sizeof err);
    *ans = rc == 0 && strstr(r.ctype, "json")
               ? json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL)
               : NULL;
  }
  if (rc == -2 && !quit_sig)
    fprintf(stderr, "interrupted: the evaluation goes on in the node until "
                    "it ends or its CPU budget is spent\n");
  else if (rc == -1)
    fprintf(stderr, "%s\n", err);
  if (rc != 0) return -1;
  rc = r.status == 200 && json_is_object(*ans) ? 0 : -1;
  if (r.status == 404) rc = 1;
  if (rc == -1) cli_problem_print(&r);
  if (rc != 0) {
    json_decref(*ans);
    *ans = NULL;
  }
  cli_resp_free(&r);
  return rc;
}

/* Evaluates the text; a session the node forgot is made anew (once).
 * Returns 1 when the text is incomplete. */
static int eval_text(repl *s, const char *text) {
  json_t *ans;
  int rc = eval_post(s, text, &ans);

  if (rc == 1) {
    fprintf(stderr, "(the session was gone; a new one starts: earlier "
                    "definitions are lost)\n");
    if (session_open(s) != 0) return 0;
    rc = eval_post(s, text, &ans);
    if (rc == 1) fprintf(stderr, "the new session is gone too\n");
  }
  if (rc != 0) return 0;
  int more = answer_print(s, ans);
  json_decref(ans);
  return more;
}

/* ---------------------------------------------------------------- input */

/* One line without its newline (malloc'd), or NULL at end of input. A
 * Ctrl-C gives "" with *cancel set. */
static char *line_read(repl *s, int more, int *cancel) {
  char *line = NULL;
  size_t cap = 0;

  *cancel = 0;
  cli_interrupted = 0;
  if (s->edit) {
    line = readline(more ? PROMPT_MORE : PROMPT);
  } else {
    ssize_t n;
    errno = 0;
    while ((n = getline(&line, &cap, stdin)) < 0 && errno == EINTR &&
           !cli_interrupted)
      clearerr(stdin);
    if (n < 0) {
      free(line);
      line = NULL;
    } else {
      while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    }
  }
  if (quit_sig) {
    free(line);
    return NULL;
  }
  if (!line && cli_interrupted) {
    clearerr(stdin);
    *cancel = 1;
    if (s->edit) fputc('\n', stdout);
    line = strdup("");
    if (!line) abort();
  }
  return line;
}

/* The line alone is `exit` or `quit` (blanks around it allowed). */
static int is_exit(const char *l) {
  while (*l == ' ' || *l == '\t')
    l++;
  size_t n = strlen(l);
  while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
    n--;
  return (n == 4 && !strncmp(l, "exit", 4)) ||
         (n == 4 && !strncmp(l, "quit", 4));
}

static void text_add(char **text, size_t *len, const char *line) {
  size_t n = strlen(line);
  char *p = realloc(*text, *len + n + 2);
  if (!p) abort();
  memcpy(p + *len, line, n);
  p[*len + n] = '\n';
  p[*len + n + 1] = '\0';
  *text = p;
  *len += n + 1;
}

static void history_setup(repl *s) {
  const char *env = getenv("M31_HISTORY"), *home = getenv("HOME");

  if (env && *env)
    snprintf(s->history, sizeof s->history, "%s", env);
  else if (home && *home)
    snprintf(s->history, sizeof s->history, "%s/.m31_history", home);
  rl_readline_name = "m31";
  using_history();
  stifle_history(HISTORY_MAX);
  if (s->history[0]) read_history(s->history);
}

/* Reads and evaluates until exit, quit or end of input. */
static void loop(repl *s) {
  char *text = NULL, *line;
  size_t len = 0;
  int cancel, eof = 0;

  for (;;) {
    if (!(line = line_read(s, len > 0, &cancel))) {
      eof = 1;
      break;
    }
    if (cancel || (len == 0 && is_exit(line))) {
      free(line);
      if (!cancel) break;
      free(text), text = NULL, len = 0;
      continue;
    }
    if (s->edit && line[strspn(line, " \t")]) add_history(line);
    if (len == 0 && !line[strspn(line, " \t\r")]) {
      free(line);
      continue;
    }
    text_add(&text, &len, line);
    free(line);
    if (!eval_text(s, text)) free(text), text = NULL, len = 0;
    if (quit_sig) break;
  }
  if (eof && s->edit && !quit_sig) fputc('\n', stdout); /* after ^D */
  if (eof && len > 0 && !quit_sig)
    fprintf(stderr, "m31 repl: the input ended inside an unfinished "
                    "expression; it was not evaluated\n");
  free(text);
}

int cli_cmd_repl(const cli_opts *o) {
  repl s = {0};

  s.h = cli_http_new(o->npos > 0 ? o->pos[0] : o->url);
  s.cpu_ms = o->cpu_ms;
  s.edit = cli_isatty(stdin);
  s.color = cli_color(stdout);
  if (session_open(&s) != 0) {
    cli_http_free(s.h);
    return CLI_API;
  }
  signals_catch();
  if (s.edit) history_setup(&s);
  if (s.edit)
    printf("%sm31 repl on %s (%s); exit or Ctrl-D ends it%s\n",
           s.color ? DIM : "", cli_http_base(s.h), s.uri, s.color ? RESET : "");
  loop(&s);
  if (s.edit && s.history[0]) write_history(s.history);
  session_close(&s);
  cli_http_free(s.h);
  return CLI_OK;
}
