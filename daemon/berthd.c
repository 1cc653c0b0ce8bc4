/*
 * berthd: the daemon.  One libev loop serves the API on a UNIX socket and
 * supervises the containers through their monitors.  Stopping berthd
 * (SIGTERM, or a crash) leaves the containers running: their monitors hold
 * them, and the next berthd reattaches.
 */
#include "daemon.h"
#include "../common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/*
 * What lives only while the containers run (the monitors' directories, the runtime's state)
 * belongs on a tmpfs, as /run is on most machines.  Where dir is not on one, berthd mounts
 * one there if dir is empty (a directory an older berthd used stays as it is).  On this
 * project's VMs /run is on ext4 without a journal, where each new file costs a scan of the
 * recently deleted ones and each deleted one a discard: these files were a third of the cost
 * of a start.  The mount outlives berthd, as the containers do.
 */
static void volatile_dir(const char *dir)
{
	berth_error err = BERTH_ERROR_INIT;
	struct statfs sf;
	if (mkdir_p(dir, 0700, &err) < 0 || statfs(dir, &sf) < 0) {
		berth_error_clear(&err);
		return;
	}
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC)
		return;
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = d != NULL;
	while (d && empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	if (empty &&
	    mount("berth", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		fprintf(stderr, "berthd: a tmpfs on %s: %s (staying on disk)\n", dir,
			strerror(errno));
}

static void usage(FILE *f)
{
	fputs("Usage: berthd [--root DIR] [--run DIR]\n"
	      "\n"
	      "The berth daemon: serves the API on RUN/berthd.sock and supervises containers.\n"
	      "  --root DIR  state that persists (default $BERTH_ROOT or /var/lib/berth)\n"
	      "  --run DIR   runtime state: sockets, monitors (default $BERTH_RUN or /run/berth)\n",
	      f);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static char *beside_me(const char *env, const char *name)
{
	const char *v = getenv(env);
	if (v && *v)
		return xstrdup(v);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return xstrdup(name);
	self[n] = '\0';
	return xasprintf("%s/%s", dirname(self), name);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			setenv("BERTH_ROOT", argv[++i], 1);
		} else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
			setenv("BERTH_RUN", argv[++i], 1);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("berthd version %s\n", BERTH_DAEMON_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	berth_error err = BERTH_ERROR_INIT;
	D.root = xstrdup(berth_root());
	D.run = xstrdup(berth_run());
	D.containers_dir = xasprintf("%s/containers", D.root);
	D.volumes_dir = xasprintf("%s/volumes", D.root);
	D.run_containers = xasprintf("%s/containers", D.run);
	D.runtime_root = xasprintf("%s/runtime", D.run);
	D.monitor_bin = beside_me("BERTH_MONITOR", "berth-monitor");
	D.runtime_bin = beside_me("BERTH_RUNTIME", "berth-runtime");
	const char *to = getenv("BERTHD_REQUEST_TIMEOUT");
	if (to && atof(to) > 0)
		http_request_timeout = atof(to);
	if (mkdir_p(D.run, 0711, &err) < 0 || mkdir_p(D.root, 0711, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.msg);
		return 1;
	}
	_cleanup_free_ char *lock = xasprintf("%s/berthd.lock", D.run);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "berthd: another berthd runs with %s\n", D.run);
		return 1;
	}
	volatile_dir(D.run_containers);
	volatile_dir(D.runtime_root);
	signal(SIGPIPE, SIG_IGN);
	D.loop = ev_default_loop(EVFLAG_AUTO);
	D.started = ev_now(D.loop);
	if (networks_load(&err) < 0 || containers_load(&err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.msg);
		return 1;
	}
	networks_reconcile();
	/* the pid file before the socket: whoever reaches berthd finds its pid */
	_cleanup_free_ char *pidf = xasprintf("%s/berthd.pid", D.run);
	_cleanup_free_ char *pid = xasprintf("%d\n", (int)getpid());
	write_file_atomic(pidf, pid, strlen(pid), 0644, NULL);
	_cleanup_free_ char *sock = xasprintf("%s/berthd.sock", D.run);
	if (http_listen(D.loop, sock, api_handle, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.msg);
		return 1;
	}
	containers_autostart();
	ev_signal sterm, sint;
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(D.loop, &sterm);
	ev_signal_start(D.loop, &sint);
	ev_run(D.loop, 0);
	/* the containers stay up with their monitors; only the door closes */
	unlink(sock);
	unlink(pidf);
	return 0;
}
