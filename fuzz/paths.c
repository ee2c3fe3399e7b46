/*
 * paths.c -- path canonicalisation and escaping (lib/paths.c) on any
 * bytes.  st_path_display must print no control byte and no invalid
 * UTF-8, and strunvis(3) must give the path back; st_path_lookup's
 * answer is absolute with no empty, "." or ".." component.
 */
#include "config.h"

#define LIBBSD_OPENBSD_VIS	1

#include <vis.h>

#include "st-int.h"
#include "fuzz.h"

static void
check_display(const char *path)
{
	static char	 out[ST_DISPLAY_MAX], back[ST_DISPLAY_MAX];
	const char	*p, *home = getenv("HOME");
	size_t		 n;

	st_path_display(path, out, sizeof(out));
	for (p = out; *p != '\0'; p += n) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
		if ((n = st_utf8_len(p)) == 0 || st_utf8_c1(p))
			abort();
	}
	/* Back to the path, but for the home shown as "~". */
	if (strlen(path) <= PATH_MAX) {
		if (strunvis(back, out) == -1)
			abort();
		n = strlen(home);
		if (strncmp(path, home, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/')) {
			if (back[0] != '~' || strcmp(back + 1, path + n) != 0)
				abort();
		} else if (strcmp(back, path) != 0)
			abort();
	}
}

static void
check_lookup(const char *path)
{
	struct st_error	 err;
	char		 out[PATH_MAX];
	const char	*p;

	if (st_path_lookup(path, out, sizeof(out), &err) == -1)
		return;
	if (out[0] != '/')
		abort();
	if (strcmp(out, "/") == 0)
		return;
	if (out[strlen(out) - 1] == '/' || strstr(out, "//") != NULL)
		abort();
	for (p = out; (p = strstr(p, "/.")) != NULL; p++)
		if (p[2] == '/' || p[2] == '\0' ||
		    (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_error	 err;
	char		 out[PATH_MAX], *s;

	fuzz_scratch();
	s = fuzz_str(data, size);
	check_display(s);
	check_lookup(s);
	if (st_path_canon(s, out, sizeof(out), &err) == 0 && out[0] != '/')
		abort();
	(void)st_path_is_system(s);
	(void)st_path_is_home(s);
	free(s);
	return (0);
}
