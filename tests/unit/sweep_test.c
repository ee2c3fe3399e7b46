/*
 * sweep_test.c -- the sweep as a run of steps for an event loop
 * (st_sweep_begin ...): a step never waits for a hung probe, the run
 * says what to wait on and how long, a second sweep is refused while it
 * holds wakeup.lock, ending it early kills and reaps its probe and leaves
 * the resume point, a probe the caller reaped is the run's no more, and
 * under agent.max_runners the starts wait for the count of what is alive.
 */
#include "config.h"

#include <sys/wait.h>

#include <poll.h>
#include <signal.h>
#include <time.h>

#include "unit.h"
#include "st-int.h"

static long
ms_since(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* A registered project dir/name, with one pending task if work. */
static void
project(const struct unit *u, st_gdb *g, const char *name, int work,
    char *path, size_t len)
{
	struct st_error	err;
	char		db[PATH_MAX];

	unit_path(u, path, len, "%s", name);
	assert_int_equal(mkdir(path, 0700), 0);
	if (st_project_init(path, &err) == -1)
		fail_msg("init %s: %s", path, err.msg);
	if (st_registry_register(g, path, NULL, NULL, 0, &err) == -1)
		fail_msg("register %s: %s", path, err.msg);
	if (work) {
		snprintf(db, sizeof(db), "%s/.steroids/steroids.db", path);
		unit_sql(db, "INSERT INTO tasks (id, title, status) VALUES "
		    "('t1', 'one', 'pending')");
	}
}

/*
 * Its probe blocks in SQLite's read of the -shm, a fifo, until a writer
 * comes (the config and the runner lock are opened O_NONBLOCK and a fifo
 * there is refused; the DB is stat'ed first).
 */
static void
hang(const char *path, char *fifo, size_t len)
{
	snprintf(fifo, len, "%s/.steroids/steroids.db-shm", path);
	(void)unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
}

static const struct st_sweep_result *
result_of(const struct st_sweep_list *l, const char *path)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].project, path) == 0)
			return (&l->v[i]);
	fail_msg("no result for %s", path);
	return (NULL);
}

static void
test_steps_never_wait(void **state)
{
	struct unit			*u = *state;
	struct st_error			 err;
	struct st_sweep_run		*run, *other;
	struct st_sweep_list		 l;
	const struct st_sweep_result	*r;
	struct pollfd			 pfd;
	struct timespec			 t0;
	st_gdb				*g = unit_gdb();
	char				 a[PATH_MAX], b[PATH_MAX], fifo[PATH_MAX];
	size_t				 n = 0;
	long				 slowest = 0, ms;
	int				 steps = 0, done;

	project(u, g, "a-hung", 0, a, sizeof(a));
	project(u, g, "b-ok", 1, b, sizeof(b));
	hang(a, fifo, sizeof(fifo));

	assert_int_equal(st_sweep_begin(g, ST_SWEEP_DRY_RUN, NULL, NULL, &run,
	    &err), 0);
	/* wakeup.lock is held for the whole run. */
	assert_int_equal(st_sweep_begin(g, ST_SWEEP_DRY_RUN, NULL, NULL,
	    &other, &err), 1);
	assert_null(other);
	assert_int_equal(err.code, ST_ELOCKED);

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		done = st_sweep_run_step(run);
		if ((ms = ms_since(&t0)) > slowest)
			slowest = ms;
		steps++;
		while (st_sweep_run_next(run) != NULL)
			n++;
		if (done)
			break;
		/* Waiting on the hung probe: its pipe, at most its 2 s. */
		assert_true(st_sweep_run_timeout(run) >= 0.);
		assert_true(st_sweep_run_timeout(run) <= 2.);
		pfd.fd = st_sweep_run_fd(run);
		pfd.events = POLLIN;
		(void)poll(&pfd, pfd.fd == -1 ? 0 : 1,
		    (int)(st_sweep_run_timeout(run) * 1000) + 1);
	}
	assert_true(steps > 1);
	assert_true(slowest < 1000);	/* never the probe's 2 s */
	assert_int_equal(n, 2);
	assert_int_equal(st_sweep_run_fd(run), -1);
	assert_null(st_sweep_run_next(run));
	st_sweep_run_end(run, &l);
	assert_int_equal(l.n, 2);
	r = result_of(&l, a);
	assert_int_equal(r->action, ST_SWEEP_SKIPPED);
	assert_non_null(strstr(r->reason, "no answer within"));
	r = result_of(&l, b);
	assert_int_equal(r->action, ST_SWEEP_WOULD_START);
	st_sweep_list_free(&l);

	/* Done: the lock is free again. */
	assert_int_equal(st_sweep_begin(g, ST_SWEEP_DRY_RUN, NULL, NULL,
	    &other, &err), 0);
	st_sweep_run_end(other, NULL);
	/* What the run left to a caller's reaper (test_end_early...). */
	while (waitpid(-1, NULL, 0) > 0)
		;
	st_gdb_close(g);
}

