/*
 * log.c — levelled lines on stderr: "<RFC 3339 UTC> <level> <message>".
 * The level check happens in the m31_log macro, before any formatting.
 * Lines are buffered between log_start and log_stop (see below).
 */
#include "server/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int m31_log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_time_format(const struct timespec *t, char *buf, size_t n) {
  struct tm tm;

  gmtime_r(&t->tv_sec, &tm);
  snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           t->tv_nsec / 1000000);
}

void log_sanitize(const char *s, size_t max, char *buf, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;

  for (size_t i = 0; s[i] && i < max && o + 5 < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[c >> 4];
      buf[o++] = hex[c & 15];
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o] = '\0';
}

/*
 * Buffering. stderr is unbuffered: one write(2) per line cost an access-
 * logged request 10-20 % of its time. Once log_start() ran, info and debug
 * lines go to one buffer that a flusher thread writes at least every
 * LOG_FLUSH_MS (and sooner when it fills); warnings and errors flush it at
 * once, with everything before them. Every flush takes out_mu first, then
 * the whole buffer, so lines leave in the order they were added and are
 * never interleaved; a line is never dropped (past LOG_BUF_HARD the adder
 * flushes itself).
 */
#define LOG_FLUSH_MS 100
#define LOG_BUF_SOFT (64u << 10)
#define LOG_BUF_HARD (1u << 20)

static pthread_mutex_t buf_mu = PTHREAD_MUTEX_INITIALIZER; /* buf, flags */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER; /* one flush */
static pthread_cond_t flush_wake = PTHREAD_COND_INITIALIZER;
static char *buf;
static size_t buf_len, buf_cap;
static int buffering, stopping;
static pthread_t flusher;

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* stderr is gone: nothing better to do */
    p += w;
    n -= (size_t)w;
  }
}

/* Needs buf_mu. */
static void do_append(const char *line, size_t n) {
  if (buf_len + n > buf_cap) {
    size_t cap = buf_cap ? buf_cap : 16384;
    while (cap < buf_len + n)
      cap *= 2;
    char *p = realloc(buf, cap);
    if (!p) abort();
    buf = p;
    buf_cap = cap;
  }
  memcpy(buf + buf_len, line, n);
  buf_len += n;
}

/* Appends `line` (may be NULL) and writes out everything buffered. */
static void flush_with(const char *line, size_t n) {
  char *out;
  size_t len;

  pthread_mutex_lock(&out_mu);
  pthread_mutex_lock(&buf_mu);
  if (line) do_append(line, n);
  out = buf;
  len = buf_len;
  buf = NULL;
  buf_len = buf_cap = 0;
  pthread_mutex_unlock(&buf_mu);
  if (len) write_all(out, len);
  pthread_mutex_unlock(&out_mu);
  free(out);
}

static void *flusher_main(void *arg) {
  struct timespec until;

  (void)arg;
  pthread_mutex_lock(&buf_mu);
  while (!stopping) {
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += LOG_FLUSH_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&flush_wake, &buf_mu, &until);
    pthread_mutex_unlock(&buf_mu);
    flush_with(NULL, 0);
    pthread_mutex_lock(&buf_mu);
  }
  pthread_mutex_unlock(&buf_mu);
  return NULL;
}

void log_start(void) {
  pthread_mutex_lock(&buf_mu);
  stopping = 0;
  pthread_mutex_unlock(&buf_mu);
  if (pthread_create(&flusher, NULL, flusher_main, NULL) != 0) return;
  pthread_mutex_lock(&buf_mu);
  buffering = 1;
  pthread_mutex_unlock(&buf_mu);
}

void log_stop(void) {
  pthread_mutex_lock(&buf_mu);
  if (!buffering) {
    pthread_mutex_unlock(&buf_mu);
    return;
  }
  buffering = 0;
  stopping = 1;
  pthread_cond_signal(&flush_wake);
  pthread_mutex_unlock(&buf_mu);
  pthread_join(flusher, NULL);
  flush_with(NULL, 0);
}

/* Adds a line to the buffer; 0 when not buffering (the caller flushes). */
static int buffer_line(const char *line, size_t n) {
  int kept = 0;

  pthread_mutex_lock(&buf_mu);
  if (buffering && buf_len + n <= LOG_BUF_HARD) {
    do_append(line, n);
    kept = 1;
    if (buf_len >= LOG_BUF_SOFT) pthread_cond_signal(&flush_wake);
  }
  pthread_mutex_unlock(&buf_mu);
  return kept;
}

/* "YYYY-MM-DDTHH:MM:SS" changes once a second: each thread keeps its own. */
static size_t time_prefix(char *out, size_t n) {
  static _Thread_local time_t sec = -1;
  static _Thread_local char text[80];
  struct timespec now;
  struct tm tm;

  clock_gettime(CLOCK_REALTIME, &now);
  if (now.tv_sec != sec) {
    gmtime_r(&now.tv_sec, &tm);
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    sec = now.tv_sec;
  }
  return (size_t)snprintf(out, n, "%s.%03ldZ", text, now.tv_nsec / 1000000);
}

void m31_log_write(int level, const char *fmt, ...) {
  char line[2200];
  size_t n, room;
  va_list ap;
  int w;

  if (level < LOG_ERROR) level = LOG_ERROR;
  if (level > LOG_DEBUG) level = LOG_DEBUG;
  n = time_prefix(line, 100);
  n += (size_t)snprintf(line + n, sizeof line - n, " %s ", level_names[level]);
  room = sizeof line - n - 1; /* keep one byte for the newline */
  va_start(ap, fmt);
  w = vsnprintf(line + n, room + 1, fmt, ap);
  va_end(ap);
  n += w < 0 ? 0 : (size_t)w > room ? room : (size_t)w;
  line[n++] = '\n';
  if (level <= LOG_WARN || !buffer_line(line, n)) flush_with(line, n);
}
