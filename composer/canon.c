/*
 * Short syntax to long syntax, as compose-go's transform package and
 * SetDefaultValues do: ports, volumes, environment, labels, depends_on,
 * networks, healthcheck, durations and sizes, relative paths.
 */
#include "internal.h"

#include <ctype.h>
#include <string.h>

cnode *node_str(const char *s)
{
	return composer_node_scalar(s, CN_QUOTED);
}

cnode *node_num(long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	return composer_node_scalar(buf, 0);
}

cnode *node_bool(bool v)
{
	return composer_node_scalar(v ? "true" : "false", 0);
}

cnode *node_map(void)
{
	return composer_node_new(CN_MAP, NULL, 0, 0);
}

cnode *node_seq(void)
{
	return composer_node_new(CN_SEQ, NULL, 0, 0);
}

void node_mark_string(cnode *n)
{
	if (n && n->kind == CN_SCALAR) {
		n->flags |= CN_QUOTED;
		n->flags &= ~(unsigned)CN_INTERP;
	}
}

/* A scalar written as a string that holds a number becomes that number. */
static void node_mark_number(cnode *n)
{
	if (!n || n->kind != CN_SCALAR)
		return;
	cnode tmp = *n;
	tmp.flags = 0;
	composer_type t = composer_node_type(&tmp);
	if (t == CT_INT || t == CT_FLOAT)
		n->flags &= ~(unsigned)(CN_QUOTED | CN_INTERP);
}

static void node_mark_bool(cnode *n)
{
	if (!n || n->kind != CN_SCALAR)
		return;
	cnode tmp = *n;
	tmp.flags = 0;
	if (composer_node_type(&tmp) == CT_BOOL)
		n->flags &= ~(unsigned)(CN_QUOTED | CN_INTERP);
}

bool node_is_true(const cnode *n)
{
	return composer_node_type(n) == CT_BOOL && (n->str[0] == 't' || n->str[0] == 'T');
}

int node_err(berth_error *err, const cnode *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	if (at && at->file)
		return berth_error_set(err, 0, "%s:%d:%d: %s", at->file, at->line, at->col, m);
	return berth_error_set(err, 0, "%s", m);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const composer_entry *)a)->key, ((const composer_entry *)b)->key);
}

void node_sort_keys(cnode *map)
{
	if (map && map->kind == CN_MAP && map->n > 1)
		qsort(map->e, map->n, sizeof *map->e, cmp_entry);
}

char *path_clean(const char *p)
{
	bool abs = p[0] == '/';
	_cleanup_free_ char *copy = xstrdup(p);
	char **parts = NULL;
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (n && strcmp(parts[n - 1], ".."))
				n--;
			else if (!abs) {
				parts = xrealloc(parts, (n + 1) * sizeof *parts);
				parts[n++] = t;
			}
			continue;
		}
		parts = xrealloc(parts, (n + 1) * sizeof *parts);
		parts[n++] = t;
	}
	strbuf sb = STRBUF_INIT;
	if (abs)
		sb_addc(&sb, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(&sb, '/');
		sb_adds(&sb, parts[i]);
	}
	free(parts);
	if (!sb.len)
		sb_addc(&sb, '.');
	return sb_steal(&sb);
}

char *canon_path(const canon_ctx *c, const char *p)
{
	if (!c->resolve)
		return xstrdup(p);
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0') && c->home) {
		_cleanup_free_ char *j = xasprintf("%s%s", c->home, p + 1);
		return path_clean(j);
	}
	if (p[0] == '/')
		return path_clean(p);
	_cleanup_free_ char *j = xasprintf("%s/%s", c->dir, p);
	return path_clean(j);
}

static bool is_remote(const char *s)
{
	return strstr(s, "://") || str_has_prefix(s, "git@") || str_has_prefix(s, "github.com/") ||
	       str_has_prefix(s, "docker-image:") || str_has_prefix(s, "service:") ||
	       str_has_prefix(s, "oci-layout:");
}

static void resolve_in_place(const canon_ctx *c, cnode *n)
{
	if (!n || n->kind != CN_SCALAR || is_remote(n->str))
		return;
	char *p = canon_path(c, n->str);
	free(n->str);
	n->str = p;
	node_mark_string(n);
}

