/* berth run / create / start / attach / exec: the commands that move bytes to and from a container.
 */
#include "cli.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

enum {
	F_DETACH = 1,
	F_RM,
	F_INTERACTIVE,
	F_TTY,
	F_NAME,
	F_ENV,
	F_ENV_FILE,
	F_WORKDIR,
	F_USER,
	F_HOSTNAME,
	F_LABEL,
	F_MEMORY,
	F_MEMORY_SWAP,
	F_CPUS,
	F_CPU_SHARES,
	F_PIDS,
	F_CAP_ADD,
	F_CAP_DROP,
	F_PRIVILEGED,
	F_READ_ONLY,
	F_SECURITY,
	F_TMPFS,
	F_DEVICE,
	F_VOLUME,
	F_MOUNT,
	F_ULIMIT,
	F_RESTART,
	F_HCMD,
	F_HINTERVAL,
	F_HTIMEOUT,
	F_HRETRIES,
	F_HSTART,
	F_HSTARTINT,
	F_NOHC,
	F_STOPSIG,
	F_STOPTIME,
	F_INIT,
	F_ENTRYPOINT,
	F_NETWORK,
	F_NETALIAS,
	F_IP,
	F_ADDHOST,
	F_DNS,
	F_DNSSEARCH,
	F_DNSOPT,
	F_PUBLISH,
	F_PUBLISHALL,
	F_EXPOSE,
	F_SYSCTL,
	F_SHM,
	F_LOGOPT,
	F_LOGDRIVER,
	F_HELP,
};

static const struct flag {
	const char *lng;
	char shrt;
	bool arg;
	int id;
} run_flags[] = {
    {"detach", 'd', false, F_DETACH},
    {"rm", 0, false, F_RM},
    {"interactive", 'i', false, F_INTERACTIVE},
    {"tty", 't', false, F_TTY},
    {"name", 0, true, F_NAME},
    {"env", 'e', true, F_ENV},
    {"env-file", 0, true, F_ENV_FILE},
    {"workdir", 'w', true, F_WORKDIR},
    {"user", 'u', true, F_USER},
    {"hostname", 'h', true, F_HOSTNAME},
    {"label", 'l', true, F_LABEL},
    {"memory", 'm', true, F_MEMORY},
    {"memory-swap", 0, true, F_MEMORY_SWAP},
    {"cpus", 0, true, F_CPUS},
    {"cpu-shares", 'c', true, F_CPU_SHARES},
    {"pids-limit", 0, true, F_PIDS},
    {"cap-add", 0, true, F_CAP_ADD},
    {"cap-drop", 0, true, F_CAP_DROP},
    {"privileged", 0, false, F_PRIVILEGED},
    {"read-only", 0, false, F_READ_ONLY},
    {"security-opt", 0, true, F_SECURITY},
    {"tmpfs", 0, true, F_TMPFS},
    {"device", 0, true, F_DEVICE},
    {"volume", 'v', true, F_VOLUME},
    {"mount", 0, true, F_MOUNT},
    {"ulimit", 0, true, F_ULIMIT},
    {"restart", 0, true, F_RESTART},
    {"health-cmd", 0, true, F_HCMD},
    {"health-interval", 0, true, F_HINTERVAL},
    {"health-timeout", 0, true, F_HTIMEOUT},
    {"health-retries", 0, true, F_HRETRIES},
    {"health-start-period", 0, true, F_HSTART},
    {"health-start-interval", 0, true, F_HSTARTINT},
    {"no-healthcheck", 0, false, F_NOHC},
    {"stop-signal", 0, true, F_STOPSIG},
    {"stop-timeout", 0, true, F_STOPTIME},
    {"init", 0, false, F_INIT},
    {"entrypoint", 0, true, F_ENTRYPOINT},
    {"network", 0, true, F_NETWORK},
    {"net", 0, true, F_NETWORK},
    {"network-alias", 0, true, F_NETALIAS},
    {"net-alias", 0, true, F_NETALIAS},
    {"ip", 0, true, F_IP},
    {"add-host", 0, true, F_ADDHOST},
    {"dns", 0, true, F_DNS},
    {"dns-search", 0, true, F_DNSSEARCH},
    {"dns-option", 0, true, F_DNSOPT},
    {"publish", 'p', true, F_PUBLISH},
    {"publish-all", 'P', false, F_PUBLISHALL},
    {"expose", 0, true, F_EXPOSE},
    {"sysctl", 0, true, F_SYSCTL},
    {"shm-size", 0, true, F_SHM},
    {"log-opt", 0, true, F_LOGOPT},
    {"log-driver", 0, true, F_LOGDRIVER},
    {"help", 0, false, F_HELP},
};

