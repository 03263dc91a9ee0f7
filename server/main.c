/*
 * main.c — the `m31` command: `m31 serve [flags]` runs a node until SIGTERM
 * or SIGINT, then stops it cleanly. Exit status: 0 after a clean stop, 1
 * when the node cannot start, 2 for a usage error. Every other subcommand
 * (get, put, ps, run, repl, help, ...) is the client in cli/.
 */
#include "cli/cli.h"
#include "resources/resources.h"
#include "server/internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *env_get(const char *name) { return getenv(name); }

/* mkdir -p: every missing directory of `path`, mode 0755. */
static int mkdir_p(const char *path, char *errbuf, size_t errlen) {
  char tmp[sizeof((m31_config *)0)->data];

  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char was = *p;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
      snprintf(errbuf, errlen, "cannot create %s: %s", tmp, strerror(errno));
      return -1;
    }
    if (!(*p = was)) break;
  }
  return 0;
}

/*
 * Blocks the stop signals in this thread before any other thread exists, so
 * every thread inherits the mask and only sigwait() below ever sees them:
 * no work runs in a signal handler.
 */
static void signals_block(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static int serve(const m31_config *cfg_in) {
  m31_config cfg = *cfg_in;
  char err[1400];
  sigset_t set;
  int sig = 0;

  signals_block(&set);
  if (mkdir_p(cfg.data, err, sizeof err) != 0 ||
      node_id_load_or_create(&cfg, err, sizeof err) != 0) {
    m31_log(LOG_ERROR, "%s", err);
    return 1;
  }
  /* before any thread: the zygote forks the workers from now on */
  if (resources_preinit(&cfg, err, sizeof err) != 0) {
    m31_log(LOG_ERROR, "%s", err);
    return 1;
  }
  node_start(&cfg);
  if (resources_init(server_config(), err, sizeof err) != 0) {
    m31_log(LOG_ERROR, "%s", err);
    return 1;
  }
  if (http_start(server_config(), err, sizeof err) != 0) {
    m31_log(LOG_ERROR, "%s", err);
    resources_shutdown();
    return 1;
  }
  m31_log(LOG_INFO, "node %s serving %s", cfg.node, cfg.data);
  log_start();
  while (sigwait(&set, &sig) != 0)
    ;
  m31_log(LOG_INFO, "stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  resources_quiesce();
  http_stop();
  resources_shutdown();
  log_stop();
  m31_log(LOG_INFO, "stopped");
  return 0;
}

int main(int argc, char **argv) {
  m31_config cfg;
  char err[512];

  if (argc == 3 && !strcmp(argv[1], "help") && !strcmp(argv[2], "serve")) {
    config_usage(stdout);
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "serve") != 0) return cli_main(argc, argv);
  switch (config_parse(&cfg, argc - 2, argv + 2, env_get, err, sizeof err)) {
  case CONFIG_HELP:
    config_usage(stdout);
    return 0;
  case CONFIG_ERROR:
    fprintf(stderr, "m31 serve: %s\n\n", err);
    config_usage(stderr);
    return 2;
  }
  m31_log_level = cfg.log_level;
  return serve(&cfg);
}
