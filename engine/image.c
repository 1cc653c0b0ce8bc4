/*
 * The image store: content-addressed config blobs, layers unpacked once per
 * chain id, and an index of images and their tags written atomically.  A
 * load unpacks into a temporary directory and makes the image visible with
 * the index's rename at the very end, so a crash leaves nothing half done;
 * engine_store_open() removes what a crashed load left.
 */
#include "store.h"
#include "../common/fsutil.h"
#include "../common/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>

char *store_path(engine_store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *rel = xvasprintf(fmt, ap);
	va_end(ap);
	return xasprintf("%s/%s", s->root, rel);
}

json_t *json_read_file(const char *path, berth_error *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		berth_error_msg(err, EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	return j;
}

static void remove_debris(engine_store *s)
{
	_cleanup_free_ char *tmp = store_path(s, "tmp");
	rm_rf(tmp, NULL);
	mkdir(tmp, 0700);
	_cleanup_free_ char *layers = store_path(s, "layers");
	DIR *d = opendir(layers);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)))
		if (str_has_prefix(de->d_name, "tmp-")) {
			_cleanup_free_ char *p = xasprintf("%s/%s", layers, de->d_name);
			rm_rf(p, NULL);
		}
	closedir(d);
}

/* A store handle over root with its index read; lock_fd as given (-1: none). */
static engine_store *store_new(const char *root, int lock_fd, berth_error *err)
{
	engine_store *s = xzalloc(sizeof *s);
	s->root = xstrdup(root);
	s->lock_fd = lock_fd;
	/* images.json is replaced by rename: a read without the lock sees one whole version */
	_cleanup_free_ char *idx = store_path(s, "images.json");
	if (path_exists(idx)) {
		s->index = json_read_file(idx, err);
		if (!s->index) {
			engine_store_close(s);
			return NULL;
		}
	} else {
		s->index = json_pack("{s:{}}", "images");
	}
	return s;
}

engine_store *engine_store_open_read(const char *root, berth_error *err)
{
	return store_new(root ? root : berth_root(), -1, err);
}

engine_store *engine_store_open(const char *root, berth_error *err)
{
	if (!root)
		root = berth_root();
	static const char *const dirs[] = {"", "/blobs/sha256", "/layers", "/tmp", "/mounts"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = xasprintf("%s%s", root, dirs[i]);
		if (mkdir_p(d, 0700, err) < 0)
			return NULL;
	}
	_cleanup_free_ char *lock = xasprintf("%s/lock", root);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		berth_error_set(err, errno, "lock %s", lock);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	engine_store *s = store_new(root, fd, err);
	if (!s)
		return NULL;
	remove_debris(s);
	return s;
}

void engine_store_close(engine_store *s)
{
	if (!s)
		return;
	json_decref(s->index);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->root);
	free(s);
}

static int save_index(engine_store *s, berth_error *err)
{
	_cleanup_free_ char *idx = store_path(s, "images.json");
	_cleanup_free_ char *text = json_dumps(s->index, JSON_INDENT(1) | JSON_SORT_KEYS);
	return write_file_atomic(idx, text, strlen(text), 0600, err);
}

static json_t *images(engine_store *s)
{
	return json_object_get(s->index, "images");
}

json_t *store_image_layers(json_t *image)
{
	return json_object_get(image, "Layers");
}

/* ---- references ---- */

char *engine_ref_normalise(const char *ref, berth_error *err)
{
	if (!*ref || strchr(ref, '@') || strchr(ref, ' ') || ref[strlen(ref) - 1] == ':' ||
	    ref[0] == '/' || ref[0] == ':') {
		berth_error_msg(err, EINVAL, "invalid reference format: %s", ref);
		return NULL;
	}
	const char *r = ref;
	if (str_has_prefix(r, "docker.io/library/"))
		r += strlen("docker.io/library/");
	else if (str_has_prefix(r, "docker.io/"))
		r += strlen("docker.io/");
	/* the tag is what follows the last ':' after the last '/' */
	const char *slash = strrchr(r, '/'), *colon = strrchr(r, ':');
	if (colon && slash && colon < slash)
		colon = NULL;
	size_t repo_len = colon ? (size_t)(colon - r) : strlen(r);
	for (size_t i = 0; i < repo_len; i++)
		if (r[i] >= 'A' && r[i] <= 'Z') {
			berth_error_msg(err, EINVAL,
					"invalid reference format: repository name (%s) must be "
					"lowercase",
					ref);
			return NULL;
		}
	return colon ? xstrdup(r) : xasprintf("%s:latest", r);
}

