/*
 * cgroups v2 and v1 for the runtime.  On v1 each controller has its own
 * hierarchy and the container gets a directory in each; on v2 it gets one
 * directory whose controllers its parents enable.  Limits are written
 * before the container's init is moved in, so it never runs unlimited.
 */
#include "cgroup.h"
#include "../common/fsutil.h"

#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#define CG_ROOT "/sys/fs/cgroup"

bool cgroup_is_v2(void)
{
	static int v2 = -1; /* the layout does not change while berth runs */
	if (v2 < 0) {
		struct statfs s;
		v2 = statfs(CG_ROOT, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
	}
	return v2;
}

const char *const cgroup_v1_controllers[] = {"memory",	"cpu",	 "cpuset",  "pids",   "devices",
					     "freezer", "blkio", "cpuacct", "systemd"};
const size_t cgroup_v1_controllers_n = ARRAY_SIZE(cgroup_v1_controllers);

static int write_knob(const char *dir, const char *knob, const char *val, berth_error *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, knob);
	if (write_file_str(p, val, err) < 0)
		return berth_error_prefix(err, "cgroup");
	return 0;
}

static bool has(json_t *o, const char *k)
{
	return json_is_integer(json_object_get(o, k));
}

static char *num(json_t *o, const char *k)
{
	return xasprintf("%lld", (long long)json_integer_value(json_object_get(o, k)));
}

/* cpuset.cpus and cpuset.mems start empty on v1: copy them down from the parent. */
static void cpuset_inherit(const char *dir)
{
	for (int i = 0; i < 2; i++) {
		const char *k = i ? "cpuset.mems" : "cpuset.cpus";
		_cleanup_free_ char *mine = xasprintf("%s/%s", dir, k);
		_cleanup_free_ char *cur = read_file(mine, NULL, NULL);
		if (cur && *cur && *cur != '\n')
			continue;
		_cleanup_free_ char *pdir = xstrdup(dir);
		*strrchr(pdir, '/') = '\0';
		cpuset_inherit(pdir);
		_cleanup_free_ char *pp = xasprintf("%s/%s", pdir, k);
		_cleanup_free_ char *v = read_file(pp, NULL, NULL);
		if (v)
			write_file_str(mine, v, NULL);
	}
}

