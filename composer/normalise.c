/*
 * The last steps of loading (compose-go Normalize, ResolveEnvironment and
 * checkConsistency): profiles, the implicit default network, resource
 * names, implicit depends_on, env_file into environment, and the checks
 * that need the whole project.
 */
#include "internal.h"

#include <string.h>

static bool in_list(char *const *l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i], s))
			return true;
	return false;
}

static bool service_enabled(const cnode *svc, const composer_project *p, const composer_options *o,
			    const char *name)
{
	cnode *prof = composer_map_get(svc, "profiles");
	if (!prof || prof->kind != CN_SEQ || prof->n == 0)
		return true;
	for (size_t i = 0; i < o->nservices; i++)
		if (!strcmp(o->services[i], name))
			return true;
	if (in_list(p->profiles, p->nprofiles, "*"))
		return true;
	for (size_t i = 0; i < prof->n; i++)
		if (prof->e[i].val && prof->e[i].val->str &&
		    in_list(p->profiles, p->nprofiles, prof->e[i].val->str))
			return true;
	return false;
}

/* Each service another service needs: depends_on, and service: references. */
typedef void (*dep_fn)(void *data, const char *dep, const cnode *at, bool required);

static void for_each_dep(const cnode *svc, dep_fn fn, void *data)
{
	cnode *d = composer_map_get(svc, "depends_on");
	for (size_t i = 0; d && d->kind == CN_MAP && i < d->n; i++) {
		cnode *req = composer_map_get(d->e[i].val, "required");
		bool required = !req || node_is_true(req);
		cnode at = {.file = d->file, .line = d->e[i].line, .col = d->e[i].col};
		fn(data, d->e[i].key, &at, required);
	}
}

static const char *service_ref(const cnode *v)
{
	if (v && v->kind == CN_SCALAR && str_has_prefix(v->str, "service:"))
		return v->str + 8;
	return NULL;
}

static void add_implicit(cnode *svc, const char *dep, bool restart)
{
	cnode *d = composer_map_get(svc, "depends_on");
	if (!d) {
		composer_map_set(svc, "depends_on", node_map());
		d = composer_map_get(svc, "depends_on");
	}
	if (composer_map_get(d, dep))
		return;
	cnode *e = node_map();
	composer_map_set(e, "condition", node_str("service_started"));
	composer_map_set(e, "restart", node_bool(restart));
	composer_map_set(e, "required", node_bool(true));
	composer_map_set(d, dep, e);
	node_sort_keys(d);
}

/* build.args without a value take the project environment's, or are dropped. */
static void resolve_build_args(cnode *svc, const composer_env *penv)
{
	cnode *args = composer_map_get(composer_map_get(svc, "build"), "args");
	for (size_t i = 0; args && args->kind == CN_MAP && i < args->n;) {
		if (args->e[i].val && args->e[i].val->kind != CN_NULL) {
			i++;
			continue;
		}
		const char *v = composer_env_get(penv, args->e[i].key);
		if (v) {
			composer_node_free(args->e[i].val);
			args->e[i].val = node_str(v);
			i++;
		} else {
			composer_map_del(args, args->e[i].key);
		}
	}
}

static void implicit_depends_on(cnode *svc)
{
	static const char *const modes[] = {"network_mode", "ipc", "pid", "uts", "cgroup"};
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		const char *dep = service_ref(composer_map_get(svc, modes[i]));
		if (dep)
			add_implicit(svc, dep, true);
	}
	cnode *links = composer_map_get(svc, "links");
	for (size_t i = 0; links && links->kind == CN_SEQ && i < links->n; i++) {
		cnode *l = links->e[i].val;
		if (!l || !l->str)
			continue;
		_cleanup_free_ char *name = xstrdup(l->str);
		char *colon = strchr(name, ':');
		if (colon)
			*colon = '\0';
		add_implicit(svc, name, true);
	}
	cnode *vf = composer_map_get(svc, "volumes_from");
	for (size_t i = 0; vf && vf->kind == CN_SEQ && i < vf->n; i++) {
		cnode *v = vf->e[i].val;
		if (!v || !v->str || str_has_prefix(v->str, "container:"))
			continue;
		_cleanup_free_ char *name = xstrdup(v->str);
		char *colon = strchr(name, ':');
		if (colon)
			*colon = '\0';
		add_implicit(svc, name, false);
	}
}

