/* berth compose config: the normalised project, as docker compose prints it. */
#include "../composer/composer.h"
#include "cli.h"
#include "compose_opts.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: berth compose config [OPTIONS] [SERVICE...]\n"
	      "\n"
	      "Parse, resolve and render the Compose file in canonical form.\n"
	      "\n"
	      "Options:\n"
	      "      --format yaml|json      Output format (default yaml)\n"
	      "  -q, --quiet                 Only validate the configuration\n"
	      "      --services              Print the service names, one per line\n"
	      "      --volumes               Print the volume names, one per line\n"
	      "      --networks              Print the network names, one per line\n"
	      "      --profiles              Print the profile names, one per line\n"
	      "      --images                Print the image names, one per line\n"
	      "      --environment           Print the interpolation environment and where\n"
	      "                              each variable comes from\n"
	      "      --no-interpolate        Don't interpolate environment variables\n"
	      "      --no-normalize          Don't normalise the project model\n"
	      "      --no-path-resolution    Don't resolve file paths\n"
	      "      --no-env-resolution     Don't resolve env_file into environment\n"
	      "      --no-consistency        Don't check the model's consistency\n"
	      "  -o, --output FILE           Save to FILE instead of standard output\n",
	      f);
}

static void print_keys(strbuf *out, const composer_node *map)
{
	for (size_t i = 0; map && map->kind == CN_MAP && i < map->n; i++)
		sb_addf(out, "%s\n", map->e[i].key);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_profiles(const composer_node *services, char ***l, size_t *n)
{
	for (size_t i = 0; services && i < services->n; i++) {
		composer_node *prof = composer_map_get(services->e[i].val, "profiles");
		for (size_t j = 0; prof && prof->kind == CN_SEQ && j < prof->n; j++) {
			const char *s = prof->e[j].val ? prof->e[j].val->str : NULL;
			bool seen = false;
			for (size_t k = 0; s && k < *n; k++)
				seen |= !strcmp((*l)[k], s);
			if (!s || seen)
				continue;
			*l = xrealloc(*l, (*n + 1) * sizeof **l);
			(*l)[(*n)++] = xstrdup(s);
		}
	}
}

int cmd_compose_config(int argc, char **argv, const void *popts)
{
	const compose_opts *po = popts;
	composer_options o = {0};
	const char *format = "yaml", *output = NULL;
	bool quiet = false, services = false, volumes = false, networks = false, profiles = false,
	     images = false, environment = false;
	const char **svc = NULL;
	size_t nsvc = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (a[0] != '-') {
			svc = xrealloc(svc, (nsvc + 1) * sizeof *svc);
			svc[nsvc++] = a;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			free(svc);
			return 0;
		} else if ((v = opt_value(argc, argv, &i, "--format", NULL))) {
			format = v;
		} else if ((v = opt_value(argc, argv, &i, "--output", "-o"))) {
			output = v;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strcmp(a, "--services")) {
			services = true;
		} else if (!strcmp(a, "--volumes")) {
			volumes = true;
		} else if (!strcmp(a, "--networks")) {
			networks = true;
		} else if (!strcmp(a, "--profiles")) {
			profiles = true;
		} else if (!strcmp(a, "--images")) {
			images = true;
		} else if (!strcmp(a, "--environment")) {
			environment = true;
		} else if (!strcmp(a, "--no-interpolate")) {
			o.no_interpolate = true;
		} else if (!strcmp(a, "--no-normalize")) {
			o.no_normalize = true;
		} else if (!strcmp(a, "--no-path-resolution")) {
			o.no_path_resolution = true;
		} else if (!strcmp(a, "--no-env-resolution")) {
			o.no_env_resolution = true;
		} else if (!strcmp(a, "--no-consistency")) {
			o.no_consistency = true;
		} else {
			fprintf(stderr, "berth compose config: unknown flag: %s\n", a);
			free(svc);
			return 1;
		}
	}
	if (strcmp(format, "yaml") && strcmp(format, "json")) {
		fprintf(stderr, "berth compose config: unsupported format \"%s\" (yaml or json)\n",
			format);
		free(svc);
		return 1;
	}
	compose_loader_options(po, svc, nsvc, &o);
	if (profiles) {
		/* Every profile the file mentions: load with all of them on. */
		static const char *const all[] = {"*"};
		o.profiles = all;
		o.nprofiles = 1;
	}
	_cleanup_error_ berth_error err = BERTH_ERROR_INIT;
	composer_project *p = composer_load(&o, &err);
	free(svc);
	if (!p) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	_cleanup_strbuf_ strbuf out = STRBUF_INIT;
	composer_node *model = p->model;
	composer_node *svcs = composer_map_get(model, "services");
	if (services) {
		size_t n;
		char **order = composer_service_order(model, &n, &err);
		for (size_t i = 0; order && i < n; i++) {
			sb_addf(&out, "%s\n", order[i]);
			free(order[i]);
		}
		free(order);
	} else if (volumes) {
		print_keys(&out, composer_map_get(model, "volumes"));
	} else if (networks) {
		print_keys(&out, composer_map_get(model, "networks"));
	} else if (profiles) {
		char **l = NULL;
		size_t n = 0;
		collect_profiles(svcs, &l, &n);
		if (n)
			qsort(l, n, sizeof *l, cmp_str);
		for (size_t i = 0; i < n; i++) {
			sb_addf(&out, "%s\n", l[i]);
			free(l[i]);
		}
		free(l);
	} else if (images) {
		for (size_t i = 0; svcs && i < svcs->n; i++) {
			composer_node *img = composer_map_get(svcs->e[i].val, "image");
			if (img && img->str)
				sb_addf(&out, "%s\n", img->str);
			else
				sb_addf(&out, "%s-%s\n", p->name, svcs->e[i].key);
		}
	} else if (environment) {
		for (size_t i = 0; i < p->env.n; i++)
			sb_addf(&out, "%s=%s\t# %s\n", p->env.v[i].name,
				p->env.v[i].value ? p->env.v[i].value : "", p->env.v[i].origin);
	} else if (!quiet) {
		_cleanup_free_ char *s = !strcmp(format, "json")
					     ? composer_project_json(p, !o.no_interpolate)
					     : composer_project_yaml(p, !o.no_interpolate);
		sb_adds(&out, s);
	}
	composer_project_free(p);
	if (!out.len)
		return 0;
	if (output) {
		_cleanup_fclose_ FILE *f = fopen(output, "w");
		if (!f || fwrite(out.buf, 1, out.len, f) != out.len) {
			perror(output);
			return 1;
		}
		return 0;
	}
	fwrite(out.buf, 1, out.len, stdout);
	return 0;
}
