/* berth compose: the project options shared by every Compose command. */
#include "cli.h"
#include "compose_opts.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: berth compose [OPTIONS] COMMAND\n"
	      "\n"
	      "Options:\n"
	      "  -f, --file FILE            Compose configuration file (repeatable, - for stdin)\n"
	      "  -p, --project-name NAME    Project name\n"
	      "      --project-directory D  Working directory (default: the first file's)\n"
	      "      --env-file FILE        Alternate environment file (repeatable)\n"
	      "      --profile NAME         Enable a profile (repeatable)\n"
	      "      --progress MODE        auto (in place on a terminal), tty, plain, quiet\n"
	      "\n"
	      "Commands:\n"
	      "  config      Parse, resolve and render the Compose file in canonical form\n"
	      "  up          Create and start containers (attached, or -d)\n"
	      "  down        Stop and remove containers and networks (-v: volumes too)\n"
	      "  create      Create containers without starting them\n"
	      "  run         Run a one-off command on a service\n"
	      "  ps          List the project's containers\n"
	      "  logs        The services' logs, prefixed ([-f] [--tail N] [-t] [--since T] "
	      "[--no-color] [--no-log-prefix])\n"
	      "  exec        Run a command in a service's container ([-T] [-d] [-u] [-w] [-e] "
	      "[--index N])\n"
	      "  stop        Stop services, dependents first\n"
	      "  start, restart, kill, rm, pause, unpause, top [SERVICE...]\n"
	      "              The engine's command on the project's containers\n"
	      "  scale       Scale services (SERVICE=N...)\n"
	      "  port        Print the public port of a service's port binding\n"
	      "  images      List the images the containers use\n"
	      "  wait        Wait for services' containers to stop\n"
	      "  events      Stream the project's container events ([--json])\n"
	      "  cp          Copy files between a service's container and here\n"
	      "  ls          List running projects (-a: all)\n"
	      "  version     Show the berth version\n",
	      f);
}

static void add(const char ***list, size_t *n, const char *v)
{
	*list = xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = v;
}

static void warn(void *data, const char *msg)
{
	(void)data;
	fprintf(stderr, "WARN[0000] %s\n", msg);
}

void compose_loader_options(const compose_opts *po, const char **svc, size_t nsvc,
			    composer_options *o)
{
	*o = (composer_options){.files = po->files,
				.nfiles = po->nfiles,
				.project_name = po->project_name,
				.project_dir = po->project_dir,
				.env_files = po->env_files,
				.nenv_files = po->nenv_files,
				.profiles = po->profiles,
				.nprofiles = po->nprofiles,
				.services = svc,
				.nservices = nsvc,
				.warn = warn};
}

int cmd_compose(int argc, char **argv)
{
	compose_opts po = {0};
	int i = 1;
	for (; i < argc; i++) {
		const char *v;
		if (argv[i][0] != '-')
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if ((v = opt_value(argc, argv, &i, "--file", "-f"))) {
			add(&po.files, &po.nfiles, v);
		} else if ((v = opt_value(argc, argv, &i, "--project-name", "-p"))) {
			po.project_name = v;
		} else if ((v = opt_value(argc, argv, &i, "--project-directory", NULL))) {
			po.project_dir = v;
		} else if ((v = opt_value(argc, argv, &i, "--env-file", NULL))) {
			add(&po.env_files, &po.nenv_files, v);
		} else if ((v = opt_value(argc, argv, &i, "--profile", NULL))) {
			add(&po.profiles, &po.nprofiles, v);
		} else if ((v = opt_value(argc, argv, &i, "--progress", NULL))) {
			if (compose_set_progress(v) < 0) {
				fprintf(stderr,
					"berth compose: --progress %s: auto, tty, plain or quiet\n",
					v);
				return 1;
			}
		} else {
			fprintf(stderr, "berth compose: unknown flag: %s\n", argv[i]);
			return 1;
		}
	}
	int r;
	if (i >= argc) {
		usage(stderr);
		r = 1;
	} else if (!strcmp(argv[i], "config")) {
		r = cmd_compose_config(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "up")) {
		r = cmd_compose_up(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "down")) {
		r = cmd_compose_down(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "ps")) {
		r = cmd_compose_ps(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "stop") || !strcmp(argv[i], "start") ||
		   !strcmp(argv[i], "restart") || !strcmp(argv[i], "kill") ||
		   !strcmp(argv[i], "rm") || !strcmp(argv[i], "pause") ||
		   !strcmp(argv[i], "unpause") || !strcmp(argv[i], "top")) {
		r = cmd_compose_each(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "logs")) {
		r = cmd_compose_logs(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "exec")) {
		r = cmd_compose_exec(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "port")) {
		r = cmd_compose_port(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "run")) {
		r = cmd_compose_run(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "create")) {
		r = cmd_compose_create(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "scale")) {
		r = cmd_compose_scale(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "images")) {
		r = cmd_compose_images(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "wait")) {
		r = cmd_compose_wait(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "events")) {
		r = cmd_compose_events(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "cp")) {
		r = cmd_compose_cp(argc - i, argv + i, &po);
	} else if (!strcmp(argv[i], "ls")) {
		r = cmd_compose_ls(argc - i, argv + i);
	} else if (!strcmp(argv[i], "version")) {
		printf("berth compose version %s\n", BERTH_VERSION);
		r = 0;
	} else {
		fprintf(stderr, "berth compose: unknown command: %s\n", argv[i]);
		r = 1;
	}
	free(po.files);
	free(po.env_files);
	free(po.profiles);
	return r;
}