/* A scalar or a list of scalars becomes a list. */
static void to_list(cnode *parent, const char *key)
{
	cnode *v = composer_map_get(parent, key);
	if (!v || v->kind != CN_SCALAR)
		return;
	cnode *seq = composer_node_new(CN_SEQ, v->file, v->line, v->col);
	seq->flags = v->flags & (CN_RESET | CN_OVERRIDE);
	composer_seq_add(seq, composer_node_copy(v));
	composer_map_set(parent, key, seq);
}

static void all_strings(cnode *n)
{
	for (size_t i = 0; n && i < n->n; i++)
		node_mark_string(n->e[i].val);
}

/*
 * environment, labels, args, sysctls...: a list of KEY=VALUE (or KEY) or a
 * mapping becomes a mapping of strings (null for a bare KEY).
 */
static int list_or_dict(cnode *parent, const char *key, char sep, bool null_if_bare,
			berth_error *err)
{
	cnode *v = composer_map_get(parent, key);
	if (!v)
		return 0;
	if (v->kind == CN_SEQ) {
		cnode *m = composer_node_new(CN_MAP, v->file, v->line, v->col);
		m->flags = v->flags & (CN_RESET | CN_OVERRIDE);
		for (size_t i = 0; i < v->n; i++) {
			cnode *it = v->e[i].val;
			if (!it || it->kind != CN_SCALAR) {
				composer_node_free(m);
				return node_err(err, it ? it : v, "%s entries must be strings",
						key);
			}
			char *eq = strchr(it->str, sep);
			if (sep == '=' && !eq && strchr(it->str, ':') &&
			    !strcmp(key, "extra_hosts"))
				eq = strchr(it->str, ':');
			_cleanup_free_ char *k =
			    eq ? xstrndup(it->str, (size_t)(eq - it->str)) : xstrdup(it->str);
			cnode *val =
			    eq ? node_str(eq + 1)
			       : (null_if_bare ? composer_node_scalar(NULL, 0) : node_str(""));
			if (val->kind != CN_NULL) {
				val->file = it->file;
				val->line = it->line;
				val->col = it->col;
			}
			composer_map_set(m, k, val);
			m->e[m->n - 1].line = it->line;
			m->e[m->n - 1].col = it->col;
		}
		composer_map_set(parent, key, m);
		v = m;
	} else if (v->kind == CN_MAP) {
		for (size_t i = 0; i < v->n; i++) {
			cnode *val = v->e[i].val;
			if (val && val->kind != CN_SCALAR && val->kind != CN_NULL)
				return node_err(err, val, "%s.%s must be a string", key,
						v->e[i].key);
			if (!null_if_bare && (!val || val->kind == CN_NULL)) {
				composer_node_free(val);
				v->e[i].val = val = node_str("");
			}
			node_mark_string(val);
		}
	}
	node_sort_keys(composer_map_get(parent, key));
	return 0;
}

static int duration(cnode *parent, const char *key, berth_error *err)
{
	cnode *v = composer_map_get(parent, key);
	if (!v || v->kind != CN_SCALAR)
		return 0;
	if (!*v->str) { /* an empty interpolation leaves the default */
		composer_map_del(parent, key);
		return 0;
	}
	long long ns;
	if (composer_parse_duration(v->str, &ns) < 0)
		return node_err(err, v, "%s: invalid duration \"%s\"", key, v->str);
	free(v->str);
	v->str = composer_format_duration(ns);
	node_mark_string(v);
	return 0;
}

static int bytes(cnode *parent, const char *key, berth_error *err)
{
	cnode *v = composer_map_get(parent, key);
	if (!v || v->kind != CN_SCALAR)
		return 0;
	if (!*v->str) {
		composer_map_del(parent, key);
		return 0;
	}
	long long b;
	if (composer_parse_bytes(v->str, &b) < 0)
		return node_err(err, v, "%s: invalid size \"%s\"", key, v->str);
	free(v->str);
	v->str = xasprintf("%lld", b);
	node_mark_string(v);
	return 0;
}

static void number(cnode *parent, const char *key)
{
	node_mark_number(composer_map_get(parent, key));
}

static void boolean(cnode *parent, const char *key)
{
	node_mark_bool(composer_map_get(parent, key));
}

