/* Unit tests of the engine's pure parts: paths, whiteouts, chain ids, Docker's defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../engine/engine.h"

static void clean_path_makes_names_relative(void **state)
{
	char *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	assert_int_equal(engine_layer_clean_path("./a//b/./c", &out, &err), 0);
	assert_string_equal(out, "a/b/c");
	free(out);
	assert_int_equal(engine_layer_clean_path("./", &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
}

static void clean_path_refuses_escapes(void **state)
{
	char *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	assert_int_equal(engine_layer_clean_path("/etc/passwd", &out, &err), -1);
	assert_non_null(strstr(err.msg, "absolute"));
	berth_error_clear(&err);
	assert_int_equal(engine_layer_clean_path("a/../../etc", &out, &err), -1);
	assert_non_null(strstr(err.msg, ".."));
	berth_error_clear(&err);
	assert_int_equal(engine_layer_clean_path("..", &out, &err), -1);
	berth_error_clear(&err);
}

static void link_escapes_only_when_it_climbs_out(void **state)
{
	assert_false(engine_layer_link_escapes("usr/lib/x", "../../bin/busybox"));
	assert_true(engine_layer_link_escapes("usr/lib/x", "../../../etc"));
	assert_true(engine_layer_link_escapes("x", ".."));
	assert_false(
	    engine_layer_link_escapes("bin/sh", "/bin/busybox")); /* resolved in the root */
	assert_false(engine_layer_link_escapes("a/b", "c/../d"));
}

static void whiteouts_are_classified(void **state)
{
	char *t = NULL;
	assert_int_equal(engine_whiteout_kind("etc/.wh.passwd", &t), WHITEOUT_FILE);
	assert_string_equal(t, "etc/passwd");
	free(t);
	assert_int_equal(engine_whiteout_kind(".wh.top", &t), WHITEOUT_FILE);
	assert_string_equal(t, "top");
	free(t);
	assert_int_equal(engine_whiteout_kind("opt/dir/.wh..wh..opq", &t), WHITEOUT_OPAQUE);
	assert_string_equal(t, "opt/dir");
	free(t);
	assert_int_equal(engine_whiteout_kind("etc/wh.not", &t), WHITEOUT_NONE);
}

static void chain_ids_follow_the_image_spec(void **state)
{
	char c[72];
	const char *d0 = "sha256:a9cf5d4fd7cf5d1a43f0d4d19f8c5a4c6b1d2d1b1b1b1b1b1b1b1b1b1b1b1b1b";
	engine_chain_id(NULL, d0, c);
	assert_string_equal(c, d0); /* ChainID(L0) = DiffID(L0) */
	/* sha256("sha256:aaa sha256:bbb"), computed with sha256sum */
	engine_chain_id("sha256:aaa", "sha256:bbb", c);
	assert_string_equal(
	    c, "sha256:56efb1d4f6c79b745d37d6eff87e3ed8dd2be28104e124ba73fd6e6c4892c792");
}

static void default_caps_are_dockers_fourteen(void **state)
{
	static const char *const docker[] = {
	    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
	    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
	    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	    "CAP_KILL",	   "CAP_AUDIT_WRITE"};
	assert_int_equal(engine_default_caps_n, 14);
	unsigned long long mask = 0;
	for (size_t i = 0; i < 14; i++) {
		assert_string_equal(engine_default_caps[i], docker[i]);
		int c = engine_cap_from_name(docker[i]);
		assert_true(c >= 0);
		mask |= 1ULL << c;
	}
	assert_int_equal(mask, 0xa80425fbULL); /* CapEff of a Docker container */
	assert_int_equal(engine_cap_from_name("net_admin"), engine_cap_from_name("CAP_NET_ADMIN"));
	assert_int_equal(engine_cap_from_name("CAP_NOPE"), -1);
}

static void masked_and_readonly_paths_are_dockers(void **state)
{
	static const char *const masked[] = {"/proc/acpi",
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
	static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					 "/proc/sysrq-trigger"};
	assert_int_equal(engine_masked_paths_n, ARRAY_SIZE(masked));
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
		assert_string_equal(engine_masked_paths[i], masked[i]);
	assert_int_equal(engine_readonly_paths_n, ARRAY_SIZE(ro));
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
		assert_string_equal(engine_readonly_paths[i], ro[i]);
}

static bool allows(json_t *sc, const char *name)
{
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(sc, "syscalls"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ALLOW") ||
		    json_object_get(r, "args"))
			continue;
		json_t *n;
		size_t k;
		json_array_foreach(json_object_get(r, "names"), k,
				   n) if (!strcmp(json_string_value(n), name)) return true;
	}
	return false;
}

