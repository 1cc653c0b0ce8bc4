/*
 * berth cp: copies between a running container and the host, as docker cp.
 * The container's side is reached through /proc/PID/root with
 * openat2(RESOLVE_IN_ROOT), so that its symlinks resolve inside the
 * container and never lead out of it; volumes mounted in the container are
 * seen as the container sees them.
 */
#include "cli.h"
#include "client.h"
#include "../common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* "name:path" is a container's path; "/x:y" and "./x:y" are host paths. */
static char *split(const char *arg, const char **path)
{
	const char *colon = strchr(arg, ':');
	if (!colon || arg[0] == '/' || arg[0] == '.' || colon == arg)
		return NULL;
	*path = colon + 1;
	return xstrndup(arg, (size_t)(colon - arg));
}

static int open_in(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof how);
}

/* A path cut into its directory and last name ("a/b/" -> "a", "b"); "" for the root. */
static void cut(const char *path, char **dir, char **base, bool *trailing)
{
	_cleanup_free_ char *p = xstrdup(*path ? path : ".");
	size_t n = strlen(p);
	*trailing = n > 1 && p[n - 1] == '/';
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	_cleanup_free_ char *d = xstrdup(p), *b = xstrdup(p);
	*dir = xstrdup(dirname(d));
	*base = xstrdup(basename(b));
}

static int fail(const char *what, const char *path, int e)
{
	fprintf(stderr, "berth: %s %s: %s\n", what, path, strerror(e));
	return 1;
}

int cmd_cp(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++)
		if (strcmp(argv[i], "-a") && strcmp(argv[i], "--archive")) {
			fprintf(stderr, "unknown flag: %s\nSee 'berth cp --help'.\n", argv[i]);
			return 125;
		}
	if (argc - i != 2) {
		fprintf(stderr, "berth: 'cp' requires 2 arguments.\n"
				"Usage: berth cp CONTAINER:SRC_PATH DEST_PATH\n"
				"       berth cp SRC_PATH CONTAINER:DEST_PATH\n");
		return 125;
	}
	const char *spath = argv[i], *dpath = argv[i + 1];
	_cleanup_free_ char *sc = split(argv[i], &spath);
	_cleanup_free_ char *dc = split(argv[i + 1], &dpath);
	if (!!sc == !!dc) {
		fprintf(stderr, "berth: copying between containers or between host paths is not "
				"supported: one side must be CONTAINER:PATH\n");
		return 125;
	}
	_cleanup_free_ char *e = client_escape(sc ? sc : dc);
	_cleanup_free_ char *p = xasprintf("/containers/%s/json", e);
	json_t *c = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", p, NULL, &c, &err);
	if (st != 200) {
		fprintf(stderr, "berth: Error response from daemon: %s\n",
			st < 0 ? err.msg : client_message(c));
		berth_error_clear(&err);
		json_decref(c);
		return 1;
	}
	json_t *s = json_object_get(c, "State");
	int pid = (int)json_integer_value(json_object_get(s, "Pid"));
	bool running = json_is_true(json_object_get(s, "Running"));
	json_decref(c);
	if (!running || pid <= 0) {
		fprintf(stderr, "berth: cp needs a running container (%s is not running)\n",
			sc ? sc : dc);
		return 1;
	}
	_cleanup_free_ char *rp = xasprintf("/proc/%d/root", pid);
	_cleanup_close_ int root = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return fail("open", rp, errno);

	/* the source: its directory and name, on its side */
	_cleanup_free_ char *sdir = NULL, *sbase = NULL, *ddir = NULL, *dbase = NULL;
	bool strail, dtrail;
	cut(spath, &sdir, &sbase, &strail);
	cut(dpath, &ddir, &dbase, &dtrail);
	bool contents = str_has_suffix(spath, "/.");
	_cleanup_close_ int sfd = sc ? open_in(root, sdir, O_PATH | O_DIRECTORY)
				     : open(sdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return fail("open", sdir, errno);
	struct stat ss, ds;
	if (fstatat(sfd, contents ? "." : sbase, &ss, AT_SYMLINK_NOFOLLOW) < 0)
		return fail("stat", spath, errno);
	/* the destination: an existing directory takes the source inside it */
	_cleanup_close_ int dirfd = dc ? open_in(root, dpath, O_PATH | O_DIRECTORY)
				       : open(dpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const char *to_name = contents ? NULL : sbase;
	if (dirfd < 0) {
		if (dtrail && !S_ISDIR(ss.st_mode))
			return fail("destination directory", dpath, ENOENT);
		dirfd = dc ? open_in(root, ddir, O_PATH | O_DIRECTORY)
			   : open(ddir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return fail("open", ddir, errno);
		to_name = dbase;
	}
	/* O_PATH descriptors cannot be read as directories: reopen them */
	_cleanup_close_ int from = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int to = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (from < 0 || to < 0)
		return fail("open", from < 0 ? sdir : dpath, errno);
	int rc = 0;
	if (contents) {
		/* SRC/. : the content of SRC into DEST, which is made when it is not there */
		_cleanup_close_ int inner =
		    openat(from, sbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int into = -1;
		if (to_name && mkdirat(to, to_name, ss.st_mode & 07777) < 0 && errno != EEXIST)
			rc = berth_error_set(&err, errno, "mkdir %s", dpath);
		else
			into = to_name ? openat(to, to_name,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				       : dup(to);
		if (inner < 0 || into < 0)
			rc = berth_error_set(&err, errno, "%s", inner < 0 ? spath : dpath);
		else
			rc = copy_tree(inner, into, &err);
	} else if (fstatat(to, to_name, &ds, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(ds.st_mode) &&
		   !S_ISDIR(ss.st_mode)) {
		rc = berth_error_msg(&err, EISDIR, "cannot overwrite directory %s with a file",
				     dpath);
	} else {
		rc = copy_entry(from, sbase, to, to_name, &err);
	}
	if (rc < 0) {
		fprintf(stderr, "berth: cp: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	return 0;
}
