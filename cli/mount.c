/* berth mount / umount: an image's root filesystem on a directory, for bundles. */
#include "cli.h"
#include "../engine/engine.h"

#include <string.h>

int cmd_mount(int argc, char **argv)
{
	bool ro = false;
	const char *image = NULL, *target = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts("Usage: berth mount [--read-only] IMAGE DIR\n\nMount the image's root "
			     "filesystem (overlayfs, with its own upper directory) on DIR");
			return 0;
		} else if (!strcmp(argv[i], "--read-only")) {
			ro = true;
		} else if (!image) {
			image = argv[i];
		} else if (!target) {
			target = argv[i];
		} else {
			fprintf(stderr, "berth mount: too many arguments\n");
			return 125;
		}
	}
	if (!target) {
		fprintf(stderr, "berth mount: requires IMAGE and DIR\n");
		return 125;
	}
	berth_error err = BERTH_ERROR_INIT;
	engine_store *s = engine_store_open(NULL, &err);
	int rc = s ? engine_rootfs_mount(s, image, target, ro, &err) : -1;
	engine_store_close(s);
	if (rc < 0) {
		fprintf(stderr, "berth mount: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	return 0;
}

int cmd_umount(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		puts("Usage: berth umount DIR");
		return argc == 2 ? 0 : 125;
	}
	berth_error err = BERTH_ERROR_INIT;
	engine_store *s = engine_store_open(NULL, &err);
	int rc = s ? engine_rootfs_umount(s, argv[1], &err) : -1;
	engine_store_close(s);
	if (rc < 0) {
		fprintf(stderr, "berth umount: %s\n", err.msg);
		berth_error_clear(&err);
		return 1;
	}
	return 0;
}
