/*
 * Docker's security defaults as data (moby daemon/pkg/oci/defaults.go,
 * caps/defaults.go and profiles/seccomp/default.json; see
 * ../shared/reference/runtime.md §1d).  tests/unit/test_engine.c holds these
 * tables against Docker's lists.
 */
#include "engine.h"

#include <ctype.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/utsname.h>

const char *const engine_default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",	   "CAP_AUDIT_WRITE"};
const size_t engine_default_caps_n = ARRAY_SIZE(engine_default_caps);

const char *const engine_masked_paths[] = {"/proc/acpi",
					   "/proc/asound",
					   "/proc/interrupts",
					   "/proc/kcore",
					   "/proc/keys",
					   "/proc/latency_stats",
					   "/proc/sched_debug",
					   "/proc/scsi",
					   "/proc/timer_list",
					   "/proc/timer_stats",
					   "/sys/devices/virtual/powercap",
					   "/sys/firmware"};
const size_t engine_masked_paths_n = ARRAY_SIZE(engine_masked_paths);

const char *const engine_readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					     "/proc/sysrq-trigger"};
const size_t engine_readonly_paths_n = ARRAY_SIZE(engine_readonly_paths);

int engine_cap_from_name(const char *name)
{
	char low[64];
	const char *n = name;
	if (strlen(n) >= sizeof low - 4)
		return -1;
	if (strncasecmp(n, "CAP_", 4))
		snprintf(low, sizeof low, "cap_%s", n);
	else
		snprintf(low, sizeof low, "%s", n);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	cap_value_t v;
	if (cap_from_name(low, &v) < 0 || v > engine_cap_last())
		return -1;
	/* libcap also takes numbers; a name is what a spec holds */
	if (isdigit((unsigned char)low[4]))
		return -1;
	return v;
}

