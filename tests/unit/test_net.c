/* Unit tests of net/'s pure parts: addresses, subnets, pools, allocation, DNS messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../net/net.h"

static void subnets_parse_strictly(void **state)
{
	net_subnet s;
	assert_int_equal(net_parse_subnet("10.5.0.0/16", false, &s), 0);
	assert_int_equal(s.addr, 0x0a050000u);
	assert_int_equal(s.prefix, 16);
	assert_int_equal(net_parse_subnet("10.5.1.0/16", false, &s), -1); /* host bits */
	assert_int_equal(net_parse_subnet("10.5.1.0/16", true, &s), 0);
	assert_int_equal(s.addr, 0x0a050000u);
	assert_int_equal(net_parse_subnet("10.5.0.0/33", false, &s), -1);
	assert_int_equal(net_parse_subnet("10.5.0.0", false, &s), -1);
	assert_int_equal(net_parse_subnet("10.5.0/8", false, &s), -1);
	assert_int_equal(net_parse_subnet("10.0.0.0/8x", false, &s), -1);
	char b[16];
	assert_string_equal(net_ip_str(0xac110001u, b), "172.17.0.1");
	char *t = net_subnet_str((net_subnet){0xc0a81000u, 20});
	assert_string_equal(t, "192.168.16.0/20");
	free(t);
}

static void overlaps_and_containment(void **state)
{
	net_subnet a = {0xac100000u, 12}, b = {0xac110000u, 16}, c = {0xac200000u, 16};
	assert_true(net_subnets_overlap(a, b));
	assert_true(net_subnets_overlap(b, a));
	assert_false(net_subnets_overlap(b, c));
	assert_true(net_subnet_contains(b, 0xac11ff01u));
	assert_false(net_subnet_contains(b, 0xac12ff01u));
}

static void pools_skip_what_is_taken(void **state)
{
	net_pool *p = NULL;
	size_t n = 0;
	berth_error err = BERTH_ERROR_INIT;
	assert_int_equal(net_pools_parse("172.17.0.0/16:16, 192.168.0.0/16:20", &p, &n, &err), 0);
	assert_int_equal(n, 2);
	/* the host routes 172.17.0.0/16 already, and a network has 192.168.0.0/20 */
	net_subnet taken[] = {{0xac110000u, 16}, {0xc0a80000u, 20}};
	net_subnet out;
	assert_int_equal(net_pools_pick(p, n, taken, 2, &out), 0);
	assert_int_equal(out.addr, 0xc0a81000u);
	assert_int_equal(out.prefix, 20);
	/* a route that covers the whole second pool: nothing left */
	net_subnet all[] = {{0xac110000u, 16}, {0xc0a80000u, 16}};
	assert_int_equal(net_pools_pick(p, n, all, 2, &out), -1);
	free(p);
	assert_int_equal(net_pools_parse("172.17.0.0/16", &p, &n, &err), -1);
	assert_non_null(strstr(err.msg, "BASE/N:SIZE"));
	berth_error_clear(&err);
	assert_int_equal(net_pools_parse("10.0.0.0/16:8", &p, &n, &err), -1);
	berth_error_clear(&err);
}

static void addresses_lowest_free_in_range(void **state)
{
	net_subnet s = {0x0a000000u, 24};
	uint32_t used[] = {0x0a000001u, 0x0a000003u, 0x0a000002u};
	assert_int_equal(net_addr_pick(s, s, used, 3), 0x0a000004u);
	/* an ip-range inside the subnet */
	net_subnet r = {0x0a000080u, 25};
	assert_int_equal(net_addr_pick(s, r, used, 3), 0x0a000080u);
	/* a /30 has two hosts; both used: none */
	net_subnet tiny = {0x0a000000u, 30};
	uint32_t u2[] = {0x0a000001u, 0x0a000002u};
	assert_int_equal(net_addr_pick(tiny, tiny, u2, 2), 0);
	/* never the network or the broadcast address */
	uint32_t none[] = {0};
	assert_int_equal(net_addr_pick(tiny, tiny, none, 0), 0x0a000001u);
}

static size_t query(uint8_t *m, const char *name, uint16_t type)
{
	memset(m, 0, 12);
	m[0] = 0x12, m[1] = 0x34, m[2] = 0x01, m[5] = 1;
	size_t off = 12;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		m[off++] = (uint8_t)l;
		memcpy(m + off, p, l);
		off += l;
		p += l + (dot != NULL);
	}
	m[off++] = 0;
	m[off++] = (uint8_t)(type >> 8), m[off++] = (uint8_t)type;
	m[off++] = 0, m[off++] = 1;
	return off;
}

static void dns_queries_and_answers(void **state)
{
	uint8_t m[300], out[512];
	size_t len = query(m, "Web.Example", NET_DNS_A);
	net_dns_query q;
	assert_int_equal(net_dns_parse_query(m, len, &q), 0);
	assert_string_equal(q.name, "web.example");
	assert_int_equal(q.qtype, NET_DNS_A);
	assert_int_equal(q.id, 0x1234);
	uint32_t addrs[] = {0xac120002u, 0xac120003u};
	int n = net_dns_answer(m, &q, NET_DNS_NOERROR, addrs, 2, 600, out, sizeof out);
	assert_int_equal(n, (int)len + 32);
	assert_int_equal(out[0], 0x12);
	assert_true(out[2] & 0x80);	   /* a response */
	assert_int_equal(out[3] & 0xf, 0); /* NOERROR */
	assert_int_equal(out[7], 2);	   /* two answers */
	static const uint8_t a2[] = {172, 18, 0, 2}, a3[] = {172, 18, 0, 3};
	assert_memory_equal(out + len + 12, a2, 4);
	assert_memory_equal(out + len + 28, a3, 4);
	n = net_dns_answer(m, &q, NET_DNS_NXDOMAIN, NULL, 0, 600, out, sizeof out);
	assert_int_equal(out[3] & 0xf, NET_DNS_NXDOMAIN);
	/* too many records for 512 bytes: as many as fit, and TC */
	uint32_t many[64] = {0};
	n = net_dns_answer(m, &q, NET_DNS_NOERROR, many, 64, 600, out, sizeof out);
	assert_true(n <= 512);
	assert_true(out[2] & 0x02);
	/* not queries: a response, a compression pointer in the question, a short message */
	m[2] |= 0x80;
	assert_int_equal(net_dns_parse_query(m, len, &q), -1);
	m[2] &= 0x7f;
	m[12] = 0xc0;
	assert_int_equal(net_dns_parse_query(m, len, &q), -1);
	assert_int_equal(net_dns_parse_query(m, 11, &q), -1);
	len = query(m, "a", NET_DNS_A);
	assert_int_equal(net_dns_parse_query(m, len - 1, &q), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(subnets_parse_strictly),
	    cmocka_unit_test(overlaps_and_containment),
	    cmocka_unit_test(pools_skip_what_is_taken),
	    cmocka_unit_test(addresses_lowest_free_in_range),
	    cmocka_unit_test(dns_queries_and_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
