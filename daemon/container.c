/*
 * Containers: their records on disk, and their life on the event loop.
 *
 * A container's record (root/containers/<id>/container.json, Docker's
 * inspect form) is rewritten atomically at each change of state.  Starting
 * mounts the root filesystem, writes the bundle, and spawns berth-monitor,
 * which runs the runtime's create and reports "ok PID" on a pipe; berthd
 * then connects to the monitor's socket (a "watch" whose EOF is the exit,
 * and the attach streams) and only then releases the init, so that no
 * output is missed.  An exit is read from the monitor's exit file; then
 * the cgroup, runtime state and mount go, and the restart policy decides.
 * At daemon start the same steps repair what a crash at any instant left.
 */
#include "daemon.h"
#include "../common/fsutil.h"
#include "../composer/composer.h"
#include "../engine/engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct exec_proc exec_proc;

struct container {
	char id[65];
	json_t *rec;
	container *next;
	bool starting, removing, stop_requested, remove_after_exit, restart_after_exit;
	bool remove_volumes, stop_after_start;
	/* a held start (container_prepare()): made, its exec waits; parked_pid once made.
	 * hold_dropped: given up before it was made */
	bool held, hold_dropped;
	pid_t parked_pid;
	/* an exit whose die event is out and whose teardown waits for the next turn of the
	 * loop (exit_rest()): what it decided */
	bool exit_pending, exit_restart, exit_removing;
	bool torn; /* nothing of a run is left (teardown()), until the next do_start() */
	int exit_code;
	char *exit_error;
	int restart_delay_ms;
	/* the monitor */
	pid_t monitor_pid;
	int sync_fd;
	ev_io sync_io;
	strbuf sync_buf;
	int watch_fd;
	ev_io watch_io;
	ev_timer stop_timer, restart_timer, health_timer, go_timer;
	container *exit_next; /* in the queue of exits to finish (exits_first) */
	http_list start_waiters, exit_waiters, stop_waiters, remove_waiters, attachers, followers;
	/* health */
	exec_proc *health;
	long long health_started;
};

struct exec_proc {
	char id[65];
	container *c;
	json_t *config;
	pid_t pid;
	ev_child child;
	int fds[3]; /* berthd's ends: stdin (write), stdout, stderr (read); a pty master in [1] */
	ev_io out_io, err_io;
	strbuf output; /* health checks: what the check printed (first 4 KiB) */
	bool running, tty, health, timed_out;
	int exit_code;
	ev_timer timeout;
	http_conn *conn;
	exec_proc *next;
};

static exec_proc *execs;

typedef struct {
	container *c;
	int mfd;
	ev_io mio;
	bool stdin_, started;
	http_conn *conn;
} attach_ctx;

static const engine_runtime_opts *rt_opts(void)
{
	static engine_runtime_opts o;
	o.state_root = D.runtime_root;
	return &o;
}

const char *container_id(container *c)
{
	return c->id;
}

container *container_next(container *c)
{
	return c->next;
}

json_t *container_rec(container *c)
{
	return c->rec;
}

/* ---- small helpers ---- */

long long now_nanos(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *rfc3339(long long nanos)
{
	if (nanos <= 0)
		return xstrdup("0001-01-01T00:00:00Z");
	time_t s = (time_t)(nanos / 1000000000LL);
	struct tm tm;
	gmtime_r(&s, &tm);
	return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos % 1000000000LL);
}

static json_t *st(container *c)
{
	return json_object_get(c->rec, "State");
}

static const char *status(container *c)
{
	return json_string_value(json_object_get(st(c), "Status"));
}

static json_t *cfg(container *c)
{
	return json_object_get(c->rec, "Config");
}

static json_t *hcfg(container *c)
{
	return json_object_get(c->rec, "HostConfig");
}

static const char *cname(container *c)
{
	return json_string_value(json_object_get(c->rec, "Name")) + 1;
}

static char *cdir(container *c, const char *name)
{
	return xasprintf("%s/%s%s%s", D.containers_dir, c->id, name ? "/" : "", name ? name : "");
}

static char *rdir(container *c, const char *name)
{
	return xasprintf("%s/%s%s%s", D.run_containers, c->id, name ? "/" : "", name ? name : "");
}

static void set_state(container *c, const char *key, json_t *v)
{
	json_object_set_new(st(c), key, v);
}

static int save(container *c, berth_error *err)
{
	_cleanup_free_ char *p = cdir(c, "container.json");
	_cleanup_free_ char *text = json_dumps(c->rec, JSON_COMPACT);
	return write_file_atomic(p, text, strlen(text), 0600, err);
}

int container_save(container *c, berth_error *err)
{
	return save(c, err);
}

static void save_or_log(container *c)
{
	berth_error err = BERTH_ERROR_INIT;
	if (save(c, &err) < 0)
		fprintf(stderr, "berthd: container %.12s: save state: %s\n", c->id, err.msg);
	berth_error_clear(&err);
}

/* An event's attributes: the name, the image, the labels and extra (taken). */
static json_t *event_attrs(container *c, json_t *extra)
{
	json_t *a = json_pack("{s:s,s:s}", "name", cname(c), "image",
			      json_string_value(json_object_get(cfg(c), "Image")));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(cfg(c), "Labels"), k, v) json_object_set(a, k, v);
	if (extra)
		json_object_update(a, extra);
	json_decref(extra);
	return a;
}

static void event(container *c, const char *action, json_t *extra)
{
	daemon_event("container", action, c->id, event_attrs(c, extra));
}

static void reply_all(http_list *l, int code, json_t *body)
{
	while (l->first) {
		http_conn *w = l->first;
		http_list_del(w);
		http_respond(w, code, body ? json_incref(body) : NULL);
	}
	json_decref(body);
}

static container *lookup(const char *ref, berth_error *err);
static void exit_rest(container *c);
static void exit_forget(container *c);
static void exit_unqueue(container *c);
static void exits_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* exits whose rest waits, oldest first; the timer finishes one a turn of the loop */
static container *exits_first, *exits_last;
static ev_timer exits_timer;

/* A container by id, name or unique id prefix; one whose exit's teardown waits is torn down
 * first (exit_rest()): whoever looks it up sees it settled, or gone. */
container *container_find(const char *ref, berth_error *err)
{
	container *c = lookup(ref, err);
	if (!c || !c->exit_pending)
		return c;
	char id[65];
	memcpy(id, c->id, sizeof id);
	exit_rest(c);
	return lookup(id, err);
}

static container *lookup(const char *ref, berth_error *err)
{
	if (!ref || !*ref) {
		berth_error_msg(err, ENOENT, "No such container: %s", ref ? ref : "");
		return NULL;
	}
	const char *name = ref[0] == '/' ? ref + 1 : ref;
	for (container *c = D.containers; c; c = c->next)
		if (!strcmp(c->id, ref) || !strcmp(cname(c), name))
			return c;
	container *found = NULL;
	size_t n = strlen(ref);
	for (container *c = D.containers; c; c = c->next)
		if (!strncmp(c->id, ref, n)) {
			if (found) {
				berth_error_msg(
				    err, EEXIST,
				    "multiple containers found with provided prefix: %s", ref);
				return NULL;
			}
			found = c;
		}
	if (!found)
		berth_error_msg(err, ENOENT, "No such container: %s", ref);
	return found;
}

static bool name_taken(const char *name)
{
	for (container *c = D.containers; c; c = c->next)
		if (!strcmp(cname(c), name))
			return true;
	return false;
}

