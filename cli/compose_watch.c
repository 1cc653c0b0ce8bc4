/*
 * berth compose logs and the attached `up`: every container's log at once,
 * each line prefixed with its container's name; following (-f, and always
 * when attached), the containers that start later too, found by berthd's
 * events: a new container is read from its beginning, a restarted one from
 * where its last stream ended.
 *
 * Attached, it reports each container's exit, stops the project gracefully
 * on the first Ctrl-C (or, with --abort-on-container-exit, on the first exit)
 * and kills it on the second, and ends when no container runs any more.
 */
#include "cli.h"
#include "client.h"
#include "compose_opts.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *name, *service;
	char *prefix;
	client_stream s;
	bool raw, open, opened;
	bool waiting; /* its stream ended but it restarts: a "start" event reopens it */
	strbuf in, line[2];
	double closed_at; /* when its last stream ended */
} log_src;

typedef struct {
	const watch_opts *o;
	log_src *src;
	size_t n, width;
	client_stream ev;
	bool ev_open;
	strbuf evbuf;
	bool aborting;
	int first_code, from_code;
	pid_t stopper;
} watch;

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupts++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_line(log_src *l, int which, const char *p, size_t n, bool prefix)
{
	FILE *out = which == 2 ? stderr : stdout;
	strbuf *lb = &l->line[which == 2];
	sb_addn(lb, p, n);
	char *nl;
	while (lb->buf && (nl = memchr(lb->buf, '\n', lb->len))) {
		size_t len = (size_t)(nl - lb->buf) + 1;
		if (prefix)
			fputs(l->prefix, out);
		fwrite(lb->buf, 1, len, out);
		memmove(lb->buf, lb->buf + len, lb->len - len);
		lb->len -= len;
	}
	fflush(out);
}

/* Whole frames (or a tty's raw bytes) of what was read, to lines. */
static void drain(watch *w, log_src *l)
{
	if (l->raw) {
		log_line(l, 1, l->in.buf ? l->in.buf : "", l->in.len, w->o->prefix);
		l->in.len = 0;
		return;
	}
	while (l->in.len >= 8) {
		const unsigned char *h = (const unsigned char *)l->in.buf;
		size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		if (l->in.len < 8 + len)
			break;
		log_line(l, h[0], l->in.buf + 8, len, w->o->prefix);
		memmove(l->in.buf, l->in.buf + 8 + len, l->in.len - 8 - len);
		l->in.len -= 8 + len;
	}
}

static log_src *src_find(watch *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->src[i].name, name))
			return &w->src[i];
	return NULL;
}

static log_src *src_add(watch *w, const char *name, const char *service)
{
	/* docker compose's colours, one per container in turn */
	static const int colours[] = {36, 33, 32, 35, 34, 31};
	w->src = xrealloc(w->src, (w->n + 1) * sizeof *w->src);
	log_src *l = &w->src[w->n];
	*l = (log_src){.name = xstrdup(name), .service = xstrdup(service ? service : "")};
	l->prefix = w->o->color ? xasprintf("\033[%dm%-*s |\033[0m ", colours[w->n % 6],
					    (int)w->width, name)
				: xasprintf("%-*s | ", (int)w->width, name);
	w->n++;
	return l;
}

/* Opens the container's log from since ("" for all of it). */
static void src_open(watch *w, log_src *l, const char *since, const char *tail)
{
	_cleanup_free_ char *e = client_escape(l->name);
	_cleanup_free_ char *te = tail ? client_escape(tail) : NULL;
	_cleanup_free_ char *se = since && *since ? client_escape(since) : NULL;
	_cleanup_free_ char *path =
	    xasprintf("/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d%s%s%s%s", e,
		      w->o->follow, w->o->timestamps, te ? "&tail=" : "", te ? te : "",
		      se ? "&since=" : "", se ? se : "");
	berth_error err = BERTH_ERROR_INIT;
	l->waiting = false;
	if (client_open("GET", path, NULL, false, &l->s, &err) < 0) {
		berth_error_clear(&err);
		return;
	}
	if (l->s.status != 200) {
		client_close(&l->s);
		return;
	}
	l->open = l->opened = true;
	l->raw = !strcmp(l->s.content_type, "application/vnd.docker.raw-stream");
	l->in.len = 0;
	sb_addn(&l->in, l->s.pending.buf ? l->s.pending.buf : "", l->s.pending.len);
}

/* The project is stopped by a child (the logs go on meanwhile); a second Ctrl-C kills. */
static void stop_project(watch *w, bool kill)
{
	if (kill) {
		for (size_t i = 0; i < w->n; i++) {
			_cleanup_free_ char *e = client_escape(w->src[i].name);
			_cleanup_free_ char *path = xasprintf("/containers/%s/kill?signal=KILL", e);
			json_t *out = NULL;
			berth_error err = BERTH_ERROR_INIT;
			if (client_call("POST", path, NULL, &out, &err) == 204)
				printf(" Container %s  Killed\n", w->src[i].name);
			berth_error_clear(&err);
			json_decref(out);
		}
		return;
	}
	if (w->stopper > 0)
		return;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0)
		_exit(compose_project_stop(w->o->project, w->o->model, w->o->timeout));
	w->stopper = pid;
}

