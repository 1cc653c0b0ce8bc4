/*
 * berth runtime: the OCI runtime command line, as crun and runc offer it
 * (create, start, state, kill, delete, run, spec, list).
 */
#include "cli.h"
#include "../common/fsutil.h"
#include "../engine/engine.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fputs(
	    "Usage: berth runtime [--root DIR] COMMAND [OPTIONS] ID\n"
	    "\n"
	    "The OCI runtime: runs an OCI bundle (a directory with config.json).\n"
	    "\n"
	    "Commands:\n"
	    "  create [--bundle DIR] [--pid-file F] [--console-fd N] ID\n"
	    "                                            Create a container, stopped before exec\n"
	    "  start ID                                  Start a created container\n"
	    "  run [--bundle DIR] [--pid-file F] ID      Create, start and wait; exit with its "
	    "status\n"
	    "  state ID                                  Print the container's state (JSON)\n"
	    "  kill [--all] ID [SIGNAL]                  Send a signal (default SIGTERM)\n"
	    "  delete [--force] ID                       Remove a stopped container\n"
	    "  list [--format table|json]                List containers\n"
	    "  spec [--bundle DIR] [--image NAME] [--rootfs PATH] [--read-only] [--privileged]\n"
	    "       [--cap-add CAP] [--cap-drop CAP] [--security-opt no-new-privileges|\n"
	    "       seccomp=unconfined|seccomp=FILE] [--hostname H] [-- CMD...]\n"
	    "                                            Write a config.json with Docker's "
	    "defaults\n"
	    "\n"
	    "--root DIR: where container state lives (default $BERTH_RUN/runtime).\n",
	    f);
}

static int fail(const char *what, berth_error *err)
{
	fprintf(stderr, "berth runtime %s: %s\n", what, err->msg);
	berth_error_clear(err);
	return 1;
}

static int parse_signal(const char *s)
{
	static const struct {
		const char *n;
		int v;
	} sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT},  {"KILL", SIGKILL},
		    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM},  {"STOP", SIGSTOP},
		    {"CONT", SIGCONT}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}};
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end)
		return v > 0 && v < 65 ? (int)v : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!strcasecmp(s, sigs[i].n))
			return sigs[i].v;
	return -1;
}

