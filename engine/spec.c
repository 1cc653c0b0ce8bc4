/*
 * The bundle generator: an OCI config.json with Docker's defaults (moby
 * daemon/pkg/oci/defaults.go and daemon/oci_linux.go), from an image's
 * config when one is named, changed by privileged, cap_add/cap_drop,
 * read_only, no-new-privileges and seccomp options as Docker changes it.
 */
#include "store.h"
#include "cgroup.h"

#include <errno.h>
#include <glob.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>

static json_t *strs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *default_mounts(bool privileged, bool read_only)
{
	const char *ro_sys = privileged && !read_only ? "rw" : "ro";
	return json_pack(
	    "[{s:s,s:s,s:s,s:[sss]},"
	    "{s:s,s:s,s:s,s:[ssss]},"
	    "{s:s,s:s,s:s,s:[ssssss]},"
	    "{s:s,s:s,s:s,s:[ssss]},"
	    "{s:s,s:s,s:s,s:[ssss]},"
	    "{s:s,s:s,s:s,s:[sss]},"
	    "{s:s,s:s,s:s,s:[sssss]}]",
	    "destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid", "noexec",
	    "nodev", "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
	    "strictatime", "mode=755", "size=65536k", "destination", "/dev/pts", "type", "devpts",
	    "source", "devpts", "options", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
	    "mode=0620", "gid=5", "destination", "/sys", "type", "sysfs", "source", "sysfs",
	    "options", "nosuid", "noexec", "nodev", ro_sys, "destination", "/sys/fs/cgroup", "type",
	    "cgroup", "source", "cgroup", "options", ro_sys, "nosuid", "noexec", "nodev",
	    "destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid",
	    "noexec", "nodev", "destination", "/dev/shm", "type", "tmpfs", "source", "shm",
	    "options", "nosuid", "noexec", "nodev", "mode=1777", "size=67108864");
}

/* Docker's device cgroup rules: deny all, allow what /dev holds, deny /dev/fuse. */
static const struct {
	bool allow;
	int major, minor; /* -1: any */
} dev_rules[] = {
    {true, 1, 5}, {true, 1, 3},	    {true, 1, 9}, {true, 1, 8},	   {true, 5, 0},
    {true, 5, 1}, {false, 10, 229}, {true, 1, 7}, {true, 136, -1}, {true, 5, 2},
};

static json_t *device_rules(bool privileged)
{
	json_t *a = json_pack("[{s:b,s:s}]", "allow", privileged, "access", "rwm");
	for (size_t i = 0; !privileged && i < ARRAY_SIZE(dev_rules); i++) {
		json_t *r = json_pack("{s:b,s:s,s:i,s:s}", "allow", dev_rules[i].allow, "type", "c",
				      "major", dev_rules[i].major, "access", "rwm");
		if (dev_rules[i].minor >= 0)
			json_object_set_new(r, "minor", json_integer(dev_rules[i].minor));
		json_array_append_new(a, r);
	}
	return a;
}

/* Normalises "net_admin" / "CAP_NET_ADMIN" / "ALL"; NULL and err if unknown. */
static char *cap_norm(const char *n, berth_error *err)
{
	if (!strcasecmp(n, "ALL"))
		return xstrdup("ALL");
	int c = engine_cap_from_name(n);
	if (c < 0) {
		berth_error_msg(err, EINVAL, "unknown capability: \"%s\"", n);
		return NULL;
	}
	return xstrdup(engine_cap_name(c));
}

