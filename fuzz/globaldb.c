/*
 * globaldb.c -- the registry's schema detection and upgrade
 * (lib/globaldb.c) on any file: the input is $STEROIDS_HOME/steroids.db.
 * Opening may refuse it; whatever it opens must list its projects and
 * runners without a crash, and one it opened for writing must be at our
 * schema version or above.
 */
#include "config.h"

#include "st-int.h"
#include "fuzz.h"

static void
unlink_db(const char *home)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s/steroids.db%s", home, sfx[i]);
		(void)unlink(path);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_error		 err;
	struct st_project_list	 pl;
	struct st_runner_list	 rl;
	st_gdb			*g;
	const char		*home;
	char			 db[PATH_MAX];
	int			 version;

	fuzz_scratch();
	home = getenv("STEROIDS_HOME");
	unlink_db(home);
	snprintf(db, sizeof(db), "%s/steroids.db", home);
	fuzz_write(db, data, size);
	if (st_gdb_open_dir(home, &g, &err) == 0) {
		/* Written (not a registry only read as it is): upgraded. */
		if (st_gdb_version(g, &version, &err) == 0 &&
		    version < ST_GLOBAL_SCHEMA_VERSION &&
		    sqlite3_db_readonly(g->db, "main") == 0)
			abort();
		if (st_registry_list(g, 1, &pl, &err) == 0)
			st_project_list_free(&pl);
		if (st_runners_list(g, NULL, &rl, &err) == 0)
			st_runner_list_free(&rl);
		st_gdb_close(g);
	} else if (err.msg[0] == '\0')
		abort();
	unlink_db(home);
	return (0);
}
