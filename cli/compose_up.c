/*
 * berth compose up -d / down / ps: the command line loads the project (the
 * loader), sends its normalised form to berthd, which does the work, and
 * prints the progress berthd streams back, one line an event.
 */
#include "cli.h"
#include "client.h"
#include "compose_opts.h"
#include "../composer/composer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

composer_project *compose_load(const compose_opts *po, const char **svc, size_t nsvc)
{
	composer_options o;
	compose_loader_options(po, svc, nsvc, &o);
	_cleanup_error_ berth_error err = BERTH_ERROR_INIT;
	composer_project *p = composer_load(&o, &err);
	if (!p)
		fprintf(stderr, "%s\n", err.msg);
	return p;
}

/*
 * The project; or, with -p and no Compose file to be found, only its name (*p NULL, 0
 * returned): down, stop and ps then work from the containers' labels, as docker compose's do.
 * -1 with the error printed otherwise.
 */
static int load_or_name(const compose_opts *po, composer_project **p, const char **name)
{
	composer_options o;
	compose_loader_options(po, NULL, 0, &o);
	_cleanup_error_ berth_error err = BERTH_ERROR_INIT;
	*p = composer_load(&o, &err);
	if (*p) {
		*name = (*p)->name;
		return 0;
	}
	if (po->project_name && !po->nfiles && !getenv("COMPOSE_FILE") && err.msg &&
	    str_has_prefix(err.msg, "no configuration file provided")) {
		*name = po->project_name;
		return 0;
	}
	fprintf(stderr, "%s\n", err.msg);
	return -1;
}

/* --progress: auto (redrawn in place on a terminal), tty, plain (one line an event), quiet */
static const char *progress_mode = "auto";

int compose_set_progress(const char *mode)
{
	if (strcmp(mode, "auto") && strcmp(mode, "tty") && strcmp(mode, "plain") &&
	    strcmp(mode, "quiet"))
		return -1;
	progress_mode = mode;
	return 0;
}

/* docker compose's progress display: one row a resource, its latest status, redrawn. */
typedef struct {
	bool redraw, quiet;
	json_t *rows; /* [[resource, status, message, first seen, last change]] */
	int drawn;
} board;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The states a resource stays in (✔) as against those on the way (⠿). */
static bool settled(const char *st)
{
	static const char *const busy[] = {"Starting", "Stopping", "Removing", "Creating",
					   "Waiting",  "Recreate", "Killing",  NULL};
	for (const char *const *b = busy; *b; b++)
		if (!strcmp(*b, st))
			return false;
	return true;
}

static void board_draw(board *b)
{
	size_t n = json_array_size(b->rows), done = 0, width = 0;
	json_t *r;
	size_t i;
	json_array_foreach(b->rows, i, r)
	{
		done += settled(json_string_value(json_array_get(r, 1)));
		size_t w = strlen(json_string_value(json_array_get(r, 0)));
		width = w > width ? w : width;
	}
	if (b->drawn)
		printf("\033[%dA", b->drawn);
	printf("\033[2K[+] Running %zu/%zu\n", done, n);
	double now = mono();
	json_array_foreach(b->rows, i, r)
	{
		const char *st = json_string_value(json_array_get(r, 1));
		const char *m = json_string_value(json_array_get(r, 2));
		bool err = !strcmp(st, "Error") || !strcmp(st, "Unhealthy");
		printf("\033[2K %s %-*s  %s%s%s  %.1fs\n",
		       err	     ? "\033[31m✘\033[0m"
		       : settled(st) ? "\033[32m✔\033[0m"
				     : "⠿",
		       (int)width, json_string_value(json_array_get(r, 0)), st, m ? ": " : "",
		       m ? m : "",
		       (settled(st) ? json_real_value(json_array_get(r, 4)) : now) -
			   json_real_value(json_array_get(r, 3)));
	}
	b->drawn = (int)n + 1;
	fflush(stdout);
}

static void board_event(board *b, json_t *e)
{
	const char *res = json_string_value(json_object_get(e, "Resource")) ?: "";
	const char *st = json_string_value(json_object_get(e, "Status")) ?: "";
	const char *m = json_string_value(json_object_get(e, "Message"));
	if (b->quiet)
		return;
	if (!b->redraw) {
		printf(" %s  %s%s%s\n", res, st, m ? ": " : "", m ? m : "");
		return;
	}
	json_t *r;
	size_t i;
	json_array_foreach(b->rows, i, r) if (!strcmp(json_string_value(json_array_get(r, 0)), res))
	{
		json_array_set_new(r, 1, json_string(st));
		json_array_set_new(r, 2, m ? json_string(m) : json_null());
		json_array_set_new(r, 4, json_real(mono())); /* the time it took so far */
		board_draw(b);
		return;
	}
	json_array_append_new(b->rows, json_pack("[ssoff]", res, st,
						 m ? json_string(m) : json_null(), mono(), mono()));
	board_draw(b);
}

