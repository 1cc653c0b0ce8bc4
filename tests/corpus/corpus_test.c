/*
 * The corpus test: every Compose file others wrote loads (or is listed in
 * expected-failures.tsv with its reason), every invalid file is rejected
 * with an error naming file and line, every merge and normalisation oracle
 * holds as a YAML tree, and the full example's output equals its golden
 * file.  Prints its counts.
 */
#include "composer.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char *corpus;
static int failures;

typedef struct {
	char **file, **reason;
	size_t n;
	bool *seen;
} xfail_list;

static xfail_list xfail;

static char **env_for_tests(void)
{
	static char *envp[] = {"HOME=/home/user", "PATH=/usr/bin:/bin", "USER=test", NULL};
	return envp;
}

static void load_xfail(const char *path)
{
	berth_error err = BERTH_ERROR_INIT;
	char *text = read_file(path, NULL, &err);
	if (!text) {
		fprintf(stderr, "%s\n", err.msg);
		exit(2);
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !*line)
			continue;
		char *tab = strchr(line, '\t');
		if (!tab) {
			fprintf(stderr, "%s: line without a reason: %s\n", path, line);
			exit(2);
		}
		*tab = '\0';
		xfail.file = xrealloc(xfail.file, (xfail.n + 1) * sizeof(char *));
		xfail.reason = xrealloc(xfail.reason, (xfail.n + 1) * sizeof(char *));
		xfail.file[xfail.n] = xstrdup(line);
		xfail.reason[xfail.n] = xstrdup(tab + 1);
		xfail.n++;
	}
	xfail.seen = xcalloc(xfail.n + 1, sizeof(bool));
	free(text);
}

static int xfail_index(const char *rel)
{
	for (size_t i = 0; i < xfail.n; i++)
		if (!strcmp(xfail.file[i], rel))
			return (int)i;
	return -1;
}

static char *dir_of(const char *p)
{
	const char *slash = strrchr(p, '/');
	return slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(".");
}

static composer_project *load_env(const char *const *files, size_t n, bool consistency,
				  bool env_resolution, char **envp, const char *stdin_text,
				  berth_error *err)
{
	_cleanup_free_ char *dir = dir_of(files[0]);
	composer_options o = {.files = files,
			      .nfiles = n,
			      .environ = envp ? envp : env_for_tests(),
			      .workdir = dir,
			      .stdin_text = stdin_text,
			      .no_consistency = !consistency,
			      .no_env_resolution = !env_resolution};
	static const char *const from_stdin[] = {"-"};
	if (stdin_text)
		o.files = from_stdin;
	return composer_load(&o, err);
}

static composer_project *load(const char *const *files, size_t n, bool consistency,
			      berth_error *err)
{
	return load_env(files, n, consistency, consistency, NULL, NULL, err);
}

/* The environment compose-go's normalisation tests ran with. */
static char **oracle_env(const char *stem)
{
	static char *foo[] = {"HOME=/home/user", "FOO=BAR", NULL};
	static char *bar[] = {"HOME=/home/user", "BAR=bar", NULL};
	if (strstr(stem, "TestNormalizeNetworkNames"))
		return foo;
	if (strstr(stem, "TestNormalizeEnvironment"))
		return bar;
	return NULL;
}

static void report(const char *what, const char *rel, const char *msg)
{
	fprintf(stderr, "FAIL %s %s: %s\n", what, rel, msg);
	failures++;
}