/* env_file contents, then environment, then bare keys from the project's environment. */
static int resolve_environment(cnode *svc, const composer_env *penv, berth_error *err)
{
	composer_env acc = {0};
	cnode *ef = composer_map_get(svc, "env_file");
	for (size_t i = 0; ef && ef->kind == CN_SEQ && i < ef->n; i++) {
		cnode *it = ef->e[i].val;
		cnode *path = composer_map_get(it, "path");
		if (!path || !path->str)
			continue;
		cnode *req = composer_map_get(it, "required");
		cnode *fmt = composer_map_get(it, "format");
		bool raw = fmt && fmt->str && !strcmp(fmt->str, "raw");
		if (access(path->str, F_OK) != 0) {
			if (req && !node_is_true(req))
				continue;
			composer_env_free(&acc);
			return node_err(err, path, "env file %s not found", path->str);
		}
		composer_env fileenv = {0};
		if (composer_dotenv_read(path->str, raw, penv, &fileenv, err) < 0) {
			composer_env_free(&fileenv);
			composer_env_free(&acc);
			return -1;
		}
		for (size_t j = 0; j < fileenv.n; j++)
			composer_env_set(&acc, fileenv.v[j].name, fileenv.v[j].value, NULL);
		composer_env_free(&fileenv);
	}
	cnode *env = composer_map_get(svc, "environment");
	if (!env) {
		if (!acc.n) {
			composer_env_free(&acc);
			composer_map_del(svc, "env_file");
			return 0;
		}
		composer_map_set(svc, "environment", node_map());
		env = composer_map_get(svc, "environment");
	}
	for (size_t i = 0; i < acc.n; i++)
		if (!composer_map_entry(env, acc.v[i].name))
			composer_map_set(env, acc.v[i].name, node_str(acc.v[i].value));
	for (size_t i = 0; i < env->n; i++) {
		if (env->e[i].val && env->e[i].val->kind != CN_NULL)
			continue;
		const char *v = composer_env_get(penv, env->e[i].key);
		if (v) {
			composer_node_free(env->e[i].val);
			env->e[i].val = node_str(v);
		}
	}
	node_sort_keys(env);
	composer_env_free(&acc);
	composer_map_del(svc, "env_file");
	return 0;
}

static int resolve_labels(cnode *svc, const composer_env *penv, berth_error *err)
{
	cnode *lf = composer_map_get(svc, "label_file");
	if (!lf || lf->kind != CN_SEQ)
		return 0;
	cnode *labels = composer_map_get(svc, "labels");
	if (!labels) {
		composer_map_set(svc, "labels", node_map());
		labels = composer_map_get(svc, "labels");
	}
	composer_env acc = {0};
	for (size_t i = 0; i < lf->n; i++) {
		cnode *it = lf->e[i].val;
		if (!it || !it->str)
			continue;
		composer_env fe = {0};
		if (composer_dotenv_read(it->str, false, penv, &fe, err) < 0) {
			composer_env_free(&fe);
			composer_env_free(&acc);
			return berth_error_prefix(err, "%s:%d:%d: label_file", it->file, it->line,
						  it->col);
		}
		for (size_t j = 0; j < fe.n; j++)
			composer_env_set(&acc, fe.v[j].name, fe.v[j].value, NULL);
		composer_env_free(&fe);
	}
	for (size_t i = 0; i < acc.n; i++)
		if (!composer_map_entry(labels, acc.v[i].name))
			composer_map_set(labels, acc.v[i].name, node_str(acc.v[i].value));
	node_sort_keys(labels);
	composer_env_free(&acc);
	return 0;
}

typedef struct {
	const cnode *services;
	const cnode *disabled;
	const char *name;
	berth_error *err;
	int failed;
} depcheck;