/* Prints berthd's progress (in place on a terminal, unless plain); 0 when the last line says
 * it all worked. */
static int follow_ex(const char *method, const char *path, json_t *body, bool plain)
{
	client_stream s;
	berth_error err = BERTH_ERROR_INIT;
	if (client_open(method, path, body, false, &s, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	if (s.status >= 400) {
		json_t *out = NULL;
		client_body(&s, &out, &err);
		fprintf(stderr, "berth: Error response from daemon: %s\n",
			out	  ? client_message(out)
			: err.msg ? err.msg
				  : "?");
		json_decref(out);
		berth_error_clear(&err);
		client_close(&s);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	board bd = {.redraw = !plain && (!strcmp(progress_mode, "tty") ||
					 (!strcmp(progress_mode, "auto") && isatty(1))),
		    .quiet = !strcmp(progress_mode, "quiet"),
		    .rows = json_array()};
	_cleanup_strbuf_ strbuf buf = STRBUF_INIT;
	sb_addn(&buf, s.pending.buf ? s.pending.buf : "", s.pending.len);
	int rc = 1;
	bool done = false;
	char b[8192];
	while (!done) {
		char *nl;
		while (!done && buf.buf && (nl = strchr(buf.buf, '\n'))) {
			*nl = '\0';
			json_t *e = json_loads(buf.buf, 0, NULL);
			if (json_is_true(json_object_get(e, "Done"))) {
				const char *er = json_string_value(json_object_get(e, "Error"));
				if (er)
					fprintf(stderr, "Error response from daemon: %s\n", er);
				rc = er ? 1 : 0;
				done = true;
			} else if (e) {
				board_event(&bd, e);
			}
			json_decref(e);
			size_t used = (size_t)(nl - buf.buf) + 1;
			memmove(buf.buf, nl + 1, buf.len - used + 1);
			buf.len -= used;
		}
		if (done)
			break;
		ssize_t n = read(s.fd, b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "berth: berthd ended the answer before it was done\n");
			break;
		}
		sb_addn(&buf, b, (size_t)n);
	}
	json_decref(bd.rows);
	client_close(&s);
	return rc;
}

static int follow(const char *method, const char *path, json_t *body)
{
	return follow_ex(method, path, body, false);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wait_expired(int sig)
{
	static const char m[] = "berth compose up: timed out waiting for the project to be up "
				"(--wait-timeout)\n";
	(void)sig;
	if (write(2, m, sizeof m - 1) < 0)
		_exit(1);
	_exit(1);
}

json_t *compose_model(const composer_project *p, bool with_disabled)
{
	char *text = composer_project_json(p, false);
	json_t *model = json_loads(text, 0, NULL);
	free(text);
	/* secrets and configs from the environment: berthd does not have the user's */
	static const char *const kinds[] = {"secrets", "configs"};
	for (size_t i = 0; i < 2; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(model, kinds[i]), k, v)
		{
			const char *env = json_string_value(json_object_get(v, "environment"));
			const char *val = env ? getenv(env) : NULL;
			if (val && !json_object_get(v, "content"))
				json_object_set_new(v, "content", json_string(val));
		}
	}
	if (with_disabled && p->disabled) {
		/* services of profiles not enabled are the project's too (not orphans) */
		json_t *d = composer_node_to_json(p->disabled),
		       *svcs = json_object_get(model, "services");
		json_object_update_missing(svcs, d);
		json_decref(d);
	}
	return model;
}

json_t *compose_run_model(const compose_opts *po, const char **svc, size_t nsvc, bool nodeps,
			  composer_project **project, json_t **names)
{
	composer_project *p = compose_load(po, svc, nsvc);
	*project = p;
	*names = json_array();
	if (!p)
		return NULL;
	json_t *model = compose_model(p, false);
	if (!nsvc)
		return model;
	json_t *sel = model;
	composer_project *all = compose_load(po, NULL, 0);
	if (!all) {
		json_decref(sel);
		return NULL;
	}
	model = compose_model(all, false);
	composer_project_free(all);
	json_object_update_missing(json_object_get(model, "services"),
				   json_object_get(sel, "services"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(sel, "services"), k, v)
	{
		bool named = !nodeps;
		for (size_t i = 0; i < nsvc; i++)
			named |= !strcmp(svc[i], k);
		if (named)
			json_array_append_new(*names, json_string(k));
	}
	json_decref(sel);
	return model;
}

int compose_follow(const char *project, const char *op, json_t *body)
{
	_cleanup_free_ char *e = client_escape(project);
	_cleanup_free_ char *path = xasprintf("/projects/%s/%s", e, op);
	return follow("POST", path, body);
}

int compose_project_stop(const char *name, json_t *model, int timeout)
{
	json_t *body = json_pack("{s:O*}", "Project", model);
	if (timeout >= 0)
		json_object_set_new(body, "Timeout", json_integer(timeout));
	_cleanup_free_ char *e = client_escape(name);
	_cleanup_free_ char *path = xasprintf("/projects/%s/stop", e);
	/* beside the containers' output (attached up): one line an event */
	int rc = follow_ex("POST", path, body, true);
	json_decref(body);
	return rc;
}

static void add_name(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

int cmd_compose_up(int argc, char **argv, const compose_opts *po)
{
	bool detach = false, force = false, norecreate = false, nostart = false, wait = false,
	     orphans = false, dry = false, nodeps = false, abort_exit = false, prefix = true,
	     attach_deps = false, color = isatty(1);
	json_t *scale = json_object();
	long wait_timeout = 0, timeout = -1;
	const char **svc = NULL, **attach = NULL;
	const char *exit_from = NULL;
	size_t nsvc = 0, nattach = 0;
	int rc = 1;
	composer_project *p = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (a[0] != '-') {
			add_name(&svc, &nsvc, a);
		} else if (!strcmp(a, "-d") || !strcmp(a, "--detach")) {
			detach = true;
		} else if (!strcmp(a, "--force-recreate")) {
			force = true;
		} else if (!strcmp(a, "--no-recreate")) {
			norecreate = true;
		} else if (!strcmp(a, "--no-start")) {
			nostart = true;
		} else if (!strcmp(a, "--no-deps")) {
			nodeps = true;
		} else if (!strcmp(a, "--wait")) {
			wait = detach = true;
		} else if (!strcmp(a, "--remove-orphans")) {
			orphans = true;
		} else if (!strcmp(a, "--dry-run")) {
			dry = detach = true;
		} else if (!strcmp(a, "--abort-on-container-exit")) {
			abort_exit = true;
		} else if (!strcmp(a, "--attach-dependencies")) {
			attach_deps = true;
		} else if (!strcmp(a, "--no-log-prefix")) {
			prefix = false;
		} else if (!strcmp(a, "--no-color")) {
			color = false;
		} else if (!strcmp(a, "--no-build") || !strcmp(a, "--quiet-pull")) {
			/* nothing is built or pulled */
		} else if ((v = opt_value(argc, argv, &i, "--exit-code-from", NULL))) {
			exit_from = v;
			abort_exit = true;
		} else if ((v = opt_value(argc, argv, &i, "--attach", NULL))) {
			add_name(&attach, &nattach, v);
		} else if ((v = opt_value(argc, argv, &i, "--timeout", "-t"))) {
			timeout = atol(v);
		} else if ((v = opt_value(argc, argv, &i, "--pull", NULL))) {
			if (strcmp(v, "never") && strcmp(v, "missing")) {
				fprintf(stderr,
					"berth compose up: --pull %s: berth has no registry; "
					"images come from files (berth load)\n",
					v);
				goto out;
			}
		} else if (!strcmp(a, "--wait-timeout") || !strcmp(a, "--scale")) {
			v = i + 1 < argc ? argv[++i] : NULL;
			const char *eq = v ? strchr(v, '=') : NULL;
			if (!v || (a[2] == 's' && !eq) || (a[2] == 'w' && atol(v) <= 0)) {
				fprintf(stderr, "berth compose up: %s needs %s\n", a,
					a[2] == 's' ? "SERVICE=N" : "a number of seconds");
				goto out;
			}
			if (a[2] == 'w') {
				wait_timeout = atol(v);
			} else {
				_cleanup_free_ char *k = xstrndup(v, (size_t)(eq - v));
				json_object_set_new(scale, k, json_integer(atoi(eq + 1)));
			}
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf(
			    "Usage: berth compose up [OPTIONS] [SERVICE...]\n\n"
			    "Create and start containers\n\n"
			    "  -d, --detach                 Run in the background\n"
			    "      --wait                   Wait until running/healthy (implies "
			    "-d)\n"
			    "      --wait-timeout S         Give up waiting after S seconds\n"
			    "      --scale SVC=N            Run N containers of SVC\n"
			    "      --force-recreate         Recreate even when nothing changed\n"
			    "      --no-recreate            Keep existing containers as they are\n"
			    "      --no-deps                Not the named services' dependencies\n"
			    "      --no-start               Create only\n"
			    "      --remove-orphans         Remove containers of services not in "
			    "the file\n"
			    "      --abort-on-container-exit  Stop all when one exits (attached)\n"
			    "      --exit-code-from SVC     Exit with SVC's exit code (implies "
			    "--abort-on-container-exit)\n"
			    "      --attach SVC             Show only SVC's output (repeatable)\n"
			    "      --no-log-prefix          No container name before each line\n"
			    "      --no-color               No colours\n"
			    "  -t, --timeout S              Stop timeout when containers are "
			    "stopped\n"
			    "      --dry-run                Print the plan, do nothing\n");
			rc = 0;
			goto out;
		} else {
			fprintf(stderr, "berth compose up: %s is not supported yet\n", a);
			goto out;
		}
	}
	if (detach && (abort_exit || nattach)) {
		fprintf(stderr, "berth compose up: %s and --detach cannot be combined\n",
			exit_from    ? "--exit-code-from"
			: abort_exit ? "--abort-on-container-exit"
				     : "--attach");
		goto out;
	}
	json_t *names;
	json_t *model = compose_run_model(po, svc, nsvc, nodeps, &p, &names);
	if (!model) {
		json_decref(names);
		goto out;
	}
	if (exit_from && !json_object_get(json_object_get(model, "services"), exit_from)) {
		fprintf(stderr, "berth compose up: --exit-code-from: no such service: %s\n",
			exit_from);
		json_decref(model);
		json_decref(names);
		goto out;
	}
	json_t *body = json_pack("{s:O,s:o,s:b,s:b,s:b,s:b,s:b,s:O}", "Project", model, "Services",
				 names, "ForceRecreate", force, "NoRecreate", norecreate, "NoStart",
				 nostart, "Wait", wait, "RemoveOrphans", orphans, "Scale", scale);
	json_object_set_new(body, "DryRun", json_boolean(dry));
	if (timeout >= 0)
		json_object_set_new(body, "Timeout", json_integer(timeout));
	if (wait_timeout > 0) {
		/* --wait-timeout: the wait ends with an error (berthd goes on with the project) */
		signal(SIGALRM, wait_expired);
		alarm((unsigned)wait_timeout);
	}
	char *e = client_escape(p->name), *path = xasprintf("/projects/%s/up", e);
	double started = now_seconds();
	rc = follow("POST", path, body);
	json_decref(body);
	free(path);
	free(e);
	if (rc == 0 && !detach && !nostart) {
		/* attached: the output of this run's containers until they all end */
		char since[64];
		snprintf(since, sizeof since, "%.6f", started);
		watch_opts o = {.project = p->name,
				.model = model,
				.svc = nattach ? attach : svc,
				.nsvc = nattach	      ? nattach
					: attach_deps ? 0
						      : nsvc,
				.follow = true,
				.timestamps = false,
				.color = color,
				.prefix = prefix,
				.since = since,
				.attached = true,
				.abort_on_exit = abort_exit,
				.exit_from = exit_from,
				.timeout = (int)timeout};
		rc = compose_watch(&o);
	}
	json_decref(model);
out:
	json_decref(scale);
	composer_project_free(p);
	free(svc);
	free(attach);
	return rc;
}

int cmd_compose_down(int argc, char **argv, const compose_opts *po)
{
	bool volumes = false, orphans = false;
	long timeout = -1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--volumes")) {
			volumes = true;
		} else if (!strcmp(argv[i], "--remove-orphans")) {
			orphans = true;
		} else if ((v = opt_value(argc, argv, &i, "--timeout", "-t"))) {
			timeout = atol(v);
		} else if (!strcmp(argv[i], "--rmi")) {
			fprintf(stderr, "berth compose down: --rmi is not supported yet\n");
			return 1;
		} else {
			fprintf(stderr, "berth compose down: %s is not supported yet\n", argv[i]);
			return 1;
		}
	}
	composer_project *p;
	const char *name;
	if (load_or_name(po, &p, &name) < 0)
		return 1;
	json_t *body = json_pack("{s:b,s:b}", "Volumes", volumes, "RemoveOrphans", orphans);
	if (p) /* without the file: every container of the project */
		json_object_set_new(body, "Project", compose_model(p, true));
	if (timeout >= 0)
		json_object_set_new(body, "Timeout", json_integer(timeout));
	_cleanup_free_ char *e = client_escape(name);
	_cleanup_free_ char *path = xasprintf("/projects/%s/down", e);
	int rc = follow("POST", path, body);
	json_decref(body);
	composer_project_free(p);
	return rc;
}

/* berth compose stop [-t N] [SERVICE...]: dependents first */
static int compose_stop(int argc, char **argv, const compose_opts *po)
{
	long timeout = -1;
	json_t *names = json_array();
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--timeout", "-t")))
			timeout = atol(v);
		else if (argv[i][0] != '-')
			json_array_append_new(names, json_string(argv[i]));
		else {
			fprintf(stderr, "berth compose stop: %s is not supported yet\n", argv[i]);
			json_decref(names);
			return 1;
		}
	}
	composer_project *p;
	const char *name;
	if (load_or_name(po, &p, &name) < 0) {
		json_decref(names);
		return 1;
	}
	json_t *body = json_pack("{s:o}", "Services", names);
	if (p)
		json_object_set_new(body, "Project", compose_model(p, true));
	if (timeout >= 0)
		json_object_set_new(body, "Timeout", json_integer(timeout));
	_cleanup_free_ char *e = client_escape(name);
	_cleanup_free_ char *path = xasprintf("/projects/%s/stop", e);
	int rc = follow("POST", path, body);
	json_decref(body);
	composer_project_free(p);
	return rc;
}