/* shlex-style split, as compose-go's shellwords does for command strings. */
static int shell_split(const char *s, cnode *out, const cnode *at, berth_error *err)
{
	strbuf w = STRBUF_INIT;
	bool in_word = false;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			sb_addc(&w, *++p);
			in_word = true;
		} else if (*p == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e) {
				sb_release(&w);
				return node_err(err, at, "unterminated quote in \"%s\"", s);
			}
			sb_addn(&w, p + 1, (size_t)(e - p - 1));
			p = e;
			in_word = true;
		} else if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
					p++;
				sb_addc(&w, *p++);
			}
			if (!*p) {
				sb_release(&w);
				return node_err(err, at, "unterminated quote in \"%s\"", s);
			}
			in_word = true;
		} else if (isspace((unsigned char)*p)) {
			if (in_word) {
				composer_seq_add(out, node_str(w.buf ? w.buf : ""));
				w.len = 0;
				if (w.buf)
					w.buf[0] = 0;
				in_word = false;
			}
		} else {
			sb_addc(&w, *p);
			in_word = true;
		}
	}
	if (in_word)
		composer_seq_add(out, node_str(w.buf ? w.buf : ""));
	sb_release(&w);
	return 0;
}

static int command(cnode *parent, const char *key, berth_error *err)
{
	cnode *v = composer_map_get(parent, key);
	if (!v)
		return 0;
	if (v->kind == CN_SCALAR) {
		cnode *seq = composer_node_new(CN_SEQ, v->file, v->line, v->col);
		seq->flags = v->flags & (CN_RESET | CN_OVERRIDE);
		if (shell_split(v->str, seq, v, err) < 0) {
			composer_node_free(seq);
			return -1;
		}
		composer_map_set(parent, key, seq);
	} else {
		all_strings(v);
	}
	return 0;
}

static int parse_range(const char *s, long *lo, long *hi)
{
	char *end;
	if (!*s)
		return -1;
	*lo = strtol(s, &end, 10);
	if (end == s)
		return -1;
	if (*end == '-') {
		const char *h = end + 1;
		*hi = strtol(h, &end, 10);
		if (end == h)
			return -1;
	} else {
		*hi = *lo;
	}
	if (*end || *lo < 0 || *hi < *lo || *hi > 65535)
		return -1;
	return 0;
}

static cnode *port_entry(const char *ip, const char *published, long target, const char *proto)
{
	cnode *m = node_map();
	composer_map_set(m, "mode", node_str("ingress"));
	if (ip && *ip)
		composer_map_set(m, "host_ip", node_str(ip));
	composer_map_set(m, "target", node_num(target));
	if (published && *published)
		composer_map_set(m, "published", node_str(published));
	composer_map_set(m, "protocol", node_str(proto));
	return m;
}

static int port_short(const cnode *it, cnode *out, berth_error *err)
{
	_cleanup_free_ char *s = xstrdup(it->str);
	const char *proto = "tcp";
	char *slash = strrchr(s, '/');
	if (slash) {
		*slash = '\0';
		proto = slash + 1;
	}
	char *ip = NULL, *pub = NULL, *tgt = NULL;
	char *rest = s;
	if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return node_err(err, it, "invalid port \"%s\"", it->str);
		*close = '\0';
		ip = s + 1;
		rest = close + 2;
		char *c = strchr(rest, ':');
		if (c) {
			*c = '\0';
			pub = rest;
			tgt = c + 1;
		} else {
			tgt = rest;
		}
	} else {
		char *last = strrchr(rest, ':');
		if (!last) {
			tgt = rest;
		} else {
			*last = '\0';
			tgt = last + 1;
			char *prev = strrchr(rest, ':');
			if (prev) {
				*prev = '\0';
				ip = rest;
				pub = prev + 1;
			} else {
				pub = rest;
			}
		}
	}
	long tlo, thi, plo = 0, phi = 0;
	if (parse_range(tgt, &tlo, &thi) < 0)
		return node_err(err, it, "invalid port \"%s\": bad container port", it->str);
	bool has_pub = pub && *pub;
	if (has_pub && parse_range(pub, &plo, &phi) < 0)
		return node_err(err, it, "invalid port \"%s\": bad host port", it->str);
	if (has_pub && thi != tlo && phi - plo != thi - tlo)
		return node_err(
		    err, it, "invalid port \"%s\": host and container port ranges differ in size",
		    it->str);
	for (long t = tlo; t <= thi; t++) {
		char pbuf[32] = "";
		if (has_pub) {
			if (thi != tlo)
				snprintf(pbuf, sizeof pbuf, "%ld", plo + (t - tlo));
			else
				snprintf(pbuf, sizeof pbuf, "%s", pub);
		}
		cnode *e = port_entry(ip, pbuf, t, proto);
		e->file = it->file;
		e->line = it->line;
		e->col = it->col;
		composer_seq_add(out, e);
	}
	return 0;
}

