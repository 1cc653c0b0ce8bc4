/*
 * berth compose run, create, scale, images, wait, events and cp: the
 * commands built from the others (up, the engine's run, wait, cp and events)
 * on the project's containers, found by their com.docker.compose.* labels.
 */
#include "cli.h"
#include "client.h"
#include "compose_opts.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The name of a service's container number idx (container_name included); NULL if none. */
char *compose_service_container(const char *project, const char *svc, const char *idx)
{
	json_t *out = NULL, *c;
	char *name = NULL;
	if (client_call("GET", "/containers/json?all=1", NULL, &out, NULL) != 200) {
		json_decref(out);
		return NULL;
	}
	size_t i;
	json_array_foreach(out, i, c)
	{
		json_t *l = json_object_get(c, "Labels");
		const char *p = json_string_value(json_object_get(l, "com.docker.compose.project"));
		const char *s = json_string_value(json_object_get(l, "com.docker.compose.service"));
		const char *n =
		    json_string_value(json_object_get(l, "com.docker.compose.container-number"));
		const char *o = json_string_value(json_object_get(l, "com.docker.compose.oneoff"));
		const char *cn = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		if (p && s && n && cn && !strcmp(p, project) && !strcmp(s, svc) &&
		    !strcmp(n, idx) && !(o && !strcmp(o, "True"))) {
			name = xstrdup(cn + 1);
			break;
		}
	}
	json_decref(out);
	return name;
}

/* ---- run ---- */

/* Sets NAME=VALUE in a create body's Env, replacing an earlier NAME. */
static void set_env(json_t *body, const char *kv)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *full = eq ? xstrdup(kv) : NULL;
	if (!eq) {
		const char *v = getenv(kv); /* -e NAME: from this environment, or left out */
		if (!v)
			return;
		full = xasprintf("%s=%s", kv, v);
		eq = full + strlen(kv);
	}
	size_t klen = (size_t)(strchr(full, '=') - full);
	json_t *env = json_object_get(body, "Env");
	if (!json_is_array(env))
		json_object_set_new(body, "Env", env = json_array());
	json_t *e;
	size_t i;
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		if (s && !strncmp(s, full, klen + 1)) {
			json_array_set_new(env, i, json_string(full));
			return;
		}
	}
	json_array_append_new(env, json_string(full));
}

static int run_usage(FILE *f)
{
	fputs("Usage: berth compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]\n\n"
	      "Run a one-off command on a service\n\n"
	      "  -d, --detach            Run in the background, print the container's name\n"
	      "      --rm                Remove the container when it exits\n"
	      "      --name NAME         The container's name\n"
	      "  -e, --env K=V           Set an environment variable (repeatable)\n"
	      "  -l, --label K=V         Add a label (repeatable)\n"
	      "  -u, --user USER         Run as USER\n"
	      "  -w, --workdir DIR       Working directory\n"
	      "      --entrypoint CMD    Override the entrypoint\n"
	      "  -v, --volume SRC:DST    Bind a volume (repeatable)\n"
	      "  -p, --publish PORTS     Publish a port (repeatable)\n"
	      "  -P, --service-ports     Publish the service's ports\n"
	      "      --use-aliases       Use the service's network aliases\n"
	      "      --no-deps           Don't start the service's dependencies\n"
	      "  -T, --no-TTY            No terminal (default: one when stdin is one)\n"
	      "  -i, --interactive       Keep stdin open (the default)\n",
	      f);
	return f == stdout ? 0 : 1;
}

