/*
 * Links, addresses and routes through libnl-route-3: the bridges of
 * networks on the host, and the veth pairs of containers.  The container's
 * end of a pair is created directly in its network namespace (IFLA_NET_NS_FD
 * on the peer), named eth0, eth1, ... there; a second route socket opened
 * inside that namespace then sets its address, state and default route.
 * berthd is one thread, so entering the namespace to open that socket and
 * leaving it at once affects nothing else.
 */
#include "net.h"
#include "../common/fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct net_nl {
	struct nl_sock *sk;
	int host_ns;
};

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int nlerr(berth_error *err, int r, const char *what, const char *name)
{
	int code = r == -NLE_EXIST	    ? EEXIST
		   : r == -NLE_OBJ_NOTFOUND ? ENOENT
		   : r == -NLE_PERM	    ? EPERM
		   : r == -NLE_BUSY	    ? EBUSY
					    : EIO;
	return berth_error_msg(err, code, "%s %s: %s", what, name, nl_geterror(r));
}

static struct nl_sock *route_socket(berth_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		berth_error_msg(err, ENOMEM, "netlink: cannot allocate a socket");
		return NULL;
	}
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nlerr(err, r, "netlink", "connect");
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

net_nl *net_nl_open(berth_error *err)
{
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host < 0) {
		berth_error_set(err, errno, "open /proc/self/ns/net");
		return NULL;
	}
	struct nl_sock *sk = route_socket(err);
	if (!sk) {
		close(host);
		return NULL;
	}
	net_nl *nl = xzalloc(sizeof *nl);
	nl->sk = sk;
	nl->host_ns = host;
	return nl;
}

void net_nl_close(net_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	close(nl->host_ns);
	free(nl);
}

static struct nl_addr *ipv4(uint32_t ip, int prefix)
{
	uint32_t be = htonl(ip);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
	nl_addr_set_prefixlen(a, prefix);
	return a;
}

static int add_addr(struct nl_sock *sk, int ifindex, uint32_t ip, int prefix, const char *name,
		    berth_error *err)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = ipv4(ip, prefix);
	struct nl_addr *bcast = ipv4(ip | ~net_subnet_mask(prefix), 32);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_local(a, local);
	if (prefix < 31)
		rtnl_addr_set_broadcast(a, bcast);
	int r = rtnl_addr_add(sk, a, 0);
	nl_addr_put(local);
	nl_addr_put(bcast);
	rtnl_addr_put(a);
	if (r < 0 && r != -NLE_EXIST)
		return nlerr(err, r, "add address to", name);
	return 0;
}

/* A bridge of berth's carries its gateway's address only: one left by another state root
 * (another berthd, a test) would stay routed and push every later subnet further. */
static int drop_other_addrs(struct nl_sock *sk, int ifindex, uint32_t gateway, int prefix)
{
	struct nl_cache *cache = NULL;
	if (rtnl_addr_alloc_cache(sk, &cache) < 0)
		return 0; /* not worth failing for */
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET ||
		    !local || nl_addr_get_len(local) != 4)
			continue;
		uint32_t be;
		memcpy(&be, nl_addr_get_binary_addr(local), 4);
		if (ntohl(be) == gateway && (int)rtnl_addr_get_prefixlen(a) == prefix)
			continue;
		rtnl_addr_delete(sk, a, 0);
	}
	nl_cache_free(cache);
	return 0;
}

static int link_up(struct nl_sock *sk, struct rtnl_link *l, berth_error *err)
{
	if (rtnl_link_get_flags(l) & IFF_UP)
		return 0;
	struct rtnl_link *ch = rtnl_link_alloc();
	rtnl_link_set_flags(ch, IFF_UP);
	int r = rtnl_link_change(sk, l, ch, 0);
	rtnl_link_put(ch);
	if (r < 0)
		return nlerr(err, r, "set up", rtnl_link_get_name(l));
	return 0;
}