static int ports(cnode *svc, berth_error *err)
{
	cnode *v = composer_map_get(svc, "ports");
	if (!v || v->kind != CN_SEQ)
		return 0;
	cnode *out = composer_node_new(CN_SEQ, v->file, v->line, v->col);
	out->flags = v->flags & (CN_RESET | CN_OVERRIDE);
	for (size_t i = 0; i < v->n; i++) {
		cnode *it = v->e[i].val;
		if (it && it->kind == CN_SCALAR) {
			if (port_short(it, out, err) < 0) {
				composer_node_free(out);
				return -1;
			}
			continue;
		}
		if (!it || it->kind != CN_MAP)
			continue;
		cnode *m = composer_node_copy(it);
		if (!composer_map_get(m, "mode"))
			composer_map_set(m, "mode", node_str("ingress"));
		if (!composer_map_get(m, "protocol"))
			composer_map_set(m, "protocol", node_str("tcp"));
		number(m, "target");
		node_mark_string(composer_map_get(m, "published"));
		composer_seq_add(out, m);
	}
	composer_map_set(svc, "ports", out);
	return 0;
}

static bool is_volume_mode(const char *s)
{
	static const char *const modes[] = {
	    "ro",    "rw",     "z",	  "Z",	      "nocopy", "shared",    "rshared",
	    "slave", "rslave", "private", "rprivate", "cached", "delegated", "consistent"};
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
			if (!strcmp(t, modes[i]))
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

static int volume_short(const canon_ctx *c, const cnode *it, cnode **out, berth_error *err)
{
	_cleanup_free_ char *s = xstrdup(it->str);
	char *parts[3] = {NULL, NULL, NULL};
	size_t n = 0;
	char *p = s;
	while (n < 3) {
		char *colon = strchr(p, ':');
		parts[n++] = p;
		if (!colon)
			break;
		*colon = '\0';
		p = colon + 1;
		if (n == 3)
			return node_err(err, it,
					"invalid volume specification \"%s\": too many colons",
					it->str);
	}
	const char *src = NULL, *dst, *mode = NULL;
	if (n == 1) {
		dst = parts[0];
	} else if (n == 2) {
		if (is_volume_mode(parts[1]) && parts[0][0] == '/') {
			dst = parts[0];
			mode = parts[1];
		} else {
			src = parts[0];
			dst = parts[1];
		}
	} else {
		src = parts[0];
		dst = parts[1];
		mode = parts[2];
	}
	if (!*dst)
		return node_err(err, it, "invalid volume specification \"%s\": empty target",
				it->str);
	cnode *m = node_map();
	m->file = it->file;
	m->line = it->line;
	m->col = it->col;
	bool bind = src && (src[0] == '/' || src[0] == '.' || src[0] == '~');
	composer_map_set(m, "type", node_str(!src ? "volume" : bind ? "bind" : "volume"));
	if (src) {
		_cleanup_free_ char *abs = bind ? canon_path(c, src) : xstrdup(src);
		composer_map_set(m, "source", node_str(abs));
	}
	_cleanup_free_ char *target = path_clean(dst);
	composer_map_set(m, "target", node_str(target));
	cnode *opts = node_map();
	if (mode) {
		_cleanup_free_ char *copy = xstrdup(mode);
		char *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "ro"))
				composer_map_set(m, "read_only", node_bool(true));
			else if (!strcmp(t, "rw"))
				;
			else if (!strcmp(t, "z") || !strcmp(t, "Z"))
				composer_map_set(opts, "selinux", node_str(t));
			else if (!strcmp(t, "nocopy"))
				composer_map_set(opts, "nocopy", node_bool(true));
			else if (!strcmp(t, "cached") || !strcmp(t, "delegated") ||
				 !strcmp(t, "consistent"))
				composer_map_set(m, "consistency", node_str(t));
			else if (is_volume_mode(t))
				composer_map_set(opts, "propagation", node_str(t));
			else {
				composer_node_free(opts);
				composer_node_free(m);
				return node_err(err, it,
						"invalid volume specification \"%s\": unknown mode "
						"\"%s\"",
						it->str, t);
			}
		}
	}
	composer_map_set(m, bind ? "bind" : "volume", opts);
	*out = m;
	return 0;
}