int cmd_compose_run(int argc, char **argv, const compose_opts *po)
{
	bool detach = false, rm = false, nodeps = false, notty = false, service_ports = false,
	     aliases = false;
	const char *name = NULL, *entrypoint = NULL;
	json_t *flags = json_array(); /* [flag, value] for run's flags, applied to the body */
	int i = 1, rc = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "-d") || !strcmp(a, "--detach"))
			detach = true;
		else if (!strcmp(a, "--rm"))
			rm = true;
		else if (!strcmp(a, "--no-deps"))
			nodeps = true;
		else if (!strcmp(a, "-T") || !strcmp(a, "--no-TTY") || !strcmp(a, "--no-tty"))
			notty = true;
		else if (!strcmp(a, "-i") || !strcmp(a, "--interactive"))
			;
		else if (!strcmp(a, "-P") || !strcmp(a, "--service-ports"))
			service_ports = true;
		else if (!strcmp(a, "--use-aliases"))
			aliases = true;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			json_decref(flags);
			return run_usage(stdout);
		} else if ((v = opt_value(argc, argv, &i, "--name", NULL)))
			name = v;
		else if ((v = opt_value(argc, argv, &i, "--entrypoint", NULL)))
			entrypoint = v;
		else if ((v = opt_value(argc, argv, &i, "--env", "-e")))
			json_array_append_new(flags, json_pack("[ss]", "env", v));
		else if ((v = opt_value(argc, argv, &i, "--label", "-l")))
			json_array_append_new(flags, json_pack("[ss]", "label", v));
		else if ((v = opt_value(argc, argv, &i, "--user", "-u")))
			json_array_append_new(flags, json_pack("[ss]", "user", v));
		else if ((v = opt_value(argc, argv, &i, "--workdir", "-w")))
			json_array_append_new(flags, json_pack("[ss]", "workdir", v));
		else if ((v = opt_value(argc, argv, &i, "--volume", "-v")))
			json_array_append_new(flags, json_pack("[ss]", "volume", v));
		else if ((v = opt_value(argc, argv, &i, "--publish", "-p")))
			json_array_append_new(flags, json_pack("[ss]", "publish", v));
		else {
			fprintf(stderr, "berth compose run: %s is not supported yet\n", a);
			json_decref(flags);
			return 1;
		}
	}
	if (i >= argc) {
		json_decref(flags);
		return run_usage(stderr);
	}
	const char *svc = argv[i++];
	composer_project *p = NULL;
	json_t *deps = NULL, *body = NULL;
	char *cname = NULL;
	json_t *model = compose_run_model(po, &svc, 1, false, &p, &deps);
	if (!model)
		goto out;
	json_object_set_new(model, "name", json_string(p->name));
	/* the dependencies are brought up first; the networks and volumes in any case */
	json_t *others = json_array(), *d;
	size_t k;
	json_array_foreach(deps, k, d) if (strcmp(json_string_value(d), svc) && !nodeps)
	    json_array_append(others, d);
	bool alone = !json_array_size(others);
	json_t *up =
	    json_pack("{s:O,s:o,s:b}", "Project", model, "Services",
		      alone ? json_pack("[s]", svc) : json_incref(others), "NetworksOnly", alone);
	json_decref(others);
	int r = compose_follow(p->name, "up", up);
	json_decref(up);
	if (r)
		goto out;
	berth_error err = BERTH_ERROR_INIT;
	body = composer_container_body(model, svc, 1, &err);
	if (!body) {
		fprintf(stderr, "berth compose run: %s\n", err.msg);
		berth_error_clear(&err);
		goto out;
	}
	/* a one-off: <project>-<service>-run-<id>, labelled so, without the service's restart
	 * policy, published ports (but with -P) and network aliases (but with --use-aliases) */
	unsigned char rnd[6];
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		memset(rnd, 0, sizeof rnd);
	cname = name ? xstrdup(name)
		     : xasprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", p->name, svc, rnd[0], rnd[1],
				 rnd[2], rnd[3], rnd[4], rnd[5]);
	json_object_del(body, "Name");
	json_t *labels = json_object_get(body, "Labels");
	json_object_set_new(labels, "com.docker.compose.oneoff", json_string("True"));
	json_object_del(labels, "com.docker.compose.config-hash");
	json_t *hc = json_object_get(body, "HostConfig");
	json_object_del(hc, "RestartPolicy");
	if (!service_ports)
		json_object_del(hc, "PortBindings");
	const char *nk;
	json_t *ep;
	json_object_foreach(
	    json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig"), nk,
	    ep) if (!aliases) json_object_del(ep, "Aliases");
	if (i < argc) {
		json_t *cmd = json_array();
		for (; i < argc; i++)
			json_array_append_new(cmd, json_string(argv[i]));
		json_object_set_new(body, "Cmd", cmd);
	}
	if (entrypoint) {
		json_t *ent = json_array();
		_cleanup_free_ char *dup = xstrdup(entrypoint);
		for (char *save = NULL, *w = strtok_r(dup, " \t", &save); w;
		     w = strtok_r(NULL, " \t", &save))
			json_array_append_new(ent, json_string(w));
		json_object_set_new(body, "Entrypoint", ent);
	}
	json_t *f;
	json_array_foreach(flags, k, f)
	{
		const char *fl = json_string_value(json_array_get(f, 0));
		const char *v = json_string_value(json_array_get(f, 1));
		if (!strcmp(fl, "env"))
			set_env(body, v);
		else if (run_flag(body, fl, v) < 0)
			goto out;
	}
	bool tty = !notty && !detach && isatty(0);
	rc = run_body(body, cname, detach, !detach, tty, rm);
