/*
 * The native API, /v1/...: routes a request to its handler.  Paths follow
 * Docker's Engine API (containers/create, containers/{id}/start, ...) so
 * that the mapping to Docker's own paths stays a table.
 */
#include "daemon.h"
#include "../common/fsutil.h"
#include "../engine/engine.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

daemon_ctx D;

void daemon_event(const char *type, const char *action, const char *id, json_t *attrs)
{
	long long ns = now_nanos();
	json_t *e =
	    json_pack("{s:s,s:s,s:s,s:{s:s,s:o},s:s,s:I,s:I}", "Type", type, "Action", action, "id",
		      id, "Actor", "ID", id, "Attributes", attrs ? attrs : json_object(), "scope",
		      "local", "time", (json_int_t)(ns / 1000000000LL), "timeNano", (json_int_t)ns);
	_cleanup_free_ char *text = json_dumps(e, JSON_COMPACT);
	size_t n = strlen(text);
	text[n] = '\n';
	for (http_conn *c = D.events.first, *next; c; c = next) {
		next = c->next;
		http_write(c, text, n + 1);
	}
	text[n] = '\0';
	/* the projects being brought up wait for starts, health and exits */
	projects_on_event(type, action, id,
			  json_incref(json_object_get(json_object_get(e, "Actor"), "Attributes")));
	json_decref(e);
}

long long parse_time_arg(const char *s)
{
	if (!s || !*s)
		return 0;
	/* digits and one dot only: strtod would take "nan", "inf" and hex too */
	size_t n = strspn(s, "0123456789.");
	const char *dot = memchr(s, '.', n);
	if (n && (!dot || !memchr(dot + 1, '.', n - (size_t)(dot - s) - 1)) && n < 20) {
		double v = strtod(s, NULL);
		const char *u = s + n;
		if (!*u) /* a unix time, before the year 2255 */
			return v < 9e9 ? (long long)(v * 1e9) : -1;
		double mul = !strcmp(u, "h")	? 3600
			     : !strcmp(u, "m")	? 60
			     : !strcmp(u, "s")	? 1
			     : !strcmp(u, "ms") ? 0.001
						: -1;
		if (mul > 0 && v * mul < 9e9) /* a duration before now */
			return now_nanos() - (long long)(v * mul * 1e9);
	}
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		rest = strptime(s, "%Y-%m-%d", &tm);
	time_t t = rest ? timegm(&tm) : -1;
	if (t < 0 || t > 9000000000LL)
		return -1;
	return (long long)t * 1000000000LL;
}

static void version_h(http_conn *c)
{
	struct utsname u;
	uname(&u);
	http_respond(c, 200,
		     json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "Version", BERTH_DAEMON_VERSION,
			       "ApiVersion", BERTH_API_VERSION, "Os", "linux", "Arch", "amd64",
			       "KernelVersion", u.release, "GoVersion", "none (C)"));
}

static void info_h(http_conn *c)
{
	int running = 0, paused = 0, stopped = 0;
	int total = containers_count(&running, &paused, &stopped);
	struct utsname u;
	uname(&u);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	http_respond(c, 200,
		     json_pack("{s:i,s:i,s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:f}",
			       "Containers", total, "ContainersRunning", running,
			       "ContainersPaused", paused, "ContainersStopped", stopped,
			       "ServerVersion", BERTH_DAEMON_VERSION, "Driver", "overlay2",
			       "CgroupVersion", engine_cgroup_v2() ? "2" : "1", "KernelVersion",
			       u.release, "OperatingSystem", "linux", "Name", host, "DockerRootDir",
			       D.root, "ExecRoot", D.run, "Pid", (json_int_t)getpid(), "Runtime",
			       "berth", "Uptime", ev_now(D.loop) - D.started));
}

static void events_h(http_conn *c)
{
	http_stream_begin(c, "application/json");
	http_list_add(&D.events, c);
}

void api_handle(http_conn *c, http_request *req)
{
	const char *p = req->path;
	/* /v1/... is the native API; unversioned paths are the same */
	if (str_has_prefix(p, "/v" BERTH_API_VERSION "/"))
		p += strlen("/v" BERTH_API_VERSION);
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	berth_error err = BERTH_ERROR_INIT;
	if (!strcmp(p, "/_ping")) {
		http_respond(c, 200, json_string("OK"));
	} else if (!strcmp(p, "/version") && get) {
		version_h(c);
	} else if (!strcmp(p, "/info") && get) {
		info_h(c);
	} else if (!strcmp(p, "/events") && get) {
		events_h(c);
	} else if (!strcmp(p, "/containers/json") && get) {
		container_list_h(c, req);
	} else if (!strcmp(p, "/containers/create") && !strcmp(req->method, "POST")) {
		container_create_h(c, req);
	} else if (str_has_prefix(p, "/containers/")) {
		_cleanup_free_ char *ref = xstrdup(p + strlen("/containers/"));
		char *op = strchr(ref, '/');
		if (op)
			*op++ = '\0';
		container *ct = container_find(ref, &err);
		if (!ct)
			http_respond_error(c, err.code == EEXIST ? 400 : 404, "%s", err.msg);
		else if (!op && !strcmp(req->method, "DELETE"))
			container_delete_h(c, req, ct);
		else if (op)
			container_op_h(c, req, ct, op);
		else
			http_respond_error(c, 405, "method %s not allowed on %s", req->method,
					   req->path);
	} else if (str_has_prefix(p, "/exec/")) {
		_cleanup_free_ char *id = xstrdup(p + strlen("/exec/"));
		char *op = strchr(id, '/');
		if (op)
			*op++ = '\0';
		if (op && !strcmp(op, "start") && !strcmp(req->method, "POST"))
			exec_start_h(c, req, id);
		else if (op && !strcmp(op, "json") && get)
			exec_inspect_h(c, id);
		else
			http_respond_error(c, 404, "page not found: %s %s", req->method, req->path);
	} else if (str_has_prefix(p, "/images/")) {
		image_h(c, req, p + strlen("/images"));
	} else if (str_has_prefix(p, "/projects/")) {
		project_h(c, req, p + strlen("/projects"));
	} else if (!strcmp(p, "/networks") || str_has_prefix(p, "/networks/")) {
		network_h(c, req, p + strlen("/networks"));
	} else if (!strcmp(p, "/volumes") || str_has_prefix(p, "/volumes/")) {
		volume_h(c, req, p + strlen("/volumes"));
	} else {
		http_respond_error(c, 404, "page not found: %s %s", req->method, req->path);
	}
	berth_error_clear(&err);
}