/* "sha256:abc" or "abc", at least one hex digit, all hex. */
static const char *id_hex(const char *ref)
{
	const char *h = str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
	if (!*h || strlen(h) > 64)
		return NULL;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return NULL;
	return h;
}

static const char *find_id(engine_store *s, const char *ref, berth_error *err)
{
	_cleanup_free_ char *name = engine_ref_normalise(ref, NULL);
	const char *id;
	json_t *img;
	if (name)
		json_object_foreach(images(s), id, img)
		{
			size_t i;
			json_t *t;
			json_array_foreach(json_object_get(img, "RepoTags"), i,
					   t) if (!strcmp(json_string_value(t), name)) return id;
		}
	const char *hex = id_hex(ref);
	const char *found = NULL;
	if (hex)
		json_object_foreach(images(s), id, img)
		{
			if (!str_has_prefix(id + 7, hex))
				continue;
			if (found) {
				berth_error_msg(err, EINVAL,
						"%s: the id prefix matches more than one image",
						ref);
				return NULL;
			}
			found = id;
		}
	if (!found)
		berth_error_msg(err, ENOENT, "No such image: %s", ref);
	return found;
}

json_t *engine_image_get(engine_store *s, const char *ref, berth_error *err)
{
	const char *id = find_id(s, ref, err);
	if (!id)
		return NULL;
	json_t *img = json_deep_copy(json_object_get(images(s), id));
	json_object_set_new(img, "Id", json_string(id));
	return img;
}

/* Gives name to the image id, taking it from whichever image held it. */
static void set_tag(engine_store *s, const char *id, const char *name)
{
	const char *k;
	json_t *img;
	json_object_foreach(images(s), k, img)
	{
		json_t *tags = json_object_get(img, "RepoTags");
		for (size_t i = 0; i < json_array_size(tags); i++)
			if (!strcmp(json_string_value(json_array_get(tags, i)), name)) {
				if (!strcmp(k, id))
					return;
				json_array_remove(tags, i--);
			}
	}
	json_array_append_new(json_object_get(json_object_get(images(s), id), "RepoTags"),
			      json_string(name));
}

/* ---- loading ---- */

/* Opens path (relative to dir) without following links out of dir. */
static int open_in(const char *dir, const char *path, berth_error *err)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	int fd = dfd < 0 ? -1 : (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
	if (fd < 0)
		berth_error_set(err, errno, "%s", path);
	return fd;
}

/* Reads a file of the archive whole, NUL-terminated. */
static int read_in(const char *dir, const char *path, strbuf *sb, berth_error *err)
{
	_cleanup_close_ int fd = open_in(dir, path, err);
	if (fd < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sb_addn(sb, buf, (size_t)n);
	if (n < 0)
		return berth_error_set(err, errno, "read %s", path);
	if (!sb->buf)
		sb_adds(sb, "");
	return 0;
}

static json_t *json_parse_in(const char *path, const strbuf *sb, berth_error *err)
{
	json_error_t je;
	json_t *j = json_loadb(sb->buf, sb->len, 0, &je);
	if (!j)
		berth_error_msg(err, EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	return j;
}

/* Reads and parses a JSON file of the archive; hex gets its sha256 when given. */
static json_t *json_read_in(const char *dir, const char *path, char *hex, berth_error *err)
{
	_cleanup_strbuf_ strbuf sb = STRBUF_INIT;
	if (read_in(dir, path, &sb, err) < 0)
		return NULL;
	if (hex)
		sha256_hex(sb.buf, sb.len, hex);
	return json_parse_in(path, &sb, err);
}

/* Extracts the archive's plain files, directories and inner links into dir. */
static int extract_outer(const char *file, const char *dir, berth_error *err)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	int rc = !strcmp(file, "-") ? archive_read_open_fd(a, 0, 65536)
				    : archive_read_open_filename(a, file, 65536);
	if (rc != ARCHIVE_OK) {
		berth_error_msg(err, EINVAL, "%s: %s", file, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	struct archive_entry *e;
	int ret = 0, n = 0;
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		_cleanup_free_ char *p = NULL;
		n++;
		if (engine_layer_clean_path(archive_entry_pathname(e), &p, err) < 0) {
			ret = -1;
			break;
		}
		if (!*p)
			continue;
		_cleanup_free_ char *full = xasprintf("%s/%s", dir, p);
		_cleanup_free_ char *parent = xstrdup(full);
		*strrchr(parent, '/') = '\0';
		if (mkdir_p(parent, 0700, err) < 0) {
			ret = -1;
			break;
		}
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFDIR) {
			if (mkdir(full, 0700) < 0 && errno != EEXIST) {
				ret = berth_error_set(err, errno, "%s", p);
				break;
			}
		} else if (type == AE_IFLNK) {
			const char *t = archive_entry_symlink(e);
			if (engine_layer_link_escapes(p, t)) {
				ret = berth_error_msg(err, EINVAL,
						      "refusing symlink %s -> %s: it leads out of "
						      "the archive",
						      p, t);
				break;
			}
			if (symlink(t, full) < 0) {
				ret = berth_error_set(err, errno, "%s", p);
				break;
			}
		} else if (type == AE_IFREG) {
			struct open_how how = {.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					       .mode = 0600,
					       .resolve = RESOLVE_IN_ROOT};
			_cleanup_close_ int fd =
			    (int)syscall(SYS_openat2, dfd, p, &how, sizeof how);
			if (fd < 0) {
				ret = berth_error_set(err, errno, "%s", p);
				break;
			}
			if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
				ret = berth_error_msg(err, EIO,
						      "truncated or corrupt archive at %s: %s", p,
						      archive_error_string(a));
				break;
			}
		}
	}
	if (!ret && rc != ARCHIVE_EOF)
		ret = berth_error_msg(err, EIO, "truncated or corrupt archive: %s",
				      archive_error_string(a));
	if (!ret && n == 0)
		ret = berth_error_msg(err, EINVAL, "empty archive");
	if (ret)
		berth_error_prefix(err, "%s", !strcmp(file, "-") ? "stdin" : file);
	archive_read_free(a);
	return ret;
}

