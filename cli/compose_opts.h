/* The project options every `berth compose` command shares. */
#ifndef BERTH_CLI_COMPOSE_OPTS_H
#define BERTH_CLI_COMPOSE_OPTS_H

#include "../composer/composer.h"

#include <stddef.h>

typedef struct {
	const char **files;
	size_t nfiles;
	const char *project_name;
	const char *project_dir;
	const char **env_files;
	size_t nenv_files;
	const char **profiles;
	size_t nprofiles;
} compose_opts;

const char *opt_value(int argc, char **argv, int *i, const char *longname, const char *shortname);

/* The loader's options from the project options, with the services named and warnings
 * printed as docker compose prints them. */
void compose_loader_options(const compose_opts *po, const char **svc, size_t nsvc,
			    composer_options *o);

/* compose up -d, down, ps (compose_up.c) */
int cmd_compose_up(int argc, char **argv, const compose_opts *po);
int cmd_compose_down(int argc, char **argv, const compose_opts *po);
int cmd_compose_ps(int argc, char **argv, const compose_opts *po);
/* stop, start, restart, kill, rm, pause, unpause, top on the project's containers */
int cmd_compose_each(int argc, char **argv, const compose_opts *po);
int cmd_compose_port(int argc, char **argv, const compose_opts *po);
int cmd_compose_ls(int argc, char **argv);
int cmd_compose_exec(int argc, char **argv, const compose_opts *po);
int cmd_compose_logs(int argc, char **argv, const compose_opts *po);

#endif
