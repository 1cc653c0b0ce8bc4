/*
 * berth-monitor: one per running container, as conmon and containerd-shim
 * are.  berthd starts it detached (its own session, reparented to PID 1);
 * it runs the runtime's `create` with the container's stdio (pipes, or a
 * pseudo-terminal with -t), becomes the init's parent as a child
 * subreaper, writes every line the container prints to a json-file log
 * (Docker's format, rotated by size), serves attach clients on a UNIX
 * socket, and writes the exit status atomically when the init exits.  It
 * never waits on berthd: a client that cannot take output is dropped, so
 * the container never blocks on a full pipe while berthd is away.
 *
 * Only libc, linked statically, so that its resident set stays small.
 *
 *   berth-monitor DIR LOG MAX_SIZE MAX_FILE FLAGS -- RUNTIME-CREATE...
 *
 * fd 3 is the start pipe: "ok PID\n" or "err MESSAGE\n".  DIR holds
 * monitor.sock, pid (written by the runtime) and exit ("STATUS NANOS\n").
 * A client of monitor.sock sends one byte: 'w' (watch: EOF at exit), 'a'
 * (output, multiplexed as Docker's raw stream unless tty), 'i' (output and
 * stdin), 'r' (resize: then "ROWS COLS\n").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define LINE_MAX_BYTES 16384 /* Docker splits longer lines into records of this size */

enum { OUT, ERR };

typedef struct {
	int fd;
	char mode;   /* 0: not yet known */
	bool rd_eof; /* its input ended; output still goes to it */
	char *out;   /* output it has not taken yet */
	size_t out_len;
} client;

/*
 * An attached client that lags holds the container back once it has this
 * much pending, as Docker's attach does; a client that goes away (berthd
 * killed) is dropped at once, so the container never waits on it.
 */
#define CLIENT_PENDING_MAX (1024 * 1024)

static const char *dir, *log_path;
static long long max_size, max_file;
static bool tty, open_stdin;
static int log_fd = -1;
static long long log_size;
static char line[2][LINE_MAX_BYTES];
static size_t line_len[2];
static client clients[MAX_CLIENTS];
static int in_fd = -1; /* the container's stdin (pipe or pty master) */
static char in_buf[65536];
static size_t in_len;
static bool in_eof; /* close stdin once what is pending is written */

static void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dprintf(3, "err %s\n", msg);
	_exit(1);
}

/*
 * DIR, held open: if berthd tears it down and makes it anew for a later
 * start, this monitor's last writes go to the old, deleted directory and
 * never touch the next monitor's socket or exit file.
 */
static int dir_fd = -1;

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void write_atomic(const char *name, const char *text)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0) {
		close(fd);
		renameat(dir_fd, tmp, dir_fd, name);
		return;
	}
	close(fd);
	unlinkat(dir_fd, tmp, 0);
}

/* ---- the json-file log ---- */

static void open_log(void)
{
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	log_size = log_fd >= 0 && fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

static void rotate(void)
{
	if (max_file <= 1) {
		if (ftruncate(log_fd, 0) == 0)
			log_size = 0;
		return;
	}
	char from[PATH_MAX + 24], to[PATH_MAX + 24];
	for (long long i = max_file - 1; i > 0; i--) {
		snprintf(to, sizeof to, "%s.%lld", log_path, i);
		if (i == 1)
			snprintf(from, sizeof from, "%s", log_path);
		else
			snprintf(from, sizeof from, "%s.%lld", log_path, i - 1);
		rename(from, to);
	}
	close(log_fd);
	open_log();
}

static size_t json_escape(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\', out[o++] = 'n';
		} else if (c == '\r') {
			out[o++] = '\\', out[o++] = 'r';
		} else if (c == '\t') {
			out[o++] = '\\', out[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			/* UTF-8 passes through; jansson on the reading side takes it as it is */
			out[o++] = (char)c;
		}
	}
	return o;
}