typedef struct {
	char *config; /* path in the archive */
	char *config_digest;
	json_t *layers;	 /* [path...] */
	json_t *digests; /* [digest or null...] */
	json_t *tags;
} found_image;

static void found_free(found_image *f)
{
	free(f->config);
	free(f->config_digest);
	json_decref(f->layers);
	json_decref(f->digests);
	json_decref(f->tags);
}

static char *blob_path(const char *digest, berth_error *err)
{
	if (!digest || !str_has_prefix(digest, "sha256:") || !id_hex(digest) ||
	    strlen(digest) != 71) {
		berth_error_msg(err, EINVAL, "unsupported digest %s", digest ? digest : "(none)");
		return NULL;
	}
	return xasprintf("blobs/sha256/%s", digest + 7);
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		      !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static const char *host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "";
#endif
}

/* Reads a blob and checks it hashes to its name. */
static json_t *read_blob_json(const char *dir, const char *digest, berth_error *err)
{
	_cleanup_free_ char *p = blob_path(digest, err);
	if (!p)
		return NULL;
	char hex[65];
	json_t *j = json_read_in(dir, p, hex, err);
	if (j && strcmp(hex, digest + 7)) {
		berth_error_msg(err, EINVAL,
				"blob %s: digest mismatch (its content hashes to sha256:%s)",
				digest, hex);
		json_decref(j);
		return NULL;
	}
	return j;
}

static int oci_manifest(const char *dir, json_t *desc, json_t *names, found_image *out,
			berth_error *err);

static int oci_descriptor(const char *dir, json_t *desc, json_t *names, json_t *found,
			  berth_error *err)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	if (is_index_type(mt)) {
		json_t *idx = read_blob_json(dir, digest, err);
		if (!idx)
			return -1;
		json_t *ms = json_object_get(idx, "manifests"), *m, *pick = NULL;
		size_t i;
		json_array_foreach(ms, i, m)
		{
			json_t *pl = json_object_get(m, "platform");
			const char *arch = json_string_value(json_object_get(pl, "architecture"));
			if (!pl || (arch && !strcmp(arch, host_arch()))) {
				pick = m;
				break;
			}
		}
		if (!pick)
			pick = json_array_get(ms, 0);
		int rc = pick ? oci_descriptor(dir, pick, names, found, err)
			      : berth_error_msg(err, EINVAL, "index %s lists no manifest", digest);
		json_decref(idx);
		return rc;
	}
	found_image f = {0};
	if (oci_manifest(dir, desc, names, &f, err) < 0) {
		found_free(&f);
		return -1;
	}
	json_array_append_new(found, json_pack("{s:s,s:s,s:o,s:o,s:o}", "config", f.config,
					       "config_digest", f.config_digest, "layers", f.layers,
					       "digests", f.digests, "tags", f.tags));
	free(f.config);
	free(f.config_digest);
	return 0;
}

