/* The node tree the loader works on. */
#include "composer.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <string.h>

const char *composer_intern(const char *s)
{
	/* File names live as long as the process: the trees point at them. */
	static char **tab;
	static size_t n, cap;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i], s) == 0)
			return tab[i];
	if (n == cap) {
		cap = cap ? cap * 2 : 16;
		tab = xrealloc(tab, cap * sizeof *tab);
	}
	tab[n] = xstrdup(s);
	return tab[n++];
}

composer_node *composer_node_new(composer_node_kind kind, const char *file, int line, int col)
{
	composer_node *n = xzalloc(sizeof *n);
	n->kind = kind;
	n->file = file;
	n->line = line;
	n->col = col;
	return n;
}

composer_node *composer_node_scalar(const char *s, unsigned flags)
{
	composer_node *n = composer_node_new(s ? CN_SCALAR : CN_NULL, NULL, 0, 0);
	if (s)
		n->str = xstrdup(s);
	n->flags = flags;
	return n;
}

composer_node *composer_node_copy(const composer_node *n)
{
	if (!n)
		return NULL;
	composer_node *c = composer_node_new(n->kind, n->file, n->line, n->col);
	c->flags = n->flags;
	if (n->str)
		c->str = xstrdup(n->str);
	if (n->n) {
		c->cap = c->n = n->n;
		c->e = xcalloc(n->n, sizeof *c->e);
		for (size_t i = 0; i < n->n; i++) {
			c->e[i] = n->e[i];
			c->e[i].key = n->e[i].key ? xstrdup(n->e[i].key) : NULL;
			c->e[i].val = composer_node_copy(n->e[i].val);
		}
	}
	return c;
}

void composer_node_free(composer_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		free(n->e[i].key);
		composer_node_free(n->e[i].val);
	}
	free(n->e);
	free(n->str);
	free(n);
}

static bool match(const char *re, const char *s)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

static bool is_int(const char *s)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
		p += 2;
		if (!*p)
			return false;
		bool hex = s[1] == 'x' || p[-1] == 'x';
		for (; *p; p++)
			if (hex ? !strchr("0123456789abcdefABCDEF", *p) : !strchr("01234567", *p))
				return false;
		return true;
	}
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

composer_type composer_node_type(const composer_node *n)
{
	if (!n || n->kind == CN_NULL)
		return CT_NULL;
	if (n->kind == CN_SEQ)
		return CT_SEQ;
	if (n->kind == CN_MAP)
		return CT_MAP;
	if (n->flags & (CN_QUOTED | CN_INTERP))
		return CT_STRING;
	const char *s = n->str;
	if (!strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") ||
	    !*s)
		return CT_NULL;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
	    !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return CT_BOOL;
	if (*s != '-' && *s != '+' && (*s < '0' || *s > '9') && *s != '.')
		return CT_STRING;
	if (is_int(s))
		return CT_INT;
	if (match("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", s) ||
	    match("^[-+]?\\.(inf|Inf|INF)$", s) || match("^\\.(nan|NaN|NAN)$", s))
		return CT_FLOAT;
	return CT_STRING;
}

composer_entry *composer_map_entry(const composer_node *map, const char *key)
{
	if (!map || map->kind != CN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->e[i].key, key) == 0)
			return &map->e[i];
	return NULL;
}

composer_node *composer_map_get(const composer_node *map, const char *key)
{
	composer_entry *e = composer_map_entry(map, key);
	return e ? e->val : NULL;
}

static void grow(composer_node *n)
{
	if (n->n == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 4;
		n->e = xrealloc(n->e, n->cap * sizeof *n->e);
	}
}

void composer_map_set(composer_node *map, const char *key, composer_node *val)
{
	composer_entry *e = composer_map_entry(map, key);
	if (e) {
		composer_node_free(e->val);
		e->val = val;
		return;
	}
	grow(map);
	map->e[map->n++] =
	    (composer_entry){xstrdup(key), val, val ? val->line : 0, val ? val->col : 0, 0};
}

void composer_map_del(composer_node *map, const char *key)
{
	composer_entry *e = composer_map_entry(map, key);
	if (!e)
		return;
	free(e->key);
	composer_node_free(e->val);
	size_t i = (size_t)(e - map->e);
	memmove(&map->e[i], &map->e[i + 1], (map->n - i - 1) * sizeof *map->e);
	map->n--;
}

void composer_seq_add(composer_node *seq, composer_node *val)
{
	grow(seq);
	seq->e[seq->n++] = (composer_entry){NULL, val, 0, 0, 0};
}

static bool scalar_equal(const composer_node *a, const composer_node *b)
{
	composer_type ta = composer_node_type(a), tb = composer_node_type(b);
	if (ta == CT_NULL || tb == CT_NULL)
		return ta == tb;
	if ((ta == CT_INT || ta == CT_FLOAT) && (tb == CT_INT || tb == CT_FLOAT))
		return strtod(a->str, NULL) == strtod(b->str, NULL);
	if (ta == CT_BOOL && tb == CT_BOOL)
		return (a->str[0] == 't' || a->str[0] == 'T') ==
		       (b->str[0] == 't' || b->str[0] == 'T');
	if (ta != tb)
		return false;
	return strcmp(a->str, b->str) == 0;
}

bool composer_node_equal(const composer_node *a, const composer_node *b)
{
	composer_type ta = composer_node_type(a), tb = composer_node_type(b);
	if (ta == CT_SEQ || tb == CT_SEQ) {
		if (ta != tb || a->n != b->n)
			return false;
		for (size_t i = 0; i < a->n; i++)
			if (!composer_node_equal(a->e[i].val, b->e[i].val))
				return false;
		return true;
	}
	if (ta == CT_MAP || tb == CT_MAP) {
		if (ta != tb || a->n != b->n)
			return false;
		for (size_t i = 0; i < a->n; i++) {
			composer_entry *e = composer_map_entry(b, a->e[i].key);
			if (!e || !composer_node_equal(a->e[i].val, e->val))
				return false;
		}
		return true;
	}
	return scalar_equal(a, b);
}

json_t *composer_node_to_json(const composer_node *n)
{
	switch (composer_node_type(n)) {
	case CT_NULL:
		return json_null();
	case CT_BOOL:
		return json_boolean(n->str[0] == 't' || n->str[0] == 'T');
	case CT_INT: {
		errno = 0;
		long long v = strtoll(n->str, NULL, 0);
		if (errno == 0)
			return json_integer(v);
		return json_real(strtod(n->str, NULL));
	}
	case CT_FLOAT: {
		double d = strtod(n->str, NULL);
		if (isnan(d) || isinf(d))
			return json_string(n->str);
		return json_real(d);
	}
	case CT_STRING:
		return json_string(n->str);
	case CT_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, composer_node_to_json(n->e[i].val));
		return a;
	}
	case CT_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; i < n->n; i++)
			json_object_set_new(o, n->e[i].key, composer_node_to_json(n->e[i].val));
		return o;
	}
	}
	return json_null();
}