static void check_dep(void *data, const char *dep, const cnode *at, bool required)
{
	depcheck *d = data;
	if (d->failed || composer_map_get(d->services, dep))
		return;
	cnode *dis = composer_map_get(d->disabled, dep);
	if (dis && required) {
		strbuf sb = STRBUF_INIT;
		cnode *prof = composer_map_get(dis, "profiles");
		for (size_t i = 0; prof && i < prof->n; i++)
			sb_addf(&sb, "%s%s", i ? " " : "", prof->e[i].val->str);
		node_err(d->err, at,
			 "service \"%s\" is required by \"%s\" but is disabled. Can be enabled by "
			 "profiles [%s]",
			 dep, d->name, sb.buf ? sb.buf : "");
		sb_release(&sb);
		d->failed = 1;
		return;
	}
	if (dis || !required)
		return;
	node_err(d->err, at,
		 "service \"%s\" depends on undefined service \"%s\": invalid compose project",
		 d->name, dep);
	d->failed = 1;
}

typedef struct {
	const cnode *services;
	char **order;
	size_t n;
	char **path;
	size_t npath;
	unsigned char *state; /* 0 new, 1 visiting, 2 done */
	berth_error *err;
} topo;

static int visit(topo *t, size_t idx, const cnode *at)
{
	if (t->state[idx] == 2)
		return 0;
	const char *name = t->services->e[idx].key;
	if (t->state[idx] == 1) {
		strbuf sb = STRBUF_INIT;
		size_t start = 0;
		for (size_t i = 0; i < t->npath; i++)
			if (!strcmp(t->path[i], name))
				start = i;
		for (size_t i = start; i < t->npath; i++)
			sb_addf(&sb, "%s -> ", t->path[i]);
		sb_adds(&sb, name);
		node_err(t->err, at, "dependency cycle detected: %s", sb.buf);
		sb_release(&sb);
		return -1;
	}
	t->state[idx] = 1;
	t->path[t->npath++] = (char *)name;
	cnode *d = composer_map_get(t->services->e[idx].val, "depends_on");
	for (size_t i = 0; d && d->kind == CN_MAP && i < d->n; i++) {
		cnode pos = {.file = d->file, .line = d->e[i].line, .col = d->e[i].col};
		for (size_t j = 0; j < t->services->n; j++)
			if (!strcmp(t->services->e[j].key, d->e[i].key) && visit(t, j, &pos) < 0)
				return -1;
	}
	t->npath--;
	t->state[idx] = 2;
	t->order[t->n++] = xstrdup(name);
	return 0;
}

char **composer_service_order(const composer_node *model, size_t *n, berth_error *err)
{
	const cnode *services = composer_map_get(model, "services");
	size_t cnt = services ? services->n : 0;
	topo t = {.services = services,
		  .order = xcalloc(cnt + 1, sizeof(char *)),
		  .path = xcalloc(cnt + 1, sizeof(char *)),
		  .state = xcalloc(cnt + 1, 1),
		  .err = err};
	for (size_t i = 0; i < cnt; i++) {
		if (visit(&t, i, NULL) < 0) {
			for (size_t j = 0; j < t.n; j++)
				free(t.order[j]);
			free(t.order);
			free(t.path);
			free(t.state);
			return NULL;
		}
	}
	free(t.path);
	free(t.state);
	*n = t.n;
	return t.order;
}

static long long replicas_of(const cnode *svc)
{
	cnode *r = composer_map_get(composer_map_get(svc, "deploy"), "replicas");
	cnode *s = composer_map_get(svc, "scale");
	if (s && s->str)
		return strtoll(s->str, NULL, 10);
	if (r && r->str)
		return strtoll(r->str, NULL, 10);
	return 1;
}

