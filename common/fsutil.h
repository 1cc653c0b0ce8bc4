/* fsutil: directories, atomic writes and trees, for every layer's state on disk. */
#ifndef BERTH_FSUTIL_H
#define BERTH_FSUTIL_H

#include "common.h"

#include <sys/types.h>

/* mkdir -p with the given mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode, berth_error *err);
/* rm -rf that never crosses a mount point; a missing path is success. */
int rm_rf(const char *path, berth_error *err);
/*
 * Writes data to path atomically: a temporary file beside it, fsync,
 * rename, so a crash leaves the old or the new content, never a torn one.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      berth_error *err);
/* Writes a short string to an existing file (cgroup and /proc knobs). */
int write_file_str(const char *path, const char *s, berth_error *err);
bool path_exists(const char *path);
/*
 * Copies the entry name in the directory from_dir to to_name in to_dir
 * (directories with their content), keeping modes, owners and symlinks.
 * Nothing is followed: every step is openat(O_NOFOLLOW) from a directory
 * descriptor, so a tree inside a container's root cannot lead out of it.
 */
int copy_entry(int from_dir, const char *name, int to_dir, const char *to_name, berth_error *err);
/* The content of the directory from into the directory to. */
int copy_tree(int from, int to, berth_error *err);
/* The state root (BERTH_ROOT, default /var/lib/berth) and the runtime root (BERTH_RUN, default
 * /run/berth). */
const char *berth_root(void);
const char *berth_run(void);

#endif
