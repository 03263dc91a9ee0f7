/*
 * config.c — `m31 serve` flags and M31_* variables into an m31_config. One
 * table names every option once; the usage text, the environment pass and
 * the flag pass all read it, so they cannot drift apart.
 */
#include "server/internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind {
  OPT_INT,
  OPT_SIZE,
  OPT_STR,
  OPT_BIND,
  OPT_NODE,
  OPT_LEVEL,
  OPT_CORS
};

typedef struct {
  const char *flag, *env, *arg;
  enum opt_kind kind;
  size_t offset, size; /* the field in m31_config */
  unsigned long long min, max;
  const char *help;
} opt;

#define FIELD(f) offsetof(m31_config, f), sizeof(((m31_config *)0)->f)

static const opt opts[] = {
    {"port", "M31_PORT", "N", OPT_INT, FIELD(port), 0, 65535,
     "TCP port; 0 picks a free one (default 8031)"},
    {"bind", "M31_BIND", "ADDR", OPT_BIND, FIELD(bind), 0, 0,
     "IPv4 or IPv6 address to listen on (default 127.0.0.1)"},
    {"data", "M31_DATA", "DIR", OPT_STR, FIELD(data), 0, 0,
     "data directory, LevelDB in DIR/db (default ./m31-data)"},
    {"node", "M31_NODE", "ID", OPT_NODE, FIELD(node), 0, 0,
     "node id (default: made once and kept in DIR/node-id)"},
    {"log-level", "M31_LOG_LEVEL", "L", OPT_LEVEL, FIELD(log_level), 0, 0,
     "error, warn, info or debug (default info)"},
    {"max-body", "M31_MAX_BODY", "BYTES", OPT_SIZE, FIELD(max_body), 1,
     1ull << 30, "largest request body; larger is 413 (default 8388608)"},
    {"threads", "M31_THREADS", "N", OPT_INT, FIELD(threads), 0, 1024,
     "HTTP thread pool size; 0 = 2 x cores (default)"},
    {"conn-per-ip", "M31_CONN_PER_IP", "N", OPT_INT, FIELD(conn_per_ip), 0,
     1000000,
     "concurrent connections per client address; 0 = no limit "
     "(default 64)"},
    {"conn-timeout", "M31_CONN_TIMEOUT", "S", OPT_INT, FIELD(conn_timeout), 1,
     86400, "idle connection timeout, seconds (default 30)"},
    {"request-timeout", "M31_REQUEST_TIMEOUT", "S", OPT_INT,
     FIELD(request_timeout), 1, 86400,
     "longest time one request may take to arrive, seconds (default 60)"},
    {"nuclei", "M31_NUCLEI", "N", OPT_INT, FIELD(nuclei), 0, 64,
     "worker processes running fibrils; 0 = 2 x cores (default)"},
    {"repl-idle", "M31_REPL_IDLE", "S", OPT_INT, FIELD(repl_idle), 1, 604800,
     "seconds an idle REPL session lives (default 1800)"},
    {"cors-origin", "M31_CORS_ORIGIN", "LIST", OPT_CORS, FIELD(cors_origin), 0,
     0,
     "origins browsers may call from (a,b or *); default none: no CORS "
     "headers"},
};

#define NOPTS (sizeof opts / sizeof *opts)

void config_defaults(m31_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->port = 8031;
  strcpy(cfg->bind, "127.0.0.1");
  strcpy(cfg->data, "./m31-data");
  cfg->log_level = LOG_INFO;
  cfg->max_body = 8u << 20;
  cfg->threads = 0;
  cfg->conn_per_ip = 64;
  cfg->conn_timeout = 30;
  cfg->request_timeout = 60;
  cfg->repl_idle = 1800;
}

void config_usage(FILE *f) {
  fprintf(f, "usage: m31 serve [flags]\n\n"
             "Runs a node. Every flag can also be given as its environment\n"
             "variable; a flag wins over its variable.\n\n");
  for (size_t i = 0; i < NOPTS; i++) {
    char left[48];
    snprintf(left, sizeof left, "--%s %s", opts[i].flag, opts[i].arg);
    fprintf(f, "  %-24s %-20s %s\n", left, opts[i].env, opts[i].help);
  }
  fprintf(f, "  %-24s %-20s %s\n", "--help", "", "print this and exit");
}

int config_log_level_parse(const char *s) {
  static const char *const names[] = {"error", "warn", "info", "debug"};

  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* Decimal digits only: no sign, no spaces, no overflow past max. */
static int number_parse(const char *s, unsigned long long min,
                        unsigned long long max, unsigned long long *out) {
  unsigned long long v = 0;

  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (max - (unsigned long long)(*s - '0')) / 10) return -1;
    v = v * 10 + (unsigned long long)(*s - '0');
  }
  if (v < min) return -1;
  *out = v;
  return 0;
}

