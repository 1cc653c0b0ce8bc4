/* fsutil: directories, atomic writes and trees. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

int mkdir_p(const char *path, mode_t mode, berth_error *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir %s", p);
		*s = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return berth_error_msg(err, ENOTDIR, "mkdir %s: not a directory", path);
	return 0;
}

static dev_t rm_dev;
static int rm_errno;
static char *rm_failed;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_dev != rm_dev && flag != FTW_NS) {
		/* A mount below the tree: leave it, and let rmdir of its parent report it. */
		return 0;
	}
	if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT && !rm_errno) {
		rm_errno = errno;
		rm_failed = xstrdup(p);
	}
	return 0;
}

int rm_rf(const char *path, berth_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return berth_error_set(err, errno, "remove %s", path);
		return 0;
	}
	rm_dev = st.st_dev;
	rm_errno = 0;
	rm_failed = NULL;
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rm_errno) {
		berth_error_set(err, rm_errno, "remove %s", rm_failed);
		free(rm_failed);
		return -1;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, berth_error *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return berth_error_set(err, errno, "create %s", tmp);
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			unlink(tmp);
			return berth_error_set(err, e, "write %s", tmp);
		}
		p += w, len -= (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return berth_error_set(err, e, "write %s", path);
	}
	return 0;
}

int write_file_str(const char *path, const char *s, berth_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", path);
	size_t n = strlen(s);
	if (write(fd, s, n) != (ssize_t)n)
		return berth_error_set(err, errno, "write %s to %s", s, path);
	return 0;
}

bool path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

const char *berth_root(void)
{
	const char *r = getenv("BERTH_ROOT");
	return r && *r ? r : "/var/lib/berth";
}

const char *berth_run(void)
{
	const char *r = getenv("BERTH_RUN");
	return r && *r ? r : "/run/berth";
}

int copy_entry(int from_dir, const char *name, int to_dir, const char *to_name, berth_error *err)
{
	struct stat sb;
	if (fstatat(from_dir, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "%s", name);
	int rc = 0;
	if (S_ISDIR(sb.st_mode)) {
		if (mkdirat(to_dir, to_name, 0700) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir %s", to_name);
		int a = openat(from_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int b = openat(to_dir, to_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (a < 0 || b < 0)
			rc = berth_error_set(err, errno, "open %s", a < 0 ? name : to_name);
		else
			rc = copy_tree(a, b, err);
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	} else if (S_ISREG(sb.st_mode)) {
		int a = openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int b = a < 0 ? -1
			      : openat(to_dir, to_name,
				       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (a < 0 || b < 0)
			rc = berth_error_set(err, errno, "open %s", a < 0 ? name : to_name);
		char buf[65536];
		ssize_t n;
		while (!rc && (n = read(a, buf, sizeof buf)) != 0) {
			if (n < 0 || write(b, buf, (size_t)n) != n) {
				rc = berth_error_set(err, errno, "copy %s", name);
				break;
			}
		}
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	} else if (S_ISLNK(sb.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(from_dir, name, t, sizeof t - 1);
		if (n < 0)
			return berth_error_set(err, errno, "readlink %s", name);
		t[n] = '\0';
		unlinkat(to_dir, to_name, 0);
		if (symlinkat(t, to_dir, to_name) < 0)
			return berth_error_set(err, errno, "symlink %s", to_name);
	} else {
		return 0; /* devices, fifos and sockets are not copied */
	}
	if (rc)
		return rc;
	if (fchownat(to_dir, to_name, sb.st_uid, sb.st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM)
		return berth_error_set(err, errno, "chown %s", to_name);
	if (!S_ISLNK(sb.st_mode) && fchmodat(to_dir, to_name, sb.st_mode & 07777, 0) < 0)
		return berth_error_set(err, errno, "chmod %s", to_name);
	return 0;
}

int copy_tree(int from, int to, berth_error *err)
{
	int fd = dup(from);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return berth_error_set(err, errno, "opendir");
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = copy_entry(from, de->d_name, to, de->d_name, err);
	}
	closedir(d);
	return rc;
}
