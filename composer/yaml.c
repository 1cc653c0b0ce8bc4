/*
 * YAML through libyaml's event parser: anchors, aliases (copied, with a
 * budget so that an alias bomb is an error and not an out-of-memory), merge
 * keys, !reset and !override, duplicate keys as errors.
 */
#include "composer.h"

#include <string.h>
#include <yaml.h>

/* More nodes than this copied through aliases is an alias bomb. */
#define ALIAS_BUDGET 500000
#define MAX_DEPTH 1000

typedef struct {
	char *name;
	composer_node *node; /* NULL while the anchored node is being built */
} anchor;

typedef struct {
	yaml_parser_t p;
	const char *file;
	anchor *anchors;
	size_t nanchors, cap;
	size_t budget;
	int depth;
	berth_error *err;
} parser;

static int perr(parser *ps, yaml_mark_t m, const char *fmt, const char *a, const char *b)
{
	_cleanup_free_ char *msg = xasprintf(fmt, a ? a : "", b ? b : "");
	return berth_error_set(ps->err, 0, "%s:%zu:%zu: %s", ps->file, m.line + 1, m.column + 1,
			       msg);
}

static void set_anchor(parser *ps, const char *name, composer_node *n)
{
	for (size_t i = ps->nanchors; i-- > 0;)
		if (strcmp(ps->anchors[i].name, name) == 0 && !ps->anchors[i].node) {
			ps->anchors[i].node = n;
			return;
		}
}

static void push_anchor(parser *ps, const char *name)
{
	if (ps->nanchors == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 8;
		ps->anchors = xrealloc(ps->anchors, ps->cap * sizeof *ps->anchors);
	}
	ps->anchors[ps->nanchors++] = (anchor){xstrdup(name), NULL};
}

static size_t count_nodes(const composer_node *n)
{
	size_t c = 1;
	for (size_t i = 0; i < n->n; i++)
		c += count_nodes(n->e[i].val);
	return c;
}

static composer_node *parse_node(parser *ps, yaml_event_t *ev);

static unsigned tag_flags(const yaml_char_t *tag)
{
	if (!tag)
		return 0;
	const char *t = (const char *)tag;
	if (!strcmp(t, "!reset"))
		return CN_RESET;
	if (!strcmp(t, "!override"))
		return CN_OVERRIDE;
	if (!strcmp(t, YAML_STR_TAG))
		return CN_QUOTED;
	return 0;
}

static int next(parser *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev)) {
		yaml_mark_t m = ps->p.problem_mark;
		return berth_error_set(
		    ps->err, 0, "%s:%zu:%zu: %s%s%s%s", ps->file, m.line + 1, m.column + 1,
		    ps->p.problem ? ps->p.problem : "invalid YAML", ps->p.context ? " (" : "",
		    ps->p.context ? ps->p.context : "", ps->p.context ? ")" : "");
	}
	return 0;
}

/* Applies `<<` merge sources: keys the mapping does not have yet. */
static int merge_into(parser *ps, composer_node *map, composer_node *src, yaml_mark_t m)
{
	if (src->kind == CN_SEQ) {
		for (size_t i = 0; i < src->n; i++)
			if (merge_into(ps, map, src->e[i].val, m) < 0)
				return -1;
		return 0;
	}
	if (src->kind != CN_MAP)
		return perr(ps, m, "map merge requires map or sequence of maps as the value%s%s",
			    NULL, NULL);
	for (size_t i = 0; i < src->n; i++) {
		if (composer_map_entry(map, src->e[i].key))
			continue;
		composer_map_set(map, src->e[i].key, composer_node_copy(src->e[i].val));
		map->e[map->n - 1].line = src->e[i].line;
		map->e[map->n - 1].col = src->e[i].col;
		map->e[map->n - 1].kflags = src->e[i].kflags;
	}
	return 0;
}

