/* Output helpers shared by the engine's commands: Go-like templates, tables, durations. */
#include "cli.h"
#include "../composer/composer.h"

#include <string.h>
#include <time.h>

/* The value at a dotted path (".State.Status") in obj; NULL if absent. */
static json_t *lookup(json_t *obj, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	json_t *cur = obj;
	char *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, k);
	return cur;
}

static void print_value(strbuf *sb, json_t *v, bool as_json)
{
	if (!v) {
		sb_adds(sb, as_json ? "null" : "<no value>");
	} else if (as_json || json_is_object(v) || json_is_array(v)) {
		if (!as_json && json_is_array(v)) {
			/* Go prints a slice as [a b c] */
			json_t *e;
			size_t i;
			sb_addc(sb, '[');
			json_array_foreach(v, i, e)
			{
				if (i)
					sb_addc(sb, ' ');
				print_value(sb, e, false);
			}
			sb_addc(sb, ']');
			return;
		}
		if (!as_json && json_is_object(v)) {
			const char *k;
			json_t *e;
			bool first = true;
			sb_adds(sb, "map[");
			json_object_foreach(v, k, e)
			{
				sb_addf(sb, "%s%s:", first ? "" : " ", k);
				print_value(sb, e, false);
				first = false;
			}
			sb_addc(sb, ']');
			return;
		}
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		sb_adds(sb, t);
		free(t);
	} else if (json_is_string(v)) {
		sb_adds(sb, json_string_value(v));
	} else if (json_is_integer(v)) {
		sb_addf(sb, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		sb_addf(sb, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		sb_adds(sb, json_is_true(v) ? "true" : "false");
	} else {
		sb_adds(sb, "<nil>");
	}
}

static json_t *eval(const char **pp, json_t *obj, json_t **owned);

static void skip_sp(const char **pp)
{
	while (**pp == ' ')
		(*pp)++;
}

/* A term: ".", ".A.B", "(EXPR)" or "(EXPR).A.B", a "quoted string" or an integer. */
static json_t *term(const char **pp, json_t *obj, json_t **owned)
{
	const char *p = *pp;
	json_t *base = obj;
	if (*p == '(') {
		p++;
		base = eval(&p, obj, owned);
		skip_sp(&p);
		if (*p == ')')
			p++;
		if (*p != '.') {
			*pp = p;
			return base;
		}
	} else if (*p == '"') {
		const char *end = strchr(p + 1, '"');
		size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
		json_t *v = json_stringn(p + 1, n);
		json_decref(*owned);
		*owned = v;
		*pp = end ? end + 1 : p + 1 + n;
		return v;
	} else if (*p >= '0' && *p <= '9') {
		char *end;
		long long n = strtoll(p, &end, 10);
		json_t *v = json_integer(n);
		json_decref(*owned);
		*owned = v;
		*pp = end;
		return v;
	}
	if (*p != '.') {
		*pp = p + strlen(p);
		return NULL;
	}
	size_t n = strcspn(p, " )");
	_cleanup_free_ char *path = xstrndup(p, n);
	*pp = p + n;
	return !strcmp(path, ".") ? base : lookup(base, path + 1);
}

/* json X, len X, index X K..., or a term */
static json_t *eval(const char **pp, json_t *obj, json_t **owned)
{
	skip_sp(pp);
	if (str_has_prefix(*pp, "len ")) {
		*pp += 4;
		skip_sp(pp);
		json_t *v = term(pp, obj, owned);
		size_t n = json_is_array(v)    ? json_array_size(v)
			   : json_is_object(v) ? json_object_size(v)
			   : json_is_string(v) ? json_string_length(v)
					       : 0;
		json_t *r = json_integer((json_int_t)n);
		json_decref(*owned);
		*owned = r;
		return r;
	}
	if (str_has_prefix(*pp, "index ")) {
		*pp += 6;
		skip_sp(pp);
		json_t *v = term(pp, obj, owned);
		json_incref(v);
		for (skip_sp(pp); **pp && **pp != ')'; skip_sp(pp)) {
			json_t *tmp = NULL;
			json_t *k = term(pp, obj, &tmp);
			json_t *next = json_is_string(k) ? json_object_get(v, json_string_value(k))
				       : json_is_integer(k)
					   ? json_array_get(v, (size_t)json_integer_value(k))
					   : NULL;
			json_incref(next);
			json_decref(v);
			json_decref(tmp);
			v = next;
		}
		json_decref(*owned);
		*owned = v;
		return v;
	}
	return term(pp, obj, owned);
}

char *format_template(const char *tmpl, json_t *obj)
{
	_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
	const char *s = tmpl;
	while (*s) {
		const char *open = strstr(s, "{{");
		if (!open) {
			sb_adds(&sb, s);
			break;
		}
		sb_addn(&sb, s, (size_t)(open - s));
		const char *close = strstr(open, "}}");
		if (!close) {
			sb_adds(&sb, open);
			break;
		}
		_cleanup_free_ char *expr = xstrndup(open + 2, (size_t)(close - open - 2));
		char *e = expr;
		while (*e == ' ')
			e++;
		size_t n = strlen(e);
		while (n && e[n - 1] == ' ')
			e[--n] = '\0';
		bool as_json = str_has_prefix(e, "json ");
		if (as_json)
			e += 5;
		while (*e == ' ')
			e++;
		json_t *owned = NULL;
		const char *pe = e;
		print_value(&sb, eval(&pe, obj, &owned), as_json);
		json_decref(owned);
		s = close + 2;
	}
	/* \t and \n as Go's templates take them from the shell */
	_cleanup_strbuf_ strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < sb.len; i++) {
		if (sb.buf[i] == '\\' && i + 1 < sb.len &&
		    (sb.buf[i + 1] == 't' || sb.buf[i + 1] == 'n')) {
			sb_addc(&out, sb.buf[i + 1] == 't' ? '\t' : '\n');
			i++;
		} else {
			sb_addc(&out, sb.buf[i]);
		}
	}
	return sb_steal(&out);
}

char *format_ports(json_t *ports)
{
	strbuf b = STRBUF_INIT;
	json_t *v;
	size_t i;
	json_array_foreach(ports, i, v)
	{
		json_t *pub = json_object_get(v, "PublicPort");
		sb_adds(&b, b.len ? ", " : "");
		if (pub)
			sb_addf(&b, "%s:%lld->", json_string_value(json_object_get(v, "IP")) ?: "",
				(long long)json_integer_value(pub));
		sb_addf(&b, "%lld/%s",
			(long long)json_integer_value(json_object_get(v, "PrivatePort")),
			json_string_value(json_object_get(v, "Type")) ?: "tcp");
	}
	return sb_steal(&b);
}

void table_print(json_t *rows)
{
	/* Docker's tabwriter: columns as wide as their widest cell, 3 spaces apart */
	size_t ncol = json_array_size(json_array_get(rows, 0));
	size_t w[32] = {0};
	json_t *r;
	size_t i;
	json_array_foreach(rows, i, r) for (size_t k = 0; k < ncol && k < 32; k++)
	{
		size_t l = strlen(json_string_value(json_array_get(r, k)) ?: "");
		/* multi-byte UTF-8 (the ellipsis) counts as one column */
		const char *t = json_string_value(json_array_get(r, k)) ?: "";
		for (; *t; t++)
			if ((*t & 0xc0) == 0x80)
				l--;
		if (l > w[k])
			w[k] = l;
	}
	json_array_foreach(rows, i, r)
	{
		for (size_t k = 0; k < ncol; k++) {
			const char *t = json_string_value(json_array_get(r, k)) ?: "";
			if (k + 1 == ncol) {
				printf("%s", t);
				break;
			}
			size_t l = strlen(t);
			for (const char *q = t; *q; q++)
				if ((*q & 0xc0) == 0x80)
					l--;
			printf("%s%*s", t, (int)(w[k] - l + 3), "");
		}
		printf("\n");
	}
}

char *human_ago(long long secs)
{
	if (secs < 1)
		return xstrdup("Less than a second ago");
	if (secs < 60)
		return xasprintf("%lld second%s ago", secs, secs == 1 ? "" : "s");
	if (secs < 3600)
		return secs / 60 == 1 ? xstrdup("About a minute ago")
				      : xasprintf("%lld minutes ago", secs / 60);
	if (secs < 86400)
		return secs / 3600 == 1 ? xstrdup("About an hour ago")
					: xasprintf("%lld hours ago", secs / 3600);
	return xasprintf("%lld days ago", secs / 86400);
}

char *human_bytes(long long b)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4)
		v /= 1024, i++;
	return xasprintf("%.4g%s", v, u[i]);
}

