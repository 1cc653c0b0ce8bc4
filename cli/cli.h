/* cli: the berth command line. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "../common/common.h"

#include <jansson.h>

#define BERTH_VERSION "0.1.0"

int cli_main(int argc, char **argv);
int cmd_compose(int argc, char **argv);
int cmd_compose_config(int argc, char **argv, const void *project_opts);
int cmd_load(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_rmi(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_image_inspect(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_runtime(int argc, char **argv);
const char *opt_value(int argc, char **argv, int *i, const char *longname, const char *shortname);

/* the engine's commands, through berthd (run.c, container.c, system.c) */
int cmd_run(int argc, char **argv);
/* One flag of run's (by its long name) applied to a create body; -1 with an error printed. */
int run_flag(json_t *body, const char *flag, const char *value);
/* Creates a container from a create body and runs it as `berth run` does (attached unless
 * detach; --rm); the container's exit status or 125. */
int run_body(json_t *body, const char *name, bool detach, bool in, bool tty, bool rm);
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_stop(int argc, char **argv); /* and restart */
int cmd_kill(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_pause(int argc, char **argv); /* and unpause */
int cmd_rename(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_port(int argc, char **argv);
int cmd_cp(int argc, char **argv);

/* output helpers (format.c) */
char *format_template(const char *tmpl, json_t *obj); /* {{.A.B}}, {{json .X}} */
/* Docker's PORTS column from a summary's Ports: 0.0.0.0:8080->80/tcp, 9000/tcp */
char *format_ports(json_t *ports);
void table_print(json_t *rows); /* rows of strings, Docker's spacing */
char *human_ago(long long secs);
char *human_bytes(long long bytes);
long long parse_duration(const char *s); /* Go durations -> ns; -1 if invalid */
long long parse_bytes(const char *s);	 /* 512m, 1g -> bytes; -1 if invalid */

#endif
