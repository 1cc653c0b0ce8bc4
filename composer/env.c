/* Environments, the .env syntax and variable interpolation. */
#include "composer.h"

#include <ctype.h>
#include <string.h>

composer_var *composer_env_find(const composer_env *env, const char *name)
{
	for (size_t i = 0; env && i < env->n; i++)
		if (strcmp(env->v[i].name, name) == 0)
			return &env->v[i];
	return NULL;
}

const char *composer_env_get(const composer_env *env, const char *name)
{
	composer_var *v = composer_env_find(env, name);
	return v ? v->value : NULL;
}

void composer_env_set(composer_env *env, const char *name, const char *value, const char *origin)
{
	composer_var *v = composer_env_find(env, name);
	if (!v) {
		if (env->n == env->cap) {
			env->cap = env->cap ? env->cap * 2 : 32;
			env->v = xrealloc(env->v, env->cap * sizeof *env->v);
		}
		v = &env->v[env->n++];
		v->name = xstrdup(name);
	} else {
		free(v->value);
		free(v->origin);
	}
	v->value = value ? xstrdup(value) : NULL;
	v->origin = xstrdup(origin ? origin : "");
}

void composer_env_free(composer_env *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->v[i].name);
		free(env->v[i].value);
		free(env->v[i].origin);
	}
	free(env->v);
	env->v = NULL;
	env->n = env->cap = 0;
}

void composer_env_from_environ(composer_env *env, char **envp)
{
	for (char **e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		_cleanup_free_ char *name = xstrndup(*e, (size_t)(eq - *e));
		composer_env_set(env, name, eq + 1, "environment");
	}
}

/* Interpolation (compose-go template.go's grammar). */

static bool name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

/* Variables are looked up in `first`, then in `second` (either may be NULL). */
typedef struct {
	const composer_env *first, *second;
} scope;

static const char *scope_get(const scope *env, const char *name)
{
	const char *v = composer_env_get(env->first, name);
	return v ? v : composer_env_get(env->second, name);
}

static int interp(const char *s, size_t len, const scope *env, strbuf *out, strbuf *unset,
		  int depth, berth_error *err);

/* The value of ${...} whose inside is body[0..len). */
static int braced(const char *body, size_t len, const scope *env, strbuf *out, strbuf *unset,
		  int depth, berth_error *err)
{
	size_t i = 0;
	if (len == 0 || !name_start(body[0]))
		return berth_error_set(err, 0, "invalid template: \"${%.*s}\"", (int)len, body);
	while (i < len && name_char(body[i]))
		i++;
	_cleanup_free_ char *name = xstrndup(body, i);
	const char *val = scope_get(env, name);
	if (i == len) {
		if (!val && unset) {
			if (unset->len)
				sb_addc(unset, ',');
			sb_adds(unset, name);
		}
		if (val)
			sb_adds(out, val);
		return 0;
	}
	bool colon = body[i] == ':';
	if (colon)
		i++;
	if (i >= len || !strchr("-?+", body[i]))
		return berth_error_set(err, 0, "invalid template: \"${%.*s}\"", (int)len, body);
	char op = body[i++];
	const char *arg = body + i;
	size_t alen = len - i;
	bool set = val != NULL, nonempty = val && *val;
	bool present = colon ? nonempty : set;
	switch (op) {
	case '-':
		if (present) {
			sb_adds(out, val);
			return 0;
		}
		return interp(arg, alen, env, out, unset, depth + 1, err);
	case '+':
		if (present)
			return interp(arg, alen, env, out, unset, depth + 1, err);
		return 0;
	default: /* '?' */
		if (present) {
			sb_adds(out, val);
			return 0;
		}
		strbuf msg = STRBUF_INIT;
		if (interp(arg, alen, env, &msg, NULL, depth + 1, err) < 0) {
			sb_release(&msg);
			return -1;
		}
		berth_error_set(err, 0, "required variable %s is missing a value%s%s", name,
				msg.len ? ": " : "", msg.len ? msg.buf : "");
		sb_release(&msg);
		return -1;
	}
}

