/*
 * From a normalised service (the loader's JSON form) to what the engine
 * runs: Docker's container create body with docker compose's names and
 * labels, and the service's config hash.
 *
 * Every key of a service is either applied, known not to concern the
 * container (depends_on, profiles, scale, ...), or refused with an error
 * that names the key and the service: a key is never skipped silently.
 */
#include "composer.h"
#include "../common/sha256.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Keys that shape no container: orchestration and build settings. */
static const char *const not_container[] = {"depends_on", "profiles", "pull_policy", "scale",
					    "build",	  "develop",  NULL};

/* The keys left out of the config hash (compose-features.md §5.2), besides x-*. */
static const char *const not_hashed[] = {"build",      "pull_policy", "scale",
					 "depends_on", "profiles",    NULL};

static bool in_list(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (!strcmp(*l, k))
			return true;
	return false;
}

char *composer_service_hash(json_t *service)
{
	json_t *c = json_deep_copy(service);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(c, tmp, k, v) if (in_list(not_hashed, k) || !strncmp(k, "x-", 2))
	    json_object_del(c, k);
	json_object_del(json_object_get(c, "deploy"), "replicas");
	char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(c);
	char hex[65];
	sha256_hex(text, strlen(text), hex);
	free(text);
	return xstrdup(hex);
}

static long long nanos(json_t *v)
{
	long long ns = 0;
	if (json_is_integer(v))
		return json_integer_value(v) * 1000000000LL;
	if (json_is_string(v) && composer_parse_duration(json_string_value(v), &ns) == 0)
		return ns;
	return -1;
}

static long long bytes(json_t *v)
{
	long long b = 0;
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && composer_parse_bytes(json_string_value(v), &b) == 0)
		return b;
	return -1;
}

static json_t *str_array(json_t *v)
{
	if (json_is_string(v))
		return json_pack("[O]", v);
	return json_is_array(v) ? json_deep_copy(v) : json_array();
}

static json_t *obj(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!v) {
		v = json_object();
		json_object_set_new(o, k, v);
	}
	return v;
}

static int bad(berth_error *err, const char *service, const char *key, const char *why)
{
	return berth_error_msg(err, ENOTSUP, "service \"%s\": %s: %s", service, key, why);
}