static bool valid_name(const char *n)
{
	if (!n[0] || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
		       (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (const char *p = n; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    *p))
			return false;
	return strlen(n) < 128;
}

static char *random_name(void)
{
	static const char *const adj[] = {
	    "admiring", "brave",   "clever", "dazzling", "eager",  "festive", "gallant",
	    "happy",	"jolly",   "keen",   "lucid",	 "modest", "nifty",   "optimistic",
	    "quirky",	"relaxed", "serene", "trusting", "upbeat", "vibrant"};
	static const char *const who[] = {"babbage",  "curie",	 "darwin",  "euler",   "fermi",
					  "galileo",  "hopper",	 "johnson", "knuth",   "lovelace",
					  "meitner",  "noether", "pasteur", "ritchie", "shannon",
					  "thompson", "turing",	 "wozniak", "yalow",   "zuse"};
	for (int tries = 0;; tries++) {
		unsigned r[3];
		getrandom(r, sizeof r, 0);
		char *n = tries < 10 ? xasprintf("%s_%s", adj[r[0] % ARRAY_SIZE(adj)],
						 who[r[1] % ARRAY_SIZE(who)])
				     : xasprintf("%s_%s%u", adj[r[0] % ARRAY_SIZE(adj)],
						 who[r[1] % ARRAY_SIZE(who)], r[2] % 100);
		if (!name_taken(n))
			return n;
		free(n);
	}
}

static container *container_new(json_t *rec)
{
	container *c = xzalloc(sizeof *c);
	snprintf(c->id, sizeof c->id, "%s", json_string_value(json_object_get(rec, "Id")));
	c->rec = rec;
	c->sync_fd = c->watch_fd = -1;
	c->restart_delay_ms = 100;
	c->next = D.containers;
	D.containers = c;
	return c;
}

static void container_free(container *c)
{
	for (container **pp = &D.containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_timer_stop(D.loop, &c->stop_timer);
	ev_timer_stop(D.loop, &c->restart_timer);
	ev_timer_stop(D.loop, &c->health_timer);
	ev_timer_stop(D.loop, &c->go_timer);
	exit_unqueue(c);
	free(c->exit_error);
	if (c->sync_fd >= 0) {
		ev_io_stop(D.loop, &c->sync_io);
		close(c->sync_fd);
	}
	if (c->watch_fd >= 0) {
		ev_io_stop(D.loop, &c->watch_io);
		close(c->watch_fd);
	}
	sb_release(&c->sync_buf);
	json_decref(c->rec);
	free(c);
}

/* ---- create ---- */

/* Checks the JSON types of the fields berthd reads, as Docker's decoder would. */
static int check_types(json_t *body, berth_error *err)
{
	static const struct {
		const char *obj, *key;
		int type; /* JSON_* ; -1: string or array of strings */
	} fields[] = {
	    {NULL, "Image", JSON_STRING},
	    {NULL, "Cmd", -1},
	    {NULL, "Entrypoint", -1},
	    {NULL, "Env", JSON_ARRAY},
	    {NULL, "WorkingDir", JSON_STRING},
	    {NULL, "User", JSON_STRING},
	    {NULL, "Hostname", JSON_STRING},
	    {NULL, "Domainname", JSON_STRING},
	    {NULL, "Labels", JSON_OBJECT},
	    {NULL, "Tty", JSON_TRUE},
	    {NULL, "OpenStdin", JSON_TRUE},
	    {NULL, "StopSignal", JSON_STRING},
	    {NULL, "StopTimeout", JSON_INTEGER},
	    {NULL, "Healthcheck", JSON_OBJECT},
	    {NULL, "HostConfig", JSON_OBJECT},
	    {"HostConfig", "Binds", JSON_ARRAY},
	    {"HostConfig", "Tmpfs", JSON_OBJECT},
	    {"HostConfig", "Mounts", JSON_ARRAY},
	    {"HostConfig", "Memory", JSON_INTEGER},
	    {"HostConfig", "MemorySwap", JSON_INTEGER},
	    {"HostConfig", "NanoCpus", JSON_INTEGER},
	    {"HostConfig", "CpuShares", JSON_INTEGER},
	    {"HostConfig", "PidsLimit", JSON_INTEGER},
	    {"HostConfig", "CapAdd", JSON_ARRAY},
	    {"HostConfig", "CapDrop", JSON_ARRAY},
	    {"HostConfig", "Privileged", JSON_TRUE},
	    {"HostConfig", "ReadonlyRootfs", JSON_TRUE},
	    {"HostConfig", "SecurityOpt", JSON_ARRAY},
	    {"HostConfig", "Ulimits", JSON_ARRAY},
	    {"HostConfig", "RestartPolicy", JSON_OBJECT},
	    {"HostConfig", "AutoRemove", JSON_TRUE},
	    {"HostConfig", "Init", JSON_TRUE},
	    {"HostConfig", "NetworkMode", JSON_STRING},
	    {"HostConfig", "Sysctls", JSON_OBJECT},
	    {"HostConfig", "ShmSize", JSON_INTEGER},
	    {"HostConfig", "LogConfig", JSON_OBJECT},
	    {"Healthcheck", "Test", JSON_ARRAY},
	    {"Healthcheck", "Interval", JSON_INTEGER},
	    {"Healthcheck", "Timeout", JSON_INTEGER},
	    {"Healthcheck", "Retries", JSON_INTEGER},
	    {"Healthcheck", "StartPeriod", JSON_INTEGER},
	    {"Healthcheck", "StartInterval", JSON_INTEGER},
	};
	static const char *const tname[] = {"an object", "an array",  "a string",  "an integer",
					    "a number",	 "a boolean", "a boolean", "null"};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_t *o = fields[i].obj ? json_object_get(body, fields[i].obj) : body;
		json_t *v = json_object_get(o, fields[i].key);
		if (!v || json_is_null(v))
			continue;
		int t = fields[i].type;
		bool ok = t == -1	   ? json_is_string(v) || json_is_array(v)
			  : t == JSON_TRUE ? json_is_boolean(v)
					   : (int)json_typeof(v) == t;
		if (t == JSON_ARRAY || t == -1) {
			json_t *e;
			size_t k;
			json_array_foreach(json_is_array(v) ? v : NULL, k, e) ok &=
			    strcmp(fields[i].key, "Mounts") && strcmp(fields[i].key, "Ulimits")
				? json_is_string(e)
				: json_is_object(e);
		}
		if (!ok)
			return berth_error_msg(err, EINVAL, "%s%s%s: expected %s, got %s",
					       fields[i].obj ? fields[i].obj : "",
					       fields[i].obj ? "." : "", fields[i].key,
					       t == -1 ? "a string or an array of strings"
						       : tname[t == JSON_TRUE ? 5 : t],
					       tname[json_typeof(v)]);
	}
	json_t *rp = json_object_get(json_object_get(body, "HostConfig"), "RestartPolicy");
	const char *pol = json_string_value(json_object_get(rp, "Name"));
	if (pol && *pol && strcmp(pol, "no") && strcmp(pol, "always") &&
	    strcmp(pol, "on-failure") && strcmp(pol, "unless-stopped"))
		return berth_error_msg(err, EINVAL, "invalid restart policy '%s'", pol);
	if (json_is_true(json_object_get(json_object_get(body, "HostConfig"), "AutoRemove")) &&
	    pol && *pol && strcmp(pol, "no"))
		return berth_error_msg(err, EINVAL,
				       "can't create 'AutoRemove' container with restart policy");
	return 0;
}

static json_t *str_or_array(json_t *v)
{
	if (json_is_string(v))
		return json_pack("[O]", v);
	return v ? json_deep_copy(v) : json_null();
}

/* Compose's secrets and configs (BerthFiles): written into dir/files with their owner and
 * mode, and bound read-only at their targets. */
static int write_files(const char *dir, json_t *files, json_t *hc, berth_error *err)
{
	if (!json_array_size(files))
		return 0;
	_cleanup_free_ char *fdir = xasprintf("%s/files", dir);
	if (mkdir_p(fdir, 0755, err) < 0)
		return -1;
	json_t *f;
	size_t i;
	json_array_foreach(files, i, f)
	{
		const char *what = json_string_value(json_object_get(f, "What")) ?: "file";
		const char *src = json_string_value(json_object_get(f, "Source"));
		_cleanup_strbuf_ strbuf data = STRBUF_INIT;
		if (src) {
			FILE *in = fopen(src, "re");
			if (!in)
				return berth_error_msg(err, errno, "%s: cannot read %s: %s", what,
						       src, strerror(errno));
			char b[8192];
			size_t n;
			while ((n = fread(b, 1, sizeof b, in)) > 0)
				sb_addn(&data, b, n);
			fclose(in);
		} else {
			const char *c = json_string_value(json_object_get(f, "Content")) ?: "";
			sb_addn(&data, c, strlen(c));
		}
		_cleanup_free_ char *path = xasprintf("%s/%zu", fdir, i);
		mode_t mode = (mode_t)json_integer_value(json_object_get(f, "Mode"));
		if (write_file_atomic(path, data.buf ? data.buf : "", data.len, mode, err) < 0 ||
		    chown(path, (uid_t)json_integer_value(json_object_get(f, "Uid")),
			  (gid_t)json_integer_value(json_object_get(f, "Gid"))) < 0 ||
		    chmod(path, mode) < 0)
			return err->msg
				   ? -1
				   : berth_error_msg(err, errno, "%s: %s", what, strerror(errno));
		json_t *ml = json_object_get(hc, "Mounts");
		if (!json_is_array(ml))
			json_object_set_new(hc, "Mounts", ml = json_array());
		json_array_append_new(ml, json_pack("{s:s,s:s,s:O,s:b}", "Type", "bind", "Source",
						    path, "Target", json_object_get(f, "Target"),
						    "ReadOnly", 1));
	}
	return 0;
}

static container *create_record(json_t *body, json_t *img, const char *name, json_t *settings,
				berth_error *err)
{
	const char *image = json_string_value(json_object_get(body, "Image"));
	unsigned char rnd[32];
	getrandom(rnd, sizeof rnd, 0);
	char id[65];
	for (int i = 0; i < 32; i++)
		sprintf(id + 2 * i, "%02x", rnd[i]);
	_cleanup_free_ char *gen =
	    name && *name ? xstrdup(name[0] == '/' ? name + 1 : name) : random_name();
	_cleanup_free_ char *slash_name = xasprintf("/%s", gen);
	_cleanup_free_ char *created = rfc3339(now_nanos());
	json_t *hc = json_deep_copy(json_object_get(body, "HostConfig"));
	if (!hc)
		hc = json_object();
	if (!json_object_get(hc, "RestartPolicy"))
		json_object_set_new(hc, "RestartPolicy",
				    json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
	if (!json_string_length(json_object_get(hc, "NetworkMode")))
		json_object_set_new(hc, "NetworkMode", json_string("bridge"));
	json_t *config = json_deep_copy(body);
	json_object_del(config, "HostConfig");
	json_object_del(config, "NetworkingConfig");
	json_object_del(config, "BerthFiles"); /* secrets stay out of the record */
	/* -P publishes what the image exposes too */
	json_t *exposed = json_object_get(json_object_get(img, "Config"), "ExposedPorts");
	if (json_is_object(exposed)) {
		if (!json_is_object(json_object_get(config, "ExposedPorts")))
			json_object_set_new(config, "ExposedPorts", json_object());
		json_object_update_missing(json_object_get(config, "ExposedPorts"), exposed);
	}
	json_object_set_new(config, "Cmd", str_or_array(json_object_get(body, "Cmd")));
	json_object_set_new(config, "Entrypoint",
			    str_or_array(json_object_get(body, "Entrypoint")));
	json_object_set_new(config, "Image", json_string(image));
	if (!json_object_get(config, "Labels"))
		json_object_set_new(config, "Labels", json_object());
	if (!json_string_length(json_object_get(config, "Hostname")))
		json_object_set_new(config, "Hostname", json_stringn(id, 12));
	json_t *rec = json_pack(
	    "{s:s,s:s,s:o,s:s,s:s,s:i,s:o,s:o,s:{s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s},"
	    "s:b}",
	    "Id", id, "Created", created, "Name", json_string(slash_name), "Image",
	    json_string_value(json_object_get(img, "Id")), "Driver", "overlay2", "RestartCount", 0,
	    "Config", config, "HostConfig", hc, "State", "Status", "created", "Running", 0,
	    "Paused", 0, "Restarting", 0, "OOMKilled", 0, "Dead", 0, "Removing", 0, "Pid", 0,
	    "ExitCode", 0, "Error", "", "StartedAt", "0001-01-01T00:00:00Z", "FinishedAt",
	    "0001-01-01T00:00:00Z", "ManuallyStopped", 0);
	json_object_set_new(rec, "NetworkSettings", settings);
	container *c = container_new(rec);
	_cleanup_free_ char *dir = cdir(c, NULL);
	_cleanup_free_ char *logp = xasprintf("%s/%s-json.log", dir, id);
	json_object_set_new(rec, "LogPath", json_string(logp));
	json_object_set_new(rec, "Path", json_string(""));
	if (mkdir_p(dir, 0700, err) < 0 ||
	    write_files(dir, json_object_get(body, "BerthFiles"), hc, err) < 0 ||
	    save(c, err) < 0) {
		rm_rf(dir, NULL);
		container_free(c);
		return NULL;
	}
	event(c, "create", NULL);
	return c;
}

/* Creates a container from Docker's create body; NULL and *status (the HTTP status) and err. */
container *container_create(json_t *body, const char *name, int *status, berth_error *err)
{
	json_t *img = NULL;
	engine_store *s = NULL;
	container *c = NULL;
	*status = 400;
	if (check_types(body, err) < 0)
		goto out;
	const char *image = json_string_value(json_object_get(body, "Image"));
	if (!image || !*image) {
		berth_error_msg(err, EINVAL, "Config.Image: an image is required");
		goto out;
	}
	if (name && *name) {
		const char *n = name[0] == '/' ? name + 1 : name;
		if (!valid_name(n)) {
			berth_error_msg(
			    err, EINVAL,
			    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
			    "are allowed",
			    n);
			goto out;
		}
		if (name_taken(n)) {
			container *o = container_find(n, NULL);
			*status = 409;
			berth_error_msg(err, EEXIST,
					"Conflict. The container name \"/%s\" is already in use by "
					"container \"%s\". You have to remove (or rename) that "
					"container to be able to reuse that name.",
					n, o ? o->id : "?");
			goto out;
		}
	}
	if (!(s = engine_store_open_read(D.root, err)) ||
	    !(img = engine_image_inspect(s, image, err))) {
		*status = 404;
		goto out;
	}
	/* a missing network or a taken port is refused before anything exists */
	json_t *settings = net_settings_for_create(body, err);
	if (!settings) {
		*status = err->code == ENOENT ? 404 : 400;
		goto out;
	}
	if (net_check_ports(body, err) < 0) {
		json_decref(settings);
		*status = err->code == EADDRINUSE ? 409 : 400;
		goto out;
	}
	c = create_record(body, img, name, settings, err);
	if (!c)
		*status = 500;
out:
	json_decref(img);
	engine_store_close(s);
	return c;
}

void container_create_h(http_conn *conn, http_request *req)
{
	json_error_t je;
	json_t *body = json_loadb(req->body.buf ? req->body.buf : "", req->body.len, 0, &je);
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ char *name = http_query(req->query, "name");
	int status;
	container *c;
	if (!json_is_object(body))
		http_respond_error(conn, 400, "invalid JSON body: %s",
				   body ? "not an object" : je.text);
	else if ((c = container_create(body, name, &status, &err)))
		http_respond(conn, 201, json_pack("{s:s,s:[]}", "Id", c->id, "Warnings"));
	else
		http_respond_error(conn, status, "%s", err.msg);
	berth_error_clear(&err);
	json_decref(body);
}

/* ---- the bundle ---- */

static char **str_list(json_t *a)
{
	size_t n = json_array_size(a);
	char **v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = (char *)json_string_value(json_array_get(a, i));
	return v;
}

static int add_mount(json_t *mounts, const char *type, const char *src, const char *dst,
		     const char *opts, berth_error *err)
{
	if (dst[0] != '/')
		return berth_error_msg(err, EINVAL,
				       "invalid mount path: '%s' mount path must be "
				       "absolute",
				       dst);
	json_t *o = json_array();
	if (!strcmp(type, "bind"))
		json_array_append_new(o, json_string("rbind"));
	else
		for (const char *const *d =
			 (const char *const[]){"nosuid", "nodev", "noexec", NULL};
		     *d; d++)
			json_array_append_new(o, json_string(*d));
	_cleanup_free_ char *dup = xstrdup(opts ? opts : "");
	char *save = NULL;
	bool mode = false;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		mode |= !strcmp(t, "ro") || !strcmp(t, "rw");
		if (strcmp(t, "z") && strcmp(t, "Z"))
			json_array_append_new(o, json_string(t));
	}
	if (!mode)
		json_array_append_new(o, json_string("rw"));
	/* a later mount at the same place replaces an earlier one (/dev/shm by --shm-size) */
	json_t *m;
	size_t i;
	json_array_foreach(
	    mounts, i, m) if (!strcmp(json_string_value(json_object_get(m, "destination")), dst))
	{
		json_array_remove(mounts, i);
		break;
	}
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:o}", "destination", dst, "type",
						!strcmp(type, "bind") ? "bind" : type, "source",
						src, "options", o));
	return 0;
}

static int volume_mount(json_t *mounts, const char *rootfs, const char *src, const char *dst,
			const char *opts, berth_error *err)
{
	bool created = false;
	_cleanup_free_ char *data = volume_ensure(src, &created, err);
	if (!data)
		return -1;
	if (created) {
		_cleanup_free_ char *p = xasprintf("%s%s", rootfs, dst);
		int a = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int b = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (a >= 0 && b >= 0) {
			struct stat sb;
			copy_tree(a, b, NULL);
			if (fstat(a, &sb) == 0 && fchown(b, sb.st_uid, sb.st_gid) == 0)
				fchmod(b, sb.st_mode & 07777);
		}
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	}
	return add_mount(mounts, "bind", data, dst, opts, err);
}

