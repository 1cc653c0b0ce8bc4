/*
 * The Compose Specification's JSON schema (compose-spec.json, built into
 * the binary) applied to a node tree.  Only the keywords the schema uses
 * are implemented: $ref, type, enum, properties, patternProperties,
 * additionalProperties, required, items, oneOf, uniqueItems, minimum,
 * maximum, pattern.  Messages follow compose-go's wording.
 */
#include "composer.h"

#include <regex.h>
#include <string.h>

extern const char composer_schema_json[];

static json_t *schema_root(void)
{
	static json_t *root;
	if (!root) {
		json_error_t je;
		root = json_loads(composer_schema_json, 0, &je);
		if (!root) {
			fprintf(stderr, "berth: built-in schema: %s\n", je.text);
			abort();
		}
	}
	return root;
}

typedef struct {
	char *pattern;
	regex_t re;
} cached_re;

static bool schema_re_match(const char *pattern, const char *s)
{
	static cached_re *cache;
	static size_t n;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cache[i].pattern, pattern))
			return regexec(&cache[i].re, s, 0, NULL, 0) == 0;
	cache = xrealloc(cache, (n + 1) * sizeof *cache);
	cached_re *c = &cache[n];
	if (regcomp(&c->re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return true; /* a pattern POSIX cannot read does not reject input */
	c->pattern = xstrdup(pattern);
	n++;
	return regexec(&c->re, s, 0, NULL, 0) == 0;
}

static const json_t *deref(const json_t *s)
{
	const json_t *ref = json_object_get(s, "$ref");
	if (!json_is_string(ref))
		return s;
	const char *r = json_string_value(ref);
	if (strncmp(r, "#/definitions/", 14) != 0)
		return s;
	return json_object_get(json_object_get(schema_root(), "definitions"), r + 14);
}

/* Whether node n has JSON type t (an interpolated string may be cast). */
static bool has_type(const composer_node *n, const char *t)
{
	composer_type ct = composer_node_type(n);
	if (ct == CT_STRING && (n->flags & CN_INTERP)) {
		composer_node tmp = *n;
		tmp.flags &= ~(unsigned)(CN_INTERP | CN_QUOTED);
		composer_type cast = composer_node_type(&tmp);
		if (cast != CT_STRING && cast != CT_NULL && has_type(&tmp, t))
			return true;
	}
	if (!strcmp(t, "string"))
		return ct == CT_STRING;
	if (!strcmp(t, "integer"))
		return ct == CT_INT;
	if (!strcmp(t, "number"))
		return ct == CT_INT || ct == CT_FLOAT;
	if (!strcmp(t, "boolean"))
		return ct == CT_BOOL;
	if (!strcmp(t, "null"))
		return ct == CT_NULL;
	if (!strcmp(t, "object"))
		return ct == CT_MAP;
	if (!strcmp(t, "array"))
		return ct == CT_SEQ;
	return false;
}

static const char *type_word(const char *t)
{
	if (!strcmp(t, "object"))
		return "mapping";
	if (!strcmp(t, "array"))
		return "list";
	return t;
}

typedef struct {
	berth_error *err;
	const composer_node *at; /* where the error is */
	char *msg;
	int depth;
	composer_node keypos;
} vstate;

static int fail(vstate *v, const composer_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(vstate *v, const composer_node *at, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	free(v->msg);
	v->msg = *path ? xasprintf("%s %s", path, m) : xstrdup(m);
	v->at = at;
	return -1;
}

static int check(vstate *v, const json_t *s, const composer_node *n, const char *path);

static char *child_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

static int check_type(vstate *v, const json_t *s, const composer_node *n, const char *path)
{
	const json_t *t = json_object_get(s, "type");
	if (!t)
		return 0;
	if (json_is_string(t)) {
		if (has_type(n, json_string_value(t)))
			return 0;
		return fail(v, n, path, "must be a %s", type_word(json_string_value(t)));
	}
	size_t i;
	const json_t *e;
	json_array_foreach(t, i, e) if (has_type(n, json_string_value(e))) return 0;
	/* compose-go lists the accepted types in order: "a, b or c". */
	const char *names[8];
	size_t k = 0;
	json_array_foreach(t, i, e) if (k < 8) names[k++] = type_word(json_string_value(e));
	for (size_t a = 0; a < k; a++)
		for (size_t b = a + 1; b < k; b++)
			if (strcmp(names[b], names[a]) < 0) {
				const char *x = names[a];
				names[a] = names[b];
				names[b] = x;
			}
	strbuf sb = STRBUF_INIT;
	for (size_t a = 0; a < k; a++) {
		if (a)
			sb_adds(&sb, a + 1 == k ? " or " : ", ");
		sb_adds(&sb, names[a]);
	}
	fail(v, n, path, "must be a %s", sb.buf ? sb.buf : "");
	sb_release(&sb);
	return -1;
}

static int check_map(vstate *v, const json_t *s, const composer_node *n, const char *path)
{
	const json_t *props = json_object_get(s, "properties");
	const json_t *pprops = json_object_get(s, "patternProperties");
	const json_t *addl = json_object_get(s, "additionalProperties");
	const json_t *req = json_object_get(s, "required");
	size_t i;
	const json_t *e;
	json_array_foreach(req, i, e)
	{
		if (!composer_map_entry(n, json_string_value(e)))
			return fail(v, n, path, "missing property '%s'", json_string_value(e));
	}
	for (i = 0; i < n->n; i++) {
		const char *key = n->e[i].key;
		_cleanup_free_ char *cp = child_path(path, key);
		const composer_node *val = n->e[i].val;
		bool matched = false;
		const json_t *ps = json_object_get(props, key);
		if (ps) {
			matched = true;
			if (check(v, ps, val, cp) < 0)
				return -1;
		}
		const char *pat;
		const json_t *pv;
		json_object_foreach((json_t *)pprops, pat, pv)
		{
			if (!schema_re_match(pat, key))
				continue;
			matched = true;
			if (check(v, pv, val, cp) < 0)
				return -1;
		}
		if (matched)
			continue;
		if (json_is_false(addl)) {
			fail(v, n, path, "additional properties '%s' not allowed", key);
			/* Point at the key itself, not at its mapping. */
			v->keypos = (composer_node){
			    .file = n->file, .line = n->e[i].line, .col = n->e[i].col};
			v->at = &v->keypos;
			return -1;
		}
		if (json_is_object(addl) && check(v, addl, val, cp) < 0)
			return -1;
	}
	return 0;
}

static int check(vstate *v, const json_t *s, const composer_node *n, const char *path)
{
	if (!s || (n && (n->flags & CN_RESET)))
		return 0;
	if (++v->depth > 200) {
		v->depth--;
		return fail(v, n, path, "is nested too deeply");
	}
	int r = -1;
	s = deref(s);
	const json_t *one = json_object_get(s, "oneOf");
	if (one) {
		size_t i, ok = 0;
		const json_t *b;
		/* The branch whose type fits reports its error, as compose-go does. */
		char *best = NULL;
		const composer_node *best_at = NULL;
		json_array_foreach(one, i, b)
		{
			const json_t *bd = deref(b);
			const json_t *t = json_object_get(bd, "type");
			bool fits = !t || (json_is_string(t) && has_type(n, json_string_value(t)));
			if (json_is_array(t)) {
				size_t j;
				const json_t *te;
				json_array_foreach(t, j, te) if (has_type(n, json_string_value(te)))
				    fits = true;
			}
			if (check(v, b, n, path) == 0) {
				ok++;
				continue;
			}
			if (fits && !best) {
				best = steal_ptr(v->msg);
				best_at = v->at;
			}
		}
		if (ok == 0) {
			if (best) {
				free(v->msg);
				v->msg = best;
				v->at = best_at;
			} else {
				/* No branch has the node's type: say which types fit. */
				strbuf sb = STRBUF_INIT;
				size_t k = 0;
				json_array_foreach(one, i, b)
				{
					const json_t *t = json_object_get(deref(b), "type");
					if (!json_is_string(t))
						continue;
					if (k++)
						sb_adds(&sb, " or ");
					sb_adds(&sb, type_word(json_string_value(t)));
				}
				fail(v, n, path, "must be a %s", sb.buf ? sb.buf : "valid value");
				sb_release(&sb);
			}
			goto out;
		}
		free(best);
	}
	if (check_type(v, s, n, path) < 0)
		goto out;
	const json_t *en = json_object_get(s, "enum");
	if (en && n && n->kind == CN_SCALAR) {
		size_t i;
		const json_t *e;
		bool found = false;
		json_array_foreach(en, i, e) if (json_is_string(e) && !strcmp(json_string_value(e),
									      n->str)) found = true;
		if (!found) {
			strbuf sb = STRBUF_INIT;
			json_array_foreach(en, i, e) if (json_is_string(e))
			{
				if (i)
					sb_adds(&sb, ", ");
				sb_addf(&sb, "\"%s\"", json_string_value(e));
			}
			fail(v, n, path, "must be one of the following: %s", sb.buf ? sb.buf : "");
			sb_release(&sb);
			goto out;
		}
	}
	composer_type ct = composer_node_type(n);
	if (ct == CT_MAP && check_map(v, s, n, path) < 0)
		goto out;
	if (ct == CT_SEQ) {
		const json_t *items = json_object_get(s, "items");
		for (size_t i = 0; i < n->n; i++) {
			_cleanup_free_ char *cp = xasprintf("%s.%zu", path, i);
			if (items && check(v, items, n->e[i].val, cp) < 0)
				goto out;
		}
		if (json_is_true(json_object_get(s, "uniqueItems")))
			for (size_t i = 0; i < n->n; i++)
				for (size_t j = i + 1; j < n->n; j++)
					if (composer_node_equal(n->e[i].val, n->e[j].val)) {
						fail(v, n->e[j].val, path,
						     "array items[%zu,%zu] must be unique", i, j);
						goto out;
					}
	}
	if (ct == CT_INT || ct == CT_FLOAT) {
		double d = strtod(n->str, NULL);
		const json_t *mn = json_object_get(s, "minimum"),
			     *mx = json_object_get(s, "maximum");
		if (mn && d < json_number_value(mn)) {
			fail(v, n, path, "must be greater than or equal to %g",
			     json_number_value(mn));
			goto out;
		}
		if (mx && d > json_number_value(mx)) {
			fail(v, n, path, "must be less than or equal to %g", json_number_value(mx));
			goto out;
		}
	}
	const json_t *pat = json_object_get(s, "pattern");
	if (ct == CT_STRING && json_is_string(pat) &&
	    !schema_re_match(json_string_value(pat), n->str)) {
		fail(v, n, path, "does not match pattern '%s'", json_string_value(pat));
		goto out;
	}
	r = 0;
out:
	v->depth--;
	return r;
}

int composer_schema_validate(const composer_node *root, berth_error *err)
{
	vstate v = {.err = err};
	if (check(&v, schema_root(), root, "") == 0) {
		free(v.msg); /* left by a oneOf branch that did not match */
		return 0;
	}
	const composer_node *at = v.at ? v.at : root;
	berth_error_set(err, 0, "%s:%d:%d: %s", at->file ? at->file : "-", at->line, at->col,
			v.msg ? v.msg : "invalid");
	free(v.msg);
	return -1;
}
