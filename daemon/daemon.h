/* daemon: berthd's event loop, its HTTP API, and the containers it supervises. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include "../common/common.h"
#include "http.h"

#include <ev.h>
#include <jansson.h>
#include <sys/types.h>

#define BERTH_API_VERSION "1"
#define BERTH_DAEMON_VERSION "0.2.0"

typedef struct container container;

/* Everything berthd knows: where things live, and its containers. */
typedef struct {
	struct ev_loop *loop;
	char *root, *run;		 /* BERTH_ROOT, BERTH_RUN */
	char *containers_dir;		 /* root/containers */
	char *volumes_dir;		 /* root/volumes */
	char *run_containers;		 /* run/containers: monitors' sockets and exit files */
	char *runtime_root;		 /* run/runtime: the OCI runtime's state */
	char *monitor_bin, *runtime_bin; /* beside berthd */
	container *containers;
	http_list events;
	double started;
} daemon_ctx;

extern daemon_ctx D;

/* Routes a request (api.c). */
void api_handle(http_conn *c, http_request *req);

/* ---- containers (container.c) ---- */

/* Loads every container from disk, repairs what a crash left, reattaches to monitors. */
int containers_load(berth_error *err);
/* Starts the containers whose restart policy says so at daemon start. */
void containers_autostart(void);
/* A container by full id, unique id prefix or name; NULL and err (404-worthy) if none. */
container *container_find(const char *ref, berth_error *err);
const char *container_id(container *c);
/* How many containers there are, and in which state. */
int containers_count(int *running, int *paused, int *stopped);
/* Volumes a container made without a name (rm -v removes them); whether a volume is used. */
json_t *container_anonymous_volumes(container *c);
bool volume_in_use(const char *name);
/* Removes a volume (rm -v); 0 when it is gone. */
int volume_remove(const char *name, bool force, berth_error *err);

/* Handlers: each answers c (now or later). */
void container_create_h(http_conn *c, http_request *req);
void container_list_h(http_conn *c, http_request *req);
void container_op_h(http_conn *c, http_request *req, container *ct, const char *op);
void container_delete_h(http_conn *c, http_request *req, container *ct);
void exec_start_h(http_conn *c, http_request *req, const char *exec_id);
void exec_inspect_h(http_conn *c, const char *exec_id);

/* The id of a container that uses the image (only running ones count with force); NULL if
 * none. */
const char *containers_using_image(const char *image_id, bool force);

/* Creates a container from Docker's create body (as POST /containers/create); NULL with
 * *status (the HTTP status to answer) and err. */
container *container_create(json_t *body, const char *name, int *status, berth_error *err);
/* Starts it as the start API does: 1 if it runs already, 0 if it is starting (a "start" or
 * "start-failed" event follows), -1 with err. */
int container_start(container *c, berth_error *err);
/*
 * A held start: the container is made up to the exec of its process (monitor, namespaces,
 * mounts, cgroups, network), which then waits for container_start().  A project makes its
 * services that still wait for their dependencies this way, so each one's start is only the
 * exec once they hold.  It is "created" meanwhile and no event is sent.  Returns as
 * container_start() does.  container_unhold() gives a held start up: the init goes and the
 * container is a created one again.
 */
int container_prepare(container *c, berth_error *err);
void container_unhold(container *c);
/* Whether a start of it is under way and not held ready (parked) */
bool container_making(container *c);
/* Whether it runs or a start of it is under way. */
bool container_alive(container *c);
/* Stops it (its stop signal, SIGKILL after timeout; -1: its own) and removes it ("destroy"
 * follows); at once if it does not run. volumes: its anonymous volumes too. */
void container_stop_remove(container *c, int timeout, bool volumes);
/* Stops it as the stop API does: 0 if it is being stopped (a "die" event follows), 1 if it
 * was not running. */
int container_stop(container *c, int timeout);
/* Restarts a running container (its stop signal and timeout, then a start: "start"
 * follows); 1 if it was not running. */
int container_restart(container *c);

/* The next container in berthd's list; its record (Docker's inspect form); writes it. */
container *container_next(container *c);
json_t *container_rec(container *c);
int container_save(container *c, berth_error *err);

/* ---- networks (network.c) ---- */

/* Loads the networks (making bridge, host and none at first start), their bridges and DNS. */
int networks_load(berth_error *err);
/* After containers_load: leftover veths and bridges go, ports are held again, the nftables
 * table is written. */
void networks_reconcile(void);
void network_h(http_conn *c, http_request *req, const char *rest);
/* NetworkSettings of a new container from its create body (networks must exist). */
json_t *net_settings_for_create(json_t *body, berth_error *err);
/* The host ports a create body publishes are free (or err names who holds them). */
int net_check_ports(json_t *body, berth_error *err);
/* Before the spec is written: addresses, host ports, /etc/hosts, /etc/hostname,
 * /etc/resolv.conf (written in dir and bound into spec), the network namespace. */
int net_prepare(json_t *rec, const char *dir, json_t *spec, berth_error *err);
/* The init (pid) exists and waits: its interfaces, addresses, routes; the port rules. */
int net_attach(json_t *rec, int pid, berth_error *err);
/* It ended: veths, addresses and ports go back. */
void net_release(json_t *rec);
/* Networks for the API's create body; the new network's id, or NULL with the HTTP status. */
const char *net_create(json_t *body, int *status, berth_error *err);
bool net_exists(const char *name);
/* Removes a network by name (0 if there is none); refused while a container is on it. */
int net_remove(const char *name, berth_error *err);
/* The names of the networks with that label value (NULL-terminated; free each and it). */
char **net_names_labelled(const char *key, const char *value);
/*
 * down: when every container on the network is among going (ids) and none runs or starts,
 * its bridge is deleted now by a child while berthd tears the containers down (the kernel
 * takes ≈30 ms, an RCU grace period); net_remove() waits for that child.
 */
void net_unlink_early(const char *name, json_t *going);

/* ---- images (image.c) ---- */
void image_h(http_conn *c, http_request *req, const char *rest);

/* ---- volumes (volume.c) ---- */
void volume_h(http_conn *c, http_request *req, const char *rest);
/* The directory a named volume's data is in, creating it (and its record) if missing;
 * *created says whether it was made now. */
char *volume_ensure(const char *name, bool *created, berth_error *err);
/* Creates a named volume with labels (0 if it exists already). */
int volume_create(const char *name, json_t *labels, json_t **out, berth_error *err);
bool volume_valid_name(const char *name);

/* ---- Compose projects (project.c) ---- */
void project_h(http_conn *c, http_request *req, const char *rest);
/* Every event (and "start-failed", which is not broadcast) reaches the projects being
 * brought up; steals attrs. */
void projects_on_event(const char *type, const char *action, const char *id, json_t *attrs);

/* ---- events ---- */
void daemon_event(const char *type, const char *action, const char *id, json_t *attrs);

/* Docker's time format: 2006-01-02T15:04:05.999999999Z */
char *rfc3339(long long nanos);
long long now_nanos(void);
/* "10s", "1m30s", "500ms", RFC 3339 or a unix time: nanoseconds; -1 if invalid. */
long long parse_time_arg(const char *s);

#endif
