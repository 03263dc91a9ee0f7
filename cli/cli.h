/*
 * cli.h — the `m31` client commands: a thin client over a node's HTTP API
 * (libcurl, jansson). `m31 serve` stays in server/main.c; every other
 * subcommand goes through cli_main().
 *
 * Exit status of every command: CLI_OK (0) success, CLI_API (1) an HTTP or
 * API error (the problem's title and detail are printed) or an unreachable
 * node, CLI_USAGE (2) a usage error (the usage is printed).
 */
#ifndef M31_CLI_H
#define M31_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_API = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

#define CLI_URL_DEFAULT "http://127.0.0.1:8031"

/* ------------------------------------------------------------- arguments */

/* Flags a command accepts (cli_cmd.flags). */
enum {
  CLI_F_INCLUDE = 1 << 0, /* -i, --include */
  CLI_F_QUIET = 1 << 1,   /* -q, --quiet */
  CLI_F_STDIN = 1 << 2,   /* --stdin */
  CLI_F_STATE = 1 << 3,   /* --state S */
  CLI_F_PARENT = 1 << 4,  /* --parent ID */
  CLI_F_CPU = 1 << 5,     /* --cpu-ms N */
};

struct cli_opts;

/* One subcommand: its name, what it accepts, its help and its body. */
typedef struct {
  const char *name;
  int flags;        /* CLI_F_* it accepts; --url and --help always */
  int min_pos;      /* positional arguments, at least */
  int max_pos;      /* at most; -1 = any number */
  int flags_end;    /* flags are read only before this positional (run) */
  const char *args; /* e.g. "URI [JSON]" */
  const char *summary;
  const char *help; /* the rest of `m31 CMD --help` */
  int (*run)(const struct cli_opts *o);
} cli_cmd;

/* What the command line said. Every string is borrowed from argv or the
 * environment and lives as long as they do. */
typedef struct cli_opts {
  const cli_cmd *cmd; /* NULL for `m31`, `m31 help`, `m31 --help` */
  const char *url;    /* node URL: --url, else M31_URL, else the default */
  int help;           /* --help (or `m31 help [CMD]`) */
  int include, quiet, stdin_fwd;
  const char *state, *parent;
  long cpu_ms; /* 0 = not given */
  int npos;
  char **pos; /* the positional arguments: owned array, borrowed strings */
} cli_opts;

/**
 * Reads argv (argv[0] is the program) into `o`. `env_url` is M31_URL or
 * NULL. Flags may come before or after the command name; `--url=U` and
 * `--url U` both work; `--` ends the flags; `-` alone and negative numbers
 * are positional. Returns 0, or -1 with a message in err (a usage error;
 * o->cmd is set when the command was known, for its usage).
 */
int cli_args_parse(cli_opts *o, int argc, char *const *argv,
                   const char *env_url, char *err, size_t errlen);

/** Frees what cli_args_parse allocated (o->pos). */
void cli_opts_free(cli_opts *o);

/** The command called `name`, or NULL. The table is static. */
const cli_cmd *cli_cmd_find(const char *name);

/** Prints `m31 --help` (all commands) to f. */
void cli_usage(FILE *f);

/** Prints `m31 CMD --help` to f. */
void cli_cmd_usage(FILE *f, const cli_cmd *c);

/**
 * Joins the node URL and a URI into out: a URI that starts with http:// or
 * https:// is used as it is, a path is appended to base (without doubling
 * the '/'), and a path without its leading '/' gets one. Returns 0, or -1
 * when it does not fit or uri is empty.
 */
int cli_url_join(const char *base, const char *uri, char *out, size_t outlen);

/**
 * A command-line argument as JSON: parsed as JSON when the whole argument
 * is a JSON value (`42`, `true`, `[1]`, `"s"`), else the argument itself as
 * a string. Refcount: new.
 */
json_t *cli_json_arg_new(const char *s);

