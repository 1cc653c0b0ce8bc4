/*
 * The OCI runtime: create, start, state, kill, delete and run of a bundle,
 * as crun and runc offer them.  `create` clones the container's init into
 * its new namespaces; the init sets up its root (mounts, /dev, pivot_root,
 * masked paths), tells the parent it is ready, and blocks opening
 * exec.fifo for writing until `start` opens it for reading; then it drops
 * its privileges (user, capabilities, seccomp) and execs the process.
 * Parent and init talk over a socketpair in named steps; the init's errors
 * travel to the parent, which reports them as one message.
 */
#include "engine.h"
#include "cgroup.h"
#include "../common/fsutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

enum sync_step {
	SYNC_CGROUP_READY = 1, /* parent -> init: limits are in place, go on */
	SYNC_READY,	       /* init -> parent: set up, waiting on exec.fifo */
	SYNC_ERROR,	       /* init -> parent: a message follows */
};

typedef struct {
	json_t *spec;
	const char *bundle;
	char *rootfs;
	char *fifo;
	int sync;
	engine_bpf bpf;
	bool has_seccomp;
	int ns_fds[8];
	int ns_types[8];
	size_t nns;
	json_t *cgroup; /* cgroup_plan(): made by the parent, mounted by the init on v1 */
	int console;	/* where the terminal's master goes; -1: none */
} ctx;

static const char *state_root(const engine_runtime_opts *o)
{
	static char buf[PATH_MAX];
	if (o && o->state_root)
		return o->state_root;
	snprintf(buf, sizeof buf, "%s/runtime", berth_run());
	return buf;
}

static char *state_dir(const char *id, const engine_runtime_opts *o)
{
	return xasprintf("%s/%s", state_root(o), id);
}

static int valid_id(const char *id, berth_error *err)
{
	if (!*id || strlen(id) > 1024 || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
		return berth_error_msg(err, EINVAL, "invalid container id \"%s\"", id);
	return 0;
}

/* ---- the container's side ---- */

static void sync_send(int fd, enum sync_step step, const char *msg)
{
	char buf[4096];
	size_t n = 0;
	buf[n++] = (char)step;
	if (msg) {
		size_t l = strlen(msg);
		if (l > sizeof buf - 1)
			l = sizeof buf - 1;
		memcpy(buf + 1, msg, l);
		n += l;
	}
	if (send(fd, buf, n, MSG_NOSIGNAL) < 0) {
	}
}

static void __attribute__((noreturn, format(printf, 2, 3))) die(ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	/* stderr first: the parent's own line about it comes after, once it has the message,
	 * so that whoever reads that stream (berth's monitor) sees this one first */
	fprintf(stderr, "berth: %s\n", m);
	sync_send(c->sync, SYNC_ERROR, m);
	_exit(127);
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

static const struct {
	const char *name;
	unsigned long flag;
} propagation[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* Splits a mount's options into flags, propagation flags and filesystem data. */
static void parse_options(json_t *opts, unsigned long *flags, unsigned long *prop, char **data)
{
	strbuf sb = STRBUF_INIT;
	json_t *o;
	size_t i;
	*flags = *prop = 0;
	json_array_foreach(opts, i, o)
	{
		const char *s = json_string_value(o);
		bool known = false;
		for (size_t k = 0; s && k < ARRAY_SIZE(mount_flags) && !known; k++)
			if (!strcmp(s, mount_flags[k].name)) {
				known = true;
				if (mount_flags[k].clear)
					*flags &= ~mount_flags[k].flag;
				else
					*flags |= mount_flags[k].flag;
			}
		for (size_t k = 0; s && k < ARRAY_SIZE(propagation) && !known; k++)
			if (!strcmp(s, propagation[k].name)) {
				known = true;
				*prop |= propagation[k].flag;
			}
		if (!known && s && strcmp(s, "tmpcopyup")) {
			if (sb.len)
				sb_addc(&sb, ',');
			sb_adds(&sb, s);
		}
	}
	*data = sb.len ? sb_steal(&sb) : NULL;
	sb_release(&sb);
}

static int openat2_in(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

/*
 * Creates path (and its parents) inside the root the dirfd names, resolving
 * every component inside it, and returns an O_PATH fd to it.
 */
static int mkpath_in(int root, const char *path, bool file)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *s = p;
	while (*s == '/')
		s++;
	if (!*s)
		return openat2_in(root, ".", O_PATH);
	for (char *q = s;; q++) {
		if (*q != '/' && *q)
			continue;
		char c = *q;
		*q = '\0';
		int fd = openat2_in(root, s, O_PATH);
		if (fd < 0 && errno == ENOENT) {
			_cleanup_free_ char *dir = xstrdup(s);
			char *slash = strrchr(dir, '/');
			_cleanup_close_ int pfd = -1;
			const char *base = dir;
			if (slash) {
				*slash = '\0';
				pfd = openat2_in(root, dir, O_PATH | O_DIRECTORY);
				base = slash + 1;
			} else {
				pfd = openat2_in(root, ".", O_PATH | O_DIRECTORY);
			}
			if (pfd < 0)
				return -1;
			if (!c && file) {
				int f = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
					       0644);
				if (f < 0 && errno != EEXIST)
					return -1;
				if (f >= 0)
					close(f);
			} else if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST) {
				return -1;
			}
			fd = openat2_in(root, s, O_PATH);
		}
		if (fd < 0)
			return -1;
		if (!c)
			return fd;
		close(fd);
		*q = c;
	}
}

static char *fdpath(int fd)
{
	return xasprintf("/proc/self/fd/%d", fd);
}

/* Flags of a mount just made at dest: the fd taken before it names what is below. */
static int remount_in(int root, const char *dest, unsigned long flags)
{
	_cleanup_close_ int fd = openat2_in(root, dest, O_PATH);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *p = fdpath(fd);
	return mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | flags, NULL);
}

static int propagate_in(int root, const char *dest, unsigned long prop)
{
	_cleanup_close_ int fd = openat2_in(root, dest, O_PATH);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *p = fdpath(fd);
	return mount(NULL, p, NULL, prop, NULL);
}

