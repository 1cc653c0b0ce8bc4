/* Unit tests of the composer: YAML, interpolation, .env, merge, units, loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "composer.h"

static composer_node *parse1(const char *text, berth_error *err)
{
	size_t n = 0;
	composer_node **docs = composer_yaml_parse(text, strlen(text), "t.yaml", &n, err);
	if (!docs)
		return NULL;
	composer_node *d = n ? docs[0] : NULL;
	for (size_t i = 1; i < n; i++)
		composer_node_free(docs[i]);
	free(docs);
	return d;
}

static void yaml_merge_keys_and_aliases(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_node *n = parse1("a: &a {x: 1, y: 2}\n"
				  "b: &b {z: 3}\n"
				  "c:\n  <<: [*a, *b]\n  y: 9\n",
				  &err);
	assert_non_null(n);
	composer_node *c = composer_map_get(n, "c");
	assert_string_equal(composer_map_get(c, "x")->str, "1");
	assert_string_equal(composer_map_get(c, "y")->str, "9"); /* explicit key wins */
	assert_string_equal(composer_map_get(c, "z")->str, "3");
	composer_node_free(n);
}

static void yaml_duplicate_key_names_both_lines(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	assert_null(parse1("a: 1\nb: 2\na: 3\n", &err));
	assert_non_null(strstr(err.msg, "t.yaml:3:1"));
	assert_non_null(strstr(err.msg, "already defined at line 1"));
	berth_error_clear(&err);
}

static void yaml_alias_bomb_is_an_error(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	assert_null(parse1(bomb, &err));
	assert_non_null(strstr(err.msg, "excessive aliasing"));
	berth_error_clear(&err);
}

static void yaml_types_follow_the_core_schema(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_node *n = parse1("i: 12\nf: 1.5\nb: true\nn: ~\ns: \"12\"\ny: yes\n", &err);
	assert_int_equal(composer_node_type(composer_map_get(n, "i")), CT_INT);
	assert_int_equal(composer_node_type(composer_map_get(n, "f")), CT_FLOAT);
	assert_int_equal(composer_node_type(composer_map_get(n, "b")), CT_BOOL);
	assert_int_equal(composer_node_type(composer_map_get(n, "n")), CT_NULL);
	assert_int_equal(composer_node_type(composer_map_get(n, "s")), CT_STRING);
	assert_int_equal(composer_node_type(composer_map_get(n, "y")), CT_STRING);
	composer_node_free(n);
}

static char *interp(const char *s, const composer_env *env, berth_error *err)
{
	return composer_interpolate_str(s, env, NULL, err);
}

