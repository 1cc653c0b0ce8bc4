/*
 * Compose projects: berthd brings a normalised project (the loader's JSON
 * form, sent by `berth compose`) up and takes it down.
 *
 * up: the project's networks and volumes are made if missing; each service's
 * containers (<project>-<service>-<n>) are kept when their config hash is
 * the same, made anew when it changed, and the extra numbers (highest first)
 * removed; then each service starts as soon as its dependencies' conditions
 * hold (service_started, service_healthy, service_completed_successfully),
 * driven by the container events berthd emits, not by polling. Progress goes
 * to the client as JSON lines; the last one says whether it all worked.
 *
 * down: the project's containers are stopped and removed, then its networks
 * (and with -v its volumes), found by their com.docker.compose.project label.
 */
#include "daemon.h"
#include "../common/fsutil.h"
#include "../composer/composer.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

typedef struct {
	const char *name;
	json_t *svc;
	int want;
	int started, healthy, exited_ok; /* containers so far */
	bool launched;
	json_t *ids; /* the containers of this run */
} psvc;

typedef struct project_op project_op;
struct project_op {
	char *name;
	json_t *model, *flags;
	http_conn *conn;
	psvc *svcs;
	size_t n;
	bool done, down, volumes, created;
	bool arming;	   /* removals being asked for: their "destroy" events only count */
	json_t *gone_wait; /* containers whose removal comes first ("destroy" events) */
	project_op *next;
};

static int create_all(project_op *op, berth_error *err);
static void down_rest(project_op *op);

static project_op *ops;

static const char *label(json_t *rec, const char *key)
{
	return json_string_value(
	    json_object_get(json_object_get(json_object_get(rec, "Config"), "Labels"), key));
}

static void progress(project_op *op, const char *resource, const char *status, const char *msg)
{
	if (!op->conn)
		return;
	json_t *l = json_pack("{s:s,s:s}", "Resource", resource, "Status", status);
	if (msg)
		json_object_set_new(l, "Message", json_string(msg));
	char *t = json_dumps(l, JSON_COMPACT);
	json_decref(l);
	size_t n = strlen(t);
	t[n] = '\n';
	http_write(op->conn, t, n + 1);
	free(t);
}

