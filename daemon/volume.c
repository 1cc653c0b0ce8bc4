/*
 * Named volumes: root/volumes/<name>/_data, with a record (volume.json)
 * beside it, as Docker's local driver keeps them.  A volume is filled
 * from the image's content at its mount point the first time it is used
 * (container.c); it is removed only by `volume rm`, `volume prune` or
 * `rm -v` of the container that made it without a name.
 */
#include "daemon.h"
#include "../common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

bool volume_valid_name(const char *n)
{
	if (!n || !*n || strlen(n) > 255)
		return false;
	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
	      (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (const char *p = n; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    *p))
			return false;
	return true;
}

static json_t *volume_record(const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/volume.json", D.volumes_dir, name);
	json_t *v = json_load_file(p, 0, NULL);
	if (!v)
		return NULL;
	json_object_set_new(v, "Mountpoint", json_sprintf("%s/%s/_data", D.volumes_dir, name));
	return v;
}

int volume_create(const char *name, json_t *labels, json_t **out, berth_error *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", D.volumes_dir, name);
	_cleanup_free_ char *data = xasprintf("%s/_data", dir);
	_cleanup_free_ char *rec = xasprintf("%s/volume.json", dir);
	if (path_exists(rec)) {
		if (out)
			*out = volume_record(name);
		return 0;
	}
	if (mkdir_p(data, 0755, err) < 0)
		return -1;
	_cleanup_free_ char *now = rfc3339(now_nanos());
	json_t *v =
	    json_pack("{s:s,s:s,s:s,s:O,s:s,s:{}}", "Name", name, "Driver", "local", "CreatedAt",
		      now, "Labels", labels ? labels : json_object(), "Scope", "local", "Options");
	if (!labels)
		json_decref(json_object_get(v, "Labels"));
	_cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (write_file_atomic(rec, text, strlen(text), 0600, err) < 0)
		return -1;
	daemon_event("volume", "create", name, json_pack("{s:s}", "driver", "local"));
	if (out)
		*out = volume_record(name);
	return 1;
}

char *volume_ensure(const char *name, bool *created, berth_error *err)
{
	int r = volume_create(name, NULL, NULL, err);
	if (r < 0)
		return NULL;
	*created = r == 1;
	return xasprintf("%s/%s/_data", D.volumes_dir, name);
}

int volume_remove(const char *name, bool force, berth_error *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", D.volumes_dir, name);
	_cleanup_free_ char *rec = xasprintf("%s/volume.json", dir);
	if (!path_exists(rec)) {
		if (force)
			return 0;
		return berth_error_msg(err, ENOENT, "get %s: no such volume", name);
	}
	if (volume_in_use(name))
		return berth_error_msg(err, EBUSY, "remove %s: volume is in use", name);
	/* the record first: a crash half-way leaves no volume that looks whole */
	unlink(rec);
	if (rm_rf(dir, err) < 0)
		return -1;
	daemon_event("volume", "destroy", name, json_object());
	return 0;
}

void volume_h(http_conn *conn, http_request *req, const char *rest)
{
	berth_error err = BERTH_ERROR_INIT;
	bool get = !strcmp(req->method, "GET");
	mkdir_p(D.volumes_dir, 0700, NULL);
	if (!*rest && get) {
		json_t *list = json_array();
		DIR *d = opendir(D.volumes_dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			json_t *v = de->d_name[0] == '.' ? NULL : volume_record(de->d_name);
			if (v)
				json_array_append_new(list, v);
		}
		if (d)
			closedir(d);
		http_respond(conn, 200, json_pack("{s:o,s:[]}", "Volumes", list, "Warnings"));
	} else if (!strcmp(rest, "/create") && !get) {
		json_t *body =
		    json_loadb(req->body.buf ? req->body.buf : "", req->body.len, 0, NULL);
		const char *name = json_string_value(json_object_get(body, "Name"));
		json_t *labels = json_object_get(body, "Labels");
		_cleanup_free_ char *gen = NULL;
		if (!name || !*name) {
			unsigned char r[32];
			FILE *f = fopen("/dev/urandom", "re");
			if (!f || fread(r, 1, sizeof r, f) != sizeof r)
				memset(r, 7, sizeof r);
			if (f)
				fclose(f);
			_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
			for (int i = 0; i < 32; i++)
				sb_addf(&sb, "%02x", r[i]);
			name = gen = sb_steal(&sb);
		}
		json_t *out = NULL;
		if (!json_is_object(body))
			http_respond_error(conn, 400, "invalid JSON body");
		else if (labels && !json_is_object(labels))
			http_respond_error(conn, 400, "Labels: expected an object");
		else if (!volume_valid_name(name))
			http_respond_error(
			    conn, 400,
			    "create %s: \"%s\" includes invalid characters for a local "
			    "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
			    name, name);
		else if (volume_create(name, labels, &out, &err) < 0)
			http_respond_error(conn, 500, "%s", err.msg);
		else
			http_respond(conn, 201, out);
		json_decref(body);
	} else if (!strcmp(rest, "/prune") && !get) {
		json_t *gone = json_array();
		DIR *d = opendir(D.volumes_dir);
		struct dirent *de;
		bool all = http_query_bool(req->query, "all");
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || volume_in_use(de->d_name))
				continue;
			/* Docker prunes only anonymous volumes unless all is set */
			if (!all && strlen(de->d_name) != 64)
				continue;
			if (volume_remove(de->d_name, false, NULL) == 0)
				json_array_append_new(gone, json_string(de->d_name));
		}
		if (d)
			closedir(d);
		http_respond(conn, 200,
			     json_pack("{s:o,s:i}", "VolumesDeleted", gone, "SpaceReclaimed", 0));
	} else if (rest[0] == '/' && get) {
		json_t *v = volume_record(rest + 1);
		if (!v)
			http_respond_error(conn, 404, "get %s: no such volume", rest + 1);
		else
			http_respond(conn, 200, v);
	} else if (rest[0] == '/' && !strcmp(req->method, "DELETE")) {
		if (volume_remove(rest + 1, http_query_bool(req->query, "force"), &err) < 0)
			http_respond_error(conn, err.code == ENOENT ? 404 : 409, "%s", err.msg);
		else
			http_respond(conn, 204, NULL);
	} else {
		http_respond_error(conn, 404, "page not found");
	}
	berth_error_clear(&err);
}