static composer_node *parse_mapping(parser *ps, yaml_event_t *start)
{
	yaml_mark_t sm = start->start_mark;
	composer_node *map =
	    composer_node_new(CN_MAP, ps->file, (int)sm.line + 1, (int)sm.column + 1);
	map->flags = tag_flags(start->data.mapping_start.tag);
	if (start->data.mapping_start.anchor) {
		push_anchor(ps, (const char *)start->data.mapping_start.anchor);
	}
	composer_node *merges = composer_node_new(CN_SEQ, ps->file, 0, 0);
	yaml_mark_t merge_mark = sm;
	for (;;) {
		yaml_event_t ev;
		if (next(ps, &ev) < 0)
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_mark_t km = ev.start_mark;
		if (ev.type != YAML_SCALAR_EVENT) {
			/* A mapping or sequence as key: parse it to report it. */
			composer_node *k = parse_node(ps, &ev);
			composer_node_free(k);
			if (k)
				perr(ps, km, "mapping keys must be strings%s%s", NULL, NULL);
			goto fail;
		}
		bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev.data.scalar.tag;
		_cleanup_free_ char *key =
		    xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
		if (ev.data.scalar.anchor)
			push_anchor(ps, (const char *)ev.data.scalar.anchor);
		yaml_event_delete(&ev);
		if (next(ps, &ev) < 0)
			goto fail;
		composer_node *val = parse_node(ps, &ev);
		if (!val)
			goto fail;
		if (plain && strcmp(key, "<<") == 0) {
			composer_seq_add(merges, val);
			merge_mark = km;
			continue;
		}
		composer_entry *dup = composer_map_entry(map, key);
		if (dup) {
			_cleanup_free_ char *l = xasprintf("%d", dup->line);
			composer_node_free(val);
			perr(ps, km, "mapping key \"%s\" already defined at line %s", key, l);
			goto fail;
		}
		composer_map_set(map, key, val);
		map->e[map->n - 1].line = (int)km.line + 1;
		map->e[map->n - 1].col = (int)km.column + 1;
		map->e[map->n - 1].kflags = plain ? 0 : CN_QUOTED;
	}
	for (size_t i = 0; i < merges->n; i++)
		if (merge_into(ps, map, merges->e[i].val, merge_mark) < 0)
			goto fail;
	composer_node_free(merges);
	if (start->data.mapping_start.anchor)
		set_anchor(ps, (const char *)start->data.mapping_start.anchor, map);
	return map;
fail:
	composer_node_free(merges);
	composer_node_free(map);
	return NULL;
}

