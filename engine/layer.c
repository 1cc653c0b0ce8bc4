/*
 * Unpacking one layer tar into a directory, as containerd's overlay applier
 * does: decompress, untar, convert OCI whiteouts to overlayfs whiteouts, and
 * compute the blob digest and the DiffID on the way.  The work runs in a
 * child chrooted into the destination, so that no entry, symlink or hard
 * link can write outside it whatever the tar holds.
 */
#include "engine.h"
#include "../common/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

int engine_layer_clean_path(const char *name, char **out, berth_error *err)
{
	if (name[0] == '/')
		return berth_error_msg(err, EINVAL, "refusing absolute path %s", name);
	strbuf sb = STRBUF_INIT;
	const char *p = name;
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && !strncmp(p, "..", 2)) {
			sb_release(&sb);
			return berth_error_msg(err, EINVAL, "refusing path with '..': %s", name);
		}
		if (n && !(n == 1 && *p == '.')) {
			if (sb.len)
				sb_addc(&sb, '/');
			sb_addn(&sb, p, n);
		}
		p = *e ? e + 1 : e;
	}
	*out = sb_steal(&sb);
	return 0;
}

bool engine_layer_link_escapes(const char *path, const char *target)
{
	if (target[0] == '/')
		return false; /* resolved inside the container's root at run time */
	/* depth of the directory that holds the link */
	int depth = 0;
	for (const char *p = path; *p; p++)
		if (*p == '/')
			depth++;
	const char *p = target;
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && !strncmp(p, "..", 2)) {
			if (--depth < 0)
				return true;
		} else if (n && !(n == 1 && *p == '.')) {
			depth++;
		}
		p = *e ? e + 1 : e;
	}
	return false;
}

enum engine_whiteout engine_whiteout_kind(const char *path, char **target)
{
	const char *base = strrchr(path, '/');
	size_t dirlen = base ? (size_t)(base - path) : 0;
	base = base ? base + 1 : path;
	if (!str_has_prefix(base, ".wh."))
		return WHITEOUT_NONE;
	if (!strcmp(base, ".wh..wh..opq")) {
		*target = xstrndup(path, dirlen);
		return WHITEOUT_OPAQUE;
	}
	*target = dirlen ? xasprintf("%.*s/%s", (int)dirlen, path, base + 4) : xstrdup(base + 4);
	return WHITEOUT_FILE;
}

void engine_chain_id(const char *parent_chain, const char *diff_id, char out[72])
{
	if (!parent_chain || !*parent_chain) {
		snprintf(out, 72, "%s", diff_id);
		return;
	}
	_cleanup_free_ char *s = xasprintf("%s %s", parent_chain, diff_id);
	char hex[65];
	sha256_hex(s, strlen(s), hex);
	snprintf(out, 72, "sha256:%s", hex);
}

/* ---- the child ---- */

typedef struct {
	int fd;
	sha256_ctx blob;
	char buf[65536];
	struct archive *raw; /* decompressor: filter_all + format_raw */
	sha256_ctx tar;
	char tbuf[65536];
	int64_t tar_bytes;
} unpack_io;

static la_ssize_t read_blob(struct archive *a, void *data, const void **buf)
{
	unpack_io *io = data;
	ssize_t n;
	do
		n = read(io->fd, io->buf, sizeof io->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	sha256_update(&io->blob, io->buf, (size_t)n);
	*buf = io->buf;
	return n;
}

static la_ssize_t read_tar(struct archive *a, void *data, const void **buf)
{
	unpack_io *io = data;
	la_ssize_t n = archive_read_data(io->raw, io->tbuf, sizeof io->tbuf);
	if (n < 0) {
		archive_set_error(a, archive_errno(io->raw), "%s", archive_error_string(io->raw));
		return -1;
	}
	sha256_update(&io->tar, io->tbuf, (size_t)n);
	io->tar_bytes += n;
	*buf = io->tbuf;
	return n;
}

static int child_fail(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int child_fail(int out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	char tag = 'E';
	if (write(out, &tag, 1) == 1 && write(out, m, strlen(m))) {
	}
	return 1;
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

/* The first parent directory of path that is a symlink on disk, or NULL. */
static const char *symlink_on_path(const char *path)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		struct stat st;
		if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode))
			return buf;
		*s = '/';
	}
	return NULL;
}

