/* berthd's HTTP/1.1 server on a UNIX socket: llhttp parsing, libev I/O, one request a connection.
 */
#ifndef BERTH_DAEMON_HTTP_H
#define BERTH_DAEMON_HTTP_H

#include "../common/common.h"

#include <ev.h>
#include <jansson.h>

#define HTTP_MAX_HEADER (64 * 1024)
#define HTTP_MAX_BODY (16 * 1024 * 1024)
#define HTTP_MAX_PENDING (8 * 1024 * 1024) /* unsent output of a stream before it is dropped */

typedef struct http_conn http_conn;

typedef struct {
	char *method;
	char *path;  /* decoded, without the query */
	char *query; /* raw, without '?' ("" when none) */
	strbuf body;
	bool upgrade; /* the client asked for a raw stream (Upgrade: tcp) */
} http_request;

/* A set of connections waiting for the same thing (exit, log lines, events). */
typedef struct {
	http_conn *first;
} http_list;

struct http_conn {
	int fd;
	struct ev_loop *loop;
	ev_io rio, wio;
	ev_timer timer;
	void *parser, *settings;
	strbuf url, field, value;
	bool in_value;
	size_t header_bytes;
	int limit_status;      /* 413 once the body is known to be over the limit */
	size_t bytes_at_check; /* what had arrived when the request timer last fired */
	http_request req;
	bool complete;
	enum { CONN_READING, CONN_HANDLING, CONN_STREAMING, CONN_RAW, CONN_CLOSING } state;
	strbuf out;
	size_t out_off;
	/* membership of one http_list */
	http_list *list;
	http_conn *prev, *next;
	/* per-handler state, freed with the connection */
	void *ctx;
	void (*ctx_free)(void *ctx);
	/* raw streams (attach, exec): bytes from the client; NULL, 0 when its input ended */
	void (*on_data)(http_conn *c, const char *data, size_t len);
	/* called when all that was written has been sent (pacing a large answer) */
	void (*on_drain)(http_conn *c);
	/* called once, before the connection goes away */
	void (*on_close)(http_conn *c);
};

typedef void (*http_handler)(http_conn *c, http_request *req);

/* Listens on path (mode 0660), calling handler for each complete request. */
int http_listen(struct ev_loop *loop, const char *path, http_handler handler, berth_error *err);
/* Seconds a client may send nothing of its request before it gets 408 (a stalled client). */
extern double http_request_timeout;

void http_respond(http_conn *c, int status, json_t *body); /* steals body; NULL: no body */
void http_respond_error(http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A streamed body (until the connection closes): logs, events. */
void http_stream_begin(http_conn *c, const char *content_type);
/* 101: from here bytes go both ways raw; on_data receives the client's. */
void http_upgrade(http_conn *c);
void http_write(http_conn *c, const void *data, size_t len);
/* Bytes written but not yet sent. */
size_t http_pending(http_conn *c);
/* Closes once what was written has been sent. */
void http_end(http_conn *c);
/* Closes now. */
void http_close(http_conn *c);

void http_list_add(http_list *l, http_conn *c);
void http_list_del(http_conn *c);

/* The value of key in a query string, decoded; NULL when absent. */
char *http_query(const char *query, const char *key);
bool http_query_bool(const char *query, const char *key);
/* Parses one request from a buffer as a connection would: 0 with path and query when complete
 * (or incomplete: both NULL), else the 4xx it would answer. For the fuzz target. */
int http_parse_buffer(const char *data, size_t len, char **path, char **query);

#endif
