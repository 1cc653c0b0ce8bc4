/*
 * linux.seccomp -> BPF through libseccomp, cached on disk.  Compiling
 * Docker's profile costs crun 13-16 ms per container; the cache, keyed by a
 * hash of the profile (in canonical JSON), the architecture and libseccomp's
 * version, makes every container after the first pay only a file read.
 */
#include "engine.h"
#include "../common/fsutil.h"
#include "../common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int parse_action(json_t *rule, const char *key, json_t *errno_ret, uint32_t *out,
			berth_error *err)
{
	const char *a = json_string_value(json_object_get(rule, key));
	int e = errno_ret ? (int)json_integer_value(errno_ret) : EPERM;
	if (!a)
		return berth_error_msg(err, EINVAL, "seccomp: %s is missing", key);
	if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO((uint32_t)e);
	else if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE((uint32_t)e);
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else
		return berth_error_msg(err, EINVAL, "seccomp: unsupported action %s", a);
	return 0;
}

static int parse_op(const char *op, enum scmp_compare *out)
{
	static const struct {
		const char *n;
		enum scmp_compare c;
	} ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
		   {"SCMP_CMP_LT", SCMP_CMP_LT},
		   {"SCMP_CMP_LE", SCMP_CMP_LE},
		   {"SCMP_CMP_EQ", SCMP_CMP_EQ},
		   {"SCMP_CMP_GE", SCMP_CMP_GE},
		   {"SCMP_CMP_GT", SCMP_CMP_GT},
		   {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
	for (size_t i = 0; op && i < ARRAY_SIZE(ops); i++)
		if (!strcmp(op, ops[i].n)) {
			*out = ops[i].c;
			return 0;
		}
	return -1;
}

static int add_rules(scmp_filter_ctx ctx, json_t *seccomp, uint32_t def, berth_error *err)
{
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(seccomp, "syscalls"), i, r)
	{
		uint32_t act;
		if (parse_action(r, "action", json_object_get(r, "errnoRet"), &act, err) < 0)
			return -1;
		if (act == def)
			continue; /* libseccomp refuses rules that repeat the default */
		json_t *args = json_object_get(r, "args");
		struct scmp_arg_cmp cmp[6];
		size_t na = json_array_size(args);
		if (na > 6)
			return berth_error_msg(err, EINVAL, "seccomp: rule %zu has %zu conditions",
					       i, na);
		for (size_t k = 0; k < na; k++) {
			json_t *a = json_array_get(args, k);
			enum scmp_compare op;
			if (parse_op(json_string_value(json_object_get(a, "op")), &op) < 0)
				return berth_error_msg(
				    err, EINVAL, "seccomp: rule %zu: unknown op %s", i,
				    json_string_value(json_object_get(a, "op")) ?: "(none)");
			cmp[k] = (struct scmp_arg_cmp){
			    .arg = (unsigned)json_integer_value(json_object_get(a, "index")),
			    .op = op,
			    .datum_a =
				(scmp_datum_t)json_integer_value(json_object_get(a, "value")),
			    .datum_b =
				(scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo"))};
		}
		json_t *n;
		size_t k;
		json_array_foreach(json_object_get(r, "names"), k, n)
		{
			const char *name = json_string_value(n);
			int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
			if (nr == __NR_SCMP_ERROR)
				return berth_error_msg(err, EINVAL,
						       "seccomp: unknown syscall name \"%s\"",
						       name ? name : "(not a string)");
			int rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)na, cmp);
			if (rc < 0 && rc != -EEXIST)
				return berth_error_set(err, -rc, "seccomp: rule for %s", name);
		}
	}
	return 0;
}

static int compile(json_t *seccomp, engine_bpf *out, berth_error *err)
{
	uint32_t def;
	if (parse_action(seccomp, "defaultAction", json_object_get(seccomp, "defaultErrnoRet"),
			 &def, err) < 0)
		return -1;
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return berth_error_msg(err, EINVAL, "seccomp: cannot initialise libseccomp");
	int rc = 0;
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(seccomp, "architectures"), i, a)
	{
		const char *name = json_string_value(a);
		if (!name || !str_has_prefix(name, "SCMP_ARCH_")) {
			rc = berth_error_msg(err, EINVAL, "seccomp: unknown architecture %s",
					     name ? name : "(not a string)");
			break;
		}
		_cleanup_free_ char *low = xstrdup(name + 10);
		for (char *p = low; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		uint32_t arch = seccomp_arch_resolve_name(low);
		if (!arch) {
			rc = berth_error_msg(err, EINVAL, "seccomp: unknown architecture %s", name);
			break;
		}
		int r = seccomp_arch_add(ctx, arch);
		if (r < 0 && r != -EEXIST) {
			rc = berth_error_set(err, -r, "seccomp: architecture %s", name);
			break;
		}
	}
	/* a binary tree of syscalls rather than a linear list: cheaper for every syscall */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!rc)
		rc = add_rules(ctx, seccomp, def, err);
	if (!rc) {
		int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
		if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0) {
			rc = berth_error_set(err, errno, "seccomp: export");
		} else {
			off_t len = lseek(fd, 0, SEEK_END);
			out->filter = xmalloc(len > 0 ? (size_t)len : 1);
			if (len <= 0 || pread(fd, out->filter, (size_t)len, 0) != len) {
				rc = berth_error_set(err, EIO, "seccomp: export");
			}
			out->len = (unsigned short)(len / 8);
		}
		if (fd >= 0)
			close(fd);
	}
	seccomp_release(ctx);
	return rc;
}

int engine_seccomp_compile(json_t *seccomp, const char *cache_dir, engine_bpf *out,
			   berth_error *err)
{
	memset(out, 0, sizeof *out);
	_cleanup_free_ char *canon = json_dumps(seccomp, JSON_COMPACT | JSON_SORT_KEYS);
	const struct scmp_version *v = seccomp_version();
	_cleanup_free_ char *key_src = xasprintf("%s\n%u.%u.%u\n%u", canon, v->major, v->minor,
						 v->micro, seccomp_arch_native());
	char hex[65];
	sha256_hex(key_src, strlen(key_src), hex);
	_cleanup_free_ char *path = cache_dir ? xasprintf("%s/%s.bpf", cache_dir, hex) : NULL;
	if (path) {
		size_t len;
		char *data = read_file(path, &len, NULL);
		if (data && len && len % 8 == 0 && len / 8 < 65536) {
			out->filter = data;
			out->len = (unsigned short)(len / 8);
			out->cached = true;
			return 0;
		}
		free(data);
	}
	if (compile(seccomp, out, err) < 0) {
		free(out->filter);
		out->filter = NULL;
		return -1;
	}
	if (path && mkdir_p(cache_dir, 0700, NULL) == 0)
		write_file_atomic(path, out->filter, (size_t)out->len * 8, 0600, NULL);
	return 0;
}