static void op_free(project_op *op)
{
	for (project_op **pp = &ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	for (size_t i = 0; i < op->n; i++)
		json_decref(op->svcs[i].ids);
	free(op->svcs);
	json_decref(op->model);
	json_decref(op->flags);
	json_decref(op->gone_wait);
	free(op->name);
	free(op);
}

static void finish(project_op *op, const char *error)
{
	if (op->done)
		return;
	op->done = true;
	if (op->conn) {
		json_t *l = error ? json_pack("{s:b,s:s}", "Done", 1, "Error", error)
				  : json_pack("{s:b}", "Done", 1);
		char *t = json_dumps(l, JSON_COMPACT);
		json_decref(l);
		size_t n = strlen(t);
		t[n] = '\n';
		http_write(op->conn, t, n + 1);
		free(t);
		op->conn->ctx = NULL;
		http_end(op->conn);
		op->conn = NULL;
	}
	op_free(op);
}

static void conn_gone(void *ctx)
{
	project_op *op = ctx;
	if (op)
		op->conn = NULL; /* the work goes on without an audience */
}

static psvc *svc_of(project_op *op, const char *name)
{
	for (size_t i = 0; i < op->n; i++)
		if (!strcmp(op->svcs[i].name, name))
			return &op->svcs[i];
	return NULL;
}

/* Whether a dependency's condition holds; -1 when it can never hold (err says why). */
static int dep_holds(project_op *op, const char *dep, json_t *cond, berth_error *err)
{
	psvc *d = svc_of(op, dep);
	if (!d) /* not part of this run (e.g. not named on the command line): as it is */
		return 1;
	const char *c = json_string_value(json_object_get(cond, "condition")) ?: "service_started";
	if (!strcmp(c, "service_healthy"))
		return d->healthy >= d->want;
	if (!strcmp(c, "service_completed_successfully"))
		return d->exited_ok >= d->want;
	(void)err;
	return d->started >= d->want || d->exited_ok >= d->want;
}

static void advance(project_op *op)
{
	berth_error err = BERTH_ERROR_INIT;
	if (json_is_true(json_object_get(op->flags, "NoStart"))) {
		finish(op, NULL);
		return;
	}
	bool all = true, wait = json_is_true(json_object_get(op->flags, "Wait"));
	for (size_t i = 0; i < op->n; i++) {
		psvc *s = &op->svcs[i];
		/* --wait: running and, with a health check, healthy (a one-shot may have exited 0)
		 */
		bool checked = json_object_get(s->svc, "healthcheck") &&
			       !json_is_true(json_object_get(json_object_get(s->svc, "healthcheck"),
							     "disable"));
		all &= s->launched &&
		       (s->exited_ok >= s->want ||
			(wait && checked ? s->healthy >= s->want : s->started >= s->want));
		if (s->launched)
			continue;
		json_t *deps = json_object_get(s->svc, "depends_on"), *cond;
		const char *dn;
		bool ready = true;
		json_object_foreach(deps, dn, cond)
		{
			int h = dep_holds(op, dn, cond, &err);
			if (!h)
				ready = false;
		}
		if (!ready) {
			continue;
		}
		s->launched = true;
		json_t *id;
		size_t k;
		json_array_foreach(s->ids, k, id)
		{
			container *c = container_find(json_string_value(id), NULL);
			const char *cn =
			    c ? json_string_value(json_object_get(container_rec(c), "Name")) + 1
			      : json_string_value(id);
			_cleanup_free_ char *res = xasprintf("Container %s", cn);
			int r = c ? container_start(c, &err) : -1;
			if (r < 0) {
				progress(op, res, "Error", err.msg);
				_cleanup_free_ char *m = xasprintf("service \"%s\": %s", s->name,
								   err.msg ? err.msg : "gone");
				berth_error_clear(&err);
				finish(op, m);
				return;
			}
			progress(op, res, r == 1 ? "Running" : "Starting", NULL);
			if (r == 1) {
				s->started++;
				json_t *h = json_object_get(
				    json_object_get(container_rec(c), "State"), "Health");
				if (!h ||
				    !strcmp(json_string_value(json_object_get(h, "Status")) ?: "",
					    "healthy"))
					s->healthy++;
			}
		}
		all = false;
		/* others may be ready now */
		advance(op);
		return;
	}
	if (all)
		finish(op, NULL);
}

void projects_on_event(const char *type, const char *action, const char *id, json_t *attrs)
{
	const char *proj = json_string_value(json_object_get(attrs, "com.docker.compose.project"));
	const char *svcn = json_string_value(json_object_get(attrs, "com.docker.compose.service"));
	if (strcmp(type, "container") || !proj || !svcn) {
		json_decref(attrs);
		return;
	}
	for (project_op *op = ops, *next; op; op = next) {
		next = op->next;
		if (!strcmp(action, "destroy") && json_object_get(op->gone_wait, id)) {
			json_object_del(op->gone_wait, id);
			if (json_object_size(op->gone_wait) || op->arming)
				continue;
			if (op->down) {
				down_rest(op);
				continue;
			}
			berth_error err = BERTH_ERROR_INIT;
			if (create_all(op, &err) < 0) {
				finish(op, err.msg);
				berth_error_clear(&err);
				continue;
			}
			advance(op);
			continue;
		}
		if (op->down || !op->created)
			continue;
		psvc *s = strcmp(op->name, proj) ? NULL : svc_of(op, svcn);
		bool mine = false;
		json_t *v;
		size_t k;
		json_array_foreach(s ? s->ids : NULL, k, v) mine |=
		    !strcmp(json_string_value(v), id);
		if (!mine)
			continue;
		const char *name = json_string_value(json_object_get(attrs, "name"));
		_cleanup_free_ char *res = xasprintf("Container %s", name ? name : id);
		if (!strcmp(action, "start")) {
			s->started++;
			/* without a health check a started container counts as healthy */
			if (!json_object_get(s->svc, "healthcheck") ||
			    json_is_true(
				json_object_get(json_object_get(s->svc, "healthcheck"), "disable")))
				s->healthy++;
			progress(op, res, "Started", NULL);
		} else if (!strcmp(action, "health_status: healthy")) {
			s->healthy++;
			progress(op, res, "Healthy", NULL);
		} else if (!strcmp(action, "health_status: unhealthy")) {
			progress(op, res, "Unhealthy", NULL);
		} else if (!strcmp(action, "die")) {
			const char *code = json_string_value(json_object_get(attrs, "exitCode"));
			if (code && !strcmp(code, "0")) {
				s->exited_ok++;
				progress(op, res, "Exited", NULL);
			} else {
				/* a dependency that had to complete successfully did not */
				progress(op, res, "Exited", code);
				bool needed = false;
				for (size_t i = 0; i < op->n; i++) {
					json_t *c = json_object_get(
					    json_object_get(op->svcs[i].svc, "depends_on"), svcn);
					needed |= c && !op->svcs[i].launched &&
						  !strcmp(json_string_value(
							      json_object_get(c, "condition"))
							      ?: "",
							  "service_completed_successfully");
				}
				if (needed) {
					_cleanup_free_ char *m = xasprintf(
					    "service \"%s\" didn't complete successfully: exit %s",
					    svcn, code ? code : "?");
					finish(op, m);
					continue;
				}
			}
		} else if (!strcmp(action, "start-failed")) {
			const char *m = json_string_value(json_object_get(attrs, "message"));
			progress(op, res, "Error", m);
			_cleanup_free_ char *e =
			    xasprintf("service \"%s\": %s", svcn, m ? m : "failed");
			finish(op, e);
			continue;
		}
		advance(op);
	}
	json_decref(attrs);
}

/* ---- planning ---- */

/* The project's containers of a service, by number. */
static json_t *existing(const char *proj, const char *svc)
{
	json_t *by = json_object();
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *rec = container_rec(c);
		const char *p = label(rec, "com.docker.compose.project");
		const char *s = label(rec, "com.docker.compose.service");
		const char *n = label(rec, "com.docker.compose.container-number");
		const char *oneoff = label(rec, "com.docker.compose.oneoff");
		if (p && s && n && !strcmp(p, proj) && !strcmp(s, svc) &&
		    !(oneoff && !strcmp(oneoff, "True")))
			json_object_set_new(by, n, json_string(container_id(c)));
	}
	return by;
}

