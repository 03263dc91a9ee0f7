/* resources.c — what the resources serve, opened once per node. */
#include "resources/resources.h"

#include <stdio.h>

static store *the_store;
static chan_hub *the_channels;

int resources_preinit(const m31_config *cfg, char *errbuf, size_t errlen) {
  return fibrils_preinit(cfg, errbuf, errlen);
}

int resources_init(const m31_config *cfg, char *errbuf, size_t errlen) {
  char dir[1100];
  store_err err = {0};

  snprintf(dir, sizeof dir, "%s/db", cfg->data);
  if (watch_init(errbuf, errlen) != 0) return -1;
  if (store_open(dir, &the_store, &err) != 0) {
    snprintf(errbuf, errlen, "cannot open the store in %s: %s", dir,
             err.detail);
    fibrils_shutdown();
    return -1;
  }
  store_feed_set(the_store, watch_store_feed, NULL);
  the_channels = chan_hub_new(cfg->node);
  if (fhttp_init(errbuf, errlen) != 0) return -1;
  if (fibrils_init(cfg, errbuf, errlen) != 0) return -1;
  return 0;
}

void resources_quiesce(void) {
  if (the_channels) chan_hub_shutdown(the_channels);
  repl_quiesce();
  watch_quiesce();
}

void resources_shutdown(void) {
  fhttp_shutdown(); /* answers the http calls in flight: fibrils_shutdown
                       waits for every answer */
  fibrils_shutdown();
  repl_shutdown();
  chan_hub_free(the_channels);
  the_channels = NULL;
  store_close(the_store);
  the_store = NULL;
  watch_free(); /* last: the store and the fibril table append to it */
}

store *resources_store(void) { return the_store; }

chan_hub *resources_channels(void) { return the_channels; }
