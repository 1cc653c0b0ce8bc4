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
#include "../engine/engine.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	const char *name;
	json_t *svc;
	int want;
	int started, healthy, exited_ok; /* containers so far */
	bool launched;
	bool prepared;	/* its containers are made, their starts held (container_prepare) */
	bool gates;	/* a service of the run waits for it to be healthy or to complete */
	bool recreated; /* some of its containers are made anew in this run */
	char *hash;	/* its config hash and its image's id now (up_to_date) */
	char *image_id;
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
	bool unlinked;	 /* down: the bridges' early deletion asked for (net_unlink_early) */
	bool stopping;	 /* stop (down when false): the containers stay */
	json_t *tear;	 /* stop/down: service -> {"ids": {id: true}, "begun": bool} */
	json_t *tear_of; /* stop/down: container id -> [service, name] */
	int timeout;
	bool arming;	   /* removals being asked for: their "destroy" events only count */
	json_t *gone_wait; /* containers whose removal comes first ("destroy" events) */
	project_op *next;
};

static int create_all(project_op *op, berth_error *err);
static int create_service(project_op *op, psvc *s, berth_error *err);
static void down_rest(project_op *op);
static void tear_gone(project_op *op, const char *id, bool destroyed);

static project_op *ops;

static const char *label(json_t *rec, const char *key)
{
	return json_string_value(
	    json_object_get(json_object_get(json_object_get(rec, "Config"), "Labels"), key));
}

/* One JSON line (taken) to the client, if it is still there. */
static void send_line(project_op *op, json_t *l)
{
	if (op->conn) {
		char *t = json_dumps(l, JSON_COMPACT);
		size_t n = strlen(t);
		t[n] = '\n'; /* over the terminating NUL: n + 1 bytes go out */
		http_write(op->conn, t, n + 1);
		free(t);
	}
	json_decref(l);
}

/* Whether service s is among the services named (every one is when none is). */
static bool in_run(json_t *only, const char *s)
{
	json_t *o;
	size_t i;
	json_array_foreach(only, i, o) if (!strcmp(json_string_value(o) ?: "", s)) return true;
	return !json_array_size(only);
}

static void progress(project_op *op, const char *resource, const char *status, const char *msg)
{
	if (!op->conn)
		return;
	json_t *l = json_pack("{s:s,s:s}", "Resource", resource, "Status", status);
	if (msg)
		json_object_set_new(l, "Message", json_string(msg));
	send_line(op, l);
}