static int host_mounts(container *c, json_t *spec, const char *rootfs, berth_error *err)
{
	json_t *mounts = json_object_get(spec, "mounts"), *v;
	json_t *h = hcfg(c);
	size_t i;
	json_t *shm = json_object_get(h, "ShmSize");
	if (json_integer_value(shm) > 0) {
		_cleanup_free_ char *o =
		    xasprintf("mode=1777,size=%lld", (long long)json_integer_value(shm));
		add_mount(mounts, "tmpfs", "shm", "/dev/shm", o, err);
	}
	json_array_foreach(json_object_get(h, "Binds"), i, v)
	{
		_cleanup_free_ char *b = xstrdup(json_string_value(v));
		char *dst = strchr(b, ':');
		if (!dst)
			return berth_error_msg(err, EINVAL, "invalid volume specification: '%s'",
					       json_string_value(v));
		*dst++ = '\0';
		char *opts = strchr(dst, ':');
		if (opts)
			*opts++ = '\0';
		int r;
		if (b[0] == '/') {
			struct stat sb;
			if (stat(b, &sb) < 0 && mkdir_p(b, 0755, err) < 0) /* as Docker's -v does */
				return -1;
			r = add_mount(mounts, "bind", b, dst, opts, err);
		} else if (volume_valid_name(b)) {
			r = volume_mount(mounts, rootfs, b, dst, opts, err);
		} else {
			r = berth_error_msg(
			    err, EINVAL,
			    "invalid volume specification: '%s': a volume is an "
			    "absolute host path or a name of [a-zA-Z0-9][a-zA-Z0-9_.-]",
			    json_string_value(v));
		}
		if (r < 0)
			return -1;
	}
	const char *k;
	json_object_foreach(
	    json_object_get(h, "Tmpfs"), k,
	    v) if (add_mount(mounts, "tmpfs", "tmpfs", k, json_string_value(v), err) < 0) return -1;
	json_array_foreach(json_object_get(h, "Mounts"), i, v)
	{
		const char *type = json_string_value(json_object_get(v, "Type")) ?: "volume";
		const char *src = json_string_value(json_object_get(v, "Source")) ?: "";
		const char *dst = json_string_value(json_object_get(v, "Target")) ?: "";
		const char *ro = json_is_true(json_object_get(v, "ReadOnly")) ? "ro" : "rw";
		int r;
		if (!strcmp(type, "bind")) {
			if (!path_exists(src))
				return berth_error_msg(
				    err, ENOENT,
				    "invalid mount config for type \"bind\": bind source "
				    "path does not exist: %s",
				    src);
			r = add_mount(mounts, "bind", src, dst, ro, err);
		} else if (!strcmp(type, "tmpfs")) {
			json_t *to = json_object_get(v, "TmpfsOptions");
			_cleanup_free_ char *o =
			    json_integer_value(json_object_get(to, "SizeBytes")) > 0
				? xasprintf("%s,size=%lld", ro,
					    (long long)json_integer_value(
						json_object_get(to, "SizeBytes")))
				: xstrdup(ro);
			r = add_mount(mounts, "tmpfs", "tmpfs", dst, o, err);
		} else if (!strcmp(type, "volume")) {
			_cleanup_free_ char *anon = NULL;
			if (!*src) {
				unsigned char rnd[32];
				getrandom(rnd, sizeof rnd, 0);
				_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
				for (int q = 0; q < 32; q++)
					sb_addf(&sb, "%02x", rnd[q]);
				anon = sb_steal(&sb);
				json_object_set_new(v, "Source", json_string(anon));
				src = anon;
			}
			r = volume_mount(mounts, rootfs, src, dst, ro, err);
		} else {
			r = berth_error_msg(err, EINVAL, "mount type \"%s\" is not supported",
					    type);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

static int limit_resources(container *c, json_t *spec, berth_error *err)
{
	json_t *h = hcfg(c), *lx = json_object_get(spec, "linux");
	json_t *res = json_object_get(lx, "resources");
	long long mem = json_integer_value(json_object_get(h, "Memory"));
	long long swap = json_integer_value(json_object_get(h, "MemorySwap"));
	if (mem > 0) {
		if (mem < 6 * 1024 * 1024)
			return berth_error_msg(err, EINVAL, "Minimum memory limit allowed is 6MB");
		if (swap > 0 && swap < mem)
			return berth_error_msg(
			    err, EINVAL,
			    "Minimum memoryswap limit should be larger than memory "
			    "limit, see usage");
		/* Docker: swap unset means as much swap as memory (2 × the limit in all) */
		json_object_set_new(res, "memory",
				    json_pack("{s:I,s:I}", "limit", (json_int_t)mem, "swap",
					      (json_int_t)(swap ? swap : 2 * mem)));
	}
	long long ncpu = json_integer_value(json_object_get(h, "NanoCpus"));
	long long shares = json_integer_value(json_object_get(h, "CpuShares"));
	json_t *cpu = json_object();
	if (ncpu > 0)
		json_object_set_new(cpu, "quota", json_integer(ncpu / 10000)),
		    json_object_set_new(cpu, "period", json_integer(100000));
	if (shares > 0)
		json_object_set_new(cpu, "shares", json_integer(shares));
	if (json_object_size(cpu))
		json_object_set_new(res, "cpu", cpu);
	else
		json_decref(cpu);
	json_t *pl = json_object_get(h, "PidsLimit");
	if (json_integer_value(pl) != 0)
		json_object_set_new(res, "pids", json_pack("{s:O}", "limit", pl));
	json_t *proc = json_object_get(spec, "process");
	json_t *u;
	size_t i;
	json_array_foreach(json_object_get(h, "Ulimits"), i, u)
	{
		const char *n = json_string_value(json_object_get(u, "Name"));
		if (!n)
			return berth_error_msg(err, EINVAL, "ulimit: a name is needed");
		_cleanup_free_ char *type = xasprintf("RLIMIT_%s", n);
		for (char *p = type; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		json_t *rl = json_object_get(proc, "rlimits"), *r;
		size_t k;
		json_array_foreach(
		    rl, k, r) if (!strcmp(json_string_value(json_object_get(r, "type")), type))
		{
			json_array_remove(rl, k);
			break;
		}
		json_array_append_new(rl, json_pack("{s:s,s:O,s:O}", "type", type, "soft",
						    json_object_get(u, "Soft"), "hard",
						    json_object_get(u, "Hard")));
	}
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(h, "Sysctls"), k, v)
	    json_object_set(json_object_get(lx, "sysctl"), k, v);
	json_object_set_new(lx, "cgroupsPath", json_sprintf("/berth/%s", c->id));
	return 0;
}

/* --device HOST[:CONTAINER[:PERMISSIONS]] (HostConfig.Devices): the host's node made in the
 * container, and allowed in its device cgroup. */
static int host_devices(container *c, json_t *spec, berth_error *err)
{
	json_t *devs = json_object_get(hcfg(c), "Devices"), *d;
	size_t i;
	json_t *lx = json_object_get(spec, "linux");
	json_array_foreach(devs, i, d)
	{
		const char *host = json_string_value(json_object_get(d, "PathOnHost"));
		const char *in = json_string_value(json_object_get(d, "PathInContainer"));
		const char *perm = json_string_value(json_object_get(d, "CgroupPermissions"));
		struct stat sb;
		if (!host || stat(host, &sb) < 0)
			return berth_error_msg(err, ENOENT,
					       "error gathering device information while adding "
					       "custom device \"%s\": no such file or directory",
					       host ? host : "");
		if (!S_ISCHR(sb.st_mode) && !S_ISBLK(sb.st_mode))
			return berth_error_msg(err, EINVAL, "device %s: not a device node", host);
		if (!perm || !*perm)
			perm = "rwm";
		if (strspn(perm, "rwm") != strlen(perm))
			return berth_error_msg(err, EINVAL, "device %s: invalid permissions %s",
					       host, perm);
		const char *type = S_ISBLK(sb.st_mode) ? "b" : "c";
		json_t *list = json_object_get(lx, "devices");
		if (!json_is_array(list))
			json_object_set_new(lx, "devices", list = json_array());
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:i}", "path", in && *in ? in : host,
				    "type", type, "major", (json_int_t)major(sb.st_rdev), "minor",
				    (json_int_t)minor(sb.st_rdev), "fileMode",
				    (int)(sb.st_mode & 0777), "uid", 0, "gid", 0));
		json_t *res = json_object_get(lx, "resources");
		if (!json_is_object(res))
			json_object_set_new(lx, "resources", res = json_object());
		json_t *rules = json_object_get(res, "devices");
		if (!json_is_array(rules))
			json_object_set_new(res, "devices", rules = json_array());
		/* m: the runtime makes the node in the container (Docker allows mknod of any
		 * device by default) */
		_cleanup_free_ char *access = xasprintf("%s%s", perm, strchr(perm, 'm') ? "" : "m");
		json_array_append_new(rules,
				      json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type", type,
						"major", (json_int_t)major(sb.st_rdev), "minor",
						(json_int_t)minor(sb.st_rdev), "access", access));
	}
	return 0;
}

static json_t *build_spec(container *c, engine_store *s, const char *rootfs, berth_error *err)
{
	json_t *cf = cfg(c), *h = hcfg(c);
	_cleanup_free_ char **cmd = str_list(json_object_get(cf, "Cmd"));
	_cleanup_free_ char **ep = str_list(json_object_get(cf, "Entrypoint"));
	_cleanup_free_ char **env = str_list(json_object_get(cf, "Env"));
	_cleanup_free_ char **add = str_list(json_object_get(h, "CapAdd"));
	_cleanup_free_ char **drop = str_list(json_object_get(h, "CapDrop"));
	engine_spec_opts o = {
	    .image = json_string_value(json_object_get(c->rec, "Image")),
	    .rootfs = rootfs,
	    .hostname = json_string_value(json_object_get(cf, "Hostname")),
	    .args = cmd,
	    .privileged = json_is_true(json_object_get(h, "Privileged")),
	    .read_only = json_is_true(json_object_get(h, "ReadonlyRootfs")),
	    .cap_add = (const char **)add,
	    .ncap_add = json_array_size(json_object_get(h, "CapAdd")),
	    .cap_drop = (const char **)drop,
	    .ncap_drop = json_array_size(json_object_get(h, "CapDrop")),
	    .terminal = json_is_true(json_object_get(cf, "Tty")),
	    .user = json_string_length(json_object_get(cf, "User"))
			? json_string_value(json_object_get(cf, "User"))
			: NULL,
	    .workdir = json_string_length(json_object_get(cf, "WorkingDir"))
			   ? json_string_value(json_object_get(cf, "WorkingDir"))
			   : NULL,
	    .env = env,
	    .entrypoint = ep,
	    .entrypoint_set = json_is_array(json_object_get(cf, "Entrypoint")),
	};
	json_t *so;
	size_t i;
	json_array_foreach(json_object_get(h, "SecurityOpt"), i, so)
	{
		const char *v = json_string_value(so);
		if (!strcmp(v, "no-new-privileges") || !strcmp(v, "no-new-privileges:true") ||
		    !strcmp(v, "no-new-privileges=true"))
			o.no_new_privileges = true;
		else if (!strcmp(v, "seccomp=unconfined") || !strcmp(v, "seccomp:unconfined"))
			o.seccomp_unconfined = true;
		else if (str_has_prefix(v, "seccomp=") || str_has_prefix(v, "seccomp:"))
			o.seccomp_file = v + 8;
		else if (!strcmp(v, "no-new-privileges=false") || str_has_prefix(v, "label"))
			;
		else {
			berth_error_msg(err, EINVAL, "invalid --security-opt: \"%s\"", v);
			return NULL;
		}
	}
	json_t *spec = engine_spec_generate(s, &o, err);
	if (!spec)
		return NULL;
	_cleanup_free_ char *dir = rdir(c, NULL);
	if (limit_resources(c, spec, err) < 0 || host_mounts(c, spec, rootfs, err) < 0 ||
	    host_devices(c, spec, err) < 0 || net_prepare(c->rec, dir, spec, err) < 0) {
		json_decref(spec);
		return NULL;
	}
	if (json_is_true(json_object_get(h, "Init"))) {
		/* Docker's --init: tini as PID 1, bind-mounted read-only from the host */
		const char *tini = "/usr/bin/tini-static";
		if (!path_exists(tini)) {
			json_decref(spec);
			berth_error_msg(err, ENOENT, "--init needs %s (apt-get install tini)",
					tini);
			return NULL;
		}
		add_mount(json_object_get(spec, "mounts"), "bind", tini, "/sbin/docker-init", "ro",
			  err);
		json_t *args = json_object_get(json_object_get(spec, "process"), "args");
		json_array_insert_new(args, 0, json_string("--"));
		json_array_insert_new(args, 0, json_string("/sbin/docker-init"));
	}
	json_t *proc = json_object_get(spec, "process");
	json_object_set(c->rec, "Path", json_array_get(json_object_get(proc, "args"), 0));
	json_t *rest = json_deep_copy(json_object_get(proc, "args"));
	json_array_remove(rest, 0);
	json_object_set_new(c->rec, "Args", rest);
	json_object_set_new(spec, "annotations",
			    json_pack("{s:s,s:s}", "io.berth.container.id", c->id,
				      "io.berth.container.name", cname(c)));
	return spec;
}

/* ---- the monitor ---- */

static void attach_connect(container *c, http_conn *conn);
static void on_exit_status(container *c, int code, long long finished, const char *error);
static void start_failed(container *c, const char *msg);

static int monitor_connect(container *c, char mode)
{
	/* through the directory's descriptor: a deep BERTH_RUN would not fit in sun_path */
	_cleanup_free_ char *d = rdir(c, NULL);
	_cleanup_close_ int dfd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/monitor.sock", dfd);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, &mode, 1) != 1) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Reads the monitor's exit file: "STATUS NANOS"; -1 if there is none. */
static int read_exit(container *c, long long *when)
{
	_cleanup_free_ char *p = rdir(c, "exit");
	_cleanup_free_ char *t = read_file(p, NULL, NULL);
	int code;
	long long ns = 0;
	if (!t || sscanf(t, "%d %lld", &code, &ns) < 1)
		return -1;
	*when = ns;
	return code;
}

static void watch_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	container *c = w->data;
	char b[64];
	ssize_t n = read(c->watch_fd, b, sizeof b);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	ev_io_stop(loop, w);
	close(c->watch_fd);
	c->watch_fd = -1;
	if (c->parked_pid) {
		start_failed(c, "the container's init died before its process was started");
		return;
	}
	long long when = 0;
	int code = read_exit(c, &when);
	on_exit_status(c, code < 0 ? 255 : code, when ? when : now_nanos(),
		       code < 0 ? "the container's monitor exited without its status" : NULL);
}

static void watch_start(container *c, int fd)
{
	c->watch_fd = fd;
	ev_io_init(&c->watch_io, watch_cb, fd, EV_READ);
	c->watch_io.data = c;
	ev_io_start(D.loop, &c->watch_io);
}

static void watch_stop(container *c)
{
	if (c->watch_fd < 0)
		return;
	ev_io_stop(D.loop, &c->watch_io);
	close(c->watch_fd);
	c->watch_fd = -1;
}

/* The monitor is reaped on its own: its watcher outlives the container's record if need be. */
static void monitor_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
	ev_child_stop(loop, w);
	free(w);
}

/* Leftovers of a run: the runtime's state and cgroup, the monitor's directory, the mount. */
static void teardown(container *c)
{
	c->torn = true;
	berth_error err = BERTH_ERROR_INIT;
	if (engine_runtime_delete(c->id, true, rt_opts(), &err) < 0 && err.code != ENOENT)
		fprintf(stderr, "berthd: container %.12s: %s\n", c->id, err.msg);
	berth_error_clear(&err);
	net_release(c->rec); /* after the processes: their namespace takes the veths along */
	_cleanup_free_ char *rd = rdir(c, NULL);
	rm_rf(rd, NULL);
	_cleanup_free_ char *rootfs = cdir(c, "rootfs");
	if (engine_rootfs_detach(NULL, rootfs, &err) < 0)
		fprintf(stderr, "berthd: container %.12s: %s\n", c->id, err.msg);
	berth_error_clear(&err);
}

static int exit_code_for(const char *msg)
{
	if (strstr(msg, "not found in $PATH") || strstr(msg, "No such file"))
		return 127;
	if (strstr(msg, "ermission denied"))
		return 126;
	return 128;
}

static void do_remove(container *c);

/*
 * The attach streams leave the container: one connected to the monitor
 * drains what the monitor sent before it went (the output of a --rm
 * container arrives after its exit is seen), one never connected ends.
 */
static void attachers_release(container *c)
{
	while (c->attachers.first) {
		http_conn *a = c->attachers.first;
		http_list_del(a);
		attach_ctx *ac = a->ctx;
		if (ac->mfd < 0)
			http_end(a);
	}
}

static void start_failed(container *c, const char *msg)
{
	c->starting = false;
	c->held = c->hold_dropped = false;
	c->parked_pid = 0;
	watch_stop(c);
	teardown(c);
	int code = exit_code_for(msg);
	set_state(c, "Error", json_string(msg));
	set_state(c, "ExitCode", json_integer(code));
	if (!strcmp(status(c), "restarting") || json_is_true(json_object_get(st(c), "Running")))
		set_state(c, "Status", json_string("exited"));
	set_state(c, "Running", json_false());
	set_state(c, "Restarting", json_false());
	save_or_log(c);
	/* for the projects only (Docker sends no such event): with the labels they go by */
	projects_on_event("container", "start-failed", c->id,
			  event_attrs(c, json_pack("{s:s}", "message", msg)));
	_cleanup_free_ char *m = xasprintf("failed to create task for container: %s", msg);
	reply_all(&c->start_waiters, code == 128 ? 500 : 400,
		  json_pack("{s:s,s:i}", "message", m, "ExitCode", code));
	attachers_release(c);
	reply_all(&c->exit_waiters, 200,
		  json_pack("{s:i,s:{s:s}}", "StatusCode", code, "Error", "Message", msg));
	/* rm -f while it was starting, or --rm: nothing is left of a start that failed (c goes) */
	if (c->remove_after_exit || json_is_true(json_object_get(hcfg(c), "AutoRemove")))
		do_remove(c);
}

static void health_schedule(container *c, bool first);
static void stop(container *c, int timeout);