out:
	free(cname);
	json_decref(body);
	json_decref(model);
	json_decref(deps);
	json_decref(flags);
	composer_project_free(p);
	return rc;
}

/* ---- create, scale ---- */

/* berth compose create [SERVICE...]: up --no-start */
int cmd_compose_create(int argc, char **argv, const compose_opts *po)
{
	char **av = xcalloc((size_t)argc + 2, sizeof *av);
	av[0] = "up";
	av[1] = "--no-start";
	for (int i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	int r = cmd_compose_up(argc + 1, av, po);
	free(av);
	return r;
}

/* berth compose scale [--no-deps] SERVICE=N...: up -d --scale SERVICE=N SERVICE */
int cmd_compose_scale(int argc, char **argv, const compose_opts *po)
{
	char **av = xcalloc((size_t)argc * 3 + 2, sizeof *av);
	int n = 0;
	av[n++] = "up";
	av[n++] = "-d";
	char **names = xcalloc((size_t)argc + 1, sizeof *names);
	int nn = 0;
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!strcmp(argv[i], "--no-deps")) {
			av[n++] = argv[i];
		} else if (!eq || eq == argv[i] || argv[i][0] == '-') {
			fprintf(stderr, "berth compose scale: %s: expected SERVICE=REPLICAS\n",
				argv[i]);
			for (int k = 0; k < nn; k++)
				free(names[k]);
			free(names);
			free(av);
			return 1;
		} else {
			av[n++] = "--scale";
			av[n++] = argv[i];
			names[nn++] = xstrndup(argv[i], (size_t)(eq - argv[i]));
		}
	}
	for (int k = 0; k < nn; k++)
		av[n++] = names[k];
	int r = nn ? cmd_compose_up(n, av, po) : 1;
	if (!nn)
		fprintf(stderr, "Usage: berth compose scale [--no-deps] SERVICE=REPLICAS...\n");
	for (int k = 0; k < nn; k++)
		free(names[k]);
	free(names);
	free(av);
	return r;
}

/* ---- images ---- */

