/* engine: images, root filesystems, the OCI runtime and its defaults (see ../shared DESIGN.md). */
#ifndef BERTH_ENGINE_H
#define BERTH_ENGINE_H

#include "../common/common.h"

#include <jansson.h>
#include <stdint.h>

/* ---- layers (layer.c) ---- */

/* What unpacking one layer found: the digests of the blob as read and of its tar. */
typedef struct {
	char digest[72];  /* "sha256:<hex>" of the bytes read (compressed or not) */
	char diff_id[72]; /* "sha256:<hex>" of the uncompressed tar */
	uint64_t size;	  /* bytes of regular-file content unpacked */
} engine_layer_result;

/*
 * Unpacks the layer tar (gzip, zstd, xz, bzip2 or plain) read from fd into the
 * existing empty directory dest, in a child process chrooted into dest.
 * OCI whiteouts become overlayfs whiteouts; ownership, modes, times,
 * xattrs (file capabilities among them) and hard links are kept.  Absolute
 * paths, ".." components and links that lead out of the layer are refused.
 */
int engine_layer_unpack(int fd, const char *dest, engine_layer_result *res, berth_error *err);

/* Pure helpers, exposed for the unit tests. */
/* A tar entry's name made relative ("./a/b" -> "a/b"; "." -> ""); -1 for "/x" or "..". */
int engine_layer_clean_path(const char *name, char **out, berth_error *err);
/* Whether a symlink at path (relative to the layer root) with this target leads out of it. */
bool engine_layer_link_escapes(const char *path, const char *target);
enum engine_whiteout { WHITEOUT_NONE, WHITEOUT_FILE, WHITEOUT_OPAQUE };
/* Classifies "dir/.wh.name" (target "dir/name") and "dir/.wh..wh..opq" (target "dir"). */
enum engine_whiteout engine_whiteout_kind(const char *path, char **target);
/* ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)); ids as "sha256:<hex>". */
void engine_chain_id(const char *parent_chain, const char *diff_id, char out[72]);

/* ---- the image store (image.c) ---- */

typedef struct engine_store engine_store;

/* Opens (creating) the store under root, locks it, and removes debris a crashed load left. */
engine_store *engine_store_open(const char *root, berth_error *err);
/*
 * The store as it is now, without its lock: for reading images and mounting
 * root filesystems while a load or an rmi holds the lock (berthd's loop
 * never waits on it).  Writing the index through it is not allowed.
 */
engine_store *engine_store_open_read(const char *root, berth_error *err);
void engine_store_close(engine_store *s);

/* docker-archive or OCI archive tar (file or "-" for stdin); appends "name:tag" or ids to loaded.
 */
int engine_image_load(engine_store *s, const char *file, json_t *loaded, berth_error *err);
/* A root filesystem tar as a one-layer image; returns the image id. */
char *engine_image_import(engine_store *s, const char *file, const char *ref, berth_error *err);
/* Every image: [{"Id","RepoTags","Created","Size","Layers"}...], newest first. */
json_t *engine_image_list(engine_store *s);
/* The image a reference names (name[:tag], full id or unique id prefix); NULL and err if none. */
json_t *engine_image_get(engine_store *s, const char *ref, berth_error *err);
json_t *engine_image_inspect(engine_store *s, const char *ref, berth_error *err);
int engine_image_tag(engine_store *s, const char *src, const char *dst, berth_error *err);
/* Untags or deletes; appends {"Untagged": ...} / {"Deleted": ...} objects to out. */
int engine_image_remove(engine_store *s, const char *ref, bool force, json_t *out,
			berth_error *err);
/* "busybox" -> "busybox:latest", "docker.io/library/x:1" -> "x:1"; NULL and err if invalid. */
char *engine_ref_normalise(const char *ref, berth_error *err);

/* ---- root filesystems (rootfs.c) ---- */

/* Mounts overlayfs of the image's layers at target, upper and work under the store. */
int engine_rootfs_mount(engine_store *s, const char *image, const char *target, bool readonly,
			berth_error *err);
/* Unmounts target but keeps its upper directory: a later mount of target goes on with it. */
int engine_rootfs_detach(engine_store *s, const char *target, berth_error *err);
/* Whether target has a root filesystem mounted (not only a kept upper directory). */
bool engine_rootfs_mounted(const char *target);
/* Unmounts target and removes its upper and work directories. */
int engine_rootfs_umount(engine_store *s, const char *target, berth_error *err);
/* The same, but the directories are moved into the store's tmp/ (debris a later start of the
 * store removes) and their new path returned, for the caller to delete when it suits; NULL
 * when they were deleted here or on an error. */
char *engine_rootfs_umount_later(engine_store *s, const char *target, berth_error *err);