/* The process runs: the exec of the init made before (started(), or a held start let go). */
static void go(container *c, int pid)
{
	berth_error err = BERTH_ERROR_INIT;
	if (engine_runtime_start(c->id, rt_opts(), &err) < 0) {
		start_failed(c, err.msg);
		berth_error_clear(&err);
		return;
	}
	c->starting = false;
	_cleanup_free_ char *now = rfc3339(now_nanos());
	set_state(c, "Status", json_string("running"));
	set_state(c, "Running", json_true());
	set_state(c, "Restarting", json_false());
	set_state(c, "Paused", json_false());
	set_state(c, "OOMKilled", json_false());
	set_state(c, "Pid", json_integer(pid));
	set_state(c, "ExitCode", json_integer(0));
	set_state(c, "Error", json_string(""));
	set_state(c, "StartedAt", json_string(now));
	set_state(c, "FinishedAt", json_string("0001-01-01T00:00:00Z"));
	if (json_object_get(cfg(c), "Healthcheck"))
		json_object_del(st(c), "Health");
	save_or_log(c);
	event(c, "start", NULL);
	reply_all(&c->start_waiters, 204, NULL);
	health_schedule(c, true);
	/* a stop or rm -f that came while it was starting */
	if (c->remove_after_exit)
		engine_runtime_kill(c->id, SIGKILL, true, rt_opts(), NULL);
	else if (c->stop_after_start)
		stop(c, -1);
	c->stop_after_start = false;
}

/* A held start given up once made: the init goes, and the container is a created one again
 * (a stop asked for meanwhile is done, a removal follows). */
static void unparked(container *c)
{
	c->held = c->hold_dropped = false;
	c->parked_pid = 0;
	c->starting = false;
	c->stop_after_start = false;
	/* the monitor writes the init's exit into its directory before it ends: the teardown
	 * removes that directory after, or the file would keep it */
	engine_runtime_kill(c->id, SIGKILL, true, rt_opts(), NULL);
	int pfd = c->monitor_pid > 0 ? (int)syscall(SYS_pidfd_open, c->monitor_pid, 0) : -1;
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		poll(&p, 1, 2000);
		close(pfd);
	}
	watch_stop(c);
	teardown(c);
	reply_all(&c->stop_waiters, 204, NULL);
	if (c->remove_after_exit)
		do_remove(c);
}

static void started(container *c, int pid)
{
	berth_error err = BERTH_ERROR_INIT;
	/* the attach streams are in place before the process runs: nothing it prints is lost */
	for (http_conn *a = c->attachers.first; a; a = a->next)
		attach_connect(c, a);
	int wfd = monitor_connect(c, 'w');
	if (wfd < 0) {
		start_failed(c, "cannot reach the container's monitor");
		return;
	}
	if (net_attach(c->rec, pid, &err) < 0) {
		close(wfd);
		start_failed(c, err.msg);
		berth_error_clear(&err);
		return;
	}
	watch_start(c, wfd);
	if (c->hold_dropped) {
		unparked(c);
	} else if (c->held) {
		c->parked_pid = pid; /* its exec waits for container_start() */
	} else {
		go(c, pid);
	}
}

static void sync_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	container *c = w->data;
	char b[1024];
	ssize_t n = read(c->sync_fd, b, sizeof b);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		sb_addn(&c->sync_buf, b, (size_t)n);
		if (!strchr(c->sync_buf.buf, '\n'))
			return;
	}
	ev_io_stop(loop, w);
	close(c->sync_fd);
	c->sync_fd = -1;
	/* the line is taken out first: a failed start of a --rm container removes it */
	_cleanup_free_ char *line = sb_steal(&c->sync_buf);
	line[strcspn(line, "\n")] = '\0';
	int pid = 0;
	if (sscanf(line, "ok %d", &pid) == 1)
		started(c, pid);
	else
		start_failed(c, str_has_prefix(line, "err ") ? line + 4
							     : "the container's monitor died");
}

static int spawn_monitor(container *c, berth_error *err)
{
	_cleanup_free_ char *rd = rdir(c, NULL);
	_cleanup_free_ char *bundle = rdir(c, NULL);
	_cleanup_free_ char *pidf = rdir(c, "pid");
	json_t *lc = json_object_get(json_object_get(hcfg(c), "LogConfig"), "Config");
	long long max_size = -1, max_file = 1;
	const char *ms = json_string_value(json_object_get(lc, "max-size"));
	const char *mf = json_string_value(json_object_get(lc, "max-file"));
	if (ms && (composer_parse_bytes(ms, &max_size) < 0 || max_size <= 0))
		return berth_error_msg(err, EINVAL, "log-opt max-size: invalid size \"%s\"", ms);
	if (mf && (max_file = atoll(mf)) < 1)
		return berth_error_msg(err, EINVAL, "log-opt max-file: invalid \"%s\"", mf);
	_cleanup_free_ char *msz = xasprintf("%lld", max_size), *mfl = xasprintf("%lld", max_file);
	bool in = json_is_true(json_object_get(cfg(c), "OpenStdin"));
	bool tty = json_is_true(json_object_get(cfg(c), "Tty"));
	const char *flags = in && tty ? "it" : in ? "i" : tty ? "t" : "-";
	const char *argv[24];
	int n = 0;
	const char *fixed[] = {D.monitor_bin,
			       rd,
			       json_string_value(json_object_get(c->rec, "LogPath")),
			       msz,
			       mfl,
			       flags,
			       "--",
			       D.runtime_bin,
			       "--root",
			       D.runtime_root,
			       "create",
			       "--bundle",
			       bundle,
			       "--pid-file",
			       pidf};
	for (size_t k = 0; k < ARRAY_SIZE(fixed); k++)
		argv[n++] = fixed[k];
	if (tty) { /* the monitor gives the runtime its console socket as fd 3 */
		argv[n++] = "--console-fd";
		argv[n++] = "3";
	}
	argv[n++] = c->id;
	argv[n] = NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_error_set(err, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	posix_spawnattr_init(&at);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	sigset_t def;
	sigfillset(&def);
	posix_spawnattr_setsigdefault(&at, &def);
	/* its own session: a signal to berthd's process group never reaches it */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int r = posix_spawn(&pid, D.monitor_bin, &fa, &at, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		return berth_error_set(err, r, "spawn %s", D.monitor_bin);
	}
	c->monitor_pid = pid;
	ev_child *reaper = xzalloc(sizeof *reaper);
	ev_child_init(reaper, monitor_reaped, pid, 0);
	ev_child_start(D.loop, reaper);
	c->sync_fd = p[0];
	ev_io_init(&c->sync_io, sync_cb, p[0], EV_READ);
	c->sync_io.data = c;
	ev_io_start(D.loop, &c->sync_io);
	return 0;
}

static int write_bundle(const char *path, const char *text, berth_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(text);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		return berth_error_set(err, errno ? errno : EIO, "write %s", path);
	return 0;
}

static int do_start(container *c, berth_error *err)
{
	exit_forget(c);
	_cleanup_free_ char *rootfs = cdir(c, "rootfs");
	_cleanup_free_ char *rd = rdir(c, NULL);
	_cleanup_free_ char *bundle = rdir(c, "config.json");
	/* debris of an earlier run that berthd did not see end */
	berth_error e2 = BERTH_ERROR_INIT;
	engine_runtime_delete(c->id, true, rt_opts(), &e2);
	berth_error_clear(&e2);
	c->torn = false;
	/*
	 * The run's directory (on a tmpfs, see berthd.c): the bundle, /etc/hosts, /etc/hostname
	 * and /etc/resolv.conf, made anew at every start, and the monitor's socket and files.
	 */
	rm_rf(rd, NULL);
	if (mkdir_p(rd, 0700, err) < 0)
		return -1;
	engine_store *s = engine_store_open_read(D.root, err);
	if (!s)
		return -1;
	int rc = -1;
	json_t *spec = NULL;
	_cleanup_free_ char *text = NULL;
	if (!engine_rootfs_mounted(rootfs) &&
	    engine_rootfs_mount(s, json_string_value(json_object_get(c->rec, "Image")), rootfs,
				false, err) < 0)
		goto out;
	spec = build_spec(c, s, rootfs, err);
	if (!spec)
		goto out;
	/* made anew at every start, so it need not be durable: no fsync on this path */
	text = json_dumps(spec, JSON_COMPACT);
	if (write_bundle(bundle, text, err) < 0)
		goto out;
	if (spawn_monitor(c, err) < 0)
		goto out;
	c->starting = true;
	rc = 0;
out:
	if (rc < 0) {
		net_release(c->rec);
		engine_rootfs_detach(s, rootfs, NULL);
	}
	json_decref(spec);
	engine_store_close(s);
	return rc;
}

/* ---- exit, restart ---- */

static void restart_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void health_stop(container *c);
static void followers_end(container *c);

static bool should_restart(container *c, int code)
{
	json_t *rp = json_object_get(hcfg(c), "RestartPolicy");
	const char *pol = json_string_value(json_object_get(rp, "Name")) ?: "no";
	if (c->stop_requested || c->remove_after_exit)
		return false;
	if (!strcmp(pol, "always") || !strcmp(pol, "unless-stopped"))
		return true;
	if (!strcmp(pol, "on-failure")) {
		long long max = json_integer_value(json_object_get(rp, "MaximumRetryCount"));
		long long count = json_integer_value(json_object_get(c->rec, "RestartCount"));
		return code != 0 && (max <= 0 || count < max);
	}
	return false;
}

static void on_exit_status(container *c, int code, long long finished, const char *error)
{
	ev_timer_stop(D.loop, &c->stop_timer);
	health_stop(c);
	json_t *stats = engine_runtime_stats(c->id, rt_opts(), NULL);
	bool oom = json_integer_value(json_object_get(stats, "oom_kills")) > 0;
	json_decref(stats);
	_cleanup_free_ char *fin = rfc3339(finished);
	set_state(c, "Running", json_false());
	set_state(c, "Paused", json_false());
	set_state(c, "Pid", json_integer(0));
	set_state(c, "ExitCode", json_integer(code));
	set_state(c, "OOMKilled", json_boolean(oom));
	set_state(c, "FinishedAt", json_string(fin));
	set_state(c, "Error", json_string(error ? error : ""));
	set_state(c, "Status", json_string("exited"));
	json_t *h = json_object_get(st(c), "Health");
	if (h)
		json_object_set_new(h, "Status", json_string("unhealthy"));
	bool restart = should_restart(c, code);
	if (c->stop_requested)
		json_object_set_new(c->rec, "ManuallyStopped", json_true());
	/* Docker's back-off: 100 ms doubling, back to 100 ms after a run of 10 s or more */
	const char *sa = json_string_value(json_object_get(st(c), "StartedAt"));
	struct tm tm = {0};
	if (sa && strptime(sa, "%Y-%m-%dT%H:%M:%S", &tm) &&
	    (finished / 1000000000LL) - timegm(&tm) >= 10)
		c->restart_delay_ms = 100;
	if (restart || c->restart_after_exit) {
		/* a restart (by policy or asked for): followers of its log wait for the start */
		set_state(c, "Status", json_string("restarting"));
		set_state(c, "Restarting", json_true());
	}
	bool removing =
	    c->remove_after_exit ||
	    (json_is_true(json_object_get(hcfg(c), "AutoRemove")) && !c->restart_after_exit);
	/* one write fewer for --rm: removal records its own state, and a crash before it
	 * finds the exit file and removes the container then */
	if (!removing)
		save_or_log(c);
	char codes[16];
	snprintf(codes, sizeof codes, "%d", code);
	/* the event before the teardown (runtime state, cgroups, network, root filesystem): a
	 * project stopping in dependency order stops the next services meanwhile */
	event(c, "die", json_pack("{s:s}", "exitCode", codes));
	if (oom)
		event(c, "oom", NULL);
	/*
	 * The teardown (≈3 ms) in the next turn of the loop: the exits that came with this one
	 * have their die events out first, so a project stopping twenty replicas signals the
	 * next tier once they have all exited, not once they are all torn down.  One a turn,
	 * so that the exits coming meanwhile are seen.  A start or a removal of the container
	 * meanwhile does it first (exit_rest()).
	 */
	c->exit_pending = true;
	c->exit_restart = restart;
	c->exit_removing = removing;
	c->exit_code = code;
	free(c->exit_error);
	c->exit_error = error ? xstrdup(error) : NULL;
	exit_unqueue(c);
	if (exits_last)
		exits_last->exit_next = c;
	else
		exits_first = c;
	exits_last = c;
	ev_timer_start(D.loop, &exits_timer);
}

static void exit_unqueue(container *c)
{
	for (container **pp = &exits_first, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->exit_next)
		if (*pp == c) {
			*pp = c->exit_next;
			if (exits_last == c)
				exits_last = prev;
			c->exit_next = NULL;
			break;
		}
}

/* The rest of an exit: the teardown, then the removal, the answers or the restart. */
static void exit_rest(container *c)
{
	if (!c->exit_pending)
		return;
	c->exit_pending = false;
	exit_unqueue(c);
	int code = c->exit_code;
	bool restart = c->exit_restart;
	_cleanup_free_ char *error = c->exit_error;
	c->exit_error = NULL;
	teardown(c);
	if (c->exit_removing) {
		/* --rm and rm -f: the waiters hear of the exit once nothing is left */
		do_remove(c);
		return;
	}
	json_t *wr = error
			 ? json_pack("{s:i,s:{s:s}}", "StatusCode", code, "Error", "Message", error)
			 : json_pack("{s:i,s:n}", "StatusCode", code, "Error");
	reply_all(&c->exit_waiters, 200, wr);
	reply_all(&c->stop_waiters, 204, NULL);
	followers_end(c);
	c->stop_requested = false;
	if (c->restart_after_exit) {
		c->restart_after_exit = false;
		berth_error err = BERTH_ERROR_INIT;
		if (do_start(c, &err) < 0) {
			start_failed(c, err.msg);
			berth_error_clear(&err);
		}
		return;
	}
	if (restart) {
		ev_timer_init(&c->restart_timer, restart_cb, c->restart_delay_ms / 1000.0, 0);
		c->restart_timer.data = c;
		ev_timer_start(D.loop, &c->restart_timer);
		c->restart_delay_ms =
		    c->restart_delay_ms * 2 > 60000 ? 60000 : c->restart_delay_ms * 2;
	}
}

static void exits_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (exits_first)
		exit_rest(exits_first);
	if (exits_first)
		ev_timer_start(loop, w);
}

/* A start or a removal that comes first (container_find() settles the exit before): the
 * teardown only, and what follows is theirs. */