static void
test_end_early_kills_and_reaps(void **state)
{
	struct unit			*u = *state;
	struct st_error			 err;
	struct st_sweep_run		*run;
	struct st_sweep_list		 l;
	const struct st_sweep_result	*r;
	st_gdb				*g = unit_gdb();
	char				 a[PATH_MAX], b[PATH_MAX], fifo[PATH_MAX];
	char				 lock[PATH_MAX], *resume;

	project(u, g, "a-hung", 0, a, sizeof(a));
	project(u, g, "b-ok", 1, b, sizeof(b));
	hang(a, fifo, sizeof(fifo));

	assert_int_equal(st_sweep_begin(g, 0, NULL, NULL, &run, &err), 0);
	assert_int_equal(st_sweep_run_step(run), 0);
	assert_int_not_equal(st_sweep_run_fd(run), -1);
	st_sweep_run_end(run, &l);
	/* The probe is killed and reaped: no child of ours is left. */
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(l.n, 2);
	r = result_of(&l, a);
	assert_int_equal(r->action, ST_SWEEP_SKIPPED);
	assert_non_null(strstr(r->reason, "sweep stopped"));
	r = result_of(&l, b);
	assert_int_equal(r->action, ST_SWEEP_SKIPPED);
	st_sweep_list_free(&l);
	/* The next sweep begins where this one stopped. */
	snprintf(lock, sizeof(lock), "%s/wakeup.lock", u->home);
	resume = unit_read(lock);
	assert_non_null(resume);
	assert_string_equal(resume, a);
	free(resume);
	st_gdb_close(g);
}

/*
 * The caller's loop reaps the probe (waitpid(-1), as libev does): the run
 * takes the records it sent all the same, and knows the pid was its own
 * only once.
 */
static void
test_caller_reaps_the_probe(void **state)
{
	struct unit			*u = *state;
	struct st_error			 err;
	struct st_sweep_run		*run;
	struct st_sweep_list		 l;
	struct timespec			 t0;
	st_gdb				*g = unit_gdb();
	char				 a[PATH_MAX], fifo[PATH_MAX];
	pid_t				 pid;
	int				 fd;

	project(u, g, "a-hung", 1, a, sizeof(a));
	hang(a, fifo, sizeof(fifo));

	assert_int_equal(st_sweep_begin(g, ST_SWEEP_DRY_RUN, NULL, NULL, &run,
	    &err), 0);
	assert_int_equal(st_sweep_run_step(run), 0);
	/*
	 * Let the probe go on: it has the -shm open once we have its other
	 * end, and reads it empty once we close it.  The probe answers,
	 * then exits.
	 */
	assert_true((fd = open(fifo, O_WRONLY)) != -1);
	assert_int_equal(unlink(fifo), 0);
	close(fd);
	pid = waitpid(-1, NULL, 0);
	assert_true(pid > 0);
	assert_int_equal(st_sweep_run_child(run, pid), 1);
	assert_int_equal(st_sweep_run_child(run, pid), 0);
	assert_int_equal(st_sweep_run_child(NULL, pid), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!st_sweep_run_step(run))
		assert_true(ms_since(&t0) < 1000);	/* no wait for 2 s */
	st_sweep_run_end(run, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].action, ST_SWEEP_WOULD_START);
	st_sweep_list_free(&l);
	st_gdb_close(g);
}

