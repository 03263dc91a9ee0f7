/*
 * sys.c — /sys: the node's health, identity and counters. These answers
 * read only counters and the config, so they stay fast when the store is
 * busy.
 */
#include "resources/resources.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define M31_VERSION "0.1.0"

void sys_health(m31_req *r) {
  reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* RFC 3339 UTC, to the second. */
static void rfc3339_format(time_t t, char *buf, size_t n) {
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sys_info(m31_req *r) {
  const m31_config *cfg = server_config();
  store_stats st;
  char started[32];

  store_stats_get(resources_store(), &st);
  rfc3339_format(server_started(), started, sizeof started);
  reply_json(r, 200,
             json_pack("{s:s, s:s, s:f, s:s, s:s, s:{s:I, s:I, s:I, s:I}}",
                       "version", M31_VERSION, "node", cfg->node, "uptime",
                       server_uptime(), "data", cfg->data, "started", started,
                       "counts", "spaces", (json_int_t)st.spaces, "store_reads",
                       (json_int_t)st.reads, "store_writes",
                       (json_int_t)st.writes, "store_commits",
                       (json_int_t)st.commits));
}

static void store_metrics_write(char **buf, size_t *len) {
  store_stats st;

  store_stats_get(resources_store(), &st);
  text_appendf(buf, len,
               "# HELP m31_store_operations_total Store operations: reads "
               "(get, list, search), writes applied, synced commits.\n"
               "# TYPE m31_store_operations_total counter\n"
               "m31_store_operations_total{op=\"read\"} %" PRIu64 "\n"
               "m31_store_operations_total{op=\"write\"} %" PRIu64 "\n"
               "m31_store_operations_total{op=\"commit\"} %" PRIu64 "\n",
               st.reads, st.writes, st.commits);
  text_appendf(buf, len,
               "# HELP m31_store_keys_read_total LevelDB entries read by "
               "searches.\n"
               "# TYPE m31_store_keys_read_total counter\n"
               "m31_store_keys_read_total %" PRIu64 "\n"
               "# HELP m31_store_spaces Spaces in the store.\n"
               "# TYPE m31_store_spaces gauge\n"
               "m31_store_spaces %" PRIu64 "\n"
               "# HELP m31_leveldb_size_bytes LevelDB's approximate size on "
               "disk.\n"
               "# TYPE m31_leveldb_size_bytes gauge\n"
               "m31_leveldb_size_bytes %" PRIu64 "\n",
               st.keys_read, st.spaces, st.disk_bytes);
}

static void runtime_metrics_write(char **buf, size_t *len) {
  static const char *const states[] = {"ready", "running", "waiting",
                                       "done",  "failed",  "killed"};
  uint64_t compilations;
  size_t counts[6];
  int nuclei;

  fibrils_metrics(&compilations, counts, &nuclei);
  text_appendf(buf, len,
               "# HELP m31_code_compilations_total Ruby sources compiled to "
               "register them (POST /code, or POST /fibrils with new source).\n"
               "# TYPE m31_code_compilations_total counter\n"
               "m31_code_compilations_total %" PRIu64 "\n"
               "# HELP m31_nuclei Worker processes running fibrils.\n"
               "# TYPE m31_nuclei gauge\n"
               "m31_nuclei %d\n"
               "# HELP m31_fibrils Fibrils recorded by this node, by state.\n"
               "# TYPE m31_fibrils gauge\n",
               compilations, nuclei);
  for (int i = 0; i < 6; i++)
    text_appendf(buf, len, "m31_fibrils{state=\"%s\"} %zu\n", states[i],
                 counts[i]);
}

void sys_metrics(m31_req *r) {
  char *buf = NULL;
  size_t len = 0;

  server_metrics_write(&buf, &len);
  store_metrics_write(&buf, &len);
  runtime_metrics_write(&buf, &len);
  reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
  free(buf);
}