/* berth compose ps [-a] [-q] [--services] [--status S] [--format table|json] [SERVICE...] */
int cmd_compose_ps(int argc, char **argv, const compose_opts *po)
{
	bool all = false, quiet = false, services = false, json = false;
	json_t *status = json_array();
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	int rc = 1;
	composer_project *p = NULL;
	json_t *out = NULL, *rows = NULL, *c;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "--services"))
			services = true;
		else if ((v = opt_value(argc, argv, &i, "--status", NULL)))
			json_array_append_new(status, json_string(v));
		else if ((v = opt_value(argc, argv, &i, "--format", NULL))) {
			if (strcmp(v, "json") && strcmp(v, "table")) {
				fprintf(stderr, "berth compose ps: --format %s: table or json\n",
					v);
				goto out;
			}
			json = !strcmp(v, "json");
		} else if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else {
			fprintf(stderr, "berth compose ps: %s is not supported yet\n", argv[i]);
			goto out;
		}
	}
	const char *project;
	if (load_or_name(po, &p, &project) < 0)
		goto out;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", "/containers/json?all=1", NULL, &out, &err);
	if (st != 200) {
		fprintf(stderr, "berth: %s\n", st < 0 ? err.msg : client_message(out));
		berth_error_clear(&err);
		goto out;
	}
	rows = json_pack("[[sssss]]", "NAME", "IMAGE", "SERVICE", "STATUS", "PORTS");
	json_t *seen = json_object();
	size_t i;
	json_array_foreach(out, i, c)
	{
		json_t *l = json_object_get(c, "Labels");
		const char *proj =
		    json_string_value(json_object_get(l, "com.docker.compose.project"));
		const char *s = json_string_value(json_object_get(l, "com.docker.compose.service"));
		const char *state = json_string_value(json_object_get(c, "State")) ?: "";
		if (!proj || !s || strcmp(proj, project))
			continue;
		bool named = compose_named(svc, ns, s), wanted = !json_array_size(status);
		json_t *w;
		size_t k;
		json_array_foreach(status, k, w) wanted |= !strcmp(json_string_value(w), state);
		/* without -a (or --status), only running containers */
		if (!named || !wanted ||
		    (!all && !json_array_size(status) && strcmp(state, "running")))
			continue;
		const char *name =
		    json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		if (services) {
			if (!json_object_get(seen, s))
				printf("%s\n", s);
			json_object_set_new(seen, s, json_true());
			continue;
		}
		if (quiet) {
			printf("%s\n", json_string_value(json_object_get(c, "Id")));
			continue;
		}
		if (json) {
			/* docker compose ps --format json: one object a line */
			json_t *o = json_pack(
			    "{s:O,s:s,s:O,s:O,s:s,s:s,s:O,s:O,s:O,s:O}", "ID",
			    json_object_get(c, "Id"), "Name", name ? name + 1 : "", "Image",
			    json_object_get(c, "Image"), "Command", json_object_get(c, "Command"),
			    "Project", proj, "Service", s, "State", json_object_get(c, "State"),
			    "Status", json_object_get(c, "Status"), "Labels", l, "Publishers",
			    json_object_get(c, "Ports"));
			char *t = json_dumps(o, JSON_COMPACT);
			printf("%s\n", t);
			free(t);
			json_decref(o);
			continue;
		}
		_cleanup_free_ char *ports = format_ports(json_object_get(c, "Ports"));
		json_array_append_new(rows,
				      json_pack("[ssOOs]", name ? name + 1 : "",
						json_string_value(json_object_get(c, "Image")),
						json_object_get(l, "com.docker.compose.service"),
						json_object_get(c, "Status"), ports));
	}
	json_decref(seen);
	if (!quiet && !services && !json)
		table_print(rows);
	rc = 0;
