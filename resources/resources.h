/*
 * resources.h — one file per URI family (fs.c, sys.c, openapi.c); each
 * parses and validates a request, calls the store, and shapes the answer.
 * The route table (routes.c) names every handler.
 */
#ifndef M31_RESOURCES_H
#define M31_RESOURCES_H

#include "server/server.h"
#include "store/store.h"

/**
 * Opens what the resources serve (the store in <cfg->data>/db). Returns 0,
 * or -1 with a sentence in errbuf. The config is borrowed for the node's life.
 */
int resources_init(const m31_config *cfg, char *errbuf, size_t errlen);

/** Closes the store after its queued writes are durable. */
void resources_shutdown(void);

/** The node's store (borrowed; valid between init and shutdown). */
store *resources_store(void);

/* handlers, by family */
void fs_spaces_list(m31_req *r);
void fs_space_put(m31_req *r);
void fs_space_get(m31_req *r);
void fs_space_delete(m31_req *r);
void fs_object_put(m31_req *r);
void fs_object_patch(m31_req *r);
void fs_object_get(m31_req *r);
void fs_object_delete(m31_req *r);
void fs_versions_list(m31_req *r);
void fs_branches_list(m31_req *r);
void fs_branch_create(m31_req *r);

void sys_health(m31_req *r);
void sys_info(m31_req *r);
void sys_metrics(m31_req *r);

void openapi_get(m31_req *r);

#endif