static int replicas(json_t *svc)
{
	json_t *r = json_object_get(json_object_get(svc, "deploy"), "replicas");
	if (json_is_integer(r))
		return (int)json_integer_value(r);
	r = json_object_get(svc, "scale");
	return json_is_integer(r) ? (int)json_integer_value(r) : 1;
}

static int make_networks(project_op *op, berth_error *err)
{
	const char *k;
	json_t *n;
	json_object_foreach(json_object_get(op->model, "networks"), k, n)
	{
		const char *name = json_string_value(json_object_get(n, "name"));
		if (!name)
			continue;
		if (json_is_true(json_object_get(n, "external"))) {
			if (!net_exists(name))
				return berth_error_msg(err, ENOENT,
						       "network %s declared as external, but could "
						       "not be found",
						       name);
			continue;
		}
		if (net_exists(name))
			continue;
		const char *d = json_string_value(json_object_get(n, "driver"));
		if (d && strcmp(d, "bridge"))
			return berth_error_msg(
			    err, ENOTSUP, "network %s: driver %s is not supported by berth", k, d);
		json_t *labels = json_deep_copy(json_object_get(n, "labels"));
		if (!json_is_object(labels)) {
			json_decref(labels);
			labels = json_object();
		}
		json_object_set_new(labels, "com.docker.compose.project", json_string(op->name));
		json_object_set_new(labels, "com.docker.compose.network", json_string(k));
		json_t *body =
		    json_pack("{s:s,s:b,s:o}", "Name", name, "Internal",
			      json_is_true(json_object_get(n, "internal")), "Labels", labels);
		json_t *ipam = json_object_get(json_object_get(n, "ipam"), "config");
		if (json_array_size(ipam)) {
			json_t *c = json_array_get(ipam, 0);
			json_t *cfg = json_object();
			static const char *const map[][2] = {
			    {"subnet", "Subnet"}, {"gateway", "Gateway"}, {"ip_range", "IPRange"}};
			for (size_t i = 0; i < 3; i++)
				if (json_object_get(c, map[i][0]))
					json_object_set(cfg, map[i][1],
							json_object_get(c, map[i][0]));
			json_object_set_new(body, "IPAM", json_pack("{s:[o]}", "Config", cfg));
		}
		int status;
		const char *id = net_create(body, &status, err);
		json_decref(body);
		if (!id)
			return berth_error_prefix(err, "network %s", name);
		_cleanup_free_ char *res = xasprintf("Network %s", name);
		progress(op, res, "Created", NULL);
	}
	return 0;
}