static void run_usage(FILE *f, const char *cmd)
{
	fprintf(
	    f,
	    "Usage: berth %s [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
	    "\n"
	    "%s\n"
	    "\n"
	    "Options:\n"
	    "      --cap-add list, --cap-drop list   Add or drop Linux capabilities\n"
	    "  -c, --cpu-shares int            CPU shares (relative weight)\n"
	    "      --cpus decimal              Number of CPUs\n"
	    "  -d, --detach                    Run in the background and print the container ID\n"
	    "      --entrypoint string         Overwrite the default ENTRYPOINT of the image\n"
	    "  -e, --env list                  Set environment variables\n"
	    "      --env-file list             Read in a file of environment variables\n"
	    "      --health-cmd string         Command to run to check health\n"
	    "      --health-interval duration  Time between running the check (ms|s|m|h)\n"
	    "      --health-retries int        Consecutive failures needed to report unhealthy\n"
	    "      --health-start-period duration, --health-start-interval duration\n"
	    "      --health-timeout duration   Maximum time to allow one check to run\n"
	    "  -h, --hostname string           Container host name\n"
	    "      --init                      Run an init inside the container (tini)\n"
	    "  -i, --interactive               Keep STDIN open even if not attached\n"
	    "  -l, --label list                Set meta data on a container\n"
	    "      --log-opt list              Log driver options (max-size, max-file)\n"
	    "  -m, --memory bytes              Memory limit\n"
	    "      --memory-swap bytes         Memory plus swap limit (-1: unlimited swap)\n"
	    "      --mount mount               Attach a filesystem mount to the container\n"
	    "      --name string               Assign a name to the container\n"
	    "      --network network           Connect to networks: bridge (default), NAME, none,\n"
	    "                                  host, container:NAME (repeat for several)\n"
	    "      --network-alias list        Add network-scoped aliases for the container\n"
	    "      --ip string                 IPv4 address (e.g., 172.30.100.104)\n"
	    "      --add-host list             Add a custom host-to-IP mapping (host:ip)\n"
	    "      --dns list, --dns-search list, --dns-option list\n"
	    "                                  Set custom DNS servers, search domains, options\n"
	    "  -p, --publish list              Publish ports: [IP:][HOST:]CONTAINER[/tcp|/udp]\n"
	    "  -P, --publish-all               Publish all exposed ports to random ports\n"
	    "      --expose list               Expose a port or a range of ports\n"
	    "      --no-healthcheck            Disable any container-specified HEALTHCHECK\n"
	    "      --pids-limit int            Tune container pids limit (-1 for unlimited)\n"
	    "      --privileged                Give extended privileges to this container\n"
	    "      --read-only                 Mount the container's root filesystem as read only\n"
	    "      --restart string            no, always, unless-stopped, on-failure[:N]\n"
	    "      --rm                        Automatically remove the container when it exits\n"
	    "      --security-opt list         no-new-privileges, seccomp=unconfined|FILE\n"
	    "      --shm-size bytes            Size of /dev/shm\n"
	    "      --stop-signal string        Signal to stop the container (default SIGTERM)\n"
	    "      --stop-timeout int          Timeout (in seconds) to stop a container\n"
	    "      --sysctl map                Sysctl options\n"
	    "      --tmpfs list                Mount a tmpfs directory\n"
	    "      --device list               Add a host device (HOST[:CONTAINER[:rwm]])\n"
	    "  -t, --tty                       Allocate a pseudo-TTY\n"
	    "      --ulimit ulimit             Ulimit options (name=soft[:hard])\n"
	    "  -u, --user string               Username or UID (format: <name|uid>[:<group|gid>])\n"
	    "  -v, --volume list               Bind mount a volume (SRC:DST[:ro])\n"
	    "  -w, --workdir string            Working directory inside the container\n",
	    cmd,
	    !strcmp(cmd, "run") ? "Create and run a new container from an image"
				: "Create a new container");
}

typedef struct {
	bool detach, rm, interactive, tty;
	char *name;
	json_t *body;
} run_opts;

static json_t *hc(json_t *body)
{
	json_t *h = json_object_get(body, "HostConfig");
	if (!h) {
		h = json_object();
		json_object_set_new(body, "HostConfig", h);
	}
	return h;
}

static json_t *sub(json_t *o, const char *key, bool array)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		v = array ? json_array() : json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

static json_t *health(json_t *body)
{
	return sub(body, "Healthcheck", false);
}

static int bad(const char *flag, const char *v, const char *why)
{
	fprintf(stderr, "berth: invalid argument \"%s\" for \"--%s\" flag: %s\n", v, flag, why);
	fprintf(stderr, "See 'berth run --help'.\n");
	return -1;
}

static void add_env(json_t *env, const char *kv)
{
	if (!strchr(kv, '=')) {
		/* -e NAME takes NAME from this environment, or is left out */
		const char *v = getenv(kv);
		if (!v)
			return;
		json_array_append_new(env, json_sprintf("%s=%s", kv, v));
		return;
	}
	json_array_append_new(env, json_string(kv));
}

/* "80", "8000-8010", with "/udp": the range and protocol; -1 if invalid. */
static int port_range(const char *s, int *lo, int *hi, char proto[8])
{
	char rest[32] = "";
	snprintf(proto, 8, "tcp");
	int n = sscanf(s, "%d-%d%31s", lo, hi, rest);
	if (n < 1)
		return -1;
	if (n == 1) {
		*hi = *lo;
		sscanf(s, "%*d%31s", rest);
	}
	if (*rest) {
		if (rest[0] != '/' || (strcmp(rest + 1, "tcp") && strcmp(rest + 1, "udp")))
			return -1;
		memcpy(proto, rest + 1, 4); /* "tcp" or "udp" and its NUL */
	}
	return *lo >= 1 && *hi <= 65535 && *lo <= *hi ? 0 : -1;
}

