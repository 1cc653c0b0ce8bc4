/* berth network ... and berth port: berthd's /networks API and a container's published ports. */
#include "cli.h"
#include "client.h"

#include <stdio.h>
#include <string.h>

static int network_usage(FILE *f)
{
	fprintf(f,
		"Usage: berth network COMMAND\n\n"
		"Manage networks\n\n"
		"Commands:\n"
		"  connect     Connect a container to a network ([--alias A] [--ip IP])\n"
		"  create      Create a network ([--subnet] [--gateway] [--ip-range] [--internal]\n"
		"              [-l K=V] [-o com.docker.network.bridge.name=NAME])\n"
		"  disconnect  Disconnect a container from a network\n"
		"  inspect     Display detailed information on one or more networks\n"
		"  ls          List networks\n"
		"  prune       Remove all unused networks\n"
		"  rm          Remove one or more networks\n");
	return f == stdout ? 0 : 125;
}

static int kv_into(json_t *obj, const char *v)
{
	const char *eq = strchr(v, '=');
	_cleanup_free_ char *k = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
	json_object_set_new(obj, k, json_string(eq ? eq + 1 : ""));
	return 0;
}

static int report(int st, json_t *out, berth_error *err)
{
	if (st >= 0 && st < 400)
		return 0;
	fprintf(stderr, "berth: %s%s\n", st < 0 ? "" : "Error response from daemon: ",
		st < 0 ? err->msg : client_message(out));
	return 1;
}

static int net_create(int argc, char **argv)
{
	json_t *labels = json_object(), *opts = json_object(), *cfg = json_object();
	bool internal = false, attachable = false;
	const char *name = NULL, *driver = "bridge", *v;
	for (int i = 2; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--label", "-l")))
			kv_into(labels, v);
		else if ((v = opt_value(argc, argv, &i, "--opt", "-o")))
			kv_into(opts, v);
		else if ((v = opt_value(argc, argv, &i, "--subnet", NULL)))
			json_object_set_new(cfg, "Subnet", json_string(v));
		else if ((v = opt_value(argc, argv, &i, "--gateway", NULL)))
			json_object_set_new(cfg, "Gateway", json_string(v));
		else if ((v = opt_value(argc, argv, &i, "--ip-range", NULL)))
			json_object_set_new(cfg, "IPRange", json_string(v));
		else if ((v = opt_value(argc, argv, &i, "--driver", "-d")))
			driver = v;
		else if (!strcmp(argv[i], "--internal"))
			internal = true;
		else if (!strcmp(argv[i], "--attachable"))
			attachable = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else {
			fprintf(stderr, "berth: unknown flag or extra argument: %s\n", argv[i]);
			json_decref(labels), json_decref(opts), json_decref(cfg);
			return 125;
		}
	}
	if (!name) {
		fprintf(stderr, "berth: \"network create\" requires exactly 1 argument\n");
		json_decref(labels), json_decref(opts), json_decref(cfg);
		return 125;
	}
	json_t *body = json_pack("{s:s,s:s,s:b,s:b,s:o,s:o,s:{s:s,s:[]}}", "Name", name, "Driver",
				 driver, "Internal", internal, "Attachable", attachable, "Labels",
				 labels, "Options", opts, "IPAM", "Driver", "default", "Config");
	if (json_object_size(cfg))
		json_array_append(json_object_get(json_object_get(body, "IPAM"), "Config"), cfg);
	json_decref(cfg);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("POST", "/networks/create", body, &out, &err);
	json_decref(body);
	if (st == 201)
		printf("%s\n", json_string_value(json_object_get(out, "Id")));
	int rc = report(st, out, &err);
	berth_error_clear(&err);
	json_decref(out);
	return rc;
}

