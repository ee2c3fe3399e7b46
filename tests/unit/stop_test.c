/*
 * stop_test.c -- the one stop routine (stop.c): a runner that beats when
 * asked is left alone, one that does not is stopped, a process that does
 * not hold its project's runner lock (the upstream tool's runner) is
 * never sent a signal of any kind, and the steps say what to wait on.
 * The children take every signal with sigwaitinfo and write down each
 * one, so what they were sent is known exactly, not by timing.
 */
#include "config.h"

#include <sys/wait.h>

#include <poll.h>
#include <signal.h>

#include "unit.h"
#include "st-int.h"

enum mode {
	BEATS,		/* holds the lock, beats on SIGUSR1 */
	DEAF,		/* holds the lock, never beats */
	NO_LOCK		/* holds no lock: like the upstream tool's runner */
};

static pid_t	child;		/* killed by teardown, pass or fail */
static int	rec = -1;	/* what the child writes down */

static int
teardown(void **state)
{
	unit_reap(&child);
	if (rec != -1)
		close(rec);
	rec = -1;
	return (unit_teardown(state));
}

static void
note(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(3);
}

/*
 * The child: u for SIGUSR1, t for SIGTERM, then exit; on SIGUSR2 (the
 * test's "what did you get?") whatever else is pending too, then b and
 * exit.  BEATS stamps its row's heartbeat on SIGUSR1 as our runner does.
 */
static void __attribute__((noreturn))
child_main(const char *project, const char *id, enum mode mode, int fd)
{
	struct st_error	 err;
	sigset_t	 set, pend;
	st_gdb		*g = NULL;
	int		 lockfd, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (mode != NO_LOCK && st_lock_acquire(project, &lockfd, NULL,
	    &err) == -1)
		_exit(2);
	if (mode == BEATS && st_gdb_open(&g, &err) == -1)
		_exit(2);
	note(fd, 'r');
	for (;;) {
		if ((sig = sigwaitinfo(&set, NULL)) == -1)
			continue;
		if (sig == SIGUSR1) {
			note(fd, 'u');
			if (g != NULL && st_runner_heartbeat(g, id, NULL, NULL,
			    &err) == -1)
				_exit(2);
			continue;
		}
		if (sig == SIGTERM) {
			note(fd, 't');
			_exit(0);
		}
		sigpending(&pend);
		if (sigismember(&pend, SIGUSR1))
			note(fd, 'u');
		if (sigismember(&pend, SIGTERM))
			note(fd, 't');
		note(fd, 'b');
		_exit(0);
	}
}