/* -p [IP:][HOST:]CONTAINER[/PROTO], ranges on both sides: PortBindings and ExposedPorts. */
static int run_publish(json_t *b, const char *v)
{
	_cleanup_free_ char *s = xstrdup(v);
	char *parts[3];
	int np = 0;
	for (char *p = s, *c; np < 3; p = c + 1) {
		parts[np++] = p;
		if (!(c = strchr(p, ':')))
			break;
		*c = '\0';
	}
	if (strchr(parts[np - 1], ':'))
		return -1;
	const char *ip = np == 3 ? parts[0] : "";
	const char *host = np == 3 ? parts[1] : np == 2 ? parts[0] : "";
	int clo, chi, hlo = 0, hhi = 0;
	char proto[8], hp[8];
	if (port_range(parts[np - 1], &clo, &chi, proto) < 0)
		return -1;
	if (*host && (port_range(host, &hlo, &hhi, hp) < 0 || strchr(host, '/')))
		return -1;
	if (*host && hhi - hlo != chi - clo && chi != clo)
		return -1;
	json_t *h = json_object_get(b, "HostConfig");
	if (!h)
		json_object_set_new(b, "HostConfig", h = json_object());
	json_t *pb = json_object_get(h, "PortBindings");
	if (!pb)
		json_object_set_new(h, "PortBindings", pb = json_object());
	json_t *ex = json_object_get(b, "ExposedPorts");
	if (!ex)
		json_object_set_new(b, "ExposedPorts", ex = json_object());
	for (int p = clo; p <= chi; p++) {
		_cleanup_free_ char *k = xasprintf("%d/%s", p, proto);
		/* a host range for one container port: the first free one of the range is
		 * berthd's choice; berth asks for the first */
		_cleanup_free_ char *hport = *host ? xasprintf("%d", hlo + (p - clo)) : xstrdup("");
		json_t *list = json_object_get(pb, k);
		if (!list)
			json_object_set_new(pb, k, list = json_array());
		json_array_append_new(list,
				      json_pack("{s:s,s:s}", "HostIp", ip, "HostPort", hport));
		json_object_set_new(ex, k, json_object());
	}
	return 0;
}

