/*
 * Loading a project as docker compose does (compose-go loader.go): files,
 * .env, project name, per-file interpolation, include, extends, merge,
 * profiles; then normalise.c finishes the model.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *dir_of(const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	return xstrdup(dirname(copy));
}

static char *abs_path(const char *base, const char *p)
{
	if (p[0] == '/')
		return path_clean(p);
	_cleanup_free_ char *j = xasprintf("%s/%s", base, p);
	return path_clean(j);
}

static void warn(load_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(load_ctx *c, const char *fmt, ...)
{
	if (!c->o->warn)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	c->o->warn(c->o->warn_data, m);
}

static void warn_cb(void *data, const char *msg)
{
	load_ctx *c = data;
	warn(c, "%s", msg);
}

/* Keys must be strings: a plain 123 or true as key is an error. */
static int check_keys(const cnode *n, const char *path, berth_error *err)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n->n; i++) {
		const composer_entry *e = &n->e[i];
		_cleanup_free_ char *cp = NULL;
		if (n->kind == CN_MAP) {
			if (!(e->kflags & CN_QUOTED)) {
				cnode k = {.kind = CN_SCALAR, .str = e->key};
				composer_type t = composer_node_type(&k);
				if (t != CT_STRING)
					return berth_error_set(
					    err, 0, "%s:%d:%d: non-string key in %s: %s", n->file,
					    e->line, e->col, *path ? path : "top-level", e->key);
			}
			cp = *path ? xasprintf("%s.%s", path, e->key) : xstrdup(e->key);
		} else {
			cp = xasprintf("%s[%zu]", path, i);
		}
		if (check_keys(e->val, cp, err) < 0)
			return -1;
	}
	return 0;
}

static void mark_templates(cnode *n)
{
	if (!n)
		return;
	if (n->kind == CN_SCALAR && strchr(n->str, '$'))
		n->flags |= CN_INTERP;
	for (size_t i = 0; i < n->n; i++)
		mark_templates(n->e[i].val);
}

/* Reads and parses one file: documents merged, keys checked. */
static cnode *parse_file(load_ctx *c, const char *path, berth_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!strcmp(path, "-") && c->o->stdin_text) {
		text = xstrdup(c->o->stdin_text);
		len = strlen(text);
	} else {
		text = read_file(path, &len, err);
		if (!text)
			return NULL;
	}
	size_t nd = 0;
	const char *name = !strcmp(path, "-") ? "(stdin)" : path;
	composer_node **docs = composer_yaml_parse(text, len, name, &nd, err);
	if (!docs)
		return NULL;
	cnode *root = NULL;
	for (size_t i = 0; i < nd; i++) {
		cnode *d = docs[i];
		docs[i] = NULL;
		if (!d || d->kind == CN_NULL) {
			composer_node_free(d);
			continue;
		}
		if (d->kind != CN_MAP) {
			node_err(err, d, "top-level object must be a mapping");
			composer_node_free(d);
			composer_node_free(root);
			composer_docs_free(docs, nd);
			return NULL;
		}
		if (!root)
			root = d;
		else
			composer_merge(root, d, err);
	}
	composer_docs_free(docs, nd);
	if (!root)
		root = composer_node_new(CN_MAP, composer_intern(name), 1, 1);
	if (check_keys(root, "", err) < 0) {
		composer_node_free(root);
		return NULL;
	}
	return root;
}

/* Interpolates and validates a parsed file. */
static int prepare_file(load_ctx *c, cnode *root, const composer_env *env, berth_error *err)
{
	if (c->o->no_interpolate)
		mark_templates(root);
	else if (composer_interpolate(root, env, warn_cb, c, err) < 0)
		return -1;
	return composer_schema_validate(root, err);
}