/* ------------------------------------------------------------------ HTTP */

/* One answer. body is NUL-terminated (len excludes the NUL); headers is
 * the raw header block of the final answer, NUL-terminated. */
typedef struct {
  long status;
  char *body;
  size_t len;
  char *headers;
  size_t hlen;
  char ctype[128]; /* Content-Type, lower-cased media type; "" if none */
} cli_resp;

/* A connection to one node; use one per thread. */
typedef struct cli_http cli_http;

/** Set from a SIGINT handler: requests in flight end with -2. */
extern volatile sig_atomic_t cli_interrupted;

/** Once per process, before any thread: libcurl's global init. */
void cli_http_global_init(void);

/** A client for the node at base (copied). Never NULL (dies on OOM). */
cli_http *cli_http_new(const char *base);

void cli_http_free(cli_http *h);

/** The node URL it was made with. Borrowed. */
const char *cli_http_base(const cli_http *h);

/**
 * One request: method to uri (a path on the node or a full URL), with
 * `body` (len bytes, borrowed; NULL for none) sent as `ctype`. Waits at
 * most timeout_s seconds in all (0: no limit but the connect timeout).
 * Fills *resp (free it with cli_resp_free) and returns 0 for any HTTP
 * answer, also 4xx/5xx; returns -1 with a message in err when there was no
 * answer (unreachable node, timeout), -2 when cli_interrupted was set.
 */
int cli_http_do(cli_http *h, const char *method, const char *uri,
                const char *ctype, const char *body, size_t len, long timeout_s,
                cli_resp *resp, char *err, size_t errlen);

/**
 * cli_http_do with a JSON body (borrowed; NULL for none) and the answer's
 * body parsed when it is JSON: *out is a new reference or NULL.
 */
int cli_http_json(cli_http *h, const char *method, const char *uri,
                  const json_t *body, long timeout_s, cli_resp *resp,
                  json_t **out, char *err, size_t errlen);

void cli_resp_free(cli_resp *r);

/* -------------------------------------------------------------- printing */

/** Whether f is a terminal. */
int cli_isatty(FILE *f);

/** Whether to colour f: a terminal, and NO_COLOR unset or empty. */
int cli_color(FILE *f);

/**
 * Formats a failed answer as one line into out: "Title: detail" for a
 * problem+json (or JSON with title/detail) body, else "HTTP <status>" and
 * the start of the body. Always NUL-terminates.
 */
void cli_problem_format(char *out, size_t n, const cli_resp *r);

/** Prints the formatted problem and a newline to stderr. */
void cli_problem_print(const cli_resp *r);

/** Prints the status line and headers as received, without CRs. */
void cli_headers_print(FILE *f, const cli_resp *r);

/**
 * Prints an answer's body: pretty JSON when `pretty` and the body is JSON,
 * else the bytes as they came. In pretty mode a missing final newline is
 * added.
 */
void cli_body_print(FILE *f, const cli_resp *r, int pretty);

/** A JSON value on one line, compact. Returns malloc'd text (caller frees). */
char *cli_json_line(const json_t *v);

/* -------------------------------------------------------------- commands */

int cli_cmd_request(const cli_opts *o); /* get, put, patch, post, rm */
int cli_cmd_ps(const cli_opts *o);
int cli_cmd_run(const cli_opts *o);
int cli_cmd_repl(const cli_opts *o);

/**
 * Whether Ruby source defines a top-level `def main`: a line that starts
 * (in column 0) with `def main` followed by `(`, a blank, `;`, `=` or the
 * end of the line. Lines inside `=begin`/`=end` are skipped.
 */
int cli_source_defines_main(const char *src);

/** Reads all of f into a new NUL-terminated buffer. NULL on error. */
char *cli_read_all(FILE *f, size_t *len);

/** `m31 ...` for every command but serve. Returns the exit status. */
int cli_main(int argc, char **argv);

#endif