static int apply_v1(const char *ctrl, const char *dir, json_t *res, berth_error *err)
{
	json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu");
	json_t *pids = json_object_get(res, "pids");
	if (!strcmp(ctrl, "memory")) {
		if (has(mem, "limit")) {
			_cleanup_free_ char *v = num(mem, "limit");
			if (write_knob(dir, "memory.limit_in_bytes", v, err) < 0)
				return -1;
		}
		if (has(mem, "swap")) {
			_cleanup_free_ char *v = num(mem, "swap");
			_cleanup_free_ char *p = xasprintf("%s/memory.memsw.limit_in_bytes", dir);
			if (path_exists(p) &&
			    write_knob(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
				return -1;
		}
		if (has(mem, "reservation")) {
			_cleanup_free_ char *v = num(mem, "reservation");
			if (write_knob(dir, "memory.soft_limit_in_bytes", v, err) < 0)
				return -1;
		}
	} else if (!strcmp(ctrl, "cpu")) {
		static const char *const k[][2] = {{"shares", "cpu.shares"},
						   {"period", "cpu.cfs_period_us"},
						   {"quota", "cpu.cfs_quota_us"}};
		for (size_t i = 0; i < ARRAY_SIZE(k); i++)
			if (has(cpu, k[i][0])) {
				_cleanup_free_ char *v = num(cpu, k[i][0]);
				if (write_knob(dir, k[i][1], v, err) < 0)
					return -1;
			}
	} else if (!strcmp(ctrl, "cpuset")) {
		cpuset_inherit(dir);
		const char *c = json_string_value(json_object_get(cpu, "cpus"));
		const char *m = json_string_value(json_object_get(cpu, "mems"));
		if ((c && *c && write_knob(dir, "cpuset.cpus", c, err) < 0) ||
		    (m && *m && write_knob(dir, "cpuset.mems", m, err) < 0))
			return -1;
	} else if (!strcmp(ctrl, "pids")) {
		if (has(pids, "limit")) {
			long long l = json_integer_value(json_object_get(pids, "limit"));
			_cleanup_free_ char *v = l > 0 ? xasprintf("%lld", l) : xstrdup("max");
			if (write_knob(dir, "pids.max", v, err) < 0)
				return -1;
		}
	} else if (!strcmp(ctrl, "devices")) {
		json_t *d;
		size_t i;
		json_array_foreach(json_object_get(res, "devices"), i, d)
		{
			bool allow = json_is_true(json_object_get(d, "allow"));
			const char *type = json_string_value(json_object_get(d, "type"));
			const char *access = json_string_value(json_object_get(d, "access"));
			json_t *ma = json_object_get(d, "major"), *mi = json_object_get(d, "minor");
			_cleanup_free_ char *maj =
			    json_is_integer(ma) ? num(d, "major") : xstrdup("*");
			_cleanup_free_ char *min =
			    json_is_integer(mi) ? num(d, "minor") : xstrdup("*");
			_cleanup_free_ char *rule =
			    (!type || !strcmp(type, "a")) && !json_is_integer(ma) &&
				    !json_is_integer(mi)
				? xasprintf("a")
				: xasprintf("%s %s:%s %s", type ? type : "a", maj, min,
					    access ? access : "rwm");
			if (write_knob(dir, allow ? "devices.allow" : "devices.deny", rule, err) <
			    0)
				return -1;
		}
	}
	return 0;
}

static int apply_v2(const char *dir, json_t *res, berth_error *err)
{
	json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu");
	json_t *pids = json_object_get(res, "pids");
	if (has(mem, "limit")) {
		long long l = json_integer_value(json_object_get(mem, "limit"));
		_cleanup_free_ char *v = l > 0 ? xasprintf("%lld", l) : xstrdup("max");
		if (write_knob(dir, "memory.max", v, err) < 0)
			return -1;
		if (has(mem, "swap")) {
			/* v1's swap is memory+swap; v2's memory.swap.max is swap alone */
			long long s = json_integer_value(json_object_get(mem, "swap"));
			_cleanup_free_ char *sv =
			    s < 0 || l <= 0 ? xstrdup("max") : xasprintf("%lld", s > l ? s - l : 0);
			_cleanup_free_ char *p = xasprintf("%s/memory.swap.max", dir);
			if (path_exists(p) && write_knob(dir, "memory.swap.max", sv, err) < 0)
				return -1;
		}
	}
	if (has(cpu, "shares")) {
		/* the conversion runc and crun use: [2, 262144] -> [1, 10000] */
		long long s = json_integer_value(json_object_get(cpu, "shares"));
		long long w = s ? 1 + ((s - 2) * 9999) / 262142 : 100;
		_cleanup_free_ char *v = xasprintf("%lld", w < 1 ? 1 : w > 10000 ? 10000 : w);
		if (write_knob(dir, "cpu.weight", v, err) < 0)
			return -1;
	}
	if (has(cpu, "quota") || has(cpu, "period")) {
		long long q =
		    has(cpu, "quota") ? json_integer_value(json_object_get(cpu, "quota")) : -1;
		long long p = has(cpu, "period")
				  ? json_integer_value(json_object_get(cpu, "period"))
				  : 100000;
		_cleanup_free_ char *v =
		    q > 0 ? xasprintf("%lld %lld", q, p) : xasprintf("max %lld", p);
		if (write_knob(dir, "cpu.max", v, err) < 0)
			return -1;
	}
	const char *c = json_string_value(json_object_get(cpu, "cpus"));
	const char *m = json_string_value(json_object_get(cpu, "mems"));
	if ((c && *c && write_knob(dir, "cpuset.cpus", c, err) < 0) ||
	    (m && *m && write_knob(dir, "cpuset.mems", m, err) < 0))
		return -1;
	if (has(pids, "limit")) {
		long long l = json_integer_value(json_object_get(pids, "limit"));
		_cleanup_free_ char *v = l > 0 ? xasprintf("%lld", l) : xstrdup("max");
		if (write_knob(dir, "pids.max", v, err) < 0)
			return -1;
	}
	return 0;
}

/* Enables the controllers berth uses in every ancestor's subtree_control. */
static void v2_enable(const char *path)
{
	_cleanup_free_ char *cur = xstrdup(CG_ROOT);
	_cleanup_free_ char *p = xstrdup(path);
	char *save = NULL;
	for (char *tok = strtok_r(p, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		_cleanup_free_ char *ctl = xasprintf("%s/cgroup.controllers", cur);
		_cleanup_free_ char *have = read_file(ctl, NULL, NULL);
		static const char *const want[] = {"memory", "cpu", "cpuset", "pids", "io"};
		for (size_t i = 0; have && i < ARRAY_SIZE(want); i++)
			if (strstr(have, want[i])) {
				_cleanup_free_ char *st =
				    xasprintf("%s/cgroup.subtree_control", cur);
				_cleanup_free_ char *v = xasprintf("+%s", want[i]);
				write_file_str(st, v, NULL);
			}
		char *next = xasprintf("%s/%s", cur, tok);
		free(cur);
		cur = next;
		mkdir(cur, 0755);
	}
}

json_t *cgroup_plan(const char *path)
{
	json_t *paths = json_object();
	if (cgroup_is_v2()) {
		_cleanup_free_ char *dir = xasprintf(CG_ROOT "%s", path);
		json_object_set_new(paths, "", json_string(dir));
	} else {
		for (size_t i = 0; i < cgroup_v1_controllers_n; i++) {
			_cleanup_free_ char *root =
			    xasprintf(CG_ROOT "/%s", cgroup_v1_controllers[i]);
			if (!path_exists(root))
				continue;
			_cleanup_free_ char *dir = xasprintf("%s%s", root, path);
			json_object_set_new(paths, cgroup_v1_controllers[i], json_string(dir));
		}
	}
	return json_pack("{s:b,s:s,s:o}", "v2", cgroup_is_v2(), "path", path, "paths", paths);
}

int cgroup_create(json_t *cg, json_t *res, pid_t pid, berth_error *err)
{
	_cleanup_free_ char *spid = xasprintf("%d", (int)pid);
	bool v2 = json_is_true(json_object_get(cg, "v2"));
	if (v2)
		v2_enable(json_string_value(json_object_get(cg, "path")));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(cg, "paths"), k, v)
	{
		const char *dir = json_string_value(v);
		/* another container's cgroup_destroy may remove the empty berth parent between
		 * our mkdir of it and of our own directory: make both again */
		int made = -1;
		for (int tries = 0; tries < 100 && made < 0; tries++) {
			berth_error e = BERTH_ERROR_INIT;
			made = mkdir_p(dir, 0755, &e);
			if (made < 0 && (e.code != ENOENT || tries == 99)) {
				*err = e;
				break;
			}
			berth_error_clear(&e);
		}
		/* on failure pid may be in some of them already: the caller kills it, then
		 * destroys the plan */
		if (made < 0 || (v2 ? apply_v2(dir, res, err) : apply_v1(k, dir, res, err)) < 0 ||
		    (pid > 0 && write_knob(dir, "cgroup.procs", spid, err) < 0))
			return -1;
	}
	return 0;
}

int cgroup_join_self(json_t *cg, berth_error *err)
{
	const char *knob = json_is_true(json_object_get(cg, "v2")) ? "cgroup.procs" : "tasks";
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(cg, "paths"), k, v)
	{
		if (write_knob(json_string_value(v), knob, "0", err) < 0)
			return -1;
	}
	return 0;
}

const char *cgroup_dir(json_t *cg, const char *controller)
{
	return json_string_value(json_object_get(json_object_get(cg, "paths"), controller));
}

json_t *cgroup_pids(json_t *cg)
{
	json_t *out = json_array();
	const char *dir =
	    json_is_true(json_object_get(cg, "v2")) ? cgroup_dir(cg, "") : cgroup_dir(cg, "pids");
	if (!dir)
		dir = cgroup_dir(cg, "memory");
	if (!dir)
		return out;
	_cleanup_free_ char *p = xasprintf("%s/cgroup.procs", dir);
	_cleanup_free_ char *t = read_file(p, NULL, NULL);
	for (char *s = t; s && *s;) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		json_array_append_new(out, json_integer(v));
		s = end + (*end == '\n');
	}
	return out;
}

