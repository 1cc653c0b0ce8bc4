/* libFuzzer target: berthd's DNS question reader and answer writer (net/dns.c). */
#include "../../net/net.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	net_dns_query q;
	if (net_dns_parse_query(data, size, &q) < 0)
		return 0;
	uint8_t out[512];
	uint32_t addrs[40] = {0x0a000001u};
	(void)net_dns_answer(data, &q, NET_DNS_NOERROR, addrs, 40, 600, out, sizeof out);
	(void)net_dns_answer(data, &q, NET_DNS_NXDOMAIN, NULL, 0, 600, out, 16);
	return 0;
}