static int interp(const char *s, size_t len, const scope *env, strbuf *out, strbuf *unset,
		  int depth, berth_error *err)
{
	if (depth > 64)
		return berth_error_set(err, 0, "variables nested too deeply");
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '$' || i + 1 >= len) {
			sb_addc(out, s[i]);
			continue;
		}
		char c = s[i + 1];
		if (c == '$') {
			sb_addc(out, '$');
			i++;
		} else if (c == '{') {
			size_t j = i + 2;
			int level = 1;
			for (; j < len; j++) {
				if (s[j] == '{' && s[j - 1] == '$')
					level++;
				else if (s[j] == '}' && --level == 0)
					break;
			}
			if (j >= len)
				return berth_error_set(err, 0, "invalid template: \"%.*s\"",
						       (int)(len - i), s + i);
			if (braced(s + i + 2, j - i - 2, env, out, unset, depth, err) < 0)
				return -1;
			i = j;
		} else if (name_start(c)) {
			size_t j = i + 1;
			while (j < len && name_char(s[j]))
				j++;
			_cleanup_free_ char *name = xstrndup(s + i + 1, j - i - 1);
			const char *val = scope_get(env, name);
			if (val)
				sb_adds(out, val);
			else if (unset) {
				if (unset->len)
					sb_addc(unset, ',');
				sb_adds(unset, name);
			}
			i = j - 1;
		} else {
			sb_addc(out, '$');
		}
	}
	return 0;
}

char *composer_interpolate_str(const char *s, const composer_env *env, strbuf *unset_names,
			       berth_error *err)
{
	strbuf out = STRBUF_INIT;
	scope sc = {env, NULL};
	if (interp(s, strlen(s), &sc, &out, unset_names, 0, err) < 0) {
		sb_release(&out);
		return NULL;
	}
	return sb_steal(&out);
}

static int interp_tree(composer_node *n, const composer_env *env, composer_warn_fn warn, void *wd,
		       berth_error *err)
{
	if (n->kind == CN_SCALAR) {
		if (!strchr(n->str, '$'))
			return 0;
		_cleanup_strbuf_ strbuf unset = STRBUF_INIT;
		char *v = composer_interpolate_str(n->str, env, &unset, err);
		if (!v)
			return berth_error_prefix(err, "%s:%d:%d", n->file, n->line, n->col);
		free(n->str);
		n->str = v;
		n->flags |= CN_INTERP;
		if (unset.len && warn) {
			char *save = NULL;
			for (char *name = strtok_r(unset.buf, ",", &save); name;
			     name = strtok_r(NULL, ",", &save)) {
				_cleanup_free_ char *msg = xasprintf(
				    "%s:%d:%d: The \"%s\" variable is not set. Defaulting to "
				    "a blank string.",
				    n->file, n->line, n->col, name);
				warn(wd, msg);
			}
		}
		return 0;
	}
	for (size_t i = 0; i < n->n; i++)
		if (interp_tree(n->e[i].val, env, warn, wd, err) < 0)
			return -1;
	return 0;
}

int composer_interpolate(composer_node *n, const composer_env *env, composer_warn_fn warn,
			 void *warn_data, berth_error *err)
{
	return n ? interp_tree(n, env, warn, warn_data, err) : 0;
}

/* The .env syntax (compose-go dotenv/parser.go). */

typedef struct {
	const char *s;
	int line;
	const char *file;
	berth_error *err;
} dotenv;

static int derr(dotenv *d, const char *fmt, const char *a)
{
	_cleanup_free_ char *m = xasprintf(fmt, a ? a : "");
	return berth_error_set(d->err, 0, "%s: line %d: %s", d->file, d->line, m);
}

static void skip_line(dotenv *d)
{
	while (*d->s && *d->s != '\n')
		d->s++;
}

static char *unescape_double(const char *s, size_t n)
{
	strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			switch (c) {
			case 'n':
				sb_addc(&sb, '\n');
				break;
			case 't':
				sb_addc(&sb, '\t');
				break;
			case 'r':
				sb_addc(&sb, '\r');
				break;
			case 'a':
				sb_addc(&sb, '\a');
				break;
			case 'b':
				sb_addc(&sb, '\b');
				break;
			case 'f':
				sb_addc(&sb, '\f');
				break;
			case 'v':
				sb_addc(&sb, '\v');
				break;
			case '$':
				sb_adds(&sb, "$$");
				break;
			default:
				sb_addc(&sb, c);
			}
		} else {
			sb_addc(&sb, s[i]);
		}
	}
	return sb_steal(&sb);
}

static int expand(dotenv *d, const char *v, const composer_env *lookup, composer_env *out,
		  char **res)
{
	/* Earlier lines first, then the lookup environment. */
	berth_error e = BERTH_ERROR_INIT;
	scope sc = {out, lookup};
	strbuf sb = STRBUF_INIT;
	if (interp(v, strlen(v), &sc, &sb, NULL, 0, &e) < 0) {
		sb_release(&sb);
		derr(d, "%s", e.msg);
		berth_error_clear(&e);
		return -1;
	}
	*res = sb_steal(&sb);
	return 0;
}