/* berth compose images [-q] [SERVICE...] */
int cmd_compose_images(int argc, char **argv, const compose_opts *po)
{
	bool quiet = false;
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else {
			fprintf(stderr, "berth compose images: %s is not supported yet\n", argv[i]);
			free(svc);
			return 1;
		}
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p) {
		free(svc);
		return 1;
	}
	json_t *out = NULL, *c;
	int rc = 1;
	if (client_call("GET", "/containers/json?all=1", NULL, &out, NULL) != 200)
		goto done;
	json_t *rows = json_pack("[[sssss]]", "CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
	json_t *seen = json_object();
	size_t i;
	json_array_foreach(out, i, c)
	{
		json_t *l = json_object_get(c, "Labels");
		const char *pr =
		    json_string_value(json_object_get(l, "com.docker.compose.project"));
		const char *s = json_string_value(json_object_get(l, "com.docker.compose.service"));
		if (!pr || !s || strcmp(pr, p->name) || !compose_named(svc, ns, s))
			continue;
		const char *img = json_string_value(json_object_get(c, "Image")) ?: "";
		const char *id = json_string_value(json_object_get(c, "ImageID")) ?: "";
		_cleanup_free_ char *hex = xstrndup(strncmp(id, "sha256:", 7) ? id : id + 7, 12);
		if (quiet) {
			if (!json_object_get(seen, id))
				printf("%s\n", id);
			json_object_set_new(seen, id, json_true());
			continue;
		}
		_cleanup_free_ char *repo = xstrdup(img);
		char *colon = strrchr(repo, ':');
		const char *tag = "latest";
		if (colon && !strchr(colon, '/')) {
			*colon = '\0';
			tag = colon + 1;
		}
		_cleanup_free_ char *e = client_escape(img);
		_cleanup_free_ char *path = xasprintf("/images/%s/json", e);
		json_t *im = NULL;
		client_call("GET", path, NULL, &im, NULL);
		_cleanup_free_ char *size =
		    human_bytes((long long)json_integer_value(json_object_get(im, "Size")));
		json_decref(im);
		const char *cn = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		json_array_append_new(rows,
				      json_pack("[sssss]", cn ? cn + 1 : "", repo, tag, hex, size));
	}
	if (!quiet)
		table_print(rows);
	json_decref(rows);
	json_decref(seen);
	rc = 0;
done:
	json_decref(out);
	composer_project_free(p);
	free(svc);
	return rc;
}

/* ---- wait ---- */

/* berth compose wait SERVICE...: until their containers stop; the first one's exit status */
int cmd_compose_wait(int argc, char **argv, const compose_opts *po)
{
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			fprintf(stderr, "berth compose wait: %s is not supported yet\n", argv[i]);
			free(svc);
			return 1;
		}
		svc[ns++] = argv[i];
	}
	if (!ns) {
		fprintf(stderr, "Usage: berth compose wait SERVICE [SERVICE...]\n");
		free(svc);
		return 1;
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p) {
		free(svc);
		return 1;
	}
	size_t n;
	char **names = compose_containers(p->name, svc, ns, NULL, &n);
	client_stream *w = xcalloc(n + 1, sizeof *w);
	struct pollfd *pf = xcalloc(n + 1, sizeof *pf);
	size_t open = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *e = client_escape(names[i]);
		_cleanup_free_ char *path = xasprintf("/containers/%s/wait", e);
		pf[i].fd = -1;
		if (client_send("POST", path, NULL, &w[i], NULL) < 0)
			continue;
		pf[i].fd = w[i].fd;
		pf[i].events = POLLIN;
		open++;
	}
	int rc = n ? 1 : 0;
	while (open && poll(pf, n, -1) >= 0) {
		size_t i = 0;
		while (i < n && !(pf[i].fd >= 0 && pf[i].revents))
			i++;
		if (i == n)
			continue;
		json_t *out = NULL;
		if (client_finish(&w[i], NULL) == 0 && client_body(&w[i], &out, NULL) == 0)
			rc = (int)json_integer_value(json_object_get(out, "StatusCode"));
		json_decref(out);
		break;
	}
	for (size_t i = 0; i < n; i++)
		if (pf[i].fd >= 0)
			client_close(&w[i]);
	free(w);
	free(pf);
	compose_names_free(names);
	composer_project_free(p);
	free(svc);
	return rc;
}

/* ---- events ---- */