static void op_free(project_op *op)
{
	for (project_op **pp = &ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	for (size_t i = 0; i < op->n; i++) {
		json_decref(op->svcs[i].ids);
		free(op->svcs[i].hash);
		free(op->svcs[i].image_id);
	}
	free(op->svcs);
	json_decref(op->model);
	json_decref(op->flags);
	json_decref(op->gone_wait);
	json_decref(op->tear);
	json_decref(op->tear_of);
	free(op->name);
	free(op);
}

static void finish(project_op *op, const char *error)
{
	if (op->done)
		return;
	op->done = true;
	json_t *ids = json_array();
	for (size_t i = 0; i < op->n; i++)
		json_array_extend(ids, op->svcs[i].ids);
	if (op->conn) {
		send_line(op, error ? json_pack("{s:b,s:s}", "Done", 1, "Error", error)
				    : json_pack("{s:b}", "Done", 1));
		op->conn->ctx = NULL;
		http_end(op->conn);
		op->conn = NULL;
	}
	op_free(op);
	/* held starts of services that never got their turn: created containers again (after
	 * the op is gone: what follows sends events) */
	json_t *id;
	size_t k;
	json_array_foreach(ids, k, id)
	{
		container *c = container_find(json_string_value(id), NULL);
		if (c)
			container_unhold(c);
	}
	json_decref(ids);
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

static psvc *joins(project_op *op, psvc *s);

/* Whether a service of this run waits for s to be healthy or to complete (psvc.gates). */
static bool gating(project_op *op, psvc *s)
{
	for (size_t i = 0; i < op->n; i++) {
		json_t *c =
		    json_object_get(json_object_get(op->svcs[i].svc, "depends_on"), s->name);
		const char *cond = json_string_value(json_object_get(c, "condition")) ?: "";
		if (c && (!strcmp(cond, "service_healthy") ||
			  !strcmp(cond, "service_completed_successfully")))
			return true;
	}
	return false;
}

/*
 * Whether a container of this run is being made (held starts once made aside); with
 * gating_only, of a launched service others wait on the health or completion of.
 */
static bool making(project_op *op, bool gating_only)
{
	for (size_t i = 0; i < op->n; i++) {
		if (gating_only && (!op->svcs[i].launched || !op->svcs[i].gates))
			continue;
		json_t *id;
		size_t k;
		json_array_foreach(op->svcs[i].ids, k, id)
		{
			container *c = container_find(json_string_value(id), NULL);
			if (c && container_making(c))
				return true;
		}
	}
	return false;
}

/*
 * Once nothing of this run is being made (the services that could start have), the
 * containers of the services still waiting for their dependencies are made up to the exec
 * of their processes, while those dependencies' checks run: each starts within a moment of
 * its conditions holding.  Not sooner: two cores making everything at once would delay the
 * starts that count.  One that joins another's network namespace waits: that namespace is
 * not there yet.
 */
static void prepare_waiting(project_op *op)
{
	if (making(op, false))
		return;
	for (size_t i = 0; i < op->n; i++) {
		psvc *s = &op->svcs[i];
		if (s->launched || s->prepared || joins(op, s))
			continue;
		s->prepared = true;
		json_t *id;
		size_t k;
		json_array_foreach(s->ids, k, id)
		{
			container *c = container_find(json_string_value(id), NULL);
			berth_error err = BERTH_ERROR_INIT;
			/* a failure shows when it is started for real */
			if (c)
				container_prepare(c, &err);
			berth_error_clear(&err);
		}
	}
}

static void advance(project_op *op)
{
	berth_error err = BERTH_ERROR_INIT;
	if (json_is_true(json_object_get(op->flags, "NoStart"))) {
		finish(op, NULL);
		return;
	}
	bool all = true, wait = json_is_true(json_object_get(op->flags, "Wait"));
	/* the services others wait on the health or completion of first, then the rest */
	for (size_t j = 0; j < 2 * op->n; j++) {
		psvc *s = &op->svcs[j % op->n];
		if ((j < op->n) != s->gates)
			continue;
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
		/* the critical path first: while a service others wait on the health or the
		 * completion of is being made, the rest waits its turn (on two cores, three
		 * starts at once take as long as three one after another) */
		if (!s->gates && making(op, true)) {
			all = false;
			continue;
		}
		s->launched = true;
		/* depends_on restart: true: a dependency made anew restarts what runs of this one
		 */
		bool bounce = false;
		json_object_foreach(deps, dn, cond)
		{
			psvc *d = svc_of(op, dn);
			bounce |=
			    d && d->recreated && json_is_true(json_object_get(cond, "restart"));
		}
		json_t *id;
		size_t k;
		json_array_foreach(s->ids, k, id)
		{
			container *c = container_find(json_string_value(id), NULL);
			const char *cn =
			    c ? json_string_value(json_object_get(container_rec(c), "Name")) + 1
			      : json_string_value(id);
			_cleanup_free_ char *res = xasprintf("Container %s", cn);
			if (c && bounce && container_restart(c) == 0) {
				progress(op, res, "Restarting",
					 NULL); /* its "start" event counts */
				continue;
			}
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
	else
		prepare_waiting(op);
}

/* Whether a container that died is about to run again (a restart asked for, or its policy). */
static bool restarting(const char *id)
{
	container *c = container_find(id, NULL);
	return c && json_is_true(
			json_object_get(json_object_get(container_rec(c), "State"), "Restarting"));
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
		if (op->tear) {
			if (json_object_get(op->tear_of, id) &&
			    (!strcmp(action, "die") || !strcmp(action, "destroy")))
				tear_gone(op, id, !strcmp(action, "destroy"));
			continue;
		}
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
		} else if (!strcmp(action, "die") && restarting(id)) {
			progress(op, res, "Restarting", NULL); /* it runs again: its start counts */
			continue;
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
			/* a dependency that had to turn healthy exited before it did */
			bool gated = false;
			for (size_t i = 0; i < op->n; i++) {
				json_t *c = json_object_get(
				    json_object_get(op->svcs[i].svc, "depends_on"), svcn);
				gated |= c && !op->svcs[i].launched && s->healthy < s->want &&
					 !strcmp(json_string_value(json_object_get(c, "condition"))
						     ?: "",
						 "service_healthy");
			}
			if (gated) {
				_cleanup_free_ char *m = xasprintf(
				    "dependency failed to start: container %s exited (%s)",
				    name ? name : id, code ? code : "?");
				finish(op, m);
				continue;
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

/* Whether the container runs what its service says now: the same config hash and the same
 * image (a tag loaded again points elsewhere: docker compose recreates then too). */
static bool up_to_date(json_t *rec, psvc *s, const char **why)
{
	if (!s->hash) { /* once a service: every replica has the same hash and image */
		s->hash = composer_service_hash(s->svc);
		engine_store *st = engine_store_open_read(D.root, NULL);
		json_t *img =
		    st ? engine_image_inspect(
			     st, json_string_value(json_object_get(s->svc, "image")), NULL)
		       : NULL;
		const char *id = json_string_value(json_object_get(img, "Id"));
		s->image_id = id ? xstrdup(id) : NULL;
		json_decref(img);
		engine_store_close(st);
	}
	const char *had = json_string_value(json_object_get(rec, "Image"));
	*why = NULL;
	if (strcmp(label(rec, "com.docker.compose.config-hash") ?: "", s->hash))
		*why = "config";
	else if (s->image_id && had && strcmp(s->image_id, had))
		*why = "image";
	return !*why;
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
			const char *why;
			bool same = up_to_date(container_rec(old), s, &why);
			if (never || (same && !force)) {
				json_array_append_new(s->ids, json_string(container_id(old)));
				continue;
			}
			progress(op, res, "Recreate", NULL);
			s->recreated = true;
		}
		json_object_set_new(op->gone_wait, container_id(old), json_true());
		container_stop_remove(old, op->timeout, false);
	}
	json_decref(have);
}

/* The service whose network namespace s joins (network_mode: service:X) if it is made in this
 * run too. */
static psvc *joins(project_op *op, psvc *s)
{
	const char *m = json_string_value(json_object_get(s->svc, "network_mode"));
	return m && !strncmp(m, "service:", 8) ? svc_of(op, m + 8) : NULL;
}

/* The containers each service still lacks, numbered from the lowest free number; a service
 * that joins another's network namespace after that one. */
static int create_all(project_op *op, berth_error *err)
{
	op->created = true;
	bool *made = xcalloc(op->n + 1, sizeof *made);
	for (size_t pass = 0; pass < op->n; pass++)
		for (size_t i = 0; i < op->n; i++) {
			psvc *j = joins(op, &op->svcs[i]);
			if (made[i] || (j && !made[j - op->svcs] && pass + 1 < op->n))
				continue;
			made[i] = true;
			if (create_service(op, &op->svcs[i], err) < 0) {
				free(made);
				return -1;
			}
		}
	free(made);
	return 0;
}

static int create_service(project_op *op, psvc *s, berth_error *err)
{
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
		container_stop_remove(c, op->timeout, false);
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
			const char *why;
			bool same = up_to_date(rec, s, &why);
			bool running =
			    json_is_true(json_object_get(json_object_get(rec, "State"), "Running"));
			if (never || (same && !force)) {
				progress(op, res, running ? "Running" : "Start", NULL);
			} else if (force && same) {
				progress(op, res, "Recreate", "--force-recreate");
			} else if (!strcmp(why, "image")) {
				progress(op, res, "Recreate", "changed: the image (loaded again)");
			} else {
				_cleanup_free_ char *keys =
				    changed_keys(json_object_get(json_object_get(rec, "Config"),
								 "BerthComposeService"),
						 s->svc);
				_cleanup_free_ char *m = xasprintf("changed: %s", keys);
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
		if (!in_run(only, k))
			continue;
		op->svcs = xrealloc(op->svcs, (op->n + 1) * sizeof *op->svcs);
		/* --scale SERVICE=N over the file's replicas */
		json_t *sc = json_object_get(json_object_get(body, "Scale"), k);
		op->svcs[op->n++] =
		    (psvc){.name = k,
			   .svc = v,
			   .want = json_is_integer(sc) ? (int)json_integer_value(sc) : replicas(v),
			   .ids = json_array()};
	}
	for (size_t i = 0; i < op->n; i++)
		op->svcs[i].gates = gating(op, &op->svcs[i]);
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
		/* a secret's or config's file must be readable */
		json_t *f;
		size_t fi;
		json_array_foreach(json_object_get(b, "BerthFiles"), fi, f)
		{
			const char *src = json_string_value(json_object_get(f, "Source"));
			if (src && access(src, R_OK) < 0) {
				http_respond_error(
				    conn, 400, "service \"%s\": %s: cannot read %s: %s",
				    op->svcs[i].name, json_string_value(json_object_get(f, "What")),
				    src, strerror(errno));
				json_decref(b);
				op_free(op);
				return;
			}
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
	op->timeout = json_is_integer(json_object_get(body, "Timeout"))
			  ? (int)json_integer_value(json_object_get(body, "Timeout"))
			  : -1;
	conn->ctx = op;
	conn->ctx_free = conn_gone;
	http_stream_begin(conn, "application/json");
	if (json_is_true(json_object_get(body, "DryRun"))) {
		dry_run(op);
		return;
	}
	if (json_is_true(json_object_get(body, "StartOnly"))) {
		/* compose start: the containers there are, each service once its dependencies'
		 * conditions hold */
		op->created = true;
		for (size_t i = 0; i < op->n; i++) {
			json_t *have = existing(op->name, op->svcs[i].name), *id;
			op->svcs[i].want = (int)json_object_size(have);
			json_object_foreach(have, k, id) json_array_append(op->svcs[i].ids, id);
			json_decref(have);
		}
		advance(op);
		return;
	}
	if (make_networks(op, &err) < 0 || make_volumes(op, &err) < 0)
		goto fail;
	if (json_is_true(json_object_get(body, "NetworksOnly"))) {
		finish(op, NULL); /* compose run of a service without dependencies */
		return;
	}
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

/* ---- stop and down: dependents first ---- */

/* Whether a service of the project depends on svc (depends_on, network_mode service:). */
static bool depends(json_t *model, const char *dependent, const char *svc)
{
	json_t *d = json_object_get(json_object_get(model, "services"), dependent);
	const char *nm = json_string_value(json_object_get(d, "network_mode"));
	return json_object_get(json_object_get(d, "depends_on"), svc) ||
	       (nm && !strncmp(nm, "service:", 8) && !strcmp(nm + 8, svc));
}

/* A service's containers wait while a service depending on it still has some. */
static bool tear_blocked(project_op *op, const char *svc)
{
	const char *k;
	json_t *t;
	json_object_foreach(op->tear, k, t)
	{
		bool done = json_is_true(json_object_get(t, "begun")) &&
			    !json_object_size(json_object_get(t, "ids"));
		if (strcmp(k, svc) && !done && depends(op->model, k, svc))
			return true;
	}
	return false;
}

static void tear_begin(project_op *op, json_t *t)
{
	json_object_set_new(t, "begun", json_true());
	json_t *ids = json_deep_copy(json_object_get(t, "ids"));
	const char *id;
	json_t *v;
	json_object_foreach(ids, id, v)
	{
		container *c = container_find(id, NULL);
		if (!c) {
			json_object_del(json_object_get(t, "ids"), id);
			continue;
		}
		_cleanup_free_ char *res =
		    xasprintf("Container %s",
			      json_string_value(json_object_get(container_rec(c), "Name")) + 1);
		if (op->stopping && container_stop(c, op->timeout) == 1) {
			json_object_del(json_object_get(t, "ids"), id); /* it was not running */
			continue;
		}
		bool running = json_is_true(
		    json_object_get(json_object_get(container_rec(c), "State"), "Running"));
		progress(op, res, op->stopping || running ? "Stopping" : "Removing", NULL);
		if (!op->stopping)
			container_stop_remove(c, op->timeout, false);
	}
	json_decref(ids);
}

/* Begins every service nothing waits on; when all are done, the rest of down or the end. */
static void tear_advance(project_op *op)
{
	if (op->arming)
		return;
	op->arming = true; /* removals of stopped containers report back at once */
	bool moved;
	do {
		moved = false;
		bool pending = false;
		const char *k;
		json_t *t;
		json_object_foreach(op->tear, k, t) pending |=
		    json_is_true(json_object_get(t, "begun")) &&
		    json_object_size(json_object_get(t, "ids"));
		json_object_foreach(op->tear, k, t)
		{
			if (json_is_true(json_object_get(t, "begun")) || tear_blocked(op, k))
				continue;
			tear_begin(op, t);
			moved = true;
		}
		if (moved || pending)
			continue;
		/* nothing runs and nothing can begin: a cycle; the rest at once */
		json_object_foreach(op->tear, k, t) if (!json_is_true(json_object_get(t, "begun")))
		{
			tear_begin(op, t);
			moved = true;
		}
	} while (moved);
	op->arming = false;
	const char *k;
	json_t *t;
	json_object_foreach(op->tear, k, t) if (json_object_size(json_object_get(t, "ids"))) return;
	if (op->down && !op->unlinked) {
		/* all stopped: the project's bridges go while the containers are torn down */
		op->unlinked = true;
		char **nets = net_names_labelled("com.docker.compose.project", op->name);
		for (char **n = nets; *n; n++) {
			net_unlink_early(*n, op->tear_of);
			free(*n);
		}
		free(nets);
	}
	if (json_object_size(op->gone_wait))
		return; /* down: removals still under way */
	if (op->down)
		down_rest(op);
	else
		finish(op, NULL);
}

/*
 * A container stopped ("die") or went ("destroy"). The services it waited on may begin once
 * it has stopped: down removes each container on its own, and ends when all are gone.
 */
static void tear_gone(project_op *op, const char *id, bool destroyed)
{
	json_t *of = json_object_get(op->tear_of, id);
	json_t *t = json_object_get(op->tear, json_string_value(json_array_get(of, 0)) ?: "");
	_cleanup_free_ char *res =
	    xasprintf("Container %s", json_string_value(json_array_get(of, 1)) ?: id);
	bool stopped = json_object_get(json_object_get(t, "ids"), id) != NULL;
	json_object_del(json_object_get(t, "ids"), id);
	if (stopped && !destroyed)
		progress(op, res, "Stopped", NULL);
	if (destroyed && json_object_get(op->gone_wait, id)) {
		json_object_del(op->gone_wait, id);
		progress(op, res, "Removed", NULL);
	} else if (!stopped) {
		return;
	}
	tear_advance(op);
}

/*
 * stop (model may be NULL: every container of the project) or down: the containers of the
 * services named (all if none), each service once the services that depend on it are done;
 * without orphans, containers of services the model lacks stay.
 */
static void tear_h(http_conn *conn, const char *name, json_t *model, json_t *only, bool down,
		   bool volumes, bool orphans, int timeout)
{
	project_op *op = xzalloc(sizeof *op);
	op->name = xstrdup(name);
	op->model = json_incref(model);
	op->down = down;
	op->stopping = !down;
	op->volumes = volumes;
	op->timeout = timeout;
	op->tear = json_object();
	op->tear_of = json_object();
	op->gone_wait = json_object();
	op->next = ops;
	ops = op;
	op->conn = conn;
	conn->ctx = op;
	conn->ctx_free = conn_gone;
	json_t *svcs = json_object_get(model, "services");
	for (container *c = D.containers; c; c = container_next(c)) {
		const char *p = label(container_rec(c), "com.docker.compose.project");
		const char *s = label(container_rec(c), "com.docker.compose.service") ?: "";
		if (!p || strcmp(p, name) || (model && !json_object_get(svcs, s) && !orphans))
			continue;
		if (!in_run(only, s))
			continue;
		json_t *t = json_object_get(op->tear, s);
		if (!t)
			json_object_set_new(op->tear, s,
					    t = json_pack("{s:{},s:b}", "ids", "begun", 0));
		json_object_set_new(json_object_get(t, "ids"), container_id(c), json_true());
		if (down)
			json_object_set_new(op->gone_wait, container_id(c), json_true());
		json_object_set_new(
		    op->tear_of, container_id(c),
		    json_pack("[ss]", s,
			      json_string_value(json_object_get(container_rec(c), "Name")) + 1));
	}
	http_stream_begin(conn, "application/json");
	tear_advance(op);
}

static int timeout_of(json_t *body, http_request *req)
{
	json_t *t = json_object_get(body, "Timeout");
	if (json_is_integer(t))
		return (int)json_integer_value(t);
	_cleanup_free_ char *q = http_query(req->query, "t");
	return q && *q ? atoi(q) : -1;
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
	json_error_t je;
	json_t *body =
	    req->body.len ? json_loadb(req->body.buf, req->body.len, 0, &je) : json_object();
	json_t *model = json_object_get(body, "Project");
	if (!json_is_object(body)) {
		http_respond_error(conn, 400, "invalid JSON body: %s",
				   body ? "not an object" : je.text);
	} else if (model && !json_is_object(json_object_get(model, "services"))) {
		http_respond_error(conn, 400, "Project: the normalised project is needed");
	} else if (!strcmp(op, "up")) {
		up_h(conn, name, body);
	} else if (!strcmp(op, "down")) {
		tear_h(conn, name, model, NULL, true,
		       http_query_bool(req->query, "v") ||
			   json_is_true(json_object_get(body, "Volumes")),
		       json_is_true(json_object_get(body, "RemoveOrphans")), timeout_of(body, req));
	} else if (!strcmp(op, "stop")) {
		tear_h(conn, name, model, json_object_get(body, "Services"), false, false, true,
		       timeout_of(body, req));
	} else {
		http_respond_error(conn, 404, "page not found");
	}
	json_decref(body);
}