static void log_record(int stream, const char *s, size_t n)
{
	if (log_fd < 0)
		return;
	static char rec[LINE_MAX_BYTES * 6 + 128];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t o = (size_t)snprintf(rec, sizeof rec, "{\"log\":\"");
	o += json_escape(rec + o, s, n);
	o += (size_t)snprintf(
	    rec + o, sizeof rec - o,
	    "\",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"}\n",
	    stream == OUT ? "stdout" : "stderr", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	if (max_size > 0 && log_size > 0 && log_size + (long long)o > max_size)
		rotate();
	if (write_all(log_fd, rec, o) == 0)
		log_size += (long long)o;
}

static void log_data(int stream, const char *p, size_t n)
{
	while (n) {
		char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		size_t room = LINE_MAX_BYTES - line_len[stream];
		if (take > room)
			take = room;
		memcpy(line[stream] + line_len[stream], p, take);
		line_len[stream] += take;
		p += take;
		n -= take;
		if (line_len[stream] == LINE_MAX_BYTES ||
		    line[stream][line_len[stream] - 1] == '\n') {
			log_record(stream, line[stream], line_len[stream]);
			line_len[stream] = 0;
		}
	}
}

static void log_flush(void)
{
	for (int s = OUT; s <= ERR; s++)
		if (line_len[s]) {
			log_record(s, line[s], line_len[s]);
			line_len[s] = 0;
		}
}

/* ---- attach clients ---- */

static void drop_client(client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	*c = (client){.fd = -1};
}

static void client_flush(client *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			drop_client(c);
			return;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
}

static void client_queue(client *c, const void *p, size_t n)
{
	char *o = realloc(c->out, c->out_len + n);
	if (!o) {
		drop_client(c);
		return;
	}
	c->out = o;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

/* Whether some attached client has too much pending: then the container's output waits. */
static bool clients_full(void)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].out_len >= CLIENT_PENDING_MAX)
			return true;
	return false;
}

static void send_clients(int stream, const char *p, size_t n)
{
	unsigned char hdr[8] = {(unsigned char)(stream == OUT ? 1 : 2),
				0,
				0,
				0,
				(unsigned char)(n >> 24),
				(unsigned char)(n >> 16),
				(unsigned char)(n >> 8),
				(unsigned char)n};
	for (int i = 0; i < MAX_CLIENTS; i++) {
		client *c = &clients[i];
		if (c->fd < 0 || (c->mode != 'a' && c->mode != 'i'))
			continue;
		if (!tty)
			client_queue(c, hdr, 8);
		if (c->fd >= 0)
			client_queue(c, p, n);
		if (c->fd >= 0)
			client_flush(c);
	}
}

static void client_input(client *c)
{
	char buf[4096];
	if (!c->mode) {
		ssize_t n = read(c->fd, buf, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != 1) {
			drop_client(c);
			return;
		}
		c->mode = buf[0];
		if (c->mode != 'w' && c->mode != 'a' && c->mode != 'i' && c->mode != 'r')
			drop_client(c);
		return;
	}
	size_t room = sizeof in_buf - in_len;
	ssize_t n = read(c->fd, c->mode == 'i' ? in_buf + in_len : buf,
			 c->mode == 'i' ? room : sizeof buf - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* stdin closes with the client that fed it (docker run -i: EOF reaches the app) */
		if (n == 0 && c->mode == 'i' && !c->rd_eof) {
			if (!tty)
				in_eof = true;
			c->rd_eof = true;
			return;
		}
		drop_client(c);
		return;
	}
	if (c->mode == 'i') {
		in_len = in_fd >= 0 ? in_len + (size_t)n : 0;
	} else if (c->mode == 'r' && tty && in_fd >= 0) {
		buf[n] = '\0';
		unsigned rows = 0, cols = 0;
		if (sscanf(buf, "%u %u", &rows, &cols) == 2) {
			struct winsize ws = {.ws_row = (unsigned short)rows,
					     .ws_col = (unsigned short)cols};
			ioctl(in_fd, TIOCSWINSZ, &ws);
		}
	}
}

/* ---- the main loop ---- */

