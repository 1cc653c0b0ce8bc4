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
#include <unistd.h>

static composer_project *load(const compose_opts *po, const char **svc, size_t nsvc)
{
	composer_options o;
	compose_loader_options(po, svc, nsvc, &o);
	_cleanup_error_ berth_error err = BERTH_ERROR_INIT;
	composer_project *p = composer_load(&o, &err);
	if (!p)
		fprintf(stderr, "%s\n", err.msg);
	return p;
}

/* Prints berthd's progress lines; 0 when the last one says it all worked. */
static int follow(const char *method, const char *path, json_t *body)
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
				const char *m = json_string_value(json_object_get(e, "Message"));
				printf(" %s  %s%s%s\n",
				       json_string_value(json_object_get(e, "Resource")),
				       json_string_value(json_object_get(e, "Status")),
				       m ? ": " : "", m ? m : "");
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
	client_close(&s);
	return rc;
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

int cmd_compose_up(int argc, char **argv, const compose_opts *po)
{
	bool detach = false, force = false, norecreate = false, nostart = false, wait = false,
	     orphans = false, dry = false;
	json_t *scale = json_object();
	long wait_timeout = 0;
	const char **svc = NULL;
	size_t nsvc = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			svc = xrealloc(svc, (nsvc + 1) * sizeof *svc);
			svc[nsvc++] = a;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--detach")) {
			detach = true;
		} else if (!strcmp(a, "--force-recreate")) {
			force = true;
		} else if (!strcmp(a, "--no-recreate")) {
			norecreate = true;
		} else if (!strcmp(a, "--no-start")) {
			nostart = true;
		} else if (!strcmp(a, "--wait")) {
			wait = detach = true;
		} else if (!strcmp(a, "--remove-orphans")) {
			orphans = true;
		} else if (!strcmp(a, "--dry-run")) {
			dry = detach = true;
		} else if (!strcmp(a, "--wait-timeout") || !strcmp(a, "--scale")) {
			const char *v = i + 1 < argc ? argv[++i] : NULL;
			const char *eq = v ? strchr(v, '=') : NULL;
			if (!v || (a[2] == 's' && !eq) || (a[2] == 'w' && atol(v) <= 0)) {
				fprintf(stderr, "berth compose up: %s needs %s\n", a,
					a[2] == 's' ? "SERVICE=N" : "a number of seconds");
				free(svc);
				json_decref(scale);
				return 1;
			}
			if (a[2] == 'w') {
				wait_timeout = atol(v);
			} else {
				_cleanup_free_ char *k = xstrndup(v, (size_t)(eq - v));
				json_object_set_new(scale, k, json_integer(atoi(eq + 1)));
			}
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("Usage: berth compose up -d [--wait] [--wait-timeout S] [--scale "
			       "SVC=N] "
			       "[--force-recreate] [--no-recreate] [--no-start] [--remove-orphans] "
			       "[--dry-run] [SERVICE...]\n\nCreate and start containers\n");
			free(svc);
			json_decref(scale);
			return 0;
		} else {
			fprintf(stderr, "berth compose up: %s is not supported yet\n", a);
			free(svc);
			json_decref(scale);
			return 1;
		}
	}
	if (!detach && !nostart) {
		fprintf(stderr, "berth compose up: only -d (detached) is supported yet\n");
		free(svc);
		json_decref(scale);
		return 1;
	}
	composer_project *p = load(po, svc, nsvc);
	if (!p) {
		free(svc);
		json_decref(scale);
		return 1;
	}
	char *text = composer_project_json(p, false);
	json_t *model = json_loads(text, 0, NULL);
	free(text);
	json_t *names = json_array();
	for (size_t i = 0; i < nsvc; i++)
		json_array_append_new(names, json_string(svc[i]));
	json_t *body = json_pack("{s:o,s:o,s:b,s:b,s:b,s:b,s:b,s:o}", "Project", model, "Services",
				 names, "ForceRecreate", force, "NoRecreate", norecreate, "NoStart",
				 nostart, "Wait", wait, "RemoveOrphans", orphans, "Scale", scale);
	json_object_set_new(body, "DryRun", json_boolean(dry));
	if (wait_timeout > 0) {
		/* --wait-timeout: the wait ends with an error (berthd goes on with the project) */
		signal(SIGALRM, wait_expired);
		alarm((unsigned)wait_timeout);
	}
	_cleanup_free_ char *e = client_escape(p->name);
	_cleanup_free_ char *path = xasprintf("/projects/%s/up", e);
	int rc = follow("POST", path, body);
	json_decref(body);
	composer_project_free(p);
	free(svc);
	return rc;
}