static int bind_valid(const char *s) {
  unsigned char addr[16];

  return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Sets one option from text; `who` is "--port" or "M31_PORT" for errors. */
static int opt_set(m31_config *cfg, const opt *o, const char *val,
                   const char *who, char *errbuf, size_t errlen) {
  char *field = (char *)cfg + o->offset;
  unsigned long long v;
  int level;

  switch (o->kind) {
  case OPT_INT:
  case OPT_SIZE:
    if (number_parse(val, o->min, o->max, &v) != 0) {
      snprintf(errbuf, errlen,
               "%s: '%s' is not a whole number from %llu to %llu", who, val,
               o->min, o->max);
      return -1;
    }
    if (o->kind == OPT_INT)
      *(int *)field = (int)v;
    else
      *(size_t *)field = (size_t)v;
    return 0;
  case OPT_LEVEL:
    if ((level = config_log_level_parse(val)) < 0) {
      snprintf(errbuf, errlen, "%s: '%s' is not error, warn, info or debug",
               who, val);
      return -1;
    }
    *(int *)field = level;
    return 0;
  case OPT_BIND:
    if (!bind_valid(val)) {
      snprintf(errbuf, errlen,
               "%s: '%s' is not an IPv4 or IPv6 address (e.g. 127.0.0.1, ::1)",
               who, val);
      return -1;
    }
    break;
  case OPT_NODE:
    if (!node_id_valid(val)) {
      snprintf(errbuf, errlen,
               "%s: '%s' is not a node id (1 to 63 letters, digits, - and _, "
               "starting with a letter or digit)",
               who, val);
      return -1;
    }
    break;
  case OPT_STR:
    if (!*val) {
      snprintf(errbuf, errlen, "%s: must not be empty", who);
      return -1;
    }
    break;
  case OPT_CORS: {
    char why[160];
    if (cors_list_check(val, why, sizeof why) != 0) {
      snprintf(errbuf, errlen, "%s: %s", who, why);
      return -1;
    }
    break;
  }
  }
  /* The data directory keeps room for "/node-id" and "/db" after it. */
  size_t room = o->kind == OPT_STR ? 16 : 1;
  if (strlen(val) + room > o->size) {
    snprintf(errbuf, errlen, "%s: too long (at most %zu bytes)", who,
             o->size - room);
    return -1;
  }
  strcpy(field, val);
  return 0;
}

static const opt *opt_find(const char *flag, size_t len) {
  for (size_t i = 0; i < NOPTS; i++)
    if (strlen(opts[i].flag) == len && memcmp(opts[i].flag, flag, len) == 0)
      return &opts[i];
  return NULL;
}

/* Variables first: an empty variable counts as unset. */
static int env_pass(m31_config *cfg, config_env_fn env, char *errbuf,
                    size_t errlen) {
  for (size_t i = 0; env && i < NOPTS; i++) {
    const char *v = env(opts[i].env);
    if (v && *v && opt_set(cfg, &opts[i], v, opts[i].env, errbuf, errlen) != 0)
      return -1;
  }
  return 0;
}

/* One flag: "--name value" or "--name=value". *i moves past what it used. */
static int flag_one(m31_config *cfg, int argc, char *const argv[], int *i,
                    char *errbuf, size_t errlen) {
  const char *a = argv[*i], *eq, *val;
  char who[48];
  const opt *o;

  if (strncmp(a, "--", 2) != 0 || !a[2]) goto Unknown;
  eq = strchr(a + 2, '=');
  o = opt_find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
  if (!o) goto Unknown;
  snprintf(who, sizeof who, "--%s", o->flag);
  if (eq) {
    val = eq + 1;
  } else if (*i + 1 < argc) {
    val = argv[++*i];
  } else {
    snprintf(errbuf, errlen, "%s needs a value (%s)", who, o->arg);
    return -1;
  }
  return opt_set(cfg, o, val, who, errbuf, errlen);
Unknown:
  snprintf(errbuf, errlen, "unknown flag '%.64s'", a);
  return -1;
}

int config_parse(m31_config *cfg, int argc, char *const argv[],
                 config_env_fn env, char *errbuf, size_t errlen) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return CONFIG_HELP;
  config_defaults(cfg);
  if (env_pass(cfg, env, errbuf, errlen) != 0) return CONFIG_ERROR;
  for (int i = 0; i < argc; i++)
    if (flag_one(cfg, argc, argv, &i, errbuf, errlen) != 0) return CONFIG_ERROR;
  return CONFIG_OK;
}