static int read_stream(int fd, int stream)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0)
		return 0; /* EOF, or EIO on a pty whose other side all closed */
	log_data(stream, buf, (size_t)n);
	send_clients(stream, buf, (size_t)n);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 8 || strcmp(argv[6], "--")) {
		fprintf(stderr, "usage: berth-monitor DIR LOG MAX_SIZE MAX_FILE FLAGS -- CMD...\n");
		return 2;
	}
	dir = argv[1];
	log_path = argv[2];
	max_size = atoll(argv[3]);
	max_file = atoll(argv[4]);
	tty = strchr(argv[5], 't') != NULL;
	open_stdin = strchr(argv[5], 'i') != NULL;
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	fcntl(3, F_SETFD, FD_CLOEXEC);
	dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		die("%s: %s", dir, strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("subreaper: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	int fds[2][2] = {{-1, -1}, {-1, -1}}, in[2] = {-1, -1}, master = -1, con[2] = {-1, -1};
	if (tty) {
		/* the init allocates the terminal in the container's devpts and sends its master;
		 * until it does, the runtime's own errors go to a pipe of their own */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
		    pipe2(fds[ERR], O_CLOEXEC) < 0)
			die("console socket: %s", strerror(errno));
	} else {
		if (pipe2(fds[OUT], O_CLOEXEC) < 0 || pipe2(fds[ERR], O_CLOEXEC) < 0 ||
		    (open_stdin && pipe2(in, O_CLOEXEC) < 0))
			die("pipes: %s", strerror(errno));
	}
	open_log();
	if (log_fd < 0)
		die("log %s: %s", log_path, strerror(errno));

	pid_t rt = fork();
	if (rt < 0)
		die("fork: %s", strerror(errno));
	if (rt == 0) {
		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDWR);
		int i0 = !tty && open_stdin ? in[0] : null;
		int o1 = tty ? null : fds[OUT][1], e2 = fds[ERR][1];
		if (dup2(i0, 0) < 0 || dup2(o1, 1) < 0 || dup2(e2, 2) < 0)
			_exit(127);
		if (tty && dup2(con[1], 3) < 0) /* --console-fd 3 */
			_exit(127);
		execv(argv[7], argv + 7);
		dprintf(2, "exec %s: %s\n", argv[7], strerror(errno));
		_exit(127);
	}
	if (tty) {
		close(con[1]);
		close(fds[ERR][1]);
	} else {
		close(fds[OUT][1]);
		close(fds[ERR][1]);
		if (open_stdin) {
			close(in[0]);
			in_fd = in[1];
		}
	}
	int ws;
	while (waitpid(rt, &ws, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		/* the runtime's error went to the container's stderr: nothing else wrote there */
		char msg[2048] = "";
		fcntl(fds[ERR][0], F_SETFL, O_NONBLOCK);
		ssize_t n = read(fds[ERR][0], msg, sizeof msg - 1);
		if (n <= 0)
			n = snprintf(msg, sizeof msg, "the runtime failed (exit %d)",
				     WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
		msg[n > 0 ? n : 0] = '\0';
		char *p = msg;
		if (!strncmp(p, "berth: ", 7))
			p += 7;
		p[strcspn(p, "\r\n")] = '\0';
		die("%s", *p ? p : "the runtime failed");
	}
	if (tty) {
		char byte, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {&byte, 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = cbuf,
				   .msg_controllen = sizeof cbuf};
		struct cmsghdr *cm;
		if (recvmsg(con[0], &m, MSG_CMSG_CLOEXEC) != 1 || !(cm = CMSG_FIRSTHDR(&m)) ||
		    cm->cmsg_type != SCM_RIGHTS)
			die("the container sent no terminal");
		memcpy(&master, CMSG_DATA(cm), sizeof(int));
		close(con[0]);
		close(fds[ERR][0]);
		fds[ERR][0] = -1;
		in_fd = master;
		fds[OUT][0] = master;
	}
	int pfd = openat(dir_fd, "pid", O_RDONLY | O_CLOEXEC);
	FILE *pf = pfd >= 0 ? fdopen(pfd, "re") : NULL;
	int pid = 0;
	if (!pf || fscanf(pf, "%d", &pid) != 1 || pid <= 0)
		die("the runtime wrote no pid");
	fclose(pf);

	/* through the directory's descriptor: a deep DIR would not fit in sun_path */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/monitor.sock", dir_fd);
	unlinkat(dir_fd, "monitor.sock", 0);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0)
		die("monitor socket: %s", strerror(errno));
	fchmodat(dir_fd, "monitor.sock", 0600, 0);
	dprintf(3, "ok %d\n", pid);
	close(3);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(null, 0), dup2(null, 1), dup2(null, 2);
	if (in_fd >= 0)
		fcntl(in_fd, F_SETFL, O_NONBLOCK);

	int status = -1;
	bool open_s[2] = {true, !tty};
	while (status < 0 || open_s[OUT] || open_s[ERR]) {
		struct pollfd p[4 + MAX_CLIENTS];
		int n = 0;
		bool hold = clients_full();
		p[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = open_s[OUT] && !hold ? fds[OUT][0] : -1,
					 .events = POLLIN};
		p[n++] = (struct pollfd){.fd = open_s[ERR] && !hold ? fds[ERR][0] : -1,
					 .events = POLLIN};
		p[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < MAX_CLIENTS; i++) {
			bool full = clients[i].mode == 'i' && in_len == sizeof in_buf;
			short ev = (short)((clients[i].rd_eof || full ? 0 : POLLIN) |
					   (clients[i].out_len ? POLLOUT : 0));
			p[n++] = (struct pollfd){.fd = clients[i].fd, .events = ev};
		}
		struct pollfd pin = {.fd = in_len && in_fd >= 0 ? in_fd : -1, .events = POLLOUT};
		/* after the exit, drain what is left; a lagging client is waited for */
		int timeout = status >= 0 && !hold ? 200 : -1;
		struct pollfd all[5 + MAX_CLIENTS];
		memcpy(all, p, sizeof(struct pollfd) * (size_t)n);
		all[n] = pin;
		int r = poll(all, (nfds_t)n + 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && status >= 0)
			break; /* a grandchild in the host's pid namespace may hold the pipe */
		if (all[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
			}
			pid_t w;
			int st;
			while ((w = waitpid(-1, &st, WNOHANG)) > 0)
				if (w == pid)
					status =
					    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		/*
		 * Clients first, new ones and those whose mode byte came late: berthd
		 * connects its attach streams and sends their mode before it releases
		 * the init, so they are in place before the output they must see is read.
		 */
		if (all[3].revents & POLLIN) {
			int cfd;
			while ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >=
			       0) {
				int i = 0;
				while (i < MAX_CLIENTS && clients[i].fd >= 0)
					i++;
				if (i == MAX_CLIENTS) {
					close(cfd);
					continue;
				}
				clients[i] = (client){.fd = cfd};
				client_input(&clients[i]);
				all[4 + i].fd = -1; /* not polled this round */
			}
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (clients[i].fd < 0 || all[4 + i].fd != clients[i].fd ||
			    !all[4 + i].revents)
				continue;
			if (all[4 + i].revents & POLLOUT)
				client_flush(&clients[i]);
			if (clients[i].fd >= 0 && (all[4 + i].revents & ~POLLOUT))
				client_input(&clients[i]);
		}
		for (int s = OUT; s <= ERR; s++)
			if (all[1 + s].revents && !read_stream(fds[s][0], s))
				open_s[s] = false;
		if (all[n].revents && in_len) {
			ssize_t w = write(in_fd, in_buf, in_len);
			if (w > 0) {
				memmove(in_buf, in_buf + w, in_len - (size_t)w);
				in_len -= (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				in_len = 0;
			}
		}
		if (in_eof && !in_len && in_fd >= 0) {
			close(in_fd);
			in_fd = -1;
		}
	}
	log_flush();
	if (log_fd >= 0)
		fsync(log_fd);
	/* what attached clients have not taken yet: they get it, or are dropped when they go */
	for (int i = 0; i < MAX_CLIENTS; i++)
		while (clients[i].fd >= 0 && clients[i].out_len) {
			struct pollfd pw = {.fd = clients[i].fd, .events = POLLOUT};
			if (poll(&pw, 1, 30000) <= 0 || (pw.revents & (POLLERR | POLLHUP)))
				drop_client(&clients[i]);
			else
				client_flush(&clients[i]);
		}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char text[64];
	snprintf(text, sizeof text, "%d %lld\n", status,
		 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	write_atomic("exit", text);
	/* watchers see EOF only now, with the exit status on disk */
	unlinkat(dir_fd, "monitor.sock", 0);
	return 0;
}