static int push(load_ctx *c, const char *item, const char *what, berth_error *err)
{
	for (size_t i = 0; i < c->nstack; i++) {
		if (strcmp(c->stack[i], item) != 0)
			continue;
		strbuf sb = STRBUF_INIT;
		for (size_t j = i; j < c->nstack; j++)
			sb_addf(&sb, "%s -> ", c->stack[j]);
		sb_adds(&sb, item);
		berth_error_set(err, 0, "%s: %s", what, sb.buf);
		sb_release(&sb);
		return -1;
	}
	c->stack = xrealloc(c->stack, (c->nstack + 1) * sizeof *c->stack);
	c->stack[c->nstack++] = xstrdup(item);
	return 0;
}

static void pop(load_ctx *c)
{
	free(c->stack[--c->nstack]);
}

static int process_file(load_ctx *c, cnode *root, const char *file, const char *dir,
			const composer_env *env, berth_error *err);

static int resolve_extends(load_ctx *c, cnode *root, const char *file, const char *dir,
			   const char *name, const composer_env *env, berth_error *err);

/* Loads another file named by `extends.file`, processed in its own directory. */
static cnode *load_other(load_ctx *c, const char *path, const composer_env *env, berth_error *err)
{
	cnode *other = parse_file(c, path, err);
	if (!other)
		return NULL;
	_cleanup_free_ char *odir = dir_of(path);
	if (prepare_file(c, other, env, err) < 0 ||
	    process_file(c, other, path, odir, env, err) < 0) {
		composer_node_free(other);
		return NULL;
	}
	return other;
}

static int resolve_extends(load_ctx *c, cnode *root, const char *file, const char *dir,
			   const char *name, const composer_env *env, berth_error *err)
{
	cnode *services = composer_map_get(root, "services");
	cnode *svc = composer_map_get(services, name);
	cnode *ext = composer_map_get(svc, "extends");
	if (!ext)
		return 0;
	_cleanup_free_ char *base_name = NULL, *base_file = NULL;
	if (ext->kind == CN_SCALAR) {
		base_name = xstrdup(ext->str);
	} else {
		cnode *s = composer_map_get(ext, "service"), *f = composer_map_get(ext, "file");
		if (!s || s->kind != CN_SCALAR)
			return node_err(err, ext, "extends.%s.service is required", name);
		base_name = xstrdup(s->str);
		if (f && f->kind == CN_SCALAR)
			base_file = abs_path(dir, f->str);
	}
	_cleanup_free_ char *item = xasprintf("%s#%s", file, name);
	if (push(c, item, "Circular reference", err) < 0)
		return node_err(err, ext, "%s", err->msg);
	int r = -1;
	cnode *base = NULL;
	if (base_file) {
		cnode *other = load_other(c, base_file, env, err);
		if (!other) {
			if (!strstr(err->msg, ext->file))
				berth_error_prefix(err, "%s:%d:%d: extends", ext->file, ext->line,
						   ext->col);
			goto out;
		}
		cnode *b = composer_map_get(composer_map_get(other, "services"), base_name);
		if (!b) {
			node_err(err, ext,
				 "cannot extend service \"%s\": service \"%s\" not found in %s",
				 name, base_name, base_file);
			composer_node_free(other);
			goto out;
		}
		if (resolve_extends(c, other, base_file, dir, base_name, env, err) < 0) {
			composer_node_free(other);
			goto out;
		}
		base = composer_node_copy(
		    composer_map_get(composer_map_get(other, "services"), base_name));
		composer_node_free(other);
	} else {
		if (!composer_map_get(services, base_name)) {
			node_err(err, ext, "cannot extend service \"%s\": service \"%s\" not found",
				 name, base_name);
			goto out;
		}
		if (resolve_extends(c, root, file, dir, base_name, env, err) < 0)
			goto out;
		base = composer_node_copy(composer_map_get(services, base_name));
	}
	if (!base || base->kind != CN_MAP) {
		composer_node_free(base);
		base = node_map();
	}
	composer_map_del(base, "extends");
	svc = composer_map_get(services, name);
	composer_map_del(svc, "extends");
	/* Merge as services.<name> so that the per-field rules apply. */
	cnode *wb = node_map(), *wbs = node_map(), *wo = node_map(), *wos = node_map();
	composer_map_set(wbs, name, base);
	composer_map_set(wb, "services", wbs);
	composer_map_set(wos, name, composer_node_copy(svc));
	composer_map_set(wo, "services", wos);
	composer_merge(wb, wo, err);
	composer_entry *e = composer_map_entry(services, name);
	composer_node_free(e->val);
	e->val = composer_node_copy(composer_map_get(composer_map_get(wb, "services"), name));
	composer_node_free(wb);
	r = 0;
out:
	pop(c);
	return r;
}