int composer_dotenv_parse(const char *text, const char *file, bool raw, const composer_env *lookup,
			  composer_env *out, berth_error *err)
{
	dotenv d = {text, 1, file, err};
	if (!strncmp(d.s, "\xEF\xBB\xBF", 3))
		d.s += 3;
	while (*d.s) {
		/* Blank lines and comments. */
		if (*d.s == '\n') {
			d.line++;
			d.s++;
			continue;
		}
		if (isspace((unsigned char)*d.s)) {
			d.s++;
			continue;
		}
		if (*d.s == '#') {
			skip_line(&d);
			continue;
		}
		if (!strncmp(d.s, "export ", 7) || !strncmp(d.s, "export\t", 7)) {
			d.s += 7;
			while (*d.s == ' ' || *d.s == '\t')
				d.s++;
		}
		const char *k = d.s;
		bool inherited = false;
		while (*d.s && *d.s != '=' && *d.s != ':' && *d.s != '\n') {
			unsigned char c = (unsigned char)*d.s;
			if (!(isalnum(c) || c >= 0x80 || strchr("_.-[] \t", c))) {
				char ch[2] = {(char)c, 0};
				return derr(&d, "unexpected character \"%s\" in variable name", ch);
			}
			d.s++;
		}
		size_t klen = (size_t)(d.s - k);
		while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		_cleanup_free_ char *key = xstrndup(k, klen);
		if (strpbrk(key, " \t"))
			return derr(&d, "key cannot contain a space%s", NULL);
		if (!*d.s || *d.s == '\n')
			inherited = true;
		else
			d.s++;
		if (!*key)
			return derr(&d, "missing variable name%s", NULL);
		if (inherited) {
			const char *v = composer_env_get(lookup, key);
			if (v)
				composer_env_set(out, key, v, file);
			continue;
		}
		while (*d.s == ' ' || *d.s == '\t')
			d.s++;
		_cleanup_free_ char *value = NULL;
		if (!raw && (*d.s == '"' || *d.s == '\'')) {
			char q = *d.s++;
			const char *start = d.s;
			int startline = d.line;
			while (*d.s && !(*d.s == q && (d.s == start || d.s[-1] != '\\'))) {
				if (*d.s == '\n')
					d.line++;
				d.s++;
			}
			if (!*d.s) {
				d.line = startline;
				return derr(&d, "unterminated quoted value%s", NULL);
			}
			size_t n = (size_t)(d.s - start);
			d.s++;
			if (q == '\'') {
				strbuf sb = STRBUF_INIT;
				for (size_t i = 0; i < n; i++) {
					if (start[i] == '\\' && i + 1 < n && start[i + 1] == '\'')
						continue;
					sb_addc(&sb, start[i]);
					if (start[i] == '$')
						sb_addc(&sb, '$');
				}
				char *lit = sb_steal(&sb);
				if (expand(&d, lit, lookup, out, &value) < 0) {
					free(lit);
					return -1;
				}
				free(lit);
			} else {
				_cleanup_free_ char *u = unescape_double(start, n);
				if (expand(&d, u, lookup, out, &value) < 0)
					return -1;
			}
			skip_line(&d);
		} else {
			const char *start = d.s;
			skip_line(&d);
			size_t n = (size_t)(d.s - start);
			if (!raw) {
				for (size_t i = 0; i < n; i++)
					if (start[i] == '#' && i > 0 &&
					    (start[i - 1] == ' ' || start[i - 1] == '\t')) {
						n = i;
						break;
					}
			}
			while (n && isspace((unsigned char)start[n - 1]))
				n--;
			_cleanup_free_ char *v = xstrndup(start, n);
			if (raw) {
				value = steal_ptr(v);
			} else if (expand(&d, v, lookup, out, &value) < 0) {
				return -1;
			}
		}
		composer_env_set(out, key, value, file);
	}
	return 0;
}

int composer_dotenv_read(const char *path, bool raw, const composer_env *lookup, composer_env *out,
			 berth_error *err)
{
	_cleanup_free_ char *text = read_file(path, NULL, err);
	if (!text)
		return -1;
	return composer_dotenv_parse(text, path, raw, lookup, out, err);
}