static int make_volumes(project_op *op, berth_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(op->model, "volumes"), k, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name || json_is_true(json_object_get(v, "external")))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s/volume.json", D.volumes_dir, name);
		if (path_exists(p))
			continue;
		json_t *labels = json_pack("{s:s,s:s}", "com.docker.compose.project", op->name,
					   "com.docker.compose.volume", k);
		int r = volume_create(name, labels, NULL, err);
		json_decref(labels);
		if (r < 0)
			return berth_error_prefix(err, "volume %s", name);
		_cleanup_free_ char *res = xasprintf("Volume %s", name);
		progress(op, res, "Created", NULL);
	}
	return 0;
}

/* Removals first: containers whose configuration changed, and numbers above the scale (the
 * highest go). Kept containers are listed at once; the rest is made by create_all. */
static void plan_removals(project_op *op, psvc *s)
{
	bool force = json_is_true(json_object_get(op->flags, "ForceRecreate"));
	bool never = json_is_true(json_object_get(op->flags, "NoRecreate"));
	json_t *have = existing(op->name, s->name);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(have, tmp, k, v)
	{
		int n = atoi(k);
		container *old = container_find(json_string_value(v), NULL);
		if (!old)
			continue;
		const char *cn = json_string_value(json_object_get(container_rec(old), "Name")) + 1;
		_cleanup_free_ char *res = xasprintf("Container %s", cn);
		if (n > s->want) {
			progress(op, res, "Removing", NULL);
		} else {
			json_t *body = composer_container_body(op->model, s->name, n, NULL);
			const char *want = json_string_value(json_object_get(
			    json_object_get(body, "Labels"), "com.docker.compose.config-hash"));
			bool same = want && !strcmp(label(container_rec(old),
							  "com.docker.compose.config-hash")
							?: "",
						    want);
			json_decref(body);
			if (never || (same && !force)) {
				json_array_append_new(s->ids, json_string(container_id(old)));
				continue;
			}
			progress(op, res, "Recreate", NULL);
		}
		json_object_set_new(op->gone_wait, container_id(old), json_true());
		container_stop_remove(old, -1, false);
	}
	json_decref(have);
}

/* The containers each service still lacks, numbered from the lowest free number. */
static int create_all(project_op *op, berth_error *err)
{
	op->created = true;
	for (size_t i = 0; i < op->n; i++) {
		psvc *s = &op->svcs[i];
		json_t *have = existing(op->name, s->name);
		for (int n = 1; n <= s->want; n++) {
			char num[16];
			snprintf(num, sizeof num, "%d", n);
			if (json_object_get(have, num))
				continue;
			json_t *body = composer_container_body(op->model, s->name, n, err);
			if (!body) {
				json_decref(have);
				return -1;
			}
			_cleanup_free_ char *cname =
			    xstrdup(json_string_value(json_object_get(body, "Name")));
			json_object_del(body, "Name");
			/* the service as it was: a later --dry-run names the fields that changed */
			json_object_set(body, "BerthComposeService", s->svc);
			int status;
			container *c = container_create(body, cname, &status, err);
			json_decref(body);
			if (!c) {
				json_decref(have);
				return berth_error_prefix(err, "service \"%s\"", s->name);
			}
			json_array_append_new(s->ids, json_string(container_id(c)));
			_cleanup_free_ char *res = xasprintf("Container %s", cname);
			progress(op, res, "Created", NULL);
		}
		json_decref(have);
	}
	return 0;
}

