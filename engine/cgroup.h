/* cgroups for the runtime: v2 (unified) and v1 (per-controller hierarchies). */
#ifndef BERTH_ENGINE_CGROUP_H
#define BERTH_ENGINE_CGROUP_H

#include "engine.h"

#include <sys/types.h>

bool cgroup_is_v2(void);
/* The v1 hierarchies a container gets a directory in (those that are mounted). */
extern const char *const cgroup_v1_controllers[];
extern const size_t cgroup_v1_controllers_n;
/*
 * Creates the container's cgroup(s) at path (relative to each hierarchy's
 * root, e.g. "/berth/<id>"), applies linux.resources and moves pid in.
 * Returns {"v2": bool, "paths": {controller: dir}} for the state file.
 */
json_t *cgroup_create(const char *path, json_t *resources, pid_t pid, berth_error *err);
/* Kills what is left in the cgroups with sig (0: none), then removes them. */
int cgroup_destroy(json_t *cg, int sig, berth_error *err);
/* How many OOM kills the memory controller has counted. */
long cgroup_oom_kills(json_t *cg);
/* PIDs in the container's cgroup. */
json_t *cgroup_pids(json_t *cg);
/* Where the container's cgroup of a v1 controller is on the host ("" for v2's single dir). */
const char *cgroup_dir(json_t *cg, const char *controller);

#endif