static int volumes(cnode *svc, const canon_ctx *c, berth_error *err)
{
	cnode *v = composer_map_get(svc, "volumes");
	if (!v || v->kind != CN_SEQ)
		return 0;
	for (size_t i = 0; i < v->n; i++) {
		cnode *it = v->e[i].val;
		if (it && it->kind == CN_SCALAR) {
			cnode *m = NULL;
			if (volume_short(c, it, &m, err) < 0)
				return -1;
			composer_node_free(it);
			v->e[i].val = m;
			continue;
		}
		if (!it || it->kind != CN_MAP)
			continue;
		cnode *type = composer_map_get(it, "type");
		cnode *src = composer_map_get(it, "source");
		if (type && type->kind == CN_SCALAR && !strcmp(type->str, "bind") && src)
			resolve_in_place(c, src);
		cnode *tgt = composer_map_get(it, "target");
		if (tgt && tgt->kind == CN_SCALAR) {
			char *t = path_clean(tgt->str);
			free(tgt->str);
			tgt->str = t;
		}
		cnode *bind = composer_map_get(it, "bind");
		cnode *chp = composer_map_get(bind, "create_host_path");
		/* compose-go omits create_host_path when true (its zero value). */
		if (chp && node_is_true(chp))
			composer_map_del(bind, "create_host_path");
		boolean(it, "read_only");
		cnode *tmpfs = composer_map_get(it, "tmpfs");
		if (tmpfs && composer_map_get(tmpfs, "size")) {
			if (bytes(tmpfs, "size", err) < 0)
				return -1;
		}
		number(tmpfs, "mode");
	}
	return 0;
}

static int depends_on(cnode *svc, berth_error *err)
{
	(void)err;
	cnode *v = composer_map_get(svc, "depends_on");
	if (!v)
		return 0;
	if (v->kind == CN_SEQ) {
		cnode *m = composer_node_new(CN_MAP, v->file, v->line, v->col);
		m->flags = v->flags & (CN_RESET | CN_OVERRIDE);
		for (size_t i = 0; i < v->n; i++) {
			cnode *it = v->e[i].val;
			if (!it || it->kind != CN_SCALAR)
				continue;
			cnode *d = node_map();
			composer_map_set(d, "condition", node_str("service_started"));
			composer_map_set(d, "required", node_bool(true));
			composer_map_set(m, it->str, d);
			m->e[m->n - 1].line = it->line;
			m->e[m->n - 1].col = it->col;
		}
		composer_map_set(svc, "depends_on", m);
		v = m;
	}
	for (size_t i = 0; i < v->n; i++) {
		cnode *d = v->e[i].val;
		if (!d || d->kind == CN_NULL) {
			d = node_map();
			composer_map_set(d, "condition", node_str("service_started"));
			composer_node_free(v->e[i].val);
			v->e[i].val = d;
		}
		if (d->kind != CN_MAP)
			continue;
		if (!composer_map_get(d, "condition"))
			composer_map_set(d, "condition", node_str("service_started"));
		if (!composer_map_get(d, "required"))
			composer_map_set(d, "required", node_bool(true));
		boolean(d, "required");
		boolean(d, "restart");
	}
	node_sort_keys(v);
	return 0;
}

static void networks_list(cnode *svc)
{
	cnode *v = composer_map_get(svc, "networks");
	if (!v || v->kind != CN_SEQ)
		return;
	cnode *m = composer_node_new(CN_MAP, v->file, v->line, v->col);
	m->flags = v->flags & (CN_RESET | CN_OVERRIDE);
	for (size_t i = 0; i < v->n; i++) {
		cnode *it = v->e[i].val;
		if (!it || it->kind != CN_SCALAR)
			continue;
		composer_map_set(m, it->str, composer_node_scalar(NULL, 0));
		m->e[m->n - 1].line = it->line;
		m->e[m->n - 1].col = it->col;
	}
	composer_map_set(svc, "networks", m);
}

static int healthcheck(cnode *svc, berth_error *err)
{
	cnode *h = composer_map_get(svc, "healthcheck");
	if (!h || h->kind != CN_MAP)
		return 0;
	cnode *t = composer_map_get(h, "test");
	if (t && t->kind == CN_SCALAR) {
		cnode *seq = composer_node_new(CN_SEQ, t->file, t->line, t->col);
		composer_seq_add(seq, node_str("CMD-SHELL"));
		composer_seq_add(seq, node_str(t->str));
		composer_map_set(h, "test", seq);
	} else {
		all_strings(t);
	}
	static const char *const durs[] = {"interval", "timeout", "start_period", "start_interval"};
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++)
		if (duration(h, durs[i], err) < 0)
			return -1;
	number(h, "retries");
	boolean(h, "disable");
	return 0;
}

