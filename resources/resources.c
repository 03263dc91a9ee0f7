/* resources.c — what the resources serve, opened once per node. */
#include "resources/resources.h"

#include <stdio.h>

static store *the_store;

int resources_init(const m31_config *cfg, char *errbuf, size_t errlen) {
  char dir[1100];
  store_err err = {0};

  snprintf(dir, sizeof dir, "%s/db", cfg->data);
  if (store_open(dir, &the_store, &err) != 0) {
    snprintf(errbuf, errlen, "cannot open the store in %s: %s", dir,
             err.detail);
    return -1;
  }
  return 0;
}

void resources_shutdown(void) {
  store_close(the_store);
  the_store = NULL;
}

store *resources_store(void) { return the_store; }
