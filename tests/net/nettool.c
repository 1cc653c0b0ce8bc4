/*
 * A small static helper for the network tests and bench/network.sh, run on
 * the host and inside busybox containers (whose nc has no UDP):
 *   nettool udp-echo PORT              answers each UDP datagram with "echo:" + it
 *   nettool udp-send HOST PORT MSG     sends MSG, prints the answer (2 s at most)
 *   nettool dns-tcp SERVER NAME        asks SERVER for NAME's A records over TCP, prints them
 *   nettool dns-time SERVER NAME N     asks SERVER N times for NAME's A record,
 *                                      prints the median and 99th percentile in us
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int udp(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	return fd;
}

static struct sockaddr_in addr(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "nettool: %s: not an IPv4 address\n", host);
		exit(2);
	}
	return sa;
}

static int echo(int port)
{
	int fd = udp();
	struct sockaddr_in sa = addr("0.0.0.0", port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		return 1;
	}
	for (;;) {
		char b[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, b + 5, sizeof b - 5, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		memcpy(b, "echo:", 5);
		sendto(fd, b, (size_t)n + 5, 0, (struct sockaddr *)&from, fl);
	}
}

static int send_udp(const char *host, int port, const char *msg)
{
	int fd = udp();
	struct sockaddr_in sa = addr(host, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    send(fd, msg, strlen(msg), 0) < 0) {
		perror("send");
		return 1;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b[1500];
	ssize_t n;
	if (poll(&p, 1, 2000) != 1 || (n = recv(fd, b, sizeof b - 1, 0)) < 0) {
		fprintf(stderr, "nettool: no answer from %s:%d\n", host, port);
		return 1;
	}
	b[n] = '\0';
	printf("%s\n", b);
	return 0;
}

static size_t build_query(unsigned char *q, size_t cap, const char *name, int id)
{
	size_t len = 12;
	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8), q[1] = (unsigned char)id;
	q[2] = 1; /* RD */
	q[5] = 1; /* one question */
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l > 63 || len + l + 6 > cap)
			exit(2);
		q[len++] = (unsigned char)l;
		memcpy(q + len, p, l);
		len += l;
		p += l + (dot ? 1 : 0);
	}
	q[len++] = 0;
	q[len++] = 0, q[len++] = 1; /* A */
	q[len++] = 0, q[len++] = 1; /* IN */
	return len;
}

static int dns_tcp(const char *server, const char *name)
{
	unsigned char q[302];
	size_t len = build_query(q + 2, sizeof q - 2, name, 7);
	q[0] = (unsigned char)(len >> 8), q[1] = (unsigned char)len;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = addr(server, 53);
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, q, len + 2) < 0) {
		perror("nettool: connect");
		return 1;
	}
	unsigned char r[4096];
	size_t got = 0;
	while (got < 2 || got < 2u + (size_t)(r[0] << 8 | r[1])) {
		ssize_t n = read(fd, r + got, sizeof r - got);
		if (n <= 0) {
			fprintf(stderr, "nettool: short answer over TCP\n");
			return 1;
		}
		got += (size_t)n;
	}
	unsigned char *m = r + 2;
	int an = m[6] << 8 | m[7];
	size_t off = 12;
	while (m[off]) /* the question's name */
		off += m[off] + 1;
	off += 5;
	for (int i = 0; i < an; i++) {
		off += 2; /* a pointer to the name */
		int type = m[off] << 8 | m[off + 1], rdlen = m[off + 8] << 8 | m[off + 9];
		off += 10;
		if (type == 1 && rdlen == 4)
			printf("%d.%d.%d.%d\n", m[off], m[off + 1], m[off + 2], m[off + 3]);
		off += (size_t)rdlen;
	}
	return (m[3] & 0xf) ? 1 : 0;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static int dns_time(const char *server, const char *name, int n)
{
	unsigned char q[300];
	size_t len = build_query(q, sizeof q, name, 0);
	int fd = udp();
	struct sockaddr_in sa = addr(server, 53);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		return 1;
	}
	long *us = calloc((size_t)n, sizeof *us);
	for (int i = 0; i < n; i++) {
		q[0] = (unsigned char)(i >> 8), q[1] = (unsigned char)i; /* the id */
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		send(fd, q, len, 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		unsigned char r[1500];
		if (poll(&p, 1, 2000) != 1 || recv(fd, r, sizeof r, 0) < 12 || (r[3] & 0xf)) {
			fprintf(stderr, "nettool: no answer for %s from %s\n", name, server);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	qsort(us, (size_t)n, sizeof *us, cmp);
	printf("median %ld us, p99 %ld us over %d queries\n", us[n / 2], us[n * 99 / 100], n);
	free(us);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "udp-echo"))
		return echo(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "udp-send"))
		return send_udp(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "dns-tcp"))
		return dns_tcp(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "dns-time"))
		return dns_time(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: nettool udp-echo PORT | udp-send HOST PORT MSG | "
			"dns-tcp SERVER NAME | dns-time SERVER NAME N\n");
	return 2;
}