static int cmd_spec(int argc, char **argv, engine_runtime_opts *o)
{
	engine_spec_opts so = {0};
	const char *bundle = ".";
	const char **adds = xcalloc((size_t)argc, sizeof *adds);
	const char **drops = xcalloc((size_t)argc, sizeof *drops);
	so.cap_add = adds;
	so.cap_drop = drops;
	int i = 1;
	for (; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if ((v = opt_value(argc, argv, &i, "--bundle", "-b"))) {
			bundle = v;
		} else if ((v = opt_value(argc, argv, &i, "--image", NULL))) {
			so.image = v;
		} else if ((v = opt_value(argc, argv, &i, "--rootfs", NULL))) {
			so.rootfs = v;
		} else if ((v = opt_value(argc, argv, &i, "--hostname", NULL))) {
			so.hostname = v;
		} else if ((v = opt_value(argc, argv, &i, "--cap-add", NULL))) {
			adds[so.ncap_add++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--cap-drop", NULL))) {
			drops[so.ncap_drop++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--security-opt", NULL))) {
			if (!strcmp(v, "no-new-privileges") ||
			    !strcmp(v, "no-new-privileges:true") ||
			    !strcmp(v, "no-new-privileges=true"))
				so.no_new_privileges = true;
			else if (!strcmp(v, "seccomp=unconfined") ||
				 !strcmp(v, "seccomp:unconfined"))
				so.seccomp_unconfined = true;
			else if (str_has_prefix(v, "seccomp=") || str_has_prefix(v, "seccomp:"))
				so.seccomp_file = v + 8;
			else {
				fprintf(stderr, "berth runtime spec: invalid --security-opt: %s\n",
					v);
				return 125;
			}
		} else if (!strcmp(argv[i], "--read-only")) {
			so.read_only = true;
		} else if (!strcmp(argv[i], "--privileged")) {
			so.privileged = true;
		} else {
			fprintf(stderr, "berth runtime spec: unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	so.args = argv + i;
	berth_error err = BERTH_ERROR_INIT;
	engine_store *s = so.image ? engine_store_open(NULL, &err) : NULL;
	json_t *spec = (!so.image || s) ? engine_spec_generate(s, &so, &err) : NULL;
	engine_store_close(s);
	free(adds);
	free(drops);
	if (!spec)
		return fail("spec", &err);
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	_cleanup_free_ char *text = json_dumps(spec, JSON_INDENT(2));
	json_decref(spec);
	(void)o;
	if (path_exists(path) && !getenv("BERTH_SPEC_OVERWRITE")) {
		fprintf(stderr, "berth runtime spec: %s exists already (remove it first)\n", path);
		return 1;
	}
	if (write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
		return fail("spec", &err);
	return 0;
}

static int cmd_list(int argc, char **argv, engine_runtime_opts *o)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--format", "-f")))
			json = !strcmp(v, "json");
		else if (!strcmp(argv[i], "-q"))
			json = false;
	}
	berth_error err = BERTH_ERROR_INIT;
	json_t *l = engine_runtime_list(o, &err), *c;
	size_t i;
	if (json) {
		char *t = json_dumps(l, JSON_INDENT(2));
		puts(t);
		free(t);
	} else {
		printf("%-20s %-8s %-10s %-40s %s\n", "NAME", "PID", "STATUS", "BUNDLE PATH",
		       "CREATED");
		json_array_foreach(l, i, c)
		{
			time_t t = (time_t)json_integer_value(json_object_get(c, "created"));
			char ts[64];
			strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			bool stopped =
			    !strcmp(json_string_value(json_object_get(c, "status")), "stopped");
			printf("%-20s %-8lld %-10s %-40s %s\n",
			       json_string_value(json_object_get(c, "id")),
			       stopped ? 0
				       : (long long)json_integer_value(json_object_get(c, "pid")),
			       json_string_value(json_object_get(c, "status")),
			       json_string_value(json_object_get(c, "bundle")), ts);
		}
	}
	json_decref(l);
	return 0;
}

int cmd_runtime(int argc, char **argv)
{
	engine_runtime_opts o = {0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if ((v = opt_value(argc, argv, &i, "--root", NULL))) {
			o.state_root = v;
		} else if (!strcmp(argv[i], "--debug") || !strcmp(argv[i], "--systemd-cgroup")) {
			/* accepted for crun/runc compatibility */
		} else if ((v = opt_value(argc, argv, &i, "--log", NULL)) ||
			   (v = opt_value(argc, argv, &i, "--log-format", NULL))) {
		} else {
			fprintf(stderr, "berth runtime: unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 125;
	}
	const char *cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "spec"))
		return cmd_spec(argc, argv, &o);
	if (!strcmp(cmd, "list") || !strcmp(cmd, "ps"))
		return cmd_list(argc, argv, &o);
	const char *id = NULL, *sig = NULL;
	bool force = false, all = false, detach = false;
	for (int k = 1; k < argc; k++) {
		const char *v;
		if ((v = opt_value(argc, argv, &k, "--bundle", "-b"))) {
			o.bundle = v;
		} else if ((v = opt_value(argc, argv, &k, "--pid-file", NULL))) {
			o.pid_file = v;
		} else if ((v = opt_value(argc, argv, &k, "--console-fd", NULL))) {
			o.console_fd = atoi(v);
			o.has_console = true;
		} else if (!strcmp(argv[k], "--force") || !strcmp(argv[k], "-f")) {
			force = true;
		} else if (!strcmp(argv[k], "--all") || !strcmp(argv[k], "-a")) {
			all = true;
		} else if (!strcmp(argv[k], "--detach") || !strcmp(argv[k], "-d")) {
			detach = true;
		} else if (argv[k][0] == '-' && argv[k][1]) {
			fprintf(stderr, "berth runtime %s: unknown flag: %s\n", cmd, argv[k]);
			return 125;
		} else if (!id) {
			id = argv[k];
		} else if (!sig) {
			sig = argv[k];
		} else {
			fprintf(stderr, "berth runtime %s: too many arguments\n", cmd);
			return 125;
		}
	}
	if (!id) {
		fprintf(stderr, "berth runtime %s: a container id is required\n", cmd);
		return 125;
	}
	berth_error err = BERTH_ERROR_INIT;
	if (!strcmp(cmd, "create"))
		return engine_runtime_create(id, &o, &err) < 0 ? fail(cmd, &err) : 0;
	if (!strcmp(cmd, "start"))
		return engine_runtime_start(id, &o, &err) < 0 ? fail(cmd, &err) : 0;
	if (!strcmp(cmd, "delete"))
		return engine_runtime_delete(id, force, &o, &err) < 0 ? fail(cmd, &err) : 0;
	if (!strcmp(cmd, "kill")) {
		int s = sig ? parse_signal(sig) : SIGTERM;
		if (s < 0) {
			fprintf(stderr, "berth runtime kill: unknown signal %s\n", sig);
			return 125;
		}
		return engine_runtime_kill(id, s, all, &o, &err) < 0 ? fail(cmd, &err) : 0;
	}
	if (!strcmp(cmd, "state")) {
		json_t *st = engine_runtime_state(id, &o, &err);
		if (!st)
			return fail(cmd, &err);
		char *t = json_dumps(st, JSON_INDENT(2));
		puts(t);
		free(t);
		json_decref(st);
		return 0;
	}
	if (!strcmp(cmd, "run")) {
		if (detach) {
			if (engine_runtime_create(id, &o, &err) < 0 ||
			    engine_runtime_start(id, &o, &err) < 0)
				return fail(cmd, &err);
			return 0;
		}
		int st = engine_runtime_run(id, &o, &err);
		return st < 0 ? fail(cmd, &err) : st;
	}
	fprintf(stderr, "berth runtime: unknown command %s\n", cmd);
	return 125;
}