out:
	json_decref(rows);
	json_decref(out);
	json_decref(status);
	composer_project_free(p);
	free(svc);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the project's containers (only of the services given, if any), sorted. */
char **compose_containers(const char *project, const char *const *svc, size_t nsvc,
			  const char *state, size_t *n)
{
	json_t *out = NULL, *c;
	berth_error err = BERTH_ERROR_INIT;
	*n = 0;
	char **names = xcalloc(1, sizeof *names);
	if (client_call("GET", "/containers/json?all=1", NULL, &out, &err) != 200) {
		berth_error_clear(&err);
		json_decref(out);
		return names;
	}
	size_t i;
	json_array_foreach(out, i, c)
	{
		json_t *l = json_object_get(c, "Labels");
		const char *p = json_string_value(json_object_get(l, "com.docker.compose.project"));
		const char *s = json_string_value(json_object_get(l, "com.docker.compose.service"));
		const char *st = json_string_value(json_object_get(c, "State")) ?: "";
		if (!p || !s || strcmp(p, project))
			continue;
		if (!compose_named(svc, nsvc, s) ||
		    (state && (*state == '!' ? !strcmp(st, state + 1) : strcmp(st, state))))
			continue;
		const char *name =
		    json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		names = xrealloc(names, (*n + 2) * sizeof *names);
		/* the service after the name's end */
		names[*n] = xcalloc(1, strlen(name ? name : "/") + strlen(s) + 1);
		strcpy(names[*n], name ? name + 1 : "");
		strcpy(names[*n] + strlen(names[*n]) + 1, s);
		(*n)++;
		names[*n] = NULL;
	}
	json_decref(out);
	qsort(names, *n, sizeof *names, cmp_str);
	return names;
}