static int oci_manifest(const char *dir, json_t *desc, json_t *names, found_image *out,
			berth_error *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *m = read_blob_json(dir, digest, err);
	if (!m)
		return -1;
	const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	out->config = blob_path(cd, err);
	if (!out->config) {
		json_decref(m);
		return berth_error_prefix(err, "manifest %s: config", digest);
	}
	out->config_digest = xstrdup(cd);
	out->layers = json_array();
	out->digests = json_array();
	out->tags = json_incref(names);
	json_t *l;
	size_t i;
	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		const char *ld = json_string_value(json_object_get(l, "digest"));
		char *p = blob_path(ld, err);
		if (!p) {
			json_decref(m);
			return berth_error_prefix(err, "manifest %s: layer %zu", digest, i);
		}
		json_array_append_new(out->layers, json_string(p));
		json_array_append_new(out->digests, json_string(ld));
		free(p);
	}
	json_decref(m);
	return 0;
}

/* The names of a top-level index entry: io.containerd.image.name, or a full ref.name. */
static json_t *oci_names(json_t *desc)
{
	json_t *names = json_array();
	json_t *ann = json_object_get(desc, "annotations");
	const char *n = json_string_value(json_object_get(ann, "io.containerd.image.name"));
	const char *r =
	    json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
	if (!n && r && (strchr(r, ':') || strchr(r, '/')))
		n = r;
	_cleanup_free_ char *norm = n ? engine_ref_normalise(n, NULL) : NULL;
	if (norm)
		json_array_append_new(names, json_string(norm));
	return names;
}

static int find_images(const char *dir, json_t *found, berth_error *err)
{
	_cleanup_free_ char *index = xasprintf("%s/index.json", dir);
	_cleanup_free_ char *manifest = xasprintf("%s/manifest.json", dir);
	json_t *legacy =
	    path_exists(manifest) ? json_read_in(dir, "manifest.json", NULL, err) : NULL;
	if (path_exists(manifest) && !legacy)
		return -1;
	int rc = 0;
	if (path_exists(index)) {
		json_t *idx = json_read_in(dir, "index.json", NULL, err);
		if (!idx) {
			json_decref(legacy);
			return -1;
		}
		json_t *d;
		size_t i;
		json_array_foreach(json_object_get(idx, "manifests"), i, d)
		{
			json_t *names = oci_names(d);
			size_t before = json_array_size(found);
			rc = oci_descriptor(dir, d, names, found, err);
			json_decref(names);
			if (rc < 0)
				break;
			/* docker save's manifest.json names what index.json left unnamed */
			json_t *f = json_array_get(found, before);
			if (f && !json_array_size(json_object_get(f, "tags"))) {
				json_t *le;
				size_t k;
				json_array_foreach(legacy, k, le)
				{
					if (strcmp(json_string_value(json_object_get(le, "Config")),
						   json_string_value(json_object_get(f, "config"))))
						continue;
					json_t *t;
					size_t q;
					json_array_foreach(json_object_get(le, "RepoTags"), q, t)
					{
						char *nm = engine_ref_normalise(
						    json_string_value(t), NULL);
						if (nm)
							json_array_append_new(
							    json_object_get(f, "tags"),
							    json_string(nm));
						free(nm);
					}
				}
			}
		}
		json_decref(idx);
	} else if (legacy) {
		json_t *le;
		size_t k;
		json_array_foreach(legacy, k, le)
		{
			const char *cfg = json_string_value(json_object_get(le, "Config"));
			json_t *layers = json_object_get(le, "Layers");
			if (!cfg || !json_is_array(layers)) {
				rc = berth_error_msg(
				    err, EINVAL, "manifest.json: entry %zu lacks Config or Layers",
				    k);
				break;
			}
			json_t *tags = json_array(), *t, *digests = json_array();
			size_t q;
			json_array_foreach(json_object_get(le, "RepoTags"), q, t)
			{
				char *nm = engine_ref_normalise(json_string_value(t), NULL);
				if (nm)
					json_array_append_new(tags, json_string(nm));
				free(nm);
			}
			for (q = 0; q < json_array_size(layers); q++)
				json_array_append_new(digests, json_null());
			json_array_append_new(found,
					      json_pack("{s:s,s:n,s:O,s:o,s:o}", "config", cfg,
							"config_digest", "layers", layers,
							"digests", digests, "tags", tags));
		}
	} else {
		rc = berth_error_msg(err, EINVAL,
				     "not an image archive: it has neither index.json nor "
				     "manifest.json");
	}
	json_decref(legacy);
	return rc;
}

