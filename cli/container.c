/* berth ps, stop, kill, restart, rm, logs, wait, inspect, top, stats, pause, unpause, rename. */
#include "cli.h"
#include "client.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static int daemon_error(int st, json_t *out, berth_error *err)
{
	fprintf(stderr, "berth: %s%s\n", st < 0 ? "" : "Error response from daemon: ",
		st < 0 ? err->msg : client_message(out));
	berth_error_clear(err);
	json_decref(out);
	return 1;
}

/*
 * POST /containers/REF/OP (DELETE without an op) for each container named,
 * all at once as Docker's client does (stopping 100 containers takes one
 * timeout, not 100), then the answers in order; prints each name as Docker.
 */
static int each(int argc, char **argv, int first, const char *op, const char *query, bool print)
{
	int n = argc - first, rc = 0;
	client_stream *s = xcalloc((size_t)n, sizeof *s);
	bool *sent = xcalloc((size_t)n, sizeof *sent);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *e = client_escape(argv[first + i]);
		_cleanup_free_ char *p = xasprintf("/containers/%s%s%s%s", e, op ? "/" : "",
						   op ? op : "", query ? query : "");
		berth_error err = BERTH_ERROR_INIT;
		sent[i] = client_send(op ? "POST" : "DELETE", p, NULL, &s[i], &err) == 0;
		if (!sent[i]) {
			fprintf(stderr, "berth: %s\n", err.msg);
			berth_error_clear(&err);
			rc = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		if (!sent[i])
			continue;
		json_t *out = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_finish(&s[i], &err) < 0 || client_body(&s[i], &out, &err) < 0
			     ? -1
			     : s[i].status;
		client_close(&s[i]);
		if (st < 200 || st >= 400) {
			rc = daemon_error(st, out, &err);
			continue;
		}
		json_decref(out);
		if (print)
			printf("%s\n", argv[first + i]);
	}
	free(s);
	free(sent);
	return rc;
}

static int need_args(int argc, int first, const char *cmd)
{
	if (first >= argc) {
		fprintf(stderr,
			"berth: '%s' requires at least 1 argument.\nSee 'berth %s --help'.\n", cmd,
			cmd);
		return -1;
	}
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	int i = 1;
	_cleanup_free_ char *q = NULL;
	const char *sig = NULL;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v = opt_value(argc, argv, &i, "--time", "-t");
		if (!v)
			v = opt_value(argc, argv, &i, "--timeout", NULL);
		if (v) {
			free(q);
			q = xasprintf("?t=%s", v);
			continue;
		}
		if ((v = opt_value(argc, argv, &i, "--signal", "-s"))) {
			sig = v;
			continue;
		}
		fprintf(stderr, "unknown flag: %s\n", argv[i]);
		return 125;
	}
	(void)sig;
	if (need_args(argc, i, argv[0]) < 0)
		return 125;
	return each(argc, argv, i, !strcmp(argv[0], "restart") ? "restart" : "stop", q, true);
}

int cmd_kill(int argc, char **argv)
{
	int i = 1;
	_cleanup_free_ char *q = NULL;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v = opt_value(argc, argv, &i, "--signal", "-s");
		if (!v) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
		_cleanup_free_ char *e = client_escape(v);
		free(q);
		q = xasprintf("?signal=%s", e);
	}
	if (need_args(argc, i, "kill") < 0)
		return 125;
	return each(argc, argv, i, "kill", q ? q : "?signal=SIGKILL", true);
}

int cmd_rm(int argc, char **argv)
{
	int i = 1;
	bool force = false, vols = false;
	for (; i < argc && argv[i][0] == '-'; i++) {
		for (const char *p = argv[i] + 1; *p && argv[i][1] != '-'; p++) {
			if (*p == 'f')
				force = true;
			else if (*p == 'v')
				vols = true;
			else {
				fprintf(stderr, "unknown shorthand flag: '%c' in %s\n", *p,
					argv[i]);
				return 125;
			}
		}
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (!strcmp(argv[i], "--volumes"))
			vols = true;
		else if (argv[i][1] == '-') {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	if (need_args(argc, i, "rm") < 0)
		return 125;
	_cleanup_free_ char *q = xasprintf("?force=%d&v=%d", force, vols);
	return each(argc, argv, i, NULL, q, true);
}

int cmd_pause(int argc, char **argv)
{
	if (need_args(argc, 1, argv[0]) < 0)
		return 125;
	return each(argc, argv, 1, argv[0], NULL, true);
}

int cmd_rename(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "berth: 'rename' requires exactly 2 arguments.\n");
		return 125;
	}
	_cleanup_free_ char *n = client_escape(argv[2]);
	_cleanup_free_ char *q = xasprintf("?name=%s", n);
	char *args[] = {argv[0], argv[1]};
	return each(2, args, 1, "rename", q, false);
}

