/* The client side of berthd's API: requests over the UNIX socket, starting berthd if need be. */
#ifndef BERTH_CLI_CLIENT_H
#define BERTH_CLI_CLIENT_H

#include "../common/common.h"

#include <jansson.h>

typedef struct {
	int fd;
	int status;
	char content_type[128];
	long long length; /* -1: until the connection closes */
	strbuf pending;	  /* body bytes read with the headers */
} client_stream;

/*
 * Sends a request (body may be NULL) and reads the answer's headers.  With
 * upgrade the connection becomes a raw two-way stream (attach, exec).
 */
int client_open(const char *method, const char *path, json_t *body, bool upgrade, client_stream *s,
		berth_error *err);
/* Sends a request without waiting for the answer (wait before start); finish with
 * client_finish(). */
int client_send(const char *method, const char *path, json_t *body, client_stream *s,
		berth_error *err);
int client_finish(client_stream *s, berth_error *err);
/* Reads the rest of the body as JSON (NULL body when empty). */
int client_body(client_stream *s, json_t **out, berth_error *err);
void client_close(client_stream *s);

/* One request, one answer: returns the HTTP status (or -1), the JSON body in *out. */
int client_call(const char *method, const char *path, json_t *body, json_t **out, berth_error *err);
/* The "message" of an error answer. */
const char *client_message(json_t *body);
/* URL-encodes s for a query string. */
char *client_escape(const char *s);

/* Moves a raw stream to stdout/stderr (demultiplexed unless tty), and stdin to it if in,
 * until it ends (run.c). */
int pump_stream(client_stream *s, bool in, bool tty);

#endif
