/*
 * Networks: bridges, addresses, published ports, isolation and DNS.
 *
 * A network's record (root/networks/<id>.json, Docker's inspect form) holds
 * its configuration; one Linux bridge per bridge network carries its
 * gateway address.  The leases are the containers' own records: a running
 * container's NetworkSettings.Networks holds its address on each network,
 * written with its start, so there is one place that says which address is
 * whose, and a crash between allocation and start loses no address.
 *
 * Starting a container: net_prepare() (before the spec) allocates addresses,
 * reserves the host ports and writes /etc/hosts, /etc/hostname and
 * /etc/resolv.conf; net_attach() (the init exists, not yet running) makes
 * one veth per network into its namespace; net_release() (at its end) takes
 * the veths, addresses and ports back.  berth's nftables table is written
 * whole from this state after each change (nft.c).  berthd answers DNS on
 * each bridge's gateway address, port 53, for names on the asking
 * container's networks, and forwards the rest.
 */
#include "daemon.h"
#include "../common/fsutil.h"
#include "../net/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFT_TABLE "berth"
/* Docker's: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20s */
#define DEFAULT_POOLS                                                                              \
	"172.17.0.0/16:16,172.18.0.0/15:16,172.20.0.0/14:16,172.24.0.0/13:16,192.168.0.0/16:20"
#define DNS_TTL 600

typedef struct network network;
struct network {
	char id[65];
	json_t *rec;
	net_subnet subnet, range;
	uint32_t gateway;
	char bridge[IFNAMSIZ];
	int ifindex;			/* the bridge's, once known */
	bool is_bridge, internal, user; /* user: a user-defined network (names resolve) */
	int dns_udp, dns_tcp;
	ev_io udp_io, tcp_io;
	pid_t unlink_pid; /* a child deleting the bridge (net_unlink_early()) */
	ev_child unlink_w;
	network *next;
};

/* A host port berthd holds for a running container (bound, so that no one else takes it). */
typedef struct port_hold port_hold;
struct port_hold {
	char cid[65];
	bool udp;
	uint32_t host_ip; /* 0: every address */
	int host_port, cport;
	uint32_t target; /* the container's address */
	int fd;
	port_hold *next;
};

static struct {
	network *list;
	char *dir;
	net_nl *nl;
	net_nft *nft;
	net_pool *pools;
	size_t npools;
	port_hold *ports;
	ev_timer sweep;
	unsigned rr; /* round robin */
} N;

static network *network_find(const char *ref);
static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void dns_open(network *n);
static void dns_close(network *n);

/* ---- records ---- */

static const char *nname(network *n)
{
	return json_string_value(json_object_get(n->rec, "Name"));
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char r[32];
	getrandom(r, bytes, 0);
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static int network_save(network *n, berth_error *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s.json", N.dir, n->id);
	_cleanup_free_ char *t = json_dumps(n->rec, JSON_COMPACT);
	return write_file_atomic(p, t, strlen(t), 0600, err);
}

/* Fills the parsed fields from the record; -1 if it is not usable. */
static int network_parse(network *n)
{
	const char *drv = json_string_value(json_object_get(n->rec, "Driver"));
	n->is_bridge = drv && !strcmp(drv, "bridge");
	n->internal = json_is_true(json_object_get(n->rec, "Internal"));
	n->dns_udp = n->dns_tcp = -1;
	const char *name = nname(n);
	n->user = n->is_bridge && strcmp(name, "bridge");
	if (!n->is_bridge)
		return 0;
	json_t *cf = json_array_get(json_object_get(json_object_get(n->rec, "IPAM"), "Config"), 0);
	const char *sub = json_string_value(json_object_get(cf, "Subnet"));
	const char *gw = json_string_value(json_object_get(cf, "Gateway"));
	const char *rng = json_string_value(json_object_get(cf, "IPRange"));
	const char *br = json_string_value(
	    json_object_get(json_object_get(n->rec, "Options"), "com.docker.network.bridge.name"));
	if (!sub || net_parse_subnet(sub, false, &n->subnet) < 0 || !gw ||
	    net_parse_ip(gw, &n->gateway) < 0 || !br || strlen(br) >= IFNAMSIZ)
		return -1;
	n->range = n->subnet;
	if (rng && *rng && net_parse_subnet(rng, false, &n->range) < 0)
		return -1;
	snprintf(n->bridge, sizeof n->bridge, "%s", br);
	return 0;
}

static int subnets_taken(net_subnet **out, size_t *n, berth_error *err)
{
	if (net_nl_routes(N.nl, out, n, err) < 0)
		return -1;
	for (network *o = N.list; o; o = o->next)
		if (o->is_bridge) {
			*out = xrealloc(*out, (*n + 1) * sizeof **out);
			(*out)[(*n)++] = o->subnet;
		}
	return 0;
}

/* Makes the record of a new network (not yet saved or listed). */
static network *network_new(const char *name, const char *driver, json_t *body, berth_error *err)
{
	network *n = xzalloc(sizeof *n);
	random_hex(n->id, 32);
	_cleanup_free_ char *now = rfc3339(now_nanos());
	json_t *opts = json_deep_copy(json_object_get(body, "Options"));
	if (!json_is_object(opts)) {
		json_decref(opts);
		opts = json_object();
	}
	json_t *labels = json_object_get(body, "Labels");
	n->rec =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:n,s:[]},s:b,s:b,s:b,s:{s:s},s:b,"
		      "s:{},s:o,s:O}",
		      "Name", name, "Id", n->id, "Created", now, "Scope", "local", "Driver", driver,
		      "EnableIPv6", 0, "IPAM", "Driver", "default", "Options", "Config", "Internal",
		      json_is_true(json_object_get(body, "Internal")), "Attachable",
		      json_is_true(json_object_get(body, "Attachable")), "Ingress", 0, "ConfigFrom",
		      "Network", "", "ConfigOnly", 0, "Containers", "Options", opts, "Labels",
		      json_is_object(labels) ? labels : json_object());
	if (!json_is_object(labels))
		json_decref(json_object_get(n->rec, "Labels"));
	if (strcmp(driver, "bridge"))
		return n;
	json_t *cf = json_array_get(json_object_get(json_object_get(body, "IPAM"), "Config"), 0);
	const char *sub = json_string_value(json_object_get(cf, "Subnet"));
	const char *gw = json_string_value(json_object_get(cf, "Gateway"));
	const char *rng = json_string_value(json_object_get(cf, "IPRange"));
	net_subnet s, r;
	uint32_t g = 0;
	_cleanup_free_ char *ss = NULL, *rs = NULL;
	_cleanup_free_ net_subnet *taken = NULL;
	size_t ntaken = 0;
	if (subnets_taken(&taken, &ntaken, err) < 0)
		goto fail;
	if (sub && *sub) {
		if (net_parse_subnet(sub, false, &s) < 0 || s.prefix > 30) {
			berth_error_msg(err, EINVAL,
					"invalid subnet %s: expected an IPv4 CIDR with host bits "
					"zero and at most /30, as 10.5.0.0/16",
					sub);
			goto fail;
		}
		for (size_t i = 0; i < ntaken; i++)
			if (net_subnets_overlap(s, taken[i])) {
				_cleanup_free_ char *t = net_subnet_str(taken[i]);
				berth_error_msg(err, EEXIST,
						"invalid pool request: Pool overlaps with other "
						"one on this address space (%s overlaps %s)",
						sub, t);
				goto fail;
			}
	} else if (net_pools_pick(N.pools, N.npools, taken, ntaken, &s) < 0) {
		berth_error_msg(err, ENOSPC,
				"all predefined address pools have been fully subnetted");
		goto fail;
	}
	r = s;
	if (rng && *rng &&
	    (net_parse_subnet(rng, false, &r) < 0 || !net_subnet_contains(s, r.addr) ||
	     r.prefix < s.prefix)) {
		berth_error_msg(err, EINVAL, "invalid ip-range %s: it must be inside the subnet",
				rng);
		goto fail;
	}
	if (gw && *gw) {
		if (net_parse_ip(gw, &g) < 0 || !net_subnet_contains(s, g) || g == s.addr ||
		    g == (s.addr | ~net_subnet_mask(s.prefix))) {
			berth_error_msg(err, EINVAL, "invalid gateway %s: it must be in the subnet",
					gw);
			goto fail;
		}
	} else {
		g = s.addr + 1;
	}
	char gb[16];
	ss = net_subnet_str(s);
	rs = net_subnet_str(r);
	json_t *c = json_pack("{s:s,s:s}", "Subnet", ss, "Gateway", net_ip_str(g, gb));
	if (rng && *rng)
		json_object_set_new(c, "IPRange", json_string(rs));
	json_array_append_new(json_object_get(json_object_get(n->rec, "IPAM"), "Config"), c);
	const char *br = json_string_value(json_object_get(opts, "com.docker.network.bridge.name"));
	if (!br) {
		_cleanup_free_ char *b =
		    !strcmp(name, "bridge") ? xstrdup("berth0") : xasprintf("berth-%.9s", n->id);
		json_object_set_new(opts, "com.docker.network.bridge.name", json_string(b));
	} else if (!*br || strlen(br) >= IFNAMSIZ || strchr(br, '/')) {
		berth_error_msg(err, EINVAL, "invalid bridge name \"%s\": 1 to 15 characters", br);
		goto fail;
	} else {
		for (network *o = N.list; o; o = o->next)
			if (o->is_bridge && !strcmp(o->bridge, br)) {
				berth_error_msg(err, EEXIST,
						"bridge name %s is already used by network %s", br,
						nname(o));
				goto fail;
			}
	}
	if (network_parse(n) < 0) {
		berth_error_msg(err, EINVAL, "invalid network configuration");
		goto fail;
	}
	return n;
fail:
	json_decref(n->rec);
	free(n);
	return NULL;
}

