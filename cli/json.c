/* json.c -- a small streaming JSON writer for the --json envelope. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
json_open(struct json *js)
{
	memset(js, 0, sizeof(*js));
	if ((js->f = open_memstream(&js->buf, &js->len)) == NULL) {
		fputs("steroids: out of memory\n", stderr);
		abort();
	}
	js->first[0] = 1;
}

void
json_close(struct json *js)
{
	if (js->f != NULL)
		fclose(js->f);
	js->f = NULL;
	free(js->buf);
	js->buf = NULL;
	js->len = 0;
}

/*
 * Bytes that are not UTF-8 (a path may hold any) become lone surrogates
 * U+DC80..U+DCFF, as Python's surrogateescape does, so a reader can get the
 * exact bytes back.
 */
void
json_write_string(FILE *f, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	fputc('"', f);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else if (*s == '\t') {
			fputs("\\t", f);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else if ((n = st_utf8_len((const char *)s)) == 0) {
			fprintf(f, "\\udc%02x", *s++);
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
	fputc('"', f);
}

static void
json_key(struct json *js, const char *key)
{
	if (!js->first[js->depth])
		fputc(',', js->f);
	js->first[js->depth] = 0;
	if (key != NULL) {
		json_write_string(js->f, key);
		fputc(':', js->f);
	}
}

static void
json_push(struct json *js)
{
	if (js->depth + 1 < (int)(sizeof(js->first) / sizeof(js->first[0])))
		js->depth++;
	js->first[js->depth] = 1;
}

void
json_obj_begin(struct json *js, const char *key)
{
	json_key(js, key);
	fputc('{', js->f);
	json_push(js);
}

void
json_obj_end(struct json *js)
{
	fputc('}', js->f);
	js->depth--;
}

void
json_arr_begin(struct json *js, const char *key)
{
	json_key(js, key);
	fputc('[', js->f);
	json_push(js);
}

void
json_arr_end(struct json *js)
{
	fputc(']', js->f);
	js->depth--;
}

void
json_str(struct json *js, const char *key, const char *val)
{
	json_key(js, key);
	if (val == NULL)
		fputs("null", js->f);
	else
		json_write_string(js->f, val);
}

void
json_int(struct json *js, const char *key, long long val)
{
	json_key(js, key);
	fprintf(js->f, "%lld", val);
}

void
json_bool(struct json *js, const char *key, int val)
{
	json_key(js, key);
	fputs(val ? "true" : "false", js->f);
}

void
json_null(struct json *js, const char *key)
{
	json_key(js, key);
	fputs("null", js->f);
}
