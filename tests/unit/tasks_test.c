/*
 * tasks_test.c -- lib/tasks.c: the next-task order (SPEC 4), claiming,
 * the runner's outcome rules (SPEC 6) and the audit row of every change;
 * the counts the agent reads, and st_pdb_writer_idle (lib/projectdb.c).
 */
#include "config.h"

#include <sys/wait.h>

#include "unit.h"

struct fixture {
	char	 dir[PATH_MAX];
	char	 db[PATH_MAX + 32];
	st_pdb	*p;
};

static void
open_project(struct unit *u, struct fixture *f)
{
	struct st_error	err;

	unit_project(u, "proj", f->dir, sizeof(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/.steroids/steroids.db", f->dir);
	if (st_pdb_open(f->dir, 0, &f->p, &err) == -1)
		fail_msg("open: %s", err.msg);
}

static void
add(struct fixture *f, const char *title, const char *section, char id[37])
{
	struct st_error	err;

	if (st_task_add(f->p, title, section, NULL, "tester", "human", id,
	    &err) == -1)
		fail_msg("add %s: %s", title, err.msg);
}

/* Claim the next task and return its title (caller frees); NULL: none. */
static char *
claim(struct fixture *f, const char **action)
{
	struct st_error	 err;
	struct st_task	 t;
	char		*title;
	int		 found;

	if (st_task_claim(f->p, "runner-1", &t, action, &found, &err) == -1)
		fail_msg("claim: %s", err.msg);
	if (!found)
		return (NULL);
	assert_string_equal(t.status, "in_progress");
	title = strdup(t.title);
	st_task_free(&t);
	return (title);
}

static void
finish_title(struct fixture *f, const char *title, int outcome, long max,
    const char *want)
{
	struct st_error	err;
	char		sql[256], to[ST_TASK_STATUS_LEN], *id;

	snprintf(sql, sizeof(sql), "SELECT id FROM tasks WHERE title = '%s'",
	    title);
	id = unit_query(f->db, sql);
	assert_non_null(id);
	if (st_task_finish(f->p, id, outcome, max, "runner-1", "test", to,
	    &err) == -1)
		fail_msg("finish: %s", err.msg);
	assert_string_equal(to, want);
	free(id);
}

static void
test_next_order(void **state)
{
	struct fixture	 f;
	const char	*want[] = { "in review", "started", "a1", "a2", "b1",
	    "none1", "none2" };
	const char	*action;
	char		 id[37], *title;
	size_t		 i;

	open_project(*state, &f);
	add(&f, "none1", NULL, id);
	add(&f, "b1", "B", id);
	add(&f, "a2", "A", id);
	add(&f, "none2", NULL, id);
	add(&f, "a1", "A", id);
	add(&f, "started", NULL, id);
	add(&f, "in review", "B", id);
	add(&f, "done", "A", id);
	/* Same created_at for all: rowid breaks ties; a1 is made older. */
	unit_sql(f.db, "UPDATE tasks SET created_at = '2020-01-01 00:00:00';"
	    "UPDATE tasks SET created_at = '2019-01-01 00:00:00' WHERE "
	    "title = 'a1';"
	    "UPDATE tasks SET status = 'in_progress' WHERE title = 'started';"
	    "UPDATE tasks SET status = 'review' WHERE title = 'in review';"
	    "UPDATE tasks SET status = 'completed' WHERE title = 'done';"
	    "UPDATE sections SET position = 5 WHERE name = 'B';"
	    "UPDATE sections SET position = 2 WHERE name = 'A';");

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		title = claim(&f, &action);
		if (title == NULL || strcmp(title, want[i]) != 0)
			fail_msg("claim %zu: got '%s', want '%s'", i,
			    title != NULL ? title : "(none)", want[i]);
		assert_string_equal(action, i == 0 ? "review" : i == 1 ?
		    "resume" : "start");
		finish_title(&f, title, ST_TASK_DONE, 3, "completed");
		free(title);
	}
	assert_null(claim(&f, &action));
	assert_null(action);
	st_pdb_close(f.p);
}

/*
 * created_at written by another tool as ISO 8601 ("T", "Z", milliseconds)
 * is ordered by time, not as text (' ' sorts before 'T': SPEC 11.2).
 */
static void
test_next_order_iso_times(void **state)
{
	struct fixture	 f;
	const char	*action;
	char		 id[37], *title;

	open_project(*state, &f);
	add(&f, "later", NULL, id);
	add(&f, "earlier", NULL, id);
	unit_sql(f.db, "UPDATE tasks SET created_at = '2024-01-01 10:00:00' "
	    "WHERE title = 'later';"
	    "UPDATE tasks SET created_at = '2024-01-01T09:00:00.000Z' "
	    "WHERE title = 'earlier'");
	title = claim(&f, &action);
	assert_non_null(title);
	assert_string_equal(title, "earlier");
	free(title);
	st_pdb_close(f.p);
}

static void
test_next_is_read_only(void **state)
{
	struct fixture	 f;
	struct st_error	 err;
	struct st_task	 t;
	const char	*action;
	char		 id[37];
	int		 found;

	open_project(*state, &f);
	add(&f, "only", NULL, id);
	assert_int_equal(st_task_next(f.p, &t, &action, &found, &err), 0);
	assert_true(found);
	assert_string_equal(t.title, "only");
	assert_string_equal(action, "start");
	st_task_free(&t);
	unit_assert_query(f.db, "SELECT status FROM tasks", "pending");
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM audit"), 1);
	st_pdb_close(f.p);
}

static void
test_claim_audits(void **state)
{
	struct fixture	 f;
	const char	*action;
	char		 id[37], *title, sql[256];

	open_project(*state, &f);
	add(&f, "t", NULL, id);
	title = claim(&f, &action);
	assert_string_equal(title, "t");
	free(title);
	snprintf(sql, sizeof(sql), "SELECT from_status || '>' || to_status || "
	    "' ' || actor || ' ' || actor_type || ' ' || notes FROM audit "
	    "WHERE task_id = '%s' ORDER BY id DESC LIMIT 1", id);
	unit_assert_query(f.db, sql,
	    "pending>in_progress runner-1 runner runner: start");
	/* A dead runner's task is resumed, and that is in the history too. */
	title = claim(&f, &action);
	assert_string_equal(title, "t");
	assert_string_equal(action, "resume");
	free(title);
	unit_assert_query(f.db, sql,
	    "in_progress>in_progress runner-1 runner runner: resume");
	st_pdb_close(f.p);
}

static void
test_outcomes(void **state)
{
	struct fixture	 f;
	const char	*action;
	char		 id[37], *title;

	open_project(*state, &f);
	add(&f, "flaky", NULL, id);

	/* Failures go back to pending until max_failures, then failed. */
	title = claim(&f, &action);
	finish_title(&f, title, ST_TASK_FAILED, 3, "pending");
	free(title);
	unit_assert_query(f.db, "SELECT failure_count || ' ' || "
	    "(last_failure_at IS NOT NULL) FROM tasks", "1 1");
	title = claim(&f, &action);
	finish_title(&f, title, ST_TASK_FAILED, 3, "pending");
	free(title);
	/* Interrupted (the runner was stopped): pending, not counted. */
	title = claim(&f, &action);
	finish_title(&f, title, ST_TASK_INTERRUPTED, 3, "pending");
	free(title);
	unit_assert_query(f.db, "SELECT failure_count FROM tasks", "2");
	title = claim(&f, &action);
	finish_title(&f, title, ST_TASK_FAILED, 3, "failed");
	free(title);
	unit_assert_query(f.db, "SELECT status || ' ' || failure_count FROM "
	    "tasks", "failed 3");
	assert_null(claim(&f, &action));
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM audit WHERE "
	    "to_status = 'failed' AND from_status = 'in_progress'"), 1);
	st_pdb_close(f.p);
}