static pid_t	kid;		/* stale_runner's, killed by kid_teardown */

static int
kid_teardown(void **state)
{
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		kid = 0;
	}
	return (unit_teardown(state));
}

/*
 * A runner of path's in a child: it holds the lock, its row's heartbeat
 * is an hour old, it exits at SIGTERM and, if beats, stamps the row at
 * SIGUSR1 as our runner does.
 */
static pid_t
stale_runner(st_gdb *g, const char *path, int beats)
{
	struct st_error	 err;
	sigset_t	 set;
	char		 db[PATH_MAX], sql[PATH_MAX * 2], c;
	pid_t		 pid;
	int		 p[2], fd, sig;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (st_lock_acquire(path, &fd, NULL, &err) == -1 ||
		    st_gdb_open(&g, &err) == -1 || write(p[1], "r", 1) != 1)
			_exit(2);
		while ((sig = sigwaitinfo(&set, NULL)) != SIGTERM)
			if (sig == SIGUSR1 && beats)
				st_runner_heartbeat(g, "r1", NULL, NULL, &err);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	snprintf(db, sizeof(db), "%s/steroids.db", st_gdb_home(g));
	snprintf(sql, sizeof(sql), "DELETE FROM runners; INSERT INTO runners "
	    "(id, status, pid, project_path, started_at, heartbeat_at) VALUES ('r1', 'running', "
	    "%ld, '%s', datetime('now', '-2 hours'), datetime('now', "
	    "'-1 hour'))", (long)pid, path);
	unit_sql(db, sql);
	kid = pid;
	return (pid);
}

/* Wait as an event loop would for what the run says to wait on. */
static void
wait_on(struct st_sweep_run *run)
{
	struct pollfd	pfd;

	assert_true(st_sweep_run_timeout(run) >= 0.);
	pfd.fd = st_sweep_run_fd(run);
	pfd.events = POLLIN;
	(void)poll(&pfd, pfd.fd == -1 ? 0 : 1,
	    (int)(st_sweep_run_timeout(run) * 1000) + 1);
}

/* Step run to its end; every result in *l. */
static void
drive(struct st_sweep_run *run, struct st_sweep_list *l)
{
	while (!st_sweep_run_step(run))
		wait_on(run);
	st_sweep_run_end(run, l);
}

/*
 * Step run until it waits on an ask: a pidfd (Linux) and the ask's next
 * look at the heartbeat, 0.1 s; the probe's wait is up to 2 s.
 */
static void
until_asking(struct st_sweep_run *run)
{
	for (;;) {
		assert_int_equal(st_sweep_run_step(run), 0);
#ifdef __linux__
		if (st_sweep_run_fd(run) == -1) {
			wait_on(run);
			continue;
		}
#endif
		if (st_sweep_run_timeout(run) <= 0.1)
			return;
		wait_on(run);
	}
}

/*
 * A stale runner is asked in the run's steps: the step returns while the
 * ask is under way, the run's fd is the runner's pidfd and its timeout
 * the ask's next look; one that beats is left running ('alive'), one that
 * does not is stopped and its row deleted.
 */
static void
test_stale_runner_asked_in_steps(void **state)
{
	struct unit		*u = *state;
	struct st_error		 err;
	struct st_sweep_run	*run;
	struct st_sweep_list	 l;
	st_gdb			*g = unit_gdb();
	char			 a[PATH_MAX], reason[256];
	pid_t			 pid;
	int			 status;

	project(u, g, "a", 0, a, sizeof(a));
	pid = stale_runner(g, a, 1);
	assert_int_equal(st_sweep_begin(g, 0, NULL, NULL, &run, &err), 0);
	until_asking(run);
	drive(run, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].action, ST_SWEEP_ALIVE);
	assert_string_equal(st_sweep_action_name(l.v[0].action), "alive");
	snprintf(reason, sizeof(reason), "heartbeat refreshed when asked; "
	    "runner running (pid %ld)", (long)pid);
	assert_string_equal(l.v[0].reason, reason);
	assert_int_equal(l.v[0].pid, pid);
	st_sweep_list_free(&l);
	assert_int_equal(kill(pid, 0), 0);

	/* The same runner deaf: asked, then SIGTERM; gone, its row too. */
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pid = stale_runner(g, a, 0);
	assert_int_equal(st_sweep_begin(g, 0, NULL, NULL, &run, &err), 0);
	drive(run, &l);
	assert_int_equal(l.v[0].action, ST_SWEEP_CLEANED);
	snprintf(reason, sizeof(reason), "stopped hung runner (pid %ld); no "
	    "pending work", (long)pid);
	assert_string_equal(l.v[0].reason, reason);
	st_sweep_list_free(&l);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Ended while it asks: the project is the next sweep's, row kept. */
	pid = stale_runner(g, a, 0);
	assert_int_equal(st_sweep_begin(g, 0, NULL, NULL, &run, &err), 0);
	until_asking(run);
	st_sweep_run_end(run, &l);
	assert_int_equal(l.v[0].action, ST_SWEEP_SKIPPED);
	assert_non_null(strstr(l.v[0].reason, "sweep stopped"));
	st_sweep_list_free(&l);
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	kid = 0;
	st_gdb_close(g);
}

