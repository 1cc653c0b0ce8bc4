/*
 * DNS messages (RFC 1035): the first question of a query, and an answer
 * with A records.  Names are compared in lower case without the root dot.
 * Compression pointers are refused in questions (no resolver sends them
 * there), so a name is read in one pass with bounds on every byte.
 */
#include "net.h"

#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int net_dns_parse_query(const uint8_t *msg, size_t len, net_dns_query *q)
{
	if (len < 12)
		return -1;
	memset(q, 0, sizeof *q);
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & 0x8000) /* a response, not a query */
		return -1;
	if ((q->flags >> 11 & 0xf) != 0) /* only QUERY */
		return -1;
	if (get16(msg + 4) < 1)
		return -1;
	size_t off = 12, n = 0;
	for (;;) {
		if (off >= len)
			return -1;
		uint8_t l = msg[off++];
		if (l == 0)
			break;
		if (l & 0xc0 || off + l > len || n + l + 1 >= sizeof q->name)
			return -1;
		if (n)
			q->name[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char ch = (char)msg[off + i];
			q->name[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		off += l;
	}
	q->name[n] = '\0';
	if (off + 4 > len)
		return -1;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	q->question_end = off + 4;
	return 0;
}

int net_dns_answer(const uint8_t *msg, const net_dns_query *q, int rcode, const uint32_t *addrs,
		   size_t n, uint32_t ttl, uint8_t *out, size_t cap)
{
	size_t qlen = q->question_end - 12;
	bool truncated = false;
	if (12 + qlen > cap)
		return -1;
	if (12 + qlen + n * 16 > cap) { /* as many as fit; TC tells the client to ask by TCP */
		n = (cap - 12 - qlen) / 16;
		truncated = true;
	}
	put16(out, q->id);
	/* QR, opcode 0, AA, RD copied, RA */
	uint16_t flags = 0x8000 | 0x0400 | (q->flags & 0x0100) | 0x0080 | (rcode & 0xf);
	if (truncated)
		flags |= 0x0200;
	put16(out + 2, flags);
	put16(out + 4, 1);
	put16(out + 6, (uint16_t)n);
	put16(out + 8, 0);
	put16(out + 10, 0);
	memcpy(out + 12, msg + 12, qlen);
	size_t off = 12 + qlen;
	for (size_t i = 0; i < n; i++) {
		put16(out + off, 0xc00c); /* the question's name */
		put16(out + off + 2, NET_DNS_A);
		put16(out + off + 4, 1);
		put16(out + off + 6, (uint16_t)(ttl >> 16));
		put16(out + off + 8, (uint16_t)ttl);
		put16(out + off + 10, 4);
		out[off + 12] = (uint8_t)(addrs[i] >> 24);
		out[off + 13] = (uint8_t)(addrs[i] >> 16);
		out[off + 14] = (uint8_t)(addrs[i] >> 8);
		out[off + 15] = (uint8_t)addrs[i];
		off += 16;
	}
	return (int)off;
}
