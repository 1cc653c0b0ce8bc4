/* berth: the command line's entry point and dispatch. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs(
	    "Usage: berth COMMAND [OPTIONS]\n"
	    "\n"
	    "Commands:\n"
	    "  compose     Define and run multi-container applications (Compose files)\n"
	    "  image       Manage images (load, import, ls, rm, tag, inspect)\n"
	    "  images      List images\n"
	    "  import      Import a root filesystem tar as an image\n"
	    "  load        Load images from a tar archive (docker save, OCI)\n"
	    "  mount       Mount an image's root filesystem (overlayfs) on a directory\n"
	    "  rmi         Remove images\n"
	    "  runtime     The OCI runtime (create, start, state, kill, delete, run, spec, list)\n"
	    "  tag         Tag an image\n"
	    "  umount      Unmount a root filesystem that 'berth mount' made\n"
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
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"compose", cmd_compose}, {"load", cmd_load},   {"import", cmd_import},
	    {"images", cmd_images},   {"rmi", cmd_rmi},	    {"tag", cmd_tag},
	    {"image", cmd_image},     {"mount", cmd_mount}, {"umount", cmd_umount},
	    {"runtime", cmd_runtime},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", cmd);
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
