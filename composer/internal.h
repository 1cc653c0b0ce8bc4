/* Declarations shared by the composer's source files. */
#ifndef BERTH_COMPOSER_INTERNAL_H
#define BERTH_COMPOSER_INTERNAL_H

#include "composer.h"

typedef composer_node cnode;

typedef struct {
	const char *dir;  /* relative paths resolve against it */
	const char *home; /* for ~ */
	bool resolve;	  /* false: --no-path-resolution */
} canon_ctx;

/* Short syntax -> long syntax, in place, for one file's tree. */
int canon_project(cnode *root, const canon_ctx *c, berth_error *err);
int canon_service(cnode *svc, const char *name, const canon_ctx *c, berth_error *err);
char *canon_path(const canon_ctx *c, const char *p);
char *path_clean(const char *p);

void merge_strip_reset(cnode *n);
/* Normalisation and consistency checks of a loaded project. */
typedef struct load_ctx {
	const composer_options *o;
	composer_env *env;
	const char *home;
	char **stack; /* files being included, "file#service" being extended */
	size_t nstack;
	berth_error *err;
} load_ctx;
int normalise_project(load_ctx *c, composer_project *p, berth_error *err);

/* Node helpers. */
cnode *node_str(const char *s);
cnode *node_num(long long v);
cnode *node_bool(bool v);
cnode *node_map(void);
cnode *node_seq(void);
void node_mark_string(cnode *n);
bool node_is_true(const cnode *n);
int node_err(berth_error *err, const cnode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void node_sort_keys(cnode *map);

#endif
