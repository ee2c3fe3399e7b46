/*
 * proc_test.c -- st_proc_start_time (lib/proc.c): the start of a process,
 * which tells a runner row's writer from a process that got its PID
 * later.  Where the system has no way to ask, the answer is "cannot tell"
 * (0), never a made-up time.  And st_wait_status, a wait(2) status in words.
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
	(void)state;
	unit_reap(&child);
	return (0);
}

static void
test_no_such_process(void **state)
{
	time_t	t = 1;

	(void)state;
	assert_int_equal(st_proc_start_time(0, &t), -1);
	assert_int_equal(t, 0);
	assert_int_equal(st_proc_start_time(-1, &t), -1);
}

#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || \
    defined(__DragonFly__) || defined(__OpenBSD__) || defined(__NetBSD__)
/*
 * The start of a process is when it began, on the wall clock the runners
 * table's started_at is written with: a child forked between two readings
 * of the clock started between them (whole seconds, and a second either
 * way for the boot time it is computed from).  A parent started no later
 * than its child.
 */
static void
test_start_of_a_child(void **state)
{
	time_t	before, after, start, self, parent;

	(void)state;
	before = time(NULL);
	child = unit_sleeper();
	after = time(NULL);
	assert_int_equal(st_proc_start_time(child, &start), 1);
	assert_true(start >= before - 1);
	assert_true(start <= after + 1);
	assert_int_equal(st_proc_start_time(getpid(), &self), 1);
	assert_true(self <= start + 1);
	if (st_proc_start_time(getppid(), &parent) == 1)
		assert_true(parent <= self + 1);
}

/* A process that has exited is gone, reaped or not (a zombie). */
static void
test_exited_is_gone(void **state)
{
	siginfo_t	si;
	time_t		start;
	pid_t		pid = unit_sleeper();

	(void)state;
	child = pid;
	assert_int_equal(st_proc_start_time(pid, &start), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	/* Wait for the exit without reaping it: it stays a zombie. */
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(st_proc_start_time(pid, &start), -1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	child = 0;
	assert_int_equal(st_proc_start_time(pid, &start), -1);
}
#else
/* No way to ask here: a live process is "cannot tell", never a time. */
static void
test_start_of_a_child(void **state)
{
	time_t	start = 1;

	(void)state;
	child = unit_sleeper();
	assert_int_equal(st_proc_start_time(child, &start), 0);
	assert_int_equal(start, 0);
}

static void
test_exited_is_gone(void **state)
{
	time_t	start;
	pid_t	pid = unit_sleeper();

	(void)state;
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(st_proc_start_time(pid, &start), -1);
}
#endif

/* The two styles of st_wait_status, on real statuses from waitpid. */
static void
test_wait_status(void **state)
{
	char	buf[64];
	pid_t	pid;
	int	status;

	(void)state;
	if ((pid = fork()) == 0)
		_exit(3);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	st_wait_status(status, ST_WAIT_SHORT, buf, sizeof(buf));
	assert_string_equal(buf, "exit 3");
	st_wait_status(status, ST_WAIT_LONG, buf, sizeof(buf));
	assert_string_equal(buf, "exited 3");

	if ((pid = fork()) == 0) {
		for (;;)
			pause();
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	st_wait_status(status, ST_WAIT_SHORT, buf, sizeof(buf));
	assert_string_equal(buf, "signal 9");
	st_wait_status(status, ST_WAIT_LONG, buf, sizeof(buf));
	assert_string_equal(buf, "killed by signal 9");

	st_wait_status(status, ST_WAIT_SHORT, buf, 5);
	assert_string_equal(buf, "sign");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_such_process),
		cmocka_unit_test_teardown(test_start_of_a_child, teardown),
		cmocka_unit_test_teardown(test_exited_is_gone, teardown),
		cmocka_unit_test(test_wait_status),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