int net_nl_bridge_ensure(net_nl *nl, const char *name, uint32_t gateway, int prefix,
			 berth_error *err)
{
	/* A bridge without an address of its own takes the lowest of its ports' and changes it
	 * as containers come and go: its containers' ARP caches would then point at a MAC that
	 * is gone. It gets a fixed one, 02:42 and the gateway's address, as a container's is. */
	uint8_t mb[6] = {0x02,
			 0x42,
			 (uint8_t)(gateway >> 24),
			 (uint8_t)(gateway >> 16),
			 (uint8_t)(gateway >> 8),
			 (uint8_t)gateway};
	struct nl_addr *mac = nl_addr_build(AF_LLC, mb, 6);
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(nl->sk, 0, name, &l);
	if (r < 0) {
		struct rtnl_link *b = rtnl_link_bridge_alloc();
		rtnl_link_set_name(b, name);
		rtnl_link_set_addr(b, mac);
		r = rtnl_link_add(nl->sk, b, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(b);
		if (r < 0 && r != -NLE_EXIST) {
			nl_addr_put(mac);
			return nlerr(err, r, "create bridge", name);
		}
		r = rtnl_link_get_kernel(nl->sk, 0, name, &l);
		if (r < 0) {
			nl_addr_put(mac);
			return nlerr(err, r, "find bridge", name);
		}
	}
	int rc = -1;
	_cleanup_free_ char *p = xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", name);
	if (!rtnl_link_get_addr(l) || nl_addr_cmp(rtnl_link_get_addr(l), mac)) {
		struct rtnl_link *ch = rtnl_link_alloc();
		rtnl_link_set_addr(ch, mac);
		r = rtnl_link_change(nl->sk, l, ch, 0);
		rtnl_link_put(ch);
		if (r < 0) {
			nlerr(err, r, "set the address of", name);
			goto out;
		}
	}
	if (strcmp(rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "", "bridge")) {
		berth_error_msg(err, EEXIST, "a link named %s exists and is not a bridge", name);
		goto out;
	}
	if (drop_other_addrs(nl->sk, rtnl_link_get_ifindex(l), gateway, prefix) < 0 ||
	    add_addr(nl->sk, rtnl_link_get_ifindex(l), gateway, prefix, name, err) < 0 ||
	    link_up(nl->sk, l, err) < 0)
		goto out;
	/* DNAT of 127.0.0.1:PORT to a container leaves through this bridge */
	if (write_file_str(p, "1", err) < 0)
		goto out;
	rc = 0;
out:
	nl_addr_put(mac);
	rtnl_link_put(l);
	return rc;
}

int net_nl_bridge_ifindex(net_nl *nl, const char *name, berth_error *err)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(nl->sk, 0, name, &l);
	if (r < 0)
		return nlerr(err, r, "find bridge", name);
	int idx = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return idx;
}

bool net_nl_link_exists(net_nl *nl, const char *name)
{
	struct rtnl_link *l = NULL;
	if (rtnl_link_get_kernel(nl->sk, 0, name, &l) < 0)
		return false;
	rtnl_link_put(l);
	return true;
}

int net_nl_link_del(net_nl *nl, const char *name, berth_error *err)
{
	struct rtnl_link *l = rtnl_link_alloc();
	rtnl_link_set_name(l, name);
	int r = rtnl_link_delete(nl->sk, l);
	rtnl_link_put(l);
	if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
		return nlerr(err, r, "delete link", name);
	return 0;
}

char **net_nl_links(net_nl *nl, const char *prefix, char ***kinds, berth_error *err)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache);
	if (r < 0) {
		nlerr(err, r, "list", "links");
		return NULL;
	}
	size_t n = 0, cap = (size_t)nl_cache_nitems(cache) + 1;
	char **names = xcalloc(cap, sizeof *names);
	if (kinds)
		*kinds = xcalloc(cap, sizeof **kinds);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *name = rtnl_link_get_name(l);
		if (!name || !str_has_prefix(name, prefix) || n + 1 >= cap)
			continue;
		if (kinds)
			(*kinds)[n] = xstrdup(rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "");
		names[n++] = xstrdup(name);
	}
	nl_cache_free(cache);
	return names;
}

int net_nl_routes(net_nl *nl, net_subnet **out, size_t *n, berth_error *err)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_route_alloc_cache(nl->sk, AF_INET, 0, &cache);
	*out = NULL;
	*n = 0;
	if (r < 0)
		return nlerr(err, r, "list", "routes");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || !dst ||
		    nl_addr_get_prefixlen(dst) == 0 || nl_addr_get_len(dst) != 4)
			continue;
		uint32_t be;
		memcpy(&be, nl_addr_get_binary_addr(dst), 4);
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		int p = (int)nl_addr_get_prefixlen(dst);
		(*out)[(*n)++] = (net_subnet){.addr = ntohl(be) & net_subnet_mask(p), .prefix = p};
	}
	nl_cache_free(cache);
	return 0;
}

/* A route socket inside the namespace nsfd. */
static struct nl_sock *socket_in(net_nl *nl, int nsfd, berth_error *err)
{
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		berth_error_set(err, errno, "enter the container's network namespace");
		return NULL;
	}
	struct nl_sock *sk = route_socket(err);
	if (setns(nl->host_ns, CLONE_NEWNET) < 0) {
		/* berthd cannot go on in the wrong namespace */
		perror("berthd: return to the host's network namespace");
		abort();
	}
	return sk;
}

