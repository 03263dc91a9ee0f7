/*
 * commands.c — `m31 get|put|patch|post|rm URI [JSON]`: one request, its
 * answer printed. The body is the JSON argument, else standard input.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* The method of each request command. */
static const char *method_of(const char *cmd) {
  static const char *const map[][2] = {{"get", "GET"},
                                       {"put", "PUT"},
                                       {"patch", "PATCH"},
                                       {"post", "POST"},
                                       {"rm", "DELETE"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(map[i][0], cmd) == 0) return map[i][1];
  return NULL;
}

/*
 * The body of put, patch and post: the argument, or standard input when it
 * is absent or "-". A post without one, from a terminal, sends nothing
 * (e.g. `m31 post /channels/ID/close`). *body is malloc'd or NULL.
 */
static int body_read(const cli_opts *o, char **body, size_t *len) {
  const char *arg = o->npos > 1 ? o->pos[1] : NULL;

  *body = NULL;
  *len = 0;
  if (arg && strcmp(arg, "-") != 0) {
    if (!(*body = strdup(arg))) abort();
    *len = strlen(arg);
    return 0;
  }
  if (!arg && cli_isatty(stdin)) {
    if (strcmp(o->cmd->name, "post") == 0) return 0;
    fprintf(stderr,
            "m31 %s: no body: give JSON as an argument or on "
            "standard input\n",
            o->cmd->name);
    return -1;
  }
  if (!(*body = cli_read_all(stdin, len))) {
    fprintf(stderr, "m31 %s: cannot read standard input\n", o->cmd->name);
    return -1;
  }
  return 0;
}

int cli_cmd_request(const cli_opts *o) {
  const char *method = method_of(o->cmd->name);
  int has_body = !strcmp(method, "PUT") || !strcmp(method, "PATCH") ||
                 !strcmp(method, "POST");
  char *body = NULL, err[512];
  size_t len = 0;
  cli_resp r;
  int ret = CLI_API;

  if (has_body && body_read(o, &body, &len) != 0) return CLI_USAGE;
  cli_http *h = cli_http_new(o->url);
  int rc = cli_http_do(h, method, o->pos[0], body ? "application/json" : NULL,
                       body, len, 120, &r, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "m31 %s: %s\n", o->cmd->name, err);
    ret = rc == -2 ? CLI_INTERRUPTED : CLI_API;
    goto Exit;
  }
  /* a failure is one line on stderr; its body only with -i */
  if (o->include) cli_headers_print(stdout, &r);
  if (o->include || r.status < 400)
    cli_body_print(stdout, &r, cli_isatty(stdout));
  fflush(stdout);
  if (r.status >= 400)
    cli_problem_print(&r);
  else
    ret = CLI_OK;
  cli_resp_free(&r);
Exit:
  cli_http_free(h);
  free(body);
  return ret;
}