static int ports(json_t *body, json_t *hc, json_t *list, const char *svc, berth_error *err)
{
	json_t *p;
	size_t i;
	json_array_foreach(list, i, p)
	{
		long long target = json_integer_value(json_object_get(p, "target"));
		const char *proto = json_string_value(json_object_get(p, "protocol")) ?: "tcp";
		const char *pub = json_string_value(json_object_get(p, "published"));
		const char *ip = json_string_value(json_object_get(p, "host_ip")) ?: "";
		if (target < 1 || target > 65535 || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
			return bad(err, svc, "ports", "a target port and tcp or udp are needed");
		_cleanup_free_ char *key = xasprintf("%lld/%s", target, proto);
		json_object_set_new(obj(body, "ExposedPorts"), key, json_object());
		json_t *l = json_object_get(obj(hc, "PortBindings"), key);
		if (!l)
			json_object_set_new(obj(hc, "PortBindings"), key, l = json_array());
		json_array_append_new(
		    l, json_pack("{s:s,s:s}", "HostIp", ip, "HostPort", pub ? pub : ""));
	}
	return 0;
}

static int mounts(json_t *hc, json_t *list, json_t *project, const char *svc, berth_error *err)
{
	json_t *m;
	size_t i;
	json_array_foreach(list, i, m)
	{
		const char *type = json_string_value(json_object_get(m, "type")) ?: "volume";
		const char *src = json_string_value(json_object_get(m, "source"));
		const char *dst = json_string_value(json_object_get(m, "target"));
		if (!dst)
			return bad(err, svc, "volumes", "a target is needed");
		json_t *o = json_pack("{s:s,s:s,s:b}", "Type", type, "Target", dst, "ReadOnly",
				      json_is_true(json_object_get(m, "read_only")));
		if (!strcmp(type, "volume")) {
			/* a named volume is the project's: its full name from the top-level key */
			const char *name =
			    src ? json_string_value(json_object_get(
				      json_object_get(json_object_get(project, "volumes"), src),
				      "name"))
				: NULL;
			if (src)
				json_object_set_new(o, "Source", json_string(name ? name : src));
			if (json_is_true(json_object_get(json_object_get(m, "volume"), "nocopy")))
				json_object_set_new(o, "VolumeOptions",
						    json_pack("{s:b}", "NoCopy", 1));
		} else if (!strcmp(type, "bind")) {
			if (!src) {
				json_decref(o);
				return bad(err, svc, "volumes", "a bind mount needs a source");
			}
			json_object_set_new(o, "Source", json_string(src));
		} else if (!strcmp(type, "tmpfs")) {
			json_t *t = json_object_get(m, "tmpfs");
			long long size = bytes(json_object_get(t, "size"));
			json_t *to = json_object();
			if (size > 0)
				json_object_set_new(to, "SizeBytes", json_integer(size));
			if (json_is_integer(json_object_get(t, "mode")))
				json_object_set(to, "Mode", json_object_get(t, "mode"));
			json_object_set_new(o, "TmpfsOptions", to);
		} else {
			json_decref(o);
			return bad(err, svc, "volumes",
				   "only volume, bind and tmpfs mounts are supported");
		}
		json_t *ml = json_object_get(hc, "Mounts");
		if (!ml)
			json_object_set_new(hc, "Mounts", ml = json_array());
		json_array_append_new(ml, o);
	}
	return 0;
}

static int networks(json_t *body, json_t *hc, json_t *svc_nets, json_t *project, const char *svc,
		    berth_error *err)
{
	json_t *eps = json_object(), *cfg;
	const char *key;
	const char *first = NULL;
	json_object_foreach(svc_nets, key, cfg)
	{
		json_t *net = json_object_get(json_object_get(project, "networks"), key);
		const char *name = json_string_value(json_object_get(net, "name"));
		if (!net || !name) {
			json_decref(eps);
			return bad(err, svc, "networks",
				   "a network that the project does not define");
		}
		/* the service's name is an alias on each of its networks, as docker compose does */
		json_t *aliases = json_pack("[s]", svc);
		json_t *a;
		size_t i;
		json_array_foreach(json_object_get(cfg, "aliases"), i, a)
		    json_array_append(aliases, a);
		json_t *ep = json_pack("{s:o}", "Aliases", aliases);
		const char *ip = json_string_value(json_object_get(cfg, "ipv4_address"));
		if (ip)
			json_object_set_new(ep, "IPAMConfig",
					    json_pack("{s:s}", "IPv4Address", ip));
		if (json_object_get(cfg, "ipv6_address"))
			json_decref(ep), ep = NULL;
		if (!ep) {
			json_decref(eps);
			return bad(err, svc, "networks.ipv6_address",
				   "berth's networks are IPv4 only");
		}
		json_object_set_new(eps, name, ep);
		if (!first)
			first = name;
	}
	if (first)
		json_object_set_new(hc, "NetworkMode", json_string(first));
	json_object_set_new(body, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", eps));
	return 0;
}

/*
 * secrets and configs: each becomes a file berthd writes into the container's directory (with
 * its uid, gid and mode) and binds read-only at /run/secrets/<name> (a secret) or /<name> (a
 * config), or at its target. Their content comes from a file, or from "content", which the
 * command line fills from the environment for `environment:` ones.
 */
static int files(json_t *body, json_t *list, json_t *project, const char *svc, const char *key,
		 berth_error *err)
{
	bool secret = !strcmp(key, "secrets");
	json_t *e;
	size_t i;
	json_array_foreach(list, i, e)
	{
		const char *src =
		    json_string_value(json_is_string(e) ? e : json_object_get(e, "source"));
		json_t *def = json_object_get(json_object_get(project, key), src ? src : "");
		if (!src || !json_is_object(def)) {
			berth_error_msg(err, ENOENT,
					"service \"%s\" refers to undefined %.*s \"%s\"", svc,
					(int)strlen(key) - 1, key, src ? src : "");
			return -1;
		}
		if (json_is_true(json_object_get(def, "external")))
			return bad(err, svc, key, "external ones live in a swarm; berth has none");
		const char *target = json_string_value(json_object_get(e, "target"));
		json_t *f = json_object();
		if (!target)
			json_object_set_new(
			    f, "Target", json_sprintf("%s%s", secret ? "/run/secrets/" : "/", src));
		else
			json_object_set_new(f, "Target",
					    json_sprintf("%s%s",
							 target[0] == '/' ? ""
							 : secret	  ? "/run/secrets/"
									  : "/",
							 target));
		json_object_set_new(f, "What",
				    json_sprintf("%.*s %s", (int)strlen(key) - 1, key, src));
		const char *file = json_string_value(json_object_get(def, "file"));
		json_t *content = json_object_get(def, "content");
		const char *env = json_string_value(json_object_get(def, "environment"));
		if (file) {
			json_object_set_new(f, "Source", json_string(file));
		} else if (json_is_string(content)) {
			json_object_set(f, "Content", content);
		} else {
			json_decref(f);
			if (env)
				return berth_error_msg(
				    err, ENOENT, "%.*s %s: environment variable %s is not set",
				    (int)strlen(key) - 1, key, src, env);
			return berth_error_msg(err, EINVAL,
					       "%.*s %s: needs a file, content or environment",
					       (int)strlen(key) - 1, key, src);
		}
		static const char *const ids[] = {"uid", "gid"};
		for (size_t k = 0; k < 2; k++) {
			json_t *v = json_object_get(e, ids[k]);
			long n = json_is_integer(v)  ? (long)json_integer_value(v)
				 : json_is_string(v) ? strtol(json_string_value(v), NULL, 10)
						     : 0;
			json_object_set_new(f, k ? "Gid" : "Uid", json_integer(n));
		}
		json_t *m = json_object_get(e, "mode");
		long mode = json_is_integer(m)	? (long)json_integer_value(m)
			    : json_is_string(m) ? strtol(json_string_value(m), NULL, 8)
						: 0444;
		json_object_set_new(f, "Mode", json_integer(mode & 07777));
		json_t *l = json_object_get(body, "BerthFiles");
		if (!l)
			json_object_set_new(body, "BerthFiles", l = json_array());
		json_array_append_new(l, f);
	}
	return 0;
}

json_t *composer_container_body(json_t *project, const char *svc, int number, berth_error *err)
{
	json_t *s = json_object_get(json_object_get(project, "services"), svc);
	const char *pname = json_string_value(json_object_get(project, "name"));
	if (!json_is_object(s) || !pname) {
		berth_error_msg(err, ENOENT, "no such service: %s", svc);
		return NULL;
	}
	json_t *body = json_object(), *hc = json_object(), *v;
	json_object_set_new(body, "HostConfig", hc);
	const char *k;
	_cleanup_free_ char *hash = composer_service_hash(s);
	json_object_foreach(s, k, v)
	{
		if (in_list(not_container, k) || !strncmp(k, "x-", 2))
			continue;
		if (!strcmp(k, "image")) {
			json_object_set(body, "Image", v);
		} else if (!strcmp(k, "command")) {
			json_object_set_new(body, "Cmd", str_array(v));
		} else if (!strcmp(k, "entrypoint")) {
			json_object_set_new(body, "Entrypoint", str_array(v));
		} else if (!strcmp(k, "environment")) {
			json_t *env = json_array(), *e;
			const char *n;
			json_object_foreach(v, n, e) if (json_is_string(e)) json_array_append_new(
			    env, json_sprintf("%s=%s", n, json_string_value(e)));
			json_object_set_new(body, "Env", env);
		} else if (!strcmp(k, "labels")) {
			json_object_update(obj(body, "Labels"), v);
		} else if (!strcmp(k, "working_dir") || !strcmp(k, "user") ||
			   !strcmp(k, "hostname") || !strcmp(k, "domainname") ||
			   !strcmp(k, "stop_signal")) {
			static const char *const map[][2] = {{"working_dir", "WorkingDir"},
							     {"user", "User"},
							     {"hostname", "Hostname"},
							     {"domainname", "Domainname"},
							     {"stop_signal", "StopSignal"}};
			for (size_t i = 0; i < sizeof map / sizeof *map; i++)
				if (!strcmp(k, map[i][0]))
					json_object_set(body, map[i][1], v);
		} else if (!strcmp(k, "stdin_open") || !strcmp(k, "tty")) {
			json_object_set(body, !strcmp(k, "tty") ? "Tty" : "OpenStdin", v);
		} else if (!strcmp(k, "stop_grace_period")) {
			long long ns = nanos(v);
			if (ns < 0)
				goto bad_value;
			json_object_set_new(body, "StopTimeout", json_integer(ns / 1000000000LL));
		} else if (!strcmp(k, "ports")) {
			if (ports(body, hc, v, svc, err) < 0)
				goto fail;
		} else if (!strcmp(k, "expose")) {
			json_t *e;
			size_t i;
			json_array_foreach(v, i, e)
			{
				const char *p = json_string_value(e);
				_cleanup_free_ char *key =
				    p ? (strchr(p, '/') ? xstrdup(p) : xasprintf("%s/tcp", p))
				      : xasprintf("%lld/tcp", (long long)json_integer_value(e));
				json_object_set_new(obj(body, "ExposedPorts"), key, json_object());
			}
		} else if (!strcmp(k, "volumes")) {
			if (mounts(hc, v, project, svc, err) < 0)
				goto fail;
		} else if (!strcmp(k, "tmpfs")) {
			json_t *t, *l = str_array(v);
			size_t i;
			json_array_foreach(l, i, t)
			{
				const char *p = json_string_value(t);
				const char *colon = strchr(p, ':');
				_cleanup_free_ char *path =
				    colon ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
				json_object_set_new(obj(hc, "Tmpfs"), path,
						    json_string(colon ? colon + 1 : ""));
			}
			json_decref(l);
		} else if (!strcmp(k, "networks")) {
			if (networks(body, hc, v, project, svc, err) < 0)
				goto fail;
		} else if (!strcmp(k, "network_mode")) {
			const char *m = json_string_value(v);
			if (m && str_has_prefix(m, "service:")) {
				/* the namespace of the service's first container */
				json_t *o =
				    json_object_get(json_object_get(project, "services"), m + 8);
				const char *ocn =
				    json_string_value(json_object_get(o, "container_name"));
				if (!o) {
					bad(err, svc, k, "no such service");
					goto fail;
				}
				json_object_set_new(
				    hc, "NetworkMode",
				    ocn ? json_sprintf("container:%s", ocn)
					: json_sprintf("container:%s-%s-1", pname, m + 8));
				continue;
			}
			json_object_set(hc, "NetworkMode", v);
		} else if (!strcmp(k, "healthcheck")) {
			json_t *h = json_object();
			json_object_set_new(body, "Healthcheck", h);
			if (json_is_true(json_object_get(v, "disable"))) {
				json_object_set_new(h, "Test", json_pack("[s]", "NONE"));
				continue;
			}
			json_t *test = json_object_get(v, "test");
			if (json_is_string(test))
				json_object_set_new(h, "Test",
						    json_pack("[s,O]", "CMD-SHELL", test));
			else if (test)
				json_object_set(h, "Test", test);
			static const char *const dur[][2] = {{"interval", "Interval"},
							     {"timeout", "Timeout"},
							     {"start_period", "StartPeriod"},
							     {"start_interval", "StartInterval"}};
			for (size_t i = 0; i < sizeof dur / sizeof *dur; i++) {
				json_t *d = json_object_get(v, dur[i][0]);
				if (!d)
					continue;
				long long ns = nanos(d);
				if (ns < 0)
					goto bad_value;
				json_object_set_new(h, dur[i][1], json_integer(ns));
			}
			if (json_object_get(v, "retries"))
				json_object_set(h, "Retries", json_object_get(v, "retries"));
		} else if (!strcmp(k, "restart")) {
			const char *r = json_string_value(v);
			const char *colon = r ? strchr(r, ':') : NULL;
			_cleanup_free_ char *name =
			    colon ? xstrndup(r, (size_t)(colon - r)) : xstrdup(r ? r : "no");
			json_object_set_new(hc, "RestartPolicy",
					    json_pack("{s:s,s:i}", "Name", name,
						      "MaximumRetryCount",
						      colon ? atoi(colon + 1) : 0));
		} else if (!strcmp(k, "mem_limit") || !strcmp(k, "memswap_limit") ||
			   !strcmp(k, "shm_size")) {
			long long b = bytes(v);
			if (b < 0 && !(json_is_integer(v) && json_integer_value(v) == -1))
				goto bad_value;
			json_object_set_new(hc,
					    !strcmp(k, "mem_limit")	  ? "Memory"
					    : !strcmp(k, "memswap_limit") ? "MemorySwap"
									  : "ShmSize",
					    json_integer(b));
		} else if (!strcmp(k, "cpus")) {
			double c = json_is_number(v)   ? json_number_value(v)
				   : json_is_string(v) ? atof(json_string_value(v))
						       : -1;
			if (c < 0)
				goto bad_value;
			json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(c * 1e9)));
		} else if (!strcmp(k, "cpu_shares") || !strcmp(k, "pids_limit")) {
			json_object_set(hc, !strcmp(k, "cpu_shares") ? "CpuShares" : "PidsLimit",
					v);
		} else if (!strcmp(k, "deploy")) {
			json_t *lim = json_object_get(json_object_get(v, "resources"), "limits");
			const char *dk;
			json_t *dv;
			json_object_foreach(v, dk, dv) if (strcmp(dk, "resources") &&
							   strcmp(dk, "replicas"))
			{
				bad(err, svc, "deploy",
				    "only deploy.resources.limits and "
				    "deploy.replicas are supported by berth");
				goto fail;
			}
			if (json_object_get(lim, "memory"))
				json_object_set_new(
				    hc, "Memory",
				    json_integer(bytes(json_object_get(lim, "memory"))));
			if (json_object_get(lim, "cpus"))
				json_object_set_new(
				    hc, "NanoCpus",
				    json_integer((json_int_t)(atof(json_string_value(
								       json_object_get(lim, "cpus"))
								       ?: "0") *
							      1e9)));
			if (json_object_get(lim, "pids"))
				json_object_set(hc, "PidsLimit", json_object_get(lim, "pids"));
		} else if (!strcmp(k, "cap_add") || !strcmp(k, "cap_drop") ||
			   !strcmp(k, "security_opt") || !strcmp(k, "dns_search") ||
			   !strcmp(k, "dns_opt") || !strcmp(k, "dns")) {
			static const char *const map[][2] = {
			    {"cap_add", "CapAdd"},	     {"cap_drop", "CapDrop"},
			    {"security_opt", "SecurityOpt"}, {"dns_search", "DnsSearch"},
			    {"dns_opt", "DnsOptions"},	     {"dns", "Dns"}};
			for (size_t i = 0; i < sizeof map / sizeof *map; i++)
				if (!strcmp(k, map[i][0]))
					json_object_set_new(hc, map[i][1], str_array(v));
		} else if (!strcmp(k, "privileged") || !strcmp(k, "read_only") ||
			   !strcmp(k, "init")) {
			json_object_set(hc,
					!strcmp(k, "privileged")  ? "Privileged"
					: !strcmp(k, "read_only") ? "ReadonlyRootfs"
								  : "Init",
					v);
		} else if (!strcmp(k, "sysctls")) {
			json_object_set(hc, "Sysctls", v);
		} else if (!strcmp(k, "extra_hosts")) {
			json_t *l = json_array(), *e;
			const char *n;
			size_t i;
			if (json_is_object(v))
				json_object_foreach(v, n, e) json_array_append_new(
				    l, json_sprintf("%s:%s", n, json_string_value(e)));
			else
				json_array_foreach(v, i, e) json_array_append(l, e);
			json_object_set_new(hc, "ExtraHosts", l);
		} else if (!strcmp(k, "ulimits")) {
			json_t *l = json_array(), *e;
			const char *n;
			json_object_foreach(v, n, e)
			{
				json_t *soft = json_is_object(e) ? json_object_get(e, "soft") : e;
				json_t *hard = json_is_object(e) ? json_object_get(e, "hard") : e;
				json_array_append_new(l, json_pack("{s:s,s:O,s:O}", "Name", n,
								   "Soft", soft, "Hard", hard));
			}
			json_object_set_new(hc, "Ulimits", l);
		} else if (!strcmp(k, "logging")) {
			const char *d = json_string_value(json_object_get(v, "driver"));
			if (d && strcmp(d, "json-file")) {
				bad(err, svc, "logging.driver", "berth writes json-file logs only");
				goto fail;
			}
			json_t *o = json_object_get(v, "options");
			json_object_set_new(
			    hc, "LogConfig",
			    json_pack("{s:s,s:o}", "Type", "json-file", "Config",
				      json_is_object(o) ? json_deep_copy(o) : json_object()));
		} else if (!strcmp(k, "devices")) {
			/* "HOST[:CONTAINER[:PERMISSIONS]]" or {source, target, permissions} */
			json_t *l = json_array(), *e;
			size_t i;
			json_array_foreach(v, i, e)
			{
				_cleanup_free_ char *dup = xstrdup(json_string_value(e) ?: "");
				char *parts[3] = {NULL, NULL, NULL};
				if (json_is_object(e)) {
					parts[0] =
					    (char *)json_string_value(json_object_get(e, "source"));
					parts[1] =
					    (char *)json_string_value(json_object_get(e, "target"));
					parts[2] = (char *)json_string_value(
					    json_object_get(e, "permissions"));
				} else {
					char *save = NULL;
					for (int p = 0; p < 3; p++)
						parts[p] = strtok_r(p ? NULL : dup, ":", &save);
				}
				if (!parts[0]) {
					json_decref(l);
					goto bad_value;
				}
				json_array_append_new(
				    l, json_pack("{s:s,s:s,s:s}", "PathOnHost", parts[0],
						 "PathInContainer", parts[1] ? parts[1] : parts[0],
						 "CgroupPermissions", parts[2] ? parts[2] : "rwm"));
			}
			json_object_set_new(hc, "Devices", l);
		} else if (!strcmp(k, "secrets") || !strcmp(k, "configs")) {
			if (files(body, v, project, svc, k, err) < 0)
				goto fail;
		} else if (!strcmp(k, "container_name")) {
			; /* the name, below */
		} else {
			bad(err, svc, k, "not supported by berth yet");
			goto fail;
		}
		continue;
	bad_value:
		berth_error_msg(err, EINVAL, "service \"%s\": %s: invalid value", svc, k);
		goto fail;
	}
	if (!json_object_get(body, "Image")) {
		bad(err, svc, "image",
		    json_object_get(s, "build") ? "build is not supported by berth: give an image"
						: "an image is needed");
		goto fail;
	}
	if (!json_object_get(s, "networks") && !json_object_get(s, "network_mode")) {
		/* the project's default network, as the loader names it */
		json_t *def = json_pack("{s:n}", "default");
		int r = networks(body, hc, def, project, svc, err);
		json_decref(def);
		if (r < 0)
			goto fail;
	}
	/* docker compose's labels (pkg/api/labels.go) */
	json_t *labels = obj(body, "Labels");
	char num[16];
	snprintf(num, sizeof num, "%d", number);
	json_object_set_new(labels, "com.docker.compose.project", json_string(pname));
	json_object_set_new(labels, "com.docker.compose.service", json_string(svc));
	json_object_set_new(labels, "com.docker.compose.container-number", json_string(num));
	json_object_set_new(labels, "com.docker.compose.oneoff", json_string("False"));
	json_object_set_new(labels, "com.docker.compose.config-hash", json_string(hash));
	json_object_set_new(labels, "com.docker.compose.image",
			    json_string(json_string_value(json_object_get(body, "Image"))));
	const char *cn = json_string_value(json_object_get(s, "container_name"));
	json_object_set_new(body, "Name",
			    cn ? json_string(cn) : json_sprintf("%s-%s-%d", pname, svc, number));
	return body;
fail:
	json_decref(body);
	return NULL;
}