/* Records what was verified beside the unpacked tree, then renames it into place. */
static int commit_layer(const char *tmp, const char *final, const engine_layer_result *res,
			berth_error *err)
{
	_cleanup_free_ char *sz = xasprintf("%llu\n", (unsigned long long)res->size);
	_cleanup_free_ char *tsize = xasprintf("%s/size", tmp);
	_cleanup_free_ char *tdiff = xasprintf("%s/diff_id", tmp);
	if (write_file_atomic(tsize, sz, strlen(sz), 0600, err) < 0 ||
	    write_file_atomic(tdiff, res->diff_id, strlen(res->diff_id), 0600, err) < 0)
		return -1;
	if (rename(tmp, final) < 0)
		return berth_error_set(err, errno, "rename %s", tmp);
	return 0;
}

static int unpack_layer(engine_store *s, const char *dir, const char *path, const char *digest,
			const char *diff_id, const char *chain, uint64_t *size, berth_error *err)
{
	_cleanup_free_ char *final = store_path(s, "layers/%s", chain + 7);
	_cleanup_free_ char *sizef = xasprintf("%s/size", final);
	if (path_exists(final)) {
		/* unpacked already; the blob in hand must still be the one its digest names */
		if (digest) {
			_cleanup_close_ int fd = open_in(dir, path, err);
			if (fd < 0)
				return berth_error_prefix(err, "layer %s", digest);
			sha256_ctx c;
			sha256_init(&c);
			char buf[65536], hex[65];
			ssize_t n;
			while ((n = read(fd, buf, sizeof buf)) > 0)
				sha256_update(&c, buf, (size_t)n);
			sha256_final_hex(&c, hex);
			if (strcmp(hex, digest + 7))
				return berth_error_msg(err, EINVAL,
						       "layer %s: digest mismatch: the blob hashes "
						       "to sha256:%s",
						       digest, hex);
		}
		_cleanup_free_ char *t = read_file(sizef, NULL, NULL);
		*size = t ? strtoull(t, NULL, 10) : 0;
		return 0;
	}
	_cleanup_free_ char *tmp = store_path(s, "layers/tmp-%.12s-%d", chain + 7, (int)getpid());
	_cleanup_free_ char *diff = xasprintf("%s/diff", tmp);
	if (mkdir_p(diff, 0755, err) < 0)
		return -1;
	_cleanup_close_ int fd = open_in(dir, path, err);
	engine_layer_result res;
	int rc = fd < 0 ? -1 : engine_layer_unpack(fd, diff, &res, err);
	if (!rc && digest && strcmp(res.digest, digest))
		rc = berth_error_msg(err, EINVAL, "digest mismatch: the blob hashes to %s",
				     res.digest);
	if (!rc && strcmp(res.diff_id, diff_id))
		rc = berth_error_msg(err, EINVAL,
				     "diff id mismatch: the image config says %s, the layer hashes "
				     "to %s",
				     diff_id, res.diff_id);
	if (!rc)
		rc = commit_layer(tmp, final, &res, err);
	if (rc) {
		rm_rf(tmp, NULL);
		return berth_error_prefix(err, "layer %s", digest ? digest : path);
	}
	*size = res.size;
	return 0;
}

