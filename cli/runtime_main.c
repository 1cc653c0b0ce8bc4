/*
 * berth-runtime: `berth runtime` as an executable of its own, which berthd's
 * monitors run at every container start. It links only the runtime (no image
 * store, no Compose loader), so it starts in a fraction of the time the whole
 * berth binary takes to load its libraries.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return cmd_runtime(argc, argv);
}