bool compose_named(const char *const *svc, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(svc[i], s))
			return true;
	return n == 0;
}

void compose_names_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/*
 * stop, start, restart, kill, rm, pause, unpause, top: the engine's command on the project's
 * containers (of the services named), with the flags given.
 */
static int delegate(int argc, char **argv, const compose_opts *po, int (*fn)(int, char **),
		    const char *state)
{
	const char **flags = xcalloc((size_t)argc + 1, sizeof *flags);
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t nf = 0, ns = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			flags[nf++] = argv[i];
			/* the flags that take a value */
			if (!strchr(argv[i], '=') && i + 1 < argc &&
			    (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timeout") ||
			     !strcmp(argv[i], "--time") || !strcmp(argv[i], "-s") ||
			     !strcmp(argv[i], "--signal")))
				flags[nf++] = argv[++i];
		} else {
			svc[ns++] = argv[i];
		}
	}
	int rc = 1;
	composer_project *p = compose_load(po, NULL, 0);
	if (p) {
		size_t n;
		char **names = compose_containers(p->name, svc, ns, state, &n);
		rc = 0;
		if (n) {
			char **av = xcalloc(1 + nf + n + 1, sizeof *av);
			size_t k = 0;
			av[k++] = argv[0];
			for (size_t i = 0; i < nf; i++)
				av[k++] = (char *)flags[i];
			for (size_t i = 0; i < n; i++)
				av[k++] = names[i];
			rc = fn((int)k, av);
			free(av);
		}
		compose_names_free(names);
		composer_project_free(p);
	}
	free(flags);
	free(svc);
	return rc;
}