static const char *add_image(engine_store *s, const char *dir, json_t *f, berth_error *err)
{
	const char *cfgpath = json_string_value(json_object_get(f, "config"));
	const char *want = json_string_value(json_object_get(f, "config_digest"));
	/* the config is kept byte for byte: its digest is the image id */
	_cleanup_strbuf_ strbuf raw = STRBUF_INIT;
	if (read_in(dir, cfgpath, &raw, err) < 0)
		return NULL;
	char hex[65];
	sha256_hex(raw.buf, raw.len, hex);
	json_t *cfg = json_parse_in(cfgpath, &raw, err);
	if (!cfg)
		return NULL;
	_cleanup_free_ char *id = xasprintf("sha256:%s", hex);
	if (want && strcmp(want, id)) {
		berth_error_msg(err, EINVAL,
				"config %s: digest mismatch (its content hashes to %s)", want, id);
		json_decref(cfg);
		return NULL;
	}
	json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	json_t *layers = json_object_get(f, "layers");
	if (json_array_size(diff_ids) != json_array_size(layers)) {
		berth_error_msg(err, EINVAL,
				"image %.19s: the config lists %zu layers, the manifest %zu", id,
				json_array_size(diff_ids), json_array_size(layers));
		json_decref(cfg);
		return NULL;
	}
	char chain[72] = "";
	json_t *chains = json_array();
	uint64_t total = 0;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const char *diff_id = json_string_value(json_array_get(diff_ids, i));
		if (!diff_id || !id_hex(diff_id) || strlen(diff_id) != 71) {
			berth_error_msg(err, EINVAL, "image %.19s: bad diff id %zu", id, i);
			break;
		}
		engine_chain_id(chain, diff_id, chain);
		uint64_t sz = 0;
		if (unpack_layer(
			s, dir, json_string_value(json_array_get(layers, i)),
			json_string_value(json_array_get(json_object_get(f, "digests"), i)),
			diff_id, chain, &sz, err) < 0)
			break;
		total += sz;
		json_array_append_new(chains, json_string(chain + 7));
	}
	if (json_array_size(chains) != json_array_size(layers)) {
		json_decref(chains);
		json_decref(cfg);
		return NULL;
	}
	_cleanup_free_ char *blob = store_path(s, "blobs/sha256/%s", hex);
	if (write_file_atomic(blob, raw.buf, raw.len, 0600, err) < 0) {
		json_decref(chains);
		json_decref(cfg);
		return NULL;
	}
	json_t *old = json_object_get(images(s), id);
	json_t *tags = old ? json_incref(json_object_get(old, "RepoTags")) : json_array();
	json_t *img = json_pack("{s:o,s:o,s:O,s:I,s:s?,s:s?,s:s?}", "RepoTags", tags, "Layers",
				chains, "DiffIds", diff_ids, "Size", (json_int_t)total, "Created",
				json_string_value(json_object_get(cfg, "created")), "Architecture",
				json_string_value(json_object_get(cfg, "architecture")), "Os",
				json_string_value(json_object_get(cfg, "os")));
	json_object_set_new(images(s), id, img);
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(f, "tags"), i, t) set_tag(s, id, json_string_value(t));
	json_decref(cfg);
	return json_object_iter_key(json_object_iter_at(images(s), id));
}

int engine_image_load(engine_store *s, const char *file, json_t *loaded, berth_error *err)
{
	_cleanup_free_ char *tmpl = store_path(s, "tmp/load-XXXXXX");
	if (!mkdtemp(tmpl))
		return berth_error_set(err, errno, "mkdtemp %s", tmpl);
	json_t *found = json_array();
	int rc = extract_outer(file, tmpl, err);
	if (!rc)
		rc = find_images(tmpl, found, err);
	json_t *f;
	size_t i;
	if (!rc)
		json_array_foreach(found, i, f)
		{
			const char *id = add_image(s, tmpl, f, err);
			if (!id) {
				rc = -1;
				break;
			}
			json_t *tags = json_object_get(f, "tags"), *t;
			size_t k;
			if (!json_array_size(tags))
				json_array_append_new(loaded, json_string(id));
			json_array_foreach(tags, k, t) json_array_append(loaded, t);
		}
	if (!rc && !json_array_size(found))
		rc = berth_error_msg(err, EINVAL, "the archive holds no image");
	if (!rc)
		rc = save_index(s, err);
	json_decref(found);
	rm_rf(tmpl, NULL);
	if (rc) {
		/* the index on disk is unchanged: re-read it, and drop layers no image uses */
		json_decref(s->index);
		_cleanup_free_ char *idx = store_path(s, "images.json");
		s->index = path_exists(idx) ? json_read_file(idx, NULL) : NULL;
		if (!s->index)
			s->index = json_pack("{s:{}}", "images");
	}
	return rc;
}

static void now_rfc3339(char *buf, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char b[32];
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%09ldZ", b, ts.tv_nsec);
}