static int import_resources(cnode *root, cnode *inc, const cnode *at, berth_error *err)
{
	static const char *const kinds[] = {"services", "networks", "volumes", "secrets",
					    "configs"};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		cnode *src = composer_map_get(inc, kinds[k]);
		if (!src || src->kind != CN_MAP)
			continue;
		cnode *dst = composer_map_get(root, kinds[k]);
		if (!dst) {
			composer_map_set(root, kinds[k], node_map());
			dst = composer_map_get(root, kinds[k]);
		}
		for (size_t i = 0; i < src->n; i++) {
			cnode *have = composer_map_get(dst, src->e[i].key);
			if (have) {
				if (!composer_node_equal(have, src->e[i].val))
					return node_err(err, at,
							"%s.%s conflicts with imported resource",
							kinds[k], src->e[i].key);
				continue;
			}
			composer_map_set(dst, src->e[i].key, composer_node_copy(src->e[i].val));
		}
	}
	return 0;
}

static int do_include(load_ctx *c, cnode *root, const char *file, const char *dir,
		      const composer_env *env, berth_error *err)
{
	cnode *inc = composer_map_get(root, "include");
	if (!inc || inc->kind != CN_SEQ)
		return 0;
	for (size_t i = 0; i < inc->n; i++) {
		cnode *it = inc->e[i].val;
		cnode *paths = it && it->kind == CN_MAP ? composer_map_get(it, "path") : it;
		cnode *pdir = composer_map_get(it, "project_directory");
		cnode *envf = composer_map_get(it, "env_file");
		char **files = NULL;
		size_t nf = 0;
		if (paths && paths->kind == CN_SCALAR) {
			files = xmalloc(sizeof *files);
			files[nf++] = abs_path(dir, paths->str);
		} else if (paths && paths->kind == CN_SEQ) {
			files = xcalloc(paths->n + 1, sizeof *files);
			for (size_t j = 0; j < paths->n; j++)
				if (paths->e[j].val && paths->e[j].val->str)
					files[nf++] = abs_path(dir, paths->e[j].val->str);
		}
		int r = -1;
		cnode *acc = NULL;
		_cleanup_free_ char *idir = NULL;
		composer_env ienv = {0};
		if (!nf) {
			node_err(err, it, "include entry has no path");
			goto next;
		}
		idir = pdir && pdir->str ? abs_path(dir, pdir->str) : dir_of(files[0]);
		for (size_t j = 0; env && j < env->n; j++)
			composer_env_set(&ienv, env->v[j].name, env->v[j].value, env->v[j].origin);
		{
			/* The included project's own .env (or env_file) adds variables. */
			composer_env dot = {0};
			int dr = 0;
			if (envf) {
				for (size_t j = 0; j < (envf->kind == CN_SEQ ? envf->n : 1); j++) {
					cnode *ef = envf->kind == CN_SEQ ? envf->e[j].val : envf;
					if (!ef || !ef->str)
						continue;
					_cleanup_free_ char *p = abs_path(dir, ef->str);
					if ((dr = composer_dotenv_read(p, false, &ienv, &dot,
								       err)) < 0)
						break;
				}
			} else {
				_cleanup_free_ char *p = xasprintf("%s/.env", idir);
				if (is_file(p))
					dr = composer_dotenv_read(p, false, &ienv, &dot, err);
			}
			for (size_t j = 0; j < dot.n; j++)
				if (!composer_env_find(&ienv, dot.v[j].name))
					composer_env_set(&ienv, dot.v[j].name, dot.v[j].value,
							 dot.v[j].origin);
			composer_env_free(&dot);
			if (dr < 0)
				goto next;
		}
		for (size_t j = 0; j < nf; j++) {
			if (push(c, files[j], "include cycle detected", err) < 0) {
				node_err(err, it, "%s", err->msg);
				goto next;
			}
			cnode *t = parse_file(c, files[j], err);
			if (!t)
				berth_error_prefix(err, "%s:%d:%d: include", it->file, it->line,
						   it->col);
			if (!t || prepare_file(c, t, &ienv, err) < 0 ||
			    process_file(c, t, files[j], idir, &ienv, err) < 0) {
				composer_node_free(t);
				pop(c);
				goto next;
			}
			pop(c);
			if (!acc)
				acc = t;
			else
				composer_merge(acc, t, err);
		}
		if (import_resources(root, acc, it, err) < 0)
			goto next;
		r = 0;
	next:
		composer_node_free(acc);
		composer_env_free(&ienv);
		for (size_t j = 0; j < nf; j++)
			free(files[j]);
		free(files);
		if (r < 0)
			return -1;
	}
	composer_map_del(root, "include");
	return 0;
}