/*
 * agent.max_runners 2 with one project's lock held: of three projects
 * with work, the run hands out no result before it is done, then one
 * would start and two are held back, saying why.
 */
static void
test_limit_holds_starts_back(void **state)
{
	struct unit			*u = *state;
	struct st_error			 err;
	struct st_sweep_run		*run;
	struct st_sweep_list		 l;
	const struct st_sweep_result	*r;
	struct pollfd			 pfd;
	st_gdb				*g = unit_gdb();
	char				 p[4][PATH_MAX], cfg[PATH_MAX];
	char				 name[8];
	pid_t				 holder;
	int				 i, fd, would = 0, held = 0, done;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		project(u, g, name, 1, p[i], sizeof(p[i]));
	}
	unit_path(u, cfg, sizeof(cfg), "home/config");
	unit_write(cfg, "agent.max_runners = 2\n");
	/* p0 has a runner: its lock held by a process of ours. */
	assert_int_equal(st_lock_acquire(p[0], &fd, &holder, &err), 0);

	assert_int_equal(st_sweep_begin(g, ST_SWEEP_DRY_RUN, NULL, NULL, &run,
	    &err), 0);
	for (;;) {
		done = st_sweep_run_step(run);
		if (!done)
			assert_null(st_sweep_run_next(run));
		if (done)
			break;
		pfd.fd = st_sweep_run_fd(run);
		pfd.events = POLLIN;
		(void)poll(&pfd, pfd.fd == -1 ? 0 : 1,
		    (int)(st_sweep_run_timeout(run) * 1000) + 1);
	}
	for (i = 0; i < 4; i++)
		assert_non_null(st_sweep_run_next(run));
	st_sweep_run_end(run, &l);
	for (i = 1; i < 4; i++) {
		r = result_of(&l, p[i]);
		if (r->action == ST_SWEEP_WOULD_START)
			would++;
		else if (r->action == ST_SWEEP_NONE && strstr(r->reason,
		    "not started: agent.max_runners (2) reached, 2 runners "
		    "alive") != NULL)
			held++;
	}
	assert_int_equal(would, 1);
	assert_int_equal(held, 2);
	st_sweep_list_free(&l);

	/* No limit: every project with work and no runner. */
	unit_write(cfg, "agent.max_runners = 0\n");
	assert_int_equal(st_sweep(g, ST_SWEEP_DRY_RUN, &l, &err), 0);
	for (i = 1; i < 4; i++)
		assert_int_equal(result_of(&l, p[i])->action,
		    ST_SWEEP_WOULD_START);
	st_sweep_list_free(&l);
	st_lock_release(fd);
	while (waitpid(-1, NULL, 0) > 0)
		;
	st_gdb_close(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps_never_wait,
		    unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_end_early_kills_and_reaps,
		    unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_caller_reaps_the_probe,
		    unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(
		    test_stale_runner_asked_in_steps, unit_setup,
		    kid_teardown),
		cmocka_unit_test_setup_teardown(test_limit_holds_starts_back,
		    unit_setup, unit_teardown),
	};

	return (unit_run_group(tests));
}
