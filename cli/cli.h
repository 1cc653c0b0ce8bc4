/* cli: the berth command line. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "../common/common.h"

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

#endif