int cmd_compose_down(int argc, char **argv, const compose_opts *po)
{
	bool volumes = false;
	const char *t = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--volumes")) {
			volumes = true;
		} else if ((v = opt_value(argc, argv, &i, "--timeout", "-t"))) {
			t = v;
		} else {
			fprintf(stderr, "berth compose down: %s is not supported yet\n", argv[i]);
			return 1;
		}
	}
	composer_project *p = load(po, NULL, 0);
	if (!p)
		return 1;
	_cleanup_free_ char *e = client_escape(p->name);
	_cleanup_free_ char *path =
	    xasprintf("/projects/%s/down?v=%d%s%s", e, volumes, t ? "&t=" : "", t ? t : "");
	int rc = follow("POST", path, NULL);
	composer_project_free(p);
	return rc;
}

int cmd_compose_ps(int argc, char **argv, const compose_opts *po)
{
	bool all = false, quiet = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else {
			fprintf(stderr, "berth compose ps: %s is not supported yet\n", argv[i]);
			return 1;
		}
	}
	composer_project *p = load(po, NULL, 0);
	if (!p)
		return 1;
	json_t *out = NULL, *c;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", "/containers/json?all=1", NULL, &out, &err);
	if (st != 200) {
		fprintf(stderr, "berth: %s\n", st < 0 ? err.msg : client_message(out));
		berth_error_clear(&err);
		json_decref(out);
		composer_project_free(p);
		return 1;
	}
	json_t *rows = json_pack("[[sssss]]", "NAME", "IMAGE", "SERVICE", "STATUS", "PORTS");
	size_t i;
	json_array_foreach(out, i, c)
	{
		json_t *l = json_object_get(c, "Labels");
		const char *proj =
		    json_string_value(json_object_get(l, "com.docker.compose.project"));
		if (!proj || strcmp(proj, p->name))
			continue;
		if (!all && strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running"))
			continue;
		const char *name =
		    json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		if (quiet) {
			printf("%s\n", json_string_value(json_object_get(c, "Id")));
			continue;
		}
		_cleanup_free_ char *ports = format_ports(json_object_get(c, "Ports"));
		json_array_append_new(rows,
				      json_pack("[ssOOs]", name ? name + 1 : "",
						json_string_value(json_object_get(c, "Image")),
						json_object_get(l, "com.docker.compose.service"),
						json_object_get(c, "Status"), ports));
	}
	if (!quiet)
		table_print(rows);
	json_decref(rows);
	json_decref(out);
	composer_project_free(p);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the project's containers (only of the services given, if any), sorted. */
static char **project_containers(const char *project, const char *const *svc, size_t nsvc,
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
		bool named = !nsvc;
		for (size_t k = 0; k < nsvc; k++)
			named |= !strcmp(svc[k], s);
		if (!named ||
		    (state && (*state == '!' ? !strcmp(st, state + 1) : strcmp(st, state))))
			continue;
		const char *name =
		    json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		names = xrealloc(names, (*n + 2) * sizeof *names);
		names[(*n)++] = xstrdup(name ? name + 1 : "");
		names[*n] = NULL;
	}
	json_decref(out);
	qsort(names, *n, sizeof *names, cmp_str);
	return names;
}

static void names_free(char **v)
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
	composer_project *p = load(po, NULL, 0);
	if (p) {
		size_t n;
		char **names = project_containers(p->name, svc, ns, state, &n);
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
		names_free(names);
		composer_project_free(p);
	}
	free(flags);
	free(svc);
	return rc;
}