/* The bridge and the DNS server of a bridge network. */
static int network_up(network *n, berth_error *err)
{
	if (!n->is_bridge)
		return 0;
	if (net_nl_bridge_ensure(N.nl, n->bridge, n->gateway, n->subnet.prefix, err) < 0)
		return -1;
	/* as Docker does: containers on a network that is not internal reach out through the
	 * host, which must forward */
	if (!n->internal)
		write_file_str("/proc/sys/net/ipv4/ip_forward", "1", NULL);
	dns_open(n);
	return 0;
}

static void network_free(network *n)
{
	dns_close(n);
	json_decref(n->rec);
	free(n);
}

static network *network_find(const char *ref)
{
	if (!ref || !*ref)
		return NULL;
	for (network *n = N.list; n; n = n->next)
		if (!strcmp(n->id, ref) || !strcmp(nname(n), ref))
			return n;
	network *found = NULL;
	size_t l = strlen(ref);
	for (network *n = N.list; n; n = n->next)
		if (!strncmp(n->id, ref, l)) {
			if (found)
				return NULL;
			found = n;
		}
	return found;
}

/* ---- containers' view ---- */

static json_t *c_networks(json_t *rec)
{
	return json_object_get(json_object_get(rec, "NetworkSettings"), "Networks");
}

static const char *c_mode(json_t *rec)
{
	const char *m =
	    json_string_value(json_object_get(json_object_get(rec, "HostConfig"), "NetworkMode"));
	return m && *m && strcmp(m, "default") ? m : "bridge";
}

static bool c_running(json_t *rec)
{
	return json_is_true(json_object_get(json_object_get(rec, "State"), "Running"));
}

static bool c_own_netns(json_t *rec)
{
	const char *m = c_mode(rec);
	return strcmp(m, "host") && !str_has_prefix(m, "container:");
}

/* The address of a container on a network (0 if none). */
static uint32_t ep_ip(json_t *ep)
{
	uint32_t ip = 0;
	const char *s = json_string_value(json_object_get(ep, "IPAddress"));
	return s && *s && net_parse_ip(s, &ip) == 0 ? ip : 0;
}

static uint32_t ep_static(json_t *ep)
{
	uint32_t ip = 0;
	const char *s =
	    json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"), "IPv4Address"));
	return s && *s && net_parse_ip(s, &ip) == 0 ? ip : 0;
}

/* Addresses in use on n: running containers' leases, and every static address. */
static size_t used_addrs(network *n, uint32_t **out)
{
	size_t k = 0, cap = 16;
	uint32_t *u = xcalloc(cap, sizeof *u);
	u[k++] = n->gateway;
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *rec = container_rec(c), *ep;
		const char *key;
		json_object_foreach(c_networks(rec), key, ep)
		{
			const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
			if (!nid || strcmp(nid, n->id))
				continue;
			if (k + 2 >= cap)
				u = xrealloc(u, (cap *= 2) * sizeof *u);
			if (ep_ip(ep))
				u[k++] = ep_ip(ep);
			if (ep_static(ep))
				u[k++] = ep_static(ep);
		}
	}
	*out = u;
	return k;
}

/* ---- nftables ---- */

static int nft_sync(void)
{
	_cleanup_strbuf_ strbuf b = STRBUF_INIT;
	bool any = false;
	for (network *n = N.list; n; n = n->next)
		any |= n->is_bridge;
	if (!any) {
		berth_error err = BERTH_ERROR_INIT;
		int r = net_nft_apply(N.nft, NFT_TABLE, NULL, &err);
		if (r < 0)
			fprintf(stderr, "berthd: %s\n", err.msg);
		berth_error_clear(&err);
		return r;
	}
	sb_adds(&b, "chain prerouting {\n type nat hook prerouting priority -100; policy accept;\n"
		    " fib daddr type local jump ports\n}\n"
		    "chain output {\n type nat hook output priority -100; policy accept;\n"
		    " fib daddr type local jump ports\n}\n"
		    "chain ports {\n");
	char a[16], t[16];
	for (port_hold *p = N.ports; p; p = p->next) {
		if (p->host_ip)
			sb_addf(&b, " ip daddr %s", net_ip_str(p->host_ip, a));
		sb_addf(&b, " %s dport %d dnat to %s:%d\n", p->udp ? "udp" : "tcp", p->host_port,
			net_ip_str(p->target, t), p->cport);
	}
	sb_adds(&b, "}\nchain postrouting {\n type nat hook postrouting priority 100; policy "
		    "accept;\n");
	for (network *n = N.list; n; n = n->next) {
		if (!n->is_bridge)
			continue;
		_cleanup_free_ char *s = net_subnet_str(n->subnet);
		/* 127.0.0.1:PORT from the host: the container must answer to the host */
		sb_addf(&b, " oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", n->bridge);
		if (!n->internal)
			sb_addf(&b, " ip saddr %s oifname != \"%s\" masquerade\n", s, n->bridge);
	}
	/* no traffic between two of berth's networks; none in or out of an internal one */
	sb_adds(&b, "}\nset bridges {\n type ifname;\n elements = {");
	int nb = 0;
	for (network *n = N.list; n; n = n->next)
		if (n->is_bridge)
			sb_addf(&b, "%s\"%s\"", nb++ ? ", " : " ", n->bridge);
	sb_adds(&b, " }\n}\nchain forward {\n type filter hook forward priority 0; policy "
		    "accept;\n");
	for (network *n = N.list; n; n = n->next) {
		if (!n->is_bridge)
			continue;
		if (n->internal)
			sb_addf(&b,
				" iifname \"%s\" oifname != \"%s\" drop\n"
				" oifname \"%s\" iifname != \"%s\" drop\n",
				n->bridge, n->bridge, n->bridge, n->bridge);
		else
			sb_addf(&b, " iifname \"%s\" oifname @bridges oifname != \"%s\" drop\n",
				n->bridge, n->bridge);
	}
	sb_adds(&b, "}\n");
	berth_error err = BERTH_ERROR_INIT;
	int r = net_nft_apply(N.nft, NFT_TABLE, b.buf, &err);
	if (r < 0)
		fprintf(stderr, "berthd: %s\n", err.msg);
	berth_error_clear(&err);
	return r;
}

/* ---- loading ---- */

static network *network_add_default(const char *name, const char *driver, berth_error *err)
{
	json_t *body = json_object();
	network *n = network_new(name, driver, body, err);
	json_decref(body);
	if (!n || network_save(n, err) < 0) {
		if (n)
			network_free(n);
		return NULL;
	}
	n->next = N.list;
	N.list = n;
	return n;
}

int networks_load(berth_error *err)
{
	N.dir = xasprintf("%s/networks", D.root);
	if (mkdir_p(N.dir, 0700, err) < 0)
		return -1;
	const char *pools = getenv("BERTHD_ADDRESS_POOLS");
	if (net_pools_parse(pools && *pools ? pools : DEFAULT_POOLS, &N.pools, &N.npools, err) < 0)
		return berth_error_prefix(err, "BERTHD_ADDRESS_POOLS");
	if (!(N.nl = net_nl_open(err)) || !(N.nft = net_nft_new(err)))
		return -1;
	ev_timer_init(&N.sweep, sweep_cb, 1.0, 0);
	DIR *d = opendir(N.dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!str_has_suffix(de->d_name, ".json") || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", N.dir, de->d_name);
		json_t *rec = json_load_file(p, 0, NULL);
		network *n = xzalloc(sizeof *n);
		n->rec = rec;
		snprintf(n->id, sizeof n->id, "%s", json_string_value(json_object_get(rec, "Id")));
		if (!rec || network_parse(n) < 0) {
			fprintf(stderr, "berthd: %s: not a network record; left alone\n", p);
			json_decref(rec);
			free(n);
			continue;
		}
		n->next = N.list;
		N.list = n;
	}
	if (d)
		closedir(d);
	for (const char *const *p =
		 (const char *const[]){"none", "null", "host", "host", "bridge", "bridge", NULL};
	     *p; p += 2)
		if (!network_find(p[0]) && !network_add_default(p[0], p[1], err))
			return berth_error_prefix(err, "network %s", p[0]);
	for (network *n = N.list; n; n = n->next) {
		berth_error e = BERTH_ERROR_INIT;
		if (network_up(n, &e) < 0)
			fprintf(stderr, "berthd: network %s: %s\n", nname(n), e.msg);
		berth_error_clear(&e);
	}
	return 0;
}

static void port_unhold(const char *cid);
static int ports_hold(json_t *rec, bool again, berth_error *err);

/* veths and bridges that no container or network owns go: those of containers that ended
 * while berthd was away or before it could delete them, and debris of a crash. */
static void links_sweep(void)
{
	json_t *want = json_object();
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *ep;
		const char *key;
		json_object_foreach(c_networks(container_rec(c)), key, ep)
		{
			const char *eid = json_string_value(json_object_get(ep, "EndpointID"));
			if (eid && strlen(eid) >= 9)
				json_object_set_new(want, eid, json_true());
		}
	}
	char **kinds = NULL;
	char **links = net_nl_links(N.nl, "berth", &kinds, NULL);
	for (size_t i = 0; links && links[i]; i++) {
		bool keep = false;
		if (!strcmp(kinds[i], "bridge")) {
			for (network *n = N.list; n; n = n->next)
				keep |= n->is_bridge && !strcmp(n->bridge, links[i]);
		} else if (!strcmp(kinds[i], "veth") && str_has_prefix(links[i], "berthv")) {
			const char *k;
			json_t *v;
			json_object_foreach(want, k, v) keep |= !strncmp(links[i] + 6, k, 9);
		} else {
			keep = true; /* not a kind berth makes */
		}
		if (!keep)
			net_nl_link_del(N.nl, links[i], NULL);
	}
	strv_free(links);
	strv_free(kinds);
	json_decref(want);
}

static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	links_sweep();
}

