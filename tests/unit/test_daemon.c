/* Unit tests of the pure parts of berthd and the engine's commands: queries, times, sizes,
 * templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/cli.h"
#include "../../daemon/daemon.h"

static void query_values_are_decoded(void **state)
{
	char *v = http_query("a=1&name=my%2Fc+x&flag", "name");
	assert_string_equal(v, "my/c x");
	free(v);
	v = http_query("a=1&name=x", "nam");
	assert_null(v);
	v = http_query("a=1&flag", "flag");
	assert_string_equal(v, "");
	free(v);
	v = http_query("bad=%zz%4", "bad");
	assert_string_equal(v, "%zz%4");
	free(v);
}

static void query_booleans_as_docker(void **state)
{
	assert_true(http_query_bool("all=1", "all"));
	assert_true(http_query_bool("all=true", "all"));
	assert_true(http_query_bool("x=0&all", "all"));
	assert_false(http_query_bool("all=0", "all"));
	assert_false(http_query_bool("other=1", "all"));
}

static void durations_are_go_durations(void **state)
{
	assert_int_equal(parse_duration("30s"), 30000000000LL);
	assert_int_equal(parse_duration("1m30s"), 90000000000LL);
	assert_int_equal(parse_duration("250ms"), 250000000LL);
	assert_int_equal(parse_duration("1h"), 3600000000000LL);
	assert_int_equal(parse_duration("0"), 0);
	assert_int_equal(parse_duration("10"), -1);
	assert_int_equal(parse_duration("abc"), -1);
}

static void sizes_are_binary_units(void **state)
{
	assert_int_equal(parse_bytes("512m"), 512LL * 1024 * 1024);
	assert_int_equal(parse_bytes("1g"), 1024LL * 1024 * 1024);
	assert_int_equal(parse_bytes("100k"), 102400);
	assert_int_equal(parse_bytes("64MB"), 64LL * 1024 * 1024);
	assert_int_equal(parse_bytes("1234"), 1234);
	assert_int_equal(parse_bytes("12x"), -1);
}

static void templates_read_dotted_paths_and_json(void **state)
{
	json_t *o = json_pack("{s:{s:s,s:i},s:[s,s],s:{s:s}}", "State", "Status", "running",
			      "ExitCode", 3, "Args", "a", "b", "Labels", "k", "v");
	char *t = format_template("{{.State.Status}} {{ .State.ExitCode }}\\t{{json .Labels}}", o);
	assert_string_equal(t, "running 3\t{\"k\":\"v\"}");
	free(t);
	t = format_template("{{.Args}} {{.Missing}}", o);
	assert_string_equal(t, "[a b] <no value>");
	free(t);
	t = format_template("{{index .Labels \"k\"}} {{index .Args 1}} {{len .Args}} "
			    "{{(index .Args 0)}} {{index .Labels \"none\"}}",
			    o);
	assert_string_equal(t, "v b 2 a <no value>");
	free(t);
	json_decref(o);
	o = json_pack("{s:{s:[{s:s}]}}", "IPAM", "Config", "Gateway", "10.0.0.1");
	t = format_template("{{(index .IPAM.Config 0).Gateway}}", o);
	assert_string_equal(t, "10.0.0.1");
	free(t);
	json_decref(o);
}

static void times_parse_relative_and_absolute(void **state)
{
	assert_int_equal(parse_time_arg("2026-01-02T03:04:05Z"), 1767323045LL * 1000000000LL);
	assert_int_equal(parse_time_arg("1700000000"), 1700000000LL * 1000000000LL);
	long long ago = parse_time_arg("10m");
	assert_true(now_nanos() - ago >= 600LL * 1000000000LL - 1000000000LL);
	assert_int_equal(parse_time_arg("yesterday"), -1);
	/* found by fuzz_http: strtod takes these, and a cast of NaN is undefined */
	assert_int_equal(parse_time_arg("nans"), -1);
	assert_int_equal(parse_time_arg("inf"), -1);
	assert_int_equal(parse_time_arg("99999999999999999999"), -1);
	assert_int_equal(parse_duration("nan"), -1);
	assert_int_equal(parse_bytes("nan"), -1);
	assert_int_equal(parse_bytes("99999999999t"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(query_values_are_decoded),
	    cmocka_unit_test(query_booleans_as_docker),
	    cmocka_unit_test(durations_are_go_durations),
	    cmocka_unit_test(sizes_are_binary_units),
	    cmocka_unit_test(templates_read_dotted_paths_and_json),
	    cmocka_unit_test(times_parse_relative_and_absolute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
