/* The project options every `berth compose` command shares. */
#ifndef BERTH_CLI_COMPOSE_OPTS_H
#define BERTH_CLI_COMPOSE_OPTS_H

#include "../composer/composer.h"

#include <jansson.h>
#include <stdbool.h>
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
/* run, create, scale, images, wait, events, cp (compose_cmds.c) */
int cmd_compose_run(int argc, char **argv, const compose_opts *po);
int cmd_compose_create(int argc, char **argv, const compose_opts *po);
int cmd_compose_scale(int argc, char **argv, const compose_opts *po);
int cmd_compose_images(int argc, char **argv, const compose_opts *po);
int cmd_compose_wait(int argc, char **argv, const compose_opts *po);
int cmd_compose_events(int argc, char **argv, const compose_opts *po);
int cmd_compose_cp(int argc, char **argv, const compose_opts *po);

/* --progress auto|tty|plain|quiet for the commands' progress display; -1 if unknown. */
int compose_set_progress(const char *mode);
/* The project loaded (errors printed); its normalised form as JSON (with_disabled: with the
 * services of profiles not enabled, which are the project's too). */
composer_project *compose_load(const compose_opts *po, const char **svc, size_t nsvc);
json_t *compose_model(const composer_project *p, bool with_disabled);
/* The project's containers (of the services named, if any; of a state, "!state": not of it),
 * sorted; each string is "name\0service". */
char **compose_containers(const char *project, const char *const *svc, size_t nsvc,
			  const char *state, size_t *n);
void compose_names_free(char **v);
/* Whether service s is among the n named (every one is when none is). */
bool compose_named(const char *const *svc, size_t n, const char *s);
/* The name of a service's container number idx (container_name included); NULL if none. */
char *compose_service_container(const char *project, const char *svc, const char *idx);
/* The whole project's model (orphans are judged against it) for a run of the services named
 * (all if none) and, without nodeps, what they depend on: *names, empty for all. NULL on
 * error (printed); *project is the loaded project either way (free it). */
json_t *compose_run_model(const compose_opts *po, const char **svc, size_t nsvc, bool nodeps,
			  composer_project **project, json_t **names);
/* POST /projects/PROJECT/OP with body, printing berthd's progress; 0 if it all worked. */
int compose_follow(const char *project, const char *op, json_t *body);
/* Stops the project's containers, dependents first, printing progress (model may be NULL). */
int compose_project_stop(const char *name, json_t *model, int timeout);

/* What compose_watch reads and how (compose_watch.c). */
typedef struct {
	const char *project;
	json_t *model;
	const char *const *svc; /* only these services' containers (all if none) */
	size_t nsvc;
	bool follow, timestamps, color, prefix;
	const char *tail, *since;
	/* up without -d: exits reported, Ctrl-C stops, --abort-on-container-exit */
	bool attached, abort_on_exit;
	const char *exit_from;
	int timeout;
} watch_opts;
/* Prints the containers' logs, prefixed; following, until no container runs. Attached: the
 * exit status docker compose gives (130 after Ctrl-C, the exit code with --exit-code-from). */
int compose_watch(const watch_opts *o);

#endif
