/* Durations and byte sizes as Compose files write them. */
#include "composer.h"

#include <ctype.h>
#include <string.h>

int composer_parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *unit;
		long long ns;
	} units[] = {
	    {"ns", 1},		 {"us", 1000},	       {"µs", 1000},	      {"ms", 1000000},
	    {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	const char *p = s;
	bool neg = false;
	double total = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!*p)
		return -1;
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		return 0;
	}
	/* A bare number is seconds (compose accepts integers there). */
	char *end;
	double plain = strtod(p, &end);
	if (*end == '\0' && end != p) {
		*ns = (long long)(plain * 1e9) * (neg ? -1 : 1);
		return 0;
	}
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		double v = strtod(p, &end);
		if (end == p)
			return -1;
		p = end;
		size_t best = 0;
		long long mul = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, l) == 0 && l > best) {
				best = l;
				mul = units[i].ns;
			}
		}
		if (!best)
			return -1;
		p += best;
		total += v * (double)mul;
	}
	*ns = (long long)total * (neg ? -1 : 1);
	return 0;
}

/* Go's time.Duration.String(). */
char *composer_format_duration(long long ns)
{
	if (ns == 0)
		return xstrdup("0s");
	strbuf sb = STRBUF_INIT;
	unsigned long long u = ns < 0 ? (unsigned long long)-ns : (unsigned long long)ns;
	if (ns < 0)
		sb_addc(&sb, '-');
	if (u < 1000000000ULL) {
		const char *unit = "ns";
		unsigned long long div = 1;
		if (u >= 1000000) {
			unit = "ms";
			div = 1000000;
		} else if (u >= 1000) {
			unit = "µs";
			div = 1000;
		}
		sb_addf(&sb, "%llu", u / div);
		unsigned long long frac = u % div;
		if (frac) {
			char digits[16];
			int w = div == 1000000 ? 6 : 3;
			snprintf(digits, sizeof digits, "%0*llu", w, frac);
			for (int i = w - 1; i >= 0 && digits[i] == '0'; i--)
				digits[i] = '\0';
			sb_addf(&sb, ".%s", digits);
		}
		sb_adds(&sb, unit);
		return sb_steal(&sb);
	}
	unsigned long long h = u / 3600000000000ULL;
	u %= 3600000000000ULL;
	unsigned long long m = u / 60000000000ULL;
	u %= 60000000000ULL;
	unsigned long long s = u / 1000000000ULL, frac = u % 1000000000ULL;
	if (h)
		sb_addf(&sb, "%lluh", h);
	if (h || m)
		sb_addf(&sb, "%llum", m);
	sb_addf(&sb, "%llu", s);
	if (frac) {
		char digits[16];
		snprintf(digits, sizeof digits, "%09llu", frac);
		for (int i = 8; i >= 0 && digits[i] == '0'; i--)
			digits[i] = '\0';
		sb_addf(&sb, ".%s", digits);
	}
	sb_addc(&sb, 's');
	return sb_steal(&sb);
}

int composer_parse_bytes(const char *s, long long *bytes)
{
	char *end;
	if (!strcmp(s, "-1")) { /* unlimited, as Docker reads it */
		*bytes = -1;
		return 0;
	}
	double v = strtod(s, &end);
	if (end == s || !(v >= 0 && v < 1e15)) /* NaN fails both */
		return -1;
	while (*end == ' ')
		end++;
	long long mul = 1;
	char u = (char)tolower((unsigned char)*end);
	if (u == 'k')
		mul = 1024;
	else if (u == 'm')
		mul = 1024 * 1024;
	else if (u == 'g')
		mul = 1024LL * 1024 * 1024;
	else if (u == 't')
		mul = 1024LL * 1024 * 1024 * 1024;
	else if (u == 'b' || u == '\0')
		mul = 1;
	else
		return -1;
	if (u && u != 'b') {
		end++;
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
	} else if (u == 'b') {
		end++;
	}
	if (*end || v * (double)mul >= 9e18)
		return -1;
	*bytes = (long long)(v * (double)mul);
	return 0;
}
