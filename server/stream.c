/*
 * stream.c — answers whose body is made as the client takes it (SSE).
 *
 * libmicrohttpd pulls the body through a content-reader callback on the
 * connection's thread. When the resource has nothing to send, the callback
 * suspends the connection (no thread is held) and returns 0; stream_wake
 * resumes it from whatever thread has news. A wake that comes between the
 * resource's "nothing" and the suspension is remembered (`wake`), so the
 * callback asks again instead of sleeping through it. A suspended
 * connection cannot be closed by libmicrohttpd, so the stream outlives
 * every wake it is owed.
 */
#include "server/internal.h"

#include <pthread.h>
#include <stdlib.h>

struct m31_stream {
  pthread_mutex_t mu;
  struct MHD_Connection *conn;
  stream_pull_fn pull;
  stream_done_fn done;
  void *arg;
  int parked; /* suspended by us, not yet resumed */
  int wake;   /* a wake arrived while not parked */
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  m31_stream *s = cls;

  (void)pos;
  for (;;) {
    long n = s->pull(s, s->arg, buf, max);
    if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (n > 0) return (ssize_t)n;
    pthread_mutex_lock(&s->mu);
    if (s->wake) {
      s->wake = 0;
      pthread_mutex_unlock(&s->mu);
      continue;
    }
    s->parked = 1;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&s->mu);
    return 0;
  }
}

static void stream_free(void *cls) {
  m31_stream *s = cls;

  s->done(s->arg);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void reply_stream(m31_req *r, int status, const char *ctype,
                  stream_pull_fn pull, stream_done_fn done, void *arg) {
  m31_stream *s = calloc(1, sizeof *s);
  struct MHD_Response *resp;

  if (!s) abort();
  pthread_mutex_init(&s->mu, NULL);
  s->conn = r->conn;
  s->pull = pull;
  s->done = done;
  s->arg = arg;
  resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read,
                                           s, stream_free);
  if (!resp) abort();
  reply_set(r, status, ctype, resp, 0);
}

void stream_wake(m31_stream *s) {
  struct MHD_Connection *conn = NULL;

  pthread_mutex_lock(&s->mu);
  if (s->parked) {
    s->parked = 0;
    conn = s->conn;
  } else {
    s->wake = 1;
  }
  pthread_mutex_unlock(&s->mu);
  /* After the unlock: the connection stays (suspended) until resumed, but
   * once resumed the stream may end and be freed at any moment. */
  if (conn) MHD_resume_connection(conn);
}