int cmd_wait(int argc, char **argv)
{
	if (need_args(argc, 1, "wait") < 0)
		return 125;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		_cleanup_free_ char *e = client_escape(argv[i]);
		_cleanup_free_ char *p = xasprintf("/containers/%s/wait", e);
		json_t *out = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call("POST", p, NULL, &out, &err);
		if (st != 200) {
			rc = daemon_error(st, out, &err);
			continue;
		}
		printf("%lld\n", (long long)json_integer_value(json_object_get(out, "StatusCode")));
		json_decref(out);
	}
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	const char *fmt = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v = opt_value(argc, argv, &i, "--format", "-f");
		if (!v && !strcmp(argv[i], "--type") && i + 1 < argc) {
			i++;
			continue;
		}
		if (!v) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
		fmt = v;
	}
	if (need_args(argc, i, "inspect") < 0)
		return 125;
	json_t *all = json_array();
	int rc = 0;
	for (; i < argc; i++) {
		_cleanup_free_ char *e = client_escape(argv[i]);
		_cleanup_free_ char *p = xasprintf("/containers/%s/json", e);
		json_t *out = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call("GET", p, NULL, &out, &err);
		if (st != 200) {
			if (st == 404)
				fprintf(stderr, "berth: Error: No such object: %s\n", argv[i]);
			else
				daemon_error(st, json_incref(out), &err);
			json_decref(out);
			berth_error_clear(&err);
			rc = 1;
			continue;
		}
		if (fmt) {
			_cleanup_free_ char *t = format_template(fmt, out);
			printf("%s\n", t);
			json_decref(out);
		} else {
			json_array_append_new(all, out);
		}
	}
	if (!fmt) {
		char *t = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", t);
		free(t);
	}
	json_decref(all);
	return rc;
}

