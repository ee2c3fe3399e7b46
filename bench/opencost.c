/*
 * opencost.c -- what a check worker's read of a project costs, fresh and kept.
 *
 *	opencost DIR [COUNT]
 *
 * DIR is a project (its .steroids/steroids.db).  COUNT times each, prints
 * the median in microseconds of: an open with the agent's flags plus the
 * counts a check asks (st_task_counts, st_pdb_pending), as a reaction
 * does on a fresh connection; the close after it; and the same counts on
 * one connection kept open.  Run it under `valgrind --tool=callgrind` for
 * instruction counts, which hold on a noisy machine where the times do
 * not.  Not run by `make bench` (bench/README.md, "What an open costs").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "steroids.h"

static double
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return (v[n / 2]);
}

static int
counts(st_pdb *p, struct st_error *err)
{
	long	c[ST_TASK_NSTATUS], work;

	if (st_task_counts(p, c, NULL, err) == -1 ||
	    st_pdb_pending(p, &work, err) == -1)
		return (-1);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct st_error	 err;
	st_pdb		*p;
	double		*open_t, *close_t, *kept_t, t;
	int		 i, n;

	if (argc < 2 || argc > 3 || (n = argc == 3 ? atoi(argv[2]) : 1000) < 1) {
		fprintf(stderr, "usage: opencost DIR [COUNT]\n");
		return (2);
	}
	if ((open_t = calloc(n, sizeof(double))) == NULL ||
	    (close_t = calloc(n, sizeof(double))) == NULL ||
	    (kept_t = calloc(n, sizeof(double))) == NULL) {
		perror("opencost");
		return (1);
	}
	for (i = 0; i < n; i++) {
		t = now_us();
		if (st_pdb_open(argv[1], ST_PDB_READONLY | ST_PDB_QUICK, &p,
		    &err) == -1 || counts(p, &err) == -1) {
			fprintf(stderr, "opencost: %s\n", err.msg);
			return (1);
		}
		open_t[i] = now_us() - t;
		t = now_us();
		st_pdb_close(p);
		close_t[i] = now_us() - t;
	}
	if (st_pdb_open(argv[1], ST_PDB_READONLY | ST_PDB_QUICK, &p,
	    &err) == -1) {
		fprintf(stderr, "opencost: %s\n", err.msg);
		return (1);
	}
	for (i = 0; i < n; i++) {
		t = now_us();
		if (counts(p, &err) == -1) {
			fprintf(stderr, "opencost: %s\n", err.msg);
			return (1);
		}
		kept_t[i] = now_us() - t;
	}
	st_pdb_close(p);
	printf("median of %d, us: open + counts %.1f, close %.1f, "
	    "counts on a kept connection %.1f\n", n, median(open_t, n),
	    median(close_t, n), median(kept_t, n));
	return (0);
}