static void interpolation_operators(void **state)
{
	(void)state;
	composer_env env = {0};
	composer_env_set(&env, "SET", "v", NULL);
	composer_env_set(&env, "EMPTY", "", NULL);
	berth_error err = BERTH_ERROR_INIT;
	struct {
		const char *in, *out;
	} cases[] = {
	    {"$SET-${SET}", "v-v"},
	    {"${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}", "d|d|"},
	    {"${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}", "alt||alt"},
	    {"${UNSET:-${SET:-x}}", "v"},
	    {"$$SET $", "$SET $"},
	    {"a$1b", "a$1b"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *r = interp(cases[i].in, &env, &err);
		assert_non_null(r);
		assert_string_equal(r, cases[i].out);
		free(r);
	}
	assert_null(interp("${EMPTY:?must be set}", &env, &err));
	assert_string_equal(err.msg, "required variable EMPTY is missing a value: must be set");
	berth_error_clear(&err);
	assert_null(interp("${bad name}", &env, &err));
	berth_error_clear(&err);
	composer_env_free(&env);
}

static void dotenv_syntax(void **state)
{
	(void)state;
	composer_env lookup = {0}, out = {0};
	composer_env_set(&lookup, "OS", "from-os", NULL);
	berth_error err = BERTH_ERROR_INIT;
	const char *text = "\xEF\xBB\xBF# comment\n"
			   "export A=1\n"
			   "B = two words # comment\n"
			   "C='lit $A'\n"
			   "D=\"x\\ny ${A}\"\n"
			   "E=\"multi\nline\"\n"
			   "F=${OS}\n"
			   "OS\n"
			   "G: yaml-ish\n";
	assert_int_equal(composer_dotenv_parse(text, ".env", false, &lookup, &out, &err), 0);
	assert_string_equal(composer_env_get(&out, "A"), "1");
	assert_string_equal(composer_env_get(&out, "B"), "two words");
	assert_string_equal(composer_env_get(&out, "C"), "lit $A");
	assert_string_equal(composer_env_get(&out, "D"), "x\ny 1");
	assert_string_equal(composer_env_get(&out, "E"), "multi\nline");
	assert_string_equal(composer_env_get(&out, "F"), "from-os");
	assert_string_equal(composer_env_get(&out, "OS"), "from-os");
	assert_string_equal(composer_env_get(&out, "G"), "yaml-ish");
	composer_env_free(&out);
	assert_int_equal(composer_dotenv_parse("A=1\nBAD KEY=2\n", ".env", false, NULL, &out, &err),
			 -1);
	assert_string_equal(err.msg, ".env: line 2: key cannot contain a space");
	berth_error_clear(&err);
	assert_int_equal(composer_dotenv_parse("A=\"open\n", ".env", false, NULL, &out, &err), -1);
	assert_non_null(strstr(err.msg, "unterminated quoted value"));
	berth_error_clear(&err);
	composer_env_free(&out);
	composer_env_free(&lookup);
}

static void durations_and_sizes(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(composer_parse_duration("90s", &v), 0);
	char *s = composer_format_duration(v);
	assert_string_equal(s, "1m30s");
	free(s);
	assert_int_equal(composer_parse_duration("1h500ms", &v), 0);
	s = composer_format_duration(v);
	assert_string_equal(s, "1h0m0.5s");
	free(s);
	assert_int_equal(composer_parse_duration("10 parsecs", &v), -1);
	assert_int_equal(composer_parse_bytes("50M", &v), 0);
	assert_int_equal(v, 52428800);
	assert_int_equal(composer_parse_bytes("1gb", &v), 0);
	assert_int_equal(v, 1073741824);
	assert_int_equal(composer_parse_bytes("12q", &v), -1);
}

static composer_project *load_text(const char *text, const char *const *profiles, size_t np,
				   berth_error *err)
{
	static const char *const files[] = {"-"};
	static char *envp[] = {"HOME=/home/u", "TAG=1.2", NULL};
	composer_options o = {.files = files,
			      .nfiles = 1,
			      .project_name = "p",
			      .environ = envp,
			      .workdir = "/work",
			      .stdin_text = text,
			      .profiles = profiles,
			      .nprofiles = np};
	return composer_load(&o, err);
}

static void load_normalises_short_syntax(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p = load_text("services:\n"
					"  web:\n"
					"    image: app:${TAG}\n"
					"    ports: ['127.0.0.1:8080-8081:80-81/udp']\n"
					"    volumes: ['./data:/data:ro', 'cache:/cache']\n"
					"    environment: [A=1, B]\n"
					"volumes:\n  cache:\n",
					NULL, 0, &err);
	assert_non_null(p);
	composer_node *web = composer_map_get(composer_map_get(p->model, "services"), "web");
	assert_string_equal(composer_map_get(web, "image")->str, "app:1.2");
	composer_node *ports = composer_map_get(web, "ports");
	assert_int_equal(ports->n, 2);
	assert_string_equal(composer_map_get(ports->e[1].val, "published")->str, "8081");
	assert_string_equal(composer_map_get(ports->e[1].val, "target")->str, "81");
	assert_string_equal(composer_map_get(ports->e[1].val, "protocol")->str, "udp");
	composer_node *vols = composer_map_get(web, "volumes");
	assert_string_equal(composer_map_get(vols->e[0].val, "source")->str, "/work/data");
	assert_string_equal(composer_map_get(vols->e[0].val, "type")->str, "bind");
	assert_string_equal(composer_map_get(vols->e[1].val, "type")->str, "volume");
	composer_node *env = composer_map_get(web, "environment");
	assert_int_equal(composer_map_get(env, "B")->kind, CN_NULL);
	assert_string_equal(
	    composer_map_get(composer_map_get(composer_map_get(p->model, "networks"), "default"),
			     "name")
		->str,
	    "p_default");
	assert_string_equal(
	    composer_map_get(composer_map_get(composer_map_get(p->model, "volumes"), "cache"),
			     "name")
		->str,
	    "p_cache");
	composer_project_free(p);
}

static void load_reports_cycles_by_name(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p = load_text("services:\n"
					"  a: {image: x, depends_on: [b]}\n"
					"  b: {image: x, depends_on: [a]}\n",
					NULL, 0, &err);
	assert_null(p);
	assert_non_null(strstr(err.msg, "dependency cycle detected: a -> b -> a"));
	assert_non_null(strstr(err.msg, "(stdin):"));
	berth_error_clear(&err);
}

static void load_profiles_name_the_profile_to_enable(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	const char *text = "services:\n"
			   "  app: {image: x, depends_on: [dbg]}\n"
			   "  dbg: {image: x, profiles: [debug]}\n";
	composer_project *p = load_text(text, NULL, 0, &err);
	assert_null(p);
	assert_non_null(strstr(err.msg, "Can be enabled by profiles [debug]"));
	berth_error_clear(&err);
	static const char *const prof[] = {"debug"};
	p = load_text(text, prof, 1, &err);
	assert_non_null(p);
	assert_non_null(composer_map_get(composer_map_get(p->model, "services"), "dbg"));
	composer_project_free(p);
}

static void load_unknown_key_names_file_line_column(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p =
	    load_text("services:\n  web:\n    image: x\n    imgae: y\n", NULL, 0, &err);
	assert_null(p);
	assert_string_equal(err.msg,
			    "(stdin):4:5: services.web additional properties 'imgae' not allowed");
	berth_error_clear(&err);
}

static void merge_replaces_command_and_keys_ports(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_node *a =
	    parse1("services: {s: {command: [a, b], dns: [x], labels: {k: '1'}}}", &err);
	composer_node *b =
	    parse1("services: {s: {command: [c], dns: [x, y], labels: {j: '2'}}}", &err);
	assert_int_equal(composer_merge(a, b, &err), 0);
	composer_node *s = composer_map_get(composer_map_get(a, "services"), "s");
	assert_int_equal(composer_map_get(s, "command")->n, 1);
	assert_int_equal(composer_map_get(s, "dns")->n, 2);
	assert_int_equal(composer_map_get(s, "labels")->n, 2);
	composer_node_free(a);
}

static json_t *project_json(composer_project *p)
{
	char *t = composer_project_json(p, false);
	json_t *j = json_loads(t, 0, NULL);
	free(t);
	return j;
}

static void services_become_container_bodies(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p =
	    load_text("services:\n"
		      "  web:\n"
		      "    image: busybox\n"
		      "    command: httpd -f\n"
		      "    environment: [A=1]\n"
		      "    ports: [\"127.0.0.1:8080:80\"]\n"
		      "    volumes: [data:/data, /srv:/srv:ro]\n"
		      "    networks: {front: {aliases: [www]}}\n"
		      "    healthcheck: {test: [CMD, \"true\"], interval: 2s, retries: 3}\n"
		      "    restart: on-failure:3\n"
		      "    depends_on: [db]\n"
		      "  db:\n"
		      "    image: busybox\n"
		      "networks: {front: {}}\n"
		      "volumes: {data: {}}\n",
		      NULL, 0, &err);
	assert_non_null(p);
	json_t *j = project_json(p);
	json_t *b = composer_container_body(j, "web", 2, &err);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "Name")), "p-web-2");
	assert_string_equal(json_string_value(json_object_get(b, "Image")), "busybox");
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Cmd"), 0)),
			    "httpd");
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Env"), 0)), "A=1");
	json_t *hc = json_object_get(b, "HostConfig");
	json_t *pb =
	    json_array_get(json_object_get(json_object_get(hc, "PortBindings"), "80/tcp"), 0);
	assert_string_equal(json_string_value(json_object_get(pb, "HostIp")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(pb, "HostPort")), "8080");
	json_t *m0 = json_array_get(json_object_get(hc, "Mounts"), 0);
	assert_string_equal(json_string_value(json_object_get(m0, "Source")), "p_data");
	json_t *m1 = json_array_get(json_object_get(hc, "Mounts"), 1);
	assert_string_equal(json_string_value(json_object_get(m1, "Type")), "bind");
	assert_true(json_is_true(json_object_get(m1, "ReadOnly")));
	assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "p_front");
	json_t *al =
	    json_object_get(json_object_get(json_object_get(json_object_get(b, "NetworkingConfig"),
							    "EndpointsConfig"),
					    "p_front"),
			    "Aliases");
	assert_string_equal(json_string_value(json_array_get(al, 0)), "web");
	assert_string_equal(json_string_value(json_array_get(al, 1)), "www");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(b, "Healthcheck"), "Interval")),
	    2000000000LL);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name")),
	    "on-failure");
	json_t *labels = json_object_get(b, "Labels");
	assert_string_equal(
	    json_string_value(json_object_get(labels, "com.docker.compose.project")), "p");
	assert_string_equal(
	    json_string_value(json_object_get(labels, "com.docker.compose.service")), "web");
	assert_int_equal(
	    strlen(json_string_value(json_object_get(labels, "com.docker.compose.config-hash"))),
	    64);
	json_decref(b);
	/* a service without networks is on the project's default network */
	b = composer_container_body(j, "db", 1, &err);
	assert_non_null(b);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(b, "HostConfig"), "NetworkMode")),
	    "p_default");
	json_decref(b);
	json_decref(j);
	composer_project_free(p);
}