static int apply_flag(run_opts *o, const struct flag *f, const char *v)
{
	json_t *b = o->body;
	long long n;
	switch (f->id) {
	case F_DETACH:
		o->detach = true;
		break;
	case F_RM:
		o->rm = true;
		break;
	case F_INTERACTIVE:
		o->interactive = true;
		break;
	case F_TTY:
		o->tty = true;
		break;
	case F_NAME:
		free(o->name), o->name = xstrdup(v);
		break;
	case F_ENV:
		add_env(sub(b, "Env", true), v);
		break;
	case F_ENV_FILE: {
		berth_error err = BERTH_ERROR_INIT;
		_cleanup_free_ char *t = read_file(v, NULL, &err);
		if (!t) {
			fprintf(stderr, "berth: open %s: %s\n", v, err.msg);
			berth_error_clear(&err);
			return -1;
		}
		char *save = NULL;
		for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			while (*l == ' ' || *l == '\t')
				l++;
			size_t len = strlen(l);
			if (len && l[len - 1] == '\r')
				l[--len] = '\0';
			if (*l && *l != '#')
				add_env(sub(b, "Env", true), l);
		}
		break;
	}
	case F_WORKDIR:
		json_object_set_new(b, "WorkingDir", json_string(v));
		break;
	case F_USER:
		json_object_set_new(b, "User", json_string(v));
		break;
	case F_HOSTNAME:
		json_object_set_new(b, "Hostname", json_string(v));
		break;
	case F_LABEL: {
		const char *eq = strchr(v, '=');
		_cleanup_free_ char *k = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
		json_object_set_new(sub(b, "Labels", false), k, json_string(eq ? eq + 1 : ""));
		break;
	}
	case F_MEMORY:
	case F_MEMORY_SWAP:
	case F_SHM:
		n = !strcmp(v, "-1") ? -1 : parse_bytes(v);
		if (n < -1 || (n == -1 && f->id != F_MEMORY_SWAP))
			return bad(f->lng, v, "invalid size");
		json_object_set_new(hc(b),
				    f->id == F_MEMORY	     ? "Memory"
				    : f->id == F_MEMORY_SWAP ? "MemorySwap"
							     : "ShmSize",
				    json_integer(n));
		break;
	case F_CPUS: {
		char *end;
		double c = strtod(v, &end);
		if (end == v || *end || !(c > 0 && c < 1e6)) /* NaN fails too */
			return bad(f->lng, v, "invalid number of CPUs");
		json_object_set_new(hc(b), "NanoCpus", json_integer((json_int_t)(c * 1e9)));
		break;
	}
	case F_CPU_SHARES:
	case F_PIDS:
	case F_HRETRIES:
	case F_STOPTIME: {
		char *end;
		n = strtoll(v, &end, 10);
		if (end == v || *end)
			return bad(f->lng, v, "strconv.ParseInt: parsing: invalid syntax");
		if (f->id == F_HRETRIES)
			json_object_set_new(health(b), "Retries", json_integer(n));
		else if (f->id == F_STOPTIME)
			json_object_set_new(b, "StopTimeout", json_integer(n));
		else
			json_object_set_new(hc(b), f->id == F_PIDS ? "PidsLimit" : "CpuShares",
					    json_integer(n));
		break;
	}
	case F_CAP_ADD:
		json_array_append_new(sub(hc(b), "CapAdd", true), json_string(v));
		break;
	case F_CAP_DROP:
		json_array_append_new(sub(hc(b), "CapDrop", true), json_string(v));
		break;
	case F_PRIVILEGED:
		json_object_set_new(hc(b), "Privileged", json_true());
		break;
	case F_READ_ONLY:
		json_object_set_new(hc(b), "ReadonlyRootfs", json_true());
		break;
	case F_SECURITY:
		json_array_append_new(sub(hc(b), "SecurityOpt", true), json_string(v));
		break;
	case F_DEVICE: {
		_cleanup_free_ char *dup = xstrdup(v);
		char *save = NULL, *host = strtok_r(dup, ":", &save);
		char *in = strtok_r(NULL, ":", &save), *perm = strtok_r(NULL, ":", &save);
		if (!host || host[0] != '/')
			return bad("device", v,
				   "HOST[:CONTAINER[:PERMISSIONS]] with absolute paths");
		json_array_append_new(sub(hc(b), "Devices", true),
				      json_pack("{s:s,s:s,s:s}", "PathOnHost", host,
						"PathInContainer", in ? in : host,
						"CgroupPermissions", perm ? perm : "rwm"));
		break;
	}
	case F_TMPFS: {
		const char *colon = strchr(v, ':');
		_cleanup_free_ char *p = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
		json_object_set_new(sub(hc(b), "Tmpfs", false), p,
				    json_string(colon ? colon + 1 : ""));
		break;
	}
	case F_VOLUME:
		if (!strchr(v, ':')) {
			/* -v /path: an anonymous volume */
			json_array_append_new(
			    sub(hc(b), "Mounts", true),
			    json_pack("{s:s,s:s}", "Type", "volume", "Target", v));
			break;
		}
		json_array_append_new(sub(hc(b), "Binds", true), json_string(v));
		break;
	case F_MOUNT: {
		json_t *m = json_object();
		_cleanup_free_ char *dup = xstrdup(v);
		char *save = NULL;
		for (char *kv = strtok_r(dup, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (eq)
				*eq++ = '\0';
			if (!strcmp(kv, "type"))
				json_object_set_new(m, "Type", json_string(eq ? eq : ""));
			else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
				json_object_set_new(m, "Source", json_string(eq ? eq : ""));
			else if (!strcmp(kv, "target") || !strcmp(kv, "destination") ||
				 !strcmp(kv, "dst"))
				json_object_set_new(m, "Target", json_string(eq ? eq : ""));
			else if (!strcmp(kv, "readonly") || !strcmp(kv, "ro"))
				json_object_set_new(
				    m, "ReadOnly",
				    json_boolean(!eq || !strcmp(eq, "true") || !strcmp(eq, "1")));
			else if (!strcmp(kv, "tmpfs-size") && eq)
				json_object_set_new(
				    m, "TmpfsOptions",
				    json_pack("{s:I}", "SizeBytes", (json_int_t)parse_bytes(eq)));
			else {
				json_decref(m);
				return bad("mount", v, "unexpected key");
			}
		}
		if (!json_object_get(m, "Target")) {
			json_decref(m);
			return bad("mount", v, "target is required");
		}
		json_array_append_new(sub(hc(b), "Mounts", true), m);
		break;
	}
	case F_ULIMIT: {
		long long soft, hard;
		char name[64];
		int k = sscanf(v, "%63[^=]=%lld:%lld", name, &soft, &hard);
		if (k < 2)
			return bad("ulimit", v, "invalid ulimit argument");
		json_array_append_new(sub(hc(b), "Ulimits", true),
				      json_pack("{s:s,s:I,s:I}", "Name", name, "Soft",
						(json_int_t)soft, "Hard",
						(json_int_t)(k == 3 ? hard : soft)));
		break;
	}
	case F_RESTART: {
		_cleanup_free_ char *p = xstrdup(v);
		char *colon = strchr(p, ':');
		long long max = 0;
		if (colon) {
			*colon++ = '\0';
			max = atoll(colon);
		}
		if (strcmp(p, "no") && strcmp(p, "always") && strcmp(p, "unless-stopped") &&
		    strcmp(p, "on-failure"))
			return bad("restart", v, "invalid restart policy");
		if (colon && strcmp(p, "on-failure"))
			return bad("restart", v,
				   "maximum retry count can only be used with 'on-failure'");
		json_object_set_new(
		    hc(b), "RestartPolicy",
		    json_pack("{s:s,s:I}", "Name", p, "MaximumRetryCount", (json_int_t)max));
		break;
	}
	case F_HCMD:
		json_object_set_new(health(b), "Test", json_pack("[ss]", "CMD-SHELL", v));
		break;
	case F_HINTERVAL:
	case F_HTIMEOUT:
	case F_HSTART:
	case F_HSTARTINT:
		n = parse_duration(v);
		if (n < 0)
			return bad(f->lng, v, "time: invalid duration");
		json_object_set_new(health(b),
				    f->id == F_HINTERVAL  ? "Interval"
				    : f->id == F_HTIMEOUT ? "Timeout"
				    : f->id == F_HSTART	  ? "StartPeriod"
							  : "StartInterval",
				    json_integer(n));
		break;
	case F_NOHC:
		json_object_set_new(health(b), "Test", json_pack("[s]", "NONE"));
		break;
	case F_STOPSIG:
		json_object_set_new(b, "StopSignal", json_string(v));
		break;
	case F_INIT:
		json_object_set_new(hc(b), "Init", json_true());
		break;
	case F_ENTRYPOINT:
		json_object_set_new(b, "Entrypoint", *v ? json_pack("[s]", v) : json_array());
		break;
	case F_NETWORK:
		json_array_append_new(sub(b, "_Networks", true), json_string(v));
		break;
	case F_NETALIAS:
		json_array_append_new(sub(b, "_Aliases", true), json_string(v));
		break;
	case F_IP:
		json_object_set_new(b, "_IP", json_string(v));
		break;
	case F_ADDHOST:
		if (!strpbrk(v, ":="))
			return bad("add-host", v, "invalid argument format: expected HOST:IP");
		json_array_append_new(sub(hc(b), "ExtraHosts", true), json_string(v));
		break;
	case F_DNS:
		json_array_append_new(sub(hc(b), "Dns", true), json_string(v));
		break;
	case F_DNSSEARCH:
		json_array_append_new(sub(hc(b), "DnsSearch", true), json_string(v));
		break;
	case F_DNSOPT:
		json_array_append_new(sub(hc(b), "DnsOptions", true), json_string(v));
		break;
	case F_PUBLISH:
		if (run_publish(b, v) < 0)
			return bad("publish", v,
				   "expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]");
		break;
	case F_PUBLISHALL:
		json_object_set_new(hc(b), "PublishAllPorts", json_true());
		break;
	case F_EXPOSE: {
		int lo, hi;
		char proto[8];
		if (port_range(v, &lo, &hi, proto) < 0)
			return bad("expose", v, "expected PORT[-PORT][/PROTO]");
		for (int p = lo; p <= hi; p++) {
			_cleanup_free_ char *k = xasprintf("%d/%s", p, proto);
			json_object_set_new(sub(b, "ExposedPorts", false), k, json_object());
		}
		break;
	}
	case F_SYSCTL: {
		const char *eq = strchr(v, '=');
		if (!eq)
			return bad("sysctl", v, "sysctl must be NAME=VALUE");
		_cleanup_free_ char *k = xstrndup(v, (size_t)(eq - v));
		json_object_set_new(sub(hc(b), "Sysctls", false), k, json_string(eq + 1));
		break;
	}
	case F_LOGOPT: {
		const char *eq = strchr(v, '=');
		if (!eq)
			return bad("log-opt", v, "log option must be KEY=VALUE");
		_cleanup_free_ char *k = xstrndup(v, (size_t)(eq - v));
		if (strcmp(k, "max-size") && strcmp(k, "max-file") && strcmp(k, "compress"))
			return bad("log-opt", v, "unknown log opt for json-file log driver");
		json_t *lc = sub(hc(b), "LogConfig", false);
		json_object_set_new(lc, "Type", json_string("json-file"));
		json_object_set_new(sub(lc, "Config", false), k, json_string(eq + 1));
		break;
	}
	case F_LOGDRIVER:
		if (strcmp(v, "json-file"))
			return bad("log-driver", v, "berth writes json-file logs only");
		break;
	}
	return 0;
}