/* Containers of the project whose service is no longer in it: reported, or removed. */
static void orphans(project_op *op, bool remove)
{
	json_t *svcs = json_object_get(op->model, "services");
	_cleanup_strbuf_ strbuf names = STRBUF_INIT;
	for (container *c = D.containers, *next; c; c = next) {
		next = container_next(c);
		json_t *rec = container_rec(c);
		const char *p = label(rec, "com.docker.compose.project");
		const char *s = label(rec, "com.docker.compose.service");
		if (!p || !s || strcmp(p, op->name) || json_object_get(svcs, s))
			continue;
		const char *cn = json_string_value(json_object_get(rec, "Name")) + 1;
		if (!remove) {
			sb_addf(&names, "%s%s", names.len ? ", " : "", cn);
			continue;
		}
		_cleanup_free_ char *res = xasprintf("Container %s", cn);
		progress(op, res, "Removing", "orphan");
		json_object_set_new(op->gone_wait, container_id(c), json_true());
		container_stop_remove(c, -1, false);
	}
	if (names.len) {
		_cleanup_free_ char *m =
		    xasprintf("Found orphan containers ([%s]) for this project. If you removed or "
			      "renamed this "
			      "service in your compose file, you can run this command with the "
			      "--remove-orphans flag to clean it up.",
			      names.buf);
		progress(op, "Project", "Warning", m);
	}
}

/* The top-level keys whose values differ (those the config hash counts). */
static char *changed_keys(json_t *old, json_t *now)
{
	_cleanup_strbuf_ strbuf b = STRBUF_INIT;
	json_t *keys = json_object(), *v;
	const char *k;
	json_object_foreach(old, k, v) json_object_set_new(keys, k, json_true());
	json_object_foreach(now, k, v) json_object_set_new(keys, k, json_true());
	static const char *const skip[] = {"build",	 "pull_policy", "scale",
					   "depends_on", "profiles",	NULL};
	json_object_foreach(keys, k, v)
	{
		bool s = !strncmp(k, "x-", 2);
		for (const char *const *p = skip; *p; p++)
			s |= !strcmp(*p, k);
		if (!s && !json_equal(json_object_get(old, k), json_object_get(now, k)))
			sb_addf(&b, "%s%s", b.len ? ", " : "", k);
	}
	json_decref(keys);
	return b.len ? sb_steal(&b) : xstrdup("the image or an unrecorded field");
}