static int process_file(load_ctx *c, cnode *root, const char *file, const char *dir,
			const composer_env *env, berth_error *err)
{
	/* Local resources win over included ones: include after the file's own. */
	canon_ctx cc = {dir, c->home, !c->o->no_path_resolution};
	if (canon_project(root, &cc, err) < 0)
		return -1;
	cnode *services = composer_map_get(root, "services");
	for (size_t i = 0; services && services->kind == CN_MAP && i < services->n; i++) {
		_cleanup_free_ char *name = xstrdup(services->e[i].key);
		if (resolve_extends(c, root, file, dir, name, env, err) < 0)
			return -1;
	}
	return do_include(c, root, file, dir, env, err);
}

/* Project names (compose-go NormalizeProjectName and its check). */
static char *normalise_name(const char *s)
{
	strbuf sb = STRBUF_INIT;
	for (const char *p = s; *p; p++) {
		char ch = (char)tolower((unsigned char)*p);
		if (isalnum((unsigned char)ch) || ch == '_' || ch == '-')
			sb_addc(&sb, ch);
	}
	char *r = sb_steal(&sb);
	size_t skip = strspn(r, "_-");
	memmove(r, r + skip, strlen(r + skip) + 1);
	return r;
}

static bool valid_name(const char *s)
{
	if (!*s || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static const char *const default_files[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
					    "docker-compose.yaml"};
static const char *const override_files[] = {"compose.override.yaml", "compose.override.yml",
					     "docker-compose.override.yml",
					     "docker-compose.override.yaml"};

static int discover(const char *workdir, char ***files, size_t *n, berth_error *err)
{
	_cleanup_free_ char *dir = xstrdup(workdir);
	for (;;) {
		for (size_t i = 0; i < ARRAY_SIZE(default_files); i++) {
			_cleanup_free_ char *p = xasprintf("%s/%s", dir, default_files[i]);
			if (!is_file(p))
				continue;
			*files = xcalloc(2, sizeof **files);
			(*files)[(*n)++] = steal_ptr(p);
			for (size_t j = 0; j < ARRAY_SIZE(override_files); j++) {
				_cleanup_free_ char *o = xasprintf("%s/%s", dir, override_files[j]);
				if (is_file(o)) {
					(*files)[(*n)++] = steal_ptr(o);
					break;
				}
			}
			return 0;
		}
		if (!strcmp(dir, "/"))
			break;
		char *up = dir_of(dir);
		free(dir);
		dir = up;
	}
	return berth_error_set(err, 0,
			       "no configuration file provided: not found (looked for %s, %s, %s "
			       "or %s in %s and its parents)",
			       default_files[0], default_files[1], default_files[2],
			       default_files[3], workdir);
}

void composer_project_free(composer_project *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->workdir);
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	for (size_t i = 0; i < p->nprofiles; i++)
		free(p->profiles[i]);
	free(p->profiles);
	composer_node_free(p->model);
	composer_node_free(p->disabled);
	composer_env_free(&p->env);
	free(p);
}

static void split_into(const char *s, const char *seps, char ***out, size_t *n)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *t = strtok_r(copy, seps, &save); t; t = strtok_r(NULL, seps, &save)) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = xstrdup(t);
	}
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

