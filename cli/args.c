/*
 * args.c — the command line of the `m31` client: one table of commands
 * (name, flags, positional arguments, help), the flag parser that reads it,
 * the usage texts printed from it, and the small argument conversions
 * (URL joining, an argument as JSON).
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REQ_FLAGS CLI_F_INCLUDE

static const cli_cmd cmds[] = {
    {"get", REQ_FLAGS, 1, 1, 0, "URI", "read a URI and print the answer",
     "Prints the body: pretty JSON on a terminal, the bytes as they came\n"
     "otherwise. URI is a path on the node (/fs/words/pi) or a full URL.\n",
     cli_cmd_request},
    {"put", REQ_FLAGS, 1, 2, 0, "URI [JSON]",
     "create or replace a space or an object",
     "The body is JSON, else standard input when it is absent or '-'.\n"
     "  m31 put /fs/words '{\"attrs\":{\"freq\":\"Int\"}}'\n"
     "  m31 put /fs/words/pi '{\"attrs\":{\"freq\":3}}'\n",
     cli_cmd_request},
    {"patch", REQ_FLAGS, 1, 2, 0, "URI [JSON]", "update an object atomically",
     "The body is JSON, else standard input when it is absent or '-'.\n"
     "  m31 patch /fs/words/pi '{\"attrs\":{\"freq\":{\"$incr\":1}}}'\n",
     cli_cmd_request},
    {"post", REQ_FLAGS, 1, 2, 0, "URI [JSON]",
     "send to a channel, register code, spawn a fibril",
     "The body is JSON, else standard input when it is absent or '-'\n"
     "(nothing is sent when it is absent and standard input is a terminal).\n"
     "  m31 post /channels '{\"type\":\"Int\"}'\n"
     "  m31 post /channels/SEND 42\n",
     cli_cmd_request},
    {"rm", REQ_FLAGS, 1, 1, 0, "URI", "delete a URI", "  m31 rm /fs/words/pi\n",
     cli_cmd_request},
    {"ps", CLI_F_STATE | CLI_F_PARENT, 0, 0, 0, "[--state S] [--parent ID]",
     "list fibrils",
     "A table of fibrils, oldest first: id, state, parent, CPU ms, memory,\n"
     "created, and the result, error or kill reason. Every page is read.\n"
     "  --state S     only fibrils in state S (ready, running, waiting, "
     "done,\n"
     "                failed, killed)\n"
     "  --parent ID   only the children of fibril ID\n",
     cli_cmd_ps},
    {"run", CLI_F_QUIET | CLI_F_STDIN | CLI_F_CPU, 1, -1, 1,
     "FILE.rb [ARGS...]",
     "run a Ruby file in a fibril, streaming what it sends",
     "Spawns a fibril with the file's source, calling main(*ARGS) when the\n"
     "file defines a top-level `def main`; each ARG is JSON when it parses,\n"
     "else a string. Prints each message the fibril sends with PARENT.send\n"
     "as one line of JSON, then its result. Exit status 0 when it is done,\n"
     "1 when it failed or was killed (the error goes to standard error).\n"
     "Ctrl-C kills the fibril.\n"
     "  -q, --quiet   do not print the result\n"
     "  --stdin       send each line of standard input to the fibril as a\n"
     "                JSON string (PARENT.recv); end of input closes it\n"
     "  --cpu-ms N    the fibril's CPU budget in milliseconds\n",
     cli_cmd_run},
    {"repl", CLI_F_CPU, 0, 1, 0, "[URL]",
     "an interactive Ruby session on a node",
     "Reads Ruby, evaluates it on the node (POST /repl/{id}) and prints what\n"
     "it printed and `=> result`. An unfinished expression continues on the\n"
     "next line. `exit`, `quit` or end of input ends the session. History\n"
     "is kept in ~/.m31_history (or $M31_HISTORY).\n"
     "  --cpu-ms N    CPU budget of each evaluation in milliseconds\n",
     cli_cmd_repl},
};

#define NCMDS (sizeof cmds / sizeof *cmds)

/* Every flag: its names, its bit (0 for --url and --help) and whether it
 * takes a value. */
typedef struct {
  const char *lng;
  char shrt;
  int bit;
  int has_value;
} flag_def;

