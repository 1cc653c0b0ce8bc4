/* libFuzzer target: a Compose file through the whole loader. */
#include "composer.h"

#include <stdint.h>
#include <string.h>

static void quiet(void *data, const char *msg)
{
	(void)data;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	static const char *const files[] = {"-"};
	static char *envp[] = {"HOME=/nonexistent", "A=1", NULL};
	composer_options o = {.files = files,
			      .nfiles = 1,
			      .project_name = "fuzz",
			      .environ = envp,
			      .workdir = "/nonexistent",
			      .stdin_text = text,
			      .warn = quiet};
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p = composer_load(&o, &err);
	if (p) {
		free(composer_project_yaml(p, true));
		free(composer_project_json(p, true));
	}
	composer_project_free(p);
	berth_error_clear(&err);
	free(text);
	return 0;
}