/* After a crash: leftover veths and bridges go, ports are held again, the table is rewritten. */
void networks_reconcile(void)
{
	for (container *c = D.containers; c; c = container_next(c))
		if (c_running(container_rec(c)))
			ports_hold(container_rec(c), true, NULL);
	links_sweep();
	nft_sync();
}

/* ---- host ports ---- */

/* Who holds a host port: "process NAME (pid N)", or NULL. */
static char *port_holder(bool udp, int port)
{
	unsigned long inode = 0;
	for (int v6 = 0; v6 < 2 && !inode; v6++) {
		_cleanup_free_ char *p =
		    xasprintf("/proc/net/%s%s", udp ? "udp" : "tcp", v6 ? "6" : "");
		_cleanup_fclose_ FILE *f = fopen(p, "re");
		char line[512];
		while (f && fgets(line, sizeof line, f)) {
			char local[128];
			unsigned st;
			unsigned long ino;
			if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
				   &ino) != 3)
				continue;
			char *colon = strrchr(local, ':');
			if (!colon || (int)strtol(colon + 1, NULL, 16) != port)
				continue;
			if (!udp && st != 0x0a) /* LISTEN */
				continue;
			inode = ino;
			break;
		}
	}
	if (!inode)
		return NULL;
	char want[64];
	snprintf(want, sizeof want, "socket:[%lu]", inode);
	DIR *d = opendir("/proc");
	struct dirent *de;
	char *out = NULL;
	while (d && !out && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		_cleanup_free_ char *fdd = xasprintf("/proc/%s/fd", de->d_name);
		DIR *fd = opendir(fdd);
		struct dirent *fe;
		while (fd && !out && (fe = readdir(fd))) {
			_cleanup_free_ char *l = xasprintf("%s/%s", fdd, fe->d_name);
			char target[64];
			ssize_t n = readlink(l, target, sizeof target - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, want))
				continue;
			_cleanup_free_ char *cp = xasprintf("/proc/%s/comm", de->d_name);
			_cleanup_free_ char *comm = read_file(cp, NULL, NULL);
			if (comm)
				comm[strcspn(comm, "\n")] = '\0';
			out = xasprintf("process %s (pid %s)", comm ? comm : "?", de->d_name);
		}
		if (fd)
			closedir(fd);
	}
	if (d)
		closedir(d);
	return out ? out : xstrdup("another socket on the host");
}

static const char *container_name_of(const char *cid)
{
	container *c = container_find(cid, NULL);
	const char *n = c ? json_string_value(json_object_get(container_rec(c), "Name")) : NULL;
	return n ? (n[0] == '/' ? n + 1 : n) : cid;
}

/* Binds a host port (held as long as the container runs); -1 with a message naming the
 * holder if it is taken. port 0: a free one, written back. */
static int port_bind(bool udp, uint32_t ip, int *port, const char *cid, berth_error *err)
{
	char ib[16];
	for (port_hold *p = N.ports; *port && p; p = p->next)
		if (p->udp == udp && p->host_port == *port &&
		    (!p->host_ip || !ip || p->host_ip == ip) && strcmp(p->cid, cid))
			return berth_error_msg(err, EADDRINUSE,
					       "Bind for %s:%d/%s failed: port is already "
					       "allocated by container %s",
					       net_ip_str(ip, ib), *port, udp ? "udp" : "tcp",
					       container_name_of(p->cid));
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_error_set(err, errno, "socket");
	/* no SO_REUSEADDR: while berthd holds the port, no one else binds it */
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)*port),
				 .sin_addr.s_addr = htonl(ip)};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE) {
			_cleanup_free_ char *h = port_holder(udp, *port);
			return berth_error_msg(err, EADDRINUSE,
					       "Bind for %s:%d/%s failed: port is already in use "
					       "by %s",
					       net_ip_str(ip, ib), *port, udp ? "udp" : "tcp", h);
		}
		return berth_error_set(err, e, "bind %s:%d", net_ip_str(ip, ib), *port);
	}
	/* TCP: a listening socket would take the connections the DNAT rule sends on; a
	 * bound one only keeps the port from others */
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* "80/tcp" -> 80, udp */
static int parse_port_key(const char *k, int *port, bool *udp)
{
	char proto[8] = "tcp";
	if (sscanf(k, "%d/%7s", port, proto) < 1 || *port < 1 || *port > 65535)
		return -1;
	*udp = !strcmp(proto, "udp");
	return !strcmp(proto, "tcp") || *udp ? 0 : -1;
}

/* The container's published ports with their bindings: PortBindings, and with
 * PublishAllPorts every exposed port without one. */
static json_t *wanted_ports(json_t *rec)
{
	json_t *hc = json_object_get(rec, "HostConfig");
	json_t *out = json_deep_copy(json_object_get(hc, "PortBindings"));
	if (!json_is_object(out)) {
		json_decref(out);
		out = json_object();
	}
	if (json_is_true(json_object_get(hc, "PublishAllPorts"))) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(json_object_get(rec, "Config"), "ExposedPorts"),
				    k, v) if (!json_array_size(json_object_get(out, k)))
		    json_object_set_new(out, k,
					json_pack("[{s:s,s:s}]", "HostIp", "", "HostPort", ""));
	}
	return out;
}

static void port_unhold(const char *cid)
{
	for (port_hold **pp = &N.ports; *pp;) {
		port_hold *p = *pp;
		if (strcmp(p->cid, cid)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		close(p->fd);
		free(p);
	}
}

/* The address published ports lead to: the container's on its first bridge network. */
static uint32_t port_target(json_t *rec)
{
	json_t *ep;
	const char *k;
	json_object_foreach(c_networks(rec), k, ep) if (ep_ip(ep)) return ep_ip(ep);
	return 0;
}

/* Holds every published port of a container and records them in NetworkSettings.Ports. */
static int ports_hold(json_t *rec, bool again, berth_error *err)
{
	const char *cid = json_string_value(json_object_get(rec, "Id"));
	/* again (berthd restarted): the ports it had, random ones included, not new ones */
	json_t *had = json_object_get(json_object_get(rec, "NetworkSettings"), "Ports");
	json_t *want = again && json_object_size(had) ? json_deep_copy(had) : wanted_ports(rec);
	json_t *ports = json_object();
	const char *k;
	json_t *v;
	uint32_t target = port_target(rec);
	json_object_foreach(want, k, v)
	{
		int cport;
		bool udp;
		if (parse_port_key(k, &cport, &udp) < 0) {
			berth_error_msg(err, EINVAL, "invalid port \"%s\"", k);
			goto fail;
		}
		json_t *list = json_array();
		json_object_set_new(ports, k, list);
		size_t i;
		json_t *b;
		json_array_foreach(v, i, b)
		{
			if (!target) {
				berth_error_msg(err, EINVAL,
						"port %s is published, but the container has no "
						"bridge network to publish it from",
						k);
				goto fail;
			}
			const char *hip = json_string_value(json_object_get(b, "HostIp"));
			const char *hp = json_string_value(json_object_get(b, "HostPort"));
			uint32_t ip = 0;
			if (hip && *hip && strcmp(hip, "0.0.0.0") && net_parse_ip(hip, &ip) < 0) {
				berth_error_msg(err, EINVAL,
						"invalid host address \"%s\" for port %s (IPv4 "
						"only)",
						hip, k);
				goto fail;
			}
			int port = hp && *hp ? atoi(hp) : 0;
			if (port < 0 || port > 65535) {
				berth_error_msg(err, EINVAL, "invalid host port \"%s\"", hp);
				goto fail;
			}
			int fd = port_bind(udp, ip, &port, cid, err);
			if (fd < 0)
				goto fail;
			port_hold *p = xzalloc(sizeof *p);
			snprintf(p->cid, sizeof p->cid, "%s", cid);
			p->udp = udp;
			p->host_ip = ip;
			p->host_port = port;
			p->cport = cport;
			p->target = target;
			p->fd = fd;
			p->next = N.ports;
			N.ports = p;
			char ib[16];
			json_array_append_new(list,
					      json_pack("{s:s,s:o}", "HostIp", net_ip_str(ip, ib),
							"HostPort", json_sprintf("%d", port)));
		}
	}
	/* exposed ports without a binding are listed too, as Docker does: "9000/tcp": null */
	json_object_foreach(json_object_get(json_object_get(rec, "Config"), "ExposedPorts"), k,
			    v) if (!json_array_size(json_object_get(ports, k)))
	    json_object_set_new(ports, k, json_null());
	json_object_set_new(json_object_get(rec, "NetworkSettings"), "Ports", ports);
	json_decref(want);
	return 0;
fail:
	json_decref(want);
	json_decref(ports);
	if (cid)
		port_unhold(cid);
	return -1;
}

/* ---- /etc/hosts, /etc/hostname, /etc/resolv.conf ---- */

static const char *resolv_path(void)
{
	const char *p = getenv("BERTHD_RESOLV_CONF");
	return p && *p ? p : "/etc/resolv.conf";
}

/* The host's resolvers (IPv4), not counting berth's own gateways. */
static size_t host_resolvers(uint32_t *out, size_t cap)
{
	_cleanup_free_ char *t = read_file(resolv_path(), NULL, NULL);
	size_t n = 0;
	char *save = NULL;
	for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l && n < cap;
	     l = strtok_r(NULL, "\n", &save)) {
		char ip[64];
		uint32_t a;
		if (sscanf(l, " nameserver %63s", ip) != 1 || net_parse_ip(ip, &a) < 0)
			continue;
		bool ours = false;
		for (network *nw = N.list; nw; nw = nw->next)
			ours |= nw->is_bridge && nw->gateway == a;
		if (!ours)
			out[n++] = a;
	}
	return n;
}

/* Made anew at each start (no fsync: a crash before the start makes them again). */
static int put_file(const char *path, const char *text, berth_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t n = strlen(text);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		return berth_error_set(err, errno ? errno : EIO, "write %s", path);
	return 0;
}