static int env_files(cnode *svc, const canon_ctx *c, const char *key)
{
	to_list(svc, key);
	cnode *v = composer_map_get(svc, key);
	if (!v || v->kind != CN_SEQ)
		return 0;
	for (size_t i = 0; i < v->n; i++) {
		cnode *it = v->e[i].val;
		if (!strcmp(key, "label_file")) {
			resolve_in_place(c, it);
			continue;
		}
		if (it && it->kind == CN_SCALAR) {
			cnode *m = node_map();
			_cleanup_free_ char *p = canon_path(c, it->str);
			composer_map_set(m, "path", node_str(p));
			composer_map_set(m, "required", node_bool(true));
			m->file = it->file;
			m->line = it->line;
			m->col = it->col;
			composer_node_free(it);
			v->e[i].val = m;
		} else if (it && it->kind == CN_MAP) {
			resolve_in_place(c, composer_map_get(it, "path"));
			if (!composer_map_get(it, "required"))
				composer_map_set(it, "required", node_bool(true));
			boolean(it, "required");
		}
	}
	return 0;
}

static void file_refs(cnode *svc, const char *key)
{
	cnode *v = composer_map_get(svc, key);
	if (!v || v->kind != CN_SEQ)
		return;
	for (size_t i = 0; i < v->n; i++) {
		cnode *it = v->e[i].val;
		if (it && it->kind == CN_SCALAR) {
			cnode *m = node_map();
			composer_map_set(m, "source", node_str(it->str));
			m->file = it->file;
			m->line = it->line;
			m->col = it->col;
			composer_node_free(it);
			v->e[i].val = m;
		} else if (it && it->kind == CN_MAP) {
			node_mark_string(composer_map_get(it, "uid"));
			node_mark_string(composer_map_get(it, "gid"));
			cnode *mode = composer_map_get(it, "mode");
			if (mode && mode->kind == CN_SCALAR && !(mode->flags & CN_QUOTED)) {
				/* YAML reads 0440 as octal; compose prints it as "0440". */
				long v8 = strtol(mode->str, NULL, 0);
				if (mode->str[0] != '0')
					v8 = strtol(mode->str, NULL, 10);
				free(mode->str);
				mode->str = xasprintf("0%lo", v8);
			}
			node_mark_string(mode);
		}
	}
}

static int build(cnode *svc, const canon_ctx *c, berth_error *err)
{
	cnode *b = composer_map_get(svc, "build");
	if (!b)
		return 0;
	if (b->kind == CN_SCALAR) {
		cnode *m = composer_node_new(CN_MAP, b->file, b->line, b->col);
		composer_map_set(m, "context", node_str(b->str));
		composer_map_set(svc, "build", m);
		b = m;
	}
	if (b->kind != CN_MAP)
		return 0;
	if (!composer_map_get(b, "context"))
		composer_map_set(b, "context", node_str("."));
	resolve_in_place(c, composer_map_get(b, "context"));
	if (!composer_map_get(b, "dockerfile") && !composer_map_get(b, "dockerfile_inline"))
		composer_map_set(b, "dockerfile", node_str("Dockerfile"));
	if (list_or_dict(b, "args", '=', true, err) < 0 ||
	    list_or_dict(b, "labels", '=', false, err) < 0)
		return -1;
	cnode *ac = composer_map_get(b, "additional_contexts");
	if (ac && ac->kind == CN_SEQ && list_or_dict(b, "additional_contexts", '=', false, err) < 0)
		return -1;
	ac = composer_map_get(b, "additional_contexts");
	for (size_t i = 0; ac && ac->kind == CN_MAP && i < ac->n; i++)
		resolve_in_place(c, ac->e[i].val);
	to_list(b, "ssh");
	to_list(b, "cache_from");
	file_refs(b, "secrets");
	return bytes(b, "shm_size", err);
}

static int ulimits(cnode *svc)
{
	cnode *u = composer_map_get(svc, "ulimits");
	for (size_t i = 0; u && u->kind == CN_MAP && i < u->n; i++) {
		cnode *v = u->e[i].val;
		node_mark_number(v);
		number(v, "soft");
		number(v, "hard");
	}
	return 0;
}

