/*
 * IPAM: IPv4 subnets from pools and addresses in subnets.  Pure functions:
 * berthd passes in what is taken (routes of the host, other networks,
 * addresses in use) and keeps the results in its records.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int net_parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

uint32_t net_subnet_mask(int prefix)
{
	return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int net_parse_subnet(const char *s, bool loose, net_subnet *out)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 15)
		return -1;
	char ip[16];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	char *end;
	errno = 0;
	long p = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || p < 0 || p > 32)
		return -1;
	uint32_t a;
	if (net_parse_ip(ip, &a) < 0)
		return -1;
	uint32_t m = net_subnet_mask((int)p);
	if (!loose && (a & ~m))
		return -1;
	out->addr = a & m;
	out->prefix = (int)p;
	return 0;
}

const char *net_ip_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

char *net_subnet_str(net_subnet s)
{
	char b[16];
	return xasprintf("%s/%d", net_ip_str(s.addr, b), s.prefix);
}

bool net_subnet_contains(net_subnet s, uint32_t ip)
{
	return (ip & net_subnet_mask(s.prefix)) == s.addr;
}

bool net_subnets_overlap(net_subnet a, net_subnet b)
{
	int p = a.prefix < b.prefix ? a.prefix : b.prefix;
	uint32_t m = net_subnet_mask(p);
	return (a.addr & m) == (b.addr & m);
}

int net_pools_parse(const char *s, net_pool **out, size_t *n, berth_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *colon = strrchr(tok, ':');
		net_pool p;
		char *end = NULL;
		if (colon) {
			*colon = '\0';
			p.size = (int)strtol(colon + 1, &end, 10);
		}
		if (!colon || *end || net_parse_subnet(tok, false, &p.base) < 0 ||
		    p.size < p.base.prefix || p.size > 30) {
			free(*out);
			*out = NULL;
			*n = 0;
			return berth_error_msg(err, EINVAL,
					       "address pool \"%s\": expected BASE/N:SIZE with "
					       "SIZE between N and 30, as 172.17.0.0/12:16",
					       tok);
		}
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = p;
	}
	if (!*n)
		return berth_error_msg(err, EINVAL, "no address pool given");
	return 0;
}

int net_pools_pick(const net_pool *pools, size_t npools, const net_subnet *taken, size_t ntaken,
		   net_subnet *out)
{
	for (size_t i = 0; i < npools; i++) {
		const net_pool *p = &pools[i];
		uint64_t count = 1ull << (p->size - p->base.prefix);
		uint64_t step = 1ull << (32 - p->size);
		for (uint64_t k = 0; k < count; k++) {
			net_subnet s = {.addr = (uint32_t)(p->base.addr + k * step),
					.prefix = p->size};
			bool free_ = true;
			for (size_t t = 0; t < ntaken && free_; t++)
				if (net_subnets_overlap(s, taken[t]))
					free_ = false;
			if (free_) {
				*out = s;
				return 0;
			}
		}
	}
	return -1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t net_addr_pick(net_subnet subnet, net_subnet range, const uint32_t *used, size_t nused)
{
	if (subnet.prefix > 30)
		return 0;
	uint32_t bcast = subnet.addr | ~net_subnet_mask(subnet.prefix);
	uint32_t lo = range.addr, hi = range.addr | ~net_subnet_mask(range.prefix);
	if (lo <= subnet.addr)
		lo = subnet.addr + 1;
	if (hi >= bcast)
		hi = bcast - 1;
	_cleanup_free_ uint32_t *u = xcalloc(nused + 1, sizeof *u);
	memcpy(u, used, nused * sizeof *u);
	qsort(u, nused, sizeof *u, cmp_u32);
	size_t k = 0;
	for (uint64_t a = lo; a <= hi; a++) {
		while (k < nused && u[k] < a)
			k++;
		if (k < nused && u[k] == a)
			continue;
		return (uint32_t)a;
	}
	return 0;
}