/* berth compose start [SERVICE...]: each service once its dependencies' conditions hold */
static int compose_start(int argc, char **argv, const compose_opts *po)
{
	json_t *names = json_array();
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			json_array_append_new(names, json_string(argv[i]));
			continue;
		}
		fprintf(stderr, "berth compose start: %s is not supported yet\n", argv[i]);
		json_decref(names);
		return 1;
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p) {
		json_decref(names);
		return 1;
	}
	json_t *body = json_pack("{s:o,s:o,s:b}", "Project", compose_model(p, true), "Services",
				 names, "StartOnly", 1);
	int rc = compose_follow(p->name, "up", body);
	json_decref(body);
	composer_project_free(p);
	return rc;
}

/* berth compose restart [-t N] [SERVICE...]: the engine's restart of each service's
 * containers, the services in dependency order (a log follower sees a restart, not an end) */
static int compose_restart(int argc, char **argv, const compose_opts *po)
{
	const char **flags = xcalloc((size_t)argc + 1, sizeof *flags);
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t nf = 0, ns = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timeout")) &&
			 i + 1 < argc) {
			flags[nf++] = argv[i];
			flags[nf++] = argv[++i];
		} else
			flags[nf++] = argv[i];
	}
	int rc = 1;
	composer_project *p = compose_load(po, NULL, 0);
	berth_error err = BERTH_ERROR_INIT;
	size_t n = 0;
	char **order = p ? composer_service_order(p->model, &n, &err) : NULL;
	if (p && !order)
		fprintf(stderr, "berth compose restart: %s\n", err.msg);
	berth_error_clear(&err);
	for (size_t k = 0; order && k < n; k++) {
		size_t m = 0;
		const char *one[] = {order[k]};
		char **names = compose_named(svc, ns, order[k])
				   ? compose_containers(p->name, one, 1, NULL, &m)
				   : NULL;
		rc = 0;
		if (m) {
			char **av = xcalloc(1 + nf + m + 1, sizeof *av);
			size_t a = 0;
			av[a++] = "restart";
			for (size_t i = 0; i < nf; i++)
				av[a++] = (char *)flags[i];
			for (size_t i = 0; i < m; i++)
				av[a++] = names[i];
			rc = cmd_stop((int)a, av);
			free(av);
		}
		compose_names_free(names);
		if (rc)
			break; /* the error is printed; the rest stays as it is */
	}
	for (size_t k = 0; order && k < n; k++)
		free(order[k]);
	free(order);
	composer_project_free(p);
	free(flags);
	free(svc);
	return rc;
}