static int check_resources(const cnode *root, const char *sname, const cnode *svc, berth_error *err)
{
	cnode *nets = composer_map_get(svc, "networks");
	cnode *topnets = composer_map_get(root, "networks");
	for (size_t i = 0; nets && nets->kind == CN_MAP && i < nets->n; i++)
		if (!composer_map_get(topnets, nets->e[i].key) &&
		    !(strcmp(nets->e[i].key, "default") == 0 && !topnets))
			return node_err(err,
					&(cnode){.file = nets->file,
						 .line = nets->e[i].line,
						 .col = nets->e[i].col},
					"service \"%s\" refers to undefined network %s: invalid "
					"compose project",
					sname, nets->e[i].key);
	cnode *vols = composer_map_get(svc, "volumes");
	cnode *topvols = composer_map_get(root, "volumes");
	for (size_t i = 0; vols && vols->kind == CN_SEQ && i < vols->n; i++) {
		cnode *v = vols->e[i].val;
		cnode *type = composer_map_get(v, "type"), *src = composer_map_get(v, "source");
		if (!type || !type->str || strcmp(type->str, "volume") || !src || !src->str ||
		    !*src->str)
			continue;
		if (!composer_map_get(topvols, src->str))
			return node_err(err, v,
					"service \"%s\" refers to undefined volume %s: invalid "
					"compose project",
					sname, src->str);
	}
	static const char *const kinds[] = {"secrets", "configs"};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		cnode *l = composer_map_get(svc, kinds[k]);
		cnode *top = composer_map_get(root, kinds[k]);
		for (size_t i = 0; l && l->kind == CN_SEQ && i < l->n; i++) {
			cnode *src = composer_map_get(l->e[i].val, "source");
			if (src && src->str && !composer_map_get(top, src->str))
				return node_err(
				    err, l->e[i].val,
				    "service \"%s\" refers to undefined %.*s %s: invalid "
				    "compose project",
				    sname, (int)strlen(kinds[k]) - 1, kinds[k], src->str);
		}
	}
	return 0;
}

static int check_service(const cnode *root, const char *name, const cnode *svc, berth_error *err)
{
	cnode *scale = composer_map_get(svc, "scale");
	cnode *rep = composer_map_get(composer_map_get(svc, "deploy"), "replicas");
	if (scale && rep && scale->str && rep->str &&
	    strtoll(scale->str, NULL, 10) != strtoll(rep->str, NULL, 10))
		return node_err(err, scale,
				"services.%s: can't set distinct values on 'scale' (%s) and "
				"'deploy.replicas' (%s)",
				name, scale->str, rep->str);
	cnode *plat = composer_map_get(svc, "platform");
	cnode *plats = composer_map_get(composer_map_get(svc, "build"), "platforms");
	if (plat && plat->str && plats && plats->kind == CN_SEQ) {
		bool found = false;
		for (size_t i = 0; i < plats->n; i++)
			found |= plats->e[i].val && plats->e[i].val->str &&
				 !strcmp(plats->e[i].val->str, plat->str);
		if (!found)
			return node_err(err, plat,
					"services.%s: service.build.platforms MUST include "
					"service.platform \"%s\"",
					name, plat->str);
	}
	cnode *cn = composer_map_get(svc, "container_name");
	if (cn && replicas_of(svc) > 1)
		return node_err(
		    err, cn,
		    "services.%s: container_name \"%s\" is set but the service has %lld "
		    "replicas: a container name must be unique",
		    name, cn->str ? cn->str : "", replicas_of(svc));
	return check_resources(root, name, svc, err);
}

static int check_ports(const cnode *services, berth_error *err)
{
	typedef struct {
		const char *svc;
		const cnode *at;
		char *key;
	} used;
	used *u = NULL;
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < services->n && r == 0; i++) {
		cnode *ports = composer_map_get(services->e[i].val, "ports");
		for (size_t j = 0; ports && ports->kind == CN_SEQ && j < ports->n && r == 0; j++) {
			cnode *pt = ports->e[j].val;
			cnode *pub = composer_map_get(pt, "published");
			if (!pub || !pub->str || !*pub->str || strchr(pub->str, '-'))
				continue;
			cnode *ip = composer_map_get(pt, "host_ip");
			cnode *proto = composer_map_get(pt, "protocol");
			char *key = xasprintf("%s:%s/%s", ip && ip->str ? ip->str : "0.0.0.0",
					      pub->str, proto && proto->str ? proto->str : "tcp");
			for (size_t k = 0; k < n; k++)
				if (!strcmp(u[k].key, key)) {
					r = node_err(err, pt,
						     "services.%s: port %s is already published by "
						     "service \"%s\"",
						     services->e[i].key, key, u[k].svc);
					break;
				}
			u = xrealloc(u, (n + 1) * sizeof *u);
			u[n++] = (used){services->e[i].key, pt, key};
		}
	}
	for (size_t k = 0; k < n; k++)
		free(u[k].key);
	free(u);
	return r;
}

