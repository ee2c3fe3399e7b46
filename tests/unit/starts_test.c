/*
 * starts_test.c -- $STEROIDS_HOME/starts (lib/starts.c): the runners
 * started a moment ago under agent.max_runners.  One starter at a time
 * holds it; a listed runner counts until it is gone, its PID is known
 * another way, or it is a minute old; lines that do not parse are dropped.
 */
#include "config.h"

#include <sys/wait.h>

#include <signal.h>
#include <time.h>

#include "unit.h"
#include "st-int.h"

static pid_t	child;		/* killed by teardown, pass or fail */

static int
teardown(void **state)
{
	unit_reap(&child);
	return (unit_teardown(state));
}

static st_starts *
lock_it(st_gdb *g)
{
	struct st_error	 err;
	st_starts	*s;

	if (st_starts_lock(g, &s, &err) != 0)
		fail_msg("st_starts_lock: %s", err.msg);
	return (s);
}

static void
test_listed_until_gone_or_known(void **state)
{
	struct st_error	 err;
	st_gdb		*g = unit_gdb();
	st_starts	*s, *s2;
	siginfo_t	 info;
	pid_t		 known;

	(void)state;
	child = unit_sleeper();
	s = lock_it(g);
	assert_int_equal(st_starts_others(s, NULL, 0), 0);
	st_starts_add(s, child);
	assert_int_equal(st_starts_others(s, NULL, 0), 1);
	/* Held: a second starter is told so at once, and waits for nothing. */
	assert_int_equal(st_starts_lock(g, &s2, &err), 1);
	assert_int_equal(err.code, ST_ELOCKED);
	st_starts_unlock(s);
	s = lock_it(g);
	assert_int_equal(st_starts_others(s, NULL, 0), 1);
	known = child;
	assert_int_equal(st_starts_others(s, &known, 1), 0);
	st_starts_unlock(s);
	/* Exited and not reaped is gone too; WNOWAIT waits for the
	 * exit and leaves the zombie. */
	kill(child, SIGKILL);
	assert_int_equal(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT),
	    0);
	s = lock_it(g);
	assert_int_equal(st_starts_others(s, NULL, 0), 0);
	st_starts_unlock(s);
	waitpid(child, NULL, 0);
	child = 0;
	st_gdb_close(g);
}

static void
test_stale_reused_and_garbage_dropped(void **state)
{
	struct unit	*u = *state;
	char		 path[PATH_MAX], text[512], *back;
	st_gdb		*g = unit_gdb();
	st_starts	*s;
	time_t		 now = time(NULL), start;

	child = unit_sleeper();
	assert_int_equal(st_proc_start_time(child, &start), 1);
	unit_path(u, path, sizeof(path), "home/starts");
	snprintf(text, sizeof(text),
	    "%ld %lld %lld\n"		/* counts */
	    "%ld %lld %lld\n"		/* a minute and more old */
	    "%ld %lld %lld\n"		/* its PID another process's now */
	    "%ld %lld %lld\n"		/* listed in the future */
	    "%ld x %lld\n"
	    "%ld %lld\n"
	    "0 0 %lld\n"
	    "-5 0 %lld\n"
	    "\n"
	    "%ld %lld %lld 7\n",
	    (long)child, (long long)start, (long long)now,
	    (long)child, (long long)start, (long long)now - 120,
	    (long)child, (long long)start - 1000, (long long)now,
	    (long)child, (long long)start, (long long)now + 100,
	    (long)child, (long long)now,
	    (long)child, (long long)now,
	    (long long)now, (long long)now,
	    (long)child, (long long)start, (long long)now);
	unit_write(path, text);
	s = lock_it(g);
	assert_int_equal(st_starts_others(s, NULL, 0), 1);
	st_starts_unlock(s);
	/* What was written back is the one line that counts. */
	s = lock_it(g);
	assert_int_equal(st_starts_others(s, NULL, 0), 1);
	st_starts_unlock(s);
	snprintf(text, sizeof(text), "%ld %lld ", (long)child,
	    (long long)start);
	back = unit_read(path);
	assert_non_null(back);
	assert_non_null(strstr(back, text));
	assert_null(strchr(strchr(back, '\n') + 1, '\n'));
	free(back);
	st_gdb_close(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listed_until_gone_or_known,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stale_reused_and_garbage_dropped, unit_setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