/* Parses run/create's flags; returns the index of IMAGE in argv, -1 on error, 0 for --help. */
static int parse_run(int argc, char **argv, const char *cmd, run_opts *o)
{
	o->body = json_object();
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		const struct flag *f = NULL;
		const char *v = NULL;
		if (a[1] == '-') {
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			for (size_t k = 0; k < ARRAY_SIZE(run_flags); k++)
				if (strlen(run_flags[k].lng) == n &&
				    !strncmp(run_flags[k].lng, a + 2, n))
					f = &run_flags[k];
			if (!f) {
				fprintf(stderr, "unknown flag: %s\nSee 'berth %s --help'.\n", a,
					cmd);
				return -1;
			}
			if (f->arg) {
				v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
				if (!v) {
					fprintf(stderr, "flag needs an argument: --%s\n", f->lng);
					return -1;
				}
			}
			if (f->id == F_HELP) {
				run_usage(stdout, cmd);
				return 0;
			}
			if (apply_flag(o, f, v) < 0)
				return -1;
			continue;
		}
		/* -dit, -e K=V, -eK=V */
		for (const char *p = a + 1; *p; p++) {
			f = NULL;
			for (size_t k = 0; k < ARRAY_SIZE(run_flags); k++)
				if (run_flags[k].shrt == *p)
					f = &run_flags[k];
			if (!f) {
				fprintf(
				    stderr,
				    "unknown shorthand flag: '%c' in %s\nSee 'berth %s --help'.\n",
				    *p, a, cmd);
				return -1;
			}
			if (f->arg) {
				v = p[1] ? p + 1 + (p[1] == '=') : i + 1 < argc ? argv[++i] : NULL;
				if (!v) {
					fprintf(stderr, "flag needs an argument: '%c' in -%c\n", *p,
						*p);
					return -1;
				}
				if (apply_flag(o, f, v) < 0)
					return -1;
				break;
			}
			if (apply_flag(o, f, NULL) < 0)
				return -1;
		}
	}
	if (i >= argc) {
		fprintf(stderr,
			"berth: '%s' requires at least 1 argument.\nSee 'berth %s --help'.\n", cmd,
			cmd);
		return -1;
	}
	/* the first network is the mode (eth0); aliases and --ip belong to it, as in Docker */
	json_t *nets = json_object_get(o->body, "_Networks");
	json_t *aliases = json_object_get(o->body, "_Aliases");
	json_t *ip = json_object_get(o->body, "_IP");
	if (json_array_size(nets)) {
		const char *first = json_string_value(json_array_get(nets, 0));
		json_object_set_new(hc(o->body), "NetworkMode", json_string(first));
		json_t *eps = json_object();
		json_t *n;
		size_t k;
		json_array_foreach(nets, k, n)
		{
			json_t *ep = json_object();
			if (k == 0 && aliases)
				json_object_set(ep, "Aliases", aliases);
			if (k == 0 && ip)
				json_object_set_new(ep, "IPAMConfig",
						    json_pack("{s:O}", "IPv4Address", ip));
			json_object_set_new(eps, json_string_value(n), ep);
		}
		json_object_set_new(o->body, "NetworkingConfig",
				    json_pack("{s:o}", "EndpointsConfig", eps));
	} else if (aliases || ip) {
		fprintf(stderr, "berth: --network-alias and --ip need a user-defined --network\n");
		return -1;
	}
	json_object_del(o->body, "_Networks");
	json_object_del(o->body, "_Aliases");
	json_object_del(o->body, "_IP");
	json_object_set_new(o->body, "Image", json_string(argv[i]));
	if (i + 1 < argc) {
		json_t *c = json_array();
		for (int k = i + 1; k < argc; k++)
			json_array_append_new(c, json_string(argv[k]));
		json_object_set_new(o->body, "Cmd", c);
	}
	json_object_set_new(o->body, "Tty", json_boolean(o->tty));
	json_object_set_new(o->body, "OpenStdin", json_boolean(o->interactive));
	json_object_set_new(o->body, "AttachStdin", json_boolean(o->interactive && !o->detach));
	if (o->rm)
		json_object_set_new(hc(o->body), "AutoRemove", json_true());
	json_t *h = json_object_get(o->body, "Healthcheck");
	if (h && !json_object_get(h, "Test")) {
		fprintf(stderr, "berth: --health-* options need --health-cmd\n");
		return -1;
	}
	return i;
}