static int deploy(cnode *svc, berth_error *err)
{
	cnode *d = composer_map_get(svc, "deploy");
	if (!d || d->kind != CN_MAP)
		return 0;
	number(d, "replicas");
	if (list_or_dict(d, "labels", '=', false, err) < 0)
		return -1;
	cnode *res = composer_map_get(d, "resources");
	static const char *const parts[] = {"limits", "reservations"};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		cnode *r = composer_map_get(res, parts[i]);
		if (!r)
			continue;
		number(r, "cpus");
		number(r, "pids");
		if (bytes(r, "memory", err) < 0)
			return -1;
	}
	static const char *const cfgs[] = {"update_config", "rollback_config"};
	for (size_t i = 0; i < ARRAY_SIZE(cfgs); i++) {
		cnode *u = composer_map_get(d, cfgs[i]);
		if (duration(u, "delay", err) < 0 || duration(u, "monitor", err) < 0)
			return -1;
		number(u, "parallelism");
		number(u, "max_failure_ratio");
	}
	cnode *rp = composer_map_get(d, "restart_policy");
	if (duration(rp, "delay", err) < 0 || duration(rp, "window", err) < 0)
		return -1;
	number(rp, "max_attempts");
	return 0;
}

static int extra_hosts(cnode *svc, berth_error *err)
{
	cnode *v = composer_map_get(svc, "extra_hosts");
	if (!v)
		return 0;
	cnode *seq = composer_node_new(CN_SEQ, v->file, v->line, v->col);
	seq->flags = v->flags & (CN_RESET | CN_OVERRIDE);
	if (v->kind == CN_MAP) {
		node_sort_keys(v);
		for (size_t i = 0; i < v->n; i++) {
			cnode *ip = v->e[i].val;
			if (ip && ip->kind == CN_SEQ) {
				for (size_t j = 0; j < ip->n; j++) {
					if (!ip->e[j].val || !ip->e[j].val->str)
						continue;
					_cleanup_free_ char *s =
					    xasprintf("%s=%s", v->e[i].key, ip->e[j].val->str);
					composer_seq_add(seq, node_str(s));
				}
			} else {
				_cleanup_free_ char *s =
				    xasprintf("%s=%s", v->e[i].key, ip && ip->str ? ip->str : "");
				composer_seq_add(seq, node_str(s));
			}
		}
	} else if (v->kind == CN_SEQ) {
		for (size_t i = 0; i < v->n; i++) {
			cnode *it = v->e[i].val;
			if (!it || it->kind != CN_SCALAR) {
				composer_node_free(seq);
				return node_err(err, it ? it : v,
						"extra_hosts entries must be strings");
			}
			if (strchr(it->str, '=')) {
				composer_seq_add(seq, node_str(it->str));
			} else {
				char *colon = strchr(it->str, ':');
				_cleanup_free_ char *s =
				    colon ? xasprintf("%.*s=%s", (int)(colon - it->str), it->str,
						      colon + 1)
					  : xstrdup(it->str);
				composer_seq_add(seq, node_str(s));
			}
		}
	}
	composer_map_set(svc, "extra_hosts", seq);
	return 0;
}