static int tweak_caps(const engine_spec_opts *o, json_t *caps, berth_error *err)
{
	bool all_drop = false, all_add = o->privileged;
	for (size_t i = 0; i < o->ncap_drop; i++) {
		_cleanup_free_ char *c = cap_norm(o->cap_drop[i], err);
		if (!c)
			return -1;
		if (!strcmp(c, "ALL")) {
			all_drop = true;
			json_array_clear(caps);
		}
		for (size_t k = 0; k < json_array_size(caps); k++)
			if (!strcmp(json_string_value(json_array_get(caps, k)), c))
				json_array_remove(caps, k--);
	}
	(void)all_drop;
	for (size_t i = 0; i < o->ncap_add; i++) {
		_cleanup_free_ char *c = cap_norm(o->cap_add[i], err);
		if (!c)
			return -1;
		if (!strcmp(c, "ALL")) {
			all_add = true;
			continue;
		}
		bool have = false;
		for (size_t k = 0; k < json_array_size(caps); k++)
			have |= !strcmp(json_string_value(json_array_get(caps, k)), c);
		if (!have)
			json_array_append_new(caps, json_string(c));
	}
	if (all_add) {
		json_array_clear(caps);
		/* every capability this process holds: a runtime cannot grant more */
		for (int c = 0; c <= engine_cap_last(); c++)
			if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
				json_array_append_new(caps, json_string(engine_cap_name(c)));
	}
	return 0;
}

