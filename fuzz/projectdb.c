/*
 * projectdb.c -- the project DB's schema check (lib/projectdb.c) and the
 * task queries on any file: the input is <project>/.steroids/steroids.db,
 * opened read-only, as a one-shot count (the sweep's) and read-write.
 */
#include "config.h"

#include "st-int.h"
#include "fuzz.h"

static char	project[PATH_MAX];

static void
unlink_db(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char	path[PATH_MAX + 64];
	size_t	i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s/.steroids/steroids.db%s",
		    project, sfx[i]);
		(void)unlink(path);
	}
}

static void
queries(st_pdb *p)
{
	struct st_error		 err;
	struct st_task_list	 tl;
	struct st_task		 t;
	const char		*action;
	long			 counts[ST_TASK_NSTATUS], n;
	int			 found;

	(void)st_pdb_pending(p, &n, &err);
	(void)st_task_counts(p, counts, &n, &err);
	if (st_task_list(p, NULL, &tl, &err) == 0)
		st_task_list_free(&tl);
	if (st_task_next(p, &t, &action, &found, &err) == 0 && found)
		st_task_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_error	 err;
	st_pdb		*p;
	char		 path[PATH_MAX + 64];
	long		 n;

	if (project[0] == '\0') {
		snprintf(project, sizeof(project), "%s/project", fuzz_scratch());
		(void)mkdir(project, 0700);
		snprintf(path, sizeof(path), "%s/.steroids", project);
		(void)mkdir(path, 0700);
	}
	unlink_db();
	snprintf(path, sizeof(path), "%s/.steroids/steroids.db", project);
	fuzz_write(path, data, size);

	(void)st_project_pending(project, ST_PDB_READONLY | ST_PDB_SHMRO |
	    ST_PDB_QUICK, &n, &err);
	if (st_pdb_open(project, ST_PDB_READONLY | ST_PDB_QUICK, &p,
	    &err) == 0) {
		queries(p);
		st_pdb_close(p);
	}
	if (st_pdb_open(project, ST_PDB_QUICK, &p, &err) == 0) {
		queries(p);
		st_pdb_close(p);
	}
	unlink_db();
	return (0);
}
