/*
 * runners_test.c -- the runners table's judgements (SPEC 3, 11.2, 11.6):
 * a heartbeat's age is computed by SQLite whatever form the text has, and
 * a row is alive only when its PID holds the project's lock.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/wait.h>

#include <signal.h>

#include "unit.h"

static pid_t	child;		/* killed by teardown, pass or fail */

static int
teardown(void **state)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	return (unit_teardown(state));
}

static void
gdb_path(const struct unit *u, char *buf, size_t len)
{
	snprintf(buf, len, "%s/steroids.db", u->home);
}

/* A row with the given heartbeat, as SQL (SQLite text, ISO, ...). */
static void
row(const struct unit *u, const char *id, long pid, const char *project,
    const char *heartbeat_sql)
{
	char	db[PATH_MAX], sql[PATH_MAX * 2];

	gdb_path(u, db, sizeof(db));
	snprintf(sql, sizeof(sql), "INSERT INTO runners (id, status, pid, "
	    "project_path, started_at, heartbeat_at) VALUES ('%s', 'running', "
	    "%ld, '%s', datetime('now'), %s)", id, pid, project,
	    heartbeat_sql);
	unit_sql(db, sql);
}

static int
stale(st_gdb *g, const char *id, long secs)
{
	struct st_error	err;
	int		s = -1;

	assert_int_equal(st_runner_stale(g, id, secs, &s, &err), 0);
	return (s);
}

/*
 * 11.2: the upstream tool killed healthy runners every minute by
 * comparing timestamps of two forms as text.  SQLite's own text and the
 * ISO form ('T' sorts after ' ') must both be aged by their real time.
 */
static void
test_stale_by_time_not_text(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;

	assert_int_equal(st_gdb_open(&g, &err), 0);
	row(u, "fresh", 1, "/p", "datetime('now', '-10 seconds')");
	row(u, "old", 1, "/p", "datetime('now', '-1000 seconds')");
	row(u, "iso-fresh", 1, "/p",
	    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 seconds')");
	row(u, "iso-old", 1, "/p",
	    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1000 seconds')");
	row(u, "iso-yesterday", 1, "/p",
	    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')");
	assert_int_equal(stale(g, "fresh", 300), 0);
	assert_int_equal(stale(g, "old", 300), 1);
	assert_int_equal(stale(g, "old", 5000), 0);
	assert_int_equal(stale(g, "iso-fresh", 300), 0);
	assert_int_equal(stale(g, "iso-old", 300), 1);
	assert_int_equal(stale(g, "iso-yesterday", 300), 1);
	/* No row: not stale (nothing to kill). */
	assert_int_equal(stale(g, "no-such-row", 300), 0);
	st_gdb_close(g);
}

/*
 * 11.6: a row is alive only when its PID holds the project's lock.  A
 * dead PID, a live unrelated PID (a reused one) beside a free lock, and a
 * live unrelated PID while another process holds the lock are all dead.
 */
static void
test_alive_only_with_the_lock(void **state)
{
	struct unit		*u = *state;
	struct st_runner	 r;
	char			 proj[PATH_MAX], dir[PATH_MAX], lock[PATH_MAX];
	char			 buf[32];
	pid_t			 dead, other;
	int			 fd;

	unit_path(u, proj, sizeof(proj), "p");
	assert_int_equal(mkdir(proj, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.steroids", proj);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(lock, sizeof(lock), "%s/runner.lock", dir);

	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	/* Off our stdout (a failed assert must not leave it open) and gone
	 * within a minute whatever happens. */
	if ((other = fork()) == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		alarm(60);
		pause();
		_exit(0);
	}
	assert_true(other > 0);
	child = other;

	memset(&r, 0, sizeof(r));
	r.project_path = proj;

	/* No lock file at all. */
	r.pid = dead;
	assert_int_equal(st_runner_holds_lock(&r), 0);
	r.pid = other;
	assert_int_equal(st_runner_holds_lock(&r), 0);

	/* We hold the lock and wrote our PID: only our row is alive. */
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	r.pid = getpid();
	assert_int_equal(st_runner_holds_lock(&r), 1);
	r.pid = other;
	assert_int_equal(st_runner_holds_lock(&r), 0);
	r.pid = dead;
	assert_int_equal(st_runner_holds_lock(&r), 0);

	/* Released (as the kernel does on any death): nobody is alive. */
	close(fd);
	r.pid = getpid();
	assert_int_equal(st_runner_holds_lock(&r), 0);
	r.pid = other;
	assert_int_equal(st_runner_holds_lock(&r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stale_by_time_not_text,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_alive_only_with_the_lock,
		    unit_setup, teardown),
	};

	return (unit_run_group(tests));
}