/* Start the child and its stale row, read back into *l as a sweep would. */
static void
start(const struct unit *u, st_gdb *g, enum mode mode, char *project,
    size_t len, struct st_runner_list *l)
{
	struct st_error	err;
	char	dir[PATH_MAX], db[PATH_MAX], sql[PATH_MAX * 2], c;
	int	p[2];

	unit_path(u, project, len, "proj");
	snprintf(dir, sizeof(dir), "%s/.steroids", project);
	assert_int_equal(mkdir(project, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(pipe(p), 0);
	if ((child = fork()) == 0) {
		close(p[0]);
		child_main(project, "r1", mode, p[1]);
	}
	assert_true(child > 0);
	close(p[1]);
	rec = p[0];
	assert_int_equal(read(rec, &c, 1), 1);
	assert_int_equal(c, 'r');

	snprintf(db, sizeof(db), "%s/steroids.db", u->home);
	snprintf(sql, sizeof(sql), "INSERT INTO runners (id, status, pid, "
	    "project_path, started_at, heartbeat_at) VALUES ('r1', 'running', "
	    "%ld, '%s', datetime('now', '-2 hours'), datetime('now', "
	    "'-1 hour'))", (long)child, project);
	unit_sql(db, sql);
	assert_int_equal(st_runners_list(g, project, l, &err), 0);
	assert_int_equal(l->n, 1);
}

/* Everything the child wrote down, once it has exited. */
static void
record(char *buf, size_t len)
{
	ssize_t	n;
	size_t	got = 0;

	waitpid(child, NULL, 0);
	child = 0;
	while (got < len - 1 && (n = read(rec, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/* What the child got, asked with SIGUSR2 (it then exits). */
static void
asked(char *buf, size_t len)
{
	assert_int_equal(kill(child, SIGUSR2), 0);
	record(buf, len);
}

/* Drive s as an event loop would: wait on its fd, for its timeout. */
static void
drive(st_stop *s)
{
	struct pollfd	pfd;
	double		t;

	while (!st_stop_step(s)) {
		t = st_stop_timeout(s);
		assert_true(t >= 0.);
		pfd.fd = st_stop_fd(s);
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)(t * 1000.) + 1);
	}
	assert_true(st_stop_timeout(s) < 0.);
	assert_int_equal(st_stop_fd(s), -1);
}

static void
test_a_runner_that_beats_is_left_alone(void **state)
{
	struct unit		*u = *state;
	struct st_runner_list	 l;
	st_gdb			*g = unit_gdb();
	st_stop			*s;
	char			 project[PATH_MAX], got[16];
	int			 stale = 1;
	struct st_error		 err;

	start(u, g, BEATS, project, sizeof(project), &l);
	s = st_stop_begin(g, &l.v[0], ST_STOP_ASK);
	assert_int_equal(st_stop_state(s), ST_STOP_ASKING);
	assert_false(st_stop_done(s));
#ifdef __linux__
	assert_true(st_stop_fd(s) >= 0);	/* a pidfd: its exit is an event */
#endif
	/* The heartbeat has no event: it is looked at again soon. */
	assert_true(st_stop_timeout(s) <= 0.1);
	drive(s);
	assert_int_equal(st_stop_state(s), ST_STOP_ANSWERED);
	assert_string_equal(st_stop_state_name(st_stop_state(s)), "answered");
	st_stop_free(s);
	assert_int_equal(st_runner_stale(g, "r1", 300, &stale, &err), 0);
	assert_int_equal(stale, 0);
	/* Asked once, and nothing more: it runs on. */
	asked(got, sizeof(got));
	assert_string_equal(got, "ub");
	st_runner_list_free(&l);
	st_gdb_close(g);
}

static void
test_a_runner_that_does_not_answer_is_stopped(void **state)
{
	struct unit		*u = *state;
	struct st_runner_list	 l;
	st_gdb			*g = unit_gdb();
	st_stop			*s;
	char			 project[PATH_MAX], got[16];

	start(u, g, DEAF, project, sizeof(project), &l);
	s = st_stop_begin(g, &l.v[0], ST_STOP_ASK);
	assert_int_equal(st_stop_state(s), ST_STOP_ASKING);
	drive(s);
	assert_int_equal(st_stop_state(s), ST_STOP_STOPPED);
	st_stop_free(s);
	/* Asked, then SIGTERM, which it obeyed. */
	record(got, sizeof(got));
	assert_string_equal(got, "ut");
	st_runner_list_free(&l);
	st_gdb_close(g);
}

static void
test_without_ask_sigterm_first(void **state)
{
	struct unit		*u = *state;
	struct st_runner_list	 l;
	st_gdb			*g = unit_gdb();
	st_stop			*s;
	char			 project[PATH_MAX], got[16];

	start(u, g, BEATS, project, sizeof(project), &l);
	s = st_stop_begin(NULL, &l.v[0], 0);
	assert_int_equal(st_stop_state(s), ST_STOP_TERM);
	st_stop_wait(&s, 1);
	assert_int_equal(st_stop_state(s), ST_STOP_STOPPED);
	st_stop_free(s);
	record(got, sizeof(got));
	assert_string_equal(got, "t");
	st_runner_list_free(&l);
	st_gdb_close(g);
}

static void
test_no_lock_no_signal(void **state)
{
	struct unit		*u = *state;
	struct st_runner_list	 l;
	st_gdb			*g = unit_gdb();
	st_stop			*s;
	char			 project[PATH_MAX], got[16];

	start(u, g, NO_LOCK, project, sizeof(project), &l);
	/* Alive, its row stale: still not ours, so neither asked nor told. */
	s = st_stop_begin(g, &l.v[0], ST_STOP_ASK);
	assert_int_equal(st_stop_state(s), ST_STOP_NOT_HELD);
	assert_true(st_stop_done(s));
	assert_true(st_stop_step(s));
	st_stop_free(s);
	s = st_stop_begin(g, &l.v[0], 0);
	assert_int_equal(st_stop_state(s), ST_STOP_NOT_HELD);
	st_stop_free(s);
	asked(got, sizeof(got));
	assert_string_equal(got, "b");
	st_runner_list_free(&l);
	st_gdb_close(g);
}

static void
test_bounds(void **state)
{
	(void)state;
	/* The documented sequence: ask 3 s, grace 8 s, SIGKILL's 2 s. */
	assert_int_equal(st_stop_bound(0), 10);
	assert_int_equal(st_stop_bound(ST_STOP_NO_KILL), 8);
	assert_int_equal(st_stop_bound(ST_STOP_ASK), 13);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_a_runner_that_beats_is_left_alone, unit_setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_runner_that_does_not_answer_is_stopped, unit_setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_without_ask_sigterm_first,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lock_no_signal,
		    unit_setup, teardown),
		cmocka_unit_test(test_bounds),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
