/*
 * The HTTP/1.1 server: each connection is read by an ev_io watcher and
 * parsed by llhttp; a complete request goes to the handler, which answers
 * at once or later (start, stop, wait) or turns the connection into a
 * stream (logs, events) or a raw two-way pipe (attach, exec).  One request
 * a connection: the answer says "Connection: close".  Limits: 64 KiB of
 * request line and headers, 16 MiB of body, a timeout for the whole
 * request; a client that breaks one gets a 4xx and the loop goes on.
 */
#include "http.h"
#include "../common/fsutil.h"

#include <errno.h>
#include <llhttp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

double http_request_timeout = 30.0;

static http_handler handler;
static llhttp_settings_t settings;
static ev_io listen_io;

static const char *reason(int status)
{
	switch (status) {
	case 101:
		return "UPGRADED";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	default:
		return "Unknown";
	}
}

void http_list_add(http_list *l, http_conn *c)
{
	http_list_del(c);
	c->list = l;
	c->prev = NULL;
	c->next = l->first;
	if (l->first)
		l->first->prev = c;
	l->first = c;
}

void http_list_del(http_conn *c)
{
	if (!c->list)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->list->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->list = NULL;
	c->prev = c->next = NULL;
}

void http_close(http_conn *c)
{
	if (c->on_close) {
		void (*cb)(http_conn *) = c->on_close;
		c->on_close = NULL;
		cb(c);
	}
	http_list_del(c);
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	if (c->ctx_free)
		c->ctx_free(c->ctx);
	close(c->fd);
	sb_release(&c->url);
	sb_release(&c->field);
	sb_release(&c->value);
	sb_release(&c->req.body);
	sb_release(&c->out);
	free(c->req.method);
	free(c->req.path);
	free(c->req.query);
	free(c->parser);
	free(c);
}

static void flush(http_conn *c, bool from_loop)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* the client is gone: closed from the loop, never under a caller's feet */
			c->out.len = c->out_off = 0;
			c->state = CONN_CLOSING;
			ev_io_start(c->loop, &c->wio);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->out.buf)
			c->out.buf[0] = '\0';
		ev_io_stop(c->loop, &c->wio);
		if (c->state == CONN_CLOSING)
			http_close(c);
		else if (c->on_drain && from_loop) /* never re-entered from http_write */
			c->on_drain(c);
		return;
	}
	ev_io_start(c->loop, &c->wio);
}

size_t http_pending(http_conn *c)
{
	return c->out.len - c->out_off;
}

void http_write(http_conn *c, const void *data, size_t len)
{
	if (c->state == CONN_CLOSING)
		return;
	if (c->out.len - c->out_off + len > HTTP_MAX_PENDING) {
		/* a reader that does not keep up is dropped rather than buffered without end */
		c->state = CONN_CLOSING;
		c->out.len = c->out_off = 0;
		ev_io_start(c->loop, &c->wio);
		return;
	}
	sb_addn(&c->out, data, len);
	if (!ev_is_active(&c->wio))
		flush(c, false);
}

void http_end(http_conn *c)
{
	c->state = CONN_CLOSING;
	if (c->out_off == c->out.len) {
		ev_io_start(c->loop,
			    &c->wio); /* closes from the write callback, never re-entrantly */
		return;
	}
	ev_io_start(c->loop, &c->wio);
}

void http_respond(http_conn *c, int status, json_t *body)
{
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	_cleanup_strbuf_ strbuf h = STRBUF_INIT;
	sb_addf(&h, "HTTP/1.1 %d %s\r\nServer: berthd\r\nConnection: close\r\n", status,
		reason(status));
	if (text)
		sb_addf(&h, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s\n",
			strlen(text) + 1, text);
	else
		sb_adds(&h, "Content-Length: 0\r\n\r\n");
	c->state = CONN_STREAMING;
	http_write(c, h.buf, h.len);
	http_end(c);
}

void http_respond_error(http_conn *c, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	http_respond(c, status, json_pack("{s:s}", "message", m));
	free(m);
}

void http_stream_begin(http_conn *c, const char *content_type)
{
	_cleanup_free_ char *h = xasprintf("HTTP/1.1 200 OK\r\nServer: berthd\r\nContent-Type: "
					   "%s\r\nConnection: close\r\n\r\n",
					   content_type);
	c->state = CONN_STREAMING;
	http_write(c, h, strlen(h));
}