enum { F_URL = 1 << 29, F_HELP = 1 << 30 };

static const flag_def flag_defs[] = {
    {"url", 0, F_URL, 1},
    {"help", 'h', F_HELP, 0},
    {"include", 'i', CLI_F_INCLUDE, 0},
    {"quiet", 'q', CLI_F_QUIET, 0},
    {"stdin", 0, CLI_F_STDIN, 0},
    {"state", 0, CLI_F_STATE, 1},
    {"parent", 0, CLI_F_PARENT, 1},
    {"cpu-ms", 0, CLI_F_CPU, 1},
};

#define NFLAGS (sizeof flag_defs / sizeof *flag_defs)

const cli_cmd *cli_cmd_find(const char *name) {
  for (size_t i = 0; i < NCMDS; i++)
    if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
  return NULL;
}

void cli_usage(FILE *f) {
  fprintf(f, "usage: m31 <command> [flags] [arguments]\n\ncommands:\n");
  fprintf(f, "  %-7s %s\n", "serve", "run a node (m31 serve --help)");
  for (size_t i = 0; i < NCMDS; i++)
    fprintf(f, "  %-7s %s\n", cmds[i].name, cmds[i].summary);
  fprintf(f, "  %-7s %s\n", "help", "this, or `m31 help COMMAND`");
  fprintf(f,
          "\nThe node is --url URL, else $M31_URL, else %s.\n"
          "Exit status: 0 success, 1 an HTTP or API error, 2 a usage "
          "error.\n",
          CLI_URL_DEFAULT);
}

void cli_cmd_usage(FILE *f, const cli_cmd *c) {
  fprintf(f, "usage: m31 %s %s\n\n%s: %s.\n\n%s", c->name, c->args, c->name,
          c->summary, c->help);
  if (c->flags & CLI_F_INCLUDE)
    fprintf(f, "  -i, --include print the status line and headers too\n");
  fprintf(f,
          "  --url URL     the node (default $M31_URL, else %s)\n"
          "  -h, --help    print this\n",
          CLI_URL_DEFAULT);
}

void cli_opts_free(cli_opts *o) {
  free(o->pos);
  o->pos = NULL;
}

/* A lone "-" and negative numbers ("-1", "-2.5") are arguments. */
static int is_flag(const char *a) {
  if (a[0] != '-' || a[1] == '\0') return 0;
  return !(isdigit((unsigned char)a[1]) || a[1] == '.');
}

static const flag_def *flag_lookup(const char *a, const char **inline_val) {
  *inline_val = NULL;
  if (a[1] != '-') {
    for (size_t i = 0; i < NFLAGS; i++)
      if (a[1] == flag_defs[i].shrt && a[2] == '\0') return &flag_defs[i];
    return NULL;
  }
  const char *name = a + 2, *eq = strchr(name, '=');
  size_t n = eq ? (size_t)(eq - name) : strlen(name);
  for (size_t i = 0; i < NFLAGS; i++) {
    if (strlen(flag_defs[i].lng) == n && !strncmp(flag_defs[i].lng, name, n)) {
      if (eq) *inline_val = eq + 1;
      return &flag_defs[i];
    }
  }
  return NULL;
}

static int cpu_parse(const char *v, long *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 1 || n > 3600000) return -1;
  *out = n;
  return 0;
}

/* Stores one flag's value; -1 with a message when it is bad. */
static int flag_set(cli_opts *o, const flag_def *f, const char *val, char *err,
                    size_t errlen) {
  switch (f->bit) {
  case F_URL:
    if (!*val) break;
    o->url = val;
    return 0;
  case F_HELP:
    o->help = 1;
    return 0;
  case CLI_F_INCLUDE:
    o->include = 1;
    return 0;
  case CLI_F_QUIET:
    o->quiet = 1;
    return 0;
  case CLI_F_STDIN:
    o->stdin_fwd = 1;
    return 0;
  case CLI_F_STATE:
    o->state = val;
    return 0;
  case CLI_F_PARENT:
    o->parent = val;
    return 0;
  case CLI_F_CPU:
    if (cpu_parse(val, &o->cpu_ms) == 0) return 0;
    snprintf(err, errlen, "--cpu-ms must be an integer from 1 to 3600000");
    return -1;
  }
  snprintf(err, errlen, "--%s needs a value", f->lng);
  return -1;
}

