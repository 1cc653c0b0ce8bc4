/*
 * composer: Compose files -> normalised project model.  Pure: it reads the
 * files it is given and the environment it is handed, nothing else.
 */
#ifndef BERTH_COMPOSER_H
#define BERTH_COMPOSER_H

#include "../common/common.h"

#include <jansson.h>

/* A YAML node with its source position; the loader works on these trees. */
typedef enum { CN_NULL, CN_SCALAR, CN_SEQ, CN_MAP } composer_node_kind;

enum {
	CN_QUOTED = 1,	 /* a quoted or block scalar, or !!str: always a string */
	CN_RESET = 2,	 /* !reset */
	CN_OVERRIDE = 4, /* !override */
	CN_INTERP = 8,	 /* text came from interpolation: a string that may be cast */
};

typedef struct composer_node composer_node;
typedef struct {
	char *key;
	composer_node *val;
	int line, col; /* of the key */
	unsigned kflags;
} composer_entry;

struct composer_node {
	composer_node_kind kind;
	unsigned flags;
	char *str; /* CN_SCALAR */
	const char *file;
	int line, col;
	size_t n, cap;
	composer_entry *e; /* CN_SEQ (key NULL) and CN_MAP entries */
};

typedef enum { CT_NULL, CT_BOOL, CT_INT, CT_FLOAT, CT_STRING, CT_SEQ, CT_MAP } composer_type;

composer_node *composer_node_new(composer_node_kind kind, const char *file, int line, int col);
composer_node *composer_node_scalar(const char *s, unsigned flags);
composer_node *composer_node_copy(const composer_node *n);
void composer_node_free(composer_node *n);
static inline void composer_node_freep(composer_node **n)
{
	composer_node_free(*n);
}
#define _cleanup_node_ _cleanup_(composer_node_freep)
/* The type a value has under the YAML 1.2 core schema. */
composer_type composer_node_type(const composer_node *n);
composer_node *composer_map_get(const composer_node *map, const char *key);
composer_entry *composer_map_entry(const composer_node *map, const char *key);
/* Sets (replacing) key in map; takes ownership of val. */
void composer_map_set(composer_node *map, const char *key, composer_node *val);
void composer_map_del(composer_node *map, const char *key);
void composer_seq_add(composer_node *seq, composer_node *val);
/* Same tree: same kinds, keys (in any order) and values, as YAML compares them. */
bool composer_node_equal(const composer_node *a, const composer_node *b);
const char *composer_intern(const char *s);

/*
 * Parses YAML text into one node per document (*ndocs).  `file` names the
 * source in errors.
 */
composer_node **composer_yaml_parse(const char *text, size_t len, const char *file, size_t *ndocs,
				    berth_error *err);
void composer_docs_free(composer_node **docs, size_t n);
/* Emits a tree as YAML (2-space indentation, docker compose's style). */
char *composer_yaml_emit(const composer_node *n);
json_t *composer_node_to_json(const composer_node *n);

/* An environment: ordered name/value pairs with where each came from. */
typedef struct {
	char *name, *value, *origin;
} composer_var;
typedef struct {
	composer_var *v;
	size_t n, cap;
} composer_env;
void composer_env_set(composer_env *env, const char *name, const char *value, const char *origin);
const char *composer_env_get(const composer_env *env, const char *name);
composer_var *composer_env_find(const composer_env *env, const char *name);
void composer_env_free(composer_env *env);
void composer_env_from_environ(composer_env *env, char **environ);

/*
 * .env syntax as docker compose reads it.  `lookup` resolves ${VAR} inside
 * the file (earlier lines first, then lookup).  raw: no quotes or escapes.
 * Missing file: error.
 */
int composer_dotenv_parse(const char *text, const char *file, bool raw, const composer_env *lookup,
			  composer_env *out, berth_error *err);
int composer_dotenv_read(const char *path, bool raw, const composer_env *lookup, composer_env *out,
			 berth_error *err);

typedef void (*composer_warn_fn)(void *data, const char *msg);

/*
 * Interpolates one string.  Returns a new string, or NULL with err set
 * (`${X:?msg}`, bad syntax).  `*unset_names` collects unset variables used
 * without default when given.
 */
char *composer_interpolate_str(const char *s, const composer_env *env, strbuf *unset_names,
			       berth_error *err);
/* Interpolates every scalar value (never keys) of a tree in place. */
int composer_interpolate(composer_node *n, const composer_env *env, composer_warn_fn warn,
			 void *warn_data, berth_error *err);

/* Merges `over` into `base` by the Compose Specification's rules; consumes `over`. */
int composer_merge(composer_node *base, composer_node *over, berth_error *err);

/* Checks a whole (merged) file against the Compose Specification's schema. */
int composer_schema_validate(const composer_node *root, berth_error *err);

/* Durations as Go prints them ("1m30s"); sizes in bytes. */
int composer_parse_duration(const char *s, long long *ns);
char *composer_format_duration(long long ns);
int composer_parse_bytes(const char *s, long long *bytes);

typedef struct {
	const char *const *files; /* -f; NULL/0: discovery from workdir */
	size_t nfiles;
	const char *project_dir;
	const char *project_name;
	const char *const *env_files; /* --env-file */
	size_t nenv_files;
	const char *const *profiles;
	size_t nprofiles;
	const char *const *services; /* named on the command line */
	size_t nservices;
	bool no_interpolate, no_normalize, no_path_resolution, no_env_resolution;
	bool no_consistency;
	char **environ;		/* NULL: the process environment */
	const char *workdir;	/* NULL: the current directory */
	const char *stdin_text; /* content of "-" (tests); NULL: read stdin */
	composer_warn_fn warn;
	void *warn_data;
} composer_options;

typedef struct {
	char *name;
	char *workdir;
	char **files; /* config files, absolute */
	size_t nfiles;
	composer_node *model;	 /* normalised: name, services, networks, ... */
	composer_node *disabled; /* services disabled by profiles */
	composer_env env;	 /* interpolation environment, with origins */
	char **profiles;	 /* active profiles (--profile, COMPOSE_PROFILES) */
	size_t nprofiles;
} composer_project;

composer_project *composer_load(const composer_options *opt, berth_error *err);
void composer_project_free(composer_project *p);
/* `docker compose config` output: YAML with every `$` written `$$`. */
char *composer_project_yaml(const composer_project *p, bool escape_dollar);
char *composer_project_json(const composer_project *p, bool escape_dollar);
/* The config hash of a normalised service (the loader's JSON form): sha256 of its compact,
 * key-sorted JSON without build, pull_policy, scale, deploy.replicas, depends_on, profiles
 * and x-* keys. Newly allocated hex. */
char *composer_service_hash(json_t *service);
/* Docker's container create body (with "Name") for replica `number` of a service of the
 * project (the loader's JSON form), with docker compose's com.docker.compose.* labels;
 * NULL and err naming the service and the key that berth cannot apply. */
json_t *composer_container_body(json_t *project, const char *service, int number, berth_error *err);

/* Services in dependency order (dependencies first); NULL on a cycle. */
char **composer_service_order(const composer_node *model, size_t *n, berth_error *err);

#endif
