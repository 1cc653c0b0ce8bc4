/*
 * Root filesystems: overlayfs with the image's layers as lower directories
 * (top first) and an upper and work directory of the mount's own.  The
 * mount's record (mounts/<hash of the target>/) names the image, so that
 * `rmi` refuses to delete layers in use, and holds upper/ and work/, which
 * go away with the mount.
 */
#include "store.h"
#include "../common/fsutil.h"
#include "../common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char *mount_dir(engine_store *s, const char *target, berth_error *err)
{
	char real[PATH_MAX];
	if (!realpath(target, real)) {
		berth_error_set(err, errno, "%s", target);
		return NULL;
	}
	char hex[65];
	sha256_hex(real, strlen(real), hex);
	return store_path(s, "mounts/%.32s", hex);
}

/*
 * The init layer: empty /etc/hosts, /etc/hostname and /etc/resolv.conf and the /proc, /sys
 * and /dev directories, the mount points every container gets, as in Docker's init layer.
 * One lower directory for all root filesystems, the top one, made once: a start binds onto
 * them instead of making them in its upper directory, which took a copy-up of /etc and
 * four new inodes a container.  False if it cannot be made: the mount goes without.
 */
static bool init_layer(engine_store *s)
{
	_cleanup_free_ char *dir = store_path(s, "layers/.init");
	if (path_exists(dir))
		return true;
	/* tmp-: what a crash leaves is debris the store removes */
	_cleanup_free_ char *tmp = store_path(s, "layers/tmp-init-%d", (int)getpid());
	_cleanup_free_ char *etc = xasprintf("%s/etc", tmp);
	rm_rf(tmp, NULL);
	if (mkdir_p(etc, 0755, NULL) < 0)
		return false;
	/* the modes are the merged directories' own: nothing of berthd's umask */
	bool ok = chmod(tmp, 0755) == 0 && chmod(etc, 0755) == 0;
	for (const char *const *f =
		 (const char *const[]){"etc/hosts", "etc/hostname", "etc/resolv.conf", "proc",
				       "sys", "dev", NULL};
	     *f && ok; f++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", tmp, *f);
		if (!str_has_prefix(*f, "etc/")) {
			ok = mkdir(p, 0755) == 0 && chmod(p, 0755) == 0;
			continue;
		}
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ok = fd >= 0 && fchmod(fd, 0644) == 0;
		if (fd >= 0)
			close(fd);
	}
	/* another mount may have made it first */
	if (ok && rename(tmp, dir) < 0)
		ok = path_exists(dir);
	rm_rf(tmp, NULL);
	return ok && path_exists(dir);
}

/* Mounts the overlay and writes the record into dir; on failure dir may hold debris. */
static int mount_in(engine_store *s, json_t *img, const char *target, const char *dir, bool ro,
		    berth_error *err)
{
	const char *id = json_string_value(json_object_get(img, "Id"));
	_cleanup_free_ char *upper = xasprintf("%s/upper", dir);
	_cleanup_free_ char *work = xasprintf("%s/work", dir);
	if (mkdir_p(upper, 0755, err) < 0 || mkdir_p(work, 0700, err) < 0)
		return -1;
	/* Relative lower directories keep the options within a page for deep images. */
	_cleanup_strbuf_ strbuf lower = STRBUF_INIT;
	if (init_layer(s))
		sb_adds(&lower, ".init");
	json_t *layers = store_image_layers(img);
	for (size_t i = json_array_size(layers); i-- > 0;)
		sb_addf(&lower, "%s%s/diff", lower.len ? ":" : "",
			json_string_value(json_array_get(layers, i)));
	if (!lower.len) {
		/* an image without layers: an empty lower directory */
		_cleanup_free_ char *empty = store_path(s, "layers/.empty");
		mkdir(empty, 0755);
		sb_adds(&lower, ".empty");
	}
	_cleanup_free_ char *opts =
	    xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower.buf, upper, work);
	if (strlen(opts) >= 4096)
		return berth_error_msg(err, E2BIG,
				       "image %.19s has too many layers for one overlay mount", id);
	_cleanup_free_ char *layers_dir = store_path(s, "layers");
	_cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (chdir(layers_dir) < 0)
		return berth_error_set(err, errno, "%s", layers_dir);
	int m = mount("overlay", target, "overlay", ro ? MS_RDONLY : 0, opts);
	int e = errno;
	if (cwd >= 0 && fchdir(cwd) < 0) {
	}
	if (m < 0)
		return berth_error_set(err, e, "mount overlay on %s", target);
	char real[PATH_MAX];
	if (!realpath(target, real))
		snprintf(real, sizeof real, "%s", target);
	_cleanup_free_ char *ip = xasprintf("%s/image", dir);
	_cleanup_free_ char *tp = xasprintf("%s/target", dir);
	if (write_file_atomic(ip, id, strlen(id), 0600, err) < 0 ||
	    write_file_atomic(tp, real, strlen(real), 0600, err) < 0) {
		umount2(target, MNT_DETACH);
		return -1;
	}
	return 0;
}

int engine_rootfs_mount(engine_store *s, const char *image, const char *target, bool readonly,
			berth_error *err)
{
	json_t *img = engine_image_get(s, image, err);
	if (!img)
		return -1;
	int rc = -1;
	_cleanup_free_ char *dir = NULL;
	if (mkdir_p(target, 0755, err) == 0 && (dir = mount_dir(s, target, err))) {
		if (path_exists(dir) && !engine_rootfs_mounted(target)) {
			/* detached earlier: mount again over the upper directory it kept */
			rc = mount_in(s, img, target, dir, readonly, err);
		} else if (path_exists(dir)) {
			berth_error_msg(err, EBUSY,
					"%s: a root filesystem is already mounted there", target);
		} else {
			rc = mount_in(s, img, target, dir, readonly, err);
			if (rc <
			    0) /* a fresh mount's debris; a kept upper directory is never removed */
				rm_rf(dir, NULL);
		}
	}
	json_decref(img);
	return rc;
}

static int umount_to(engine_store *s, const char *target, char **later, berth_error *err)
{
	_cleanup_free_ char *dir = mount_dir(s, target, err);
	if (!dir)
		return -1;
	if (!path_exists(dir))
		return berth_error_msg(
		    err, ENOENT, "%s: no root filesystem of berth's is mounted there", target);
	if (umount2(target, 0) < 0 && errno != EINVAL) {
		if (errno != EBUSY || umount2(target, MNT_DETACH) < 0)
			return berth_error_set(err, errno, "umount %s", target);
	}
	if (later) {
		char *to = store_path(s, "tmp/rm-%s", strrchr(dir, '/') + 1);
		if (rename(dir, to) == 0) {
			*later = to;
			return 0;
		}
		free(to);
	}
	return rm_rf(dir, err);
}

int engine_rootfs_umount(engine_store *s, const char *target, berth_error *err)
{
	return umount_to(s, target, NULL, err);
}

char *engine_rootfs_umount_later(engine_store *s, const char *target, berth_error *err)
{
	char *later = NULL;
	umount_to(s, target, &later, err);
	return later;
}

bool engine_rootfs_mounted(const char *target)
{
	struct statx sx;
	if (statx(AT_FDCWD, target, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
		return false;
	return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int engine_rootfs_detach(engine_store *s, const char *target, berth_error *err)
{
	(void)s;
	if (!engine_rootfs_mounted(target))
		return 0;
	if (umount2(target, 0) < 0 && (errno != EBUSY || umount2(target, MNT_DETACH) < 0))
		return berth_error_set(err, errno, "umount %s", target);
	return 0;
}