static void add_bind(json_t *spec, const char *src, const char *dst)
{
	json_t *mounts = json_object_get(spec, "mounts"), *m;
	size_t i;
	json_array_foreach(
	    mounts, i, m) if (!strcmp(json_string_value(json_object_get(m, "destination")), dst))
	{
		json_array_remove(mounts, i);
		break;
	}
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", dst, "type",
						"bind", "source", src, "options", "rbind", "rw"));
}

static int write_etc(json_t *rec, const char *dir, uint32_t ip, uint32_t gateway, bool embedded_dns,
		     json_t *spec, berth_error *err)
{
	json_t *hc = json_object_get(rec, "HostConfig"), *v;
	const char *hostname =
	    json_string_value(json_object_get(json_object_get(rec, "Config"), "Hostname"));
	const char *dom =
	    json_string_value(json_object_get(json_object_get(rec, "Config"), "Domainname"));
	bool host = !strcmp(c_mode(rec), "host");
	_cleanup_strbuf_ strbuf h = STRBUF_INIT, r = STRBUF_INIT;
	size_t i;
	char b[16];
	if (host) {
		_cleanup_free_ char *t = read_file("/etc/hosts", NULL, NULL);
		sb_adds(&h, t ? t : "127.0.0.1\tlocalhost\n");
		if (h.len && h.buf[h.len - 1] != '\n')
			sb_addc(&h, '\n');
	} else {
		sb_adds(&h,
			"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
			"ff02::2\tip6-allrouters\n");
	}
	json_array_foreach(json_object_get(hc, "ExtraHosts"), i, v)
	{
		const char *e = json_string_value(v);
		const char *sep = e ? strpbrk(e, ":=") : NULL;
		if (!sep)
			return berth_error_msg(err, EINVAL,
					       "invalid --add-host \"%s\": expected HOST:IP", e);
		const char *addr = sep + 1;
		if (!strcmp(addr, "host-gateway")) {
			if (!gateway)
				return berth_error_msg(err, EINVAL,
						       "--add-host %s: host-gateway needs a bridge "
						       "network",
						       e);
			addr = net_ip_str(gateway, b);
		}
		sb_addf(&h, "%s\t%.*s\n", addr, (int)(sep - e), e);
	}
	if (ip && hostname) {
		if (dom && *dom)
			sb_addf(&h, "%s\t%s.%s %s\n", net_ip_str(ip, b), hostname, dom, hostname);
		else
			sb_addf(&h, "%s\t%s\n", net_ip_str(ip, b), hostname);
	}
	json_t *dns = json_object_get(hc, "Dns");
	if (embedded_dns) {
		sb_addf(&r, "nameserver %s\n", net_ip_str(gateway, b));
	} else if (json_array_size(dns)) {
		json_array_foreach(dns, i, v) sb_addf(&r, "nameserver %s\n", json_string_value(v));
	} else {
		uint32_t up[8];
		size_t n = host_resolvers(up, 8);
		for (size_t k = 0; k < n; k++)
			sb_addf(&r, "nameserver %s\n", net_ip_str(up[k], b));
	}
	json_t *search = json_object_get(hc, "DnsSearch");
	if (json_array_size(search)) {
		sb_adds(&r, "search");
		json_array_foreach(search, i, v) sb_addf(&r, " %s", json_string_value(v));
		sb_addc(&r, '\n');
	} else {
		_cleanup_free_ char *t = read_file(resolv_path(), NULL, NULL);
		char *save = NULL;
		for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save))
			if (str_has_prefix(l, "search ") || str_has_prefix(l, "domain "))
				sb_addf(&r, "%s\n", l);
	}
	json_t *opts = json_object_get(hc, "DnsOptions");
	if (embedded_dns || json_array_size(opts)) {
		sb_adds(&r, "options");
		if (embedded_dns)
			sb_adds(&r, " ndots:0");
		json_array_foreach(opts, i, v) sb_addf(&r, " %s", json_string_value(v));
		sb_addc(&r, '\n');
	}
	_cleanup_free_ char *hp = xasprintf("%s/hosts", dir),
			    *rp = xasprintf("%s/resolv.conf", dir),
			    *np = xasprintf("%s/hostname", dir),
			    *hn = xasprintf("%s\n", hostname ? hostname : "");
	if (put_file(hp, h.buf, err) < 0 || put_file(rp, r.buf ? r.buf : "", err) < 0 ||
	    put_file(np, hn, err) < 0)
		return -1;
	add_bind(spec, hp, "/etc/hosts");
	add_bind(spec, rp, "/etc/resolv.conf");
	add_bind(spec, np, "/etc/hostname");
	return 0;
}

/* ---- a container's start and end ---- */

static void ep_clear(json_t *ep)
{
	json_object_set_new(ep, "EndpointID", json_string(""));
	json_object_set_new(ep, "Gateway", json_string(""));
	json_object_set_new(ep, "IPAddress", json_string(""));
	json_object_set_new(ep, "IPPrefixLen", json_integer(0));
	json_object_set_new(ep, "MacAddress", json_string(""));
	json_object_set_new(ep, "DNSNames", json_null());
}

static json_t *ep_new(network *n, json_t *cfg)
{
	json_t *ep = json_pack("{s:o,s:n,s:o,s:s}", "IPAMConfig",
			       json_is_object(json_object_get(cfg, "IPAMConfig"))
				   ? json_deep_copy(json_object_get(cfg, "IPAMConfig"))
				   : json_null(),
			       "Links", "Aliases",
			       json_is_array(json_object_get(cfg, "Aliases"))
				   ? json_deep_copy(json_object_get(cfg, "Aliases"))
				   : json_null(),
			       "NetworkID", n->id);
	ep_clear(ep);
	return ep;
}

static void settings_clear(json_t *rec)
{
	json_t *ns = json_object_get(rec, "NetworkSettings"), *ep;
	const char *k;
	json_object_foreach(c_networks(rec), k, ep) ep_clear(ep);
	json_object_set_new(ns, "IPAddress", json_string(""));
	json_object_set_new(ns, "Gateway", json_string(""));
	json_object_set_new(ns, "IPPrefixLen", json_integer(0));
	json_object_set_new(ns, "MacAddress", json_string(""));
	json_object_set_new(ns, "SandboxKey", json_string(""));
	json_object_set_new(ns, "Ports", json_object());
}

json_t *net_settings_for_create(json_t *body, berth_error *err)
{
	json_t *hc = json_object_get(body, "HostConfig");
	const char *m = json_string_value(json_object_get(hc, "NetworkMode"));
	if (!m || !*m || !strcmp(m, "default"))
		m = "bridge";
	json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
	json_t *nets = json_object(), *cfg;
	json_t *ns = json_pack("{s:s,s:s,s:{},s:s,s:s,s:i,s:s,s:o}", "Bridge", "", "SandboxID", "",
			       "Ports", "SandboxKey", "", "Gateway", "", "IPPrefixLen", 0,
			       "IPAddress", "", "Networks", nets);
	json_object_set_new(ns, "MacAddress", json_string(""));
	if (str_has_prefix(m, "container:")) {
		if (!container_find(m + 10, err)) {
			json_decref(ns);
			return NULL;
		}
		return ns;
	}
	const char *k;
	/* the network mode's network first: it is eth0 */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			network *n = network_find(m);
			if (!n) {
				berth_error_msg(err, ENOENT, "network %s not found", m);
				goto fail;
			}
			json_t *c = json_object_get(eps, m);
			json_object_set_new(nets, nname(n), ep_new(n, c));
			continue;
		}
		json_object_foreach(eps, k, cfg)
		{
			network *n = network_find(k);
			if (!n) {
				berth_error_msg(err, ENOENT, "network %s not found", k);
				goto fail;
			}
			if (json_object_get(nets, nname(n)))
				continue;
			if (!n->is_bridge || !network_find(m)->is_bridge) {
				berth_error_msg(err, EINVAL,
						"container cannot be connected to network %s with "
						"network mode %s",
						k, m);
				goto fail;
			}
			json_object_set_new(nets, nname(n), ep_new(n, cfg));
		}
	}
	json_object_foreach(nets, k, cfg)
	{
		network *n = network_find(k);
		uint32_t ip = ep_static(cfg);
		const char *ipstr = json_string_value(
		    json_object_get(json_object_get(cfg, "IPAMConfig"), "IPv4Address"));
		if (ipstr && *ipstr && !ip) {
			berth_error_msg(err, EINVAL, "invalid IPv4 address: %s", ipstr);
			goto fail;
		}
		if (ip && (!n->is_bridge || !n->user)) {
			berth_error_msg(err, EINVAL,
					"user specified IP address is supported on user defined "
					"networks only");
			goto fail;
		}
		if (ip && !net_subnet_contains(n->subnet, ip)) {
			berth_error_msg(err, EINVAL,
					"invalid IPv4 address %s: not in network %s's subnet",
					ipstr, k);
			goto fail;
		}
		if (json_array_size(json_object_get(cfg, "Aliases")) && !n->user) {
			berth_error_msg(err, EINVAL,
					"network-scoped aliases are supported for user-defined "
					"networks only");
			goto fail;
		}
	}
	return ns;
fail:
	json_decref(ns);
	return NULL;
}

int net_check_ports(json_t *body, berth_error *err)
{
	json_t *pb = json_object_get(json_object_get(body, "HostConfig"), "PortBindings"), *v, *b;
	const char *k;
	size_t i;
	json_object_foreach(pb, k, v)
	{
		int cport;
		bool udp;
		if (parse_port_key(k, &cport, &udp) < 0)
			return berth_error_msg(err, EINVAL, "invalid port \"%s\"", k);
		json_array_foreach(v, i, b)
		{
			const char *hp = json_string_value(json_object_get(b, "HostPort"));
			const char *hip = json_string_value(json_object_get(b, "HostIp"));
			uint32_t ip = 0;
			if (hip && *hip && strcmp(hip, "0.0.0.0") && net_parse_ip(hip, &ip) < 0)
				return berth_error_msg(
				    err, EINVAL, "invalid host address \"%s\" (IPv4 only)", hip);
			int port = hp && *hp ? atoi(hp) : 0;
			if (!port)
				continue;
			if (port < 0 || port > 65535)
				return berth_error_msg(err, EINVAL, "invalid host port \"%s\"", hp);
			int fd = port_bind(udp, ip, &port, "", err);
			if (fd < 0)
				return -1;
			close(fd);
		}
	}
	return 0;
}

