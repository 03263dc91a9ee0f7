/* routes.c — the one table of routes: method, path template, handler. */
#include "resources/resources.h"

const route m31_routes[] = {
    {"GET", "/fs", fs_spaces_list, "fs_spaces"},
    {"PUT", "/fs/{space}", fs_space_put, "fs_space"},
    {"GET", "/fs/{space}", fs_space_get, "fs_space"},
    {"DELETE", "/fs/{space}", fs_space_delete, "fs_space"},
    {"PUT", "/fs/{space}/{key}", fs_object_put, "fs_object"},
    {"PATCH", "/fs/{space}/{key}", fs_object_patch, "fs_object"},
    {"GET", "/fs/{space}/{key}", fs_object_get, "fs_object"},
    {"DELETE", "/fs/{space}/{key}", fs_object_delete, "fs_object"},
    {"GET", "/fs/{space}/{key}/versions", fs_versions_list, "fs_versions"},
    {"GET", "/fs/{space}/{key}/branches", fs_branches_list, "fs_branches"},
    {"POST", "/fs/{space}/{key}/branches", fs_branch_create, "fs_branches"},
    {"GET", "/sys/health", sys_health, "sys_health"},
    {"GET", "/sys/info", sys_info, "sys_info"},
    {"GET", "/sys/metrics", sys_metrics, "sys_metrics"},
    {"GET", "/openapi.json", openapi_get, "openapi"},
    {NULL, NULL, NULL, NULL},
};
