/* berth load, import, images, rmi, tag and image inspect: the image store's commands. */
#include "cli.h"
#include "../engine/engine.h"

#include <string.h>
#include <time.h>

static engine_store *open_store(void)
{
	berth_error err = BERTH_ERROR_INIT;
	engine_store *s = engine_store_open(NULL, &err);
	if (!s) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
	}
	return s;
}

static int fail(berth_error *err)
{
	fprintf(stderr, "Error: %s\n", err->msg);
	berth_error_clear(err);
	return 1;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int cmd_load(int argc, char **argv)
{
	const char *input = "-";
	bool quiet = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (is_help(argv[i])) {
			puts("Usage: berth load [-i FILE] [-q]\n\nLoad images from a tar archive "
			     "(docker save or OCI layout), or from stdin");
			return 0;
		} else if ((v = opt_value(argc, argv, &i, "--input", "-i"))) {
			input = v;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else {
			fprintf(stderr, "berth load: unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	berth_error err = BERTH_ERROR_INIT;
	json_t *loaded = json_array();
	int rc = engine_image_load(s, input, loaded, &err);
	engine_store_close(s);
	if (rc < 0) {
		json_decref(loaded);
		return fail(&err);
	}
	json_t *v;
	size_t i;
	json_array_foreach(loaded, i, v)
	{
		const char *n = json_string_value(v);
		if (!quiet)
			printf(str_has_prefix(n, "sha256:") ? "Loaded image ID: %s\n"
							    : "Loaded image: %s\n",
			       n);
	}
	json_decref(loaded);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	const char *file = NULL, *ref = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			puts("Usage: berth import FILE|- [REPOSITORY[:TAG]]\n\nImport the contents "
			     "from a tarball to create a filesystem image");
			return 0;
		} else if (!file) {
			file = argv[i];
		} else if (!ref) {
			ref = argv[i];
		} else {
			fprintf(stderr, "berth import: too many arguments\n");
			return 125;
		}
	}
	if (!file) {
		fprintf(stderr, "berth import: requires at least 1 argument\n");
		return 125;
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	berth_error err = BERTH_ERROR_INIT;
	char *id = engine_image_import(s, file, ref, &err);
	engine_store_close(s);
	if (!id)
		return fail(&err);
	printf("%s\n", id);
	free(id);
	return 0;
}

/* Docker's units.HumanSize: decimal units, four significant digits. */
static void human_size(double b, char *out, size_t n)
{
	static const char *const u[] = {"B", "kB", "MB", "GB", "TB"};
	size_t i = 0;
	while (b >= 1000 && i + 1 < ARRAY_SIZE(u))
		b /= 1000, i++;
	snprintf(out, n, "%.4g%s", b, u[i]);
}

static void human_since(const char *created, char *out, size_t n)
{
	struct tm tm = {0};
	if (!created || !strptime(created, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, n, "N/A");
		return;
	}
	double d = difftime(time(NULL), timegm(&tm));
	if (d < 60)
		snprintf(out, n, "Less than a minute ago");
	else if (d < 3600)
		snprintf(out, n, "%d minutes ago", (int)(d / 60));
	else if (d < 48 * 3600)
		snprintf(out, n, "%d hours ago", (int)(d / 3600));
	else if (d < 14 * 86400)
		snprintf(out, n, "%d days ago", (int)(d / 86400));
	else if (d < 60 * 86400)
		snprintf(out, n, "%d weeks ago", (int)(d / 86400 / 7));
	else if (d < 730 * 86400)
		snprintf(out, n, "%d months ago", (int)(d / 86400 / 30));
	else
		snprintf(out, n, "%d years ago", (int)(d / 86400 / 365));
}

int cmd_images(int argc, char **argv)
{
	bool quiet = false, json = false, notrunc = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (is_help(argv[i])) {
			puts("Usage: berth images [-q] [--no-trunc] [--format table|json]\n\nList "
			     "images");
			return 0;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else if (!strcmp(argv[i], "--no-trunc")) {
			notrunc = true;
		} else if ((v = opt_value(argc, argv, &i, "--format", NULL))) {
			if (!strcmp(v, "json"))
				json = true;
			else if (strcmp(v, "table")) {
				fprintf(stderr,
					"berth images: unsupported --format %s (table, json)\n", v);
				return 125;
			}
		} else {
			fprintf(stderr, "berth images: unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	json_t *list = engine_image_list(s);
	engine_store_close(s);
	if (!quiet && !json)
		printf("%-20s %-10s %-14s %-24s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED",
		       "SIZE");
	json_t *img;
	size_t i;
	json_array_foreach(list, i, img)
	{
		const char *id = json_string_value(json_object_get(img, "Id"));
		/* docker shows 12 hex digits, or the whole "sha256:..." with --no-trunc */
		_cleanup_free_ char *shown = notrunc ? xstrdup(id) : xstrndup(id + 7, 12);
		char size[32], since[48];
		human_size((double)json_integer_value(json_object_get(img, "Size")), size,
			   sizeof size);
		human_since(json_string_value(json_object_get(img, "Created")), since,
			    sizeof since);
		if (quiet) {
			puts(shown);
			continue;
		}
		json_t *tags = json_object_get(img, "RepoTags");
		size_t nt = json_array_size(tags);
		for (size_t k = 0; k < (nt ? nt : 1); k++) {
			const char *t = nt ? json_string_value(json_array_get(tags, k)) : NULL;
			const char *colon = t ? strrchr(t, ':') : NULL;
			_cleanup_free_ char *repo =
			    t ? xstrndup(t, (size_t)(colon - t)) : xstrdup("<none>");
			const char *tag = t ? colon + 1 : "<none>";
			if (json) {
				json_t *o = json_pack(
				    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Repository", repo, "Tag", tag,
				    "ID", shown, "CreatedAt",
				    json_string_value(json_object_get(img, "Created"))
					? json_string_value(json_object_get(img, "Created"))
					: "",
				    "CreatedSince", since, "Size", size, "Digest", "<none>");
				char *txt = json_dumps(o, JSON_COMPACT);
				puts(txt);
				free(txt);
				json_decref(o);
			} else {
				printf("%-20s %-10s %-14s %-24s %s\n", repo, tag, shown, since,
				       size);
			}
		}
	}
	json_decref(list);
	return 0;
}

int cmd_rmi(int argc, char **argv)
{
	bool force = false;
	int i = 1, rc = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (is_help(argv[i])) {
			puts("Usage: berth rmi [-f] IMAGE [IMAGE...]\n\nRemove one or more images");
			return 0;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")) {
			force = true;
		} else {
			fprintf(stderr, "berth rmi: unknown flag: %s\n", argv[i]);
			return 125;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "berth rmi: requires at least 1 argument\n");
		return 125;
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	for (; i < argc; i++) {
		berth_error err = BERTH_ERROR_INIT;
		json_t *out = json_array(), *o;
		size_t k;
		if (engine_image_remove(s, argv[i], force, out, &err) < 0)
			rc = fail(&err);
		json_array_foreach(out, k, o)
		{
			const char *key = json_object_iter_key(json_object_iter(o));
			printf("%s: %s\n", key, json_string_value(json_object_get(o, key)));
		}
		json_decref(out);
	}
	engine_store_close(s);
	return rc;
}

int cmd_tag(int argc, char **argv)
{
	if (argc == 2 && is_help(argv[1])) {
		puts("Usage: berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "berth tag: requires exactly 2 arguments\n");
		return 125;
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	berth_error err = BERTH_ERROR_INIT;
	int rc = engine_image_tag(s, argv[1], argv[2], &err);
	engine_store_close(s);
	return rc < 0 ? fail(&err) : 0;
}

int cmd_image_inspect(int argc, char **argv)
{
	int i = 1, rc = 0;
	if (argc > 1 && is_help(argv[1])) {
		puts("Usage: berth image inspect IMAGE [IMAGE...]");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "berth image inspect: requires at least 1 argument\n");
		return 125;
	}
	engine_store *s = open_store();
	if (!s)
		return 1;
	json_t *arr = json_array();
	for (; i < argc; i++) {
		berth_error err = BERTH_ERROR_INIT;
		json_t *o = engine_image_inspect(s, argv[i], &err);
		if (!o)
			rc = fail(&err);
		else
			json_array_append_new(arr, o);
	}
	engine_store_close(s);
	char *txt = json_dumps(arr, JSON_INDENT(4));
	puts(txt);
	free(txt);
	json_decref(arr);
	return rc;
}

int cmd_image(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		puts("Usage: berth image COMMAND\n\nCommands:\n  import   Import a root "
		     "filesystem tar\n  inspect  Show an image's details\n  load     Load images "
		     "from a tar archive\n  ls       List images\n  rm       Remove images\n  tag  "
		     "  "
		     "  Tag an image");
		return argc < 2 ? 1 : 0;
	}
	const char *c = argv[1];
	if (!strcmp(c, "load"))
		return cmd_load(argc - 1, argv + 1);
	if (!strcmp(c, "import"))
		return cmd_import(argc - 1, argv + 1);
	if (!strcmp(c, "ls") || !strcmp(c, "list"))
		return cmd_images(argc - 1, argv + 1);
	if (!strcmp(c, "rm"))
		return cmd_rmi(argc - 1, argv + 1);
	if (!strcmp(c, "tag"))
		return cmd_tag(argc - 1, argv + 1);
	if (!strcmp(c, "inspect"))
		return cmd_image_inspect(argc - 1, argv + 1);
	fprintf(stderr, "berth image: unknown command %s\n", c);
	return 125;
}