static void
test_handler_status_kept(void **state)
{
	struct fixture	 f;
	struct st_error	 err;
	const char	*action;
	char		 id[37], from[ST_TASK_STATUS_LEN], *title;

	open_project(*state, &f);
	add(&f, "disputed", NULL, id);
	title = claim(&f, &action);
	free(title);
	assert_int_equal(st_task_set_status(f.p, id, "disputed", "runner-1",
	    "handler", NULL, from, &err), 0);
	assert_string_equal(from, "in_progress");
	finish_title(&f, "disputed", ST_TASK_DONE, 3, "disputed");

	add(&f, "done-but-failed", NULL, id);
	title = claim(&f, &action);
	free(title);
	assert_int_equal(st_task_set_status(f.p, id, "completed", "runner-1",
	    "handler", NULL, from, &err), 0);
	finish_title(&f, "done-but-failed", ST_TASK_FAILED, 3, "completed");
	/* The failure still counts, so the history shows it. */
	unit_assert_query(f.db, "SELECT status || ' ' || failure_count FROM "
	    "tasks WHERE title = 'done-but-failed'", "completed 1");
	/* No runner audit row overrode the handler's status. */
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM audit WHERE "
	    "actor_type = 'runner' AND from_status <> 'pending'"), 0);

	/* Back to pending by the handler, then failed: still counted to max. */
	add(&f, "retries-itself", NULL, id);
	title = claim(&f, &action);
	free(title);
	assert_int_equal(st_task_set_status(f.p, id, "pending", "runner-1",
	    "handler", NULL, from, &err), 0);
	finish_title(&f, "retries-itself", ST_TASK_FAILED, 2, "pending");
	title = claim(&f, &action);
	free(title);
	assert_int_equal(st_task_set_status(f.p, id, "pending", "runner-1",
	    "handler", NULL, from, &err), 0);
	finish_title(&f, "retries-itself", ST_TASK_FAILED, 2, "failed");
	unit_assert_query(f.db, "SELECT status || ' ' || failure_count FROM "
	    "tasks WHERE title = 'retries-itself'", "failed 2");
	st_pdb_close(f.p);
}