static void seccomp_profile_follows_the_bounding_set(void **state)
{
	json_t *sc = engine_seccomp_default(engine_default_caps, engine_default_caps_n);
	assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")),
			    "SCMP_ACT_ERRNO");
	assert_int_equal(json_integer_value(json_object_get(sc, "defaultErrnoRet")), 1);
	assert_true(allows(sc, "read"));
	assert_true(allows(sc, "chroot")); /* CAP_SYS_CHROOT is a default capability */
	static const char *const blocked[] = {
	    "mount",	      "unshare",   "setns",  "keyctl",
	    "add_key",	      "bpf",	   "reboot", "ptrace" /* minKernel only */,
	    "io_uring_setup", "kexec_load"};
	for (size_t i = 0; i < ARRAY_SIZE(blocked); i++)
		if (strcmp(blocked[i], "ptrace"))
			assert_false(allows(sc, blocked[i]));
	json_decref(sc);
	const char *const admin[] = {"CAP_SYS_ADMIN"};
	sc = engine_seccomp_default(admin, 1);
	assert_true(allows(sc, "mount"));
	assert_true(allows(sc, "unshare"));
	json_decref(sc);
}

static void seccomp_compiles_and_caches(void **state)
{
	char dir[] = "/tmp/berth-seccomp-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	json_t *sc = engine_seccomp_default(engine_default_caps, engine_default_caps_n);
	engine_bpf a, b;
	berth_error err = BERTH_ERROR_INIT;
	assert_int_equal(engine_seccomp_compile(sc, dir, &a, &err), 0);
	assert_false(a.cached);
	assert_true(a.len > 10);
	assert_int_equal(engine_seccomp_compile(sc, dir, &b, &err), 0);
	assert_true(b.cached);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.filter, b.filter, (size_t)a.len * 8);
	free(a.filter);
	free(b.filter);
	json_t *bad = json_pack("{s:s,s:[{s:[s],s:s}]}", "defaultAction", "SCMP_ACT_ERRNO",
				"syscalls", "names", "opne", "action", "SCMP_ACT_ALLOW");
	assert_int_equal(engine_seccomp_compile(bad, NULL, &a, &err), -1);
	assert_non_null(strstr(err.msg, "unknown syscall name \"opne\""));
	berth_error_clear(&err);
	json_decref(bad);
	json_decref(sc);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void references_are_normalised_as_docker_does(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	char *r = engine_ref_normalise("busybox", &err);
	assert_string_equal(r, "busybox:latest");
	free(r);
	r = engine_ref_normalise("docker.io/library/busybox:1.36", &err);
	assert_string_equal(r, "busybox:1.36");
	free(r);
	r = engine_ref_normalise("localhost:5000/app", &err);
	assert_string_equal(r, "localhost:5000/app:latest");
	free(r);
	assert_null(engine_ref_normalise("Busybox", &err));
	berth_error_clear(&err);
}

static void spec_has_dockers_defaults(void **state)
{
	engine_spec_opts o = {.args = (char *[]){"true", NULL}};
	berth_error err = BERTH_ERROR_INIT;
	json_t *spec = engine_spec_generate(NULL, &o, &err);
	assert_non_null(spec);
	json_t *caps = json_object_get(
	    json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding");
	assert_int_equal(json_array_size(caps), 14);
	json_t *m = json_object_get(spec, "mounts");
	assert_int_equal(json_array_size(m), 7);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 6), "destination")),
			    "/dev/shm");
	assert_non_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
	json_decref(spec);
	const char *drop[] = {"ALL"}, *add[] = {"net_bind_service"};
	engine_spec_opts p = {.args = o.args,
			      .cap_drop = drop,
			      .ncap_drop = 1,
			      .cap_add = add,
			      .ncap_add = 1,
			      .seccomp_unconfined = true,
			      .read_only = true};
	spec = engine_spec_generate(NULL, &p, &err);
	caps = json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"),
			       "effective");
	assert_int_equal(json_array_size(caps), 1);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "CAP_NET_BIND_SERVICE");
	assert_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
	assert_true(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
	json_decref(spec);
	const char *bad[] = {"NOPE"};
	engine_spec_opts q = {.args = o.args, .cap_add = bad, .ncap_add = 1};
	assert_null(engine_spec_generate(NULL, &q, &err));
	assert_non_null(strstr(err.msg, "unknown capability"));
	berth_error_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(clean_path_makes_names_relative),
	    cmocka_unit_test(clean_path_refuses_escapes),
	    cmocka_unit_test(link_escapes_only_when_it_climbs_out),
	    cmocka_unit_test(whiteouts_are_classified),
	    cmocka_unit_test(chain_ids_follow_the_image_spec),
	    cmocka_unit_test(default_caps_are_dockers_fourteen),
	    cmocka_unit_test(masked_and_readonly_paths_are_dockers),
	    cmocka_unit_test(seccomp_profile_follows_the_bounding_set),
	    cmocka_unit_test(seccomp_compiles_and_caches),
	    cmocka_unit_test(references_are_normalised_as_docker_does),
	    cmocka_unit_test(spec_has_dockers_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