/* --dry-run: what up would do, and for each recreation the fields that cause it. */
static void dry_run(project_op *op)
{
	bool force = json_is_true(json_object_get(op->flags, "ForceRecreate"));
	bool never = json_is_true(json_object_get(op->flags, "NoRecreate"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(op->model, "networks"), k, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		if (name && !json_is_true(json_object_get(v, "external")) && !net_exists(name)) {
			_cleanup_free_ char *res = xasprintf("Network %s", name);
			progress(op, res, "Create", NULL);
		}
	}
	json_object_foreach(json_object_get(op->model, "volumes"), k, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		_cleanup_free_ char *p = xasprintf("%s/%s/volume.json", D.volumes_dir, name ?: "");
		if (name && !json_is_true(json_object_get(v, "external")) && !path_exists(p)) {
			_cleanup_free_ char *res = xasprintf("Volume %s", name);
			progress(op, res, "Create", NULL);
		}
	}
	for (size_t i = 0; i < op->n; i++) {
		psvc *s = &op->svcs[i];
		json_t *have = existing(op->name, s->name);
		for (int n = 1; n <= s->want; n++) {
			char num[16];
			snprintf(num, sizeof num, "%d", n);
			container *c = container_find(
			    json_string_value(json_object_get(have, num)) ?: "-", NULL);
			json_object_del(have, num);
			_cleanup_free_ char *res =
			    xasprintf("Container %s-%s-%d", op->name, s->name, n);
			if (!c) {
				progress(op, res, "Create", NULL);
				continue;
			}
			json_t *rec = container_rec(c);
			json_t *body = composer_container_body(op->model, s->name, n, NULL);
			const char *want = json_string_value(json_object_get(
			    json_object_get(body, "Labels"), "com.docker.compose.config-hash"));
			bool same =
			    want &&
			    !strcmp(label(rec, "com.docker.compose.config-hash") ?: "", want);
			json_decref(body);
			bool running =
			    json_is_true(json_object_get(json_object_get(rec, "State"), "Running"));
			if (never || (same && !force)) {
				progress(op, res, running ? "Running" : "Start", NULL);
			} else if (force && same) {
				progress(op, res, "Recreate", "--force-recreate");
			} else {
				_cleanup_free_ char *why =
				    changed_keys(json_object_get(json_object_get(rec, "Config"),
								 "BerthComposeService"),
						 s->svc);
				_cleanup_free_ char *m = xasprintf("changed: %s", why);
				progress(op, res, "Recreate", m);
			}
		}
		/* the numbers above the scale (whatever their labels say) */
		const char *num;
		json_t *id;
		json_object_foreach(have, num, id)
		{
			container *c = container_find(json_string_value(id), NULL);
			if (!c)
				continue;
			_cleanup_free_ char *res = xasprintf(
			    "Container %s",
			    json_string_value(json_object_get(container_rec(c), "Name")) + 1);
			progress(op, res, "Remove", "above the scale");
		}
		json_decref(have);
	}
	finish(op, NULL);
}

static void up_h(http_conn *conn, const char *name, json_t *body)
{
	berth_error err = BERTH_ERROR_INIT;
	json_t *model = json_object_get(body, "Project");
	if (!json_is_object(model) || !json_is_object(json_object_get(model, "services"))) {
		http_respond_error(conn, 400, "Project: the normalised project is needed");
		return;
	}
	project_op *op = xzalloc(sizeof *op);
	op->name = xstrdup(name);
	op->model = json_incref(model);
	json_object_set_new(op->model, "name", json_string(name));
	json_t *only = json_object_get(body, "Services");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(model, "services"), k, v)
	{
		bool named = !json_array_size(only);
		json_t *o;
		size_t i;
		json_array_foreach(only, i, o) named |= !strcmp(json_string_value(o), k);
		if (!named)
			continue;
		op->svcs = xrealloc(op->svcs, (op->n + 1) * sizeof *op->svcs);
		op->svcs[op->n++] =
		    (psvc){.name = k, .svc = v, .want = replicas(v), .ids = json_array()};
	}
	/* a health-gated dependency without a health check could never be healthy */
	for (size_t i = 0; i < op->n; i++) {
		json_t *deps = json_object_get(op->svcs[i].svc, "depends_on"), *c;
		json_object_foreach(deps, k, c)
		{
			json_t *dep = json_object_get(json_object_get(model, "services"), k);
			if (!strcmp(json_string_value(json_object_get(c, "condition")) ?: "",
				    "service_healthy") &&
			    (!json_object_get(dep, "healthcheck") ||
			     json_is_true(json_object_get(json_object_get(dep, "healthcheck"),
							  "disable")))) {
				http_respond_error(conn, 400,
						   "dependency failed to start: service \"%s\" "
						   "depends on \"%s\" being healthy, but it has no "
						   "health check",
						   op->svcs[i].name, k);
				op_free(op);
				return;
			}
		}
	}
	/* everything is checked and made before anything starts: a key berth cannot apply
	 * or a taken port stops the run with nothing started */
	for (size_t i = 0; i < op->n; i++) {
		json_t *b = composer_container_body(op->model, op->svcs[i].name, 1, &err);
		if (!b) {
			http_respond_error(conn, 400, "%s", err.msg);
			berth_error_clear(&err);
			op_free(op);
			return;
		}
		int st = net_check_ports(b, &err);
		json_decref(b);
		bool ours = false;
		if (st < 0) {
			/* held by this project's own container of the same service is fine */
			json_t *have = existing(name, op->svcs[i].name);
			ours = json_object_size(have) > 0;
			json_decref(have);
			if (!ours) {
				http_respond_error(conn, 409, "%s", err.msg);
				berth_error_clear(&err);
				op_free(op);
				return;
			}
			berth_error_clear(&err);
		}
	}
	op->next = ops;
	ops = op;
	op->conn = conn;
	op->flags = json_incref(body);
	op->gone_wait = json_object();
	conn->ctx = op;
	conn->ctx_free = conn_gone;
	http_stream_begin(conn, "application/json");
	if (json_is_true(json_object_get(body, "DryRun"))) {
		dry_run(op);
		return;
	}
	if (make_networks(op, &err) < 0 || make_volumes(op, &err) < 0)
		goto fail;
	op->arming = true;
	for (size_t i = 0; i < op->n; i++)
		plan_removals(op, &op->svcs[i]);
	orphans(op, json_is_true(json_object_get(body, "RemoveOrphans")));
	op->arming = false;
	if (json_object_size(op->gone_wait))
		return; /* creation and starts follow the removals' "destroy" events */
	if (create_all(op, &err) < 0)
		goto fail;
	advance(op);
	return;
fail:
	finish(op, err.msg);
	berth_error_clear(&err);
}

