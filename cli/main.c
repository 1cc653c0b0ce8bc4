/* berth: the command line's entry point and dispatch. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs(
	    "Usage: berth COMMAND [OPTIONS]\n"
	    "\n"
	    "Containers (through berthd, which berth starts when it is not running):\n"
	    "  run         Create and run a new container from an image\n"
	    "  create      Create a new container\n"
	    "  start       Start one or more stopped containers\n"
	    "  stop        Stop one or more running containers\n"
	    "  restart     Restart one or more containers\n"
	    "  kill        Kill one or more running containers\n"
	    "  rm          Remove one or more containers\n"
	    "  ps          List containers\n"
	    "  logs        Fetch the logs of a container\n"
	    "  exec        Execute a command in a running container\n"
	    "  attach      Attach to a running container's input and output\n"
	    "  inspect     Return low-level information on containers\n"
	    "  wait        Block until containers stop, then print their exit codes\n"
	    "  top         Display the running processes of a container\n"
	    "  stats       Display containers' resource usage (--no-stream)\n"
	    "  pause       Pause all processes within containers\n"
	    "  unpause     Unpause all processes within containers\n"
	    "  rename      Rename a container\n"
	    "  volume      Manage volumes (create, ls, rm, inspect, prune)\n"
	    "  network     Manage networks (create, ls, rm, inspect, connect, disconnect, prune)\n"
	    "  port        List port mappings of a container\n"
	    "  cp          Copy files between a running container and the host\n"
	    "  events      Stream events from berthd\n"
	    "  info        Display system-wide information\n"
	    "  version     Show the berth and berthd versions\n"
	    "\n"
	    "Images and the runtime (local, no daemon needed):\n"
	    "  image       Manage images (load, import, ls, rm, tag, inspect)\n"
	    "  images      List images\n"
	    "  import      Import a root filesystem tar as an image\n"
	    "  load        Load images from a tar archive (docker save, OCI)\n"
	    "  mount       Mount an image's root filesystem (overlayfs) on a directory\n"
	    "  rmi         Remove images\n"
	    "  runtime     The OCI runtime (create, start, state, kill, delete, run, spec, list)\n"
	    "  tag         Tag an image\n"
	    "  umount      Unmount a root filesystem that 'berth mount' made\n"
	    "\n"
	    "Compose:\n"
	    "  compose     Define and run multi-container applications (Compose files)\n"
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
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-v")) {
		printf("berth version %s\n", BERTH_VERSION);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"compose", cmd_compose}, {"load", cmd_load},     {"import", cmd_import},
	    {"images", cmd_images},   {"rmi", cmd_rmi},	      {"tag", cmd_tag},
	    {"image", cmd_image},     {"mount", cmd_mount},   {"umount", cmd_umount},
	    {"runtime", cmd_runtime}, {"run", cmd_run},	      {"create", cmd_create},
	    {"start", cmd_start},     {"attach", cmd_attach}, {"exec", cmd_exec},
	    {"stop", cmd_stop},	      {"restart", cmd_stop},  {"kill", cmd_kill},
	    {"rm", cmd_rm},	      {"pause", cmd_pause},   {"unpause", cmd_pause},
	    {"rename", cmd_rename},   {"wait", cmd_wait},     {"inspect", cmd_inspect},
	    {"ps", cmd_ps},	      {"logs", cmd_logs},     {"top", cmd_top},
	    {"stats", cmd_stats},     {"events", cmd_events}, {"version", cmd_version},
	    {"info", cmd_info},	      {"volume", cmd_volume}, {"network", cmd_network},
	    {"port", cmd_port},	      {"cp", cmd_cp},
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