int cmd_compose_each(int argc, char **argv, const compose_opts *po)
{
	const char *c = argv[0];
	if (!strcmp(c, "stop"))
		return compose_stop(argc, argv, po);
	if (!strcmp(c, "start"))
		return compose_start(argc, argv, po);
	if (!strcmp(c, "restart"))
		return compose_restart(argc, argv, po);
	if (!strcmp(c, "kill"))
		return delegate(argc, argv, po, cmd_kill, "running");
	if (!strcmp(c, "pause"))
		return delegate(argc, argv, po, cmd_pause, "running");
	if (!strcmp(c, "unpause"))
		return delegate(argc, argv, po, cmd_pause, "paused");
	if (!strcmp(c, "top"))
		return delegate(argc, argv, po, cmd_top, "running");
	if (!strcmp(c, "rm")) {
		/* the stopped containers (docker compose rm -f; -s stops them first) */
		bool s = false;
		for (int i = 1; i < argc; i++)
			s |= !strcmp(argv[i], "-s") || !strcmp(argv[i], "--stop");
		if (s) {
			char *stop[] = {"stop", NULL};
			int r = compose_stop(1, stop, po);
			if (r)
				return r;
		}
		int k = 0;
		char **av = xcalloc((size_t)argc + 1, sizeof *av);
		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], "-s") && strcmp(argv[i], "--stop") &&
			    strcmp(argv[i], "-f") && strcmp(argv[i], "--force"))
				av[k++] = argv[i];
		int r = delegate(k, av, po, cmd_rm, "!running");
		free(av);
		return r;
	}
	return 1;
}

/* berth compose port SERVICE PRIVATE_PORT[/PROTO] [--index N] */
int cmd_compose_port(int argc, char **argv, const compose_opts *po)
{
	const char *svc = NULL, *port = NULL, *idx = "1";
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--index", NULL)))
			idx = v;
		else if (!svc)
			svc = argv[i];
		else if (!port)
			port = argv[i];
	}
	if (!svc || !port) {
		fprintf(stderr, "Usage: berth compose port [--index N] SERVICE PRIVATE_PORT\n");
		return 1;
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p)
		return 1;
	_cleanup_free_ char *name = compose_service_container(p->name, svc, idx);
	if (!name) {
		fprintf(stderr, "berth compose port: service \"%s\" has no container number %s\n",
			svc, idx);
		composer_project_free(p);
		return 1;
	}
	char *av[] = {"port", name, (char *)port, NULL};
	int r = cmd_port(3, av);
	composer_project_free(p);
	return r;
}

