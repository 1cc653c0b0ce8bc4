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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static composer_project *load(const compose_opts *po, const char **svc, size_t nsvc)
{
	composer_options o = {0};
	o.files = po->files;
	o.nfiles = po->nfiles;
	o.project_name = po->project_name;
	o.project_dir = po->project_dir;
	o.env_files = po->env_files;
	o.nenv_files = po->nenv_files;
	o.profiles = po->profiles;
	o.nprofiles = po->nprofiles;
	o.services = svc;
	o.nservices = nsvc;
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

int cmd_compose_up(int argc, char **argv, const compose_opts *po)
{
	bool detach = false, force = false, norecreate = false, nostart = false;
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
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("Usage: berth compose up -d [--force-recreate] [--no-recreate] "
			       "[--no-start] [SERVICE...]\n\nCreate and start containers\n");
			free(svc);
			return 0;
		} else {
			fprintf(stderr, "berth compose up: %s is not supported yet\n", a);
			free(svc);
			return 1;
		}
	}
	if (!detach && !nostart) {
		fprintf(stderr, "berth compose up: only -d (detached) is supported yet\n");
		free(svc);
		return 1;
	}
	composer_project *p = load(po, svc, nsvc);
	if (!p) {
		free(svc);
		return 1;
	}
	char *text = composer_project_json(p, false);
	json_t *model = json_loads(text, 0, NULL);
	free(text);
	json_t *names = json_array();
	for (size_t i = 0; i < nsvc; i++)
		json_array_append_new(names, json_string(svc[i]));
	json_t *body =
	    json_pack("{s:o,s:o,s:b,s:b,s:b}", "Project", model, "Services", names, "ForceRecreate",
		      force, "NoRecreate", norecreate, "NoStart", nostart);
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
		_cleanup_strbuf_ strbuf ports = STRBUF_INIT;
		json_t *pt;
		size_t k;
		json_array_foreach(json_object_get(c, "Ports"), k, pt)
		{
			json_t *pub = json_object_get(pt, "PublicPort");
			sb_adds(&ports, ports.len ? ", " : "");
			if (pub)
				sb_addf(&ports, "%s:%lld->",
					json_string_value(json_object_get(pt, "IP")) ?: "",
					(long long)json_integer_value(pub));
			sb_addf(&ports, "%lld/%s",
				(long long)json_integer_value(json_object_get(pt, "PrivatePort")),
				json_string_value(json_object_get(pt, "Type")) ?: "tcp");
		}
		json_array_append_new(
		    rows, json_pack("[ssOOs]", name ? name + 1 : "",
				    json_string_value(json_object_get(c, "Image")),
				    json_object_get(l, "com.docker.compose.service"),
				    json_object_get(c, "Status"), ports.buf ? ports.buf : ""));
	}
	if (!quiet)
		table_print(rows);
	json_decref(rows);
	json_decref(out);
	composer_project_free(p);
	return 0;
}