static void exit_forget(container *c)
{
	if (!c->exit_pending)
		return;
	c->exit_pending = false;
	exit_unqueue(c);
	teardown(c);
}

static void restart_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	container *c = w->data;
	json_object_set_new(
	    c->rec, "RestartCount",
	    json_integer(json_integer_value(json_object_get(c->rec, "RestartCount")) + 1));
	berth_error err = BERTH_ERROR_INIT;
	event(c, "restart", NULL);
	if (do_start(c, &err) < 0) {
		start_failed(c, err.msg);
		berth_error_clear(&err);
	}
}

static void stop_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	container *c = w->data;
	engine_runtime_kill(c->id, SIGKILL, true, rt_opts(), NULL);
}

static int signal_number(const char *s)
{
	if (!s || !*s)
		return SIGTERM;
	if (*s >= '0' && *s <= '9')
		return atoi(s);
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *n = sigabbrev_np(i);
		if (n && !strcasecmp(n, s))
			return i;
	}
	return -1;
}

static bool is_running(container *c)
{
	return json_is_true(json_object_get(st(c), "Running"));
}

/* Sends the stop signal, and SIGKILL after the timeout (-1: the container's own). */
static void stop(container *c, int timeout)
{
	if (timeout < 0) {
		json_t *t = json_object_get(cfg(c), "StopTimeout");
		timeout = t ? (int)json_integer_value(t) : 10;
	}
	c->stop_requested = true;
	int sig = signal_number(json_string_value(json_object_get(cfg(c), "StopSignal")));
	if (json_is_true(json_object_get(st(c), "Paused")))
		engine_runtime_pause(c->id, false, rt_opts(), NULL);
	engine_runtime_kill(c->id, sig > 0 ? sig : SIGTERM, false, rt_opts(), NULL);
	ev_timer_stop(D.loop, &c->stop_timer);
	ev_timer_init(&c->stop_timer, stop_timeout_cb, timeout < 0 ? 0 : timeout, 0);
	c->stop_timer.data = c;
	ev_timer_start(D.loop, &c->stop_timer);
}

static void cancel_restart(container *c)
{
	if (!ev_is_active(&c->restart_timer))
		return;
	ev_timer_stop(D.loop, &c->restart_timer);
	set_state(c, "Status", json_string("exited"));
	set_state(c, "Restarting", json_false());
	json_object_set_new(c->rec, "ManuallyStopped", json_true());
	save_or_log(c);
}

/* ---- remove ---- */

/*
 * Directories to delete (a removed container's, renamed to .rm-<id>): a child deletes them,
 * those of 50 ms at once, so that berthd does not wait for the disk (on this machine's ext4
 * each freed block is discarded before unlink returns).  A crash leaves a
 * .rm- directory, which the next start deletes (finish_interrupted_remove()).
 */
static json_t *trash_paths;
static ev_timer trash_timer;

static void trash_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
	ev_child_stop(loop, w);
	free(w);
}

static void trash_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	json_t *t = trash_paths, *v;
	size_t i;
	trash_paths = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		closefrom(3); /* nothing of berthd's: its lock, its sockets */
		json_array_foreach(t, i, v) rm_rf(json_string_value(v), NULL);
		_exit(0);
	}
	if (pid < 0) {
		json_array_foreach(t, i, v) rm_rf(json_string_value(v), NULL);
	} else {
		ev_child *r = xzalloc(sizeof *r);
		ev_child_init(r, trash_reaped, pid, 0);
		ev_child_start(loop, r);
	}
	json_decref(t);
}

static void trash_later(const char *path)
{
	if (!trash_paths)
		trash_paths = json_array();
	json_array_append_new(trash_paths, json_string(path));
	/* the removals of the next 50 ms together: one child, not one each (a fork of berthd
	 * costs ≈0.4 ms) */
	if (!ev_is_active(&trash_timer)) {
		ev_timer_init(&trash_timer, trash_cb, 0.05, 0);
		ev_timer_start(D.loop, &trash_timer);
	}
}

static void do_remove(container *c)
{
	exit_forget(c);
	c->removing = true;
	/* not written: a crash before the rename below leaves the container as it was, and
	 * one after it is finished by the next start (finish_interrupted_remove()) */
	set_state(c, "Status", json_string("removing"));
	set_state(c, "Removing", json_true());
	if (!c->torn)
		teardown(c);
	engine_store *s = engine_store_open_read(D.root, NULL);
	_cleanup_free_ char *rootfs = cdir(c, "rootfs");
	_cleanup_free_ char *dir = cdir(c, NULL);
	_cleanup_free_ char *trash = xasprintf("%s/.rm-%s", D.containers_dir, c->id);
	berth_error err = BERTH_ERROR_INIT;
	/* the upper directory too is deleted by a child (trash_later()) */
	_cleanup_free_ char *upper = s ? engine_rootfs_umount_later(s, rootfs, &err) : NULL;
	if (err.msg && err.code != ENOENT)
		fprintf(stderr, "berthd: container %.12s: %s\n", c->id, err.msg);
	berth_error_clear(&err);
	if (upper)
		trash_later(upper);
	engine_store_close(s);
	json_t *anon = c->remove_volumes ? container_anonymous_volumes(c) : NULL, *v;
	size_t i;
	if (rename(dir, trash) == 0)
		trash_later(trash);
	/* out of the list, so that its volumes are no longer in use; all is gone before the
	 * answers go out (the client may look at once) */
	for (container **pp = &D.containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	json_array_foreach(anon, i, v) volume_remove(json_string_value(v), true, NULL);
	json_decref(anon);
	event(c, "destroy", NULL);
	/* every request still waiting on it is answered before it goes */
	reply_all(&c->stop_waiters, 204, NULL);
	reply_all(&c->start_waiters, 409,
		  json_pack("{s:s}", "message", "the container was removed while it started"));
	reply_all(&c->remove_waiters, 204, NULL);
	reply_all(&c->exit_waiters, 200,
		  json_pack("{s:i,s:n}", "StatusCode",
			    (int)json_integer_value(json_object_get(st(c), "ExitCode")), "Error"));
	attachers_release(c);
	followers_end(c);
	for (exec_proc **pp = &execs; *pp;) {
		exec_proc *e = *pp;
		if (e->c != c) {
			pp = &e->next;
			continue;
		}
		e->c = NULL;
		if (!e->running && !e->conn && !e->health) {
			*pp = e->next;
			json_decref(e->config);
			free(e);
		} else {
			pp = &e->next;
		}
	}
	container_free(c);
}

static void go_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	container *c = w->data;
	pid_t pid = c->parked_pid;
	c->parked_pid = 0;
	if (pid && c->starting)
		go(c, pid);
}

/* A held start goes on: in the next turn of the loop if it is made (its "start" event is
 * not sent from inside the caller), else as soon as it is. */
static void release(container *c)
{
	if (!c->held || c->hold_dropped)
		return;
	c->held = false;
	if (c->parked_pid) {
		ev_timer_init(&c->go_timer, go_cb, 0, 0);
		c->go_timer.data = c;
		ev_timer_start(D.loop, &c->go_timer);
	}
}

void container_unhold(container *c)
{
	if (!c->held)
		return;
	if (c->parked_pid)
		unparked(c);
	else
		c->hold_dropped = true;
}

bool container_alive(container *c)
{
	return is_running(c) || c->starting;
}

bool container_making(container *c)
{
	return c->starting && !c->parked_pid;
}

int container_prepare(container *c, berth_error *err)
{
	if (c->removing)
		return berth_error_msg(err, EBUSY, "container %s is marked for removal", cname(c));
	if (is_running(c))
		return 1;
	if (c->starting)
		return 0;
	ev_timer_stop(D.loop, &c->restart_timer);
	if (do_start(c, err) < 0)
		return -1;
	c->held = true;
	return 0;
}

int container_start(container *c, berth_error *err)
{
	if (c->removing)
		return berth_error_msg(err, EBUSY, "container %s is marked for removal", cname(c));
	if (is_running(c))
		return 1;
	release(c);
	if (c->starting)
		return 0;
	ev_timer_stop(D.loop, &c->restart_timer);
	json_object_set_new(c->rec, "ManuallyStopped", json_false());
	return do_start(c, err) < 0 ? -1 : 0;
}

void container_stop_remove(container *c, int timeout, bool volumes)
{
	if (c->removing)
		return;
	container_unhold(c);
	c->remove_volumes = volumes;
	if (ev_is_active(&c->restart_timer))
		cancel_restart(c);
	if (c->starting) {
		c->remove_after_exit = true;
		c->stop_after_start = true;
	} else if (is_running(c)) {
		c->remove_after_exit = true;
		stop(c, timeout);
	} else {
		do_remove(c);
	}
}

int container_restart(container *c)
{
	if (!is_running(c) || c->starting)
		return 1;
	cancel_restart(c);
	json_object_set_new(c->rec, "ManuallyStopped", json_false());
	c->restart_after_exit = true;
	stop(c, -1);
	c->stop_requested = false; /* a restart is not a manual stop */
	return 0;
}

int container_stop(container *c, int timeout)
{
	container_unhold(c);
	if (c->starting) {
		/* stopped as soon as it runs: a restart under way included */
		c->stop_after_start = true;
		json_object_set_new(c->rec, "ManuallyStopped", json_true());
		return 0;
	}
	if (!strcmp(status(c), "restarting") && !is_running(c)) {
		cancel_restart(c);
		return 1;
	}
	if (!is_running(c))
		return 1;
	stop(c, timeout);
	return 0;
}

void container_delete_h(http_conn *conn, http_request *req, container *c)
{
	bool force = http_query_bool(req->query, "force");
	c->remove_volumes = http_query_bool(req->query, "v");
	if (c->removing) {
		http_respond_error(conn, 409, "removal of container %s is already in progress",
				   cname(c));
		return;
	}
	if ((is_running(c) || c->starting) && !force) {
		http_respond_error(
		    conn, 409,
		    "cannot remove container \"/%s\": container is running: stop the "
		    "container before removing or force remove",
		    cname(c));
		return;
	}
	cancel_restart(c);
	container_unhold(c);
	if (is_running(c) || c->starting) {
		c->remove_after_exit = true;
		c->stop_requested = true;
		http_list_add(&c->remove_waiters, conn);
		if (is_running(c)) {
			if (json_is_true(json_object_get(st(c), "Paused")))
				engine_runtime_pause(c->id, false, rt_opts(), NULL);
			engine_runtime_kill(c->id, SIGKILL, true, rt_opts(), NULL);
		}
		return;
	}
	http_list_add(&c->remove_waiters, conn);
	do_remove(c);
}

/* ---- attach ---- */

static void attach_free(void *p)
{
	attach_ctx *a = p;
	if (a->mfd >= 0) {
		ev_io_stop(D.loop, &a->mio);
		close(a->mfd);
	}
	free(a);
}

static void attach_drained(http_conn *conn)
{
	attach_ctx *a = conn->ctx;
	conn->on_drain = NULL;
	if (a->mfd >= 0)
		ev_io_start(D.loop, &a->mio);
}

static void attach_from_monitor(struct ev_loop *loop, ev_io *w, int revents)
{
	attach_ctx *a = w->data;
	char buf[65536];
	ssize_t n = read(a->mfd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, w);
		close(a->mfd);
		a->mfd = -1;
		http_list_del(a->conn);
		http_end(a->conn);
		return;
	}
	http_write(a->conn, buf, (size_t)n);
	if (http_pending(a->conn) > 1024 * 1024) {
		/* the client lags: the monitor holds the container's output until it catches up */
		ev_io_stop(loop, w);
		a->conn->on_drain = attach_drained;
	}
}

static void attach_from_client(http_conn *conn, const char *data, size_t len)
{
	attach_ctx *a = conn->ctx;
	if (!data && a->mfd >= 0) { /* the client's stdin ended: so does the container's */
		shutdown(a->mfd, SHUT_WR);
		return;
	}
	if (!a->stdin_ || a->mfd < 0)
		return;
	/* stdin goes to the monitor, which buffers it for the container */
	while (len) {
		ssize_t w = send(a->mfd, data, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (w <= 0)
			return;
		data += w;
		len -= (size_t)w;
	}
}

static void attach_connect(container *c, http_conn *conn)
{
	attach_ctx *a = conn->ctx;
	if (a->mfd >= 0)
		return;
	a->mfd = monitor_connect(c, a->stdin_ ? 'i' : 'a');
	if (a->mfd < 0) {
		http_end(conn);
		return;
	}
	ev_io_init(&a->mio, attach_from_monitor, a->mfd, EV_READ);
	a->mio.data = a;
	ev_io_start(D.loop, &a->mio);
}

static void attach_h(http_conn *conn, http_request *req, container *c)
{
	if (!is_running(c) && strcmp(status(c), "created") && !c->starting &&
	    strcmp(status(c), "exited")) {
		http_respond_error(conn, 409, "container %s is %s", cname(c), status(c));
		return;
	}
	attach_ctx *a = xzalloc(sizeof *a);
	a->c = c;
	a->mfd = -1;
	a->conn = conn;
	a->stdin_ = http_query_bool(req->query, "stdin") &&
		    json_is_true(json_object_get(cfg(c), "OpenStdin"));
	conn->ctx = a;
	conn->ctx_free = attach_free;
	conn->on_data = attach_from_client;
	http_upgrade(conn);
	http_list_add(&c->attachers, conn);
	if (is_running(c) && !c->starting)
		attach_connect(c, conn);
}

/* ---- logs ---- */

typedef struct {
	container *c;
	bool out, err, ts, tty;
	long long since, until;
	long tail;
	long long offset;
	ino_t ino;
	ev_stat watch;
	strbuf partial;
	http_conn *conn;
	/* the dump of what is on disk, paced by the client */
	json_t *files; /* oldest first */
	size_t file;
	long long skip; /* lines to pass over for --tail */
	bool follow;
} logs_ctx;

static void logs_free(void *p)
{
	logs_ctx *l = p;
	ev_stat_stop(D.loop, &l->watch);
	sb_release(&l->partial);
	json_decref(l->files);
	free(l);
}

static long long parse_log_time(const char *t)
{
	struct tm tm = {0};
	const char *rest = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return 0;
	long long ns = (long long)timegm(&tm) * 1000000000LL;
	if (*rest == '.') {
		long long frac = 0;
		int digits = 0;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*rest - '0');
		for (; digits < 9; digits++)
			frac *= 10;
		ns += frac;
	}
	return ns;
}

