/* output.c -- what the user sees: errors, tables, ages, the JSON envelope. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * Callers may pass c->err.msg itself as an argument (to wrap the library's
 * message), so format into a copy first: vsnprintf onto its own source is
 * undefined and printed an empty or mangled line.
 */
int
cli_error(struct cli *c, int code, const char *fmt, ...)
{
	char	buf[sizeof(c->err.msg)];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->err.code = code;
	memcpy(c->err.msg, buf, sizeof(c->err.msg));
	return (-1);
}

/* The library already filled c->err. */
int
cli_fail(struct cli *c)
{
	if (c->err.code == ST_OK)
		c->err.code = ST_EGENERAL;
	return (-1);
}

void
cli_info(struct cli *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->quiet || c->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/*
 * The error line: one line, and nothing a terminal would act on.  Library
 * messages carry paths as they are, so control characters and bytes that
 * are not UTF-8 are escaped here (\n, \t, \ooo) as paths are in lists.
 */
static void
print_error(FILE *f, const char *msg)
{
	const unsigned char	*s = (const unsigned char *)msg;
	size_t			 n;

	fputs("steroids: ", f);
	while (*s != '\0') {
		n = st_utf8_len((const char *)s);
		if ((n > 1 && !st_utf8_c1((const char *)s)) ||
		    (n == 1 && *s >= 0x20 && *s != 0x7f)) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\r')
			fputs("\\r", f);
		else
			fprintf(f, "\\%03o", (unsigned)*s);
		s++;
	}
	putc('\n', f);
}

/* Print the envelope (with --json) and the error line; rc is 0 or -1. */
void
cli_finish(struct cli *c, int rc)
{
	size_t	i;

	if (rc != 0)
		print_error(stderr, c->err.msg);
	if (!c->json)
		return;
	if (c->js.f != NULL)
		fflush(c->js.f);
	fputs("{\"success\":", stdout);
	fputs(rc == 0 ? "true" : "false", stdout);
	fputs(",\"command\":", stdout);
	if (c->command != NULL)
		json_write_string(stdout, c->command);
	else
		fputs("null", stdout);
	fputs(",\"subcommand\":", stdout);
	if (c->subcommand != NULL)
		json_write_string(stdout, c->subcommand);
	else
		fputs("null", stdout);
	fputs(",\"data\":", stdout);
	if (rc == 0 && c->js.buf != NULL && c->js.len > 0) {
		for (i = 0; i < c->js.len; i++)
			putchar(c->js.buf[i]);
	} else
		fputs("null", stdout);
	fputs(",\"error\":", stdout);
	if (rc == 0)
		fputs("null", stdout);
	else {
		fputs("{\"code\":", stdout);
		json_write_string(stdout, st_code_name(c->err.code));
		fputs(",\"message\":", stdout);
		json_write_string(stdout, c->err.msg);
		printf(",\"details\":{\"exit_code\":%d}}", c->err.code);
	}
	fputs("}\n", stdout);
}

const char *
cli_ago(long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, len, "%ld sec ago", secs);
	else if (secs < 3600)
		snprintf(buf, len, "%ld min ago", secs / 60);
	else if (secs < 86400)
		snprintf(buf, len, "%ld hour%s ago", secs / 3600,
		    secs / 3600 == 1 ? "" : "s");
	else
		snprintf(buf, len, "%ld day%s ago", secs / 86400,
		    secs / 86400 == 1 ? "" : "s");
	return (buf);
}

/* A path for people; four buffers so one printf may show several. */
const char *
cli_path(const char *path)
{
	static char	buf[4][ST_DISPLAY_MAX];
	static int	next;
	char		*b = buf[next++ % 4];

	st_path_display(path, b, ST_DISPLAY_MAX);
	return (b);
}

/* Colour only on a terminal, never with NO_COLOR or --no-color. */
const char *
cli_color(struct cli *c, const char *sgr, const char *text, char *buf,
    size_t len)
{
	if (!c->color)
		return (text);
	snprintf(buf, len, "\033[%sm%s\033[0m", sgr, text);
	return (buf);
}

struct table {
	int	  ncols;
	size_t	  nrows;
	char	**cell;
};

struct table *
table_new(int ncols, ...)
{
	struct table	*t;
	va_list		 ap;
	int		 i;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->cell = calloc((size_t)ncols, sizeof(char *))) == NULL)
		abort();
	t->ncols = ncols;
	t->nrows = 1;
	va_start(ap, ncols);
	for (i = 0; i < ncols; i++)
		if ((t->cell[i] = strdup(va_arg(ap, const char *))) == NULL)
			abort();
	va_end(ap);
	return (t);
}

void
table_add(struct table *t, ...)
{
	va_list	ap;
	int	i;

	t->cell = reallocarray(t->cell, (t->nrows + 1) * (size_t)t->ncols,
	    sizeof(char *));
	if (t->cell == NULL)
		abort();
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		if ((t->cell[t->nrows * (size_t)t->ncols + (size_t)i] =
		    strdup(va_arg(ap, const char *))) == NULL)
			abort();
	va_end(ap);
	t->nrows++;
}

/* Width as shown: escape sequences of colour do not count. */
static size_t
shown_len(const char *s)
{
	size_t	n = 0;

	while (*s != '\0') {
		if (*s == '\033') {
			while (*s != '\0' && *s != 'm')
				s++;
			if (*s != '\0')
				s++;
			continue;
		}
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
		s++;
	}
	return (n);
}

void
table_print(struct table *t, FILE *f)
{
	size_t	 w[16] = { 0 }, r, l;
	int	 i;
	char	*s;

	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols && i < 16; i++) {
			l = shown_len(t->cell[r * (size_t)t->ncols + (size_t)i]);
			if (l > w[i])
				w[i] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			s = t->cell[r * (size_t)t->ncols + (size_t)i];
			if (i == t->ncols - 1)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%s%*s  ", s,
				    (int)(w[i] - shown_len(s)), "");
		}
	}
}

void
table_free(struct table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	free(t);
}