static int net_ls(int argc, char **argv)
{
	bool quiet = false, notrunc = false;
	const char *fmt = NULL, *v;
	json_t *filters = json_object();
	for (int i = 2; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--format", NULL)))
			fmt = v;
		else if ((v = opt_value(argc, argv, &i, "--filter", "-f"))) {
			const char *eq = strchr(v, '=');
			_cleanup_free_ char *k = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
			json_t *l = json_object_get(filters, k);
			if (!l)
				json_object_set_new(filters, k, l = json_array());
			json_array_append_new(l, json_string(eq ? eq + 1 : ""));
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "--no-trunc"))
			notrunc = true;
	}
	_cleanup_free_ char *fs = json_dumps(filters, JSON_COMPACT);
	_cleanup_free_ char *fe = client_escape(fs);
	_cleanup_free_ char *path = xasprintf("/networks?filters=%s", fe);
	json_decref(filters);
	json_t *out = NULL, *n;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", path, NULL, &out, &err);
	if (st == 200) {
		json_t *rows = json_pack("[[ssss]]", "NETWORK ID", "NAME", "DRIVER", "SCOPE");
		size_t i;
		json_array_foreach(out, i, n)
		{
			const char *id = json_string_value(json_object_get(n, "Id"));
			if (quiet)
				printf("%.*s\n", notrunc ? 64 : 12, id);
			else if (fmt) {
				_cleanup_free_ char *t = !strcmp(fmt, "json")
							     ? json_dumps(n, JSON_COMPACT)
							     : format_template(fmt, n);
				printf("%s\n", t);
			} else
				json_array_append_new(rows, json_pack("[s%OOO]", id,
								      (size_t)(notrunc ? 64 : 12),
								      json_object_get(n, "Name"),
								      json_object_get(n, "Driver"),
								      json_object_get(n, "Scope")));
		}
		if (!quiet && !fmt)
			table_print(rows);
		json_decref(rows);
	}
	int rc = report(st, out, &err);
	berth_error_clear(&err);
	json_decref(out);
	return rc;
}

/* inspect and rm: one request per argument */
static int net_each(int argc, char **argv, bool rm)
{
	json_t *all = json_array();
	const char *fmt = NULL, *v;
	int rc = 0;
	for (int i = 2; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--format", "-f"))) {
			fmt = v;
			continue;
		}
		if (!strcmp(argv[i], "--force") || (!strcmp(argv[i], "-f") && rm))
			continue;
		_cleanup_free_ char *e = client_escape(argv[i]);
		_cleanup_free_ char *p = xasprintf("/networks/%s", e);
		json_t *out = NULL;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call(rm ? "DELETE" : "GET", p, NULL, &out, &err);
		if (report(st, out, &err))
			rc = 1;
		else if (rm)
			printf("%s\n", argv[i]);
		else
			json_array_append(all, out);
		berth_error_clear(&err);
		json_decref(out);
	}
	if (!rm) {
		json_t *n;
		size_t i;
		if (fmt) {
			json_array_foreach(all, i, n)
			{
				_cleanup_free_ char *t = format_template(fmt, n);
				printf("%s\n", t);
			}
		} else {
			_cleanup_free_ char *t =
			    json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
			printf("%s\n", t);
		}
	}
	json_decref(all);
	return rc;
}