/* Valid files: each loads, unless listed with its reason. */
static void valid_files(int *ok, int *xf)
{
	_cleanup_free_ char *tsv = xasprintf("%s/compose/files.tsv", corpus);
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ char *text = read_file(tsv, NULL, &err);
	if (!text) {
		report("files.tsv", tsv, err.msg);
		return;
	}
	char *save = NULL;
	strtok_r(text, "\n", &save); /* header */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cols[6] = {0};
		char *p = line;
		for (int i = 0; i < 6 && p; i++) {
			cols[i] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		const char *rel = cols[0], *kind = cols[4];
		if (!rel || !kind)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/compose/%s", corpus, rel);
		int xi = xfail_index(rel);
		int r = 0;
		berth_error e = BERTH_ERROR_INIT;
		if (!strcmp(kind, "env")) {
			composer_env out = {0};
			r = composer_dotenv_read(path, false, NULL, &out, &e);
			composer_env_free(&out);
		} else if (!strcmp(kind, "yaml") || !strcmp(kind, "yaml-snippet")) {
			const char *files[] = {path};
			composer_project *pr = load(files, 1, true, &e);
			r = pr ? 0 : -1;
			composer_project_free(pr);
		} else {
			continue; /* oracles are checked below */
		}
		if (r == 0 && xi < 0) {
			(*ok)++;
		} else if (r < 0 && xi >= 0) {
			xfail.seen[xi] = true;
			(*xf)++;
		} else if (r == 0) {
			xfail.seen[xi] = true;
			report("valid", rel, "loads now: remove it from expected-failures.tsv");
		} else {
			report("valid", rel, e.msg);
		}
		berth_error_clear(&e);
	}
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static bool same_models(composer_project *a, composer_project *b)
{
	return composer_node_equal(a->model, b->model);
}

static void print_pair(composer_project *a, composer_project *b)
{
	char *x = composer_project_yaml(a, false), *y = composer_project_yaml(b, false);
	fprintf(stderr, "--- got\n%s--- expected\n%s", x, y);
	free(x);
	free(y);
}

/* base + override = expected; input -> expected. */
static char *replace_all(const char *s, const char *from, const char *to);

static void oracles(const char *subdir, const char *first, const char *second, const char *expected,
		    int *ok, int *xf)
{
	_cleanup_free_ char *dir = xasprintf("%s/compose/%s", corpus, subdir);
	_cleanup_free_ char *tsv = xasprintf("%s/compose/files.tsv", corpus);
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ char *text = read_file(tsv, NULL, &err);
	if (!text)
		return;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		size_t pl = strlen(subdir);
		if (strncmp(line, subdir, pl) || line[pl] != '/' || !str_has_suffix(line, expected))
			continue;
		_cleanup_free_ char *stem =
		    xstrndup(line + pl + 1, strlen(line) - pl - 1 - strlen(expected));
		_cleanup_free_ char *a = xasprintf("%s/%s%s", dir, stem, first);
		_cleanup_free_ char *b = second ? xasprintf("%s/%s%s", dir, stem, second) : NULL;
		_cleanup_free_ char *x = xasprintf("%s/%s%s", dir, stem, expected);
		if (!exists(a) || (b && !exists(b)))
			continue;
		const char *files[] = {a, b};
		const char *xfiles[] = {x};
		berth_error e = BERTH_ERROR_INIT;
		/*
		 * Normalisation oracles: compose-go's tests named the project
		 * "myProject" without normalising it; names derive from it.
		 */
		bool norm = !second;
		_cleanup_free_ char *xtext = norm ? read_file(x, NULL, &e) : NULL;
		_cleanup_free_ char *fixed =
		    xtext ? replace_all(xtext, "myProject", "myproject") : NULL;
		char **envp = oracle_env(stem);
		composer_project *got = load_env(files, b ? 2 : 1, false, norm, envp, NULL, &e);
		composer_project *want =
		    got ? load_env(xfiles, 1, false, norm, envp, fixed, &e) : NULL;
		_cleanup_free_ char *rel = xasprintf("%s/%s", subdir, stem);
		int xi = xfail_index(rel);
		bool good = got && want && same_models(got, want);
		if (good && xi < 0) {
			(*ok)++;
		} else if (!good && xi >= 0) {
			xfail.seen[xi] = true;
			(*xf)++;
		} else if (good) {
			xfail.seen[xi] = true;
			report("oracle", rel, "holds now: remove it from expected-failures.tsv");
		} else if (!got || !want) {
			report("oracle", rel, e.msg);
		} else {
			report("oracle", rel, "trees differ");
			print_pair(got, want);
		}
		berth_error_clear(&e);
		composer_project_free(got);
		composer_project_free(want);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	strbuf sb = STRBUF_INIT;
	size_t fl = strlen(from);
	for (const char *p = s; *p;) {
		if (!strncmp(p, from, fl)) {
			sb_adds(&sb, to);
			p += fl;
		} else {
			sb_addc(&sb, *p++);
		}
	}
	return sb_steal(&sb);
}

static void copy_file(const char *from, const char *to)
{
	berth_error e = BERTH_ERROR_INIT;
	_cleanup_free_ char *t = read_file(from, NULL, &e);
	if (!t) {
		fprintf(stderr, "%s\n", e.msg);
		exit(2);
	}
	write_file(to, t);
}

/*
 * The full example against compose-go's golden output.  compose-go's test
 * ran in /project with HOME=/home/user and label files the corpus does not
 * carry; the golden is taken without normalisation and consistency checks,
 * and keeps env_file, which `config` resolves into environment and drops.
 */
static void golden(int *ok)
{
	char tmpl[] = "/tmp/berth-golden-XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir) {
		report("golden", "mkdtemp", strerror(errno));
		return;
	}
	_cleanup_free_ char *src = xasprintf("%s/compose/compose-go/loader", corpus);
	static const char *const copies[] = {"full-example.yml", "example1.env", "example2.env"};
	for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
		_cleanup_free_ char *a = xasprintf("%s/%s", src, copies[i]);
		_cleanup_free_ char *b = xasprintf("%s/%s", dir, copies[i]);
		copy_file(a, b);
	}
	_cleanup_free_ char *l1 = xasprintf("%s/example1.label", dir);
	_cleanup_free_ char *l2 = xasprintf("%s/example2.label", dir);
	write_file(l1, "FOO=foo_from_label_file\nBAR=bar_from_label_file\n"
		       "BAZ=baz_from_label_file\nLABEL.WITH.DOT=ok\nLABEL_WITH_UNDERSCORE=ok\n");
	write_file(l2, "BAR=bar_from_label_file_2\nQUX=quz_from_label_file_2\n");
	_cleanup_free_ char *file = xasprintf("%s/full-example.yml", dir);
	const char *files[] = {file};
	char *envp[] = {"HOME=/home/user", "QUX=qux_from_environment", NULL};
	composer_options o = {.files = files,
			      .nfiles = 1,
			      .environ = envp,
			      .workdir = dir,
			      .no_normalize = true,
			      .no_consistency = true};
	berth_error e = BERTH_ERROR_INIT;
	composer_project *p = composer_load(&o, &e);
	_cleanup_free_ char *gpath =
	    xasprintf("%s/compose/compose-go/loader/full-struct_test.go#fullExampleYAML", corpus);
	_cleanup_free_ char *gtext = read_file(gpath, NULL, &e);
	if (!p || !gtext) {
		report("golden", "full-example.yml", e.msg);
	} else {
		_cleanup_free_ char *fixed = replace_all(gtext, "/project", dir);
		size_t nd = 0;
		composer_node **docs = composer_yaml_parse(fixed, strlen(fixed), "golden", &nd, &e);
		if (!docs || nd != 1) {
			report("golden", "parse", e.msg ? e.msg : "not one document");
		} else {
			composer_map_del(
			    composer_map_get(composer_map_get(docs[0], "services"), "foo"),
			    "env_file");
			if (composer_node_equal(p->model, docs[0])) {
				(*ok)++;
			} else {
				char *got = composer_project_yaml(p, false);
				fprintf(stderr, "--- got\n%s", got);
				free(got);
				report("golden", "full-example.yml", "trees differ");
			}
		}
		composer_docs_free(docs, nd);
	}
	berth_error_clear(&e);
	composer_project_free(p);
	for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
		_cleanup_free_ char *b = xasprintf("%s/%s", dir, copies[i]);
		unlink(b);
	}
	unlink(l1);
	unlink(l2);
	rmdir(dir);
}

