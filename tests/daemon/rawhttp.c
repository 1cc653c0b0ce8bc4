/*
 * rawhttp SOCKET [PAUSE_MS]: sends stdin to a UNIX socket as it is (malformed HTTP
 * included), optionally pausing before the end, and prints the first line of the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: rawhttp SOCKET [PAUSE_MS]\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		return 1;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break; /* the server may answer and close before all is sent */
	if (argc > 2) {
		long ms = atol(argv[2]);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	size_t len = 0;
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	buf[strcspn(buf, "\r\n")] = '\0';
	printf("%s\n%s", buf, body ? body + 4 : "");
	return 0;
}