static network *ep_network(const char *key, json_t *ep)
{
	network *n = network_find(json_string_value(json_object_get(ep, "NetworkID")));
	return n ? n : network_find(key);
}

/* Allocates the address of one endpoint; 0 or -1. */
static int ep_allocate(json_t *rec, network *n, json_t *ep, berth_error *err)
{
	const char *cid = json_string_value(json_object_get(rec, "Id"));
	uint32_t ip = ep_static(ep);
	_cleanup_free_ uint32_t *used = NULL;
	size_t nused = used_addrs(n, &used);
	char b[16], id[65];
	if (ip) {
		for (container *c = D.containers; c; c = container_next(c)) {
			json_t *o = container_rec(c), *oep;
			const char *k;
			if (!strcmp(json_string_value(json_object_get(o, "Id")), cid))
				continue;
			json_object_foreach(c_networks(o), k, oep) if (
			    !strcmp(json_string_value(json_object_get(oep, "NetworkID")) ?: "",
				    n->id) &&
			    (ep_ip(oep) == ip ||
			     ep_static(oep) ==
				 ip)) return berth_error_msg(err, EADDRINUSE,
							     "Address already in use: %s is used "
							     "by container %s on network %s",
							     net_ip_str(ip, b),
							     container_name_of(json_string_value(
								 json_object_get(o, "Id"))),
							     nname(n));
		}
		if (ip == n->gateway)
			return berth_error_msg(err, EADDRINUSE,
					       "Address already in use: %s is the gateway",
					       net_ip_str(ip, b));
	} else if (!(ip = net_addr_pick(n->subnet, n->range, used, nused))) {
		return berth_error_msg(err, ENOSPC, "no available IPv4 addresses on network %s",
				       nname(n));
	}
	random_hex(id, 32);
	const char *name = json_string_value(json_object_get(rec, "Name"));
	json_t *names = json_array();
	if (n->user) {
		json_array_append_new(names, json_string(name[0] == '/' ? name + 1 : name));
		json_array_append_new(names, json_stringn(cid, 12));
		json_t *a;
		size_t i;
		json_array_foreach(json_object_get(ep, "Aliases"), i, a)
		    json_array_append(names, a);
	}
	char mac[18];
	snprintf(mac, sizeof mac, "02:42:%02x:%02x:%02x:%02x", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
	json_object_set_new(ep, "NetworkID", json_string(n->id));
	json_object_set_new(ep, "EndpointID", json_string(id));
	json_object_set_new(ep, "Gateway", json_string(net_ip_str(n->gateway, b)));
	json_object_set_new(ep, "IPAddress", json_string(net_ip_str(ip, b)));
	json_object_set_new(ep, "IPPrefixLen", json_integer(n->subnet.prefix));
	json_object_set_new(ep, "MacAddress", json_string(mac));
	json_object_set_new(ep, "DNSNames", n->user ? names : json_null());
	if (!n->user)
		json_decref(names);
	if (!strcmp(nname(n), "bridge")) {
		json_t *ns = json_object_get(rec, "NetworkSettings");
		json_object_set_new(ns, "IPAddress", json_string(net_ip_str(ip, b)));
		json_object_set_new(ns, "Gateway", json_string(net_ip_str(n->gateway, b)));
		json_object_set_new(ns, "IPPrefixLen", json_integer(n->subnet.prefix));
		json_object_set_new(ns, "MacAddress", json_string(mac));
	}
	return 0;
}

int net_prepare(json_t *rec, const char *dir, json_t *spec, berth_error *err)
{
	const char *m = c_mode(rec);
	json_t *ns = json_object_get(rec, "NetworkSettings");
	if (!json_is_object(ns)) {
		/* a record from before networks: its mode's network */
		json_t *body = json_pack("{s:O}", "HostConfig", json_object_get(rec, "HostConfig"));
		ns = net_settings_for_create(body, err);
		json_decref(body);
		if (!ns)
			return -1;
		json_object_set_new(rec, "NetworkSettings", ns);
	}
	settings_clear(rec);
	json_t *lx = json_object_get(spec, "linux");
	json_t *nsl = json_object_get(lx, "namespaces"), *x;
	size_t i;
	json_array_foreach(
	    nsl, i, x) if (!strcmp(json_string_value(json_object_get(x, "type")), "network")) break;
	if (!strcmp(m, "host")) {
		json_array_remove(nsl, i);
		return write_etc(rec, dir, 0, 0, false, spec, err);
	}
	if (str_has_prefix(m, "container:")) {
		container *o = container_find(m + 10, err);
		if (!o)
			return -1;
		json_t *orec = container_rec(o);
		if (!c_running(orec))
			return berth_error_msg(err, EINVAL,
					       "cannot join network of a non running container: %s",
					       m + 10);
		long long pid =
		    json_integer_value(json_object_get(json_object_get(orec, "State"), "Pid"));
		json_object_set_new(json_array_get(nsl, i), "path",
				    json_sprintf("/proc/%lld/ns/net", pid));
		_cleanup_free_ char *od = xasprintf("%s/%s", D.run_containers, container_id(o));
		for (const char *const *f =
			 (const char *const[]){"hosts", "resolv.conf", "hostname", NULL};
		     *f; f++) {
			_cleanup_free_ char *src = xasprintf("%s/%s", od, *f);
			_cleanup_free_ char *dst = xasprintf("/etc/%s", *f);
			if (path_exists(src))
				add_bind(spec, src, dst);
		}
		return 0;
	}
	if (!strcmp(m, "none"))
		return write_etc(rec, dir, 0, 0, false, spec, err);
	json_t *ep;
	const char *k;
	uint32_t first_ip = 0, first_gw = 0;
	bool embedded = false;
	json_object_foreach(c_networks(rec), k, ep)
	{
		network *n = ep_network(k, ep);
		if (!n) {
			berth_error_msg(err, ENOENT, "network %s not found", k);
			goto fail;
		}
		if (!n->is_bridge) {
			berth_error_msg(err, EINVAL, "network %s cannot be joined with others", k);
			goto fail;
		}
		if (ep_allocate(rec, n, ep, err) < 0)
			goto fail;
		if (!first_ip) {
			first_ip = ep_ip(ep);
			first_gw = n->gateway;
			embedded = n->dns_udp >= 0;
		}
	}
	if (ports_hold(rec, false, err) < 0 ||
	    write_etc(rec, dir, first_ip, first_gw, embedded, spec, err) < 0)
		goto fail;
	return 0;
fail:
	port_unhold(json_string_value(json_object_get(rec, "Id")));
	settings_clear(rec);
	return -1;
}

static void endpoint_fill(net_endpoint *e, network *nw, json_t *ep, char *host, char *ifn,
			  size_t index, int bridge_idx, bool route)
{
	snprintf(host, IFNAMSIZ, "berthv%.9s",
		 json_string_value(json_object_get(ep, "EndpointID")));
	snprintf(ifn, IFNAMSIZ, "eth%zu", index);
	const char *mac = json_string_value(json_object_get(ep, "MacAddress"));
	unsigned mb[6] = {0};
	sscanf(mac ? mac : "", "%x:%x:%x:%x:%x:%x", &mb[0], &mb[1], &mb[2], &mb[3], &mb[4], &mb[5]);
	*e = (net_endpoint){.host_name = host,
			    .ifname = ifn,
			    .bridge_ifindex = bridge_idx,
			    .ip = ep_ip(ep),
			    .gateway = nw->gateway,
			    .prefix = nw->subnet.prefix,
			    .default_route = route};
	for (int b = 0; b < 6; b++)
		e->mac[b] = (uint8_t)mb[b];
}

static int bridge_index(network *nw, berth_error *err)
{
	if (nw->ifindex > 0)
		return nw->ifindex;
	int idx = net_nl_bridge_ifindex(N.nl, nw->bridge, NULL);
	if (idx >= 0)
		return nw->ifindex = idx;
	/* the bridge was deleted behind berthd's back: made again */
	if (network_up(nw, err) < 0)
		return -1;
	nft_sync();
	idx = net_nl_bridge_ifindex(N.nl, nw->bridge, err);
	return idx > 0 ? nw->ifindex = idx : idx;
}

int net_attach(json_t *rec, int pid, berth_error *err)
{
	if (!c_own_netns(rec))
		return 0;
	_cleanup_free_ char *p = xasprintf("/proc/%d/ns/net", pid);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", p);
	json_t *nets = c_networks(rec), *ep, *ep2;
	const char *key2;
	size_t n = json_object_size(nets), i = 0;
	net_endpoint *eps = xcalloc(n + 1, sizeof *eps);
	char(*names)[IFNAMSIZ] = xcalloc(n + 1, IFNAMSIZ);
	char(*ifn)[IFNAMSIZ] = xcalloc(n + 1, IFNAMSIZ);
	const char *k;
	bool route = false;
	int rc = -1;
	json_object_foreach(nets, k, ep)
	{
		network *nw = ep_network(k, ep);
		if (!nw || !ep_ip(ep))
			continue;
		int idx = bridge_index(nw, err);
		if (idx < 0)
			goto out;
		endpoint_fill(&eps[i], nw, ep, names[i], ifn[i], i, idx, !route && !nw->internal);
		eps[i].ifindex = (int)i + 2; /* a new namespace has only lo, 1 */
		route |= !nw->internal;
		i++;
	}
	if (net_nl_attach(N.nl, fd, eps, i, i == 0, err) < 0) {
		/* a bridge deleted (and perhaps made again) behind berthd's back: its index is
		 * looked up again, the bridge made again if need be, and the attach tried once more
		 */
		bool stale = false;
		size_t j = 0;
		json_object_foreach(nets, key2, ep2)
		{
			network *nw = ep_network(key2, ep2);
			if (!nw || !ep_ip(ep2) || j >= i)
				continue;
			int cached = nw->ifindex;
			nw->ifindex = 0;
			int idx = bridge_index(nw, NULL);
			stale |= idx != cached;
			eps[j++].bridge_ifindex = idx;
		}
		if (!stale)
			goto out;
		berth_error_clear(err);
		if (net_nl_attach(N.nl, fd, eps, i, i == 0, err) < 0)
			goto out;
	}
	json_object_set_new(json_object_get(rec, "NetworkSettings"), "SandboxKey", json_string(p));
	if (json_object_size(json_object_get(json_object_get(rec, "NetworkSettings"), "Ports")) &&
	    nft_sync() < 0) {
		berth_error_msg(err, EIO,
				"the published ports' rules could not be written to nftables (see "
				"berthd's log)");
		goto out;
	}
	rc = 0;
out:
	free(eps);
	free(names);
	free(ifn);
	return rc;
}

int net_attach_one(json_t *rec, network *nw, json_t *ep, int pid, size_t index, berth_error *err)
{
	_cleanup_free_ char *p = xasprintf("/proc/%d/ns/net", pid);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", p);
	int idx = bridge_index(nw, err);
	if (idx < 0)
		return -1;
	net_endpoint e;
	char host[IFNAMSIZ], ifn[IFNAMSIZ];
	endpoint_fill(&e, nw, ep, host, ifn, index, idx, false);
	return net_nl_attach(N.nl, fd, &e, 1, false, err);
}

/*
 * The container's processes are gone: its network namespace goes with the last of them and
 * takes the veth pairs along (the kernel does it, asynchronously). Deleting them here would
 * wait for the kernel's RCU grace period (~15 ms) on every exit; a sweep a second later
 * deletes whatever is still there (a namespace someone else kept alive).
 */
void net_release(json_t *rec)
{
	json_t *ep;
	const char *k;
	const char *cid = json_string_value(json_object_get(rec, "Id"));
	bool had_veth = false;
	json_object_foreach(c_networks(rec), k, ep)
	{
		const char *eid = json_string_value(json_object_get(ep, "EndpointID"));
		had_veth |= eid && strlen(eid) >= 9;
	}
	if (had_veth && !ev_is_active(&N.sweep))
		ev_timer_start(D.loop, &N.sweep);
	bool had_ports = false;
	for (port_hold *p = N.ports; p; p = p->next)
		had_ports |= cid && !strcmp(p->cid, cid);
	if (cid)
		port_unhold(cid);
	if (json_is_object(json_object_get(rec, "NetworkSettings")))
		settings_clear(rec);
	if (had_ports)
		nft_sync();
}

/* ---- DNS ---- */

typedef struct dns_tcp dns_tcp;
struct dns_tcp {
	int fd;
	ev_io io;
	ev_timer idle;
	strbuf in;
	network *n;
	struct sockaddr_in from;
	int pending;
	bool closed;
};

typedef struct {
	int fd;
	ev_io io;
	ev_timer timer;
	network *n;
	struct sockaddr_in client;
	dns_tcp *tcp;
	uint8_t *query;
	size_t qlen;
	uint32_t up[8];
	size_t nup, next;
} dns_fwd;

static int dns_forwards;

static void tcp_release(dns_tcp *t)
{
	if (t->pending || !t->closed)
		return;
	sb_release(&t->in);
	free(t);
}

static void tcp_close(dns_tcp *t)
{
	ev_io_stop(D.loop, &t->io);
	ev_timer_stop(D.loop, &t->idle);
	close(t->fd);
	t->closed = true;
	tcp_release(t);
}

static void dns_reply(network *n, const struct sockaddr_in *to, dns_tcp *t, const uint8_t *m,
		      size_t len)
{
	if (t) {
		if (t->closed)
			return;
		uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
		struct iovec iov[2] = {{hdr, 2}, {(void *)m, len}};
		if (writev(t->fd, iov, 2) < 0)
			tcp_close(t);
		return;
	}
	sendto(n->dns_udp, m, len, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof *to);
}

/* The container asking: the one with that address on n. */
static json_t *asker_find(network *n, uint32_t ip)
{
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *rec = container_rec(c), *ep;
		const char *k;
		json_object_foreach(
		    c_networks(rec), k,
		    ep) if (ep_ip(ep) == ip &&
			    !strcmp(json_string_value(json_object_get(ep, "NetworkID")) ?: "",
				    n->id)) return rec;
	}
	return NULL;
}