static bool match_filter(json_t *c, json_t *filters)
{
	json_t *f;
	size_t i;
	json_array_foreach(filters, i, f)
	{
		const char *s = json_string_value(f);
		const char *eq = strchr(s, '=');
		if (!eq)
			return false;
		_cleanup_free_ char *k = xstrndup(s, (size_t)(eq - s));
		const char *v = eq + 1;
		if (!strcmp(k, "label")) {
			const char *eq2 = strchr(v, '=');
			_cleanup_free_ char *lk = eq2 ? xstrndup(v, (size_t)(eq2 - v)) : xstrdup(v);
			json_t *lv = json_object_get(json_object_get(c, "Labels"), lk);
			if (!lv || (eq2 && strcmp(json_string_value(lv), eq2 + 1)))
				return false;
		} else if (!strcmp(k, "name")) {
			const char *n =
			    json_string_value(json_array_get(json_object_get(c, "Names"), 0));
			if (!n || !strstr(n, v))
				return false;
		} else if (!strcmp(k, "status")) {
			if (strcmp(json_string_value(json_object_get(c, "State")), v))
				return false;
		} else if (!strcmp(k, "id")) {
			if (!str_has_prefix(json_string_value(json_object_get(c, "Id")), v))
				return false;
		} else if (!strcmp(k, "ancestor")) {
			if (strcmp(json_string_value(json_object_get(c, "Image")), v))
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* The fields of docker ps --format, from a summary. */
static json_t *ps_fields(json_t *c, bool trunc)
{
	const char *id = json_string_value(json_object_get(c, "Id"));
	const char *cmd = json_string_value(json_object_get(c, "Command"));
	_cleanup_free_ char *qcmd = NULL;
	if (trunc && strlen(cmd) > 20)
		qcmd = xasprintf("\"%.19s…\"", cmd);
	else
		qcmd = xasprintf("\"%s\"", cmd);
	long long created = json_integer_value(json_object_get(c, "Created"));
	_cleanup_free_ char *ago = human_ago((long long)time(NULL) - created);
	const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
	_cleanup_strbuf_ strbuf labels = STRBUF_INIT;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(c, "Labels"), k, v)
	    sb_addf(&labels, "%s%s=%s", labels.len ? "," : "", k, json_string_value(v));
	_cleanup_free_ char *ports = format_ports(json_object_get(c, "Ports"));
	_cleanup_strbuf_ strbuf nets = STRBUF_INIT;
	json_object_foreach(json_object_get(json_object_get(c, "NetworkSettings"), "Networks"), k,
			    v) sb_addf(&nets, "%s%s", nets.len ? "," : "", k);
	struct tm tm;
	time_t ct = (time_t)created;
	localtime_r(&ct, &tm);
	char cat[64];
	strftime(cat, sizeof cat, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
	return json_pack("{s:s%,s:s,s:s,s:s,s:s,s:O,s:O,s:s,s:s,s:s,s:s,s:s}", "ID", id,
			 (size_t)(trunc ? 12 : 64), "Image",
			 json_string_value(json_object_get(c, "Image")), "Command", qcmd,
			 "CreatedAt", cat, "RunningFor", ago, "Status",
			 json_object_get(c, "Status"), "State", json_object_get(c, "State"),
			 "Names", name ? name + 1 : "", "Labels", labels.buf ? labels.buf : "",
			 "Ports", ports, "Mounts", "", "Networks", nets.buf ? nets.buf : "");
}

int cmd_ps(int argc, char **argv)
{
	bool all = false, quiet = false, trunc = true;
	const char *fmt = NULL;
	json_t *filters = json_array();
	int last = -1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "-aq") || !strcmp(argv[i], "-qa"))
			all = quiet = true;
		else if (!strcmp(argv[i], "--no-trunc"))
			trunc = false;
		else if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "--latest"))
			last = 1, all = true;
		else if ((v = opt_value(argc, argv, &i, "--last", "-n")))
			last = atoi(v), all = true;
		else if ((v = opt_value(argc, argv, &i, "--filter", "-f")))
			json_array_append_new(filters, json_string(v));
		else if ((v = opt_value(argc, argv, &i, "--format", NULL)))
			fmt = v;
		else {
			fprintf(stderr, "unknown flag: %s\nSee 'berth ps --help'.\n", argv[i]);
			json_decref(filters);
			return 125;
		}
	}
	/* a status filter other than running shows stopped containers too */
	json_t *f;
	size_t k;
	json_array_foreach(filters, k, f) if (str_has_prefix(json_string_value(f), "status=")) all =
	    true;
	json_t *list = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", all ? "/containers/json?all=1" : "/containers/json", NULL,
			     &list, &err);
	if (st != 200) {
		json_decref(filters);
		return daemon_error(st, list, &err);
	}
	/* newest first, as Docker lists them */
	size_t n = json_array_size(list);
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(list, b - 1), *y = json_array_get(list, b);
			if (json_integer_value(json_object_get(x, "Created")) >=
			    json_integer_value(json_object_get(y, "Created")))
				break;
			json_incref(x);
			json_array_set(list, b - 1, y);
			json_array_set_new(list, b, x);
		}
	json_t *rows = json_array();
	bool table = !fmt || !strcmp(fmt, "table") || str_has_prefix(fmt, "table ");
	const char *tmpl = fmt && str_has_prefix(fmt, "table ") ? fmt + 6 : fmt;
	if (table && !quiet && (!tmpl || !strcmp(tmpl, "table")))
		json_array_append_new(rows,
				      json_pack("[sssssss]", "CONTAINER ID", "IMAGE", "COMMAND",
						"CREATED", "STATUS", "PORTS", "NAMES"));
	int shown = 0;
	json_t *c;
	size_t i;
	json_array_foreach(list, i, c)
	{
		if (!match_filter(c, filters) || (last >= 0 && shown >= last))
			continue;
		shown++;
		json_t *fl = ps_fields(c, trunc && !quiet);
		if (quiet) {
			const char *id = json_string_value(json_object_get(c, "Id"));
			printf("%.*s\n", trunc ? 12 : 64, id);
		} else if (fmt && !strcmp(fmt, "json")) {
			char *t = json_dumps(fl, JSON_COMPACT | JSON_SORT_KEYS);
			printf("%s\n", t);
			free(t);
		} else if (tmpl && strcmp(tmpl, "table")) {
			_cleanup_free_ char *t = format_template(tmpl, fl);
			printf("%s\n", t);
		} else {
			json_array_append_new(
			    rows,
			    json_pack("[OOOOOOO]", json_object_get(fl, "ID"),
				      json_object_get(fl, "Image"), json_object_get(fl, "Command"),
				      json_object_get(fl, "RunningFor"),
				      json_object_get(fl, "Status"), json_object_get(fl, "Ports"),
				      json_object_get(fl, "Names")));
		}
		json_decref(fl);
	}
	if (json_array_size(rows))
		table_print(rows);
	json_decref(rows);
	json_decref(list);
	json_decref(filters);
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	bool follow = false, ts = false;
	const char *tail = NULL, *since = NULL, *until = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = true;
		else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timestamps"))
			ts = true;
		else if ((v = opt_value(argc, argv, &i, "--tail", "-n")))
			tail = v;
		else if ((v = opt_value(argc, argv, &i, "--since", NULL)))
			since = v;
		else if ((v = opt_value(argc, argv, &i, "--until", NULL)))
			until = v;
		else {
			fprintf(stderr, "unknown flag: %s\nSee 'berth logs --help'.\n", argv[i]);
			return 125;
		}
	}
	if (argc - i != 1) {
		fprintf(stderr, "berth: 'logs' requires exactly 1 argument.\n");
		return 125;
	}
	_cleanup_free_ char *e = client_escape(argv[i]);
	_cleanup_free_ char *te = tail ? client_escape(tail) : NULL;
	_cleanup_free_ char *se = since ? client_escape(since) : NULL;
	_cleanup_free_ char *ue = until ? client_escape(until) : NULL;
	_cleanup_free_ char *p =
	    xasprintf("/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d%s%s%s%s%s%s",
		      e, follow, ts, te ? "&tail=" : "", te ? te : "", se ? "&since=" : "",
		      se ? se : "", ue ? "&until=" : "", ue ? ue : "");
	client_stream s;
	berth_error err = BERTH_ERROR_INIT;
	if (client_open("GET", p, NULL, false, &s, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	if (s.status != 200) {
		json_t *out = NULL;
		client_body(&s, &out, NULL);
		client_close(&s);
		fprintf(stderr, "berth: Error response from daemon: %s\n", client_message(out));
		json_decref(out);
		return 1;
	}
	int rc =
	    pump_stream(&s, false, !strcmp(s.content_type, "application/vnd.docker.raw-stream"));
	client_close(&s);
	return rc < 0 ? 1 : 0;
}

int cmd_top(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "berth: 'top' requires at least 1 argument.\n");
		return 125;
	}
	_cleanup_free_ char *e = client_escape(argv[1]);
	_cleanup_free_ char *p = xasprintf("/containers/%s/top", e);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", p, NULL, &out, &err);
	if (st != 200)
		return daemon_error(st, out, &err);
	json_t *rows = json_array();
	json_array_append(rows, json_object_get(out, "Titles"));
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(out, "Processes"), i, r) json_array_append(rows, r);
	table_print(rows);
	json_decref(rows);
	json_decref(out);
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "--no-stream") && strcmp(argv[i], "-a") &&
		    strcmp(argv[i], "--all")) {
			fprintf(stderr, "unknown flag: %s (berth stats supports --no-stream)\n",
				argv[i]);
			return 125;
		}
	json_t *ids = json_array();
	if (i == argc) {
		json_t *list = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call("GET", "/containers/json", NULL, &list, &err);
		if (st != 200) {
			json_decref(ids);
			return daemon_error(st, list, &err);
		}
		json_t *c;
		size_t k;
		json_array_foreach(list, k, c) json_array_append(ids, json_object_get(c, "Id"));
		json_decref(list);
	}
	for (; i < argc; i++)
		json_array_append_new(ids, json_string(argv[i]));
	/* CPU % from two readings 250 ms apart */
	json_t *first = json_array(), *rows = json_array(), *id;
	size_t k;
	json_array_foreach(ids, k, id)
	{
		_cleanup_free_ char *e = client_escape(json_string_value(id));
		_cleanup_free_ char *p = xasprintf("/containers/%s/stats?stream=0", e);
		json_t *out = NULL;
		client_call("GET", p, NULL, &out, NULL);
		json_array_append_new(first, out ? out : json_object());
	}
	struct timespec t0, t1, gap = {0, 250000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&gap, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	json_array_append_new(rows, json_pack("[ssssss]", "CONTAINER ID", "NAME", "CPU %",
					      "MEM USAGE / LIMIT", "MEM %", "PIDS"));
	int rc = 0;
	json_array_foreach(ids, k, id)
	{
		_cleanup_free_ char *e = client_escape(json_string_value(id));
		_cleanup_free_ char *p = xasprintf("/containers/%s/stats?stream=0", e);
		json_t *out = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call("GET", p, NULL, &out, &err);
		if (st != 200) {
			rc = daemon_error(st, out, &err);
			continue;
		}
		json_t *a = json_array_get(first, k);
		double cpu = (double)(json_integer_value(json_object_get(out, "cpu_usage_ns")) -
				      json_integer_value(json_object_get(a, "cpu_usage_ns"))) /
			     wall * 100.0;
		long long mu = json_integer_value(json_object_get(out, "memory_usage"));
		long long ml = json_integer_value(json_object_get(out, "memory_limit"));
		if (ml <= 0 || ml > (1LL << 50))
			ml = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
		_cleanup_free_ char *u = human_bytes(mu), *l = human_bytes(ml);
		const char *cid = json_string_value(json_object_get(out, "id"));
		const char *name = json_string_value(json_object_get(out, "name"));
		_cleanup_free_ char *cpu_s = xasprintf("%.2f%%", cpu < 0 ? 0 : cpu);
		_cleanup_free_ char *mem_s = xasprintf("%s / %s", u, l);
		_cleanup_free_ char *pct =
		    xasprintf("%.2f%%", ml ? 100.0 * (double)mu / (double)ml : 0);
		_cleanup_free_ char *pids =
		    xasprintf("%lld", (long long)json_integer_value(json_object_get(out, "pids")));
		json_array_append_new(rows,
				      json_pack("[s%,s,s,s,s,s]", cid ? cid : "", (size_t)12,
						name ? name + 1 : "", cpu_s, mem_s, pct, pids));
		json_decref(out);
	}
	table_print(rows);
	json_decref(rows);
	json_decref(first);
	json_decref(ids);
	return rc;
}

