/* cli: the berth command line. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "../common/common.h"

#define BERTH_VERSION "0.1.0"

int cli_main(int argc, char **argv);
int cmd_compose(int argc, char **argv);
int cmd_compose_config(int argc, char **argv, const void *project_opts);

#endif