void http_upgrade(http_conn *c)
{
	static const char h[] = "HTTP/1.1 101 UPGRADED\r\nContent-Type: "
				"application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
				"Upgrade: tcp\r\n\r\n";
	c->state = CONN_RAW;
	http_write(c, h, sizeof h - 1);
}

/* ---- parsing ---- */

static http_conn *conn_of(llhttp_t *p)
{
	return p->data;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
	http_conn *c = conn_of(p);
	c->header_bytes += n;
	if (c->header_bytes > HTTP_MAX_HEADER)
		return HPE_USER;
	sb_addn(&c->url, at, n);
	return 0;
}

static void header_done(http_conn *c)
{
	if (!c->field.len)
		return;
	if (!strcasecmp(c->field.buf, "upgrade") && c->value.len)
		c->req.upgrade = true;
	c->field.len = c->value.len = 0;
	c->field.buf[0] = '\0';
	if (c->value.buf)
		c->value.buf[0] = '\0';
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
	http_conn *c = conn_of(p);
	c->header_bytes += n;
	if (c->header_bytes > HTTP_MAX_HEADER)
		return HPE_USER;
	if (c->in_value) {
		header_done(c);
		c->in_value = false;
	}
	sb_addn(&c->field, at, n);
	return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
	http_conn *c = conn_of(p);
	c->header_bytes += n;
	if (c->header_bytes > HTTP_MAX_HEADER)
		return HPE_USER;
	c->in_value = true;
	sb_addn(&c->value, at, n);
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	http_conn *c = conn_of(p);
	header_done(c);
	if (p->content_length > HTTP_MAX_BODY && p->content_length != UINT64_MAX) {
		c->limit_status = 413;
		return -1;
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	http_conn *c = conn_of(p);
	if (c->req.body.len + n > HTTP_MAX_BODY) {
		c->limit_status = 413;
		return HPE_USER;
	}
	sb_addn(&c->req.body, at, n);
	return 0;
}

static int on_complete(llhttp_t *p)
{
	conn_of(p)->complete = true;
	return HPE_PAUSED;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static char *decode(const char *s, size_t n, bool plus)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else {
			*o++ = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

char *http_query(const char *query, const char *key)
{
	size_t kl = strlen(key);
	for (const char *s = query; s && *s;) {
		const char *amp = strchr(s, '&');
		size_t n = amp ? (size_t)(amp - s) : strlen(s);
		if (n > kl && !strncmp(s, key, kl) && s[kl] == '=')
			return decode(s + kl + 1, n - kl - 1, true);
		if (n == kl && !strncmp(s, key, kl))
			return xstrdup("");
		s = amp ? amp + 1 : NULL;
	}
	return NULL;
}

bool http_query_bool(const char *query, const char *key)
{
	_cleanup_free_ char *v = http_query(query, key);
	return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True") || !*v);
}

static void dispatch(http_conn *c)
{
	llhttp_t *p = c->parser;
	ev_timer_stop(c->loop, &c->timer);
	c->req.method = xstrdup(llhttp_method_name((llhttp_method_t)p->method));
	const char *q = strchr(c->url.buf ? c->url.buf : "", '?');
	size_t plen = q ? (size_t)(q - c->url.buf) : c->url.len;
	c->req.path = decode(c->url.buf ? c->url.buf : "", plen, false);
	c->req.query = xstrdup(q ? q + 1 : "");
	c->state = CONN_HANDLING;
	handler(c, &c->req);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	http_conn *c = w->data;
	char buf[65536];
	ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 && c->state == CONN_RAW && c->on_data) {
		/* a half-close: the client's input ended, its output may go on */
		ev_io_stop(loop, &c->rio);
		c->on_data(c, NULL, 0);
		return;
	}
	if (n == 0 && c->state == CONN_STREAMING && c->list) {
		/* a stream's client left: stop feeding it */
		http_close(c);
		return;
	}
	if (n <= 0) {
		http_close(c);
		return;
	}
	if (c->state == CONN_RAW) {
		if (c->on_data)
			c->on_data(c, buf, (size_t)n);
		return;
	}
	if (c->state != CONN_READING)
		return; /* a client that talks on while its answer streams: ignored */
	llhttp_errno_t e = llhttp_execute(c->parser, buf, (size_t)n);
	if (e == HPE_PAUSED && c->complete) {
		dispatch(c);
		return;
	}
	if (e == HPE_OK)
		return;
	llhttp_t *p = c->parser;
	if (c->header_bytes > HTTP_MAX_HEADER)
		http_respond_error(c, 431, "request line and headers over %d bytes",
				   HTTP_MAX_HEADER);
	else if (c->limit_status == 413)
		http_respond_error(c, 413, "request body over %d bytes", HTTP_MAX_BODY);
	else
		http_respond_error(c, 400, "malformed HTTP request: %s",
				   llhttp_get_error_reason(p) ?: llhttp_errno_name(e));
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	flush(w->data, true);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	http_conn *c = w->data;
	if (c->state != CONN_READING)
		return;
	/* a busy loop may see the timer before the bytes that arrived in time: read them first */
	if (c->bytes_at_check != c->url.len + c->header_bytes + c->req.body.len) {
		c->bytes_at_check = c->url.len + c->header_bytes + c->req.body.len;
		ev_timer_again(loop, w);
		return;
	}
	char peek;
	if (recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 1) {
		ev_timer_again(loop, w);
		return;
	}
	http_respond_error(c, 408, "no part of the request arrived for %.0f s",
			   http_request_timeout);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		http_conn *c = xzalloc(sizeof *c);
		c->fd = fd;
		c->loop = loop;
		c->parser = xzalloc(sizeof(llhttp_t));
		llhttp_init(c->parser, HTTP_REQUEST, &settings);
		((llhttp_t *)c->parser)->data = c;
		ev_io_init(&c->rio, read_cb, fd, EV_READ);
		ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
		ev_timer_init(&c->timer, timeout_cb, http_request_timeout, http_request_timeout);
		c->rio.data = c->wio.data = c->timer.data = c;
		ev_io_start(loop, &c->rio);
		ev_timer_start(loop, &c->timer);
	}
}

/* One set of parser callbacks for every connection (and the fuzz target). */
static void init_settings(void)
{
	if (settings.on_url)
		return;
	llhttp_settings_init(&settings);
	settings.on_url = on_url;
	settings.on_header_field = on_field;
	settings.on_header_value = on_value;
	settings.on_headers_complete = on_headers_complete;
	settings.on_body = on_body;
	settings.on_message_complete = on_complete;
}

int http_listen(struct ev_loop *loop, const char *path, http_handler h, berth_error *err)
{
	handler = h;
	init_settings();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return berth_error_msg(err, ENAMETOOLONG, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return berth_error_set(err, errno, "socket");
	/* bound under a temporary name, then renamed: clients never see a half-made socket */
	_cleanup_free_ char *tmp = xasprintf("%s.%d", path, (int)getpid());
	struct sockaddr_un st = {.sun_family = AF_UNIX};
	snprintf(st.sun_path, sizeof st.sun_path, "%s", tmp);
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&st, sizeof st) < 0 || chmod(tmp, 0660) < 0 ||
	    listen(fd, 512) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return berth_error_set(err, e, "listen on %s", path);
	}
	ev_io_init(&listen_io, accept_cb, fd, EV_READ);
	ev_io_start(loop, &listen_io);
	return 0;
}

int http_parse_buffer(const char *data, size_t len, char **path, char **query)
{
	/* the same parser and callbacks as a connection's, without a socket (fuzzing) */
	init_settings();
	http_conn c = {.fd = -1};
	llhttp_t parser;
	llhttp_init(&parser, HTTP_REQUEST, &settings);
	parser.data = &c;
	llhttp_errno_t e = llhttp_execute(&parser, data, len);
	int status = 0;
	if (e == HPE_PAUSED && c.complete) {
		const char *q = strchr(c.url.buf ? c.url.buf : "", '?');
		size_t plen = q ? (size_t)(q - c.url.buf) : c.url.len;
		*path = decode(c.url.buf ? c.url.buf : "", plen, false);
		*query = xstrdup(q ? q + 1 : "");
	} else if (e != HPE_OK) {
		status = c.header_bytes > HTTP_MAX_HEADER ? 431
			 : c.limit_status		  ? c.limit_status
							  : 400;
	}
	sb_release(&c.url);
	sb_release(&c.field);
	sb_release(&c.value);
	sb_release(&c.req.body);
	return status;
}
