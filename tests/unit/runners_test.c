/*
 * runners_test.c -- the runners table's judgements (SPEC 3, 7, 11.2,
 * 11.6): a heartbeat's age is computed by SQLite whatever form the text
 * has; one of our rows is alive only when its PID holds the project's
 * lock, and a row of a runner that takes none (the upstream tool's) when
 * its writer lives and beats.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <signal.h>

#include "unit.h"
#include "st-int.h"

static pid_t	child;		/* killed by teardown, pass or fail */

static int
teardown(void **state)
{
	unit_reap(&child);
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
	other = unit_sleeper();
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

/*
 * The sweep judges the rows by the lock as its probe child saw it, and
 * opens nothing of the project's itself (the project here does not even
 * exist): the holder seen, if still the same process (its start time),
 * is the runner; one gone since, or a PID another process's now, has no
 * lock, and its row counts only by the lockless rule; a lock that could
 * not be read fails the project.
 */
static void
test_check_by_lock_seen(void **state)
{
	struct unit		*u = *state;
	struct st_lockseen	 seen;
	struct st_runstate	 rs;
	struct st_error		 err;
	const char		*proj = "/nonexistent-steroids-test/p";
	st_gdb			*g;
	time_t			 start;
	pid_t			 dead;

	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	child = unit_sleeper();
	assert_int_equal(st_proc_start_time(child, &start), 1);
	assert_int_equal(st_proc_same(child, start), 1);
	assert_int_equal(st_proc_same(child, start + 100), 0);
	assert_int_equal(st_proc_same(dead, start), 0);
	assert_int_equal(st_gdb_open(&g, &err), 0);
	row(u, "mine", child, proj, "datetime('now')");
	row(u, "gone", dead, proj, "datetime('now')");

	/* Held by the sleeper, as seen: it runs; the dead row would go. */
	seen.held = 1;
	seen.holder = child;
	seen.start = start;
	assert_int_equal(st_runners_check(g, proj, 300, 1, NULL, &seen, &rs,
	    &err), 0);
	assert_int_equal(rs.held, 1);
	assert_int_equal(rs.running, child);
	assert_int_equal(rs.cleaned, 1);
	assert_null(rs.stop);

	/* The holder seen has exited since: its lock went with it. */
	seen.holder = dead;
	assert_int_equal(st_runners_check(g, proj, 300, 1, NULL, &seen, &rs,
	    &err), 0);
	assert_int_equal(rs.held, 0);
	assert_int_equal(rs.running, child);	/* by the lockless rule */
	assert_int_equal(rs.lockless, child);

	/* The PID seen is another process's now (another start time). */
	seen.holder = child;
	seen.start = start + 100;
	assert_int_equal(st_runners_check(g, proj, 300, 1, NULL, &seen, &rs,
	    &err), 0);
	assert_int_equal(rs.held, 0);
	assert_int_equal(rs.lockless, child);

	/* Free as seen: the same. */
	seen.held = 0;
	seen.holder = 0;
	seen.start = 0;
	assert_int_equal(st_runners_check(g, proj, 300, 1, NULL, &seen, &rs,
	    &err), 0);
	assert_int_equal(rs.held, 0);
	assert_int_equal(rs.running, child);

	/* Could not be read: the project's sweep fails, saying so. */
	seen.held = -1;
	assert_int_equal(st_runners_check(g, proj, 300, 1, NULL, &seen, &rs,
	    &err), -1);
	assert_non_null(strstr(err.msg, "cannot read the runner lock"));

	st_gdb_close(g);
}

/*
 * The lock as a probe sees it: its holder with its start time; a PID in
 * the file of a process that started after the file was last written is
 * no holder's (an earlier holder's PID, reused): holder 0, a runner
 * starting.
 */
static void
test_lock_seen(void **state)
{
	struct unit		*u = *state;
	struct st_lockseen	 seen;
	struct timeval		 tv[2];
	char			 proj[PATH_MAX], lock[PATH_MAX], buf[32];
	time_t			 start;
	int			 fd;

	unit_path(u, proj, sizeof(proj), "p");
	assert_int_equal(mkdir(proj, 0700), 0);
	snprintf(lock, sizeof(lock), "%s/.steroids", proj);
	assert_int_equal(mkdir(lock, 0700), 0);
	strlcat(lock, "/runner.lock", sizeof(lock));
	assert_int_equal(st_lock_seen(proj, &seen), 0);	/* no file */

	child = unit_sleeper();
	assert_int_equal(st_proc_start_time(child, &start), 1);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	snprintf(buf, sizeof(buf), "%ld\n", (long)child);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	assert_int_equal(st_lock_seen(proj, &seen), 1);
	assert_int_equal(seen.holder, child);
	assert_true(seen.start >= start - 1 && seen.start <= start + 1);

	/* Written an hour before the process with that PID started. */
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 3600;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	assert_int_equal(utimes(lock, tv), 0);
	assert_int_equal(st_lock_seen(proj, &seen), 1);
	assert_int_equal(seen.holder, 0);
	assert_int_equal(seen.start, 0);

	close(fd);
	assert_int_equal(st_lock_seen(proj, &seen), 0);
}

/* A row as the upstream tool's daemon writes one: started_at and all. */
static void
urow(const struct unit *u, const char *id, long pid, const char *project,
    const char *started_sql, const char *heartbeat_sql)
{
	char	db[PATH_MAX], sql[PATH_MAX * 2];

	gdb_path(u, db, sizeof(db));
	snprintf(sql, sizeof(sql), "INSERT INTO runners (id, status, pid, "
	    "project_path, started_at, heartbeat_at) VALUES ('%s', 'running', "
	    "%ld, '%s', %s, %s)", id, pid, project, started_sql,
	    heartbeat_sql);
	unit_sql(db, sql);
}

static int
lockless(st_gdb *g, const char *project, const char *id)
{
	struct st_runner_list	l;
	struct st_error		err;
	size_t			i;
	int			state = -1;

	assert_int_equal(st_runners_list(g, project, &l, &err), 0);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].id, id) == 0)
			state = st_runner_lockless_state(&l.v[i]);
	st_runner_list_free(&l);
	return (state);
}