int cmd_compose_each(int argc, char **argv, const compose_opts *po)
{
	const char *c = argv[0];
	if (!strcmp(c, "stop") || !strcmp(c, "restart"))
		return delegate(argc, argv, po, cmd_stop, !strcmp(c, "stop") ? "running" : NULL);
	if (!strcmp(c, "start"))
		return delegate(argc, argv, po, cmd_start, "!running");
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
			int r = delegate(1, stop, po, cmd_stop, "running");
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
	composer_project *p = load(po, NULL, 0);
	if (!p)
		return 1;
	_cleanup_free_ char *name = xasprintf("%s-%s-%s", p->name, svc, idx);
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
	composer_project *p = load(po, NULL, 0);
	if (!p) {
		free(av);
		return 1;
	}
	_cleanup_free_ char *name = xasprintf("%s-%s-%s", p->name, argv[i], idx);
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

/* One container's log stream in compose logs. */
typedef struct {
	client_stream s;
	char *prefix;
	bool raw; /* a tty container's stream: no frames */
	strbuf in, line[2];
	bool open, opened;
} log_src;

static void log_line(log_src *l, int which, const char *p, size_t n, bool prefix)
{
	FILE *out = which == 2 ? stderr : stdout;
	strbuf *lb = &l->line[which == 2];
	sb_addn(lb, p, n);
	char *nl;
	while (lb->buf && (nl = memchr(lb->buf, '\n', lb->len))) {
		size_t len = (size_t)(nl - lb->buf) + 1;
		if (prefix)
			fputs(l->prefix, out);
		fwrite(lb->buf, 1, len, out);
		memmove(lb->buf, lb->buf + len, lb->len - len);
		lb->len -= len;
	}
	fflush(out);
}

/* berth compose logs [-f] [--tail N] [-t] [--since T] [--no-color] [--no-log-prefix] [SVC...] */
int cmd_compose_logs(int argc, char **argv, const compose_opts *po)
{
	bool follow = false, ts = false, color = isatty(1), prefix = true;
	const char *tail = NULL, *since = NULL;
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = true;
		else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timestamps"))
			ts = true;
		else if (!strcmp(argv[i], "--no-color"))
			color = false;
		else if (!strcmp(argv[i], "--no-log-prefix"))
			prefix = false;
		else if ((v = opt_value(argc, argv, &i, "--tail", "-n")))
			tail = v;
		else if ((v = opt_value(argc, argv, &i, "--since", NULL)))
			since = v;
		else if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else {
			fprintf(stderr, "berth compose logs: %s is not supported yet\n", argv[i]);
			free(svc);
			return 1;
		}
	}
	composer_project *p = load(po, NULL, 0);
	if (!p) {
		free(svc);
		return 1;
	}
	size_t n;
	char **names = project_containers(p->name, svc, ns, NULL, &n);
	free(svc);
	size_t width = 0;
	for (size_t i = 0; i < n; i++)
		width = strlen(names[i]) > width ? strlen(names[i]) : width;
	log_src *src = xcalloc(n + 1, sizeof *src);
	struct pollfd *pf = xcalloc(n + 1, sizeof *pf);
	_cleanup_free_ char *te = tail ? client_escape(tail) : NULL;
	_cleanup_free_ char *se = since ? client_escape(since) : NULL;
	for (size_t i = 0; i < n; i++) {
		/* docker compose's colours, one per container in turn */
		static const int colours[] = {36, 33, 32, 35, 34, 31};
		src[i].prefix = color ? xasprintf("\033[%dm%-*s |\033[0m ", colours[i % 6],
						  (int)width, names[i])
				      : xasprintf("%-*s | ", (int)width, names[i]);
		_cleanup_free_ char *e = client_escape(names[i]);
		_cleanup_free_ char *path = xasprintf(
		    "/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d%s%s%s%s", e,
		    follow, ts, te ? "&tail=" : "", te ? te : "", se ? "&since=" : "",
		    se ? se : "");
		berth_error err = BERTH_ERROR_INIT;
		pf[i].fd = -1;
		if (client_open("GET", path, NULL, false, &src[i].s, &err) < 0) {
			berth_error_clear(&err);
			continue;
		}
		if (src[i].s.status != 200) {
			client_close(&src[i].s);
			continue;
		}
		src[i].open = src[i].opened = true;
		src[i].raw = !strcmp(src[i].s.content_type, "application/vnd.docker.raw-stream");
		sb_addn(&src[i].in, src[i].s.pending.buf ? src[i].s.pending.buf : "",
			src[i].s.pending.len);
		pf[i].fd = src[i].s.fd;
		pf[i].events = POLLIN;
	}
	size_t open = 0;
	for (size_t i = 0; i < n; i++)
		open += src[i].open;
	for (;;) {
		/* whatever is buffered: whole frames (or raw bytes) to lines */
		for (size_t i = 0; i < n; i++) {
			log_src *l = &src[i];
			if (l->raw) {
				log_line(l, 1, l->in.buf ? l->in.buf : "", l->in.len, prefix);
				l->in.len = 0;
				continue;
			}
			while (l->in.len >= 8) {
				const unsigned char *h = (const unsigned char *)l->in.buf;
				size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
					     (size_t)h[6] << 8 | h[7];
				if (l->in.len < 8 + len)
					break;
				log_line(l, h[0], l->in.buf + 8, len, prefix);
				memmove(l->in.buf, l->in.buf + 8 + len, l->in.len - 8 - len);
				l->in.len -= 8 + len;
			}
		}
		if (!open)
			break;
		if (poll(pf, n, -1) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++) {
			if (!src[i].open || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char b[16384];
			ssize_t r = read(src[i].s.fd, b, sizeof b);
			if (r > 0) {
				sb_addn(&src[i].in, b, (size_t)r);
			} else if (r == 0 || errno != EINTR) {
				src[i].open = false;
				pf[i].fd = -1;
				open--;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) /* a last line without its newline */
			if (src[i].line[k].len) {
				log_line(&src[i], k ? 2 : 1, "\n", 1, prefix);
			}
		if (src[i].opened)
			client_close(&src[i].s);
		free(src[i].prefix);
		sb_release(&src[i].in);
		sb_release(&src[i].line[0]);
		sb_release(&src[i].line[1]);
	}
	free(src);
	free(pf);
	names_free(names);
	composer_project_free(p);
	return 0;
}