/* Its stream ended: restarting, running again, or gone for good (reported when attached). */
static void src_ended(watch *w, log_src *l)
{
	l->open = false;
	l->closed_at = now_s();
	if (!w->o->follow)
		return;
	_cleanup_free_ char *e = client_escape(l->name);
	_cleanup_free_ char *path = xasprintf("/containers/%s/json", e);
	json_t *out = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int st = client_call("GET", path, NULL, &out, &err);
	berth_error_clear(&err);
	json_t *state = json_object_get(out, "State");
	if (st == 200 && json_is_true(json_object_get(state, "Running")) && !w->aborting &&
	    w->stopper <= 0) {
		char since[64];
		snprintf(since, sizeof since, "%.6f", l->closed_at);
		src_open(w, l, since, NULL);
	} else if (st == 200 && json_is_true(json_object_get(state, "Restarting")) &&
		   !w->aborting && w->stopper <= 0) {
		l->waiting = true;
	} else if (w->o->attached) {
		int code = (int)json_integer_value(json_object_get(state, "ExitCode"));
		printf("%s exited with code %d\n", l->name, code);
		if (w->o->exit_from && !strcmp(w->o->exit_from, l->service))
			w->from_code = code;
		if (w->o->abort_on_exit && !w->aborting && w->stopper <= 0) {
			w->aborting = true;
			w->first_code = code;
			printf("Aborting on container exit...\n");
			stop_project(w, false);
		}
	}
	json_decref(out);
}

/* berthd's events: a container of the project that starts is read (again). */
static void on_events(watch *w)
{
	char *nl;
	while (w->evbuf.buf && (nl = memchr(w->evbuf.buf, '\n', w->evbuf.len))) {
		*nl = '\0';
		json_t *e = json_loads(w->evbuf.buf, 0, NULL);
		json_t *at = json_object_get(json_object_get(e, "Actor"), "Attributes");
		const char *p =
		    json_string_value(json_object_get(at, "com.docker.compose.project"));
		const char *s =
		    json_string_value(json_object_get(at, "com.docker.compose.service"));
		const char *name = json_string_value(json_object_get(at, "name"));
		const char *oneoff =
		    json_string_value(json_object_get(at, "com.docker.compose.oneoff"));
		if (p && s && name && compose_named(w->o->svc, w->o->nsvc, s) &&
		    !strcmp(p, w->o->project) && !(oneoff && !strcmp(oneoff, "True")) &&
		    !strcmp(json_string_value(json_object_get(e, "Type")) ?: "", "container") &&
		    !strcmp(json_string_value(json_object_get(e, "Action")) ?: "", "start") &&
		    !w->aborting && w->stopper <= 0) {
			log_src *l = src_find(w, name);
			if (!l) {
				if (strlen(name) > w->width)
					w->width = strlen(name);
				src_open(w, src_add(w, name, s), "", NULL);
			} else if (!l->open) {
				char since[64];
				snprintf(since, sizeof since, "%.6f", l->closed_at);
				src_open(w, l, since, NULL);
			}
		}
		json_decref(e);
		size_t used = (size_t)(nl - w->evbuf.buf) + 1;
		memmove(w->evbuf.buf, nl + 1, w->evbuf.len - used);
		w->evbuf.len -= used;
	}
}