/* Creates the container; prints nothing; returns its id or NULL (an error printed). */
static char *create(run_opts *o)
{
	_cleanup_free_ char *path = NULL;
	if (o->name) {
		_cleanup_free_ char *n = client_escape(o->name);
		path = xasprintf("/containers/create?name=%s", n);
	} else {
		path = xstrdup("/containers/create");
	}
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("POST", path, o->body, &out, &err);
	if (st < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return NULL;
	}
	if (st != 201) {
		fprintf(stderr, "berth: Error response from daemon: %s\n", client_message(out));
		json_decref(out);
		return NULL;
	}
	char *id = xstrdup(json_string_value(json_object_get(out, "Id")));
	json_decref(out);
	return id;
}

/* Starts it; returns 0, or the exit code Docker gives for a failed start. */
static int start(const char *id)
{
	_cleanup_free_ char *path = xasprintf("/containers/%s/start", id);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("POST", path, NULL, &out, &err);
	if (st < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 125;
	}
	if (st == 204 || st == 304)
		return 0;
	fprintf(stderr, "berth: Error response from daemon: %s\n", client_message(out));
	int code = (int)json_integer_value(json_object_get(out, "ExitCode"));
	json_decref(out);
	return code ? code : 125;
}

static struct termios saved_tio;
static bool raw_mode;

static void restore_tty(void)
{
	if (raw_mode)
		tcsetattr(0, TCSANOW, &saved_tio);
	raw_mode = false;
}

static void make_raw(void)
{
	if (!isatty(0) || tcgetattr(0, &saved_tio) < 0)
		return;
	struct termios t = saved_tio;
	cfmakeraw(&t);
	tcsetattr(0, TCSANOW, &t);
	raw_mode = true;
	atexit(restore_tty);
}

/*
 * Moves bytes between this terminal and a raw stream until it ends: the
 * client's stdin to the stream (if in), the stream to stdout/stderr,
 * demultiplexed from Docker's 8-byte frames unless tty.
 */
