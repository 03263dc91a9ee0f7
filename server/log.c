/*
 * log.c — levelled lines on stderr: "<RFC 3339 UTC> <level> <message>".
 * The level check happens in the m31_log macro, before any formatting.
 */
#include "server/internal.h"

#include <stdarg.h>
#include <string.h>

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

void m31_log_write(int level, const char *fmt, ...) {
  char when[40], msg[2048];
  struct timespec now;
  va_list ap;

  if (level < LOG_ERROR) level = LOG_ERROR;
  if (level > LOG_DEBUG) level = LOG_DEBUG;
  clock_gettime(CLOCK_REALTIME, &now);
  log_time_format(&now, when, sizeof when);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One fprintf per line: stdio locks the stream, so lines from different
   * threads never interleave. */
  fprintf(stderr, "%s %s %s\n", when, level_names[level], msg);
}