composer_project *composer_load(const composer_options *o, berth_error *err)
{
	composer_project *p = xzalloc(sizeof *p);
	load_ctx c = {.o = o, .env = &p->env, .err = err};
	char cwd[4096];
	const char *workdir = o->workdir;
	char **files = NULL, **profiles = NULL;
	size_t nfiles = 0, nprofiles = 0;
	cnode **raw = NULL;
	cnode *acc = NULL;
	if (!workdir) {
		if (!getcwd(cwd, sizeof cwd)) {
			berth_error_set(err, errno, "getcwd");
			goto fail;
		}
		workdir = cwd;
	}
	composer_env_from_environ(&p->env, o->environ ? o->environ : environ);
	c.home = composer_env_get(&p->env, "HOME");

	/* $PWD/.env may name the files (COMPOSE_FILE) before they are found. */
	composer_env early = {0};
	if (!o->nenv_files) {
		_cleanup_free_ char *dot = xasprintf("%s/.env", workdir);
		if (is_file(dot) && composer_dotenv_read(dot, false, &p->env, &early, err) < 0)
			goto fail;
	}
	const char *cf = composer_env_get(&p->env, "COMPOSE_FILE");
	if (!cf)
		cf = composer_env_get(&early, "COMPOSE_FILE");
	if (o->nfiles) {
		files = xcalloc(o->nfiles, sizeof *files);
		for (size_t i = 0; i < o->nfiles; i++)
			files[nfiles++] = !strcmp(o->files[i], "-")
					      ? xstrdup("-")
					      : abs_path(workdir, o->files[i]);
	} else if (cf && *cf) {
		const char *sep = composer_env_get(&p->env, "COMPOSE_PATH_SEPARATOR");
		char **l = NULL;
		size_t n = 0;
		split_into(cf, sep && *sep ? sep : ":", &l, &n);
		files = xcalloc(n + 1, sizeof *files);
		for (size_t i = 0; i < n; i++)
			files[nfiles++] = abs_path(workdir, l[i]);
		free_list(l, n);
	} else if (discover(workdir, &files, &nfiles, err) < 0) {
		composer_env_free(&early);
		goto fail;
	}
	composer_env_free(&early);
	p->workdir = o->project_dir	     ? abs_path(workdir, o->project_dir)
		     : strcmp(files[0], "-") ? dir_of(files[0])
					     : xstrdup(workdir);

	/* .env of the project directory, or --env-file: never over the OS env. */
	composer_env dot = {0};
	int dr = 0;
	if (o->nenv_files) {
		for (size_t i = 0; i < o->nenv_files && dr == 0; i++) {
			_cleanup_free_ char *ef = abs_path(workdir, o->env_files[i]);
			dr = composer_dotenv_read(ef, false, &p->env, &dot, err);
		}
	} else if (!composer_env_get(&p->env, "COMPOSE_DISABLE_ENV_FILE")) {
		_cleanup_free_ char *ef = xasprintf("%s/.env", p->workdir);
		if (is_file(ef))
			dr = composer_dotenv_read(ef, false, &p->env, &dot, err);
	}
	for (size_t i = 0; i < dot.n; i++)
		if (!composer_env_find(&p->env, dot.v[i].name))
			composer_env_set(&p->env, dot.v[i].name, dot.v[i].value, dot.v[i].origin);
	composer_env_free(&dot);
	if (dr < 0)
		goto fail;

	/* Parse every file first: the project name may come from one of them. */
	raw = xcalloc(nfiles, sizeof *raw);
	for (size_t i = 0; i < nfiles; i++)
		if (!(raw[i] = parse_file(&c, files[i], err)))
			goto fail;
	if (o->project_name) {
		if (!valid_name(o->project_name)) {
			berth_error_set(
			    err, 0,
			    "invalid project name \"%s\": must consist only of lowercase "
			    "alphanumeric characters, hyphens, and underscores as well as "
			    "start with a letter or number",
			    o->project_name);
			goto fail;
		}
		p->name = xstrdup(o->project_name);
	} else if (composer_env_get(&p->env, "COMPOSE_PROJECT_NAME") &&
		   *composer_env_get(&p->env, "COMPOSE_PROJECT_NAME")) {
		const char *n = composer_env_get(&p->env, "COMPOSE_PROJECT_NAME");
		if (!valid_name(n)) {
			berth_error_set(
			    err, 0,
			    "invalid project name \"%s\" (from COMPOSE_PROJECT_NAME): "
			    "must consist only of lowercase alphanumeric characters, "
			    "hyphens, and underscores as well as start with a letter or "
			    "number",
			    n);
			goto fail;
		}
		p->name = xstrdup(n);
	} else {
		for (size_t i = nfiles; i-- > 0 && !p->name;) {
			cnode *nm = composer_map_get(raw[i], "name");
			if (!nm || nm->kind != CN_SCALAR)
				continue;
			_cleanup_free_ char *v =
			    o->no_interpolate
				? xstrdup(nm->str)
				: composer_interpolate_str(nm->str, &p->env, NULL, err);
			if (!v) {
				berth_error_prefix(err, "%s:%d:%d: name", nm->file, nm->line,
						   nm->col);
				goto fail;
			}
			p->name = normalise_name(v);
		}
		if (!p->name) {
			_cleanup_free_ char *copy = xstrdup(p->workdir);
			p->name = normalise_name(basename(copy));
		}
	}
	if (!*p->name) {
		berth_error_set(err, 0, "project name must not be empty");
		goto fail;
	}
	if (!composer_env_find(&p->env, "COMPOSE_PROJECT_NAME"))
		composer_env_set(&p->env, "COMPOSE_PROJECT_NAME", p->name, "project name");

	for (size_t i = 0; i < nfiles; i++) {
		const char *fname = !strcmp(files[i], "-") ? "(stdin)" : files[i];
		if (push(&c, files[i], "include cycle detected", err) < 0)
			goto fail;
		int r = prepare_file(&c, raw[i], &p->env, err);
		if (r == 0)
			r = process_file(&c, raw[i], fname, p->workdir, &p->env, err);
		pop(&c);
		if (r < 0)
			goto fail;
		if (!acc) {
			acc = raw[i];
		} else {
			composer_merge(acc, raw[i], err);
		}
		raw[i] = NULL;
	}
	merge_strip_reset(acc);
	p->files = files;
	p->nfiles = nfiles;
	files = NULL;
	nfiles = 0;
	p->model = acc;
	acc = NULL;

	const char *pe = composer_env_get(&p->env, "COMPOSE_PROFILES");
	if (o->nprofiles) {
		for (size_t i = 0; i < o->nprofiles; i++)
			split_into(o->profiles[i], ",", &profiles, &nprofiles);
	} else if (pe) {
		split_into(pe, ",", &profiles, &nprofiles);
	}
	p->profiles = profiles;
	p->nprofiles = nprofiles;
	profiles = NULL;
	if (normalise_project(&c, p, err) < 0)
		goto fail;
	free(raw);
	free(c.stack);
	return p;
fail:
	for (size_t i = 0; raw && i < nfiles; i++)
		composer_node_free(raw[i]);
	free(raw);
	free_list(files, nfiles);
	free_list(profiles, nprofiles);
	composer_node_free(acc);
	for (size_t i = 0; i < c.nstack; i++)
		free(c.stack[i]);
	free(c.stack);
	composer_project_free(p);
	return NULL;
}