/* Invalid files: rejected, and the error names the file and a line. */
static void invalid_files(int *ok, int *named)
{
	_cleanup_free_ char *tsv = xasprintf("%s/compose-invalid/expected-errors.tsv", corpus);
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ char *text = read_file(tsv, NULL, &err);
	if (!text) {
		report("expected-errors.tsv", tsv, err.msg);
		return;
	}
	char *save = NULL;
	strtok_r(text, "\n", &save);
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		const char *rel = line;
		_cleanup_free_ char *path = xasprintf("%s/compose-invalid/%s", corpus, rel);
		berth_error e = BERTH_ERROR_INIT;
		int r;
		if (str_has_suffix(rel, ".env")) {
			composer_env out = {0};
			r = composer_dotenv_read(path, false, NULL, &out, &e);
			composer_env_free(&out);
		} else {
			const char *files[] = {path};
			composer_project *p = load(files, 1, true, &e);
			r = p ? 0 : -1;
			composer_project_free(p);
		}
		int xi = xfail_index(rel);
		if (r == 0 && xi >= 0) {
			xfail.seen[xi] = true;
			continue;
		}
		if (r == 0) {
			report("invalid", rel, "was accepted");
			continue;
		}
		if (xi >= 0) {
			xfail.seen[xi] = true;
			report("invalid", rel,
			       "is rejected now: remove it from expected-failures.tsv");
		}
		(*ok)++;
		/* "file:LINE:" or "file: line N:" */
		const char *at = strstr(e.msg, path);
		const char *after = at ? at + strlen(path) : NULL;
		bool has_line = after && ((after[0] == ':' && after[1] >= '1' && after[1] <= '9') ||
					  !strncmp(after, ": line ", 7));
		if (has_line)
			(*named)++;
		else
			report("invalid", rel, e.msg);
		berth_error_clear(&e);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: corpus_test CORPUS_DIR EXPECTED_FAILURES\n");
		return 2;
	}
	corpus = argv[1];
	load_xfail(argv[2]);
	int valid = 0, xf = 0, merges = 0, norms = 0, gold = 0, invalid = 0, named = 0;
	valid_files(&valid, &xf);
	oracles("compose-go-merge", ".base.yaml", ".override.yaml", ".expected.yaml", &merges, &xf);
	oracles("compose-go-normalize", ".input.yaml", NULL, ".expected.yaml", &norms, &xf);
	golden(&gold);
	invalid_files(&invalid, &named);
	for (size_t i = 0; i < xfail.n; i++)
		if (!xfail.seen[i])
			report("expected-failures.tsv", xfail.file[i], "not in the corpus");
	printf("corpus: %d valid files load, %d expected failures (listed with reasons)\n", valid,
	       xf);
	printf("corpus: %d merge oracles and %d normalisation oracles hold\n", merges, norms);
	printf("corpus: golden full example %s\n", gold ? "matches" : "differs");
	printf("corpus: %d invalid files rejected, %d of them with file and line\n", invalid,
	       named);
	printf("corpus: %d failures\n", failures);
	return failures ? 1 : 0;
}