int canon_service(cnode *svc, const char *name, const canon_ctx *c, berth_error *err)
{
	(void)name;
	if (!svc || svc->kind != CN_MAP)
		return 0;
	static const char *const lists[] = {"dns",     "dns_search", "dns_opt",	     "tmpfs",
					    "cap_add", "cap_drop",   "security_opt", "profiles"};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		to_list(svc, lists[i]);
	all_strings(composer_map_get(svc, "expose"));
	static const char *const maps[] = {"environment", "labels",	 "annotations",
					   "sysctls",	  "storage_opt", "driver_opts"};
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++)
		if (list_or_dict(svc, maps[i], '=', !strcmp(maps[i], "environment"), err) < 0)
			return -1;
	static const char *const durs[] = {"stop_grace_period"};
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++)
		if (duration(svc, durs[i], err) < 0)
			return -1;
	static const char *const sizes[] = {"mem_limit", "memswap_limit", "mem_reservation",
					    "shm_size"};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		if (bytes(svc, sizes[i], err) < 0)
			return -1;
	static const char *const nums[] = {
	    "cpus",  "cpu_shares",    "cpu_quota", "cpu_period",  "pids_limit",
	    "scale", "oom_score_adj", "cpu_count", "cpu_percent", "mem_swappiness"};
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++)
		number(svc, nums[i]);
	static const char *const bools[] = {"privileged", "read_only", "stdin_open",
					    "tty",	  "init",      "oom_kill_disable"};
	for (size_t i = 0; i < ARRAY_SIZE(bools); i++)
		boolean(svc, bools[i]);
	cnode *pp = composer_map_get(svc, "pull_policy");
	if (pp && pp->kind == CN_SCALAR && !strcmp(pp->str, "if_not_present")) {
		free(pp->str);
		pp->str = xstrdup("missing");
	}
	if (command(svc, "command", err) < 0 || command(svc, "entrypoint", err) < 0 ||
	    ports(svc, err) < 0 || volumes(svc, c, err) < 0 || depends_on(svc, err) < 0 ||
	    healthcheck(svc, err) < 0 || build(svc, c, err) < 0 || deploy(svc, err) < 0 ||
	    extra_hosts(svc, err) < 0 || ulimits(svc) < 0)
		return -1;
	networks_list(svc);
	cnode *nets = composer_map_get(svc, "networks");
	for (size_t i = 0; nets && nets->kind == CN_MAP && i < nets->n; i++) {
		cnode *nv = nets->e[i].val;
		to_list(nv, "aliases");
		number(nv, "priority");
	}
	node_sort_keys(nets);
	env_files(svc, c, "env_file");
	env_files(svc, c, "label_file");
	file_refs(svc, "secrets");
	file_refs(svc, "configs");
	cnode *devices = composer_map_get(svc, "devices");
	for (size_t i = 0; devices && devices->kind == CN_SEQ && i < devices->n; i++) {
		cnode *it = devices->e[i].val;
		if (!it || it->kind != CN_SCALAR)
			continue;
		_cleanup_free_ char *s = xstrdup(it->str);
		char *a = s, *b = strchr(a, ':'), *perm = NULL;
		if (b) {
			*b++ = '\0';
			perm = strchr(b, ':');
			if (perm)
				*perm++ = '\0';
		}
		cnode *m = node_map();
		composer_map_set(m, "source", node_str(a));
		composer_map_set(m, "target", node_str(b ? b : a));
		composer_map_set(m, "permissions", node_str(perm ? perm : "rwm"));
		composer_node_free(it);
		devices->e[i].val = m;
	}
	cnode *wd = composer_map_get(svc, "working_dir");
	node_mark_string(wd);
	return 0;
}

/* Top-level networks, volumes, secrets, configs. */
static int canon_resources(cnode *root, const char *kind, const canon_ctx *c, berth_error *err)
{
	cnode *top = composer_map_get(root, kind);
	if (!top || top->kind != CN_MAP)
		return 0;
	for (size_t i = 0; i < top->n; i++) {
		cnode *r = top->e[i].val;
		if (!r || r->kind == CN_NULL) {
			cnode *m =
			    composer_node_new(CN_MAP, top->file, top->e[i].line, top->e[i].col);
			composer_node_free(r);
			top->e[i].val = r = m;
		}
		if (r->kind != CN_MAP)
			continue;
		cnode *ext = composer_map_get(r, "external");
		if (ext && ext->kind == CN_MAP) {
			cnode *en = composer_map_get(ext, "name");
			if (en && composer_map_get(r, "name"))
				return node_err(
				    err, en,
				    "%s.%s: name and external.name conflict; only use name", kind,
				    top->e[i].key);
			if (en)
				composer_map_set(r, "name", composer_node_copy(en));
			composer_map_set(r, "external", node_bool(true));
		}
		boolean(r, "external");
		boolean(r, "internal");
		boolean(r, "attachable");
		boolean(r, "enable_ipv6");
		if (list_or_dict(r, "labels", '=', false, err) < 0)
			return -1;
		all_strings(composer_map_get(r, "driver_opts"));
		node_sort_keys(composer_map_get(r, "driver_opts"));
		if (!strcmp(kind, "secrets") || !strcmp(kind, "configs"))
			resolve_in_place(c, composer_map_get(r, "file"));
	}
	return 0;
}

int canon_project(cnode *root, const canon_ctx *c, berth_error *err)
{
	cnode *svcs = composer_map_get(root, "services");
	for (size_t i = 0; svcs && svcs->kind == CN_MAP && i < svcs->n; i++)
		if (canon_service(svcs->e[i].val, svcs->e[i].key, c, err) < 0)
			return -1;
	static const char *const kinds[] = {"networks", "volumes", "secrets", "configs"};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (canon_resources(root, kinds[i], c, err) < 0)
			return -1;
	return 0;
}
