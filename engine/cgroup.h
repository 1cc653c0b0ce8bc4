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
 * Where a container's cgroups go, path being relative to each hierarchy's
 * root ("/berth/<id>"): {"v2": bool, "path": path, "paths": {hierarchy:
 * dir}} for every mounted hierarchy ("" for v2's one).  It is also the
 * state that cgroup_destroy() and the others take.
 */
json_t *cgroup_plan(const char *path);
/* Creates the plan's directories, applies linux.resources and moves pid in (none when
 * pid is 0: the process joins by itself with cgroup_join_self()).  On failure the caller
 * kills pid and then calls cgroup_destroy() on the plan. */
int cgroup_create(json_t *plan, json_t *resources, pid_t pid, berth_error *err);
/*
 * Moves the calling process, which must have a single thread, into the plan's cgroups.
 * On v1 it writes 0 to each hierarchy's "tasks": the kernel moves only the caller then and
 * skips the global threadgroup lock whose taking waits for an RCU grace period (6-16 ms
 * here) that a write of a pid to cgroup.procs pays.
 */
int cgroup_join_self(json_t *plan, berth_error *err);
/* Kills what is left in the cgroups with sig (0: none), then removes them. */
int cgroup_destroy(json_t *cg, int sig, berth_error *err);
/* How many OOM kills the memory controller has counted. */
long cgroup_oom_kills(json_t *cg);
/* PIDs in the container's cgroup. */
json_t *cgroup_pids(json_t *cg);
/* Where the container's cgroup of a v1 controller is on the host ("" for v2's single dir). */
const char *cgroup_dir(json_t *cg, const char *controller);

/* Freezes or thaws every task (v2 cgroup.freeze, v1 freezer.state) and waits until done. */
int cgroup_freeze(json_t *cg, bool frozen, berth_error *err);
/* {"memory_usage","memory_limit" (-1: none),"cpu_usage_ns","pids"}, what can be read. */
json_t *cgroup_stats(json_t *cg);

#endif