long cgroup_oom_kills(json_t *cg)
{
	bool v2 = json_is_true(json_object_get(cg, "v2"));
	const char *dir = cgroup_dir(cg, v2 ? "" : "memory");
	if (!dir)
		return 0;
	_cleanup_free_ char *p =
	    xasprintf("%s/%s", dir, v2 ? "memory.events" : "memory.oom_control");
	_cleanup_free_ char *t = read_file(p, NULL, NULL);
	const char *k = t ? strstr(t, "oom_kill ") : NULL;
	return k ? atol(k + 9) : 0;
}

int cgroup_destroy(json_t *cg, int sig, berth_error *err)
{
	const char *k;
	json_t *v;
	int rc = 0;
	if (sig) {
		json_t *pids = cgroup_pids(cg), *p;
		size_t i;
		json_array_foreach(pids, i, p) kill((pid_t)json_integer_value(p), sig);
		json_decref(pids);
	}
	bool parents = true;
	json_object_foreach(json_object_get(cg, "paths"), k, v)
	{
		const char *dir = json_string_value(v);
		/* the kernel frees a cgroup a moment after its last task has been reaped */
		int tries = 0, r;
		while ((r = rmdir(dir)) < 0 && errno == EBUSY && tries++ < 5000) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
		/* ENOENT: gone already, or a second name of a hierarchy (cpu and cpuacct) */
		if (r < 0 && errno != ENOENT && !rc)
			rc = berth_error_set(err, errno, "cgroup: remove %s", dir);
		/* the berth parents go too when it was the last container; one of them still in
		 * use means the others are too */
		_cleanup_free_ char *parent = xstrdup(dir);
		char *slash = strrchr(parent, '/');
		if (parents && slash) {
			*slash = '\0';
			if (str_has_suffix(parent, "/berth") && rmdir(parent) < 0 &&
			    errno != ENOENT)
				parents = false;
		}
	}
	return rc;
}