static bool ep_has_name(json_t *rec, json_t *ep, const char *name)
{
	const char *cn = json_string_value(json_object_get(rec, "Name"));
	if (cn && !strcasecmp(cn[0] == '/' ? cn + 1 : cn, name))
		return true;
	const char *id = json_string_value(json_object_get(rec, "Id"));
	if (id && strlen(name) == 12 && !strncmp(id, name, 12))
		return true;
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(ep, "Aliases"), i,
			   a) if (!strcasecmp(json_string_value(a), name)) return true;
	return false;
}

/* Addresses of name on the networks the asker is on; *known: a name berth has on some
 * network (then the answer is NXDOMAIN rather than a question to the world). */
static size_t dns_lookup(network *n, json_t *asker, const char *name, uint32_t *out, size_t cap,
			 bool *known)
{
	size_t k = 0;
	*known = false;
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *rec = container_rec(c), *ep;
		const char *key;
		json_object_foreach(c_networks(rec), key, ep)
		{
			uint32_t ip = ep_ip(ep);
			network *en = ep_network(key, ep);
			if (!ip || !en || !en->user || !ep_has_name(rec, ep, name))
				continue;
			*known = true;
			bool visible = false;
			if (asker) {
				json_t *aep;
				const char *ak;
				json_object_foreach(c_networks(asker), ak, aep) visible |=
				    ep_ip(aep) && ep_network(ak, aep) == en;
			} else {
				visible = en == n;
			}
			if (visible && k < cap)
				out[k++] = ip;
		}
	}
	return k;
}

static void fwd_free(dns_fwd *f)
{
	ev_io_stop(D.loop, &f->io);
	ev_timer_stop(D.loop, &f->timer);
	if (f->fd >= 0)
		close(f->fd);
	if (f->tcp) {
		f->tcp->pending--;
		tcp_release(f->tcp);
	}
	free(f->query);
	free(f);
	dns_forwards--;
}

static void fwd_fail(dns_fwd *f)
{
	net_dns_query q;
	uint8_t out[512];
	if (net_dns_parse_query(f->query, f->qlen, &q) == 0) {
		int len =
		    net_dns_answer(f->query, &q, NET_DNS_SERVFAIL, NULL, 0, 0, out, sizeof out);
		if (len > 0)
			dns_reply(f->n, &f->client, f->tcp, out, (size_t)len);
	}
	fwd_free(f);
}

static void fwd_send(dns_fwd *f);

static void fwd_read(struct ev_loop *loop, ev_io *w, int revents)
{
	dns_fwd *f = w->data;
	uint8_t b[4096];
	ssize_t n = recv(f->fd, b, sizeof b, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 12) { /* refused: the next resolver */
		fwd_send(f);
		return;
	}
	dns_reply(f->n, &f->client, f->tcp, b, (size_t)n);
	fwd_free(f);
}

static void fwd_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	fwd_send(w->data);
}

static void fwd_send(dns_fwd *f)
{
	ev_io_stop(D.loop, &f->io);
	ev_timer_stop(D.loop, &f->timer);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->next >= f->nup) {
		fwd_fail(f);
		return;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(53),
				 .sin_addr.s_addr = htonl(f->up[f->next++])};
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    send(f->fd, f->query, f->qlen, 0) < 0) {
		fwd_send(f);
		return;
	}
	ev_io_init(&f->io, fwd_read, f->fd, EV_READ);
	f->io.data = f;
	ev_io_start(D.loop, &f->io);
	ev_timer_init(&f->timer, fwd_timeout, 2.0, 0);
	f->timer.data = f;
	ev_timer_start(D.loop, &f->timer);
}

static void dns_forward(network *n, json_t *asker, const uint8_t *m, size_t len,
			const struct sockaddr_in *from, dns_tcp *t)
{
	if (dns_forwards >= 512)
		return; /* the client asks again */
	dns_fwd *f = xzalloc(sizeof *f);
	dns_forwards++;
	f->fd = -1;
	f->n = n;
	f->client = *from;
	f->tcp = t;
	if (t)
		t->pending++;
	f->query = xmalloc(len);
	memcpy(f->query, m, len);
	f->qlen = len;
	json_t *dns = json_object_get(json_object_get(asker, "HostConfig"), "Dns"), *v;
	size_t i;
	json_array_foreach(dns, i, v) if (f->nup < 8 && net_parse_ip(json_string_value(v),
								     &f->up[f->nup]) == 0) f->nup++;
	if (!f->nup)
		f->nup = host_resolvers(f->up, 8);
	fwd_send(f);
}

/* The search domains of a container's resolv.conf, space-separated. */
static char *search_domains(json_t *asker)
{
	_cleanup_strbuf_ strbuf b = STRBUF_INIT;
	json_t *ds = json_object_get(json_object_get(asker, "HostConfig"), "DnsSearch"), *v;
	size_t i;
	json_array_foreach(ds, i, v) sb_addf(&b, "%s ", json_string_value(v));
	if (!b.len) {
		_cleanup_free_ char *t = read_file(resolv_path(), NULL, NULL);
		char *save = NULL;
		for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save))
			if (str_has_prefix(l, "search ") || str_has_prefix(l, "domain "))
				sb_addf(&b, "%s ", l + 7);
	}
	for (size_t k = 0; k < b.len; k++)
		if (b.buf[k] == '\t')
			b.buf[k] = ' ';
	return b.len ? sb_steal(&b) : NULL;
}