const char *engine_cap_name(int cap)
{
	static char buf[64];
	char *n = cap_to_name(cap);
	snprintf(buf, sizeof buf, "%s", n ? n : "?");
	cap_free(n);
	for (char *p = buf; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return buf;
}

int engine_cap_last(void)
{
	static int last = -1;
	if (last < 0) {
		last = CAP_LAST_CAP;
		FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
		if (f) {
			if (fscanf(f, "%d", &last) != 1)
				last = CAP_LAST_CAP;
			fclose(f);
		}
		if (last > CAP_LAST_CAP)
			last = CAP_LAST_CAP; /* names libcap does not know cannot be written */
	}
	return last;
}

/* ---- the default seccomp profile ---- */

static const char *const allowed[] = {"accept",
				      "accept4",
				      "access",
				      "adjtimex",
				      "alarm",
				      "bind",
				      "brk",
				      "capget",
				      "capset",
				      "chdir",
				      "chmod",
				      "chown",
				      "chown32",
				      "clock_adjtime",
				      "clock_adjtime64",
				      "clock_getres",
				      "clock_getres_time64",
				      "clock_gettime",
				      "clock_gettime64",
				      "clock_nanosleep",
				      "clock_nanosleep_time64",
				      "close",
				      "close_range",
				      "connect",
				      "copy_file_range",
				      "creat",
				      "dup",
				      "dup2",
				      "dup3",
				      "epoll_create",
				      "epoll_create1",
				      "epoll_ctl",
				      "epoll_ctl_old",
				      "epoll_pwait",
				      "epoll_pwait2",
				      "epoll_wait",
				      "epoll_wait_old",
				      "eventfd",
				      "eventfd2",
				      "execve",
				      "execveat",
				      "exit",
				      "exit_group",
				      "faccessat",
				      "faccessat2",
				      "fadvise64",
				      "fadvise64_64",
				      "fallocate",
				      "fanotify_mark",
				      "fchdir",
				      "fchmod",
				      "fchmodat",
				      "fchown",
				      "fchown32",
				      "fchownat",
				      "fcntl",
				      "fcntl64",
				      "fdatasync",
				      "fgetxattr",
				      "flistxattr",
				      "flock",
				      "fork",
				      "fremovexattr",
				      "fsetxattr",
				      "fstat",
				      "fstat64",
				      "fstatat64",
				      "fstatfs",
				      "fstatfs64",
				      "fsync",
				      "ftruncate",
				      "ftruncate64",
				      "futex",
				      "futex_time64",
				      "futex_waitv",
				      "futimesat",
				      "getcpu",
				      "getcwd",
				      "getdents",
				      "getdents64",
				      "getegid",
				      "getegid32",
				      "geteuid",
				      "geteuid32",
				      "getgid",
				      "getgid32",
				      "getgroups",
				      "getgroups32",
				      "getitimer",
				      "getpeername",
				      "getpgid",
				      "getpgrp",
				      "getpid",
				      "getppid",
				      "getpriority",
				      "getrandom",
				      "getresgid",
				      "getresgid32",
				      "getresuid",
				      "getresuid32",
				      "getrlimit",
				      "get_robust_list",
				      "getrusage",
				      "getsid",
				      "getsockname",
				      "getsockopt",
				      "get_thread_area",
				      "gettid",
				      "gettimeofday",
				      "getuid",
				      "getuid32",
				      "getxattr",
				      "inotify_add_watch",
				      "inotify_init",
				      "inotify_init1",
				      "inotify_rm_watch",
				      "io_cancel",
				      "ioctl",
				      "io_destroy",
				      "io_getevents",
				      "io_pgetevents",
				      "io_pgetevents_time64",
				      "ioprio_get",
				      "ioprio_set",
				      "io_setup",
				      "io_submit",
				      "ipc",
				      "kill",
				      "landlock_add_rule",
				      "landlock_create_ruleset",
				      "landlock_restrict_self",
				      "lchown",
				      "lchown32",
				      "lgetxattr",
				      "link",
				      "linkat",
				      "listen",
				      "listxattr",
				      "llistxattr",
				      "_llseek",
				      "lremovexattr",
				      "lseek",
				      "lsetxattr",
				      "lstat",
				      "lstat64",
				      "madvise",
				      "membarrier",
				      "memfd_create",
				      "memfd_secret",
				      "mincore",
				      "mkdir",
				      "mkdirat",
				      "mknod",
				      "mknodat",
				      "mlock",
				      "mlock2",
				      "mlockall",
				      "mmap",
				      "mmap2",
				      "mprotect",
				      "mq_getsetattr",
				      "mq_notify",
				      "mq_open",
				      "mq_timedreceive",
				      "mq_timedreceive_time64",
				      "mq_timedsend",
				      "mq_timedsend_time64",
				      "mq_unlink",
				      "mremap",
				      "msgctl",
				      "msgget",
				      "msgrcv",
				      "msgsnd",
				      "msync",
				      "munlock",
				      "munlockall",
				      "munmap",
				      "name_to_handle_at",
				      "nanosleep",
				      "newfstatat",
				      "_newselect",
				      "open",
				      "openat",
				      "openat2",
				      "pause",
				      "pidfd_open",
				      "pidfd_send_signal",
				      "pipe",
				      "pipe2",
				      "pkey_alloc",
				      "pkey_free",
				      "pkey_mprotect",
				      "poll",
				      "ppoll",
				      "ppoll_time64",
				      "prctl",
				      "pread64",
				      "preadv",
				      "preadv2",
				      "prlimit64",
				      "process_mrelease",
				      "pselect6",
				      "pselect6_time64",
				      "pwrite64",
				      "pwritev",
				      "pwritev2",
				      "read",
				      "readahead",
				      "readlink",
				      "readlinkat",
				      "readv",
				      "recv",
				      "recvfrom",
				      "recvmmsg",
				      "recvmmsg_time64",
				      "recvmsg",
				      "remap_file_pages",
				      "removexattr",
				      "rename",
				      "renameat",
				      "renameat2",
				      "restart_syscall",
				      "rmdir",
				      "rseq",
				      "rt_sigaction",
				      "rt_sigpending",
				      "rt_sigprocmask",
				      "rt_sigqueueinfo",
				      "rt_sigreturn",
				      "rt_sigsuspend",
				      "rt_sigtimedwait",
				      "rt_sigtimedwait_time64",
				      "rt_tgsigqueueinfo",
				      "sched_getaffinity",
				      "sched_getattr",
				      "sched_getparam",
				      "sched_get_priority_max",
				      "sched_get_priority_min",
				      "sched_getscheduler",
				      "sched_rr_get_interval",
				      "sched_rr_get_interval_time64",
				      "sched_setaffinity",
				      "sched_setattr",
				      "sched_setparam",
				      "sched_setscheduler",
				      "sched_yield",
				      "seccomp",
				      "select",
				      "semctl",
				      "semget",
				      "semop",
				      "semtimedop",
				      "semtimedop_time64",
				      "send",
				      "sendfile",
				      "sendfile64",
				      "sendmmsg",
				      "sendmsg",
				      "sendto",
				      "setfsgid",
				      "setfsgid32",
				      "setfsuid",
				      "setfsuid32",
				      "setgid",
				      "setgid32",
				      "setgroups",
				      "setgroups32",
				      "setitimer",
				      "setpgid",
				      "setpriority",
				      "setregid",
				      "setregid32",
				      "setresgid",
				      "setresgid32",
				      "setresuid",
				      "setresuid32",
				      "setreuid",
				      "setreuid32",
				      "setrlimit",
				      "set_robust_list",
				      "setsid",
				      "setsockopt",
				      "set_thread_area",
				      "set_tid_address",
				      "setuid",
				      "setuid32",
				      "setxattr",
				      "shmat",
				      "shmctl",
				      "shmdt",
				      "shmget",
				      "shutdown",
				      "sigaltstack",
				      "signalfd",
				      "signalfd4",
				      "sigprocmask",
				      "sigreturn",
				      "socketcall",
				      "socketpair",
				      "splice",
				      "stat",
				      "stat64",
				      "statfs",
				      "statfs64",
				      "statx",
				      "symlink",
				      "symlinkat",
				      "sync",
				      "sync_file_range",
				      "syncfs",
				      "sysinfo",
				      "tee",
				      "tgkill",
				      "time",
				      "timer_create",
				      "timer_delete",
				      "timer_getoverrun",
				      "timer_gettime",
				      "timer_gettime64",
				      "timer_settime",
				      "timer_settime64",
				      "timerfd_create",
				      "timerfd_gettime",
				      "timerfd_gettime64",
				      "timerfd_settime",
				      "timerfd_settime64",
				      "times",
				      "tkill",
				      "truncate",
				      "truncate64",
				      "ugetrlimit",
				      "umask",
				      "uname",
				      "unlink",
				      "unlinkat",
				      "utime",
				      "utimensat",
				      "utimensat_time64",
				      "utimes",
				      "vfork",
				      "vmsplice",
				      "wait4",
				      "waitid",
				      "waitpid",
				      "write",
				      "writev",
				      NULL};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct {
	const char *const *names;
	const char *action; /* NULL: SCMP_ACT_ALLOW */
	int errno_ret;
	/* one argument condition (index, value, op), op NULL for none */
	unsigned idx;
	unsigned long long value;
	const char *op;
	const char *min_kernel;
	const char *const *arches;	   /* includes.arches */
	const char *const *caps;	   /* includes.caps */
	const char *const *exclude_caps;   /* excludes.caps */
	const char *const *exclude_arches; /* excludes.arches */
} rule;

static const rule rules[] = {
    {.names = allowed},
    {.names = L("process_vm_readv", "process_vm_writev", "ptrace"), .min_kernel = "4.8"},
    /* AF_ALG (38) and AF_VSOCK (40) are refused: family < 38, == 39 or > 40 */
    {.names = L("socket"), .idx = 0, .value = 38, .op = "SCMP_CMP_LT"},
    {.names = L("socket"), .idx = 0, .value = 39, .op = "SCMP_CMP_EQ"},
    {.names = L("socket"), .idx = 0, .value = 40, .op = "SCMP_CMP_GT"},
    {.names = L("personality"), .idx = 0, .value = 0x0, .op = "SCMP_CMP_EQ"},
    {.names = L("personality"), .idx = 0, .value = 0x8, .op = "SCMP_CMP_EQ"},
    {.names = L("personality"), .idx = 0, .value = 0x20000, .op = "SCMP_CMP_EQ"},
    {.names = L("personality"), .idx = 0, .value = 0x20008, .op = "SCMP_CMP_EQ"},
    {.names = L("personality"), .idx = 0, .value = 0xffffffff, .op = "SCMP_CMP_EQ"},
    {.names = L("sync_file_range2", "swapcontext"), .arches = L("ppc64le")},
    {.names = L("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
		"cacheflush", "set_tls"),
     .arches = L("arm", "arm64")},
    {.names = L("arch_prctl"), .arches = L("amd64", "x32")},
    {.names = L("modify_ldt"), .arches = L("amd64", "x32", "x86")},
    {.names = L("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
     .arches = L("s390", "s390x")},
    {.names = L("riscv_flush_icache"), .arches = L("riscv64")},
    {.names = L("open_by_handle_at"), .caps = L("CAP_DAC_READ_SEARCH")},
    {.names = L("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
		"setns", "syslog", "umount", "umount2", "unshare"),
     .caps = L("CAP_SYS_ADMIN")},
    {.names = L("clone"),
     .idx = 0,
     .value = 0x7E020000,
     .op = "SCMP_CMP_MASKED_EQ",
     .exclude_caps = L("CAP_SYS_ADMIN"),
     .exclude_arches = L("s390", "s390x")},
    {.names = L("clone"),
     .idx = 1,
     .value = 0x7E020000,
     .op = "SCMP_CMP_MASKED_EQ",
     .arches = L("s390", "s390x"),
     .exclude_caps = L("CAP_SYS_ADMIN")},
    /* ENOSYS, so that libc falls back to clone, whose flags the rule above checks */
    {.names = L("clone3"),
     .action = "SCMP_ACT_ERRNO",
     .errno_ret = 38,
     .exclude_caps = L("CAP_SYS_ADMIN")},
    {.names = L("reboot"), .caps = L("CAP_SYS_BOOT")},
    {.names = L("chroot"), .caps = L("CAP_SYS_CHROOT")},
    {.names = L("delete_module", "init_module", "finit_module"), .caps = L("CAP_SYS_MODULE")},
    {.names = L("acct"), .caps = L("CAP_SYS_PACCT")},
    {.names = L("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
		"ptrace"),
     .caps = L("CAP_SYS_PTRACE")},
    {.names = L("iopl", "ioperm"), .caps = L("CAP_SYS_RAWIO")},
    {.names = L("settimeofday", "stime", "clock_settime", "clock_settime64"),
     .caps = L("CAP_SYS_TIME")},
    {.names = L("vhangup"), .caps = L("CAP_SYS_TTY_CONFIG")},
    {.names = L("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
     .caps = L("CAP_SYS_NICE")},
    {.names = L("syslog"), .caps = L("CAP_SYSLOG")},
    {.names = L("bpf"), .caps = L("CAP_BPF")},
    {.names = L("perf_event_open"), .caps = L("CAP_PERFMON")},
};

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static bool any_cap(const char *const *want, const char *const *caps, size_t n)
{
	for (; want && *want; want++)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(*want, caps[i]))
				return true;
	return false;
}

static bool kernel_at_least(const char *v)
{
	struct utsname u;
	int maj, min, wmaj, wmin;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2 ||
	    sscanf(v, "%d.%d", &wmaj, &wmin) != 2)
		return true;
	return maj > wmaj || (maj == wmaj && min >= wmin);
}

static const char *go_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

json_t *engine_seccomp_default(const char *const *caps, size_t ncaps)
{
	json_t *sys = json_array();
	const char *arch = go_arch();
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		const rule *r = &rules[i];
		if (r->arches && !in_list(r->arches, arch))
			continue;
		if (r->exclude_arches && in_list(r->exclude_arches, arch))
			continue;
		if (r->caps && !any_cap(r->caps, caps, ncaps))
			continue;
		if (r->exclude_caps && any_cap(r->exclude_caps, caps, ncaps))
			continue;
		if (r->min_kernel && !kernel_at_least(r->min_kernel))
			continue;
		json_t *names = json_array();
		for (const char *const *n = r->names; *n; n++)
			json_array_append_new(names, json_string(*n));
		json_t *o = json_pack("{s:o,s:s}", "names", names, "action",
				      r->action ? r->action : "SCMP_ACT_ALLOW");
		if (r->errno_ret)
			json_object_set_new(o, "errnoRet", json_integer(r->errno_ret));
		if (r->op)
			json_object_set_new(o, "args",
					    json_pack("[{s:I,s:I,s:I,s:s}]", "index",
						      (json_int_t)r->idx, "value",
						      (json_int_t)r->value, "valueTwo",
						      (json_int_t)0, "op", r->op));
		json_array_append_new(sys, o);
	}
	json_t *arches = json_array();
#if defined(__x86_64__)
	json_array_append_new(arches, json_string("SCMP_ARCH_X86_64"));
	json_array_append_new(arches, json_string("SCMP_ARCH_X86"));
	json_array_append_new(arches, json_string("SCMP_ARCH_X32"));
#elif defined(__aarch64__)
	json_array_append_new(arches, json_string("SCMP_ARCH_AARCH64"));
	json_array_append_new(arches, json_string("SCMP_ARCH_ARM"));
#endif
	return json_pack("{s:s,s:i,s:o,s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet",
			 1, "architectures", arches, "syscalls", sys);
}