static void unsupported_keys_are_named(void **state)
{
	(void)state;
	berth_error err = BERTH_ERROR_INIT;
	composer_project *p = load_text("services:\n  web:\n    image: busybox\n"
					"    userns_mode: host\n"
					"  b:\n    build: .\n"
					"  d:\n    image: busybox\n"
					"    devices: [\"/dev/fuse:/dev/f:r\", \"/dev/null\"]\n",
					NULL, 0, &err);
	assert_non_null(p);
	json_t *j = project_json(p);
	assert_null(composer_container_body(j, "web", 1, &err));
	assert_non_null(strstr(err.msg, "\"web\": userns_mode"));
	berth_error_clear(&err);
	/* devices are applied: HOST[:CONTAINER[:PERMISSIONS]] */
	json_t *body = composer_container_body(j, "d", 1, &err);
	assert_non_null(body);
	json_t *devs = json_object_get(json_object_get(body, "HostConfig"), "Devices");
	assert_int_equal(json_array_size(devs), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(devs, 0), "PathInContainer")),
	    "/dev/f");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(devs, 0), "CgroupPermissions")), "r");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(devs, 1), "PathInContainer")),
	    "/dev/null");
	json_decref(body);
	assert_null(composer_container_body(j, "b", 1, &err));
	assert_non_null(strstr(err.msg, "build is not supported"));
	berth_error_clear(&err);
	json_decref(j);
	composer_project_free(p);
}