/* A skipped section is parked: not chosen, not counted as work. */
static void
test_skipped_section(void **state)
{
	struct fixture	 f;
	struct st_error	 err;
	const char	*action;
	char		 id[37], *title;
	long		 n;

	open_project(*state, &f);
	add(&f, "parked", "later", id);
	add(&f, "parked too", "later", id);
	unit_sql(f.db, "UPDATE sections SET skipped = 1;"
	    "UPDATE tasks SET status = 'in_progress' WHERE title = 'parked'");
	assert_int_equal(st_pdb_pending(f.p, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(claim(&f, &action));
	add(&f, "free", NULL, id);
	assert_int_equal(st_pdb_pending(f.p, &n, &err), 0);
	assert_int_equal(n, 1);
	title = claim(&f, &action);
	assert_string_equal(title, "free");
	free(title);
	/*
	 * Its statements are kept on the connection: each count is asked
	 * anew, and sees what another connection committed since.
	 */
	assert_int_equal(st_pdb_work(f.p, &n, &err), 0);
	assert_int_equal(n, 1);
	unit_sql(f.db, "UPDATE sections SET skipped = 0");
	assert_int_equal(st_pdb_work(f.p, &n, &err), 0);
	assert_int_equal(n, 3);	/* parked, parked too, free (claimed) */
	assert_int_equal(st_pdb_pending(f.p, &n, &err), 0);
	assert_int_equal(n, 3);
	unit_sql(f.db, "UPDATE sections SET skipped = 1");
	assert_int_equal(st_pdb_pending(f.p, &n, &err), 0);
	assert_int_equal(n, 1);
	unit_sql(f.db, "UPDATE sections SET skipped = 0");
	title = claim(&f, &action);
	assert_string_equal(title, "parked");
	assert_string_equal(action, "resume");
	free(title);
	st_pdb_close(f.p);
}

static void
test_bad_input(void **state)
{
	struct fixture	 f;
	struct st_error	 err;
	struct st_task	 t;
	char		 id[37], id2[37], title[ST_TASK_TITLE_MAX + 2];

	open_project(*state, &f);
	assert_int_equal(st_task_add(f.p, "", NULL, NULL, NULL, NULL, id,
	    &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	memset(title, 'x', sizeof(title) - 1);
	title[sizeof(title) - 1] = '\0';
	assert_int_equal(st_task_add(f.p, title, NULL, NULL, NULL, NULL, id,
	    &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM tasks"), 0);
	title[ST_TASK_TITLE_MAX] = '\0';
	add(&f, title, NULL, id);

	assert_int_equal(st_task_set_status(f.p, id, "done", NULL, NULL, NULL,
	    NULL, &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	assert_int_equal(st_task_set_status(f.p, "nope", "completed", NULL,
	    NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_int_equal(st_task_get(f.p, "nope", &t, &err), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	/* Same status again: no change, no audit row. */
	assert_int_equal(st_task_set_status(f.p, id, "pending", NULL, NULL,
	    NULL, NULL, &err), 0);
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM audit"), 1);

	/* An ambiguous prefix is refused, not guessed. */
	add(&f, "second", NULL, id2);
	unit_sql(f.db, "UPDATE tasks SET id = 'abc1' WHERE title = 'second'");
	unit_sql(f.db, "UPDATE tasks SET id = 'abc2' WHERE title <> 'abc1' "
	    "AND title <> 'second'");
	assert_int_equal(st_task_get(f.p, "abc", &t, &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	assert_int_equal(st_task_get(f.p, "abc1", &t, &err), 0);
	assert_string_equal(t.title, "second");
	st_task_free(&t);
	st_pdb_close(f.p);
}

/*
 * st_task_counts keeps its statement on the connection (the agent counts
 * again and again on one it keeps): each call sees what was committed
 * since by another connection (a new read transaction each time).
 */
static void
test_counts_kept_statement(void **state)
{
	struct fixture	 f;
	struct st_error	 err;
	st_pdb		*r;
	long		 c[ST_TASK_NSTATUS];
	int		 i;

	open_project(*state, &f);
	st_pdb_close(f.p);
	if (st_pdb_open(f.dir, ST_PDB_READONLY | ST_PDB_QUICK, &r, &err) == -1)
		fail_msg("open: %s", err.msg);
	for (i = 0; i < 3; i++) {
		assert_int_equal(st_task_counts(r, c, NULL, &err), 0);
		assert_int_equal(c[0], i);	/* pending */
		unit_sql(f.db, i == 0 ? "INSERT INTO tasks (id, title) VALUES "
		    "('a', 'a')" : i == 1 ? "INSERT INTO tasks (id, title) "
		    "VALUES ('b', 'b')" : "UPDATE tasks SET status = "
		    "'completed' WHERE id = 'a'");
	}
	assert_int_equal(st_task_counts(r, c, NULL, &err), 0);
	assert_int_equal(c[0], 1);
	assert_int_equal(c[3], 1);	/* completed */
	st_pdb_close(r);
}

/*
 * Another process runs sql on db and holds on (its transaction open)
 * until told to go on: *pid, and the fd that tells it (close it).
 */
static int
hold_open(const char *db, const char *sql, pid_t *pid)
{
	sqlite3	*h;
	char	 c;
	int	 ready[2], go[2];

	if (pipe(ready) == -1 || pipe(go) == -1)
		fail_msg("pipe: %s", strerror(errno));
	if ((*pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (*pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (sqlite3_open(db, &h) != SQLITE_OK ||
		    sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		(void)write(ready[1], "r", 1);
		(void)read(go[0], &c, 1);
		(void)sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(h);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		fail_msg("the holder of %s failed: %s", db, sql);
	close(ready[0]);
	return (go[1]);
}

static void
release(pid_t pid, int fd)
{
	int	status;

	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * st_pdb_writer_idle: 0 while another process holds a write transaction
 * (WAL: the -shm write lock; rollback journal: RESERVED), 1 when none
 * does, a reader's transaction included.  The agent ends its re-checks
 * on 1 (SPEC 8, "Trap"): a wrong 1 loses a wakeup.
 */
static void
test_writer_idle(void **state)
{
	struct fixture	 f;
	pid_t		 pid;
	int		 fd;

	open_project(*state, &f);
	st_pdb_close(f.p);
	assert_int_equal(st_pdb_writer_idle(f.dir), 1);

	fd = hold_open(f.db, "BEGIN IMMEDIATE; INSERT INTO tasks (id, title) "
	    "VALUES ('w', 'w')", &pid);
	assert_int_equal(st_pdb_writer_idle(f.dir), 0);
	release(pid, fd);
	assert_int_equal(st_pdb_writer_idle(f.dir), 1);

	fd = hold_open(f.db, "BEGIN; SELECT count(*) FROM tasks", &pid);
	assert_int_equal(st_pdb_writer_idle(f.dir), 1);
	release(pid, fd);

	unit_sql(f.db, "PRAGMA journal_mode = DELETE");
	fd = hold_open(f.db, "BEGIN IMMEDIATE; INSERT INTO tasks (id, title) "
	    "VALUES ('r', 'r')", &pid);
	assert_int_equal(st_pdb_writer_idle(f.dir), 0);
	release(pid, fd);
	assert_int_equal(st_pdb_writer_idle(f.dir), 1);
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM tasks"), 2);

	unit_path(*state, f.dir, sizeof(f.dir), "nowhere");
	assert_int_equal(st_pdb_writer_idle(f.dir), -1);
}

/* Open a committing connection of our own, as a writer that keeps it. */
static sqlite3 *
writer(const char *db)
{
	sqlite3	*w;

	if (sqlite3_open(db, &w) != SQLITE_OK ||
	    sqlite3_exec(w, "PRAGMA wal_autocheckpoint = 0", NULL, NULL,
	    NULL) != SQLITE_OK)
		fail_msg("open %s: %s", db, sqlite3_errmsg(w));
	return (w);
}

static void
wsql(sqlite3 *w, const char *sql)
{
	if (sqlite3_exec(w, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(w));
}

/*
 * A write transaction left open with 500 rows, spilled to the WAL (a
 * cache of one page cannot hold them): frames written, none published.
 */
static void
spill(sqlite3 *w, char tag)
{
	char	sql[256];
	int	cur = 0, hi = 0;

	wsql(w, "PRAGMA cache_size = 1; BEGIN IMMEDIATE");
	snprintf(sql, sizeof(sql), "WITH RECURSIVE n(i) AS (SELECT 1 UNION "
	    "ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO tasks (id, "
	    "title) SELECT '%c' || i, printf('%%.200c', 'x') FROM n", tag);
	wsql(w, sql);
	assert_int_equal(sqlite3_db_status(w, SQLITE_DBSTATUS_CACHE_SPILL,
	    &cur, &hi, 1), SQLITE_OK);
	assert_true(cur > 0);
}

/*
 * A project DB with one task committed by a writer left open (returned),
 * and its -shm opened read-only (*fd; close it after the writer).
 */
static sqlite3 *
committed(struct unit *u, struct fixture *f, char *shm, size_t len, int *fd)
{
	sqlite3	*w;

	open_project(u, f);
	st_pdb_close(f->p);
	w = writer(f->db);
	wsql(w, "INSERT INTO tasks (id, title) VALUES ('a', 'a')");
	snprintf(shm, len, "%s-shm", f->db);
	if ((*fd = open(shm, O_RDONLY | O_CLOEXEC)) == -1)
		fail_msg("%s: %s", shm, strerror(errno));
	return (w);
}

/*
 * st_pdb_commit_since: 1 once for each published commit, none for a
 * transaction still open or a WAL restarted or truncated; nothing while the
 * header is half written.  The agent counts again on 1 (SPEC 8, "Trap"):
 * a 1 too early costs a step of the ladder, a 0 too many the 100 us tick.
 */
static void
test_commit_since(void **state)
{
	struct fixture	 f;
	unsigned char	 mark[ST_PDB_MARK_LEN] = { 0 }, hdr[2 * ST_PDB_MARK_LEN];
	char		 shm[PATH_MAX + 40];
	sqlite3		*w;
	uint32_t	 frames = 3, cksum = 0x5eed;
	int		 fd;

	w = committed(*state, &f, shm, sizeof(shm), &fd);
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);	/* from none */
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	wsql(w, "INSERT INTO tasks (id, title) VALUES ('b', 'b')");
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);

	/* Spilled to the WAL: unpublished until COMMIT. */
	spill(w, 's');
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	wsql(w, "COMMIT");
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);

	/*
	 * Checkpointed whole, the WAL restarts at the next writer's first
	 * frame, a spill here: the header changes then, before any commit.
	 */
	wsql(w, "PRAGMA wal_checkpoint(PASSIVE)");
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	spill(w, 'r');
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	wsql(w, "COMMIT");
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);

	/* Checkpointed and truncated: the header changes, with no commit. */
	wsql(w, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	wsql(w, "INSERT INTO tasks (id, title) VALUES ('c', 'c')");
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);
	sqlite3_close(w);
	close(fd);	/* after the connection: its locks go with any fd */
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM tasks"), 1003);

	/*
	 * A header being written is not a commit yet: SQLite writes the
	 * second copy, then the first.  Here the second is new and the
	 * first half so (its frame count new, its checksum not yet).
	 */
	unit_path(*state, shm, sizeof(shm), "fake-shm");
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr + 48 + 16, &frames, sizeof(frames));
	memcpy(hdr + 48 + 40, &cksum, sizeof(cksum));
	memcpy(hdr + 16, &frames, sizeof(frames));
	if ((fd = open(shm, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		fail_msg("%s: %s", shm, strerror(errno));
	memset(mark, 0, sizeof(mark));
	assert_int_equal(st_pdb_commit_since(fd, mark), 0);
	assert_int_equal(pwrite(fd, hdr + 48, 48, 0), 48);	/* the first done */
	assert_int_equal(st_pdb_commit_since(fd, mark), 1);
	assert_int_equal(ftruncate(fd, 60), 0);
	assert_int_equal(st_pdb_commit_since(fd, mark), -1);
	close(fd);
	assert_int_equal(st_pdb_commit_since(-1, mark), -1);
}

/*
 * st_pdb_header: the same bytes while nothing commits, others after each
 * commit; -1 while the copies differ (being written) or unreadable.  The
 * agent trusts a registry answer read under a header still the same.
 */
static void
test_header(void **state)
{
	static const char *const commits[] = {	/* each changes a row */
		"UPDATE tasks SET title = 'x'",
		"DELETE FROM tasks",
		"INSERT INTO tasks (id, title) VALUES ('b', 'b')",
	};
	struct fixture	 f;
	unsigned char	 a[ST_PDB_MARK_LEN], b[ST_PDB_MARK_LEN];
	unsigned char	 hdr[2 * ST_PDB_MARK_LEN];
	char		 shm[PATH_MAX + 40];
	sqlite3		*w;
	int		 fd, i;

	w = committed(*state, &f, shm, sizeof(shm), &fd);
	assert_int_equal(st_pdb_header(fd, a), 0);
	assert_int_equal(unit_count(f.db, "SELECT count(*) FROM tasks"), 1);
	assert_int_equal(st_pdb_header(fd, b), 0);
	assert_memory_equal(a, b, sizeof(a));	/* a read commits nothing */
	for (i = 0; i < 3; i++) {
		wsql(w, commits[i]);
		assert_int_equal(st_pdb_header(fd, b), 0);
		assert_memory_not_equal(a, b, sizeof(a));
		memcpy(a, b, sizeof(a));
	}
	sqlite3_close(w);
	close(fd);	/* after the connection: its locks go with any fd */

	unit_path(*state, shm, sizeof(shm), "fake-shm");
	memset(hdr, 0, sizeof(hdr));
	hdr[48 + 8] = 1;	/* the second copy written, the first not */
	if ((fd = open(shm, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		fail_msg("%s: %s", shm, strerror(errno));
	assert_int_equal(st_pdb_header(fd, a), -1);
	assert_int_equal(pwrite(fd, hdr + 48, 48, 0), 48);
	assert_int_equal(st_pdb_header(fd, a), 0);
	assert_int_equal(a[8], 1);
	assert_int_equal(ftruncate(fd, 60), 0);
	assert_int_equal(st_pdb_header(fd, a), -1);
	close(fd);
	assert_int_equal(st_pdb_header(-1, a), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_next_order),
		st_test(test_next_order_iso_times),
		st_test(test_next_is_read_only),
		st_test(test_claim_audits),
		st_test(test_outcomes),
		st_test(test_handler_status_kept),
		st_test(test_skipped_section),
		st_test(test_bad_input),
		st_test(test_counts_kept_statement),
		st_test(test_writer_idle),
		st_test(test_commit_since),
		st_test(test_header),
	};

	return (unit_run_group(tests));
}