static void dns_handle(network *n, const uint8_t *m, size_t len, const struct sockaddr_in *from,
		       dns_tcp *t)
{
	net_dns_query q;
	/* only the network's own containers are answered: berthd is no open resolver */
	if (!net_subnet_contains(n->subnet, ntohl(from->sin_addr.s_addr)) ||
	    net_dns_parse_query(m, len, &q) < 0)
		return;
	json_t *asker = asker_find(n, ntohl(from->sin_addr.s_addr));
	uint32_t addrs[64];
	bool known = false;
	size_t na = 0;
	if (q.qclass == 1)
		na = dns_lookup(n, asker, q.name, addrs, ARRAY_SIZE(addrs), &known);
	/* NAME.SEARCH-DOMAIN is NAME: resolvers that append the search domains first (busybox's
	 * nslookup, musl with ndots above 0) find containers too */
	_cleanup_free_ char *domains =
	    q.qclass == 1 && !na && !known ? search_domains(asker) : NULL;
	char *save = NULL;
	for (char *d = domains ? strtok_r(domains, " ", &save) : NULL; d && !na && !known;
	     d = strtok_r(NULL, " ", &save)) {
		size_t ln = strlen(q.name), ld = strlen(d);
		if (ln <= ld + 1 || q.name[ln - ld - 1] != '.' || strcasecmp(q.name + ln - ld, d))
			continue;
		char base[256];
		snprintf(base, sizeof base, "%.*s", (int)(ln - ld - 1), q.name);
		na = dns_lookup(n, asker, base, addrs, ARRAY_SIZE(addrs), &known);
	}
	if (!na && !known) {
		dns_forward(n, asker, m, len, from, t);
		return;
	}
	/* round robin: each answer starts one further */
	uint32_t rot[64];
	unsigned start = na ? N.rr++ % na : 0;
	for (size_t i = 0; i < na; i++)
		rot[i] = addrs[(start + i) % na];
	bool a = q.qtype == NET_DNS_A || q.qtype == NET_DNS_ANY;
	uint8_t out[4096];
	int l = net_dns_answer(m, &q, na ? NET_DNS_NOERROR : NET_DNS_NXDOMAIN, rot, a ? na : 0,
			       DNS_TTL, out, t ? sizeof out : 512);
	if (l > 0)
		dns_reply(n, from, t, out, (size_t)l);
}

static void dns_udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	network *n = w->data;
	for (int k = 0; k < 32; k++) {
		uint8_t b[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t len =
		    recvfrom(n->dns_udp, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0)
			return;
		dns_handle(n, b, (size_t)len, &from, NULL);
	}
}

static void tcp_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	tcp_close(w->data);
}

static void tcp_read(struct ev_loop *loop, ev_io *w, int revents)
{
	dns_tcp *t = w->data;
	char b[4096];
	ssize_t n = read(t->fd, b, sizeof b);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || t->in.len > 65536 + 2) {
		tcp_close(t);
		return;
	}
	sb_addn(&t->in, b, (size_t)n);
	ev_timer_again(D.loop, &t->idle);
	t->pending++; /* a failed reply closes it: it stays until this loop is done */
	while (t->in.len >= 2 && !t->closed) {
		const uint8_t *u = (const uint8_t *)t->in.buf;
		size_t l = (size_t)(u[0] << 8 | u[1]);
		if (t->in.len < l + 2)
			break;
		dns_handle(t->n, u + 2, l, &t->from, t);
		memmove(t->in.buf, t->in.buf + l + 2, t->in.len - l - 2);
		t->in.len -= l + 2;
	}
	t->pending--;
	tcp_release(t);
}

static void dns_tcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	network *n = w->data;
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	int fd = accept4(n->dns_tcp, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	dns_tcp *t = xzalloc(sizeof *t);
	t->fd = fd;
	t->n = n;
	t->from = from;
	ev_io_init(&t->io, tcp_read, fd, EV_READ);
	t->io.data = t;
	ev_io_start(D.loop, &t->io);
	ev_init(&t->idle, tcp_idle);
	t->idle.repeat = 10.0;
	t->idle.data = t;
	ev_timer_again(D.loop, &t->idle);
}

static int dns_socket(network *n, int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(n->gateway)};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		char b[16];
		fprintf(stderr, "berthd: network %s: DNS on %s:53: %s\n", nname(n),
			net_ip_str(n->gateway, b), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void dns_open(network *n)
{
	if (!n->is_bridge || n->dns_udp >= 0)
		return;
	n->dns_udp = dns_socket(n, SOCK_DGRAM);
	n->dns_tcp = dns_socket(n, SOCK_STREAM);
	if (n->dns_udp >= 0) {
		ev_io_init(&n->udp_io, dns_udp_cb, n->dns_udp, EV_READ);
		n->udp_io.data = n;
		ev_io_start(D.loop, &n->udp_io);
	}
	if (n->dns_tcp >= 0) {
		ev_io_init(&n->tcp_io, dns_tcp_cb, n->dns_tcp, EV_READ);
		n->tcp_io.data = n;
		ev_io_start(D.loop, &n->tcp_io);
	}
}

static void dns_close(network *n)
{
	if (n->dns_udp >= 0) {
		ev_io_stop(D.loop, &n->udp_io);
		close(n->dns_udp);
	}
	if (n->dns_tcp >= 0) {
		ev_io_stop(D.loop, &n->tcp_io);
		close(n->dns_tcp);
	}
	n->dns_udp = n->dns_tcp = -1;
}

/* ---- the API ---- */

static json_t *network_inspect(network *n, bool with_containers)
{
	json_t *o = json_deep_copy(n->rec);
	json_t *cs = json_object();
	for (container *c = D.containers; with_containers && c; c = container_next(c)) {
		json_t *rec = container_rec(c), *ep;
		const char *k;
		json_object_foreach(c_networks(rec), k, ep)
		{
			if (ep_network(k, ep) != n || !ep_ip(ep))
				continue;
			const char *name = json_string_value(json_object_get(rec, "Name"));
			json_object_set_new(
			    cs, json_string_value(json_object_get(rec, "Id")),
			    json_pack(
				"{s:s,s:O,s:O,s:o,s:s}", "Name", name[0] == '/' ? name + 1 : name,
				"EndpointID", json_object_get(ep, "EndpointID"), "MacAddress",
				json_object_get(ep, "MacAddress"), "IPv4Address",
				json_sprintf(
				    "%s/%d", json_string_value(json_object_get(ep, "IPAddress")),
				    (int)json_integer_value(json_object_get(ep, "IPPrefixLen"))),
				"IPv6Address", ""));
		}
	}
	json_object_set_new(o, "Containers", cs);
	return o;
}

static void event_net(network *n, const char *action, const char *cid)
{
	json_t *a = json_pack("{s:s,s:s}", "name", nname(n), "type",
			      json_string_value(json_object_get(n->rec, "Driver")));
	if (cid)
		json_object_set_new(a, "container", json_string(cid));
	daemon_event("network", action, n->id, a);
}

static const char *users_of(network *n, strbuf *names)
{
	for (container *c = D.containers; c; c = container_next(c)) {
		json_t *rec = container_rec(c), *ep;
		const char *k;
		json_object_foreach(c_networks(rec), k, ep) if (ep_network(k, ep) == n)
		{
			const char *name = json_string_value(json_object_get(rec, "Name"));
			sb_addf(names, "%s%s", names->len ? ", " : "",
				name[0] == '/' ? name + 1 : name);
			break;
		}
	}
	return names->len ? names->buf : NULL;
}

static void unlink_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
	network *n = w->data;
	ev_child_stop(loop, w);
	n->unlink_pid = 0;
}

void net_unlink_early(const char *name, json_t *going)
{
	network *n = network_find(name);
	if (!n || strcmp(nname(n), name) || !n->user || !n->is_bridge || n->unlink_pid)
		return;
	for (container *c = D.containers; c; c = container_next(c))
		if (json_object_get(c_networks(container_rec(c)), nname(n)) &&
		    (!json_object_get(going, container_id(c)) || container_alive(c)))
			return;
	pid_t pid = fork();
	if (pid == 0) {
		closefrom(3); /* nothing of berthd's: its lock, its sockets */
		net_nl *nl = net_nl_open(NULL);
		if (nl)
			net_nl_link_del(nl, n->bridge, NULL);
		_exit(0);
	}
	if (pid < 0)
		return;
	n->unlink_pid = pid;
	ev_child_init(&n->unlink_w, unlink_reaped, pid, 0);
	n->unlink_w.data = n;
	ev_child_start(D.loop, &n->unlink_w);
}

static int network_remove(network *n, berth_error *err)
{
	if (!n->user)
		return berth_error_msg(
		    err, EPERM, "%s is a pre-defined network and cannot be removed", nname(n));
	_cleanup_strbuf_ strbuf users = STRBUF_INIT;
	if (users_of(n, &users))
		return berth_error_msg(err, EBUSY,
				       "error while removing network: network %s id %s has active "
				       "endpoints (%s)",
				       nname(n), n->id, users.buf);
	_cleanup_free_ char *p = xasprintf("%s/%s.json", N.dir, n->id);
	if (unlink(p) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "unlink %s", p);
	for (network **pp = &N.list; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	dns_close(n);
	if (n->unlink_pid) {
		/* the child deleting the bridge early finishes first (it may be reaped already) */
		ev_child_stop(D.loop, &n->unlink_w);
		while (waitpid(n->unlink_pid, NULL, 0) < 0 && errno == EINTR) {
		}
		n->unlink_pid = 0;
	}
	net_nl_link_del(N.nl, n->bridge, NULL);
	nft_sync();
	event_net(n, "destroy", NULL);
	network_free(n);
	return 0;
}

static bool label_filter_match(json_t *filters, json_t *rec)
{
	json_t *labels = json_object_get(filters, "label"), *v;
	size_t i;
	json_array_foreach(labels, i, v)
	{
		const char *f = json_string_value(v);
		const char *eq = strchr(f, '=');
		_cleanup_free_ char *key = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f);
		json_t *lv = json_object_get(json_object_get(rec, "Labels"), key);
		if (!lv || (eq && strcmp(json_string_value(lv), eq + 1)))
			return false;
	}
	json_t *names = json_object_get(filters, "name");
	bool any = !json_array_size(names);
	json_array_foreach(names, i, v) any |=
	    strstr(json_string_value(json_object_get(rec, "Name")), json_string_value(v)) != NULL;
	return any;
}

