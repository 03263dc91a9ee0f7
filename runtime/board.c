/*
 * board.c — the turn board's sequence lock (see internal.h). One writer
 * (the worker), one reader (the node); the reader retries while a write
 * is in progress.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

void rt_board_publish(struct rt_turn_board *b, const char *id,
                      uint64_t cpu_deadline_ns) {
  uint64_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
  atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  snprintf(b->id, sizeof b->id, "%s", id);
  atomic_store_explicit(&b->cpu_deadline_ns, cpu_deadline_ns,
                        memory_order_relaxed);
  atomic_store_explicit(&b->seq, seq + 2, memory_order_release);
}

uint64_t rt_board_read(struct rt_turn_board *b, char id[RT_ID_MAX]) {
  for (;;) {
    uint64_t s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
    uint64_t deadline;
    if (s1 & 1) continue;
    memcpy(id, b->id, RT_ID_MAX);
    deadline = atomic_load_explicit(&b->cpu_deadline_ns, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&b->seq, memory_order_relaxed) == s1) {
      id[RT_ID_MAX - 1] = '\0';
      return deadline;
    }
  }
}