/* One json-file line to the client, framed as Docker's stream unless tty. */
static void log_emit(logs_ctx *l, const char *line, size_t n)
{
	json_t *r = json_loadb(line, n, 0, NULL);
	if (!r)
		return;
	const char *stream = json_string_value(json_object_get(r, "stream")) ?: "stdout";
	const char *text = json_string_value(json_object_get(r, "log")) ?: "";
	size_t tl = json_string_length(json_object_get(r, "log"));
	const char *time = json_string_value(json_object_get(r, "time"));
	bool is_err = !strcmp(stream, "stderr");
	long long t = parse_log_time(time);
	if ((is_err ? l->err : l->out) && (!l->since || t >= l->since) &&
	    (!l->until || t <= l->until)) {
		_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
		if (l->ts)
			sb_addf(&sb, "%s ", time ? time : "");
		sb_addn(&sb, text, tl);
		if (!l->tty) {
			unsigned char h[8] = {(unsigned char)(is_err ? 2 : 1),
					      0,
					      0,
					      0,
					      (unsigned char)(sb.len >> 24),
					      (unsigned char)(sb.len >> 16),
					      (unsigned char)(sb.len >> 8),
					      (unsigned char)sb.len};
			http_write(l->conn, h, 8);
		}
		http_write(l->conn, sb.buf, sb.len);
	}
	json_decref(r);
}

static void logs_read_new(logs_ctx *l)
{
	const char *path = json_string_value(json_object_get(l->c->rec, "LogPath"));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat sb;
	fstat(fd, &sb);
	if (sb.st_ino != l->ino || sb.st_size < l->offset) {
		/* rotated: the new file from its start */
		l->ino = sb.st_ino;
		l->offset = 0;
		l->partial.len = 0;
	}
	char buf[65536];
	ssize_t n;
	while ((n = pread(fd, buf, sizeof buf, l->offset)) > 0) {
		l->offset += n;
		sb_addn(&l->partial, buf, (size_t)n);
		char *start = l->partial.buf, *nl;
		while (
		    (nl = memchr(start, '\n', l->partial.len - (size_t)(start - l->partial.buf)))) {
			log_emit(l, start, (size_t)(nl - start));
			start = nl + 1;
		}
		size_t left = l->partial.len - (size_t)(start - l->partial.buf);
		memmove(l->partial.buf, start, left);
		l->partial.len = left;
	}
	close(fd);
}

static void logs_changed(struct ev_loop *loop, ev_stat *w, int revents)
{
	logs_read_new(w->data);
}

static void followers_end(container *c)
{
	while (c->followers.first) {
		http_conn *f = c->followers.first;
		http_list_del(f);
		logs_read_new(f->ctx);
		http_end(f);
	}
}

/* Sends what is on disk a chunk at a time, going on when the client has taken it. */
static void logs_pump(http_conn *conn)
{
	logs_ctx *l = conn->ctx;
	conn->on_drain = NULL;
	while (l->file < json_array_size(l->files)) {
		const char *p = json_string_value(json_array_get(l->files, l->file));
		bool last = l->file + 1 == json_array_size(l->files);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd >= 0 && fstat(fd, &sb) == 0 && last)
			l->ino = sb.st_ino;
		char buf[65536];
		ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf, l->offset) : 0;
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			if (last)
				break; /* the current file: a follower goes on from here */
			l->file++;
			l->offset = 0;
			l->partial.len = 0;
			continue;
		}
		l->offset += n;
		sb_addn(&l->partial, buf, (size_t)n);
		char *start = l->partial.buf, *nl;
		while (
		    (nl = memchr(start, '\n', l->partial.len - (size_t)(start - l->partial.buf)))) {
			if (l->skip > 0)
				l->skip--;
			else
				log_emit(l, start, (size_t)(nl - start));
			start = nl + 1;
		}
		size_t left = l->partial.len - (size_t)(start - l->partial.buf);
		memmove(l->partial.buf, start, left);
		l->partial.len = left;
		if (http_pending(conn) > 1024 * 1024) {
			conn->on_drain = logs_pump;
			return;
		}
	}
	if (!l->follow) {
		http_end(conn);
		return;
	}
	/* a line being written is left for the follower, which reads on from its start */
	l->offset -= (long long)l->partial.len;
	l->partial.len = 0;
	const char *path = json_string_value(json_object_get(l->c->rec, "LogPath"));
	ev_stat_init(&l->watch, logs_changed, path, 0.1);
	l->watch.data = l;
	ev_stat_start(D.loop, &l->watch);
	http_list_add(&l->c->followers, conn);
	logs_read_new(l);
}

static void logs_h(http_conn *conn, http_request *req, container *c)
{
	logs_ctx *l = xzalloc(sizeof *l);
	l->c = c;
	l->conn = conn;
	l->out = http_query_bool(req->query, "stdout");
	l->err = http_query_bool(req->query, "stderr");
	if (!l->out && !l->err)
		l->out = l->err = true;
	l->ts = http_query_bool(req->query, "timestamps");
	l->tty = json_is_true(json_object_get(cfg(c), "Tty"));
	_cleanup_free_ char *since = http_query(req->query, "since");
	_cleanup_free_ char *until = http_query(req->query, "until");
	_cleanup_free_ char *tail = http_query(req->query, "tail");
	l->since = since && *since ? parse_time_arg(since) : 0;
	l->until = until && *until ? parse_time_arg(until) : 0;
	l->tail = tail && *tail && strcmp(tail, "all") ? atol(tail) : -1;
	conn->ctx = l;
	conn->ctx_free = logs_free;
	if (l->since < 0 || l->until < 0) {
		http_respond_error(conn, 400, "invalid value for since or until");
		return;
	}
	http_stream_begin(conn, l->tty ? "application/vnd.docker.raw-stream"
				       : "application/vnd.docker.multiplexed-stream");
	const char *path = json_string_value(json_object_get(c->rec, "LogPath"));
	long long maxf = 1;
	const char *mf = json_string_value(json_object_get(
	    json_object_get(json_object_get(hcfg(c), "LogConfig"), "Config"), "max-file"));
	if (mf)
		maxf = atoll(mf);
	/* the rotated files oldest first, then the current one; --tail counts lines in all */
	l->files = json_array();
	long long total = 0;
	for (long long i = maxf - 1; i >= 0; i--) {
		_cleanup_free_ char *p = i ? xasprintf("%s.%lld", path, i) : xstrdup(path);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		json_array_append_new(l->files, json_string(p));
		char buf[65536];
		ssize_t n;
		while (l->tail >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
			for (char *q = buf; (q = memchr(q, '\n', (size_t)(buf + n - q))); q++)
				total++;
		close(fd);
	}
	l->skip = l->tail >= 0 && total > l->tail ? total - l->tail : 0;
	l->follow = http_query_bool(req->query, "follow") &&
		    (is_running(c) || c->starting || !strcmp(status(c), "restarting"));
	logs_pump(conn);
}

/* ---- health checks ---- */

static void health_result(container *c, int code, const char *out)
{
	json_t *h = json_object_get(st(c), "Health");
	if (!h) {
		h = json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
		json_object_set_new(st(c), "Health", h);
	}
	json_t *hc = json_object_get(cfg(c), "Healthcheck");
	long long retries = json_integer_value(json_object_get(hc, "Retries"));
	if (retries <= 0)
		retries = 3;
	long long sp = json_integer_value(json_object_get(hc, "StartPeriod"));
	const char *old = json_string_value(json_object_get(h, "Status"));
	_cleanup_free_ char *old_s = xstrdup(old ? old : "starting");
	_cleanup_free_ char *t0 = rfc3339(c->health_started), *t1 = rfc3339(now_nanos());
	json_t *log = json_object_get(h, "Log");
	json_array_append_new(log, json_pack("{s:s,s:s,s:i,s:s}", "Start", t0, "End", t1,
					     "ExitCode", code, "Output", out));
	while (json_array_size(log) > 5)
		json_array_remove(log, 0);
	const char *sa = json_string_value(json_object_get(st(c), "StartedAt"));
	bool in_start_period = now_nanos() - parse_log_time(sa) < sp;
	if (code == 0) {
		json_object_set_new(h, "Status", json_string("healthy"));
		json_object_set_new(h, "FailingStreak", json_integer(0));
	} else if (!(in_start_period && !strcmp(old_s, "starting"))) {
		long long fs = json_integer_value(json_object_get(h, "FailingStreak")) + 1;
		json_object_set_new(h, "FailingStreak", json_integer(fs));
		if (fs >= retries)
			json_object_set_new(h, "Status", json_string("unhealthy"));
	}
	const char *now = json_string_value(json_object_get(h, "Status"));
	save_or_log(c);
	if (strcmp(now, old_s)) {
		_cleanup_free_ char *action = xasprintf("health_status: %s", now);
		event(c, action, NULL);
	}
}

static void exec_finished(exec_proc *e);

static void health_stop(container *c)
{
	ev_timer_stop(D.loop, &c->health_timer);
	if (c->health) {
		kill(c->health->pid, SIGKILL);
		c->health->c = NULL;
		c->health = NULL;
	}
}

static pid_t exec_spawn(exec_proc *e, json_t *process, berth_error *err);

static void health_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	container *c = w->data;
	if (c->health || !is_running(c))
		return;
	if (json_is_true(json_object_get(st(c), "Paused"))) {
		/* a check would join the frozen cgroup and hang: try again later */
		health_schedule(c, false);
		return;
	}
	json_t *hc = json_object_get(cfg(c), "Healthcheck");
	json_t *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	json_t *args = json_array();
	if (!strcmp(kind, "CMD-SHELL")) {
		json_array_append_new(args, json_string("/bin/sh"));
		json_array_append_new(args, json_string("-c"));
		json_array_append(args, json_array_get(test, 1));
	} else {
		for (size_t i = 1; i < json_array_size(test); i++)
			json_array_append(args, json_array_get(test, i));
	}
	exec_proc *e = xzalloc(sizeof *e);
	e->c = c;
	e->health = true;
	snprintf(e->id, sizeof e->id, "health-%.12s", c->id);
	c->health = e;
	c->health_started = now_nanos();
	json_t *proc = json_pack("{s:o}", "args", args);
	berth_error err = BERTH_ERROR_INIT;
	if (exec_spawn(e, proc, &err) < 0) {
		c->health = NULL;
		health_result(c, 1, err.msg);
		free(e);
		health_schedule(c, false);
	}
	json_decref(proc);
	berth_error_clear(&err);
}

static void health_schedule(container *c, bool first)
{
	json_t *hc = json_object_get(cfg(c), "Healthcheck");
	json_t *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	if (!hc || !kind || !strcmp(kind, "NONE") || !is_running(c))
		return;
	if (first) {
		json_object_set_new(
		    st(c), "Health",
		    json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log"));
		save_or_log(c);
	}
	double interval = (double)json_integer_value(json_object_get(hc, "Interval")) / 1e9;
	if (interval <= 0)
		interval = 30;
	double si = (double)json_integer_value(json_object_get(hc, "StartInterval")) / 1e9;
	long long sp = json_integer_value(json_object_get(hc, "StartPeriod"));
	const char *sa = json_string_value(json_object_get(st(c), "StartedAt"));
	bool in_start = now_nanos() - parse_log_time(sa) < sp;
	const char *hs =
	    json_string_value(json_object_get(json_object_get(st(c), "Health"), "Status"));
	/* Docker: the start interval applies while still starting within the start period */
	if (in_start && si > 0 && hs && !strcmp(hs, "starting"))
		interval = si;
	ev_timer_init(&c->health_timer, health_cb, interval, 0);
	c->health_timer.data = c;
	ev_timer_start(D.loop, &c->health_timer);
}

/* ---- exec ---- */

static exec_proc *exec_find(const char *id)
{
	for (exec_proc *e = execs; e; e = e->next)
		if (!strcmp(e->id, id))
			return e;
	return NULL;
}

static void exec_drained(http_conn *conn)
{
	exec_proc *e = conn->ctx;
	conn->on_drain = NULL;
	if (!e)
		return;
	if (e->fds[1] >= 0)
		ev_io_start(D.loop, &e->out_io);
	if (e->fds[2] >= 0)
		ev_io_start(D.loop, &e->err_io);
}

static void exec_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	exec_proc *e = w->data;
	int stream = w == &e->out_io ? 1 : 2;
	char buf[65536];
	ssize_t n = read(e->fds[stream], buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, w);
		close(e->fds[stream]);
		e->fds[stream] = -1;
		if (e->fds[1] < 0 && e->fds[2] < 0 && !e->running)
			exec_finished(e);
		return;
	}
	if (e->health) {
		size_t room = e->output.len < 4096 ? 4096 - e->output.len : 0;
		sb_addn(&e->output, buf, (size_t)n < room ? (size_t)n : room);
		return;
	}
	if (!e->conn)
		return;
	if (!e->tty) {
		unsigned char h[8] = {(unsigned char)stream,
				      0,
				      0,
				      0,
				      (unsigned char)(n >> 24),
				      (unsigned char)(n >> 16),
				      (unsigned char)(n >> 8),
				      (unsigned char)n};
		http_write(e->conn, h, 8);
	}
	http_write(e->conn, buf, (size_t)n);
	if (http_pending(e->conn) > 1024 * 1024) {
		ev_io_stop(loop, &e->out_io);
		ev_io_stop(loop, &e->err_io);
		e->conn->on_drain = exec_drained;
	}
}

static void exec_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	exec_proc *e = w->data;
	ev_child_stop(loop, w);
	ev_timer_stop(loop, &e->timeout);
	e->running = false;
	int ws = w->rstatus;
	e->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (e->fds[1] < 0 && e->fds[2] < 0)
		exec_finished(e);
}

static void exec_finished(exec_proc *e)
{
	if (e->health) {
		container *c = e->c;
		if (c) {
			c->health = NULL;
			const char *o = e->output.buf ? e->output.buf : "";
			if (e->timed_out)
				health_result(c, -1, "Health check exceeded timeout");
			else
				health_result(c, e->exit_code, o);
			health_schedule(c, false);
		}
		for (exec_proc **pp = &execs; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		sb_release(&e->output);
		json_decref(e->config);
		free(e);
		return;
	}
	if (e->fds[0] >= 0)
		close(e->fds[0]);
	e->fds[0] = -1;
	if (e->conn) {
		http_conn *conn = e->conn;
		e->conn = NULL;
		conn->ctx = NULL;
		http_end(conn);
	}
	if (e->c) {
		json_t *a = json_pack("{s:s,s:i}", "execID", e->id, "exitCode", e->exit_code);
		event(e->c, "exec_die", a);
	}
}

static void health_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	exec_proc *e = w->data;
	e->timed_out = true;
	kill(e->pid, SIGKILL);
}