static int apply_whiteout(enum engine_whiteout kind, const char *target, struct archive_entry *e)
{
	if (kind == WHITEOUT_OPAQUE) {
		const char *dir = *target ? target : ".";
		if (*target &&
		    (mkdir_parents(target) < 0 || (mkdir(dir, 0755) < 0 && errno != EEXIST)))
			return -1;
		return lsetxattr(dir, "trusted.overlay.opaque", "y", 1, 0);
	}
	if (mkdir_parents(target) < 0)
		return -1;
	if (mknod(target, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return -1;
	return lchown(target, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e));
}

static int unpack_child(int fd, int out)
{
	unpack_io *io = xzalloc(sizeof *io);
	io->fd = fd;
	sha256_init(&io->blob);
	sha256_init(&io->tar);
	if (chroot(".") < 0)
		return child_fail(out, "chroot: %s", strerror(errno));
	umask(0);

	io->raw = archive_read_new();
	archive_read_support_filter_all(io->raw);
	archive_read_support_format_raw(io->raw);
	struct archive_entry *e;
	if (archive_read_open(io->raw, io, NULL, read_blob, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(io->raw, &e) != ARCHIVE_OK)
		return child_fail(out, "not a layer: %s", archive_error_string(io->raw));

	struct archive *t = archive_read_new();
	archive_read_support_format_tar(t);
	if (archive_read_open(t, io, NULL, read_tar, NULL) != ARCHIVE_OK)
		return child_fail(out, "truncated or corrupt tar: %s", archive_error_string(t));

	struct archive *w = archive_write_disk_new();
	archive_write_disk_set_options(
	    w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		   ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_UNLINK |
		   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	uint64_t size = 0;
	int r;
	while ((r = archive_read_next_header(t, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		berth_error err = BERTH_ERROR_INIT;
		_cleanup_free_ char *path = NULL, *target = NULL;
		const char *name = archive_entry_pathname(e);
		if (!name || engine_layer_clean_path(name, &path, &err) < 0)
			return child_fail(out, "%s", err.msg ? err.msg : "entry without a name");
		if (!*path)
			continue; /* the layer's root itself */
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			_cleanup_free_ char *h = NULL;
			if (engine_layer_clean_path(hl, &h, &err) < 0)
				return child_fail(out, "hard link %s: %s", path, err.msg);
			archive_entry_set_hardlink(e, h);
		}
		const char *sl = archive_entry_symlink(e);
		if (sl && archive_entry_filetype(e) == AE_IFLNK &&
		    engine_layer_link_escapes(path, sl))
			return child_fail(
			    out, "refusing symlink %s -> %s: it leads out of the layer", path, sl);
		const char *through = symlink_on_path(path);
		if (through)
			return child_fail(out,
					  "refusing %s: it would be written through the symlink %s",
					  path, through);
		enum engine_whiteout kind = engine_whiteout_kind(path, &target);
		if (kind != WHITEOUT_NONE) {
			if (apply_whiteout(kind, target, e) < 0)
				return child_fail(out, "whiteout %s: %s", path, strerror(errno));
			continue;
		}
		archive_entry_set_pathname(e, path);
		if (archive_write_header(w, e) != ARCHIVE_OK)
			return child_fail(out, "%s: %s", path, archive_error_string(w));
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			const void *buf;
			size_t len;
			la_int64_t off;
			while ((r = archive_read_data_block(t, &buf, &len, &off)) == ARCHIVE_OK) {
				if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK)
					return child_fail(out, "%s: %s", path,
							  archive_error_string(w));
				size += len;
			}
			if (r != ARCHIVE_EOF)
				return child_fail(out, "truncated or corrupt tar at %s: %s", path,
						  archive_error_string(t));
		}
		if (archive_write_finish_entry(w) != ARCHIVE_OK)
			return child_fail(out, "%s: %s", path, archive_error_string(w));
	}
	if (r != ARCHIVE_EOF)
		return child_fail(out, "truncated or corrupt tar: %s", archive_error_string(t));
	if (io->tar_bytes == 0)
		return child_fail(out, "truncated or corrupt tar: empty layer");
	/* The tar ends before the stream does (record padding); both digests cover it all. */
	const void *dummy;
	while (read_tar(t, io, &dummy) > 0) {
	}
	while (read_blob(io->raw, io, &dummy) > 0) {
	}
	engine_layer_result res = {0};
	char hex[65];
	sha256_final_hex(&io->blob, hex);
	snprintf(res.digest, sizeof res.digest, "sha256:%s", hex);
	sha256_final_hex(&io->tar, hex);
	snprintf(res.diff_id, sizeof res.diff_id, "sha256:%s", hex);
	res.size = size;
	char tag = 'R';
	if (write(out, &tag, 1) != 1 || write(out, &res, sizeof res) != sizeof res)
		return 1;
	return 0;
}

int engine_layer_unpack(int fd, const char *dest, engine_layer_result *res, berth_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_error_set(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]), close(p[1]);
		return berth_error_set(err, errno, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		if (chdir(dest) < 0)
			_exit(child_fail(p[1], "%s: %s", dest, strerror(errno)));
		_exit(unpack_child(fd, p[1]));
	}
	close(p[1]);
	strbuf sb = STRBUF_INIT;
	char buf[4096];
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			sb_addn(&sb, buf, (size_t)n);
	close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	int rc = 0;
	if (sb.len == 1 + sizeof *res && sb.buf[0] == 'R' && WIFEXITED(status) &&
	    !WEXITSTATUS(status)) {
		memcpy(res, sb.buf + 1, sizeof *res);
	} else if (sb.len > 1 && sb.buf[0] == 'E') {
		rc = berth_error_msg(err, EINVAL, "%.*s", (int)sb.len - 1, sb.buf + 1);
	} else {
		rc = berth_error_msg(err, EIO, "unpacking failed (status %d)", status);
	}
	sb_release(&sb);
	return rc;
}
