/*
 * Images through the API.  Reads use the store without its lock (the index
 * is replaced atomically), so they never wait.  Loads, tags and removals
 * change the store under its lock, which a load holds for as long as it
 * unpacks: they run in a worker process, forked for the request, whose
 * answer comes back on a pipe; the loop goes on serving meanwhile.
 */
#include "daemon.h"
#include "../engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef json_t *(*worker_fn)(engine_store *s, const char *a, const char *b, berth_error *err);

typedef struct {
	http_conn *conn;
	int fd;
	ev_io io;
	ev_child child;
	strbuf out;
	bool reaped, read_all;
} worker;

static int status_for(int code)
{
	return code == ENOENT			 ? 404
	       : code == EBUSY || code == EEXIST ? 409
	       : code == EINVAL			 ? 400
						 : 500;
}

static void worker_done(worker *w)
{
	if (!w->reaped || !w->read_all)
		return;
	if (w->conn) {
		json_t *r = json_loadb(w->out.buf ? w->out.buf : "", w->out.len, 0, NULL);
		int st = (int)json_integer_value(json_object_get(r, "status"));
		json_t *body = json_object_get(r, "body");
		http_conn *c = w->conn;
		c->on_close = NULL;
		c->ctx = NULL;
		if (!r)
			http_respond_error(c, 500, "the image worker died");
		else
			http_respond(c, st ? st : 500, json_incref(body));
		json_decref(r);
	}
	sb_release(&w->out);
	free(w);
}

static void worker_read(struct ev_loop *loop, ev_io *io, int revents)
{
	worker *w = io->data;
	char buf[8192];
	ssize_t n = read(w->fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		sb_addn(&w->out, buf, (size_t)n);
		return;
	}
	ev_io_stop(loop, io);
	close(w->fd);
	w->read_all = true;
	worker_done(w);
}

static void worker_reaped(struct ev_loop *loop, ev_child *ch, int revents)
{
	worker *w = ch->data;
	ev_child_stop(loop, ch);
	w->reaped = true;
	worker_done(w);
}

static void worker_conn_gone(http_conn *c)
{
	worker *w = c->ctx;
	if (w)
		w->conn = NULL; /* the work goes on; its answer has nobody to go to */
}

static void run_worker(http_conn *c, worker_fn fn, const char *a, const char *b)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		http_respond_error(c, 500, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]), close(p[1]);
		http_respond_error(c, 500, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		berth_error err = BERTH_ERROR_INIT;
		engine_store *s = engine_store_open(D.root, &err);
		json_t *body = s ? fn(s, a, b, &err) : NULL;
		json_t *r = body ? json_pack("{s:i,s:o}", "status", 200, "body", body)
				 : json_pack("{s:i,s:{s:s}}", "status", status_for(err.code),
					     "body", "message", err.msg ? err.msg : "failed");
		char *text = json_dumps(r, JSON_COMPACT);
		size_t n = strlen(text), off = 0;
		while (off < n) {
			ssize_t wr = write(p[1], text + off, n - off);
			if (wr <= 0)
				break;
			off += (size_t)wr;
		}
		_exit(0);
	}
	close(p[1]);
	worker *w = xzalloc(sizeof *w);
	w->conn = c;
	w->fd = p[0];
	c->ctx = w;
	c->on_close = worker_conn_gone;
	ev_io_init(&w->io, worker_read, p[0], EV_READ);
	w->io.data = w;
	ev_io_start(D.loop, &w->io);
	ev_child_init(&w->child, worker_reaped, pid, 0);
	w->child.data = w;
	ev_child_start(D.loop, &w->child);
}

static json_t *do_load(engine_store *s, const char *path, const char *unused, berth_error *err)
{
	json_t *loaded = json_array();
	if (engine_image_load(s, path, loaded, err) < 0) {
		json_decref(loaded);
		return NULL;
	}
	return json_pack("{s:o}", "Loaded", loaded);
}

static json_t *do_tag(engine_store *s, const char *src, const char *dst, berth_error *err)
{
	return engine_image_tag(s, src, dst, err) < 0 ? NULL : json_object();
}

static json_t *do_rmi(engine_store *s, const char *ref, const char *force, berth_error *err)
{
	json_t *out = json_array();
	if (engine_image_remove(s, ref, force != NULL, out, err) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void image_h(http_conn *c, http_request *req, const char *rest)
{
	bool get = !strcmp(req->method, "GET");
	berth_error err = BERTH_ERROR_INIT;
	size_t n = strlen(rest);
	if (!strcmp(rest, "/json") && get) {
		engine_store *s = engine_store_open_read(D.root, &err);
		if (!s)
			http_respond_error(c, 500, "%s", err.msg);
		else
			http_respond(c, 200, engine_image_list(s));
		engine_store_close(s);
	} else if (!strcmp(rest, "/load") && !strcmp(req->method, "POST")) {
		_cleanup_free_ char *path = http_query(req->query, "path");
		if (!path || path[0] != '/')
			http_respond_error(c, 400,
					   "load: path= must name an archive on berthd's "
					   "machine by its absolute path");
		else if (access(path, R_OK) < 0)
			http_respond_error(c, 404, "load: %s: %s", path, strerror(errno));
		else
			run_worker(c, do_load, path, NULL);
	} else if (n > 5 && !strcmp(rest + n - 5, "/json") && get) {
		_cleanup_free_ char *ref = xstrndup(rest + 1, n - 6);
		engine_store *s = engine_store_open_read(D.root, &err);
		json_t *out = s ? engine_image_inspect(s, ref, &err) : NULL;
		if (!out)
			http_respond_error(c, status_for(err.code), "%s", err.msg);
		else
			http_respond(c, 200, out);
		engine_store_close(s);
	} else if (n > 4 && !strcmp(rest + n - 4, "/tag") && !strcmp(req->method, "POST")) {
		_cleanup_free_ char *ref = xstrndup(rest + 1, n - 5);
		_cleanup_free_ char *repo = http_query(req->query, "repo");
		_cleanup_free_ char *tag = http_query(req->query, "tag");
		if (!repo || !*repo) {
			http_respond_error(c, 400, "tag: repo= is required");
		} else {
			_cleanup_free_ char *dst =
			    xasprintf("%s:%s", repo, tag && *tag ? tag : "latest");
			run_worker(c, do_tag, ref, dst);
		}
	} else if (rest[0] == '/' && rest[1] && !strcmp(req->method, "DELETE")) {
		bool force = http_query_bool(req->query, "force");
		engine_store *s = engine_store_open_read(D.root, &err);
		json_t *img = s ? engine_image_get(s, rest + 1, &err) : NULL;
		engine_store_close(s);
		const char *user = img ? containers_using_image(
					     json_string_value(json_object_get(img, "Id")), force)
				       : NULL;
		if (!img)
			http_respond_error(c, status_for(err.code), "%s", err.msg);
		else if (user)
			http_respond_error(c, 409,
					   "conflict: unable to remove repository reference \"%s\" "
					   "(must force) - container %.12s is using its referenced "
					   "image",
					   rest + 1, user);
		else
			run_worker(c, do_rmi, rest + 1, force ? "force" : NULL);
		json_decref(img);
	} else {
		http_respond_error(c, 404, "page not found: %s %s", req->method, req->path);
	}
	berth_error_clear(&err);
}