static void config_hash_ignores_orchestration_keys(void **state)
{
	(void)state;
	json_t *a = json_pack("{s:s,s:{s:{}},s:i,s:[s],s:s}", "image", "busybox", "depends_on",
			      "db", "scale", 3, "profiles", "dev", "x-note", "n");
	json_t *b = json_pack("{s:s}", "image", "busybox");
	json_t *c = json_pack("{s:s,s:[s]}", "image", "busybox", "command", "true");
	char *ha = composer_service_hash(a), *hb = composer_service_hash(b),
	     *hc = composer_service_hash(c);
	assert_string_equal(ha, hb);
	assert_string_not_equal(hb, hc);
	free(ha), free(hb), free(hc);
	json_decref(a), json_decref(b), json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(yaml_merge_keys_and_aliases),
	    cmocka_unit_test(yaml_duplicate_key_names_both_lines),
	    cmocka_unit_test(yaml_alias_bomb_is_an_error),
	    cmocka_unit_test(yaml_types_follow_the_core_schema),
	    cmocka_unit_test(interpolation_operators),
	    cmocka_unit_test(dotenv_syntax),
	    cmocka_unit_test(durations_and_sizes),
	    cmocka_unit_test(load_normalises_short_syntax),
	    cmocka_unit_test(load_reports_cycles_by_name),
	    cmocka_unit_test(load_profiles_name_the_profile_to_enable),
	    cmocka_unit_test(load_unknown_key_names_file_line_column),
	    cmocka_unit_test(merge_replaces_command_and_keys_ports),
	    cmocka_unit_test(services_become_container_bodies),
	    cmocka_unit_test(unsupported_keys_are_named),
	    cmocka_unit_test(config_hash_ignores_orchestration_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
