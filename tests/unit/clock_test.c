/*
 * clock_test.c -- st_clock_slept with clock readings made up here: a
 * suspend is the boot clock (or, without one, the wall clock) running
 * ahead of the monotonic clock between two readings; nothing else is.
 */
#include "config.h"

#include "unit.h"

/* A reading: the clocks at mono, boot and wall seconds (boot < 0: none). */
static struct st_clock
at(double mono, double boot, double wall)
{
	struct st_clock	c;

	memset(&c, 0, sizeof(c));
	c.mono.tv_sec = (time_t)mono;
	c.mono.tv_nsec = (long)((mono - (double)(time_t)mono) * 1e9);
	c.has_boot = boot >= 0;
	if (c.has_boot) {
		c.boot.tv_sec = (time_t)boot;
		c.boot.tv_nsec = (long)((boot - (double)(time_t)boot) * 1e9);
	}
	c.wall.tv_sec = (time_t)wall;
	c.wall.tv_nsec = (long)((wall - (double)(time_t)wall) * 1e9);
	return (c);
}

static void
test_boottime(void **state)
{
	struct st_clock	a, b;

	(void)state;
	a = at(1000, 5000, 1700000000);
	/* A minute awake: all three moved alike. */
	b = at(1060, 5060, 1700000060);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	/* An hour asleep: the monotonic clock stood still for it. */
	b = at(1060, 8660, 1700003660);
	assert_int_equal(st_clock_slept(&a, &b), 3600);
	/* The boot clock is trusted over the wall clock when there is one: */
	/* the wall clock set an hour ahead is no sleep, */
	b = at(1060, 5060, 1700003660);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	/* nor one set back, */
	b = at(1060, 5060, 1699990000);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	/* and a few seconds of drift or a short pause are none either. */
	b = at(1060.25, 5062.5, 1700000062);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	b = at(1060.5, 5070.75, 1700000070);
	assert_int_equal(st_clock_slept(&a, &b), 10);
}

static void
test_wall_clock_where_no_boottime(void **state)
{
	struct st_clock	a, b;

	(void)state;
	a = at(1000, -1, 1700000000);
	b = at(1060, -1, 1700000060);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	b = at(1060, -1, 1700000960);
	assert_int_equal(st_clock_slept(&a, &b), 900);
	/* A wall clock set back is never a sleep. */
	b = at(1060, -1, 1699999000);
	assert_int_equal(st_clock_slept(&a, &b), 0);
	/* One reading without a boot clock: the wall clock decides. */
	b = at(1060, 5060, 1700000960);
	assert_int_equal(st_clock_slept(&a, &b), 900);
}

static void
test_now_reads_every_clock(void **state)
{
	struct st_clock	a, b;

	(void)state;
	st_clock_now(&a);
	st_clock_now(&b);
	assert_true(a.mono.tv_sec > 0 || a.mono.tv_nsec > 0);
	assert_true(a.wall.tv_sec > 1600000000);
#ifdef __linux__
	assert_true(a.has_boot);
#endif
	assert_int_equal(st_clock_slept(&a, &b), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boottime),
		cmocka_unit_test(test_wall_clock_where_no_boottime),
		cmocka_unit_test(test_now_reads_every_clock),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
