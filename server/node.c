/*
 * node.c — the running node's identity and clock: its config, its id (kept
 * in <data>/node-id so it survives restarts), and when it started.
 */
#include "server/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static m31_config running;
static uint64_t started_ns;
static time_t started_wall;

uint64_t node_now_ns(void) {
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void node_start(const m31_config *cfg) {
  running = *cfg;
  started_ns = node_now_ns();
  started_wall = time(NULL);
}

const m31_config *server_config(void) { return &running; }

double server_uptime(void) {
  if (!started_ns) return 0;
  return (double)(node_now_ns() - started_ns) / 1e9;
}

time_t server_started(void) { return started_wall; }

int node_id_valid(const char *id) {
  size_t n = strlen(id);

  if (n < 1 || n > 63) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return 0;
  }
  return 1;
}

/* Reads an existing id file; 1 when absent, 0 when read, -1 on error. */
static int node_id_read(const char *path, char *id, size_t n, char *errbuf,
                        size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t got;

  if (fd < 0 && errno == ENOENT) return 1;
  if (fd < 0) {
    snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  got = read(fd, id, n - 1);
  close(fd);
  if (got < 0) got = 0;
  /* Only the trailing newline (and blanks) an editor may add are dropped. */
  while (got > 0 && strchr(" \t\r\n", id[got - 1]))
    got--;
  id[got] = '\0';
  if (!node_id_valid(id)) {
    snprintf(errbuf, errlen,
             "%s does not hold a node id (letters, digits, - and _)", path);
    return -1;
  }
  return 0;
}

/* Writes a fresh random id; O_EXCL so two first starts cannot race. */
static int node_id_create(const char *path, char *id, size_t n, char *errbuf,
                          size_t errlen) {
  unsigned char rnd[3];
  int fd, ok;

  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    snprintf(errbuf, errlen, "getrandom failed: %s", strerror(errno));
    return -1;
  }
  snprintf(id, n, "n%02x%02x%02x", rnd[0], rnd[1], rnd[2]);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  ok = dprintf(fd, "%s\n", id) > 0 && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(errno));
    unlink(path);
    return -1;
  }
  return 0;
}

int node_id_load_or_create(m31_config *cfg, char *errbuf, size_t errlen) {
  char path[sizeof cfg->data + 16];
  int rc;

  if (cfg->node[0]) return 0;
  snprintf(path, sizeof path, "%s/node-id", cfg->data);
  rc = node_id_read(path, cfg->node, sizeof cfg->node, errbuf, errlen);
  if (rc == 1)
    rc = node_id_create(path, cfg->node, sizeof cfg->node, errbuf, errlen);
  return rc;
}