/* ---- bundles with Docker's defaults (spec.c, defaults.c) ---- */

typedef struct {
	const char *image; /* NULL: the runtime's plain template */
	const char *rootfs;
	const char *hostname;
	char **args;
	bool privileged, read_only, no_new_privileges, seccomp_unconfined;
	const char *seccomp_file;
	const char **cap_add, **cap_drop;
	size_t ncap_add, ncap_drop;
	bool terminal;
	/* overrides of the image's config, as docker run's flags */
	const char *user;    /* --user: name or uid[:gid], resolved in the image */
	const char *workdir; /* --workdir */
	char **env;	     /* added to the image's Env, replacing same-name entries */
	char **entrypoint;   /* --entrypoint (an empty array clears it) */
	bool entrypoint_set;
} engine_spec_opts;

/* An OCI runtime-spec config.json with Docker's defaults, changed by opts as Docker does. */
json_t *engine_spec_generate(engine_store *s, const engine_spec_opts *opts, berth_error *err);

/* Resolves "user[:group]" (names or ids) in the image's /etc/passwd and /etc/group to
 * {"uid","gid"}; img is what engine_image_get() returned. */
int engine_image_user(engine_store *s, json_t *img, const char *user, json_t *out,
		      berth_error *err);

extern const char *const engine_default_caps[];
extern const size_t engine_default_caps_n;
extern const char *const engine_masked_paths[];
extern const size_t engine_masked_paths_n;
extern const char *const engine_readonly_paths[];
extern const size_t engine_readonly_paths_n;
/* Docker's default seccomp profile in OCI form, resolved for the given bounding set. */
json_t *engine_seccomp_default(const char *const *caps, size_t ncaps);
/* Every capability name the kernel knows ("CAP_CHOWN"...); -1 if unknown. */
int engine_cap_from_name(const char *name);
const char *engine_cap_name(int cap);
int engine_cap_last(void);

/* ---- seccomp (seccomp.c) ---- */

typedef struct {
	void *filter; /* struct sock_filter[] */
	unsigned short len;
	bool cached; /* true when it came from the cache */
} engine_bpf;

/*
 * Compiles linux.seccomp into BPF with libseccomp, or reads it from the
 * cache under cache_dir keyed by a hash of the profile.
 */
int engine_seccomp_compile(json_t *seccomp, const char *cache_dir, engine_bpf *out,
			   berth_error *err);

/* ---- the OCI runtime (runtime.c, cgroup.c) ---- */

typedef struct {
	const char *state_root; /* default berth_run()/runtime */
	const char *bundle;
	const char *pid_file;
	/*
	 * With process.terminal: a UNIX socket (fd) that receives the master of
	 * a pseudo-terminal the init allocates in the container's own devpts, as
	 * runc's --console-socket; its slave becomes the process's stdio.
	 */
	int console_fd;
	bool has_console;
} engine_runtime_opts;

int engine_runtime_create(const char *id, const engine_runtime_opts *o, berth_error *err);
int engine_runtime_start(const char *id, const engine_runtime_opts *o, berth_error *err);
/* Creates, starts, waits; returns the exit status as a shell does (128+signal), or -1. */
int engine_runtime_run(const char *id, const engine_runtime_opts *o, berth_error *err);
json_t *engine_runtime_state(const char *id, const engine_runtime_opts *o, berth_error *err);
int engine_runtime_kill(const char *id, int sig, bool all, const engine_runtime_opts *o,
			berth_error *err);
int engine_runtime_delete(const char *id, bool force, const engine_runtime_opts *o,
			  berth_error *err);
json_t *engine_runtime_list(const engine_runtime_opts *o, berth_error *err);
/*
 * Runs a process in the running container: its namespaces, cgroup, user,
 * capabilities and seccomp filter, the keys of process (an OCI process
 * object: args, env, cwd, user, terminal) over the bundle's.  stdio are
 * its fds 0-2.  Returns the pid of a child of the caller whose exit status
 * is the process's (128+signal when killed); -1 and err (ENOENT: nothing
 * to exec) when it never ran.
 */
pid_t engine_runtime_exec(const char *id, json_t *process, const int stdio[3],
			  const engine_runtime_opts *o, berth_error *err);
/* Whether the host's cgroups are v2 (unified) only. */
bool engine_cgroup_v2(void);
/* Freezes (paused) or thaws every process of the container. */
int engine_runtime_pause(const char *id, bool paused, const engine_runtime_opts *o,
			 berth_error *err);
/* {"memory_usage","memory_limit","cpu_usage_ns","pids","pid_list","oom_kills"} */
json_t *engine_runtime_stats(const char *id, const engine_runtime_opts *o, berth_error *err);

#endif