static void keep_with_deps(const cnode *services, const char *name, cnode *keep)
{
	if (composer_map_get(keep, name))
		return;
	cnode *svc = composer_map_get(services, name);
	if (!svc)
		return;
	composer_map_set(keep, name, composer_node_scalar("true", 0));
	cnode *d = composer_map_get(svc, "depends_on");
	for (size_t i = 0; d && d->kind == CN_MAP && i < d->n; i++)
		keep_with_deps(services, d->e[i].key, keep);
}

static void set_names(cnode *root, const char *project)
{
	static const char *const kinds[] = {"networks", "volumes", "secrets", "configs"};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		cnode *top = composer_map_get(root, kinds[k]);
		for (size_t i = 0; top && top->kind == CN_MAP && i < top->n; i++) {
			cnode *r = top->e[i].val;
			if (!r || r->kind != CN_MAP || composer_map_get(r, "name"))
				continue;
			bool ext = node_is_true(composer_map_get(r, "external"));
			_cleanup_free_ char *nm = ext ? xstrdup(top->e[i].key)
						      : xasprintf("%s_%s", project, top->e[i].key);
			composer_map_set(r, "name", node_str(nm));
		}
	}
}

/* Key order of `docker compose config`: name, services, networks, volumes, ... */
static void order_model(cnode *root)
{
	static const char *const order[] = {"name",    "services", "networks", "volumes",
					    "secrets", "configs",  "models"};
	cnode *out = node_map();
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		composer_entry *e = composer_map_entry(root, order[i]);
		if (!e)
			continue;
		composer_map_set(out, order[i], e->val);
		e->val = NULL;
		composer_map_del(root, order[i]);
	}
	node_sort_keys(root);
	for (size_t i = 0; i < root->n; i++) {
		composer_map_set(out, root->e[i].key, root->e[i].val);
		root->e[i].val = NULL;
	}
	for (size_t i = 0; i < root->n; i++)
		free(root->e[i].key);
	free(root->e);
	root->e = out->e;
	root->n = out->n;
	root->cap = out->cap;
	out->e = NULL;
	out->n = 0;
	composer_node_free(out);
	cnode *services = composer_map_get(root, "services");
	node_sort_keys(services);
	for (size_t i = 0; services && i < services->n; i++)
		node_sort_keys(services->e[i].val);
	static const char *const kinds[] = {"networks", "volumes", "secrets", "configs"};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		node_sort_keys(composer_map_get(root, kinds[k]));
}

