/* libFuzzer target: the .env parser. */
#include "composer.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	composer_env out = {0};
	berth_error err = BERTH_ERROR_INIT;
	composer_dotenv_parse(text, "fuzz.env", false, NULL, &out, &err);
	composer_env_free(&out);
	berth_error_clear(&err);
	free(text);
	return 0;
}