int compose_watch(const watch_opts *o)
{
	watch w = {.o = o, .first_code = 0, .from_code = -1};
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	/* Ctrl-C is taken only inside ppoll: one that comes between the check and the wait
	 * is not slept through */
	sigset_t block, run_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_SETMASK, NULL, &run_mask);
	if (o->attached) {
		sigprocmask(SIG_BLOCK, &block, &run_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	}
	sigset_t wait_mask = run_mask;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	berth_error err = BERTH_ERROR_INIT;
	if (o->follow && client_open("GET", "/events", NULL, false, &w.ev, &err) == 0) {
		w.ev_open = true;
		sb_addn(&w.evbuf, w.ev.pending.buf ? w.ev.pending.buf : "", w.ev.pending.len);
	}
	berth_error_clear(&err);
	size_t n;
	char **names = compose_containers(o->project, o->svc, o->nsvc, NULL, &n);
	for (size_t i = 0; i < n; i++)
		w.width = strlen(names[i]) > w.width ? strlen(names[i]) : w.width;
	if (o->attached && n) {
		printf("Attaching to ");
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? ", " : "", names[i]);
		printf("\n");
		fflush(stdout);
	}
	for (size_t i = 0; i < n; i++) {
		/* "name\0service" */
		src_open(&w, src_add(&w, names[i], names[i] + strlen(names[i]) + 1), o->since,
			 o->tail);
	}
	compose_names_free(names);
	int seen = 0;
	for (;;) {
		for (size_t i = 0; i < w.n; i++)
			drain(&w, &w.src[i]);
		if (interrupts != seen) {
			seen = interrupts;
			if (seen == 1 && w.stopper <= 0) {
				printf("Gracefully stopping... (press Ctrl+C again to force)\n");
				stop_project(&w, false);
			} else {
				stop_project(&w, true);
			}
		}
		bool alive = false;
		for (size_t i = 0; i < w.n; i++)
			alive |= w.src[i].open || w.src[i].waiting;
		if (!alive)
			break;
		struct pollfd *pf = xcalloc(w.n + 1, sizeof *pf);
		pf[w.n].fd = w.ev_open ? w.ev.fd : -1;
		pf[w.n].events = POLLIN;
		for (size_t i = 0; i < w.n; i++) {
			pf[i].fd = w.src[i].open ? w.src[i].s.fd : -1;
			pf[i].events = POLLIN;
		}
		size_t count = w.n;
		int r = ppoll(pf, count + 1, NULL, o->attached ? &wait_mask : &run_mask);
		if (r < 0 && errno != EINTR) {
			free(pf);
			break;
		}
		for (size_t i = 0; r > 0 && i < count; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char b[16384];
			ssize_t k = read(w.src[i].s.fd, b, sizeof b);
			if (k > 0) {
				sb_addn(&w.src[i].in, b, (size_t)k);
			} else if (k == 0 || errno != EINTR) {
				drain(&w, &w.src[i]);
				client_close(&w.src[i].s);
				src_ended(&w, &w.src[i]);
			}
		}
		if (r > 0 && pf[count].fd >= 0 &&
		    (pf[count].revents & (POLLIN | POLLHUP | POLLERR))) {
			char b[8192];
			ssize_t k = read(w.ev.fd, b, sizeof b);
			if (k > 0) {
				sb_addn(&w.evbuf, b, (size_t)k);
				on_events(&w);
			} else if (k == 0 || errno != EINTR) {
				client_close(&w.ev);
				w.ev_open = false;
			}
		}
		free(pf);
	}
	for (size_t i = 0; i < w.n; i++) {
		for (int k = 0; k < 2; k++) /* a last line without its newline */
			if (w.src[i].line[k].len)
				log_line(&w.src[i], k ? 2 : 1, "\n", 1, o->prefix);
		if (w.src[i].open)
			client_close(&w.src[i].s);
		free(w.src[i].name);
		free(w.src[i].service);
		free(w.src[i].prefix);
		sb_release(&w.src[i].in);
		sb_release(&w.src[i].line[0]);
		sb_release(&w.src[i].line[1]);
	}
	free(w.src);
	if (w.ev_open)
		client_close(&w.ev);
	sb_release(&w.evbuf);
	int rc = 0;
	if (w.stopper > 0) {
		int status;
		while (waitpid(w.stopper, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (o->attached) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigprocmask(SIG_SETMASK, &run_mask, NULL);
		if (o->exit_from)
			rc = w.from_code < 0 ? 1 : w.from_code;
		else if (w.aborting)
			rc = w.first_code;
		else if (interrupts)
			rc = 130;
	}
	return rc;
}

/* berth compose logs [-f] [--tail N] [-t] [--since T] [--no-color] [--no-log-prefix] [SVC...] */
int cmd_compose_logs(int argc, char **argv, const compose_opts *po)
{
	watch_opts o = {.color = isatty(1), .prefix = true};
	const char **svc = xcalloc((size_t)argc + 1, sizeof *svc);
	size_t ns = 0;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			o.follow = true;
		else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timestamps"))
			o.timestamps = true;
		else if (!strcmp(argv[i], "--no-color"))
			o.color = false;
		else if (!strcmp(argv[i], "--no-log-prefix"))
			o.prefix = false;
		else if ((v = opt_value(argc, argv, &i, "--tail", "-n")))
			o.tail = v;
		else if ((v = opt_value(argc, argv, &i, "--since", NULL)))
			o.since = v;
		else if (argv[i][0] != '-')
			svc[ns++] = argv[i];
		else {
			fprintf(stderr, "berth compose logs: %s is not supported yet\n", argv[i]);
			free(svc);
			return 1;
		}
	}
	composer_project *p = compose_load(po, NULL, 0);
	if (!p) {
		free(svc);
		return 1;
	}
	o.project = p->name;
	o.svc = svc;
	o.nsvc = ns;
	int r = compose_watch(&o);
	free(svc);
	composer_project_free(p);
	return r;
}