int normalise_project(load_ctx *c, composer_project *p, berth_error *err)
{
	const composer_options *o = c->o;
	cnode *root = p->model;
	cnode *version = composer_map_get(root, "version");
	if (version) {
		if (o->warn) {
			_cleanup_free_ char *m = xasprintf(
			    "%s:%d:%d: the attribute `version` is obsolete, it will be ignored, "
			    "please remove it to avoid potential confusion",
			    version->file, version->line, version->col);
			o->warn(o->warn_data, m);
		}
		composer_map_del(root, "version");
	}
	bool empty = root->n == 0 || (root->n == 1 && composer_map_get(root, "name"));
	if (empty)
		return berth_error_set(err, 0, "%s: empty compose file", p->files[0]);
	composer_map_set(root, "name", node_str(p->name));
	cnode *services = composer_map_get(root, "services");
	if (!services || services->kind != CN_MAP) {
		composer_map_set(root, "services", node_map());
		services = composer_map_get(root, "services");
	}
	/* Profiles. */
	p->disabled = node_map();
	for (size_t i = 0; i < services->n;) {
		if (service_enabled(services->e[i].val, p, o, services->e[i].key)) {
			i++;
			continue;
		}
		composer_map_set(p->disabled, services->e[i].key, services->e[i].val);
		services->e[i].val = NULL;
		composer_map_del(services, services->e[i].key);
	}
	for (size_t i = 0; i < o->nservices; i++)
		if (!composer_map_get(services, o->services[i]))
			return berth_error_set(err, 0, "no such service: %s", o->services[i]);
	if (!o->no_normalize) {
		bool uses_default = false;
		for (size_t i = 0; i < services->n; i++) {
			cnode *svc = services->e[i].val;
			if (!svc || svc->kind != CN_MAP)
				continue;
			if (!composer_map_get(svc, "network_mode") &&
			    !composer_map_get(svc, "networks")) {
				cnode *nets = node_map();
				composer_map_set(nets, "default", composer_node_scalar(NULL, 0));
				composer_map_set(svc, "networks", nets);
			}
			if (composer_map_get(composer_map_get(svc, "networks"), "default"))
				uses_default = true;
			resolve_build_args(svc, &p->env);
			implicit_depends_on(svc);
		}
		cnode *nets = composer_map_get(root, "networks");
		if (uses_default && !composer_map_get(nets, "default")) {
			if (!nets) {
				composer_map_set(root, "networks", node_map());
				nets = composer_map_get(root, "networks");
			}
			composer_map_set(nets, "default", node_map());
		}
		set_names(root, p->name);
	}
	for (size_t i = 0; i < services->n; i++) {
		cnode *svc = services->e[i].val;
		if (!o->no_env_resolution && resolve_environment(svc, &p->env, err) < 0)
			return -1;
		if (resolve_labels(svc, &p->env, err) < 0)
			return -1;
	}
	if (!o->no_consistency) {
		for (size_t i = 0; i < services->n; i++) {
			depcheck d = {services, p->disabled, services->e[i].key, err, 0};
			for_each_dep(services->e[i].val, check_dep, &d);
			if (d.failed)
				return -1;
			if (check_service(root, services->e[i].key, services->e[i].val, err) < 0)
				return -1;
		}
		size_t n;
		char **order = composer_service_order(root, &n, err);
		if (!order)
			return -1;
		for (size_t i = 0; i < n; i++)
			free(order[i]);
		free(order);
		if (check_ports(services, err) < 0)
			return -1;
	}
	if (o->nservices) {
		cnode *keep = node_map();
		for (size_t i = 0; i < o->nservices; i++)
			keep_with_deps(services, o->services[i], keep);
		for (size_t i = 0; i < services->n;) {
			if (composer_map_get(keep, services->e[i].key))
				i++;
			else
				composer_map_del(services, services->e[i].key);
		}
		composer_node_free(keep);
	}
	order_model(root);
	return 0;
}

static void escape_dollars(cnode *n)
{
	if (!n)
		return;
	if (n->kind == CN_SCALAR && strchr(n->str, '$')) {
		strbuf sb = STRBUF_INIT;
		for (const char *s = n->str; *s; s++) {
			if (*s == '$')
				sb_addc(&sb, '$');
			sb_addc(&sb, *s);
		}
		free(n->str);
		n->str = sb_steal(&sb);
	}
	for (size_t i = 0; i < n->n; i++)
		escape_dollars(n->e[i].val);
}

char *composer_project_yaml(const composer_project *p, bool escape_dollar)
{
	cnode *copy = composer_node_copy(p->model);
	if (escape_dollar)
		escape_dollars(copy);
	char *s = composer_yaml_emit(copy);
	composer_node_free(copy);
	return s;
}

char *composer_project_json(const composer_project *p, bool escape_dollar)
{
	cnode *copy = composer_node_copy(p->model);
	if (escape_dollar)
		escape_dollars(copy);
	json_t *j = composer_node_to_json(copy);
	composer_node_free(copy);
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	char *r = xasprintf("%s\n", s);
	free(s);
	return r;
}
