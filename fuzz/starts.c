/*
 * starts.c -- the reader of $STEROIDS_HOME/starts (lib/starts.c), the
 * runners started a moment ago under agent.max_runners, on any bytes:
 * it must lock, count at most what the file can hold, and write back no
 * more than it read.
 */
#include "config.h"

#include "st-int.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static st_gdb	*g;
	struct st_error	 err;
	st_starts	*s;
	const char	*home;
	char		 path[PATH_MAX];
	long		 n, again;

	fuzz_scratch();
	home = getenv("STEROIDS_HOME");
	if (g == NULL && st_gdb_open_dir(home, &g, &err) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/starts", home);
	(void)unlink(path);
	fuzz_write(path, data, size);
	if (st_starts_lock(g, &s, &err) != 0)
		abort();
	n = st_starts_others(s, NULL, 0);
	if (n < 0 || n > 1024)
		abort();
	st_starts_unlock(s);
	if (st_starts_lock(g, &s, &err) != 0)
		abort();
	again = st_starts_others(s, NULL, 0);
	st_starts_unlock(s);
	if (again > n)
		abort();
	return (0);
}
