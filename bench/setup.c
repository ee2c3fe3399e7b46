/*
 * setup.c -- make the bench's projects with the library itself.
 *
 *	setup ROOT N
 *
 * Makes ROOT/p00000 ... ROOT/p<N-1> real projects with st_project_init
 * (the schema of `steroids init`, WAL mode) where they are not projects yet,
 * registers them with st_registry_register in the global DB of
 * $STEROIDS_HOME, and prints their canonical paths, one a line.  Folders
 * already made are reused, so one set of 10,000 serves every N, each N in
 * its own STEROIDS_HOME.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steroids.h"

int
main(int argc, char *argv[])
{
	struct st_error	 err;
	struct stat	 sb;
	char		 dir[PATH_MAX], db[PATH_MAX + 32], canon[PATH_MAX];
	st_gdb		*g;
	long		 i, n;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 1) {
		fprintf(stderr, "usage: setup root n\n");
		return (2);
	}
	if (mkdir(argv[1], 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "setup: %s: %s\n", argv[1], strerror(errno));
		return (1);
	}
	if (st_gdb_open(&g, &err) == -1) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return (err.code);
	}
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/p%05ld", argv[1], i);
		snprintf(db, sizeof(db), "%s/.steroids/steroids.db", dir);
		if (stat(db, &sb) == -1) {
			if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
				fprintf(stderr, "setup: %s: %s\n", dir,
				    strerror(errno));
				return (1);
			}
			if (st_project_init(dir, &err) == -1) {
				fprintf(stderr, "setup: %s\n", err.msg);
				return (err.code);
			}
		}
		if (st_registry_register(g, dir, NULL, canon, sizeof(canon),
		    &err) == -1) {
			fprintf(stderr, "setup: %s\n", err.msg);
			return (err.code);
		}
		printf("%s\n", canon);
	}
	st_gdb_close(g);
	return (0);
}
