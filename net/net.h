/*
 * net: the host's side of container networking.
 *
 *   netlink.c  links, addresses, routes through libnl-route-3 (no `ip` commands)
 *   ipam.c     IPv4 subnets and addresses: parsing, pools, allocation
 *   nft.c      berth's own nftables table through libnftables
 *   dns.c      DNS messages: reading a query, writing an answer
 *
 * Nothing here keeps state between calls except an open netlink socket and
 * an nftables context: berthd holds the state and asks for changes.
 */
#ifndef BERTH_NET_H
#define BERTH_NET_H

#include "../common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- IPv4 addresses and subnets (ipam.c); addresses in host byte order ---- */

typedef struct {
	uint32_t addr; /* the network address (host bits zero) */
	int prefix;    /* 0..32 */
} net_subnet;

/* "a.b.c.d" -> 0 and *out; -1 if it is not one. */
int net_parse_ip(const char *s, uint32_t *out);
/* "a.b.c.d/N" -> 0; host bits must be zero unless loose. */
int net_parse_subnet(const char *s, bool loose, net_subnet *out);
/* Writes "a.b.c.d" into buf (16 bytes). */
const char *net_ip_str(uint32_t ip, char buf[16]);
/* Newly allocated "a.b.c.d/N". */
char *net_subnet_str(net_subnet s);
bool net_subnet_contains(net_subnet s, uint32_t ip);
bool net_subnets_overlap(net_subnet a, net_subnet b);
uint32_t net_subnet_mask(int prefix);

/* A pool of subnets: base split into subnets of `size` bits (Docker's default-address-pools). */
typedef struct {
	net_subnet base;
	int size;
} net_pool;

/* Parses "base/N:size,base/N:size"; 0 or -1 with err. */
int net_pools_parse(const char *s, net_pool **out, size_t *n, berth_error *err);
/* The first subnet of the pools that overlaps none of `taken`; -1 if the pools are full. */
int net_pools_pick(const net_pool *pools, size_t npools, const net_subnet *taken, size_t ntaken,
		   net_subnet *out);
/* The lowest free host address of range (inside subnet) that is not the network, the
 * broadcast, or in used[]; 0 if none is free. */
uint32_t net_addr_pick(net_subnet subnet, net_subnet range, const uint32_t *used, size_t nused);

/* ---- netlink (netlink.c) ---- */

typedef struct net_nl net_nl;

/* A route socket in the calling process's network namespace. */
net_nl *net_nl_open(berth_error *err);
void net_nl_close(net_nl *nl);

/* A bridge with gateway/prefix as its address, up; reuses one that exists. Sets its
 * route_localnet so that DNAT from 127.0.0.1 can reach its containers. */
int net_nl_bridge_ensure(net_nl *nl, const char *name, uint32_t gateway, int prefix,
			 berth_error *err);
/* Deletes a link by name; a link that is not there is not an error. */
int net_nl_link_del(net_nl *nl, const char *name, berth_error *err);
bool net_nl_link_exists(net_nl *nl, const char *name);
/* Names of the links whose names start with prefix (NULL-terminated, free with strv_free);
 * *kinds (if given) gets "bridge", "veth", ... for each. */
char **net_nl_links(net_nl *nl, const char *prefix, char ***kinds, berth_error *err);
/* Every IPv4 route destination in the main table (for choosing free subnets). */
int net_nl_routes(net_nl *nl, net_subnet **out, size_t *n, berth_error *err);

/* One container interface: a veth pair whose host end (host_name) is a port of the
 * bridge and whose other end appears in the namespace nsfd as ifname, configured with
 * ip/prefix, mac, and (gateway != 0) a default route. */
typedef struct {
	const char *host_name, *ifname;
	int bridge_ifindex;
	int ifindex; /* the index inside the namespace (a new one has only lo, 1); 0: any */
	uint32_t ip, gateway;
	int prefix;
	bool default_route;
	uint8_t mac[6];
} net_endpoint;

int net_nl_bridge_ifindex(net_nl *nl, const char *name, berth_error *err);
/* Creates the endpoints of a container: each veth in nl's namespace, its peer moved into
 * nsfd; then, in that namespace, addresses, lo up, links up and the default route. */
int net_nl_attach(net_nl *nl, int nsfd, const net_endpoint *eps, size_t n, bool lo_only,
		  berth_error *err);

/* ---- nftables (nft.c) ---- */

typedef struct net_nft net_nft;

net_nft *net_nft_new(berth_error *err);
void net_nft_free(net_nft *n);
/* Replaces berth's table `table` (family ip) by body (the inside of `table ip NAME { }`)
 * in one transaction; body NULL removes the table. Nothing else in the ruleset is touched. */
int net_nft_apply(net_nft *n, const char *table, const char *body, berth_error *err);

/* ---- DNS messages (dns.c) ---- */

enum { NET_DNS_A = 1, NET_DNS_AAAA = 28, NET_DNS_ANY = 255 };
enum { NET_DNS_NOERROR = 0, NET_DNS_FORMERR = 1, NET_DNS_SERVFAIL = 2, NET_DNS_NXDOMAIN = 3 };

typedef struct {
	uint16_t id, qtype, qclass, flags;
	char name[256];	     /* lower case, no trailing dot */
	size_t question_end; /* offset of the end of the question section */
} net_dns_query;

/* Reads the first question of a query; -1 if the message is not a well-formed query. */
int net_dns_parse_query(const uint8_t *msg, size_t len, net_dns_query *q);
/* Writes an answer to q into out (cap bytes): rcode, and the A records addrs[0..n)
 * (network order not needed: host order in, wire order out) with ttl. Returns its
 * length, or -1 if it does not fit. The question is copied from msg. */
int net_dns_answer(const uint8_t *msg, const net_dns_query *q, int rcode, const uint32_t *addrs,
		   size_t n, uint32_t ttl, uint8_t *out, size_t cap);

/* ---- small things ---- */

void strv_free(char **v);

#endif