static int create_veth(net_nl *nl, int nsfd, const net_endpoint *ep, berth_error *err)
{
	struct rtnl_link *veth = rtnl_link_veth_alloc();
	if (!veth)
		return berth_error_msg(err, ENOMEM, "netlink: cannot allocate a veth");
	rtnl_link_set_name(veth, ep->host_name);
	rtnl_link_set_master(veth, ep->bridge_ifindex);
	rtnl_link_set_flags(veth, IFF_UP);
	struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, ep->ifname);
	if (ep->ifindex > 0)
		rtnl_link_set_ifindex(peer, ep->ifindex);
	rtnl_link_set_ns_fd(peer, nsfd);
	struct nl_addr *mac = nl_addr_build(AF_LLC, ep->mac, 6);
	rtnl_link_set_addr(peer, mac);
	nl_addr_put(mac);
	rtnl_link_put(peer);
	int r = rtnl_link_add(nl->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(veth);
	if (r < 0)
		return nlerr(err, r, "create veth", ep->host_name);
	return 0;
}

static int default_route(struct nl_sock *sk, int ifindex, uint32_t gw, const char *name,
			 berth_error *err)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *dst = ipv4(0, 0), *via = ipv4(gw, 32);
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(rt, RTPROT_BOOT);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(rt, nh);
	int r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
	nl_addr_put(dst);
	nl_addr_put(via);
	rtnl_route_put(rt);
	if (r < 0 && r != -NLE_EXIST)
		return nlerr(err, r, "add the default route through", name);
	return 0;
}

/* Sets a link up by its index, without asking for it first. */
static int up_by_index(struct nl_sock *sk, int ifindex, const char *name, berth_error *err)
{
	struct rtnl_link *l = rtnl_link_alloc(), *ch = rtnl_link_alloc();
	rtnl_link_set_ifindex(l, ifindex);
	rtnl_link_set_flags(ch, IFF_UP);
	int r = rtnl_link_change(sk, l, ch, 0);
	rtnl_link_put(l);
	rtnl_link_put(ch);
	if (r < 0)
		return nlerr(err, r, "set up", name);
	return 0;
}

/* Four requests for a container with one network: lo up, eth0 up, its address, the route
 * (the veth was made at a known index: nothing is asked first). */
static int configure_inside(struct nl_sock *sk, const net_endpoint *eps, size_t n, bool lo,
			    berth_error *err)
{
	if (lo && up_by_index(sk, 1, "lo", err) < 0) /* lo is always 1 in a namespace */
		return -1;
	for (size_t i = 0; i < n; i++) {
		const net_endpoint *ep = &eps[i];
		int idx = ep->ifindex;
		berth_error e2 = BERTH_ERROR_INIT;
		/* the index asked for at creation, else (a namespace that had other links) by name
		 */
		if (idx <= 0 || up_by_index(sk, idx, ep->ifname, &e2) < 0) {
			berth_error_clear(&e2);
			struct rtnl_link *l = NULL;
			int r = rtnl_link_get_kernel(sk, 0, ep->ifname, &l);
			if (r < 0)
				return nlerr(err, r, "find", ep->ifname);
			idx = rtnl_link_get_ifindex(l);
			r = link_up(sk, l, err);
			rtnl_link_put(l);
			if (r < 0)
				return -1;
		}
		if (add_addr(sk, idx, ep->ip, ep->prefix, ep->ifname, err) < 0)
			return -1;
		if (ep->default_route && default_route(sk, idx, ep->gateway, ep->ifname, err) < 0)
			return -1;
	}
	return 0;
}

int net_nl_attach(net_nl *nl, int nsfd, const net_endpoint *eps, size_t n, bool lo_only,
		  berth_error *err)
{
	size_t made = 0;
	int rc = -1;
	struct nl_sock *sk = NULL;
	for (; !lo_only && made < n; made++)
		if (create_veth(nl, nsfd, &eps[made], err) < 0)
			goto out;
	sk = socket_in(nl, nsfd, err);
	/* lo_only: a namespace without networks; n without lo_only and a first index of 0: an
	 * interface added to a running container (lo is up already) */
	if (!sk ||
	    configure_inside(sk, eps, lo_only ? 0 : n, lo_only || eps[0].ifindex > 0, err) < 0)
		goto out;
	rc = 0;
out:
	if (sk)
		nl_socket_free(sk);
	if (rc < 0)
		for (size_t i = 0; i < made; i++)
			net_nl_link_del(nl, eps[i].host_name, NULL);
	return rc;
}