static void mount_cgroup_v1(ctx *c, int root, const char *dest, unsigned long flags)
{
	_cleanup_close_ int fd = mkpath_in(root, dest, false);
	if (fd < 0)
		die(c, "mount cgroup on %s: %s", dest, strerror(errno));
	_cleanup_free_ char *t = fdpath(fd);
	if (mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
		die(c, "mount tmpfs on %s: %s", dest, strerror(errno));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(c->cgroup, "paths"), k, v)
	{
		if (!path_exists(json_string_value(v)))
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dest, k);
		_cleanup_close_ int sfd = mkpath_in(root, sub, false);
		if (sfd < 0)
			die(c, "mount cgroup %s: %s", sub, strerror(errno));
		_cleanup_free_ char *st = fdpath(sfd);
		if (mount(json_string_value(v), st, NULL, MS_BIND, NULL) < 0 ||
		    remount_in(root, sub, MS_NOSUID | MS_NODEV | MS_NOEXEC | (flags & MS_RDONLY)) <
			0)
			die(c, "bind cgroup %s: %s", sub, strerror(errno));
	}
	if (flags & MS_RDONLY) {
		_cleanup_close_ int nfd = openat2_in(root, dest, O_PATH);
		_cleanup_free_ char *np = fdpath(nfd);
		if (mount(NULL, np, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=755") < 0)
			die(c, "read-only %s: %s", dest, strerror(errno));
	}
}

static void do_mounts(ctx *c, int root)
{
	json_t *m;
	size_t i;
	json_array_foreach(json_object_get(c->spec, "mounts"), i, m)
	{
		const char *dest = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		if (!dest || dest[0] != '/')
			die(c, "mount %zu: destination must be an absolute path", i);
		unsigned long flags, prop;
		_cleanup_free_ char *data = NULL;
		parse_options(json_object_get(m, "options"), &flags, &prop, &data);
		bool bind = (flags & MS_BIND) || (type && !strcmp(type, "bind"));
		if (type && !strcmp(type, "cgroup") && !cgroup_is_v2()) {
			mount_cgroup_v1(c, root, dest, flags);
			continue;
		}
		if (type && !strcmp(type, "cgroup"))
			type = "cgroup2";
		_cleanup_free_ char *hostsrc = NULL;
		bool srcfile = false;
		if (bind) {
			if (!src)
				die(c, "mount %s: a bind mount needs a source", dest);
			hostsrc = src[0] == '/' ? xstrdup(src) : xasprintf("%s/%s", c->bundle, src);
			struct stat st;
			if (stat(hostsrc, &st) < 0)
				die(c, "mount %s to %s: %s", src, dest, strerror(errno));
			srcfile = !S_ISDIR(st.st_mode);
		}
		_cleanup_close_ int fd = mkpath_in(root, dest, srcfile);
		if (fd < 0)
			die(c, "mount %s: cannot create the mount point: %s", dest,
			    strerror(errno));
		_cleanup_free_ char *target = fdpath(fd);
		if (bind) {
			if (mount(hostsrc, target, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
				die(c, "mount %s to %s: %s", src, dest, strerror(errno));
			unsigned long keep = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
			if (keep && remount_in(root, dest, keep) < 0)
				die(c, "remount %s: %s", dest, strerror(errno));
		} else {
			if (mount(src ? src : type, target, type, flags & ~MS_REMOUNT, data) < 0)
				die(c, "mount %s (%s): %s", dest, type ? type : "?",
				    strerror(errno));
		}
		if (prop && propagate_in(root, dest, prop) < 0)
			die(c, "mount %s: propagation: %s", dest, strerror(errno));
	}
}

static const struct {
	const char *path;
	mode_t mode;
	unsigned maj, min;
} default_devices[] = {
    {"/dev/null", 0666, 1, 3},	 {"/dev/zero", 0666, 1, 5},    {"/dev/full", 0666, 1, 7},
    {"/dev/random", 0666, 1, 8}, {"/dev/urandom", 0666, 1, 9}, {"/dev/tty", 0666, 5, 0},
};

static void make_device(ctx *c, int root, const char *path, mode_t type, mode_t mode, unsigned maj,
			unsigned min, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	_cleanup_close_ int dfd = mkpath_in(root, *dir ? dir : "/", false);
	if (dfd < 0)
		die(c, "device %s: %s", path, strerror(errno));
	_cleanup_free_ char *dp = fdpath(dfd);
	_cleanup_close_ int d = open(dp, O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		die(c, "device %s: %s", path, strerror(errno));
	const char *base = slash + 1;
	unlinkat(d, base, 0);
	if (mknodat(d, base, type | (mode & 07777), makedev(maj, min)) == 0) {
		fchmodat(d, base, mode & 07777, 0);
		if (fchownat(d, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			die(c, "device %s: chown: %s", path, strerror(errno));
		return;
	}
	/* no mknod (a /dev that is not a tmpfs of ours): bind the host's node */
	int f = openat(d, base, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (f < 0)
		die(c, "device %s: %s", path, strerror(errno));
	close(f);
	_cleanup_free_ char *host = xasprintf("/dev/char/%u:%u", maj, min);
	_cleanup_close_ int tfd = openat2_in(d, base, O_PATH);
	_cleanup_free_ char *tp = fdpath(tfd);
	if (mount(host, tp, NULL, MS_BIND, NULL) < 0)
		die(c, "device %s: %s", path, strerror(errno));
}

static void do_devices(ctx *c, int root)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
		make_device(c, root, default_devices[i].path, S_IFCHR, default_devices[i].mode,
			    default_devices[i].maj, default_devices[i].min, 0, 0);
	json_t *d;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(c->spec, "linux"), "devices"), i, d)
	{
		const char *p = json_string_value(json_object_get(d, "path"));
		const char *t = json_string_value(json_object_get(d, "type"));
		if (!p || !t || p[0] != '/')
			die(c, "linux.devices[%zu]: path and type are required", i);
		mode_t type = !strcmp(t, "b") ? S_IFBLK : !strcmp(t, "p") ? S_IFIFO : S_IFCHR;
		json_t *fm = json_object_get(d, "fileMode");
		make_device(c, root, p, type, fm ? (mode_t)json_integer_value(fm) : 0666,
			    (unsigned)json_integer_value(json_object_get(d, "major")),
			    (unsigned)json_integer_value(json_object_get(d, "minor")),
			    (uid_t)json_integer_value(json_object_get(d, "uid")),
			    (gid_t)json_integer_value(json_object_get(d, "gid")));
	}
	static const char *const links[][2] = {
	    {"/proc/self/fd", "dev/fd"},       {"/proc/self/fd/0", "dev/stdin"},
	    {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
	    {"pts/ptmx", "dev/ptmx"},	       {"/proc/kcore", "dev/core"}};
	_cleanup_close_ int dev = mkpath_in(root, "/dev", false);
	_cleanup_free_ char *dp = fdpath(dev);
	_cleanup_close_ int dd = open(dp, O_DIRECTORY | O_CLOEXEC);
	for (size_t k = 0; dd >= 0 && k < ARRAY_SIZE(links); k++)
		if (symlinkat(links[k][0], dd, links[k][1] + 4) < 0 && errno != EEXIST)
			die(c, "/%s: %s", links[k][1], strerror(errno));
}

/* Masked and read-only paths, resolved inside the new root before it moves. */
static void mask_paths(ctx *c, int root)
{
	json_t *lx = json_object_get(c->spec, "linux"), *p;
	size_t i;
	json_array_foreach(json_object_get(lx, "maskedPaths"), i, p)
	{
		const char *path = json_string_value(p);
		_cleanup_close_ int fd = path ? openat2_in(root, path, O_PATH) : -1;
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			continue;
		_cleanup_free_ char *t = fdpath(fd);
		/* files get the host's /dev/null, as crun does */
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", t, "tmpfs", MS_RDONLY, "size=0k")
					    : mount("/dev/null", t, NULL, MS_BIND, NULL);
		if (r < 0)
			die(c, "mask %s: %s", path, strerror(errno));
	}
	json_array_foreach(json_object_get(lx, "readonlyPaths"), i, p)
	{
		const char *path = json_string_value(p);
		_cleanup_close_ int fd = path ? openat2_in(root, path, O_PATH) : -1;
		if (fd < 0)
			continue;
		_cleanup_free_ char *t = fdpath(fd);
		if (mount(t, t, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    remount_in(root, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
			die(c, "read-only %s: %s", path, strerror(errno));
	}
}

static void set_rlimits(ctx *c)
{
	static const struct {
		const char *n;
		int r;
	} names[] = {{"RLIMIT_AS", RLIMIT_AS},
		     {"RLIMIT_CORE", RLIMIT_CORE},
		     {"RLIMIT_CPU", RLIMIT_CPU},
		     {"RLIMIT_DATA", RLIMIT_DATA},
		     {"RLIMIT_FSIZE", RLIMIT_FSIZE},
		     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
		     {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
		     {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
		     {"RLIMIT_NICE", RLIMIT_NICE},
		     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
		     {"RLIMIT_NPROC", RLIMIT_NPROC},
		     {"RLIMIT_RSS", RLIMIT_RSS},
		     {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
		     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
		     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
		     {"RLIMIT_STACK", RLIMIT_STACK}};
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(c->spec, "process"), "rlimits"), i, r)
	{
		const char *t = json_string_value(json_object_get(r, "type"));
		size_t k = 0;
		for (; t && k < ARRAY_SIZE(names); k++)
			if (!strcmp(t, names[k].n))
				break;
		if (!t || k == ARRAY_SIZE(names))
			die(c, "unknown rlimit %s", t ? t : "(none)");
		struct rlimit rl = {(rlim_t)json_integer_value(json_object_get(r, "soft")),
				    (rlim_t)json_integer_value(json_object_get(r, "hard"))};
		if (setrlimit(names[k].r, &rl) < 0)
			die(c, "setrlimit %s soft %llu hard %llu: %s", t,
			    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			    strerror(errno));
	}
}

static void set_sysctls(ctx *c, int root)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(json_object_get(c->spec, "linux"), "sysctl"), k, v)
	{
		if (strstr(k, "..") || strchr(k, '/'))
			die(c, "sysctl %s: invalid name", k);
		_cleanup_free_ char *p = xasprintf("/proc/sys/%s", k);
		for (char *q = p + 10; *q; q++)
			if (*q == '.')
				*q = '/';
		_cleanup_close_ int fd = openat2_in(root, p, O_WRONLY);
		const char *val = json_string_value(v) ? json_string_value(v) : "";
		if (fd < 0 || write(fd, val, strlen(val)) < 0)
			die(c, "sysctl %s: %s", k, strerror(errno));
	}
}

static int cap_list(json_t *caps, const char *set, cap_value_t *out, ctx *c)
{
	json_t *v;
	size_t i, n = 0;
	json_array_foreach(json_object_get(caps, set), i, v)
	{
		int cap = engine_cap_from_name(json_string_value(v) ? json_string_value(v) : "");
		if (cap < 0)
			die(c, "unknown capability %s in process.capabilities.%s",
			    json_string_value(v) ? json_string_value(v) : "(not a string)", set);
		out[n++] = cap;
	}
	return (int)n;
}

static bool in_caps(const cap_value_t *l, int n, int cap)
{
	for (int i = 0; i < n; i++)
		if (l[i] == cap)
			return true;
	return false;
}

static void load_seccomp(ctx *c)
{
	if (!c->has_seccomp)
		return;
	struct sock_fprog prog = {.len = c->bpf.len, .filter = c->bpf.filter};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		die(c, "seccomp: load the filter: %s", strerror(errno));
}

/* Looks the program up as execvp would; returns the path to exec. */
static char *find_exec(ctx *c, const char *arg0, char **env)
{
	if (strchr(arg0, '/')) {
		if (access(arg0, X_OK) < 0)
			die(c, "exec %s: %s", arg0, strerror(errno));
		return xstrdup(arg0);
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **e = env; *e; e++)
		if (str_has_prefix(*e, "PATH="))
			path = *e + 5;
	_cleanup_free_ char *dup = xstrdup(path);
	char *save = NULL;
	for (char *d = strtok_r(dup, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", *d ? d : ".", arg0);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	die(c, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static char **str_array(json_t *a)
{
	size_t n = json_array_size(a);
	char **v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = xstrdup(json_string_value(json_array_get(a, i)) ?: "");
	return v;
}

/*
 * The terminal comes from the container's own devpts, so that the process
 * sees /dev/pts/0 as Docker's do; the master goes to the caller over the
 * console socket, the slave becomes stdio (and /dev/console).
 */
/* Allocates a terminal on ptmx, sends its master over the console socket, returns the slave. */
static int send_terminal(ctx *c, int master)
{
	if (master < 0)
		die(c, "open /dev/ptmx in the container: %s", strerror(errno));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		die(c, "unlock the terminal: %s", strerror(errno));
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		die(c, "open the terminal's slave: %s", strerror(errno));
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	ioctl(master, TIOCSWINSZ, &ws);
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 'c';
	struct iovec iov = {&byte, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(c->console, &m, 0) < 0)
		die(c, "send the terminal to the console socket: %s", strerror(errno));
	close(master);
	close(c->console);
	c->console = -1;
	return slave;
}

static void setup_console(ctx *c, int root)
{
	int slave = send_terminal(c, openat2_in(root, "dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
	/* /dev/console is the terminal too, as runc makes it */
	int con = openat2_in(root, "dev/console", O_PATH | O_CLOEXEC);
	if (con < 0) {
		int d = openat2_in(root, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
		int f = d >= 0 ? openat(d, "console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600) : -1;
		if (f >= 0)
			close(f);
		if (d >= 0)
			close(d);
		con = openat2_in(root, "dev/console", O_PATH | O_CLOEXEC);
	}
	_cleanup_free_ char *sp = fdpath(slave);
	_cleanup_free_ char *cp = con >= 0 ? fdpath(con) : NULL;
	if (cp && mount(sp, cp, NULL, MS_BIND, NULL) < 0)
		die(c, "bind /dev/console: %s", strerror(errno));
	if (con >= 0)
		close(con);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			die(c, "terminal as stdio: %s", strerror(errno));
	if (slave > 2)
		close(slave);
}

/* Privileges last: bounding set, user, capabilities, no_new_privs, seccomp. */
static void drop_privileges(ctx *c, json_t *proc)
{
	json_t *caps = json_object_get(proc, "capabilities");
	cap_value_t bnd[64], eff[64], prm[64], inh[64], amb[64];
	int nb = cap_list(caps, "bounding", bnd, c), ne = cap_list(caps, "effective", eff, c);
	int np = cap_list(caps, "permitted", prm, c), ni = cap_list(caps, "inheritable", inh, c);
	int na = cap_list(caps, "ambient", amb, c);
	for (int cap = 0; cap <= engine_cap_last(); cap++)
		if (!in_caps(bnd, nb, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			die(c, "drop capability %s: %s", engine_cap_name(cap), strerror(errno));
	bool nnp = json_is_true(json_object_get(proc, "noNewPrivileges"));
	if (!nnp)
		load_seccomp(c); /* while CAP_SYS_ADMIN still allows it without no_new_privs */
	json_t *user = json_object_get(proc, "user");
	uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
	gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
	json_t *ag = json_object_get(user, "additionalGids");
	gid_t groups[256];
	size_t ng = 0;
	for (; ng < json_array_size(ag) && ng < ARRAY_SIZE(groups); ng++)
		groups[ng] = (gid_t)json_integer_value(json_array_get(ag, ng));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(ng, groups) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die(c, "switch to user %u:%u: %s", (unsigned)uid, (unsigned)gid, strerror(errno));
	cap_t cs = cap_init();
	if (ne && cap_set_flag(cs, CAP_EFFECTIVE, ne, eff, CAP_SET) < 0)
		die(c, "capabilities: %s", strerror(errno));
	if (np && cap_set_flag(cs, CAP_PERMITTED, np, prm, CAP_SET) < 0)
		die(c, "capabilities: %s", strerror(errno));
	if (ni && cap_set_flag(cs, CAP_INHERITABLE, ni, inh, CAP_SET) < 0)
		die(c, "capabilities: %s", strerror(errno));
	if (cap_set_proc(cs) < 0)
		die(c, "set capabilities: %s", strerror(errno));
	cap_free(cs);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int k = 0; k < na; k++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, amb[k], 0, 0) < 0)
			die(c, "ambient capability %s: %s", engine_cap_name(amb[k]),
			    strerror(errno));
	if (nnp) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			die(c, "no_new_privs: %s", strerror(errno));
		load_seccomp(c);
	}
}

static void __attribute__((noreturn)) init_main(ctx *c)
{
	json_t *spec = c->spec, *lx = json_object_get(spec, "linux");
	json_t *proc = json_object_get(spec, "process");
	char step = 0;
	if (read(c->sync, &step, 1) != 1 || step != SYNC_CGROUP_READY)
		_exit(1);
	berth_error cge = BERTH_ERROR_INIT;
	if (cgroup_join_self(c->cgroup, &cge) < 0)
		die(c, "join the container's cgroup: %s", cge.msg);
	for (size_t i = 0; i < c->nns; i++)
		if (setns(c->ns_fds[i], c->ns_types[i]) < 0)
			die(c, "join namespace: %s", strerror(errno));
	json_t *ns;
	size_t i;
	bool newmnt = false, newuts = false, newcg = false;
	json_array_foreach(json_object_get(lx, "namespaces"), i, ns)
	{
		const char *t = json_string_value(json_object_get(ns, "type"));
		bool own = !json_object_get(ns, "path");
		if (t && own && !strcmp(t, "mount"))
			newmnt = true;
		if (t && own && !strcmp(t, "uts"))
			newuts = true;
		if (t && own && !strcmp(t, "cgroup"))
			newcg = true;
	}
	/* after the move into the cgroup, so that the namespace's root is the container's */
	if (newcg && unshare(CLONE_NEWCGROUP) < 0)
		die(c, "cgroup namespace: %s", strerror(errno));
	if (!newmnt)
		die(c, "a mount namespace is required");
	const char *rp = json_string_value(json_object_get(lx, "rootfsPropagation"));
	unsigned long prop = MS_PRIVATE | MS_REC;
	for (size_t k = 0; rp && k < ARRAY_SIZE(propagation); k++)
		if (!strcmp(rp, propagation[k].name))
			prop = propagation[k].flag | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		die(c, "make / %s: %s", rp ? rp : "rprivate", strerror(errno));
	if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(c, "bind the root %s: %s", c->rootfs, strerror(errno));
	int root = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		die(c, "open root %s: %s", c->rootfs, strerror(errno));
	int fifo = c->fifo ? open(c->fifo, O_PATH | O_CLOEXEC) : -1;
	if (c->fifo && fifo < 0)
		die(c, "exec.fifo: %s", strerror(errno));

	do_mounts(c, root);
	do_devices(c, root);
	set_sysctls(c, root);
	mask_paths(c, root);
	const char *hostname = json_string_value(json_object_get(spec, "hostname"));
	if (hostname && newuts && sethostname(hostname, strlen(hostname)) < 0)
		die(c, "sethostname: %s", strerror(errno));
	if (hostname && !newuts)
		die(c, "hostname needs a new uts namespace");

	if (c->console >= 0 && json_is_true(json_object_get(proc, "terminal")))
		setup_console(c, root);

	if (fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		die(c, "pivot_root %s: %s", c->rootfs, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		die(c, "detach the old root: %s", strerror(errno));
	if (json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")) &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		die(c, "read-only root: %s", strerror(errno));

	json_t *oom = json_object_get(proc, "oomScoreAdj");
	if (oom) {
		_cleanup_free_ char *v = xasprintf("%lld", (long long)json_integer_value(oom));
		berth_error err = BERTH_ERROR_INIT;
		if (write_file_str("/proc/self/oom_score_adj", v, &err) < 0)
			die(c, "oom_score_adj: %s", err.msg);
	}
	set_rlimits(c);
	if (setsid() < 0)
		die(c, "setsid: %s", strerror(errno));
	/* the terminal the caller (berth-monitor) gave as stdio becomes the controlling one */
	if (json_is_true(json_object_get(proc, "terminal")) && ioctl(0, TIOCSCTTY, 0) < 0)
		die(c, "controlling terminal: %s", strerror(errno));
	const char *cwd = json_string_value(json_object_get(proc, "cwd"));
	if (chdir(cwd ? cwd : "/") < 0)
		die(c, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, strerror(errno));
	char **args = str_array(json_object_get(proc, "args"));
	char **env = str_array(json_object_get(proc, "env"));
	if (!args[0])
		die(c, "process.args is empty");
	char *exe = find_exec(c, args[0], env);

	sync_send(c->sync, SYNC_READY, NULL);
	if (fifo >= 0) {
		/* blocks until `start` opens the fifo for reading */
		_cleanup_free_ char *fp = fdpath(fifo);
		int w = open(fp, O_WRONLY | O_CLOEXEC);
		if (w < 0 || write(w, "0", 1) != 1)
			die(c, "exec.fifo: %s", strerror(errno));
		close(w);
		close(fifo);
	}

	drop_privileges(c, proc);
	/* nothing of berth's leaks into the container: the sync socket closes on exec */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(exe, args, env);
	die(c, "exec %s: %s", args[0], strerror(errno));
}

/* ---- the caller's side ---- */

static const struct {
	const char *name;
	int flag;
} ns_types[] = {
    {"mount", CLONE_NEWNS}, {"pid", CLONE_NEWPID},     {"uts", CLONE_NEWUTS},
    {"ipc", CLONE_NEWIPC},  {"network", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
};

static int ns_flag(const char *t)
{
	for (size_t i = 0; t && i < ARRAY_SIZE(ns_types); i++)
		if (!strcmp(t, ns_types[i].name))
			return ns_types[i].flag;
	return -1;
}

static json_t *load_spec(const char *bundle, bool console, berth_error *err)
{
	_cleanup_free_ char *p = xasprintf("%s/config.json", bundle);
	json_error_t je;
	json_t *spec = json_load_file(p, 0, &je);
	if (!spec) {
		berth_error_msg(err, EINVAL, "%s:%d:%d: %s", p, je.line, je.column, je.text);
		return NULL;
	}
	const char *why = NULL;
	json_t *proc = json_object_get(spec, "process");
	if (!json_is_object(spec))
		why = "the top level is not an object";
	else if (!json_is_string(json_object_get(spec, "ociVersion")))
		why = "ociVersion is missing";
	else if (!json_is_string(json_object_get(json_object_get(spec, "root"), "path")))
		why = "root.path is missing";
	else if (!json_is_object(proc))
		why = "process is missing";
	else if (!json_array_size(json_object_get(proc, "args")))
		why = "process.args is missing or empty";
	else if (json_is_true(json_object_get(proc, "terminal")) && !isatty(0) && !console)
		why = "process.terminal needs a console socket (--console-fd) or a terminal as "
		      "stdin";
	if (why) {
		berth_error_msg(err, EINVAL, "%s: %s", p, why);
		json_decref(spec);
		return NULL;
	}
	/* names are checked here, so that a typo never gets as far as a clone */
	json_t *caps = json_object_get(proc, "capabilities");
	const char *set;
	json_t *list;
	json_object_foreach(caps, set, list)
	{
		json_t *v;
		size_t i;
		json_array_foreach(list, i,
				   v) if (engine_cap_from_name(json_string_value(v) ?: "") < 0)
		{
			berth_error_msg(err, EINVAL,
					"%s: unknown capability \"%s\" in process.capabilities.%s",
					p, json_string_value(v) ?: "(not a string)", set);
			json_decref(spec);
			return NULL;
		}
	}
	json_t *ns;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(spec, "linux"), "namespaces"), i, ns)
	{
		const char *t = json_string_value(json_object_get(ns, "type"));
		if (ns_flag(t) < 0) {
			berth_error_msg(err, EINVAL, "%s: namespace \"%s\" is not supported", p,
					t ? t : "(none)");
			json_decref(spec);
			return NULL;
		}
	}
	return spec;
}

static long long proc_starttime(pid_t pid, char *state)
{
	_cleanup_free_ char *p = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *t = read_file(p, NULL, NULL);
	char *s = t ? strrchr(t, ')') : NULL;
	if (!s)
		return -1;
	char st;
	long long v = -1;
	/* fields after the command: state is 3, starttime is 22 */
	if (sscanf(s + 2,
		   "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %lld",
		   &st, &v) != 2)
		return -1;
	if (state)
		*state = st;
	return v;
}

static const char *status_of(json_t *st, const char *dir)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	char s = 0;
	long long start = pid > 0 ? proc_starttime(pid, &s) : -1;
	if (start < 0 || start != json_integer_value(json_object_get(st, "starttime")) ||
	    s == 'Z' || s == 'X')
		return "stopped";
	_cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
	return path_exists(fifo) ? "created" : "running";
}

static json_t *read_state(const char *id, const engine_runtime_opts *o, char **dirp,
			  berth_error *err)
{
	if (valid_id(id, err) < 0)
		return NULL;
	_cleanup_free_ char *dir = state_dir(id, o);
	_cleanup_free_ char *p = xasprintf("%s/state.json", dir);
	if (!path_exists(dir)) {
		berth_error_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return NULL;
	}
	json_t *st = json_load_file(p, 0, NULL);
	if (!st) {
		/* a create that crashed before its state was written: only debris */
		berth_error_msg(err, ENOENT, "container \"%s\" does not exist (incomplete state)",
				id);
		return NULL;
	}
	json_object_set_new(st, "status", json_string(status_of(st, dir)));
	if (dirp)
		*dirp = steal_ptr(dir);
	return st;
}

typedef struct {
	pid_t pid;
	int sync;
	json_t *cg;
	char *dir;
} created;

static void undo_create(created *cr)
{
	if (cr->pid > 0) {
		kill(cr->pid, SIGKILL);
		while (waitpid(cr->pid, NULL, 0) < 0 && errno == EINTR) {
		}
	}
	if (cr->cg)
		cgroup_destroy(cr->cg, SIGKILL, NULL);
	if (cr->dir)
		rm_rf(cr->dir, NULL);
}

static int do_create(const char *id, const engine_runtime_opts *o, created *cr, berth_error *err)
{
	memset(cr, 0, sizeof *cr);
	cr->sync = -1;
	if (valid_id(id, err) < 0)
		return -1;
	char bundle[PATH_MAX];
	if (!realpath(o->bundle ? o->bundle : ".", bundle))
		return berth_error_set(err, errno, "bundle %s", o->bundle ? o->bundle : ".");
	json_t *spec = load_spec(bundle, o->has_console, err);
	if (!spec)
		return -1;
	ctx c = {.spec = spec,
		 .bundle = bundle,
		 .sync = -1,
		 .console = o->has_console ? o->console_fd : -1};
	_cleanup_free_ char *cgp = NULL, *text = NULL, *sp_path = NULL;
	const char *rp = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
	c.rootfs = rp[0] == '/' ? xstrdup(rp) : xasprintf("%s/%s", bundle, rp);
	int rc = -1;
	struct stat st;
	json_t *lx = json_object_get(spec, "linux");
	json_t *sc = json_object_get(lx, "seccomp");
	if (stat(c.rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		berth_error_msg(err, ENOENT, "root.path %s: no such directory", c.rootfs);
		goto out;
	}
	if (sc) {
		_cleanup_free_ char *cache = xasprintf("%s/cache/seccomp", berth_root());
		if (engine_seccomp_compile(sc, cache, &c.bpf, err) < 0)
			goto out;
		c.has_seccomp = true;
	}
	if (mkdir_p(state_root(o), 0700, err) < 0)
		goto out;
	cr->dir = state_dir(id, o);
	if (mkdir(cr->dir, 0700) < 0) {
		int e = errno;
		free(cr->dir);
		cr->dir = NULL;
		if (e == EEXIST)
			berth_error_msg(err, EEXIST, "container \"%s\" already exists", id);
		else
			berth_error_set(err, e, "mkdir %s/%s", state_root(o), id);
		goto out;
	}
	c.fifo = xasprintf("%s/exec.fifo", cr->dir);
	if (mkfifo(c.fifo, 0600) < 0) {
		berth_error_set(err, errno, "mkfifo %s", c.fifo);
		goto out;
	}
	int flags = 0, pidns_fd = -1;
	json_t *ns;
	size_t i;
	json_array_foreach(json_object_get(lx, "namespaces"), i, ns)
	{
		int f = ns_flag(json_string_value(json_object_get(ns, "type")));
		const char *path = json_string_value(json_object_get(ns, "path"));
		if (!path) {
			if (f != CLONE_NEWCGROUP) /* unshared later, inside the cgroup */
				flags |= f;
			continue;
		}
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			berth_error_set(err, errno, "namespace %s", path);
			goto out;
		}
		if (f == CLONE_NEWPID) {
			pidns_fd = fd;
		} else if (c.nns < ARRAY_SIZE(c.ns_fds)) {
			c.ns_fds[c.nns] = fd;
			c.ns_types[c.nns++] = f;
		}
	}
	/* a pid namespace is joined by the parent: it applies to the children it makes */
	if (pidns_fd >= 0 && setns(pidns_fd, CLONE_NEWPID) < 0) {
		berth_error_set(err, errno, "join pid namespace");
		close(pidns_fd);
		goto out;
	}
	if (pidns_fd >= 0)
		close(pidns_fd);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		berth_error_set(err, errno, "socketpair");
		goto out;
	}
	/* one plan of the cgroups: the parent makes them, the init mounts them (v1) */
	const char *cgpath = json_string_value(json_object_get(lx, "cgroupsPath"));
	cgp = cgpath ? (cgpath[0] == '/' ? xstrdup(cgpath) : xasprintf("/%s", cgpath))
		     : xasprintf("/berth/%s", id);
	c.cgroup = cgroup_plan(cgp);
	fflush(NULL);
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		berth_error_set(err, errno, "clone");
		close(sp[0]), close(sp[1]);
		goto out;
	}
	if (pid == 0) {
		close(sp[0]);
		c.sync = sp[1];
		init_main(&c);
	}
	close(sp[1]);
	cr->pid = pid;
	cr->sync = sp[0];
	for (size_t k = 0; k < c.nns; k++)
		close(c.ns_fds[k]);
	c.nns = 0;
	/* undo_create() kills the init first, then removes whatever cgroups were made */
	cr->cg = json_incref(c.cgroup);
	/* the init moves itself in, which is cheaper (cgroup_join_self()) */
	if (cgroup_create(c.cgroup, json_object_get(lx, "resources"), 0, err) < 0)
		goto out;
	char step = SYNC_CGROUP_READY;
	if (write(cr->sync, &step, 1) != 1) {
		berth_error_set(err, errno, "sync with the container");
		goto out;
	}
	char msg[4096];
	ssize_t n;
	while ((n = recv(cr->sync, msg, sizeof msg - 1, 0)) < 0 && errno == EINTR) {
	}
	if (n <= 0 || msg[0] != SYNC_READY) {
		if (n > 1 && msg[0] == SYNC_ERROR) {
			msg[n] = '\0';
			berth_error_msg(err, EINVAL, "%s", msg + 1);
		} else {
			berth_error_msg(err, EIO, "the container's init died while it was set up");
		}
		goto out;
	}
	json_t *ann = json_object_get(spec, "annotations");
	json_t *state = json_pack("{s:s,s:s,s:i,s:I,s:s,s:s,s:o,s:O,s:I}", "ociVersion", "1.0.2",
				  "id", id, "pid", (int)pid, "starttime",
				  (json_int_t)proc_starttime(pid, NULL), "bundle", bundle, "rootfs",
				  c.rootfs, "annotations", ann ? json_incref(ann) : json_object(),
				  "cgroup", cr->cg, "created", (json_int_t)time(NULL));
	text = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	sp_path = xasprintf("%s/state.json", cr->dir);
	if (write_file_atomic(sp_path, text, strlen(text), 0600, err) < 0)
		goto out;
	if (o->pid_file) {
		_cleanup_free_ char *v = xasprintf("%d", (int)pid);
		if (write_file_atomic(o->pid_file, v, strlen(v), 0644, err) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		berth_error_prefix(err, "container %s", id);
	if (rc < 0 && cr->pid) {
		if (cr->sync >= 0)
			close(cr->sync);
		cr->sync = -1;
		undo_create(cr);
		json_decref(cr->cg);
		cr->cg = NULL;
		free(cr->dir);
		cr->dir = NULL;
	} else if (rc < 0 && cr->dir) {
		rm_rf(cr->dir, NULL);
		free(cr->dir);
		cr->dir = NULL;
	}
	for (size_t k = 0; k < c.nns; k++)
		close(c.ns_fds[k]);
	json_decref(c.cgroup);
	free(c.rootfs);
	free(c.fifo);
	free(c.bpf.filter);
	json_decref(spec);
	return rc;
}

int engine_runtime_create(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	created cr;
	if (do_create(id, o, &cr, err) < 0)
		return -1;
	close(cr.sync);
	json_decref(cr.cg);
	free(cr.dir);
	return 0;
}

/* Opens exec.fifo for reading: the blocked init's open completes, it writes, it goes on. */
static int release(const char *dir, pid_t pid, berth_error *err)
{
	_cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
	_cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", fifo);
	for (int i = 0; i < 20000; i++) {
		char b;
		ssize_t n = read(fd, &b, 1);
		if (n == 1) {
			unlink(fifo);
			return 0;
		}
		if (kill(pid, 0) < 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, 1);
	}
	return berth_error_msg(err, EIO, "the container's init is not waiting to start");
}

int engine_runtime_start(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	_cleanup_free_ char *dir = NULL;
	json_t *st = read_state(id, o, &dir, err);
	if (!st)
		return -1;
	const char *status = json_string_value(json_object_get(st, "status"));
	int rc = 0;
	if (strcmp(status, "created"))
		rc =
		    berth_error_msg(err, EINVAL, "container \"%s\" is %s, not created", id, status);
	else
		rc = release(dir, (pid_t)json_integer_value(json_object_get(st, "pid")), err);
	json_decref(st);
	return rc;
}

json_t *engine_runtime_state(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	json_t *st = read_state(id, o, NULL, err);
	if (!st)
		return NULL;
	json_t *out =
	    json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}", "ociVersion", json_object_get(st, "ociVersion"),
		      "id", json_object_get(st, "id"), "status", json_object_get(st, "status"),
		      "pid", json_object_get(st, "pid"), "bundle", json_object_get(st, "bundle"),
		      "annotations", json_object_get(st, "annotations"));
	if (!strcmp(json_string_value(json_object_get(st, "status")), "stopped"))
		json_object_set_new(out, "pid", json_integer(0));
	json_decref(st);
	return out;
}

int engine_runtime_kill(const char *id, int sig, bool all, const engine_runtime_opts *o,
			berth_error *err)
{
	json_t *st = read_state(id, o, NULL, err);
	if (!st)
		return -1;
	int rc = 0;
	if (!strcmp(json_string_value(json_object_get(st, "status")), "stopped")) {
		rc = berth_error_msg(err, ESRCH, "container \"%s\" is not running", id);
	} else if (all) {
		json_t *pids = cgroup_pids(json_object_get(st, "cgroup")), *p;
		size_t i;
		json_array_foreach(pids, i, p) kill((pid_t)json_integer_value(p), sig);
		json_decref(pids);
	} else if (kill((pid_t)json_integer_value(json_object_get(st, "pid")), sig) < 0) {
		rc = berth_error_set(err, errno, "kill container \"%s\"", id);
	}
	json_decref(st);
	return rc;
}

static void wait_gone(pid_t pid, long long starttime)
{
	for (int i = 0; i < 5000; i++) {
		char s = 0;
		long long t = proc_starttime(pid, &s);
		if (t != starttime || s == 'Z' || s == 'X')
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

int engine_runtime_delete(const char *id, bool force, const engine_runtime_opts *o,
			  berth_error *err)
{
	_cleanup_free_ char *dir = NULL;
	berth_error e2 = BERTH_ERROR_INIT;
	json_t *st = read_state(id, o, &dir, &e2);
	if (!st) {
		/* the debris of a create that crashed: remove it */
		_cleanup_free_ char *d = valid_id(id, NULL) == 0 ? state_dir(id, o) : NULL;
		if (d && path_exists(d) && e2.code == ENOENT && strstr(e2.msg, "incomplete")) {
			berth_error_clear(&e2);
			return rm_rf(d, err);
		}
		*err = e2;
		return -1;
	}
	const char *status = json_string_value(json_object_get(st, "status"));
	pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	if (!strcmp(status, "running") && !force) {
		json_decref(st);
		return berth_error_msg(
		    err, EBUSY,
		    "cannot delete container \"%s\" that is not stopped: running "
		    "(use --force)",
		    id);
	}
	if (strcmp(status, "stopped")) {
		kill(pid, SIGKILL);
		wait_gone(pid, json_integer_value(json_object_get(st, "starttime")));
	}
	int rc = cgroup_destroy(json_object_get(st, "cgroup"), SIGKILL, err);
	if (!rc)
		rc = rm_rf(dir, err);
	json_decref(st);
	return rc;
}

int engine_runtime_run(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	created cr;
	if (do_create(id, o, &cr, err) < 0)
		return -1;
	int status = -1;
	if (release(cr.dir, cr.pid, err) == 0) {
		/* the sync socket closes on a successful exec; an error arrives otherwise */
		char msg[4096];
		ssize_t n;
		while ((n = recv(cr.sync, msg, sizeof msg - 1, 0)) < 0 && errno == EINTR) {
		}
		if (n > 1 && msg[0] == SYNC_ERROR) {
			msg[n] = '\0';
			berth_error_msg(err, EINVAL, "container %s: %s", id, msg + 1);
		}
		int ws;
		while (waitpid(cr.pid, &ws, 0) < 0 && errno == EINTR) {
		}
		if (n <= 1 || msg[0] != SYNC_ERROR)
			status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL && cgroup_oom_kills(cr.cg) > 0)
			fprintf(stderr, "berth: container %s was killed: out of memory (OOM)\n",
				id);
		cr.pid = 0;
	}
	close(cr.sync);
	cr.sync = -1;
	berth_error e2 = BERTH_ERROR_INIT;
	if (cr.pid > 0) {
		kill(cr.pid, SIGKILL);
		waitpid(cr.pid, NULL, 0);
	}
	if (cgroup_destroy(cr.cg, SIGKILL, &e2) < 0 || rm_rf(cr.dir, &e2) < 0) {
		if (status >= 0)
			fprintf(stderr, "berth: %s\n", e2.msg);
	}
	berth_error_clear(&e2);
	json_decref(cr.cg);
	free(cr.dir);
	return status;
}

json_t *engine_runtime_list(const engine_runtime_opts *o, berth_error *err)
{
	json_t *out = json_array();
	DIR *d = opendir(state_root(o));
	if (!d)
		return out;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		json_t *st = read_state(de->d_name, o, NULL, NULL);
		if (st)
			json_array_append_new(out, st);
	}
	closedir(d);
	return out;
}

/* ---- exec, pause, and what berthd reads of a running container ---- */

static json_t *running_state(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	json_t *st = read_state(id, o, NULL, err);
	if (st && strcmp(json_string_value(json_object_get(st, "status")), "running") &&
	    strcmp(json_string_value(json_object_get(st, "status")), "paused")) {
		berth_error_msg(err, EINVAL, "container %s is not running", id);
		json_decref(st);
		return NULL;
	}
	return st;
}

static void __attribute__((noreturn)) exec_main(ctx *c, json_t *proc, json_t *cg, int nsfd[],
						const int nstype[], size_t nns, const int stdio[3])
{
	/* stdio at 0-2, the sync socket and namespaces above: nothing else of the caller's stays
	 * open here (this process never execs, so CLOEXEC would not close the caller's pipes) */
	int keep[12], nk = 0;
	for (int k = 0; k < 3; k++) {
		int fd = fcntl(stdio[k], F_DUPFD_CLOEXEC, 100);
		if (fd < 0)
			die(c, "stdio: %s", strerror(errno));
		keep[nk++] = fd;
	}
	for (int k = 0; k < 3; k++)
		if (dup2(keep[k], k) < 0)
			die(c, "stdio: %s", strerror(errno));
	keep[nk++] = c->sync;
	if (c->console >= 0)
		keep[nk++] = c->console;
	for (size_t i = 0; i < nns; i++)
		keep[nk++] = nsfd[i];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd = d ? dirfd(d) : -1;
	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = fd < 3 || fd == dfd || !isdigit((unsigned char)de->d_name[0]);
		for (int k = 3; k < nk && !kept; k++)
			kept = fd == keep[k];
		if (!kept)
			close(fd);
	}
	if (d)
		closedir(d);
	berth_error e = BERTH_ERROR_INIT;
	if (cgroup_join_self(cg, &e) < 0) /* this process has one thread: it was forked */
		die(c, "join the container's cgroup: %s", e.msg);
	for (size_t i = 0; i < nns; i++)
		if (setns(nsfd[i], nstype[i]) < 0)
			die(c, "join namespace: %s", strerror(errno));
	/* the pid namespace applies to children: the process is a child of this one */
	pid_t pid = fork();
	if (pid < 0)
		die(c, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* nothing of the caller's signal handling (berthd ignores SIGPIPE) reaches the
		 * process */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (c->console >= 0 && json_is_true(json_object_get(proc, "terminal"))) {
			/* in the container's mount namespace: its own devpts, as for the init */
			int slave =
			    send_terminal(c, open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
			for (int fd = 0; fd < 3; fd++)
				if (dup2(slave, fd) < 0)
					die(c, "terminal as stdio: %s", strerror(errno));
			if (slave > 2)
				close(slave);
		}
		if (setsid() < 0)
			die(c, "setsid: %s", strerror(errno));
		if (json_is_true(json_object_get(proc, "terminal")) && ioctl(0, TIOCSCTTY, 0) < 0)
			die(c, "controlling terminal: %s", strerror(errno));
		const char *cwd = json_string_value(json_object_get(proc, "cwd"));
		if (chdir(cwd && *cwd ? cwd : "/") < 0)
			die(c, "chdir to %s: %s", cwd, strerror(errno));
		set_rlimits(c);
		char **args = str_array(json_object_get(proc, "args"));
		char **env = str_array(json_object_get(proc, "env"));
		char *exe = find_exec(c, args[0], env);
		drop_privileges(c, proc);
		syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
		execve(exe, args, env);
		die(c, "exec %s: %s", args[0], strerror(errno));
	}
	close(c->sync);
	if (c->console >= 0)
		close(c->console);
	/* signals for the process reach it through this one, which waits for it */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		siginfo_t si;
		struct timespec ts = {0, 50000000};
		int sig = sigtimedwait(&all, &si, &ts);
		if (sig > 0 && sig != SIGCHLD)
			kill(pid, sig);
		int ws;
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid)
			_exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
	}
}

pid_t engine_runtime_exec(const char *id, json_t *process, const int stdio[3],
			  const engine_runtime_opts *o, berth_error *err)
{
	json_t *st = running_state(id, o, err);
	if (!st)
		return -1;
	pid_t rc = -1;
	json_t *spec = load_spec(json_string_value(json_object_get(st, "bundle")), true, err);
	pid_t init = (pid_t)json_integer_value(json_object_get(st, "pid"));
	ctx c = {.spec = spec, .sync = -1, .console = o->has_console ? o->console_fd : -1};
	json_t *proc = NULL;
	int nsfd[6], nstype[6];
	size_t nns = 0;
	int sp[2] = {-1, -1};
	if (!spec)
		goto out;
	proc = json_deep_copy(json_object_get(spec, "process"));
	json_object_update(proc, process);
	json_object_set(spec, "process", proc);
	json_t *sc = json_object_get(json_object_get(spec, "linux"), "seccomp");
	if (sc) {
		_cleanup_free_ char *cache = xasprintf("%s/cache/seccomp", berth_root());
		if (engine_seccomp_compile(sc, cache, &c.bpf, err) < 0)
			goto out;
		c.has_seccomp = true;
	}
	static const struct {
		const char *name;
		int type;
	} order[] = {{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
		     {"net", CLONE_NEWNET},	  {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		_cleanup_free_ char *theirs = xasprintf("/proc/%d/ns/%s", (int)init, order[i].name);
		_cleanup_free_ char *ours = xasprintf("/proc/self/ns/%s", order[i].name);
		struct stat a, b;
		if (stat(theirs, &a) < 0) {
			berth_error_set(err, errno, "container %s: %s", id, theirs);
			goto out;
		}
		if (stat(ours, &b) == 0 && a.st_ino == b.st_ino)
			continue; /* shared with the host (--network host): nothing to join */
		nsfd[nns] = open(theirs, O_RDONLY | O_CLOEXEC);
		if (nsfd[nns] < 0) {
			berth_error_set(err, errno, "container %s: %s", id, theirs);
			goto out;
		}
		nstype[nns++] = order[i].type;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		berth_error_set(err, errno, "socketpair");
		goto out;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		berth_error_set(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		close(sp[0]);
		c.sync = sp[1];
		exec_main(&c, proc, json_object_get(st, "cgroup"), nsfd, nstype, nns, stdio);
	}
	close(sp[1]);
	sp[1] = -1;
	/* bounded: a process that cannot get going (a frozen cgroup) must not hold the caller */
	struct timeval tv = {10, 0};
	setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char msg[4096];
	ssize_t n;
	while ((n = recv(sp[0], msg, sizeof msg - 1, 0)) < 0 && errno == EINTR) {
	}
	if (n < 0) {
		berth_error_set(err, errno, "container %s: the process did not start", id);
		kill(pid, SIGKILL);
		goto out; /* reaped by the caller's SIGCHLD handling, or init */
	}
	if (n > 1 && msg[0] == SYNC_ERROR) {
		msg[n] = '\0';
		/* the process never ran: 126 as Docker, 127 when there is nothing to exec */
		berth_error_msg(err,
				strstr(msg + 1, "not found") || strstr(msg + 1, "No such file")
				    ? ENOENT
				    : EACCES,
				"%s", msg + 1);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
		goto out;
	}
	rc = pid;
out:
	for (size_t i = 0; i < nns; i++)
		close(nsfd[i]);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	free(c.bpf.filter);
	json_decref(proc);
	json_decref(spec);
	json_decref(st);
	return rc;
}

int engine_runtime_pause(const char *id, bool paused, const engine_runtime_opts *o,
			 berth_error *err)
{
	json_t *st = running_state(id, o, err);
	if (!st)
		return -1;
	int rc = cgroup_freeze(json_object_get(st, "cgroup"), paused, err);
	json_decref(st);
	return rc;
}

json_t *engine_runtime_stats(const char *id, const engine_runtime_opts *o, berth_error *err)
{
	json_t *st = read_state(id, o, NULL, err);
	if (!st)
		return NULL;
	json_t *out = cgroup_stats(json_object_get(st, "cgroup"));
	json_object_set_new(out, "pid_list", cgroup_pids(json_object_get(st, "cgroup")));
	json_object_set_new(out, "oom_kills",
			    json_integer(cgroup_oom_kills(json_object_get(st, "cgroup"))));
	json_decref(st);
	return out;
}