static composer_node *parse_sequence(parser *ps, yaml_event_t *start)
{
	yaml_mark_t sm = start->start_mark;
	composer_node *seq =
	    composer_node_new(CN_SEQ, ps->file, (int)sm.line + 1, (int)sm.column + 1);
	seq->flags = tag_flags(start->data.sequence_start.tag);
	if (start->data.sequence_start.anchor)
		push_anchor(ps, (const char *)start->data.sequence_start.anchor);
	for (;;) {
		yaml_event_t ev;
		if (next(ps, &ev) < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		composer_node *v = parse_node(ps, &ev);
		if (!v)
			goto fail;
		composer_seq_add(seq, v);
	}
	if (start->data.sequence_start.anchor)
		set_anchor(ps, (const char *)start->data.sequence_start.anchor, seq);
	return seq;
fail:
	composer_node_free(seq);
	return NULL;
}

/* Parses the node that starts with *ev (consumed). */
static composer_node *parse_node(parser *ps, yaml_event_t *ev)
{
	composer_node *n = NULL;
	yaml_mark_t m = ev->start_mark;
	if (++ps->depth > MAX_DEPTH) {
		perr(ps, m, "document nested too deeply%s%s", NULL, NULL);
		goto out;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		unsigned fl = tag_flags(ev->data.scalar.tag);
		bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (plain && !(fl & CN_QUOTED) &&
		    (ev->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
		     !strcmp(v, "Null") || !strcmp(v, "NULL"))) {
			n = composer_node_new(CN_NULL, ps->file, (int)m.line + 1,
					      (int)m.column + 1);
		} else {
			n = composer_node_new(CN_SCALAR, ps->file, (int)m.line + 1,
					      (int)m.column + 1);
			n->str = xstrndup(v, ev->data.scalar.length);
			if (!plain)
				fl |= CN_QUOTED;
		}
		n->flags |= fl;
		if (ev->data.scalar.anchor) {
			push_anchor(ps, (const char *)ev->data.scalar.anchor);
			set_anchor(ps, (const char *)ev->data.scalar.anchor, n);
		}
		break;
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		anchor *a = NULL;
		for (size_t i = ps->nanchors; i-- > 0;)
			if (strcmp(ps->anchors[i].name, name) == 0) {
				a = &ps->anchors[i];
				break;
			}
		if (!a) {
			perr(ps, m, "unknown anchor \"%s\" referenced%s", name, NULL);
			break;
		}
		if (!a->node) {
			perr(ps, m,
			     "cycle detected: alias \"%s\" refers to the node that holds it%s",
			     name, NULL);
			break;
		}
		size_t c = count_nodes(a->node);
		if (c > ALIAS_BUDGET - ps->budget) {
			perr(ps, m, "excessive aliasing: alias \"%s\" expands past the limit%s",
			     name, NULL);
			break;
		}
		ps->budget += c;
		n = composer_node_copy(a->node);
		break;
	}
	case YAML_MAPPING_START_EVENT:
		n = parse_mapping(ps, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = parse_sequence(ps, ev);
		break;
	default:
		perr(ps, m, "unexpected YAML event%s%s", NULL, NULL);
		break;
	}
out:
	ps->depth--;
	yaml_event_delete(ev);
	return n;
}

void composer_docs_free(composer_node **docs, size_t n)
{
	if (!docs)
		return;
	for (size_t i = 0; i < n; i++)
		composer_node_free(docs[i]);
	free(docs);
}

composer_node **composer_yaml_parse(const char *text, size_t len, const char *file, size_t *ndocs,
				    berth_error *err)
{
	parser ps = {.file = composer_intern(file), .err = err};
	composer_node **docs = NULL;
	size_t n = 0;
	yaml_parser_initialize(&ps.p);
	yaml_parser_set_input_string(&ps.p, (const unsigned char *)text, len);
	bool ok = false;
	for (;;) {
		yaml_event_t ev;
		if (next(&ps, &ev) < 0)
			break;
		yaml_event_type_t t = ev.type;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT) {
			ok = true;
			break;
		}
		if (t != YAML_DOCUMENT_START_EVENT)
			continue;
		if (next(&ps, &ev) < 0)
			break;
		composer_node *d = parse_node(&ps, &ev);
		if (!d)
			break;
		docs = xrealloc(docs, (n + 1) * sizeof *docs);
		docs[n++] = d;
		if (next(&ps, &ev) < 0)
			break;
		yaml_event_delete(&ev); /* document end */
		for (size_t i = 0; i < ps.nanchors; i++)
			free(ps.anchors[i].name);
		ps.nanchors = 0; /* anchors are per document */
	}
	for (size_t i = 0; i < ps.nanchors; i++)
		free(ps.anchors[i].name);
	free(ps.anchors);
	yaml_parser_delete(&ps.p);
	if (!ok) {
		composer_docs_free(docs, n);
		return NULL;
	}
	*ndocs = n;
	return docs ? docs : xcalloc(1, sizeof *docs);
}

/* Emitting. */

