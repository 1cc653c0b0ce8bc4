/* berth version, info and volume: what the daemon says about itself and its volumes. */
#include "cli.h"
#include "client.h"

#include <string.h>
#include <sys/utsname.h>

int cmd_version(int argc, char **argv)
{
	const char *fmt = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = opt_value(argc, argv, &i, "--format", "-f");
		if (!v) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
		fmt = v;
	}
	json_t *server = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", "/version", NULL, &server, &err);
	struct utsname u;
	uname(&u);
	json_t *all = json_pack("{s:{s:s,s:s,s:s,s:s},s:O}", "Client", "Version", BERTH_VERSION,
				"ApiVersion", "1", "Os", "linux", "Arch", u.machine, "Server",
				st == 200 ? server : json_null());
	int rc = 0;
	if (fmt) {
		_cleanup_free_ char *t = !strcmp(fmt, "json") ? json_dumps(all, JSON_COMPACT)
							      : format_template(fmt, all);
		printf("%s\n", t);
	} else {
		printf("Client:\n Version:     %s\n API version: 1\n OS/Arch:     linux/%s\n\n",
		       BERTH_VERSION, u.machine);
		if (st == 200)
			printf("Server: berthd\n Version:     %s\n API version: %s\n Kernel:      "
			       "%s\n",
			       json_string_value(json_object_get(server, "Version")),
			       json_string_value(json_object_get(server, "ApiVersion")),
			       json_string_value(json_object_get(server, "KernelVersion")));
	}
	if (st != 200) {
		fprintf(stderr, "berth: cannot reach berthd: %s\n",
			st < 0 ? err.msg : client_message(server));
		rc = 1;
	}
	berth_error_clear(&err);
	json_decref(server);
	json_decref(all);
	return rc;
}

int cmd_info(int argc, char **argv)
{
	const char *fmt = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = opt_value(argc, argv, &i, "--format", "-f");
		if (!v) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 125;
		}
		fmt = v;
	}
	json_t *info = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", "/info", NULL, &info, &err);
	if (st != 200) {
		fprintf(stderr, "berth: cannot reach berthd: %s\n",
			st < 0 ? err.msg : client_message(info));
		berth_error_clear(&err);
		json_decref(info);
		return 1;
	}
	if (fmt) {
		_cleanup_free_ char *t = !strcmp(fmt, "json") ? json_dumps(info, JSON_COMPACT)
							      : format_template(fmt, info);
		printf("%s\n", t);
	} else {
		printf("Client:\n Version:    %s\n\nServer:\n", BERTH_VERSION);
		printf(" Containers: %lld\n  Running: %lld\n  Paused: %lld\n  Stopped: %lld\n",
		       (long long)json_integer_value(json_object_get(info, "Containers")),
		       (long long)json_integer_value(json_object_get(info, "ContainersRunning")),
		       (long long)json_integer_value(json_object_get(info, "ContainersPaused")),
		       (long long)json_integer_value(json_object_get(info, "ContainersStopped")));
		printf(" Server Version: %s\n Storage Driver: overlay (berth)\n Logging Driver: "
		       "json-file\n Cgroup Version: %s\n Runtime: berth\n Kernel Version: %s\n"
		       " Name: %s\n Berth Root Dir: %s\n Exec Root: %s\n berthd pid: %lld\n",
		       json_string_value(json_object_get(info, "ServerVersion")),
		       json_string_value(json_object_get(info, "CgroupVersion")),
		       json_string_value(json_object_get(info, "KernelVersion")),
		       json_string_value(json_object_get(info, "Name")),
		       json_string_value(json_object_get(info, "DockerRootDir")),
		       json_string_value(json_object_get(info, "ExecRoot")),
		       (long long)json_integer_value(json_object_get(info, "Pid")));
	}
	json_decref(info);
	return 0;
}

static int volume_usage(FILE *f)
{
	fputs("Usage: berth volume COMMAND\n\n"
	      "Commands:\n"
	      "  create [--label K=V] [NAME]   Create a volume\n"
	      "  inspect VOLUME...             Display detailed information on volumes\n"
	      "  ls [-q] [--format F]          List volumes\n"
	      "  prune [-a] [-f]               Remove unused anonymous (with -a: all) volumes\n"
	      "  rm [-f] VOLUME...             Remove volumes\n",
	      f);
	return f == stdout ? 0 : 1;
}