int pump_stream(client_stream *s, bool in, bool tty)
{
	_cleanup_strbuf_ strbuf buf = STRBUF_INIT;
	sb_addn(&buf, s->pending.buf ? s->pending.buf : "", s->pending.len);
	bool in_open = in;
	for (;;) {
		/* frames out of what has arrived */
		size_t off = 0;
		while (buf.len - off > 0) {
			if (tty) {
				if (write(1, buf.buf + off, buf.len - off) < 0)
					return -1;
				off = buf.len;
				break;
			}
			if (buf.len - off < 8)
				break;
			unsigned char *h = (unsigned char *)buf.buf + off;
			size_t n =
			    (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
			if (buf.len - off < 8 + n)
				break;
			int fd = h[0] == 2 ? 2 : 1;
			if (n && write(fd, buf.buf + off + 8, n) < 0)
				return -1;
			off += 8 + n;
		}
		memmove(buf.buf, buf.buf + off, buf.len - off);
		buf.len -= off;
		struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
				      {.fd = in_open ? 0 : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		char b[65536];
		if (p[1].revents) {
			ssize_t n = read(0, b, sizeof b);
			if (n <= 0) {
				in_open = false;
				shutdown(s->fd, SHUT_WR);
			} else if (send(s->fd, b, (size_t)n, MSG_NOSIGNAL) < 0) {
				in_open = false;
			}
		}
		if (p[0].revents) {
			ssize_t n = read(s->fd, b, sizeof b);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
			sb_addn(&buf, b, (size_t)n);
		}
	}
}

static int wait_status(client_stream *w)
{
	berth_error err = BERTH_ERROR_INIT;
	json_t *out = NULL;
	if (client_finish(w, &err) < 0 || client_body(w, &out, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 125;
	}
	int code = (int)json_integer_value(json_object_get(out, "StatusCode"));
	json_decref(out);
	return code;
}

static int attach_and_wait(const char *id, bool in, bool tty, int (*then)(const char *))
{
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ char *wp = xasprintf("/containers/%s/wait?condition=next-exit", id);
	_cleanup_free_ char *ap = xasprintf("/containers/%s/attach?stream=1&stdout=1&stderr=1%s",
					    id, in ? "&stdin=1" : "");
	client_stream w, a;
	if (client_send("POST", wp, NULL, &w, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return 125;
	}
	if (client_open("POST", ap, NULL, true, &a, &err) < 0 || a.status != 101) {
		if (err.msg)
			fprintf(stderr, "berth: %s\n", err.msg);
		else {
			json_t *out = NULL;
			client_body(&a, &out, NULL);
			fprintf(stderr, "berth: Error response from daemon: %s\n",
				client_message(out));
			json_decref(out);
			client_close(&a);
		}
		berth_error_clear(&err);
		client_close(&w);
		return 125;
	}
	int rc = then ? then(id) : 0;
	if (rc) {
		client_close(&a);
		client_close(&w);
		return rc;
	}
	if (tty && in)
		make_raw();
	pump_stream(&a, in, tty);
	restore_tty();
	client_close(&a);
	int code = wait_status(&w);
	client_close(&w);
	return code;
}

static int remove_quietly(const char *id)
{
	_cleanup_free_ char *p = xasprintf("/containers/%s?force=1", id);
	client_call("DELETE", p, NULL, NULL, NULL);
	return 0;
}

static int run_container(run_opts *o)
{
	_cleanup_free_ char *id = create(o);
	if (!id)
		return 125;
	if (o->detach) {
		int rc = start(id);
		if (rc && o->rm)
			remove_quietly(id);
		if (!rc)
			printf("%s\n", id);
		return rc;
	}
	int rc = attach_and_wait(id, o->interactive, o->tty, start);
	if (rc >= 125 && o->rm) /* a start that failed leaves nothing behind with --rm */
		remove_quietly(id);
	return rc;
}

int run_flag(json_t *body, const char *flag, const char *value)
{
	run_opts o = {.body = body};
	for (size_t k = 0; k < ARRAY_SIZE(run_flags); k++)
		if (!strcmp(run_flags[k].lng, flag))
			return apply_flag(&o, &run_flags[k], value);
	return -1;
}

int run_body(json_t *body, const char *name, bool detach, bool in, bool tty, bool rm)
{
	run_opts o = {.body = body,
		      .name = name ? xstrdup(name) : NULL,
		      .detach = detach,
		      .interactive = in,
		      .tty = tty,
		      .rm = rm};
	json_object_set_new(body, "Tty", json_boolean(tty));
	json_object_set_new(body, "OpenStdin", json_boolean(in));
	json_object_set_new(body, "AttachStdin", json_boolean(in && !detach));
	if (rm)
		json_object_set_new(hc(body), "AutoRemove", json_true());
	int rc = run_container(&o);
	free(o.name);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	run_opts o = {0};
	int i = parse_run(argc, argv, "run", &o);
	int rc = i < 0 ? 125 : i == 0 ? 0 : run_container(&o);
	free(o.name);
	json_decref(o.body);
	return rc;
}

int cmd_create(int argc, char **argv)
{
	run_opts o = {0};
	int i = parse_run(argc, argv, "create", &o);
	int rc = i == 0 ? 0 : 125;
	if (i > 0) {
		_cleanup_free_ char *id = create(&o);
		if (id) {
			printf("%s\n", id);
			rc = 0;
		}
	}
	free(o.name);
	json_decref(o.body);
	return rc;
}

static json_t *inspect_one(const char *ref, bool quiet)
{
	_cleanup_free_ char *e = client_escape(ref);
	_cleanup_free_ char *p = xasprintf("/containers/%s/json", e);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", p, NULL, &out, &err);
	if (st != 200) {
		if (!quiet)
			fprintf(stderr, "berth: Error response from daemon: %s\n",
				st < 0 ? err.msg : client_message(out));
		berth_error_clear(&err);
		json_decref(out);
		return NULL;
	}
	return out;
}

int cmd_start(int argc, char **argv)
{
	bool attach = false, interactive = false;
	int i = 1, rc = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--attach"))
			attach = true;
		else if (!strcmp(argv[i], "-i") || !strcmp(argv[i], "--interactive"))
			interactive = true;
		else if (!strcmp(argv[i], "-ai") || !strcmp(argv[i], "-ia"))
			attach = interactive = true;
		else {
			fprintf(stderr, "unknown flag: %s\nSee 'berth start --help'.\n", argv[i]);
			return 125;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "berth: 'start' requires at least 1 argument.\n");
		return 125;
	}
	for (; i < argc; i++) {
		json_t *c = inspect_one(argv[i], false);
		if (!c) {
			rc = 1;
			continue;
		}
		const char *id = json_string_value(json_object_get(c, "Id"));
		if (attach) {
			bool tty =
			    json_is_true(json_object_get(json_object_get(c, "Config"), "Tty"));
			rc = attach_and_wait(id, interactive, tty, start);
		} else if (start(id)) {
			rc = 1;
		} else {
			printf("%s\n", argv[i]);
		}
		json_decref(c);
	}
	return rc;
}

int cmd_attach(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "berth: 'attach' requires exactly 1 argument.\n");
		return 125;
	}
	json_t *c = inspect_one(argv[argc - 1], false);
	if (!c)
		return 1;
	json_t *st = json_object_get(c, "State");
	int rc;
	if (!json_is_true(json_object_get(st, "Running"))) {
		fprintf(stderr,
			"berth: You cannot attach to a stopped container, start it first\n");
		rc = 1;
	} else {
		json_t *cf = json_object_get(c, "Config");
		rc = attach_and_wait(json_string_value(json_object_get(c, "Id")),
				     json_is_true(json_object_get(cf, "OpenStdin")),
				     json_is_true(json_object_get(cf, "Tty")), NULL);
	}
	json_decref(c);
	return rc;
}

static int exec_in(const char *container, json_t *body, bool detach, bool in, bool tty)
{
	int rc = 125;
	_cleanup_free_ char *ref = client_escape(container);
	_cleanup_free_ char *cp = xasprintf("/containers/%s/exec", ref);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("POST", cp, body, &out, &err);
	if (st != 201) {
		fprintf(stderr, "berth: Error response from daemon: %s\n",
			st < 0 ? err.msg : client_message(out));
		json_decref(out);
		berth_error_clear(&err);
		return rc;
	}
	_cleanup_free_ char *eid = xstrdup(json_string_value(json_object_get(out, "Id")));
	json_decref(out);
	_cleanup_free_ char *sp = xasprintf("/exec/%s/start", eid);
	json_t *sb = json_pack("{s:b,s:b}", "Detach", detach, "Tty", tty);
	client_stream s;
	if (client_open("POST", sp, sb, !detach, &s, &err) < 0) {
		json_decref(sb);
		fprintf(stderr, "berth: %s\n", err.msg);
		berth_error_clear(&err);
		return rc;
	}
	json_decref(sb);
	if (s.status != 101) {
		json_t *o = NULL;
		client_body(&s, &o, NULL);
		client_close(&s);
		if (s.status == 200 && detach) {
			json_decref(o);
			rc = 0;
			return rc;
		}
		fprintf(stderr, "berth: Error response from daemon: %s\n", client_message(o));
		rc = (int)json_integer_value(json_object_get(o, "ExitCode"));
		if (!rc)
			rc = 126;
		json_decref(o);
		return rc;
	}
	if (tty && in)
		make_raw();
	pump_stream(&s, in, tty);
	restore_tty();
	client_close(&s);
	_cleanup_free_ char *ip = xasprintf("/exec/%s/json", eid);
	out = NULL;
	if (client_call("GET", ip, NULL, &out, &err) == 200)
		rc = (int)json_integer_value(json_object_get(out, "ExitCode"));
	json_decref(out);
	berth_error_clear(&err);
	return rc;
}

int cmd_exec(int argc, char **argv)
{
	bool detach = false, in = false, tty = false;
	json_t *body = json_object(), *env = json_array();
	int i = 1, rc = 125;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-d") || !strcmp(a, "--detach"))
			detach = true;
		else if (!strcmp(a, "-i") || !strcmp(a, "--interactive"))
			in = true;
		else if (!strcmp(a, "-t") || !strcmp(a, "--tty"))
			tty = true;
		else if (!strcmp(a, "-it") || !strcmp(a, "-ti"))
			in = tty = true;
		else if ((!strcmp(a, "-u") || !strcmp(a, "--user")) && v)
			json_object_set_new(body, "User", json_string(v)), i++;
		else if ((!strcmp(a, "-w") || !strcmp(a, "--workdir")) && v)
			json_object_set_new(body, "WorkingDir", json_string(v)), i++;
		else if ((!strcmp(a, "-e") || !strcmp(a, "--env")) && v)
			add_env(env, v), i++;
		else {
			fprintf(stderr, "unknown flag: %s\nSee 'berth exec --help'.\n", a);
			goto out;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "berth: 'exec' requires at least 2 arguments.\n"
				"Usage: berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n");
		goto out;
	}
	json_t *cmd = json_array();
	for (int k = i + 1; k < argc; k++)
		json_array_append_new(cmd, json_string(argv[k]));
	json_object_set_new(body, "Cmd", cmd);
	json_object_set(body, "Env", env);
	json_object_set_new(body, "AttachStdin", json_boolean(in && !detach));
	json_object_set_new(body, "Tty", json_boolean(tty));
	rc = exec_in(argv[i], body, detach, in, tty);
out:
	json_decref(env);
	json_decref(body);
	return rc;
}