static bool needs_quotes(const char *s)
{
	static const char *const words[] = {
	    "~",     "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
	    "FALSE", "yes",  "no",   "Yes",  "No",   "YES",  "NO",   "on",    "off",
	    "On",    "Off",  "ON",   "OFF",  "y",    "n",    "Y",    "N"};
	if (!*s)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcmp(s, words[i]))
			return true;
	composer_node tmp = {.kind = CN_SCALAR, .str = (char *)s};
	if (composer_node_type(&tmp) != CT_STRING)
		return true;
	if (strchr("-?:", s[0]) && (s[1] == ' ' || s[1] == '\0'))
		return true;
	if (strchr(",[]{}#&*!|>'\"%@`", s[0]) || s[0] == ' ' || s[strlen(s) - 1] == ' ')
		return true;
	if (strstr(s, ": ") || strstr(s, " #") || s[strlen(s) - 1] == ':')
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static void emit_string(strbuf *sb, const char *s)
{
	if (!needs_quotes(s)) {
		sb_adds(sb, s);
		return;
	}
	sb_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			sb_adds(sb, "\\\"");
			break;
		case '\\':
			sb_adds(sb, "\\\\");
			break;
		case '\n':
			sb_adds(sb, "\\n");
			break;
		case '\t':
			sb_adds(sb, "\\t");
			break;
		case '\r':
			sb_adds(sb, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sb_addf(sb, "\\x%02x", *p);
			else
				sb_addc(sb, (char)*p);
		}
	}
	sb_addc(sb, '"');
}

static void emit_scalar(strbuf *sb, const composer_node *n, int indent)
{
	composer_type t = composer_node_type(n);
	if (t == CT_NULL) {
		sb_adds(sb, "null");
		return;
	}
	if (t != CT_STRING) {
		sb_adds(sb, n->str);
		return;
	}
	const char *s = n->str;
	size_t len = strlen(s);
	/* Multi-line text as a literal block, as yaml.v3 prints it. */
	if (strchr(s, '\n') && !strchr(s, '\r') && !strchr(s, '\t') && s[0] != ' ' &&
	    !strstr(s, " \n") && len && s[len - 1] == '\n' && (len < 2 || s[len - 2] != '\n')) {
		sb_adds(sb, "|");
		const char *p = s;
		while (*p) {
			const char *nl = strchr(p, '\n');
			sb_addc(sb, '\n');
			if (nl != p)
				for (int i = 0; i < indent; i++)
					sb_addc(sb, ' ');
			sb_addn(sb, p, (size_t)(nl - p));
			p = nl + 1;
		}
		return;
	}
	emit_string(sb, s);
}

static void emit_node(strbuf *sb, const composer_node *n, int indent);

static void pad(strbuf *sb, int indent)
{
	for (int i = 0; i < indent; i++)
		sb_addc(sb, ' ');
}

static bool is_block(const composer_node *n)
{
	return n && (n->kind == CN_MAP || n->kind == CN_SEQ) && n->n > 0;
}

static void emit_node(strbuf *sb, const composer_node *n, int indent)
{
	if (n && n->kind == CN_MAP && n->n) {
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				pad(sb, indent);
			emit_string(sb, n->e[i].key);
			sb_addc(sb, ':');
			const composer_node *v = n->e[i].val;
			if (is_block(v)) {
				sb_addc(sb, '\n');
				int in = v->kind == CN_SEQ ? indent + 2 : indent + 2;
				pad(sb, in);
				emit_node(sb, v, in);
			} else {
				sb_addc(sb, ' ');
				emit_node(sb, v, indent + 2);
				sb_addc(sb, '\n');
			}
		}
		return;
	}
	if (n && n->kind == CN_SEQ && n->n) {
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				pad(sb, indent);
			sb_adds(sb, "- ");
			const composer_node *v = n->e[i].val;
			if (is_block(v)) {
				emit_node(sb, v, indent + 2);
			} else {
				emit_node(sb, v, indent + 2);
				sb_addc(sb, '\n');
			}
		}
		return;
	}
	if (n && n->kind == CN_MAP)
		sb_adds(sb, "{}");
	else if (n && n->kind == CN_SEQ)
		sb_adds(sb, "[]");
	else
		emit_scalar(sb, n, indent);
}

char *composer_yaml_emit(const composer_node *n)
{
	strbuf sb = STRBUF_INIT;
	emit_node(&sb, n, 0);
	if (!is_block(n))
		sb_addc(&sb, '\n');
	return sb_steal(&sb);
}
