/* berth: the command line's entry point and dispatch. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: berth COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n"
	      "  compose     Define and run multi-container applications (Compose files)\n"
	      "  version     Show the berth version\n"
	      "\n"
	      "Run 'berth compose --help' for the Compose commands.\n",
	      f);
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("berth version %s\n", BERTH_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "compose"))
		return cmd_compose(argc - 1, argv + 1);
	fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", cmd);
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