/* berth compose ls [-a] [-q]: projects, from their containers' labels */
int cmd_compose_ls(int argc, char **argv)
{
	bool all = false, quiet = false;
	for (int i = 1; i < argc; i++) {
		all |= !strcmp(argv[i], "-a") || !strcmp(argv[i], "--all");
		quiet |= !strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet");
	}
	json_t *out = NULL, *c;
	berth_error err = BERTH_ERROR_INIT;
	if (client_call("GET", "/containers/json?all=1", NULL, &out, &err) != 200) {
		fprintf(stderr, "berth: %s\n", err.msg ? err.msg : client_message(out));
		berth_error_clear(&err);
		json_decref(out);
		return 1;
	}
	json_t *projects = json_object(); /* name -> {state: count} */
	size_t i;
	json_array_foreach(out, i, c)
	{
		const char *p = json_string_value(
		    json_object_get(json_object_get(c, "Labels"), "com.docker.compose.project"));
		if (!p)
			continue;
		json_t *states = json_object_get(projects, p);
		if (!states)
			json_object_set_new(projects, p, states = json_object());
		const char *st = json_string_value(json_object_get(c, "State")) ?: "unknown";
		json_object_set_new(
		    states, st, json_integer(json_integer_value(json_object_get(states, st)) + 1));
	}
	json_t *rows = json_pack("[[ss]]", "NAME", "STATUS");
	const char *k;
	json_t *states;
	json_object_foreach(projects, k, states)
	{
		if (!all && !json_object_get(states, "running"))
			continue;
		if (quiet) {
			printf("%s\n", k);
			continue;
		}
		_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
		const char *st;
		json_t *n;
		json_object_foreach(states, st, n) sb_addf(&sb, "%s%s(%lld)", sb.len ? ", " : "",
							   st, (long long)json_integer_value(n));
		json_array_append_new(rows, json_pack("[ss]", k, sb.buf));
	}
	if (!quiet)
		table_print(rows);
	json_decref(rows);
	json_decref(projects);
	json_decref(out);
	return 0;
}

/* berth compose exec [-T] [-d] [-u U] [-w DIR] [-e K=V] [--index N] SERVICE CMD... */
int cmd_compose_exec(int argc, char **argv, const compose_opts *po)
{
	char **av = xcalloc((size_t)argc + 4, sizeof *av);
	int k = 0, i = 1;
	bool notty = false, detach = false;
	const char *idx = "1";
	av[k++] = "exec";
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "-T") || !strcmp(a, "--no-TTY") || !strcmp(a, "--no-tty")) {
			notty = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--detach")) {
			detach = true;
			av[k++] = "-d";
		} else if ((v = opt_value(argc, argv, &i, "--index", NULL))) {
			idx = v;
		} else if (!strcmp(a, "-u") || !strcmp(a, "--user") || !strcmp(a, "-w") ||
			   !strcmp(a, "--workdir") || !strcmp(a, "-e") || !strcmp(a, "--env")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "berth compose exec: %s needs a value\n", a);
				free(av);
				return 1;
			}
			av[k++] = argv[i];
			av[k++] = argv[++i];
		} else {
			fprintf(stderr, "berth compose exec: %s is not supported yet\n", a);
			free(av);
			return 1;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "Usage: berth compose exec [OPTIONS] SERVICE COMMAND [ARGS...]\n");
		free(av);
		return 1;
	}
	if (!detach) {
		av[k++] = "-i";
		if (!notty && isatty(0))
			av[k++] = "-t";
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p) {
		free(av);
		return 1;
	}
	_cleanup_free_ char *name = compose_service_container(p->name, argv[i], idx);
	if (!name) {
		fprintf(stderr, "service \"%s\" is not running\n", argv[i]);
		free(av);
		composer_project_free(p);
		return 1;
	}
	av[k++] = name;
	char **full = xcalloc((size_t)(k + argc - i), sizeof *full);
	memcpy(full, av, (size_t)k * sizeof *av);
	int n = k;
	for (int j = i + 1; j < argc; j++)
		full[n++] = argv[j];
	int r = cmd_exec(n, full);
	free(full);
	free(av);
	composer_project_free(p);
	return r;
}
