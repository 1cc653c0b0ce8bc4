/* common: errors, cleanup macros and small utilities shared by every layer. */
#ifndef BERTH_COMMON_H
#define BERTH_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * The error convention (docs/errors.md): a fallible function takes
 * `berth_error *err`, returns -1 or NULL on failure and fills `err`;
 * on success it leaves `err` untouched.  Callers add context with
 * berth_error_prefix() as the error travels up.
 */
typedef struct {
	int code; /* errno-style; 0 when only the message matters */
	char *msg;
} berth_error;

#define BERTH_ERROR_INIT                                                                           \
	{                                                                                          \
		0, NULL                                                                            \
	}

int berth_error_set(berth_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As berth_error_set, but the message stands alone: no strerror(code) is appended. */
int berth_error_msg(berth_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int berth_error_prefix(berth_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void berth_error_clear(berth_error *err);

/* Allocation aborts on out-of-memory: error paths are for real failures. */
void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* Cleanup by scope. */
static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void berth_error_clearp(berth_error *err)
{
	berth_error_clear(err);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_error_ _cleanup_(berth_error_clearp)

static inline void *steal_ptr_impl(void *pp)
{
	void **p = pp, *v = *p;
	*p = NULL;
	return v;
}
#define steal_ptr(pp) steal_ptr_impl(&(pp))
static inline int steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

/* A growable string. */
typedef struct {
	char *buf;
	size_t len, cap;
} strbuf;
#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void sb_addn(strbuf *sb, const char *s, size_t n);
void sb_adds(strbuf *sb, const char *s);
void sb_addc(strbuf *sb, char c);
void sb_addf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sb_steal(strbuf *sb); /* never NULL */
void sb_release(strbuf *sb);
static inline void sb_releasep(strbuf *sb)
{
	sb_release(sb);
}
#define _cleanup_strbuf_ _cleanup_(sb_releasep)

/* Read a whole file (or stdin for "-"); NUL-terminated, length in *len. */
char *read_file(const char *path, size_t *len, berth_error *err);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
