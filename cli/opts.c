/* Flag parsing shared by the commands (and by berth-runtime, which links nothing else). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* "--opt=value" or "--opt value"; returns the value or NULL. */
const char *opt_value(int argc, char **argv, int *i, const char *longname, const char *shortname)
{
	const char *a = argv[*i];
	size_t l = strlen(longname);
	if (!strncmp(a, longname, l) && a[l] == '=')
		return a + l + 1;
	if (!strcmp(a, longname) || (shortname && !strcmp(a, shortname))) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "berth: flag needs an argument: %s\n", a);
			exit(1);
		}
		return argv[++*i];
	}
	return NULL;
}
