/*
 * watchdog.c — the whole-request deadline (see internal.h for why).
 *
 * Every connection is registered when libmicrohttpd opens it and forgotten
 * when it closes. libmicrohttpd calls the CLOSED notification before it
 * closes the socket, and both happen under `lock` here, so the watchdog
 * never shuts down a descriptor that was closed and reused. shutdown() from
 * another thread is safe: the connection's own thread then sees end of file
 * and closes the connection the ordinary way.
 */
#include "server/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

struct conn_watch {
  struct conn_watch *prev, *next; /* under lock */
  int fd;
  _Atomic uint64_t since_ns; /* clock start of the arriving request; 0 =
                                none arriving (the handler has it) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static conn_watch *head;
static pthread_t thread;
static int running, stopping;
static uint64_t limit_ns;

void watchdog_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code) {
  const union MHD_ConnectionInfo *ci;
  conn_watch *w = *socket_ctx;

  (void)cls;
  pthread_mutex_lock(&lock);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!(w = calloc(1, sizeof *w))) abort();
    w->fd = ci ? ci->connect_fd : -1;
    atomic_store(&w->since_ns, node_now_ns());
    w->next = head;
    if (head) head->prev = w;
    head = w;
    *socket_ctx = w;
  } else if (w) {
    if (w->prev)
      w->prev->next = w->next;
    else
      head = w->next;
    if (w->next) w->next->prev = w->prev;
    free(w);
    *socket_ctx = NULL;
  }
  pthread_mutex_unlock(&lock);
}

void watchdog_arrived(conn_watch *w) {
  if (w) atomic_store(&w->since_ns, 0);
}

void watchdog_rearm(conn_watch *w) {
  if (w) atomic_store(&w->since_ns, node_now_ns());
}

/* Needs the lock. Shuts down connections past the deadline. */
static void do_sweep(uint64_t now) {
  for (conn_watch *w = head; w; w = w->next) {
    uint64_t since = atomic_load(&w->since_ns);
    /* Other threads rearm while we sweep: a `since` after `now` is fresh. */
    if (since == 0 || since >= now || now - since <= limit_ns || w->fd < 0)
      continue;
    m31_log(LOG_INFO,
            "closing connection fd %d: no whole request within %llu s", w->fd,
            (unsigned long long)(limit_ns / 1000000000u));
    shutdown(w->fd, SHUT_RDWR);
    atomic_store(&w->since_ns, 0); /* once is enough */
  }
}

static void *watchdog_main(void *arg) {
  struct timespec until;

  (void)arg;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    do_sweep(node_now_ns());
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&wake, &lock, &until);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

int watchdog_start(unsigned request_timeout_s) {
  limit_ns = (uint64_t)request_timeout_s * 1000000000u;
  stopping = 0;
  if (pthread_create(&thread, NULL, watchdog_main, NULL) != 0) return -1;
  running = 1;
  return 0;
}

void watchdog_stop(void) {
  if (!running) return;
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  running = 0;
}