/* The first flag seen that the command does not take, or NULL. */
static const char *flag_unaccepted(const cli_cmd *c, int seen) {
  for (size_t i = 0; i < NFLAGS; i++) {
    int bit = flag_defs[i].bit;
    if ((seen & bit) && bit != F_URL && bit != F_HELP && !(c->flags & bit))
      return flag_defs[i].lng;
  }
  return NULL;
}

/* A positional argument: the command's name, help's topic, or an argument. */
static int positional(cli_opts *o, const char *a, int *in_help, int *no_flags,
                      char *err, size_t errlen) {
  if (!o->cmd && !*in_help) {
    if (strcmp(a, "help") == 0) {
      *in_help = 1;
      o->help = 1;
      return 0;
    }
    if (!(o->cmd = cli_cmd_find(a))) {
      snprintf(err, errlen, "unknown command '%s'", a);
      return -1;
    }
    return 0;
  }
  if (!o->cmd) { /* m31 help CMD */
    if (!(o->cmd = cli_cmd_find(a))) {
      snprintf(err, errlen, "unknown command '%s'", a);
      return -1;
    }
    return 0;
  }
  o->pos[o->npos++] = (char *)a;
  if (o->cmd->flags_end && o->npos >= o->cmd->flags_end) *no_flags = 1;
  return 0;
}

/* After the loop: the count of arguments and the flags fit the command. */
static int args_check(cli_opts *o, int seen, char *err, size_t errlen) {
  const cli_cmd *c = o->cmd;
  const char *bad;

  if (o->help) return 0;
  if (!c) {
    snprintf(err, errlen, "no command given");
    return -1;
  }
  if ((bad = flag_unaccepted(c, seen))) {
    snprintf(err, errlen, "--%s is not a flag of this command", bad);
    return -1;
  }
  if (o->npos < c->min_pos) {
    snprintf(err, errlen, "missing arguments (m31 %s %s)", c->name, c->args);
    return -1;
  }
  if (c->max_pos >= 0 && o->npos > c->max_pos) {
    snprintf(err, errlen, "too many arguments (m31 %s %s)", c->name, c->args);
    return -1;
  }
  return 0;
}

int cli_args_parse(cli_opts *o, int argc, char *const *argv,
                   const char *env_url, char *err, size_t errlen) {
  int seen = 0, in_help = 0, no_flags = 0;

  memset(o, 0, sizeof *o);
  o->url = env_url && *env_url ? env_url : CLI_URL_DEFAULT;
  o->pos = calloc(argc > 0 ? (size_t)argc : 1, sizeof *o->pos);
  if (!o->pos) abort();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val;
    if (no_flags || !is_flag(a)) {
      if (positional(o, a, &in_help, &no_flags, err, errlen) != 0) return -1;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      no_flags = 1;
      continue;
    }
    const flag_def *f = flag_lookup(a, &val);
    if (!f) {
      snprintf(err, errlen, "unknown flag %s", a);
      return -1;
    }
    if (f->has_value && !val) {
      if (i + 1 >= argc) {
        snprintf(err, errlen, "%s needs a value", a);
        return -1;
      }
      val = argv[++i];
    } else if (!f->has_value && val) {
      snprintf(err, errlen, "--%s takes no value", f->lng);
      return -1;
    }
    seen |= f->bit;
    if (flag_set(o, f, val, err, errlen) != 0) return -1;
  }
  return args_check(o, seen, err, errlen);
}

int cli_url_join(const char *base, const char *uri, char *out, size_t outlen) {
  int n;

  if (!uri || !*uri) return -1;
  if (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8)) {
    n = snprintf(out, outlen, "%s", uri);
  } else {
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
      bl--;
    n = snprintf(out, outlen, "%.*s%s%s", (int)bl, base,
                 uri[0] == '/' ? "" : "/", uri);
  }
  return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

json_t *cli_json_arg_new(const char *s) {
  json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
  if (v) return v;
  v = json_string(s);
  if (!v) v = json_stringn(s, 0); /* not UTF-8: an empty string, not NULL */
  if (!v) abort();
  return v;
}
