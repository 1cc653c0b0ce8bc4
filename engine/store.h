/* engine internals shared by the store, the root filesystems and the bundle generator. */
#ifndef BERTH_ENGINE_STORE_H
#define BERTH_ENGINE_STORE_H

#include "engine.h"

struct engine_store {
	char *root;
	int lock_fd;
	json_t *index; /* images.json: {"images": {id: {...}}} */
};

/* The store's paths. */
char *store_path(engine_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a JSON file; the error names the file and the position. */
json_t *json_read_file(const char *path, berth_error *err);
/* The image's chain ids bottom first (a borrowed array of "<hex>" strings). */
json_t *store_image_layers(json_t *image);
/* Whether a mount made by engine_rootfs_mount uses the image. */
const char *store_image_mounted(engine_store *s, const char *id);

#endif