int cmd_events(int argc, char **argv)
{
	const char *fmt = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = opt_value(argc, argv, &i, "--format", NULL);
		if (!v) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
		fmt = v;
	}
	client_stream s;
	berth_error err = BERTH_ERROR_INIT;
	if (client_open("GET", "/events", NULL, false, &s, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	_cleanup_strbuf_ strbuf buf = STRBUF_INIT;
	sb_addn(&buf, s.pending.buf ? s.pending.buf : "", s.pending.len);
	char b[8192];
	for (;;) {
		char *nl;
		while (buf.buf && (nl = strchr(buf.buf, '\n'))) {
			*nl = '\0';
			json_t *e = json_loads(buf.buf, 0, NULL);
			if (e && fmt && strcmp(fmt, "json")) {
				_cleanup_free_ char *t = format_template(fmt, e);
				printf("%s\n", t);
			} else if (e && fmt) {
				printf("%s\n", buf.buf);
			} else if (e) {
				long long ns = json_integer_value(json_object_get(e, "timeNano"));
				time_t sec = (time_t)(ns / 1000000000LL);
				struct tm tm;
				localtime_r(&sec, &tm);
				char t[64];
				strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
				json_t *at =
				    json_object_get(json_object_get(e, "Actor"), "Attributes");
				_cleanup_strbuf_ strbuf a = STRBUF_INIT;
				const char *k;
				json_t *v;
				json_object_foreach(at, k, v) sb_addf(
				    &a, "%s%s=%s", a.len ? ", " : "", k, json_string_value(v));
				printf("%s.%09lld%s %s %s %s (%s)\n", t, ns % 1000000000LL, "",
				       json_string_value(json_object_get(e, "Type")),
				       json_string_value(json_object_get(e, "Action")),
				       json_string_value(json_object_get(e, "id")),
				       a.buf ? a.buf : "");
			}
			json_decref(e);
			size_t used = (size_t)(nl - buf.buf) + 1;
			memmove(buf.buf, nl + 1, buf.len - used + 1);
			buf.len -= used;
		}
		ssize_t n = read(s.fd, b, sizeof b);
		if (n <= 0)
			break;
		sb_addn(&buf, b, (size_t)n);
	}
	client_close(&s);
	return 0;
}