const char *net_create(json_t *body, int *status, berth_error *err)
{
	const char *name = json_string_value(json_object_get(body, "Name"));
	const char *drv = json_string_value(json_object_get(body, "Driver"));
	*status = 400;
	if (!name || !*name || !volume_valid_name(name)) {
		berth_error_msg(err, EINVAL,
				"invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] "
				"are allowed",
				name ? name : "");
		return NULL;
	}
	if (drv && *drv && strcmp(drv, "bridge")) {
		berth_error_msg(err, EINVAL,
				"network driver \"%s\" is not supported: berth makes bridge "
				"networks",
				drv);
		return NULL;
	}
	if (network_find(name) && !strcmp(nname(network_find(name)), name)) {
		*status = 409;
		berth_error_msg(err, EEXIST, "network with name %s already exists", name);
		return NULL;
	}
	network *n = network_new(name, "bridge", body, err);
	if (!n)
		goto fail;
	/* a link of that name that berth did not make is never taken over (nor deleted later) */
	if (net_nl_link_exists(N.nl, n->bridge)) {
		berth_error_msg(err, EEXIST, "a network interface named %s exists already",
				n->bridge);
		network_free(n);
		goto fail;
	}
	if (network_save(n, err) < 0) {
		network_free(n);
		goto fail;
	}
	n->next = N.list;
	N.list = n;
	if (network_up(n, err) < 0) {
		berth_error e2 = BERTH_ERROR_INIT;
		network_remove(n, &e2);
		berth_error_clear(&e2);
		goto fail;
	}
	nft_sync();
	event_net(n, "create", NULL);
	return n->id;
fail:
	*status = err->code == EEXIST ? 409 : err->code == EINVAL ? 400 : 500;
	return NULL;
}

bool net_exists(const char *name)
{
	network *n = network_find(name);
	return n && !strcmp(nname(n), name);
}

int net_remove(const char *name, berth_error *err)
{
	network *n = network_find(name);
	if (!n || strcmp(nname(n), name))
		return 0;
	return network_remove(n, err);
}

char **net_names_labelled(const char *key, const char *value)
{
	size_t k = 0;
	char **out = xcalloc(1, sizeof *out);
	for (network *n = N.list; n; n = n->next) {
		const char *v =
		    json_string_value(json_object_get(json_object_get(n->rec, "Labels"), key));
		if (!v || strcmp(v, value))
			continue;
		out = xrealloc(out, (k + 2) * sizeof *out);
		out[k++] = xstrdup(nname(n));
		out[k] = NULL;
	}
	return out;
}

static void create_h(http_conn *conn, json_t *body)
{
	berth_error err = BERTH_ERROR_INIT;
	int status;
	const char *id = net_create(body, &status, &err);
	if (id)
		http_respond(conn, 201, json_pack("{s:s,s:s}", "Id", id, "Warning", ""));
	else
		http_respond_error(conn, status, "%s", err.msg);
	berth_error_clear(&err);
}

/* connect and disconnect: a running container gets or loses an interface at once */
static void connect_h(http_conn *conn, network *n, json_t *body, bool disconnect)
{
	berth_error err = BERTH_ERROR_INIT;
	container *c = container_find(json_string_value(json_object_get(body, "Container")), &err);
	if (!c) {
		http_respond_error(conn, 404, "%s", err.msg);
		berth_error_clear(&err);
		return;
	}
	json_t *rec = container_rec(c);
	if (!c_own_netns(rec) || !strcmp(c_mode(rec), "none") || !n->is_bridge) {
		http_respond_error(conn, 400, "container %s with network mode %s cannot be %s",
				   container_name_of(container_id(c)), c_mode(rec),
				   disconnect ? "disconnected" : "connected to other networks");
		return;
	}
	json_t *nets = c_networks(rec);
	json_t *ep = json_object_get(nets, nname(n));
	bool running = c_running(rec);
	if (disconnect) {
		if (!ep) {
			http_respond_error(conn, 409, "container %s is not connected to network %s",
					   container_name_of(container_id(c)), nname(n));
			return;
		}
		const char *eid = json_string_value(json_object_get(ep, "EndpointID"));
		if (running && eid && strlen(eid) >= 9) {
			char name[IFNAMSIZ];
			snprintf(name, sizeof name, "berthv%.9s", eid);
			net_nl_link_del(N.nl, name, NULL);
		}
		json_object_del(nets, nname(n));
	} else {
		if (ep) {
			http_respond_error(conn, 403,
					   "endpoint with name %s already exists in network %s",
					   container_name_of(container_id(c)), nname(n));
			return;
		}
		json_t *cfg = json_object_get(body, "EndpointConfig");
		json_t *tmp = json_pack("{s:{s:s},s:{s:O}}", "HostConfig", "NetworkMode", nname(n),
					"NetworkingConfig", "EndpointsConfig", json_null());
		json_object_set(json_object_get(tmp, "NetworkingConfig"), "EndpointsConfig",
				json_pack("{s:O}", nname(n), cfg ? cfg : json_null()));
		json_t *ns = net_settings_for_create(tmp, &err);
		json_decref(tmp);
		if (!ns) {
			http_respond_error(conn, 400, "%s", err.msg);
			berth_error_clear(&err);
			return;
		}
		ep = json_incref(json_object_get(json_object_get(ns, "Networks"), nname(n)));
		json_decref(ns);
		json_object_set_new(nets, nname(n), ep);
		if (running) {
			long long pid = json_integer_value(
			    json_object_get(json_object_get(rec, "State"), "Pid"));
			if (ep_allocate(rec, n, ep, &err) < 0 ||
			    net_attach_one(rec, n, ep, (int)pid, json_object_size(nets) - 1, &err) <
				0) {
				json_object_del(nets, nname(n));
				http_respond_error(conn, 400, "%s", err.msg);
				berth_error_clear(&err);
				return;
			}
		}
	}
	if (container_save(c, &err) < 0) {
		http_respond_error(conn, 500, "%s", err.msg);
		berth_error_clear(&err);
		return;
	}
	event_net(n, disconnect ? "disconnect" : "connect", container_id(c));
	http_respond(conn, 200, NULL);
}

void network_h(http_conn *conn, http_request *req, const char *rest)
{
	bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
	json_error_t je;
	json_t *body = NULL;
	if (post) {
		body = json_loadb(req->body.buf ? req->body.buf : "{}",
				  req->body.len ? req->body.len : 2, 0, &je);
		if (!json_is_object(body)) {
			http_respond_error(conn, 400, "invalid JSON body: %s",
					   body ? "not an object" : je.text);
			json_decref(body);
			return;
		}
	}
	if ((!*rest || !strcmp(rest, "/")) && get) {
		_cleanup_free_ char *f = http_query(req->query, "filters");
		json_t *filters = f ? json_loads(f, 0, NULL) : NULL;
		json_t *out = json_array();
		for (network *n = N.list; n; n = n->next)
			if (label_filter_match(filters, n->rec))
				json_array_append_new(out, network_inspect(n, false));
		json_decref(filters);
		http_respond(conn, 200, out);
	} else if (!strcmp(rest, "/create") && post) {
		create_h(conn, body);
	} else if (!strcmp(rest, "/prune") && post) {
		_cleanup_free_ char *f = http_query(req->query, "filters");
		json_t *filters = f ? json_loads(f, 0, NULL) : NULL;
		json_t *gone = json_array();
		for (network *n = N.list, *next; n; n = next) {
			next = n->next;
			_cleanup_strbuf_ strbuf users = STRBUF_INIT;
			if (!n->user || users_of(n, &users) || !label_filter_match(filters, n->rec))
				continue;
			_cleanup_free_ char *name = xstrdup(nname(n));
			if (network_remove(n, NULL) == 0)
				json_array_append_new(gone, json_string(name));
		}
		json_decref(filters);
		http_respond(conn, 200, json_pack("{s:o}", "NetworksDeleted", gone));
	} else if (*rest == '/') {
		_cleanup_free_ char *ref = xstrdup(rest + 1);
		char *op = strchr(ref, '/');
		if (op)
			*op++ = '\0';
		network *n = network_find(ref);
		if (!n) {
			http_respond_error(conn, 404, "network %s not found", ref);
		} else if (!op && get) {
			http_respond(conn, 200, network_inspect(n, true));
		} else if (!op && !strcmp(req->method, "DELETE")) {
			berth_error err = BERTH_ERROR_INIT;
			if (network_remove(n, &err) < 0)
				http_respond_error(conn, err.code == EPERM ? 403 : 409, "%s",
						   err.msg);
			else
				http_respond(conn, 204, NULL);
			berth_error_clear(&err);
		} else if (op && post && (!strcmp(op, "connect") || !strcmp(op, "disconnect"))) {
			connect_h(conn, n, body, !strcmp(op, "disconnect"));
		} else {
			http_respond_error(conn, 404, "page not found");
		}
	} else {
		http_respond_error(conn, 404, "page not found");
	}
	json_decref(body);
}