static int recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;
	int fd = -1;
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) == 1 && (cm = CMSG_FIRSTHDR(&m)) &&
	    cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static pid_t exec_spawn(exec_proc *e, json_t *process, berth_error *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, con[2] = {-1, -1};
	bool want_in = json_is_true(json_object_get(e->config, "AttachStdin"));
	if (e->tty) {
		/* the process gets a terminal of the container's devpts; its master comes here */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0)
			return berth_error_set(err, errno, "socketpair");
		json_object_set_new(process, "terminal", json_true());
	} else if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
		   (want_in && pipe2(in, O_CLOEXEC) < 0)) {
		return berth_error_set(err, errno, "pipe");
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int stdio[3] = {want_in && !e->tty ? in[0] : null, e->tty ? null : out[1],
			e->tty ? null : errp[1]};
	engine_runtime_opts o = *rt_opts();
	o.console_fd = con[1];
	o.has_console = e->tty;
	pid_t pid = engine_runtime_exec(e->c->id, process, stdio, &o, err);
	close(null);
	for (int *f = (int[]){out[1], errp[1], in[0], con[1]}, k = 0; k < 4; k++)
		if (f[k] >= 0)
			close(f[k]);
	int master = pid > 0 && e->tty ? recv_fd(con[0]) : -1;
	if (con[0] >= 0)
		close(con[0]);
	if (pid > 0 && e->tty && master < 0) {
		kill(pid, SIGKILL);
		pid = berth_error_msg(err, EIO, "the exec sent no terminal");
	}
	if (pid < 0) {
		for (int *f = (int[]){out[0], errp[0], in[1]}, k = 0; k < 3; k++)
			if (f[k] >= 0)
				close(f[k]);
		return -1;
	}
	if (e->tty) {
		/* one terminal: its master is both the output and, with -i, the input */
		out[0] = master;
		in[1] = want_in ? dup(master) : -1;
		errp[0] = -1;
	}
	e->pid = pid;
	e->running = true;
	e->fds[0] = in[1];
	e->fds[1] = out[0];
	e->fds[2] = errp[0];
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	ev_child_init(&e->child, exec_child_cb, pid, 0);
	e->child.data = e;
	ev_child_start(D.loop, &e->child);
	ev_io_init(&e->out_io, exec_pipe_cb, out[0], EV_READ);
	e->out_io.data = e->err_io.data = e;
	ev_io_start(D.loop, &e->out_io);
	if (errp[0] >= 0) {
		fcntl(errp[0], F_SETFL, O_NONBLOCK);
		ev_io_init(&e->err_io, exec_pipe_cb, errp[0], EV_READ);
		ev_io_start(D.loop, &e->err_io);
	}
	if (e->health) {
		e->next = execs;
		execs = e;
		json_t *hc = json_object_get(cfg(e->c), "Healthcheck");
		double to = (double)json_integer_value(json_object_get(hc, "Timeout")) / 1e9;
		ev_timer_init(&e->timeout, health_timeout_cb, to > 0 ? to : 30, 0);
		e->timeout.data = e;
		ev_timer_start(D.loop, &e->timeout);
	}
	return pid;
}

static void exec_create_h(http_conn *conn, http_request *req, container *c)
{
	json_t *body = json_loadb(req->body.buf ? req->body.buf : "", req->body.len, 0, NULL);
	if (!json_is_object(body) || !json_array_size(json_object_get(body, "Cmd"))) {
		json_decref(body);
		http_respond_error(conn, 400, "exec: Cmd (an array of strings) is required");
		return;
	}
	if (!is_running(c)) {
		json_decref(body);
		http_respond_error(conn, 409, "container %s is not running", c->id);
		return;
	}
	if (json_is_true(json_object_get(st(c), "Paused"))) {
		json_decref(body);
		http_respond_error(
		    conn, 409, "container %s is paused, unpause the container before exec", c->id);
		return;
	}
	/* finished execs are kept for inspect, the 64 newest of them */
	int kept = 0;
	for (exec_proc **pp = &execs; *pp;) {
		exec_proc *x = *pp;
		bool done = !x->health && x->pid && !x->running && !x->conn && x->fds[1] < 0 &&
			    x->fds[2] < 0;
		if (done && ++kept > 64) {
			*pp = x->next;
			json_decref(x->config);
			free(x);
			continue;
		}
		pp = &x->next;
	}
	exec_proc *e = xzalloc(sizeof *e);
	unsigned char rnd[32];
	getrandom(rnd, sizeof rnd, 0);
	for (int i = 0; i < 32; i++)
		sprintf(e->id + 2 * i, "%02x", rnd[i]);
	e->c = c;
	e->config = body;
	e->fds[0] = e->fds[1] = e->fds[2] = -1;
	e->exit_code = -1;
	e->next = execs;
	execs = e;
	http_respond(conn, 201, json_pack("{s:s}", "Id", e->id));
}

static void exec_conn_close(http_conn *conn)
{
	exec_proc *e = conn->ctx;
	if (e && e->conn == conn)
		e->conn = NULL;
}

static void exec_stdin(http_conn *conn, const char *data, size_t len)
{
	exec_proc *e = conn->ctx;
	if (!e || e->fds[0] < 0)
		return;
	if (!data) {
		close(e->fds[0]);
		e->fds[0] = -1;
		return;
	}
	while (len) {
		ssize_t w = write(e->fds[0], data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		data += w;
		len -= (size_t)w;
	}
}

void exec_start_h(http_conn *conn, http_request *req, const char *id)
{
	exec_proc *e = exec_find(id);
	if (!e || e->health) {
		http_respond_error(conn, 404, "No such exec instance: %s", id);
		return;
	}
	if (e->pid) {
		http_respond_error(conn, 409, "exec %s has already run", id);
		return;
	}
	container *c = e->c;
	if (!c || !is_running(c) || json_is_true(json_object_get(st(c), "Paused"))) {
		http_respond_error(conn, 409, "container is not running or paused");
		return;
	}
	json_t *body = json_loadb(req->body.buf ? req->body.buf : "", req->body.len, 0, NULL);
	bool detach = json_is_true(json_object_get(body, "Detach"));
	json_decref(body);
	json_t *cf = e->config;
	json_t *proc = json_pack("{s:O}", "args", json_object_get(cf, "Cmd"));
	berth_error err = BERTH_ERROR_INIT;
	const char *wd = json_string_value(json_object_get(cf, "WorkingDir"));
	if (wd && *wd)
		json_object_set_new(proc, "cwd", json_string(wd));
	json_t *env = json_object_get(cf, "Env");
	if (json_array_size(env)) {
		_cleanup_free_ char *bp = rdir(c, "config.json");
		json_t *spec = json_load_file(bp, 0, NULL);
		json_t *all =
		    json_deep_copy(json_object_get(json_object_get(spec, "process"), "env"));
		json_decref(spec);
		json_array_extend(all ? all : (all = json_array()), env);
		json_object_set_new(proc, "env", all);
	}
	const char *user = json_string_value(json_object_get(cf, "User"));
	if (user && *user) {
		engine_store *s = engine_store_open_read(D.root, &err);
		json_t *img = s ? engine_image_get(
				      s, json_string_value(json_object_get(c->rec, "Image")), &err)
				: NULL;
		json_t *u = json_object();
		int r = img ? engine_image_user(s, img, user, u, &err) : -1;
		json_decref(img);
		engine_store_close(s);
		if (r < 0) {
			json_decref(u);
			json_decref(proc);
			http_respond_error(conn, 400, "%s", err.msg);
			berth_error_clear(&err);
			return;
		}
		json_object_set_new(proc, "user", u);
	}
	e->tty = json_is_true(json_object_get(cf, "Tty"));
	if (exec_spawn(e, proc, &err) < 0) {
		json_decref(proc);
		int code = err.code == ENOENT ? 127 : 126;
		e->exit_code = code;
		http_respond(conn, code == 127 ? 404 : 400,
			     json_pack("{s:s,s:i}", "message", err.msg, "ExitCode", code));
		berth_error_clear(&err);
		return;
	}
	json_decref(proc);
	event(c, "exec_start", json_pack("{s:s}", "execID", e->id));
	if (detach) {
		http_respond(conn, 200, NULL);
		return;
	}
	conn->ctx = e;
	conn->on_data = exec_stdin;
	conn->on_close = exec_conn_close;
	e->conn = conn;
	http_upgrade(conn);
}

void exec_inspect_h(http_conn *conn, const char *id)
{
	exec_proc *e = exec_find(id);
	if (!e || e->health) {
		http_respond_error(conn, 404, "No such exec instance: %s", id);
		return;
	}
	http_respond(conn, 200,
		     json_pack("{s:s,s:b,s:o,s:s,s:i,s:b}", "ID", e->id, "Running", e->running,
			       "ExitCode",
			       e->running || !e->pid ? json_null() : json_integer(e->exit_code),
			       "ContainerID", e->c ? e->c->id : "", "Pid", (int)e->pid, "OpenStdin",
			       json_is_true(json_object_get(e->config, "AttachStdin"))));
}

/* ---- the other operations ---- */

/* Docker's units.HumanDuration */
static char *human_duration(long long secs)
{
	if (secs < 1)
		return xstrdup("Less than a second");
	if (secs == 1)
		return xstrdup("1 second");
	if (secs < 60)
		return xasprintf("%lld seconds", secs);
	long long m = secs / 60, h = secs / 3600;
	if (m == 1)
		return xstrdup("About a minute");
	if (m < 60)
		return xasprintf("%lld minutes", m);
	if (h == 1)
		return xstrdup("About an hour");
	if (h < 48)
		return xasprintf("%lld hours", h);
	if (h < 24 * 7 * 2)
		return xasprintf("%lld days", h / 24);
	if (h < 24 * 30 * 2)
		return xasprintf("%lld weeks", h / 24 / 7);
	if (h < 24 * 365 * 2)
		return xasprintf("%lld months", h / 24 / 30);
	return xasprintf("%lld years", h / 24 / 365);
}

static json_t *summary(container *c)
{
	const char *s = status(c);
	_cleanup_free_ char *text = NULL;
	json_t *cf = cfg(c);
	if (!strcmp(s, "running") || !strcmp(s, "paused")) {
		const char *sa = json_string_value(json_object_get(st(c), "StartedAt"));
		long long secs = (now_nanos() - parse_log_time(sa)) / 1000000000LL;
		_cleanup_free_ char *d = human_duration(secs);
		text = xasprintf("Up %s", d);
		json_t *h = json_object_get(st(c), "Health");
		if (h) {
			char *t2 = xasprintf(
			    "%s (%s)", text,
			    !strcmp(json_string_value(json_object_get(h, "Status")), "starting")
				? "health: starting"
				: json_string_value(json_object_get(h, "Status")));
			free(text);
			text = t2;
		}
		if (!strcmp(s, "paused")) {
			char *t2 = xasprintf("%s (Paused)", text);
			free(text);
			text = t2;
		}
	} else if (!strcmp(s, "exited") || !strcmp(s, "restarting")) {
		const char *fa = json_string_value(json_object_get(st(c), "FinishedAt"));
		long long secs = (now_nanos() - parse_log_time(fa)) / 1000000000LL;
		const char *verb = !strcmp(s, "exited") ? "Exited" : "Restarting";
		long long code = json_integer_value(json_object_get(st(c), "ExitCode"));
		_cleanup_free_ char *d = human_duration(secs);
		text = xasprintf("%s (%lld) %s ago", verb, code, d);
	} else {
		text = xstrdup(!strcmp(s, "created") ? "Created" : s);
	}
	_cleanup_strbuf_ strbuf cmd = STRBUF_INIT;
	json_t *v;
	size_t i;
	sb_adds(&cmd, json_string_value(json_object_get(c->rec, "Path")) ?: "");
	json_array_foreach(json_object_get(c->rec, "Args"), i, v)
	    sb_addf(&cmd, " %s", json_string_value(v));
	if (!cmd.len) {
		json_array_foreach(json_object_get(cf, "Entrypoint"), i, v)
		    sb_addf(&cmd, "%s%s", cmd.len ? " " : "", json_string_value(v));
		json_array_foreach(json_object_get(cf, "Cmd"), i, v)
		    sb_addf(&cmd, "%s%s", cmd.len ? " " : "", json_string_value(v));
	}
	const char *sa = json_string_value(json_object_get(c->rec, "Created"));
	/* Docker's summary ports: one entry per binding, and exposed ports without one */
	json_t *ports = json_array(), *l, *b;
	const char *k;
	json_t *ns = json_object_get(c->rec, "NetworkSettings");
	json_object_foreach(json_object_get(ns, "Ports"), k, l)
	{
		int port = atoi(k);
		const char *proto = strchr(k, '/') ? strchr(k, '/') + 1 : "tcp";
		if (!json_array_size(l))
			json_array_append_new(
			    ports, json_pack("{s:i,s:s}", "PrivatePort", port, "Type", proto));
		json_array_foreach(l, i, b) json_array_append_new(
		    ports, json_pack("{s:O,s:i,s:i,s:s}", "IP", json_object_get(b, "HostIp"),
				     "PrivatePort", port, "PublicPort",
				     atoi(json_string_value(json_object_get(b, "HostPort")) ?: "0"),
				     "Type", proto));
	}
	json_t *nets = json_object(), *ep;
	json_object_foreach(json_object_get(ns, "Networks"), k, ep)
	    json_object_set_new(nets, k, json_deep_copy(ep));
	return json_pack("{s:s,s:[s],s:O,s:O,s:s,s:I,s:s,s:s,s:O,s:o,s:{s:o}}", "Id", c->id,
			 "Names", json_string_value(json_object_get(c->rec, "Name")), "Image",
			 json_object_get(cf, "Image"), "ImageID", json_object_get(c->rec, "Image"),
			 "Command", cmd.buf ? cmd.buf : "", "Created",
			 (json_int_t)(parse_log_time(sa) / 1000000000LL), "State", s, "Status",
			 text, "Labels", json_object_get(cf, "Labels"), "Ports", ports,
			 "NetworkSettings", "Networks", nets);
}

static int newest_first(const void *a, const void *b)
{
	/* RFC 3339 with nanoseconds sorts as text */
	container *x = *(container *const *)a, *y = *(container *const *)b;
	return strcmp(json_string_value(json_object_get(y->rec, "Created")),
		      json_string_value(json_object_get(x->rec, "Created")));
}

void container_list_h(http_conn *conn, http_request *req)
{
	bool all = http_query_bool(req->query, "all");
	size_t n = 0;
	for (container *c = D.containers; c; c = c->next)
		n++;
	container **v = xcalloc(n + 1, sizeof *v);
	n = 0;
	for (container *c = D.containers; c; c = c->next)
		if (all || is_running(c))
			v[n++] = c;
	qsort(v, n, sizeof *v, newest_first);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, summary(v[i]));
	free(v);
	http_respond(conn, 200, out);
}