char *engine_image_import(engine_store *s, const char *file, const char *ref, berth_error *err)
{
	_cleanup_free_ char *name = ref ? engine_ref_normalise(ref, err) : NULL;
	if (ref && !name)
		return NULL;
	_cleanup_close_ int fd = !strcmp(file, "-") ? dup(0) : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		berth_error_set(err, errno, "%s", file);
		return NULL;
	}
	_cleanup_free_ char *tmp = store_path(s, "layers/tmp-import-%d", (int)getpid());
	_cleanup_free_ char *diff = xasprintf("%s/diff", tmp);
	if (mkdir_p(diff, 0755, err) < 0)
		return NULL;
	engine_layer_result res;
	if (engine_layer_unpack(fd, diff, &res, err) < 0) {
		rm_rf(tmp, NULL);
		berth_error_prefix(err, "%s", !strcmp(file, "-") ? "stdin" : file);
		return NULL;
	}
	/* one layer: its chain id is its diff id */
	_cleanup_free_ char *final = store_path(s, "layers/%s", res.diff_id + 7);
	int rc = path_exists(final) ? 0 : commit_layer(tmp, final, &res, err);
	rm_rf(tmp, NULL);
	if (rc)
		return NULL;
	char created[64];
	now_rfc3339(created, sizeof created);
	_cleanup_free_ char *comment = xasprintf("Imported from %s", file);
	json_t *cfg = json_pack(
	    "{s:s,s:s,s:s,s:{s:[s]},s:{s:s,s:[s]},s:[{s:s,s:s}]}", "architecture", host_arch(),
	    "os", "linux", "created", created, "config", "Env",
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "rootfs", "type",
	    "layers", "diff_ids", res.diff_id, "history", "created", created, "comment", comment);
	_cleanup_free_ char *text = json_dumps(cfg, JSON_COMPACT);
	char hex[65];
	sha256_hex(text, strlen(text), hex);
	_cleanup_free_ char *id = xasprintf("sha256:%s", hex);
	_cleanup_free_ char *blob = store_path(s, "blobs/sha256/%s", hex);
	if (write_file_atomic(blob, text, strlen(text), 0600, err) < 0) {
		json_decref(cfg);
		return NULL;
	}
	json_object_set_new(images(s), id,
			    json_pack("{s:[],s:[s],s:O,s:I,s:s,s:s,s:s}", "RepoTags", "Layers",
				      res.diff_id + 7, "DiffIds",
				      json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"),
				      "Size", (json_int_t)res.size, "Created", created,
				      "Architecture", host_arch(), "Os", "linux"));
	json_decref(cfg);
	if (name)
		set_tag(s, id, name);
	if (save_index(s, err) < 0)
		return NULL;
	return steal_ptr(id);
}

/* ---- listing, tagging, removing ---- */

static int by_created_desc(const void *a, const void *b)
{
	const char *ca = json_string_value(json_object_get(*(json_t *const *)a, "Created"));
	const char *cb = json_string_value(json_object_get(*(json_t *const *)b, "Created"));
	return strcmp(cb ? cb : "", ca ? ca : "");
}

json_t *engine_image_list(engine_store *s)
{
	size_t n = json_object_size(images(s)), i = 0;
	json_t **v = xcalloc(n ? n : 1, sizeof *v);
	const char *id;
	json_t *img;
	json_object_foreach(images(s), id, img)
	{
		v[i] = json_deep_copy(img);
		json_object_set_new(v[i], "Id", json_string(id));
		i++;
	}
	qsort(v, n, sizeof *v, by_created_desc);
	json_t *out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	return out;
}

json_t *engine_image_inspect(engine_store *s, const char *ref, berth_error *err)
{
	json_t *img = engine_image_get(s, ref, err);
	if (!img)
		return NULL;
	const char *id = json_string_value(json_object_get(img, "Id"));
	_cleanup_free_ char *blob = store_path(s, "blobs/sha256/%s", id + 7);
	json_t *cfg = json_read_file(blob, err);
	if (!cfg) {
		json_decref(img);
		return NULL;
	}
	strbuf lower = STRBUF_INIT;
	json_t *layers = store_image_layers(img);
	for (size_t i = json_array_size(layers); i-- > 0;) {
		if (lower.len)
			sb_addc(&lower, ':');
		sb_addf(&lower, "%s/layers/%s/diff", s->root,
			json_string_value(json_array_get(layers, i)));
	}
	json_t *out = json_pack(
	    "{s:s,s:O,s:[],s:O,s:O,s:O,s:I,s:O,s:{s:s,s:O},s:{s:s,s:{s:s%}}}", "Id", id, "RepoTags",
	    json_object_get(img, "RepoTags"), "RepoDigests", "Created",
	    json_object_get(cfg, "created") ? json_object_get(cfg, "created") : json_null(),
	    "Architecture",
	    json_object_get(cfg, "architecture") ? json_object_get(cfg, "architecture")
						 : json_null(),
	    "Os", json_object_get(cfg, "os") ? json_object_get(cfg, "os") : json_null(), "Size",
	    json_integer_value(json_object_get(img, "Size")), "Config",
	    json_object_get(cfg, "config") ? json_object_get(cfg, "config") : json_object(),
	    "RootFS", "Type", "layers", "Layers", json_object_get(img, "DiffIds"), "GraphDriver",
	    "Name", "overlay2", "Data", "LowerDir", lower.buf ? lower.buf : "", lower.len);
	sb_release(&lower);
	json_decref(cfg);
	json_decref(img);
	return out;
}