/* ---- down ---- */

/* The containers are gone: the project's networks, and with -v its volumes. */
static void down_rest(project_op *op)
{
	berth_error err = BERTH_ERROR_INIT;
	char **nets = net_names_labelled("com.docker.compose.project", op->name);
	for (char **n = nets; *n; n++) {
		_cleanup_free_ char *res = xasprintf("Network %s", *n);
		if (net_remove(*n, &err) < 0)
			progress(op, res, "Error", err.msg);
		else
			progress(op, res, "Removed", NULL);
		berth_error_clear(&err);
		free(*n);
	}
	free(nets);
	DIR *d = op->volumes ? opendir(D.volumes_dir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s/volume.json", D.volumes_dir, de->d_name);
		json_t *rec = json_load_file(p, 0, NULL);
		const char *proj = json_string_value(
		    json_object_get(json_object_get(rec, "Labels"), "com.docker.compose.project"));
		_cleanup_free_ char *res = xasprintf("Volume %s", de->d_name);
		if (proj && !strcmp(proj, op->name)) {
			if (volume_remove(de->d_name, false, &err) == 0)
				progress(op, res, "Removed", NULL);
			else
				progress(op, res, "Error", err.msg);
		}
		berth_error_clear(&err);
		json_decref(rec);
	}
	if (d)
		closedir(d);
	finish(op, NULL);
}

static void down_h(http_conn *conn, const char *name, bool volumes, int timeout)
{
	project_op *op = xzalloc(sizeof *op);
	op->name = xstrdup(name);
	op->down = true;
	op->volumes = volumes;
	op->gone_wait = json_object();
	op->next = ops;
	ops = op;
	op->conn = conn;
	conn->ctx = op;
	conn->ctx_free = conn_gone;
	http_stream_begin(conn, "application/json");
	/* every container at once (each with its stop signal and grace period) */
	for (container *c = D.containers; c; c = container_next(c)) {
		const char *p = label(container_rec(c), "com.docker.compose.project");
		if (p && !strcmp(p, name))
			json_object_set_new(op->gone_wait, container_id(c), json_true());
	}
	const char *id;
	json_t *v;
	void *tmp;
	op->arming = true;
	json_t *ids = json_deep_copy(op->gone_wait);
	json_object_foreach_safe(ids, tmp, id, v)
	{
		container *c = container_find(id, NULL);
		if (!c)
			continue;
		_cleanup_free_ char *res =
		    xasprintf("Container %s",
			      json_string_value(json_object_get(container_rec(c), "Name")) + 1);
		progress(op, res, "Removing", NULL);
		container_stop_remove(c, timeout, false);
	}
	json_decref(ids);
	op->arming = false;
	if (!json_object_size(op->gone_wait))
		down_rest(op);
}

void project_h(http_conn *conn, http_request *req, const char *rest)
{
	/* /NAME/up, /NAME/down */
	_cleanup_free_ char *name = xstrdup(rest[0] == '/' ? rest + 1 : rest);
	char *op = strchr(name, '/');
	if (op)
		*op++ = '\0';
	if (!op || !*name || strcmp(req->method, "POST")) {
		http_respond_error(conn, 404, "page not found");
		return;
	}
	if (!strcmp(op, "up")) {
		json_error_t je;
		json_t *body =
		    json_loadb(req->body.buf ? req->body.buf : "", req->body.len, 0, &je);
		if (!json_is_object(body))
			http_respond_error(conn, 400, "invalid JSON body: %s",
					   body ? "not an object" : je.text);
		else
			up_h(conn, name, body);
		json_decref(body);
	} else if (!strcmp(op, "down")) {
		_cleanup_free_ char *t = http_query(req->query, "t");
		down_h(conn, name, http_query_bool(req->query, "v"), t && *t ? atoi(t) : -1);
	} else {
		http_respond_error(conn, 404, "page not found");
	}
}
