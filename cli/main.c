/*
 * main.c — cli_main(): `m31 <command> ...` for every command but `serve`
 * (server/main.c runs that one). Parses the command line with the table in
 * args.c, prints help or the usage error, and runs the command.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_main(int argc, char **argv) {
  cli_opts o;
  char err[512];
  int ret;

  if (argc < 2) {
    cli_usage(stderr);
    return CLI_USAGE;
  }
  if (cli_args_parse(&o, argc, argv, getenv("M31_URL"), err, sizeof err)) {
    fprintf(stderr, "m31%s%s: %s\n\n", o.cmd ? " " : "",
            o.cmd ? o.cmd->name : "", err);
    if (o.cmd)
      cli_cmd_usage(stderr, o.cmd);
    else
      cli_usage(stderr);
    cli_opts_free(&o);
    return CLI_USAGE;
  }
  if (o.help) {
    if (o.cmd)
      cli_cmd_usage(stdout, o.cmd);
    else
      cli_usage(stdout);
    cli_opts_free(&o);
    return CLI_OK;
  }
  cli_http_global_init();
  ret = o.cmd->run(&o);
  cli_opts_free(&o);
  return ret;
}
