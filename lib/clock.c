/*
 * clock.c -- a suspend of the machine, seen between two readings of the
 * clocks by the same process.  Timers run on CLOCK_MONOTONIC, which on
 * Linux stops while the machine sleeps; CLOCK_BOOTTIME does not.  Where
 * there is no CLOCK_BOOTTIME, the wall clock moving much further than the
 * monotonic clock says the same.
 */
#include "config.h"

#include <time.h>

#include "st-int.h"

#define SLEPT_MIN	5	/* s: less is clock adjustment, not a sleep */

void
st_clock_now(struct st_clock *c)
{
	clock_gettime(CLOCK_MONOTONIC, &c->mono);
	clock_gettime(CLOCK_REALTIME, &c->wall);
#ifdef CLOCK_BOOTTIME
	c->has_boot = clock_gettime(CLOCK_BOOTTIME, &c->boot) == 0;
#else
	c->has_boot = 0;
#endif
}

static double
span(const struct timespec *a, const struct timespec *b)
{
	return ((double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9);
}

long
st_clock_slept(const struct st_clock *before, const struct st_clock *after)
{
	double	gap;

	if (before->has_boot && after->has_boot)
		gap = span(&before->boot, &after->boot);
	else
		gap = span(&before->wall, &after->wall);
	gap -= span(&before->mono, &after->mono);
	return (gap >= SLEPT_MIN ? (long)gap : 0);
}

/* The milliseconds of CLOCK_MONOTONIC since t0. */
long
st_ms_since(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}