static int net_connect(int argc, char **argv, bool disconnect)
{
	json_t *aliases = json_array();
	const char *ip = NULL, *args[2] = {NULL, NULL}, *v;
	bool force = false;
	int na = 0;
	for (int i = 2; i < argc; i++) {
		if (!disconnect && (v = opt_value(argc, argv, &i, "--alias", NULL)))
			json_array_append_new(aliases, json_string(v));
		else if (!disconnect && (v = opt_value(argc, argv, &i, "--ip", NULL)))
			ip = v;
		else if (disconnect && (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")))
			force = true;
		else if (argv[i][0] != '-' && na < 2)
			args[na++] = argv[i];
		else {
			fprintf(stderr, "berth: unknown flag or extra argument: %s\n", argv[i]);
			json_decref(aliases);
			return 125;
		}
	}
	if (na != 2) {
		fprintf(stderr,
			"berth: \"network %s\" requires exactly 2 arguments: NETWORK "
			"CONTAINER\n",
			disconnect ? "disconnect" : "connect");
		json_decref(aliases);
		return 125;
	}
	json_t *ep = json_pack("{s:o}", "Aliases", aliases);
	if (ip)
		json_object_set_new(ep, "IPAMConfig", json_pack("{s:s}", "IPv4Address", ip));
	json_t *body = disconnect
			   ? json_pack("{s:s,s:b}", "Container", args[1], "Force", force)
			   : json_pack("{s:s,s:o}", "Container", args[1], "EndpointConfig", ep);
	if (disconnect)
		json_decref(ep);
	_cleanup_free_ char *e = client_escape(args[0]);
	_cleanup_free_ char *p =
	    xasprintf("/networks/%s/%s", e, disconnect ? "disconnect" : "connect");
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("POST", p, body, &out, &err);
	json_decref(body);
	int rc = report(st, out, &err);
	berth_error_clear(&err);
	json_decref(out);
	return rc;
}

int cmd_network(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help"))
		return network_usage(argc < 2 ? stderr : stdout);
	const char *sub = argv[1];
	if (!strcmp(sub, "create"))
		return net_create(argc, argv);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return net_ls(argc, argv);
	if (!strcmp(sub, "inspect"))
		return net_each(argc, argv, false);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return net_each(argc, argv, true);
	if (!strcmp(sub, "connect") || !strcmp(sub, "disconnect"))
		return net_connect(argc, argv, !strcmp(sub, "disconnect"));
	if (!strcmp(sub, "prune")) {
		json_t *out = NULL, *v;
		berth_error err = BERTH_ERROR_INIT;
		int st = client_call("POST", "/networks/prune", NULL, &out, &err);
		size_t i;
		if (st == 200 && json_array_size(json_object_get(out, "NetworksDeleted"))) {
			printf("Deleted Networks:\n");
			json_array_foreach(json_object_get(out, "NetworksDeleted"), i, v)
			    printf("%s\n", json_string_value(v));
		}
		int rc = report(st, out, &err);
		berth_error_clear(&err);
		json_decref(out);
		return rc;
	}
	return network_usage(stderr);
}

/* berth port CONTAINER [PRIVATE_PORT[/PROTO]] */
int cmd_port(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr,
			"Usage: berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\n"
			"List port mappings or a specific mapping for the container\n");
		return argc == 2 ? 0 : 125;
	}
	_cleanup_free_ char *e = client_escape(argv[1]);
	_cleanup_free_ char *p = xasprintf("/containers/%s/json", e);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", p, NULL, &out, &err);
	if (report(st, out, &err)) {
		berth_error_clear(&err);
		json_decref(out);
		return 1;
	}
	_cleanup_free_ char *want =
	    argc == 3 ? (strchr(argv[2], '/') ? xstrdup(argv[2]) : xasprintf("%s/tcp", argv[2]))
		      : NULL;
	json_t *ports = json_object_get(json_object_get(out, "NetworkSettings"), "Ports"), *l, *b;
	const char *k;
	size_t i;
	int found = 0;
	json_object_foreach(ports, k, l)
	{
		if (want && strcmp(k, want))
			continue;
		json_array_foreach(l, i, b)
		{
			const char *ip = json_string_value(json_object_get(b, "HostIp"));
			const char *hp = json_string_value(json_object_get(b, "HostPort"));
			if (want)
				printf("%s:%s\n", ip, hp);
			else
				printf("%s -> %s:%s\n", k, ip, hp);
			found++;
		}
	}
	json_decref(out);
	if (want && !found) {
		fprintf(stderr, "berth: Error: No public port '%s' published for %s\n", want,
			argv[1]);
		return 1;
	}
	return 0;
}
