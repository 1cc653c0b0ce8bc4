/*
 * berth-probe: a static helper that integration tests run inside containers
 * to assert what busybox cannot show (as crun's tests/init.c does).
 *   berth-probe syscall unshare|keyctl|mount|ptrace|clone3   -> prints "ok" or the errno name
 *   berth-probe alloc MIB            touches MIB mebibytes, then prints "allocated"
 *   berth-probe fork N               forks N children that sleep; prints how many started
 *   berth-probe ids                  prints "uid gid groups..."
 */
#define _GNU_SOURCE /* unshare, CLONE_* */
#include <errno.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(long r)
{
	if (r >= 0 || errno == 0)
		puts("ok");
	else
		printf("%s\n", errno == EPERM	 ? "EPERM"
			       : errno == ENOSYS ? "ENOSYS"
						 : strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "syscall")) {
		const char *s = argv[2];
		errno = 0;
		if (!strcmp(s, "unshare"))
			return report(unshare(CLONE_NEWUTS));
		if (!strcmp(s, "keyctl"))
			return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, -1, 0));
		if (!strcmp(s, "mount"))
			return report(mount("none", "/tmp", "tmpfs", 0, NULL));
		if (!strcmp(s, "ptrace"))
			return report(ptrace(PTRACE_TRACEME, 0, 0, 0));
		if (!strcmp(s, "clone3"))
			return report(syscall(SYS_clone3, NULL, 0));
		if (!strcmp(s, "getpid"))
			return report(getpid());
		fprintf(stderr, "unknown syscall %s\n", s);
		return 2;
	}
	if (argc >= 3 && !strcmp(argv[1], "alloc")) {
		long mib = atol(argv[2]);
		for (long i = 0; i < mib; i++) {
			char *p = malloc(1 << 20);
			if (!p) {
				puts("malloc failed");
				return 1;
			}
			memset(p, 1, 1 << 20);
		}
		puts("allocated");
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "fork")) {
		int n = atoi(argv[2]), started = 0;
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				pause();
				_exit(0);
			}
			if (p < 0)
				break;
			started++;
		}
		printf("%d\n", started);
		fflush(stdout);
		kill(0, SIGKILL);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "ids")) {
		gid_t g[64];
		int n = getgroups(64, g);
		printf("%d %d", (int)getuid(), (int)getgid());
		for (int i = 0; i < n; i++)
			printf(" %d", (int)g[i]);
		putchar('\n');
		return 0;
	}
	fprintf(stderr, "usage: berth-probe syscall NAME | alloc MIB | fork N | ids\n");
	return 2;
}