static json_t *inspect(container *c)
{
	json_t *r = json_deep_copy(c->rec);
	json_object_del(r, "ManuallyStopped");
	json_t *s = json_object_get(r, "State");
	if (c->starting || c->removing)
		json_object_set_new(s, "Status", json_string(c->removing ? "removing" : "created"));
	_cleanup_free_ char *rootfs = cdir(c, "rootfs");
	json_object_set_new(
	    r, "GraphDriver",
	    json_pack("{s:s,s:{s:s}}", "Name", "overlay2", "Data", "MergedDir", rootfs));
	json_t *mounts = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(hcfg(c), "Binds"), i, v)
	{
		_cleanup_free_ char *b = xstrdup(json_string_value(v));
		char *dst = strchr(b, ':');
		if (!dst)
			continue;
		*dst++ = '\0';
		char *o = strchr(dst, ':');
		if (o)
			*o++ = '\0';
		bool named = b[0] != '/';
		_cleanup_free_ char *src =
		    named ? xasprintf("%s/%s/_data", D.volumes_dir, b) : xstrdup(b);
		json_array_append_new(
		    mounts, json_pack("{s:s,s:s,s:s,s:s,s:b}", "Type", named ? "volume" : "bind",
				      "Name", named ? b : "", "Source", src, "Destination", dst,
				      "RW", !(o && strstr(o, "ro"))));
	}
	json_array_foreach(json_object_get(hcfg(c), "Mounts"), i, v)
	{
		const char *type = json_string_value(json_object_get(v, "Type")) ?: "volume";
		const char *src = json_string_value(json_object_get(v, "Source")) ?: "";
		_cleanup_free_ char *path = !strcmp(type, "volume")
						? xasprintf("%s/%s/_data", D.volumes_dir, src)
						: xstrdup(src);
		json_array_append_new(mounts,
				      json_pack("{s:s,s:s,s:s,s:O,s:b}", "Type", type, "Name",
						!strcmp(type, "volume") ? src : "", "Source", path,
						"Destination", json_object_get(v, "Target"), "RW",
						!json_is_true(json_object_get(v, "ReadOnly"))));
	}
	json_object_set_new(r, "Mounts", mounts);
	return r;
}

const char *containers_using_image(const char *image_id, bool force)
{
	for (container *c = D.containers; c; c = c->next)
		if (!strcmp(json_string_value(json_object_get(c->rec, "Image")), image_id) &&
		    (!force || is_running(c) || c->starting))
			return c->id;
	return NULL;
}

int containers_count(int *running, int *paused, int *stopped)
{
	int n = 0;
	for (container *c = D.containers; c; c = c->next, n++) {
		if (json_is_true(json_object_get(st(c), "Paused")))
			(*paused)++;
		else if (is_running(c))
			(*running)++;
		else
			(*stopped)++;
	}
	return n;
}

json_t *container_anonymous_volumes(container *c)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(hcfg(c), "Mounts"), i, v)
	{
		const char *src = json_string_value(json_object_get(v, "Source"));
		if (src && strlen(src) == 64 && !json_object_get(v, "Name"))
			json_array_append_new(out, json_string(src));
	}
	return out;
}

bool volume_in_use(const char *name)
{
	for (container *c = D.containers; c; c = c->next) {
		json_t *v;
		size_t i;
		json_array_foreach(json_object_get(hcfg(c), "Binds"), i, v)
		{
			const char *b = json_string_value(v);
			size_t n = strcspn(b, ":");
			if (n == strlen(name) && !strncmp(b, name, n))
				return true;
		}
		json_array_foreach(json_object_get(hcfg(c), "Mounts"), i, v)
		{
			const char *src = json_string_value(json_object_get(v, "Source"));
			if (src && !strcmp(src, name))
				return true;
		}
	}
	return false;
}

static void top_h(http_conn *conn, container *c)
{
	berth_error err = BERTH_ERROR_INIT;
	json_t *s = is_running(c) ? engine_runtime_stats(c->id, rt_opts(), &err) : NULL;
	if (!s) {
		http_respond_error(conn, 409, "container %s is not running", cname(c));
		berth_error_clear(&err);
		return;
	}
	json_t *procs = json_array(), *p;
	size_t i;
	json_array_foreach(json_object_get(s, "pid_list"), i, p)
	{
		int pid = (int)json_integer_value(p);
		_cleanup_free_ char *sp = xasprintf("/proc/%d/status", pid);
		_cleanup_free_ char *cp = xasprintf("/proc/%d/cmdline", pid);
		_cleanup_free_ char *stt = read_file(sp, NULL, NULL);
		size_t n = 0;
		_cleanup_free_ char *cmd = read_file(cp, &n, NULL);
		if (!stt)
			continue;
		for (size_t k = 0; cmd && k + 1 < n; k++)
			if (!cmd[k])
				cmd[k] = ' ';
		const char *u = strstr(stt, "\nUid:"), *pp = strstr(stt, "\nPPid:");
		char uid[16] = "?", pids[16], ppid[16] = "?";
		if (u)
			snprintf(uid, sizeof uid, "%d", atoi(u + 5));
		snprintf(pids, sizeof pids, "%d", pid);
		if (pp)
			snprintf(ppid, sizeof ppid, "%d", atoi(pp + 6));
		json_array_append_new(procs,
				      json_pack("[s,s,s,s]", uid, pids, ppid, cmd ? cmd : ""));
	}
	json_decref(s);
	http_respond(
	    conn, 200,
	    json_pack("{s:[ssss],s:o}", "Titles", "UID", "PID", "PPID", "CMD", "Processes", procs));
}

void container_op_h(http_conn *conn, http_request *req, container *c, const char *op)
{
	berth_error err = BERTH_ERROR_INIT;
	bool post = !strcmp(req->method, "POST");
	if (!strcmp(op, "json") && !post) {
		http_respond(conn, 200, inspect(c));
	} else if (!strcmp(op, "logs") && !post) {
		logs_h(conn, req, c);
	} else if (!strcmp(op, "top") && !post) {
		top_h(conn, c);
	} else if (!strcmp(op, "stats") && !post) {
		json_t *s = is_running(c) ? engine_runtime_stats(c->id, rt_opts(), &err) : NULL;
		if (!s)
			s = json_object();
		json_object_del(s, "pid_list");
		json_object_set_new(s, "id", json_string(c->id));
		json_object_set_new(s, "name", json_sprintf("/%s", cname(c)));
		http_respond(conn, 200, s);
	} else if (!strcmp(op, "wait") && post) {
		_cleanup_free_ char *cond = http_query(req->query, "condition");
		if (cond && !strcmp(cond, "removed"))
			http_list_add(&c->remove_waiters, conn);
		else if ((!cond || !strcmp(cond, "not-running")) && !is_running(c) &&
			 !c->starting && strcmp(status(c), "restarting"))
			http_respond(conn, 200,
				     json_pack("{s:O,s:n}", "StatusCode",
					       json_object_get(st(c), "ExitCode"), "Error"));
		else
			http_list_add(&c->exit_waiters, conn);
	} else if (!strcmp(op, "attach") && post) {
		attach_h(conn, req, c);
	} else if (!strcmp(op, "exec") && post) {
		exec_create_h(conn, req, c);
	} else if (!strcmp(op, "start") && post) {
		if (c->removing) {
			http_respond_error(conn, 409, "container is marked for removal");
		} else if (is_running(c)) {
			http_respond(conn, 304, NULL);
		} else if (c->starting) {
			release(c);
			http_list_add(&c->start_waiters, conn);
		} else {
			ev_timer_stop(D.loop, &c->restart_timer);
			json_object_set_new(c->rec, "ManuallyStopped", json_false());
			if (do_start(c, &err) < 0) {
				http_respond(conn, 400,
					     json_pack("{s:s,s:i}", "message", err.msg, "ExitCode",
						       exit_code_for(err.msg) == 128
							   ? 125
							   : exit_code_for(err.msg)));
			} else {
				http_list_add(&c->start_waiters, conn);
			}
		}
	} else if (!strcmp(op, "stop") && post) {
		_cleanup_free_ char *t = http_query(req->query, "t");
		bool restarting = !strcmp(status(c), "restarting") && !is_running(c);
		if (container_stop(c, t && *t ? atoi(t) : -1))
			http_respond(conn, restarting ? 204 : 304, NULL);
		else
			http_list_add(&c->stop_waiters, conn);
	} else if (!strcmp(op, "restart") && post) {
		_cleanup_free_ char *t = http_query(req->query, "t");
		cancel_restart(c);
		json_object_set_new(c->rec, "ManuallyStopped", json_false());
		if (is_running(c)) {
			c->restart_after_exit = true;
			stop(c, t && *t ? atoi(t) : -1);
			c->stop_requested = false; /* a restart is not a manual stop */
			http_list_add(&c->start_waiters, conn);
		} else if (c->starting) {
			release(c);
			http_list_add(&c->start_waiters, conn);
		} else if (do_start(c, &err) < 0) {
			http_respond_error(conn, 400, "%s", err.msg);
		} else {
			http_list_add(&c->start_waiters, conn);
		}
	} else if (!strcmp(op, "kill") && post) {
		_cleanup_free_ char *s = http_query(req->query, "signal");
		int sig = signal_number(s);
		if (sig <= 0 || sig >= NSIG)
			http_respond_error(conn, 400, "invalid signal: %s", s);
		else if (!is_running(c))
			http_respond_error(conn, 409, "container %s is not running", c->id);
		else if (engine_runtime_kill(c->id, sig, false, rt_opts(), &err) < 0)
			http_respond_error(conn, 500, "%s", err.msg);
		else {
			if (sig == SIGKILL || sig == SIGTERM)
				c->stop_requested = true;
			event(c, "kill", json_pack("{s:s}", "signal", sigabbrev_np(sig) ?: "?"));
			http_respond(conn, 204, NULL);
		}
	} else if ((!strcmp(op, "pause") || !strcmp(op, "unpause")) && post) {
		bool p = !strcmp(op, "pause");
		if (!is_running(c))
			http_respond_error(conn, 409, "container %s is not running", c->id);
		else if (p == json_is_true(json_object_get(st(c), "Paused")))
			http_respond_error(conn, 409, "container %s is %spaused", c->id,
					   p ? "already " : "not ");
		else if (engine_runtime_pause(c->id, p, rt_opts(), &err) < 0)
			http_respond_error(conn, 500, "%s", err.msg);
		else {
			set_state(c, "Paused", json_boolean(p));
			set_state(c, "Status", json_string(p ? "paused" : "running"));
			save_or_log(c);
			event(c, op, NULL);
			http_respond(conn, 204, NULL);
		}
	} else if (!strcmp(op, "rename") && post) {
		_cleanup_free_ char *n = http_query(req->query, "name");
		const char *nn = n && n[0] == '/' ? n + 1 : n;
		if (!nn || !valid_name(nn))
			http_respond_error(conn, 400, "Invalid container name (%s)", nn ? nn : "");
		else if (name_taken(nn))
			http_respond_error(conn, 409,
					   "Conflict. The container name \"/%s\" is already in use",
					   nn);
		else {
			json_object_set_new(c->rec, "Name", json_sprintf("/%s", nn));
			save_or_log(c);
			event(c, "rename", NULL);
			http_respond(conn, 204, NULL);
		}
	} else {
		http_respond_error(conn, 404, "page not found: %s %s", req->method, req->path);
	}
	berth_error_clear(&err);
}

/* ---- daemon start ---- */

static void finish_interrupted_remove(const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", D.containers_dir, name);
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", p);
	engine_store *s = engine_store_open_read(D.root, NULL);
	if (s)
		engine_rootfs_umount(s, rootfs, NULL);
	engine_store_close(s);
	rm_rf(p, NULL);
}

int containers_load(berth_error *err)
{
	ev_timer_init(&exits_timer, exits_cb, 0, 0);
	if (mkdir_p(D.containers_dir, 0700, err) < 0 || mkdir_p(D.run_containers, 0700, err) < 0)
		return -1;
	DIR *d = opendir(D.containers_dir);
	if (!d)
		return berth_error_set(err, errno, "%s", D.containers_dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (str_has_prefix(de->d_name, ".rm-")) {
			finish_interrupted_remove(de->d_name);
			continue;
		}
		_cleanup_free_ char *p =
		    xasprintf("%s/%s/container.json", D.containers_dir, de->d_name);
		json_t *rec = json_load_file(p, 0, NULL);
		if (!rec) {
			/* a create that crashed before its record was written */
			finish_interrupted_remove(de->d_name);
			continue;
		}
		container *c = container_new(rec);
		const char *s = status(c);
		if (!strcmp(s, "removing")) {
			do_remove(c);
			continue;
		}
		if (is_running(c)) {
			int fd = monitor_connect(c, 'w');
			if (fd >= 0) {
				watch_start(c, fd);
				health_schedule(c, false);
				continue;
			}
			long long when = 0;
			int code = read_exit(c, &when);
			/* exited while berthd was away: as if berthd had seen it */
			on_exit_status(c, code < 0 ? 137 : code, when ? when : now_nanos(),
				       code < 0 ? "the container's monitor is gone" : NULL);
			continue;
		}
		/* a start that crashed half-way: back to where it was */
		_cleanup_free_ char *rd = rdir(c, NULL);
		_cleanup_free_ char *rt = xasprintf("%s/%s", D.runtime_root, c->id);
		_cleanup_free_ char *rootfs = cdir(c, "rootfs");
		if (path_exists(rd) || path_exists(rt) || engine_rootfs_mounted(rootfs))
			teardown(c);
		if (!strcmp(s, "restarting")) {
			set_state(c, "Status", json_string("exited"));
			set_state(c, "Restarting", json_false());
			save_or_log(c);
		}
	}
	closedir(d);
	/* monitors' directories of containers that are gone */
	d = opendir(D.run_containers);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || container_find(de->d_name, NULL))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", D.run_containers, de->d_name);
		rm_rf(p, NULL);
	}
	if (d)
		closedir(d);
	return 0;
}

void containers_autostart(void)
{
	for (container *c = D.containers; c; c = c->next) {
		const char *pol = json_string_value(
		    json_object_get(json_object_get(hcfg(c), "RestartPolicy"), "Name"));
		if (!pol || is_running(c) || c->starting || ev_is_active(&c->restart_timer))
			continue;
		bool manual = json_is_true(json_object_get(c->rec, "ManuallyStopped"));
		if (!strcmp(pol, "always") || (!strcmp(pol, "unless-stopped") && !manual)) {
			berth_error err = BERTH_ERROR_INIT;
			if (strcmp(status(c), "exited") || do_start(c, &err) < 0)
				berth_error_clear(&err);
		}
	}
}
