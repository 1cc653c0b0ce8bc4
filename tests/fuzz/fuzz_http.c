/* libFuzzer target: berthd's request parsing (llhttp with berthd's limits) and query decoding. */
#include "../../daemon/daemon.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = NULL, *query = NULL;
	http_parse_buffer((const char *)data, size, &path, &query);
	if (query) {
		static const char *const keys[] = {"name", "all", "t", "signal", "tail", "since"};
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			free(http_query(query, keys[i]));
			(void)http_query_bool(query, keys[i]);
		}
		(void)parse_time_arg(query);
	}
	free(path);
	free(query);
	return 0;
}
