/*
 * Merging Compose files (the Compose Specification's merge rules, as
 * compose-go's override package applies them).  Both trees are already in
 * long syntax, so a sequence is merged by the key that makes its entries
 * unique (ports by ip/published/target/protocol, volumes by target, ...).
 */
#include "internal.h"

#include <string.h>

typedef enum { M_DEFAULT, M_REPLACE, M_UNIQUE_VALUE, M_KEYED, M_KEYED_MERGE } mode;

typedef struct {
	const char *path; /* pattern: '*' matches one element */
	mode m;
	const char *const *keys; /* M_KEYED: fields that identify an entry */
} rule;

static const char *const k_port[] = {"host_ip", "published", "target", "protocol", NULL};
static const char *const k_target[] = {"target", NULL};
static const char *const k_secret[] = {"source", "target", NULL};
static const char *const k_path[] = {"path", NULL};
static const char *const k_subnet[] = {"subnet", NULL};

static const rule rules[] = {
    {"services.*.command", M_REPLACE, NULL},
    {"models.*.runtime_flags", M_REPLACE, NULL},
    {"networks.*.ipam.config", M_KEYED_MERGE, k_subnet},
    {"services.*.entrypoint", M_REPLACE, NULL},
    {"services.*.healthcheck.test", M_REPLACE, NULL},
    {"services.*.ports", M_KEYED, k_port},
    {"services.*.volumes", M_KEYED, k_target},
    {"services.*.devices", M_KEYED, k_target},
    {"services.*.secrets", M_KEYED, k_secret},
    {"services.*.configs", M_KEYED, k_secret},
    {"services.*.env_file", M_KEYED, k_path},
    {"services.*.build.secrets", M_KEYED, k_secret},
    {"services.*.dns", M_UNIQUE_VALUE, NULL},
    {"services.*.dns_opt", M_UNIQUE_VALUE, NULL},
    {"services.*.dns_search", M_UNIQUE_VALUE, NULL},
    {"services.*.cap_add", M_UNIQUE_VALUE, NULL},
    {"services.*.cap_drop", M_UNIQUE_VALUE, NULL},
    {"services.*.expose", M_UNIQUE_VALUE, NULL},
    {"services.*.extra_hosts", M_UNIQUE_VALUE, NULL},
    {"services.*.external_links", M_UNIQUE_VALUE, NULL},
    {"services.*.links", M_UNIQUE_VALUE, NULL},
    {"services.*.volumes_from", M_UNIQUE_VALUE, NULL},
    {"services.*.tmpfs", M_UNIQUE_VALUE, NULL},
    {"services.*.profiles", M_UNIQUE_VALUE, NULL},
    {"services.*.security_opt", M_UNIQUE_VALUE, NULL},
    {"services.*.group_add", M_UNIQUE_VALUE, NULL},
    {"services.*.label_file", M_UNIQUE_VALUE, NULL},
    {"services.*.device_cgroup_rules", M_UNIQUE_VALUE, NULL},
    {"services.*.networks.*.aliases", M_UNIQUE_VALUE, NULL},
    {"services.*.networks.*.link_local_ips", M_UNIQUE_VALUE, NULL},
    {"services.*.build.tags", M_UNIQUE_VALUE, NULL},
    {"services.*.build.cache_from", M_UNIQUE_VALUE, NULL},
    {"services.*.build.ssh", M_UNIQUE_VALUE, NULL},
    {"services.*.build.platforms", M_UNIQUE_VALUE, NULL},
};

