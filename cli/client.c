/*
 * The client: HTTP/1.1 over berthd's UNIX socket.  When the socket is not
 * there (or nobody answers), berth starts berthd itself, detached, and
 * waits until it answers, so that one command works on a fresh machine.
 */
#include "client.h"
#include "../common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int start_daemon(berth_error *err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return berth_error_set(err, errno, "/proc/self/exe");
	self[n] = '\0';
	const char *env = getenv("BERTHD");
	_cleanup_free_ char *bin =
	    env && *env ? xstrdup(env) : xasprintf("%s/berthd", dirname(self));
	if (mkdir_p(berth_run(), 0711, err) < 0)
		return -1;
	_cleanup_free_ char *log = xasprintf("%s/berthd.log", berth_run());
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	char *argv[] = {bin, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, bin, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r)
		return berth_error_set(err, r, "start %s", bin);
	return 0;
}

static int connect_daemon(berth_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/berthd.sock", berth_run());
	int fd = try_connect(path);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT && errno != ECONNREFUSED)
		return berth_error_set(err, errno, "connect to berthd at %s", path);
	if (start_daemon(err) < 0)
		return -1;
	/* berthd renames its socket into place once it listens; a second berthd exits */
	for (int i = 0; i < 2000; i++) {
		fd = try_connect(path);
		if (fd >= 0)
			return fd;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	_cleanup_free_ char *log = xasprintf("%s/berthd.log", berth_run());
	return berth_error_msg(err, ETIMEDOUT,
			       "berthd did not answer at %s within 10 s (its log: %s)", path, log);
}

char *client_escape(const char *s)
{
	_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c))
			sb_addc(&sb, (char)c);
		else
			sb_addf(&sb, "%%%02X", c);
	}
	return sb_steal(&sb);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int client_send(const char *method, const char *path, json_t *body, client_stream *s,
		berth_error *err)
{
	memset(s, 0, sizeof *s);
	s->fd = connect_daemon(err);
	if (s->fd < 0)
		return -1;
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	_cleanup_strbuf_ strbuf req = STRBUF_INIT;
	sb_addf(&req, "%s /v1%s HTTP/1.1\r\nHost: berthd\r\nUser-Agent: berth\r\n", method, path);
	if (text)
		sb_addf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			strlen(text), text);
	else
		sb_adds(&req, "Content-Length: 0\r\n\r\n");
	if (write_all(s->fd, req.buf, req.len) < 0) {
		berth_error_set(err, errno, "send to berthd");
		client_close(s);
		return -1;
	}
	return 0;
}

int client_finish(client_stream *s, berth_error *err)
{
	char buf[8192];
	_cleanup_strbuf_ strbuf h = STRBUF_INIT;
	char *end = NULL;
	while (!(end = h.buf ? strstr(h.buf, "\r\n\r\n") : NULL)) {
		ssize_t n = read(s->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || h.len > 65536)
			return berth_error_msg(err, EPROTO, "berthd closed the connection early");
		sb_addn(&h, buf, (size_t)n);
	}
	size_t hl = (size_t)(end - h.buf) + 4;
	sb_addn(&s->pending, h.buf + hl, h.len - hl);
	*end = '\0';
	if (sscanf(h.buf, "HTTP/1.%*c %d", &s->status) != 1)
		return berth_error_msg(err, EPROTO, "berthd's answer is not HTTP");
	s->length = -1;
	for (char *l = strstr(h.buf, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, "Content-Length:", 15))
			s->length = atoll(l + 17);
		else if (!strncasecmp(l + 2, "Content-Type:", 13))
			sscanf(l + 15, " %127[^\r\n;]", s->content_type);
	}
	return 0;
}

int client_open(const char *method, const char *path, json_t *body, bool upgrade, client_stream *s,
		berth_error *err)
{
	if (client_send(method, path, body, s, err) < 0)
		return -1;
	(void)upgrade; /* the request line is the same; berthd answers 101 for attach and exec */
	if (client_finish(s, err) < 0) {
		client_close(s);
		return -1;
	}
	return 0;
}

int client_body(client_stream *s, json_t **out, berth_error *err)
{
	char buf[65536];
	while (s->length < 0 || (long long)s->pending.len < s->length) {
		ssize_t n = read(s->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "read from berthd");
		if (n == 0)
			break;
		sb_addn(&s->pending, buf, (size_t)n);
	}
	*out = NULL;
	if (!s->pending.len)
		return 0;
	json_error_t je;
	*out = json_loadb(s->pending.buf, s->pending.len, 0, &je);
	if (!*out)
		return berth_error_msg(err, EPROTO, "berthd's answer is not JSON: %s", je.text);
	return 0;
}

void client_close(client_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	sb_release(&s->pending);
}

int client_call(const char *method, const char *path, json_t *body, json_t **out, berth_error *err)
{
	client_stream s;
	json_t *tmp = NULL;
	if (!out)
		out = &tmp;
	*out = NULL;
	if (client_open(method, path, body, false, &s, err) < 0)
		return -1;
	int rc = client_body(&s, out, err) < 0 ? -1 : s.status;
	client_close(&s);
	json_decref(tmp);
	return rc;
}

const char *client_message(json_t *body)
{
	const char *m = json_string_value(json_object_get(body, "message"));
	return m ? m : "berthd gave no reason";
}