int cmd_volume(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help"))
		return volume_usage(argc < 2 ? stderr : stdout);
	const char *sub = argv[1];
	berth_error err = BERTH_ERROR_INIT;
	json_t *out = NULL;
	int st, rc = 0;
	if (!strcmp(sub, "create")) {
		json_t *labels = json_object(), *body;
		const char *name = NULL;
		for (int i = 2; i < argc; i++) {
			const char *v = opt_value(argc, argv, &i, "--label", "-l");
			if (v) {
				const char *eq = strchr(v, '=');
				_cleanup_free_ char *k =
				    eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
				json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
			} else if (argv[i][0] != '-') {
				name = argv[i];
			} else {
				json_decref(labels);
				fprintf(stderr, "unknown flag: %s\n", argv[i]);
				return 125;
			}
		}
		body = json_pack("{s:s,s:o}", "Name", name ? name : "", "Labels", labels);
		st = client_call("POST", "/volumes/create", body, &out, &err);
		json_decref(body);
		if (st == 201)
			printf("%s\n", json_string_value(json_object_get(out, "Name")));
	} else if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
		bool quiet = false;
		const char *fmt = NULL;
		for (int i = 2; i < argc; i++) {
			const char *v = opt_value(argc, argv, &i, "--format", NULL);
			if (v)
				fmt = v;
			else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
				quiet = true;
		}
		st = client_call("GET", "/volumes", NULL, &out, &err);
		if (st == 200) {
			json_t *rows = json_pack("[[ss]]", "DRIVER", "VOLUME NAME"), *v;
			size_t i;
			json_array_foreach(json_object_get(out, "Volumes"), i, v)
			{
				if (quiet)
					printf("%s\n",
					       json_string_value(json_object_get(v, "Name")));
				else if (fmt) {
					_cleanup_free_ char *t = !strcmp(fmt, "json")
								     ? json_dumps(v, JSON_COMPACT)
								     : format_template(fmt, v);
					printf("%s\n", t);
				} else
					json_array_append_new(
					    rows,
					    json_pack("[sO]", "local", json_object_get(v, "Name")));
			}
			if (!quiet && !fmt)
				table_print(rows);
			json_decref(rows);
		}
	} else if (!strcmp(sub, "inspect")) {
		json_t *all = json_array();
		st = 200;
		for (int i = 2; i < argc; i++) {
			_cleanup_free_ char *e = client_escape(argv[i]);
			_cleanup_free_ char *p = xasprintf("/volumes/%s", e);
			json_t *v = NULL;
			int s2 = client_call("GET", p, NULL, &v, &err);
			if (s2 == 200) {
				json_array_append_new(all, v);
			} else {
				fprintf(stderr, "berth: Error response from daemon: %s\n",
					s2 < 0 ? err.msg : client_message(v));
				json_decref(v);
				berth_error_clear(&err);
				rc = 1;
			}
		}
		char *t = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", t);
		free(t);
		json_decref(all);
	} else if (!strcmp(sub, "rm") || !strcmp(sub, "remove")) {
		bool force = false;
		st = 204;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")) {
				force = true;
				continue;
			}
			_cleanup_free_ char *e = client_escape(argv[i]);
			_cleanup_free_ char *p = xasprintf("/volumes/%s?force=%d", e, force);
			json_t *v = NULL;
			int s2 = client_call("DELETE", p, NULL, &v, &err);
			if (s2 == 204) {
				printf("%s\n", argv[i]);
			} else {
				fprintf(stderr, "berth: Error response from daemon: %s\n",
					s2 < 0 ? err.msg : client_message(v));
				berth_error_clear(&err);
				rc = 1;
			}
			json_decref(v);
		}
	} else if (!strcmp(sub, "prune")) {
		bool all = false;
		for (int i = 2; i < argc; i++)
			if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
				all = true;
		st = client_call("POST", all ? "/volumes/prune?all=1" : "/volumes/prune", NULL,
				 &out, &err);
		if (st == 200) {
			json_t *v;
			size_t i;
			printf("Deleted Volumes:\n");
			json_array_foreach(json_object_get(out, "VolumesDeleted"), i, v)
			    printf("%s\n", json_string_value(v));
			printf("\nTotal reclaimed space: 0B\n");
		}
	} else {
		return volume_usage(stderr);
	}
	if (st < 0 || st >= 400) {
		fprintf(stderr, "berth: %s%s\n", st < 0 ? "" : "Error response from daemon: ",
			st < 0 ? err.msg : client_message(out));
		rc = 1;
	}
	berth_error_clear(&err);
	json_decref(out);
	return rc;
}