long long parse_duration(const char *s)
{
	/* Go's time.ParseDuration: 1h2m3.5s, 300ms, 10us, 5ns */
	if (!s || !*s)
		return -1;
	if (!strcmp(s, "0"))
		return 0;
	long double total = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long double v = strtold(p, &end);
		if (end == p || !(v >= 0 && v < 1e12)) /* NaN fails both */
			return -1;
		p = end;
		long double mul;
		if (!strncmp(p, "ns", 2))
			mul = 1, p += 2;
		else if (!strncmp(p, "us", 2) || !strncmp(p, "µs", 3))
			mul = 1e3, p += p[0] == 'u' ? 2 : 3;
		else if (!strncmp(p, "ms", 2))
			mul = 1e6, p += 2;
		else if (*p == 's')
			mul = 1e9, p++;
		else if (*p == 'm')
			mul = 60e9, p++;
		else if (*p == 'h')
			mul = 3600e9, p++;
		else
			return -1;
		total += v * mul;
	}
	return total < 9e18L ? (long long)total : -1;
}

long long parse_bytes(const char *s)
{
	/* Docker's RAMInBytes: 512m, 1g, 100k, 1024 (binary units), as the loader reads them */
	long long b;
	return composer_parse_bytes(s, &b) == 0 ? b : -1;
}