int cgroup_freeze(json_t *cg, bool frozen, berth_error *err)
{
	bool v2 = json_is_true(json_object_get(cg, "v2"));
	const char *dir = cgroup_dir(cg, v2 ? "" : "freezer");
	if (!dir)
		return berth_error_msg(err, ENOTSUP,
				       "the freezer cgroup controller is not mounted");
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, v2 ? "cgroup.freeze" : "freezer.state");
	const char *v = v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
	if (write_file_str(p, v, err) < 0)
		return -1;
	/* v1 goes through FREEZING, v2 reports in cgroup.events: wait until it is done */
	_cleanup_free_ char *done = v2 ? xasprintf("%s/cgroup.events", dir) : xstrdup(p);
	const char *want = v2 ? (frozen ? "frozen 1" : "frozen 0") : v;
	for (int i = 0; i < 2000; i++) {
		_cleanup_free_ char *t = read_file(done, NULL, NULL);
		if (t && strstr(t, want))
			return 0;
		struct timespec ts = {0, 500000};
		nanosleep(&ts, NULL);
	}
	return berth_error_msg(err, EBUSY, "the cgroup did not %s", frozen ? "freeze" : "thaw");
}

json_t *cgroup_stats(json_t *cg)
{
	bool v2 = json_is_true(json_object_get(cg, "v2"));
	json_t *out = json_object();
	const char *mem = cgroup_dir(cg, v2 ? "" : "memory");
	const char *cpu = cgroup_dir(cg, v2 ? "" : "cpuacct");
	if (!cpu && !v2)
		cpu = cgroup_dir(cg, "cpu");
	struct {
		const char *dir, *file, *key, *field;
	} knobs[] = {
	    {mem, v2 ? "memory.current" : "memory.usage_in_bytes", NULL, "memory_usage"},
	    {mem, v2 ? "memory.max" : "memory.limit_in_bytes", NULL, "memory_limit"},
	    {cpu, v2 ? "cpu.stat" : "cpuacct.usage", v2 ? "usage_usec " : NULL, "cpu_usage_ns"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (!knobs[i].dir)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", knobs[i].dir, knobs[i].file);
		_cleanup_free_ char *t = read_file(p, NULL, NULL);
		if (!t)
			continue;
		const char *s = knobs[i].key ? strstr(t, knobs[i].key) : t;
		if (!s)
			continue;
		if (knobs[i].key)
			s += strlen(knobs[i].key);
		long long v = !strncmp(s, "max", 3) ? -1 : atoll(s);
		if (knobs[i].key)
			v *= 1000; /* usec -> nsec */
		json_object_set_new(out, knobs[i].field, json_integer(v));
	}
	json_t *pids = cgroup_pids(cg);
	json_object_set_new(out, "pids", json_integer((json_int_t)json_array_size(pids)));
	json_decref(pids);
	return out;
}

bool engine_cgroup_v2(void)
{
	return cgroup_is_v2();
}