/*
 * SPEC 7: a row of a runner that takes no lock (the upstream tool's) is
 * alive when its PID is the process that wrote it, told by its start
 * against started_at, and its heartbeat is within 5 minutes.  A reused
 * PID (a process started after the row, or long before it) is dead; a
 * live writer that has not beaten for 5 minutes is stale; a row that
 * cannot be checked (no started_at) is taken as alive while it is fresh.
 */
static void
test_lockless_rows(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	pid_t		 dead, pid;
	const char	*now = "datetime('now')";

	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	child = unit_sleeper();
	assert_int_equal(st_gdb_open(&g, &err), 0);
	urow(u, "live", child, "/p", now, now);
	urow(u, "reused", child, "/p", "datetime('now', '-1 hour')", now);
	urow(u, "older", child, "/p", "datetime('now', '+1 hour')", now);
	urow(u, "stale", child, "/p", now, "datetime('now', '-301 seconds')");
	urow(u, "dead", dead, "/p", now, now);
	urow(u, "untold", child, "/p", "NULL", now);
	urow(u, "iso", child, "/p", "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
	    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 seconds')");
	assert_int_equal(lockless(g, "/p", "live"), ST_RUNNER_ALIVE);
	assert_int_equal(lockless(g, "/p", "reused"), ST_RUNNER_DEAD);
	assert_int_equal(lockless(g, "/p", "older"), ST_RUNNER_DEAD);
	assert_int_equal(lockless(g, "/p", "stale"), ST_RUNNER_STALE);
	assert_int_equal(lockless(g, "/p", "dead"), ST_RUNNER_DEAD);
	assert_int_equal(lockless(g, "/p", "untold"), ST_RUNNER_ALIVE);
	assert_int_equal(lockless(g, "/p", "iso"), ST_RUNNER_ALIVE);

	assert_int_equal(st_runner_lockless_live(g, "/p", 0, &pid, &err), 0);
	assert_int_equal(pid, child);
	assert_int_equal(st_runner_lockless_live(g, "/p", child, &pid, &err),
	    0);
	assert_int_equal(pid, 0);
	assert_int_equal(st_runner_lockless_live(g, "/q", 0, &pid, &err), 0);
	assert_int_equal(pid, 0);
	st_gdb_close(g);
}

/*
 * The upstream tool's daemon writes the project path as given, symlinks
 * and all; both tools register the canonical path.  A live row under
 * another spelling is the project's; a dead one is not looked at.
 */
static void
test_lockless_spelling(void **state)
{
	struct unit		*u = *state;
	struct st_runner_list	 l;
	struct st_error		 err;
	st_gdb			*g;
	char			 proj[PATH_MAX], link[PATH_MAX];
	char			 via[PATH_MAX + 8];
	pid_t			 dead, pid;
	const char		*now = "datetime('now')";

	unit_path(u, proj, sizeof(proj), "real");
	unit_path(u, link, sizeof(link), "link");
	assert_int_equal(mkdir(proj, 0700), 0);
	assert_int_equal(symlink(proj, link), 0);
	snprintf(via, sizeof(via), "%s/", link);
	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	child = unit_sleeper();
	assert_int_equal(st_gdb_open(&g, &err), 0);
	urow(u, "dead", dead, link, now, now);
	assert_int_equal(st_runners_list(g, proj, &l, &err), 0);
	assert_int_equal(l.n, 0);
	st_runner_list_free(&l);
	assert_int_equal(st_runner_lockless_live(g, proj, 0, &pid, &err), 0);
	assert_int_equal(pid, 0);

	urow(u, "live", child, via, now, now);
	assert_int_equal(st_runners_list(g, proj, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].id, "live");
	st_runner_list_free(&l);
	assert_int_equal(st_runner_lockless_live(g, proj, 0, &pid, &err), 0);
	assert_int_equal(pid, child);
	/* Not another project's: /p is not what the link resolves to. */
	assert_int_equal(st_runner_lockless_live(g, "/p", 0, &pid, &err), 0);
	assert_int_equal(pid, 0);
	st_gdb_close(g);
}

/*
 * The upstream tool's default: a parallel session's workstream runners,
 * each row naming its clone and the session, the session the project.
 * Such a live row is the project's runner; without the upstream tool's
 * tables the rows are read as before.
 */
static void
test_lockless_session(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX], proj[PATH_MAX], clone[PATH_MAX];
	char		 sql[PATH_MAX * 3];
	pid_t		 pid;
	const char	*now = "datetime('now')";

	unit_path(u, proj, sizeof(proj), "p");
	unit_path(u, clone, sizeof(clone), "p/ws-1");
	assert_int_equal(mkdir(proj, 0700), 0);
	assert_int_equal(mkdir(clone, 0700), 0);
	child = unit_sleeper();
	assert_int_equal(st_gdb_open(&g, &err), 0);
	urow(u, "ws", child, clone, now, now);
	assert_int_equal(st_runner_lockless_live(g, proj, 0, &pid, &err), 0);
	assert_int_equal(pid, 0);
	st_gdb_close(g);

	gdb_path(u, db, sizeof(db));
	snprintf(sql, sizeof(sql), "ALTER TABLE runners ADD COLUMN "
	    "parallel_session_id TEXT; CREATE TABLE parallel_sessions (id TEXT "
	    "PRIMARY KEY, project_path TEXT NOT NULL, status TEXT NOT NULL); "
	    "INSERT INTO parallel_sessions VALUES ('s1', '%s', 'running'); "
	    "UPDATE runners SET parallel_session_id = 's1'", proj);
	unit_sql(db, sql);
	assert_int_equal(st_gdb_open(&g, &err), 0);
	assert_int_equal(st_runner_lockless_live(g, proj, 0, &pid, &err), 0);
	assert_int_equal(pid, child);
	assert_int_equal(st_runner_lockless_live(g, clone, 0, &pid, &err), 0);
	assert_int_equal(pid, 0);
	st_gdb_close(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stale_by_time_not_text,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_alive_only_with_the_lock,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_by_lock_seen,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_seen,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockless_rows,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockless_spelling,
		    unit_setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockless_session,
		    unit_setup, teardown),
	};

	return (unit_run_group(tests));
}
