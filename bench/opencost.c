/*
 * opencost.c -- what a check worker's read of a project costs, fresh and kept.
 *
 *	opencost DIR [COUNT]
 *
 * DIR is a project (its .steroids/steroids.db).  COUNT times each, prints
 * the median in microseconds of: an open with the agent's flags plus the
 * counts a check asks (st_task_counts, then st_pdb_work if a task is
 * open), as a reaction does on a fresh connection; the close after it;
 * and the same counts on one connection kept open.  Run it under `valgrind --tool=callgrind` for
 * instruction counts, which hold on a noisy machine where the times do
 * not.  Not run by `make bench` (bench/README.md, "What an open costs").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "steroids.h"

static int
cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The median of v, in microseconds. */
static double
median_us(int64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return (v[n / 2] / 1e3);
}

static void
fail(const struct st_error *err)
{
	fprintf(stderr, "opencost: %s\n", err->msg);
	exit(1);
}

/* The counts a check asks (check.c count_work). */
static void
counts(st_pdb *p)
{
	struct st_error	err;
	long		c[ST_TASK_NSTATUS], work;

	if (st_task_counts(p, c, NULL, &err) == -1)
		fail(&err);
	/* pending, in_progress, review: open, so the join is asked */
	if (c[0] + c[1] + c[2] > 0 && st_pdb_work(p, &work, &err) == -1)
		fail(&err);
}

static st_pdb *
open_pdb(const char *dir)
{
	struct st_error	 err;
	st_pdb		*p;

	if (st_pdb_open(dir, ST_PDB_READONLY | ST_PDB_QUICK, &p, &err) == -1)
		fail(&err);
	return (p);
}

int
main(int argc, char *argv[])
{
	st_pdb	*p;
	int64_t	*open_t, *close_t, *kept_t, t;
	int	 i, n;

	if (argc < 2 || argc > 3 || (n = argc == 3 ? atoi(argv[2]) : 1000) < 1) {
		fprintf(stderr, "usage: opencost DIR [COUNT]\n");
		return (2);
	}
	if ((open_t = calloc(n, sizeof(*open_t))) == NULL ||
	    (close_t = calloc(n, sizeof(*close_t))) == NULL ||
	    (kept_t = calloc(n, sizeof(*kept_t))) == NULL) {
		perror("opencost");
		return (1);
	}
	for (i = 0; i < n; i++) {
		t = now_ns();
		counts(p = open_pdb(argv[1]));
		open_t[i] = now_ns() - t;
		t = now_ns();
		st_pdb_close(p);
		close_t[i] = now_ns() - t;
	}
	p = open_pdb(argv[1]);
	for (i = 0; i < n; i++) {
		t = now_ns();
		counts(p);
		kept_t[i] = now_ns() - t;
	}
	st_pdb_close(p);
	printf("median of %d, us: open + counts %.1f, close %.1f, "
	    "counts on a kept connection %.1f\n", n, median_us(open_t, n),
	    median_us(close_t, n), median_us(kept_t, n));
	return (0);
}