/* berth compose events [--json] [SERVICE...]: the project's container events */
int cmd_compose_events(int argc, char **argv, const compose_opts *po)
{
	bool json = false;
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else {
			fprintf(stderr, "berth compose events: %s is not supported yet\n", argv[i]);
			free(svc);
			return 1;
		}
	}
	composer_project *p = compose_load(po, NULL, 0);
	client_stream s;
	berth_error err = BERTH_ERROR_INIT;
	if (!p || client_open("GET", "/events", NULL, false, &s, &err) < 0) {
		if (err.msg)
			fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		composer_project_free(p);
		free(svc);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	_cleanup_strbuf_ strbuf buf = STRBUF_INIT;
	sb_addn(&buf, s.pending.buf ? s.pending.buf : "", s.pending.len);
	char b[8192];
	for (;;) {
		char *nl;
		while (buf.buf && (nl = memchr(buf.buf, '\n', buf.len))) {
			*nl = '\0';
			json_t *e = json_loads(buf.buf, 0, NULL);
			json_t *at = json_object_get(json_object_get(e, "Actor"), "Attributes");
			const char *pr =
			    json_string_value(json_object_get(at, "com.docker.compose.project"));
			const char *sv =
			    json_string_value(json_object_get(at, "com.docker.compose.service"));
			if (pr && sv && compose_named(svc, ns, sv) && !strcmp(pr, p->name)) {
				long long ns_ = json_integer_value(json_object_get(e, "timeNano"));
				time_t sec = (time_t)(ns_ / 1000000000LL);
				struct tm tm;
				if (json)
					gmtime_r(&sec, &tm);
				else
					localtime_r(&sec, &tm);
				char t[64];
				strftime(t, sizeof t,
					 json ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
				const char *type = json_string_value(json_object_get(e, "Type"));
				const char *action =
				    json_string_value(json_object_get(e, "Action"));
				const char *id = json_string_value(json_object_get(e, "id"));
				if (json) {
					_cleanup_free_ char *ts =
					    xasprintf("%s.%06lldZ", t, ns_ % 1000000000LL / 1000);
					json_t *o =
					    json_pack("{s:s,s:s,s:s,s:s,s:s,s:O}", "time", ts,
						      "type", type, "action", action, "id", id,
						      "service", sv, "attributes", at);
					_cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
					json_decref(o);
					printf("%s\n", text);
				} else {
					_cleanup_strbuf_ strbuf a = STRBUF_INIT;
					const char *k;
					json_t *v;
					json_object_foreach(at, k, v)
					{
						if (strncmp(k, "com.docker.compose.", 19))
							sb_addf(&a, "%s%s=%s", a.len ? ", " : "", k,
								json_string_value(v));
					}
					printf("%s.%06lld %s %s %s (%s)\n", t,
					       ns_ % 1000000000LL / 1000, type, action, id,
					       a.buf ? a.buf : "");
				}
			}
			json_decref(e);
			size_t used = (size_t)(nl - buf.buf) + 1;
			memmove(buf.buf, nl + 1, buf.len - used);
			buf.len -= used;
		}
		ssize_t n = read(s.fd, b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sb_addn(&buf, b, (size_t)n);
	}
	client_close(&s);
	composer_project_free(p);
	free(svc);
	return 0;
}

/* ---- cp ---- */

/* berth compose cp [--index N] SERVICE:SRC DEST | SRC SERVICE:DEST */
int cmd_compose_cp(int argc, char **argv, const compose_opts *po)
{
	const char *idx = "1";
	char **av = xcalloc((size_t)argc + 1, sizeof *av);
	char *owned[2] = {NULL, NULL};
	int n = 0, paths = 0, rc = 1;
	av[n++] = "cp";
	composer_project *p = compose_load(po, NULL, 0);
	if (!p)
		goto out;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--index", NULL))) {
			idx = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			av[n++] = argv[i]; /* -a, -L, -q: the engine's */
		} else {
			const char *colon = strchr(argv[i], ':');
			if (paths < 2 && colon && colon != argv[i]) {
				_cleanup_free_ char *s =
				    xstrndup(argv[i], (size_t)(colon - argv[i]));
				_cleanup_free_ char *cn =
				    compose_service_container(p->name, s, idx);
				if (!cn) {
					fprintf(stderr,
						"berth compose cp: service \"%s\" has no container "
						"number %s\n",
						s, idx);
					goto out;
				}
				owned[paths] = xasprintf("%s%s", cn, colon);
				av[n++] = owned[paths];
			} else {
				av[n++] = argv[i];
			}
			paths++;
		}
	}
	if (paths != 2) {
		fprintf(
		    stderr,
		    "Usage: berth compose cp [--index N] SERVICE:SRC DEST | SRC SERVICE:DEST\n");
		goto out;
	}
	rc = cmd_cp(n, av);
out:
	free(owned[0]);
	free(owned[1]);
	free(av);
	composer_project_free(p);
	return rc;
}
