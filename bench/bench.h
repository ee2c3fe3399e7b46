/*
 * bench.h -- what the bench's C programs (floor.c, writer.c, opencost.c)
 * share: the clock every figure is read from, and the runner-lock probe.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline int64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* Is project's runner lock free?  A shared probe, as st_lock_probe. */
static inline int
lock_free(const char *project)
{
	char	path[PATH_MAX];
	int	fd, free_;

	snprintf(path, sizeof(path), "%s/.steroids/runner.lock", project);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (errno == ENOENT);
	free_ = flock(fd, LOCK_SH | LOCK_NB) == 0;
	close(fd);
	return (free_);
}

#endif /* BENCH_H */