int engine_image_tag(engine_store *s, const char *src, const char *dst, berth_error *err)
{
	const char *id = find_id(s, src, err);
	if (!id)
		return -1;
	_cleanup_free_ char *name = engine_ref_normalise(dst, err);
	if (!name)
		return -1;
	_cleanup_free_ char *idc = xstrdup(id);
	set_tag(s, idc, name);
	return save_index(s, err);
}

const char *store_image_mounted(engine_store *s, const char *id)
{
	_cleanup_free_ char *dir = store_path(s, "mounts");
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	static char target[4096];
	const char *found = NULL;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *ip = xasprintf("%s/%s/image", dir, de->d_name);
		_cleanup_free_ char *tp = xasprintf("%s/%s/target", dir, de->d_name);
		_cleanup_free_ char *img = read_file(ip, NULL, NULL);
		_cleanup_free_ char *t = read_file(tp, NULL, NULL);
		if (img && t && !strcmp(img, id)) {
			snprintf(target, sizeof target, "%s", t);
			found = target;
		}
	}
	closedir(d);
	return found;
}

/* Removes layers that no image lists any more. */
static void gc_layers(engine_store *s)
{
	_cleanup_free_ char *dir = store_path(s, "layers");
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || str_has_prefix(de->d_name, "tmp-"))
			continue;
		bool used = false;
		const char *id;
		json_t *img;
		json_object_foreach(images(s), id, img)
		{
			json_t *l;
			size_t i;
			json_array_foreach(store_image_layers(img), i,
					   l) if (!strcmp(json_string_value(l), de->d_name)) used =
			    true;
		}
		if (!used) {
			_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
			rm_rf(p, NULL);
		}
	}
	closedir(d);
}

int engine_image_remove(engine_store *s, const char *ref, bool force, json_t *out, berth_error *err)
{
	const char *found = find_id(s, ref, err);
	if (!found)
		return -1;
	_cleanup_free_ char *id = xstrdup(found);
	json_t *img = json_object_get(images(s), id);
	json_t *tags = json_object_get(img, "RepoTags");
	_cleanup_free_ char *name = engine_ref_normalise(ref, NULL);
	bool by_tag = false;
	for (size_t i = 0; name && i < json_array_size(tags); i++)
		if (!strcmp(json_string_value(json_array_get(tags, i)), name)) {
			by_tag = true;
			if (json_array_size(tags) > 1) {
				/* other names keep the image: untag only */
				json_array_append_new(out, json_pack("{s:s}", "Untagged", name));
				json_array_remove(tags, i);
				return save_index(s, err);
			}
		}
	if (!by_tag && json_array_size(tags) > 1 && !force)
		return berth_error_msg(
		    err, EBUSY,
		    "conflict: unable to delete %.12s (must be forced) - image is "
		    "referenced in multiple repositories",
		    id + 7);
	const char *m = store_image_mounted(s, id);
	if (m)
		return berth_error_msg(
		    err, EBUSY,
		    "conflict: unable to delete %.12s (cannot be forced) - image is "
		    "being used by the root filesystem mounted at %s",
		    id + 7, m);
	json_t *t;
	size_t i;
	json_array_foreach(tags, i, t)
	    json_array_append_new(out, json_pack("{s:O}", "Untagged", t));
	json_array_append_new(out, json_pack("{s:s}", "Deleted", id));
	json_object_del(images(s), id);
	if (save_index(s, err) < 0)
		return -1;
	_cleanup_free_ char *blob = store_path(s, "blobs/sha256/%s", id + 7);
	unlink(blob);
	gc_layers(s);
	return 0;
}
