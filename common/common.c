#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static void oom(void)
{
	fputs("berth: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xzalloc(size_t n)
{
	return xcalloc(1, n);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* Takes msg; appends strerror(code) when asked and code is an errno. */
static int error_store(berth_error *err, int code, char *msg, bool with_strerror)
{
	free(err->msg);
	if (with_strerror && code > 0) {
		err->msg = xasprintf("%s: %s", msg, strerror(code));
		free(msg);
	} else {
		err->msg = msg;
	}
	err->code = code;
	return -1;
}

int berth_error_msg(berth_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return error_store(err, code, msg, false);
}

int berth_error_set(berth_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return error_store(err, code, msg, true);
}

int berth_error_prefix(berth_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *pre = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", pre, err->msg ? err->msg : "unknown error");
	free(err->msg);
	err->msg = msg;
	return -1;
}

void berth_error_clear(berth_error *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->code = 0;
}

void sb_addn(strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 64;
		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->buf = xrealloc(sb->buf, cap);
		sb->cap = cap;
	}
	if (n)
		memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(strbuf *sb, const char *s)
{
	sb_addn(sb, s, strlen(s));
}

void sb_addc(strbuf *sb, char c)
{
	sb_addn(sb, &c, 1);
}

void sb_addf(strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_adds(sb, s);
}

char *sb_steal(strbuf *sb)
{
	if (!sb->buf)
		return xstrdup("");
	char *p = sb->buf;
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void sb_release(strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

char *read_file(const char *path, size_t *len, berth_error *err)
{
	_cleanup_close_ int fd = -1;
	if (strcmp(path, "-") == 0) {
		fd = dup(STDIN_FILENO);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", path), NULL;
	strbuf sb = STRBUF_INIT;
	char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			sb_release(&sb);
			if (e == EISDIR)
				return berth_error_set(err, 0, "%s is a directory", path), NULL;
			return berth_error_set(err, e, "read %s", path), NULL;
		}
		if (r == 0)
			break;
		sb_addn(&sb, buf, (size_t)r);
	}
	if (len)
		*len = sb.len;
	return sb_steal(&sb);
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}