static bool path_match(const char *pat, const char *path)
{
	while (*pat && *path) {
		if (*pat == '*') {
			pat++;
			while (*path && *path != '.')
				path++;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	return !*pat && !*path;
}

static const rule *find_rule(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (path_match(rules[i].path, path))
			return &rules[i];
	return NULL;
}

/* Where a secret or config lands: its target, or the default one. */
static char *mount_target(const cnode *m)
{
	cnode *t = composer_map_get(m, "target"), *s = composer_map_get(m, "source");
	if (t && t->str)
		return t->str[0] == '/' ? xstrdup(t->str) : xasprintf("/run/secrets/%s", t->str);
	return xasprintf("/run/secrets/%s", s && s->str ? s->str : "");
}

static bool same_key(const cnode *a, const cnode *b, const char *const *keys)
{
	if (keys == k_secret && a && b && a->kind == CN_MAP && b->kind == CN_MAP) {
		_cleanup_free_ char *x = mount_target(a), *y = mount_target(b);
		return strcmp(x, y) == 0;
	}
	if (!a || !b || a->kind != CN_MAP || b->kind != CN_MAP)
		return composer_node_equal(a, b);
	for (const char *const *k = keys; *k; k++) {
		cnode *x = composer_map_get(a, *k), *y = composer_map_get(b, *k);
		if (!x && !y)
			continue;
		/* A secret without target is identified by its source alone. */
		if ((!x || !y) && !strcmp(*k, "target") && keys == k_secret)
			continue;
		if (!x || !y || !composer_node_equal(x, y))
			return false;
	}
	return true;
}

static void merge_node(cnode **base, cnode *over, const char *path);

static void merge_seq(cnode *base, cnode *over, const rule *r)
{
	for (size_t i = 0; i < over->n; i++) {
		cnode *o = over->e[i].val;
		over->e[i].val = NULL;
		size_t j = base->n;
		if (r && r->m != M_DEFAULT && r->m != M_REPLACE)
			for (j = 0; j < base->n; j++)
				if (r->m == M_UNIQUE_VALUE ? composer_node_equal(base->e[j].val, o)
							   : same_key(base->e[j].val, o, r->keys))
					break;
		if (j < base->n && r->m == M_KEYED_MERGE) {
			merge_node(&base->e[j].val, o, "");
			composer_node_free(o);
		} else if (j < base->n) {
			composer_node_free(base->e[j].val);
			base->e[j].val = o;
		} else {
			composer_seq_add(base, o);
		}
	}
}

static void merge_node(cnode **basep, cnode *over, const char *path)
{
	cnode *base = *basep;
	const rule *r = find_rule(path);
	bool replace = (over->flags & (CN_OVERRIDE | CN_RESET)) || !base ||
		       (r && r->m == M_REPLACE) || base->kind != over->kind ||
		       over->kind == CN_SCALAR || over->kind == CN_NULL;
	/* logging with another driver starts again (compose-go mergeLogging). */
	if (!replace && path_match("services.*.logging", path)) {
		cnode *bd = composer_map_get(base, "driver"),
		      *od = composer_map_get(over, "driver");
		if (bd && od && !composer_node_equal(bd, od))
			replace = true;
	}
	if (replace) {
		composer_node_free(base);
		over->flags &= ~(unsigned)CN_OVERRIDE;
		*basep = composer_node_copy(over);
		return;
	}
	if (over->kind == CN_SEQ) {
		merge_seq(base, over, r);
		return;
	}
	for (size_t i = 0; i < over->n; i++) {
		const char *key = over->e[i].key;
		cnode *ov = over->e[i].val;
		_cleanup_free_ char *cp = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
		composer_entry *be = composer_map_entry(base, key);
		if (ov && (ov->flags & CN_RESET)) {
			composer_map_del(base, key);
			continue;
		}
		if (!be) {
			composer_map_set(base, key, composer_node_copy(ov));
			base->e[base->n - 1].line = over->e[i].line;
			base->e[base->n - 1].col = over->e[i].col;
			continue;
		}
		if (!ov) {
			/* `key:` with no value keeps what the base had for mappings. */
			if (be->val && be->val->kind == CN_MAP)
				continue;
			composer_node_free(be->val);
			be->val = NULL;
			continue;
		}
		merge_node(&be->val, ov, cp);
	}
}

int composer_merge(cnode *base, cnode *over, berth_error *err)
{
	(void)err;
	if (!over)
		return 0;
	if (base->kind != CN_MAP || over->kind != CN_MAP) {
		composer_node_free(over);
		return 0;
	}
	cnode *b = base;
	merge_node(&b, over, "");
	composer_node_free(over);
	return 0;
}

/* Removes the !reset markers that reached a tree without a base. */
void merge_strip_reset(cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n;) {
		cnode *v = n->e[i].val;
		if (v && (v->flags & CN_RESET) && n->kind == CN_MAP) {
			composer_map_del(n, n->e[i].key);
			continue;
		}
		if (v)
			v->flags &= ~(unsigned)CN_OVERRIDE;
		merge_strip_reset(v);
		i++;
	}
}