/* Looks name up in the image's /etc/passwd or /etc/group, top layer first. */
static int lookup_id(engine_store *s, json_t *img, const char *file, const char *name, long *id,
		     long *gid)
{
	json_t *layers = store_image_layers(img);
	for (size_t i = json_array_size(layers); i-- > 0;) {
		_cleanup_free_ char *p = store_path(
		    s, "layers/%s/diff/%s", json_string_value(json_array_get(layers, i)), file);
		_cleanup_free_ char *t = read_file(p, NULL, NULL);
		if (!t)
			continue;
		char *save = NULL;
		for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *f[4] = {0};
			char *q = l;
			for (int k = 0; k < 4 && q; k++) {
				f[k] = q;
				q = strchr(q, ':');
				if (q)
					*q++ = '\0';
			}
			if (f[0] && f[2] && !strcmp(f[0], name)) {
				*id = atol(f[2]);
				if (gid && f[3])
					*gid = atol(f[3]);
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int engine_image_user(engine_store *s, json_t *img, const char *user, json_t *out, berth_error *err)
{
	_cleanup_free_ char *u = xstrdup(user && *user ? user : "0");
	char *g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	long uid = 0, gid = 0;
	if (all_digits(u)) {
		uid = atol(u);
	} else if (lookup_id(s, img, "etc/passwd", u, &uid, &gid) < 0) {
		return berth_error_msg(
		    err, ENOENT, "unable to find user %s: no matching entries in passwd file", u);
	}
	if (g) {
		if (all_digits(g))
			gid = atol(g);
		else if (lookup_id(s, img, "etc/group", g, &gid, NULL) < 0)
			return berth_error_msg(
			    err, ENOENT,
			    "unable to find group %s: no matching entries in group "
			    "file",
			    g);
	}
	json_object_set_new(out, "uid", json_integer(uid));
	json_object_set_new(out, "gid", json_integer(gid));
	return 0;
}

/* Docker's seccomp profile format (names, includes/excludes) resolved to OCI form. */
static json_t *docker_profile(json_t *prof, json_t *caps, berth_error *err)
{
	if (!json_is_object(prof) || !json_object_get(prof, "defaultAction")) {
		berth_error_msg(err, EINVAL, "seccomp profile: defaultAction is missing");
		return NULL;
	}
	json_t *out = json_deep_copy(prof);
	json_object_del(out, "archMap");
	if (!json_object_get(out, "architectures")) {
		json_t *seccomp = engine_seccomp_default(NULL, 0);
		json_object_set(out, "architectures", json_object_get(seccomp, "architectures"));
		json_decref(seccomp);
	}
	json_t *sys = json_array(), *r;
	size_t i;
	json_array_foreach(json_object_get(prof, "syscalls"), i, r)
	{
		json_t *inc = json_object_get(r, "includes"), *exc = json_object_get(r, "excludes");
		bool keep = true;
		json_t *v;
		size_t k;
		if (json_array_size(json_object_get(inc, "caps"))) {
			bool any = false;
			json_array_foreach(json_object_get(inc, "caps"), k, v)
			{
				json_t *c;
				size_t q;
				json_array_foreach(caps, q, c) any |= json_equal(c, v);
			}
			keep &= any;
		}
		json_array_foreach(json_object_get(exc, "caps"), k, v)
		{
			json_t *c;
			size_t q;
			json_array_foreach(caps, q, c) keep &= !json_equal(c, v);
		}
		if (json_array_size(json_object_get(inc, "arches"))) {
			bool any = false;
			json_array_foreach(json_object_get(inc, "arches"), k, v) any |=
			    !strcmp(json_string_value(v) ?: "", "amd64");
			keep &= any;
		}
		json_array_foreach(json_object_get(exc, "arches"), k, v) keep &=
		    !!strcmp(json_string_value(v) ?: "", "amd64");
		if (!keep)
			continue;
		json_t *o = json_deep_copy(r);
		json_object_del(o, "includes");
		json_object_del(o, "excludes");
		json_object_del(o, "comment");
		if (json_object_get(o, "name") && !json_object_get(o, "names")) {
			json_object_set_new(o, "names",
					    json_pack("[O]", json_object_get(o, "name")));
			json_object_del(o, "name");
		}
		json_array_append_new(sys, o);
	}
	json_object_set_new(out, "syscalls", sys);
	return out;
}

json_t *engine_spec_generate(engine_store *s, const engine_spec_opts *o, berth_error *err)
{
	json_t *img = NULL, *cfg = NULL;
	if (o->image) {
		img = engine_image_get(s, o->image, err);
		if (!img)
			return NULL;
		_cleanup_free_ char *blob = store_path(
		    s, "blobs/sha256/%s", json_string_value(json_object_get(img, "Id")) + 7);
		json_t *full = json_read_file(blob, err);
		if (!full) {
			json_decref(img);
			return NULL;
		}
		cfg = json_incref(json_object_get(full, "config"));
		json_decref(full);
	}
	json_t *args = json_array(), *v;
	size_t i;
	if (o->entrypoint_set)
		for (char **a = o->entrypoint; a && *a; a++)
			json_array_append_new(args, json_string(*a));
	else
		json_array_foreach(json_object_get(cfg, "Entrypoint"), i, v)
		    json_array_append(args, v);
	if (o->args && o->args[0])
		for (char **a = o->args; *a; a++)
			json_array_append_new(args, json_string(*a));
	else if (!o->entrypoint_set) /* docker: --entrypoint resets the image's Cmd */
		json_array_foreach(json_object_get(cfg, "Cmd"), i, v) json_array_append(args, v);
	if (!json_array_size(args))
		json_array_append_new(args, json_string("sh"));

	json_t *env = json_array();
	bool has_path = false;
	json_array_foreach(json_object_get(cfg, "Env"), i, v)
	{
		has_path |= str_has_prefix(json_string_value(v) ?: "", "PATH=");
		json_array_append(env, v);
	}
	if (!has_path)
		json_array_insert_new(
		    env, 0,
		    json_string(
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	const char *hostname = o->hostname ? o->hostname : "berth";
	_cleanup_free_ char *hn = xasprintf("HOSTNAME=%s", hostname);
	json_array_insert_new(env, 1, json_string(hn));
	for (char **e = o->env; e && *e; e++) {
		size_t klen = strcspn(*e, "=");
		bool replaced = false;
		json_array_foreach(env, i, v)
		{
			const char *cur = json_string_value(v);
			if (!strncmp(cur, *e, klen) && (cur[klen] == '=' || !cur[klen])) {
				json_array_set_new(env, i, json_string(*e));
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append_new(env, json_string(*e));
	}

	json_t *caps = strs(engine_default_caps, engine_default_caps_n);
	if (tweak_caps(o, caps, err) < 0) {
		json_decref(args);
		json_decref(env);
		goto fail;
	}
	json_t *user = json_object();
	const char *uname = o->user ? o->user : json_string_value(json_object_get(cfg, "User"));
	if (engine_image_user(s, img, uname, user, err) < 0) {
		json_decref(user);
		json_decref(args);
		json_decref(env);
		goto fail;
	}
	struct rlimit nofile;
	getrlimit(RLIMIT_NOFILE, &nofile);
	/* 1024:524288 as systemd gives dockerd's containers, within what this process may grant */
	rlim_t hard = nofile.rlim_max < 524288 ? nofile.rlim_max : 524288;
	rlim_t soft = hard < 1024 ? hard : 1024;
	const char *cwd =
	    o->workdir ? o->workdir : json_string_value(json_object_get(cfg, "WorkingDir"));
	json_t *process = json_pack(
	    "{s:b,s:o,s:o,s:o,s:s,s:{s:O,s:O,s:O},s:[{s:s,s:I,s:I}],s:b,s:i}", "terminal",
	    o->terminal, "user", user, "args", args, "env", env, "cwd", cwd && *cwd ? cwd : "/",
	    "capabilities", "bounding", caps, "effective", caps, "permitted", caps, "rlimits",
	    "type", "RLIMIT_NOFILE", "hard", (json_int_t)hard, "soft", (json_int_t)soft,
	    "noNewPrivileges", o->no_new_privileges, "oomScoreAdj", 0);

	json_t *ns = json_pack("[{s:s},{s:s},{s:s},{s:s},{s:s}]", "type", "pid", "type", "network",
			       "type", "ipc", "type", "uts", "type", "mount");
	if (cgroup_is_v2())
		json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
	json_t *lx = json_pack("{s:{s:o},s:o,s:{s:s,s:s}}", "resources", "devices",
			       device_rules(o->privileged), "namespaces", ns, "sysctl",
			       "net.ipv4.ping_group_range", "0 2147483647",
			       "net.ipv4.ip_unprivileged_port_start", "0");
	if (!o->privileged) {
		json_t *masked = strs(engine_masked_paths, engine_masked_paths_n);
		glob_t g;
		if (glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle", 0, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++)
				json_array_append_new(masked, json_string(g.gl_pathv[k]));
			globfree(&g);
		}
		json_object_set_new(lx, "maskedPaths", masked);
		json_object_set_new(lx, "readonlyPaths",
				    strs(engine_readonly_paths, engine_readonly_paths_n));
	}
	if (!o->privileged && !o->seccomp_unconfined) {
		json_t *sc;
		if (o->seccomp_file) {
			json_t *prof = json_read_file(o->seccomp_file, err);
			sc = prof ? docker_profile(prof, caps, err) : NULL;
			json_decref(prof);
		} else {
			size_t n = json_array_size(caps);
			const char **names = xcalloc(n + 1, sizeof *names);
			for (size_t k = 0; k < n; k++)
				names[k] = json_string_value(json_array_get(caps, k));
			sc = engine_seccomp_default(names, n);
			free(names);
		}
		if (!sc) {
			json_decref(process);
			json_decref(lx);
			goto fail;
		}
		json_object_set_new(lx, "seccomp", sc);
	}
	json_decref(caps);
	json_t *spec = json_pack(
	    "{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o}", "ociVersion", "1.0.2", "process", process, "root",
	    "path", o->rootfs ? o->rootfs : "rootfs", "readonly", o->read_only, "hostname",
	    hostname, "mounts", default_mounts(o->privileged, o->read_only), "linux", lx);
	if (img)
		json_object_set_new(
		    spec, "annotations",
		    json_pack("{s:O}", "io.berth.image.id", json_object_get(img, "Id")));
	json_decref(cfg);
	json_decref(img);
	return spec;
fail:
	json_decref(caps);
	json_decref(cfg);
	json_decref(img);
	return NULL;
}
