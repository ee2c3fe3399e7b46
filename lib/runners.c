/*
 * runners.c -- rows of the runners table in the global DB.  A row says
 * who runs where; the runner lock (lock.c) says whether it really does.
 * Ages are computed by SQLite from its own UTC text, never compared as
 * strings in C (the upstream tool killed healthy runners that way).
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st-int.h"

/* The upstream tool's "active": heartbeat_at > datetime('now','-5 minutes'). */
#define FRESH_SQL	"COALESCE(datetime(heartbeat_at) > " \
	"datetime('now', '-300 seconds'), 0)"

#define RUNNER_COLUMNS	"id, status, pid, project_path, current_task_id, " \
	"started_at, heartbeat_at, " \
	"CAST(strftime('%s', 'now') - strftime('%s', heartbeat_at) AS INTEGER), " \
	"COALESCE(CAST(strftime('%s', started_at) AS INTEGER), 0), " FRESH_SQL

/*
 * A row's writer wrote started_at after it started, within WRITER_STARTUP
 * (the upstream tool's daemon starts node and asks npm first); a process
 * that started more than WRITER_SLACK after started_at (whole seconds
 * both, and the boot time they are computed from) came after the writer:
 * its PID is a reused one.
 */
#define WRITER_SLACK	2
#define WRITER_STARTUP	300

/* A random (version 4) UUID. */
void
st_uuid(char out[37])
{
	uint8_t	b[16];

	arc4random_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * The upstream tool runs a project's tasks in parallel sessions by
 * default: each workstream runner's row names its clone of the project
 * and a parallel_session_id, whose parallel_sessions row names the
 * project.  Those tables are the upstream tool's; without them, none.
 */
#define SESSION_SQL	", (SELECT ps.project_path FROM parallel_sessions ps " \
	"WHERE ps.id = runners.parallel_session_id)"
#define LIST_WHERE	" FROM runners WHERE ?1 IS NULL OR project_path = ?1 " \
	"OR (project_path IS NOT NULL AND " FRESH_SQL ") ORDER BY " \
	"project_path, started_at"

/* The project a row is of: its session's, or its own path. */
const char *
st_runner_project(const struct st_runner *r)
{
	return (r->session_project != NULL ? r->session_project :
	    r->project_path);
}

static void
runner_free(struct st_runner *r)
{
	free(r->session_project);
	free(r->id);
	free(r->status);
	free(r->project_path);
	free(r->current_task_id);
	free(r->started_at);
	free(r->heartbeat_at);
}

/*
 * Is r a row of project (canonical)?  Ours write the canonical path, as
 * both tools register projects; the upstream tool's daemon writes the
 * path it was given, resolved but with symlinks kept.  So another
 * spelling counts when it resolves to project: asked only of a live
 * runner's row (st_runner_lockless_state), whose folder is there, so
 * resolving it cannot hang on a dead mount the way a stale row's might.
 */
static int
same_project(const struct st_runner *r, const char *project)
{
	const char	*path = st_runner_project(r);
	char		 real[PATH_MAX];

	if (path == NULL)
		return (0);
	if (strcmp(path, project) == 0)
		return (1);
	return (r->fresh && st_runner_lockless_state(r) == ST_RUNNER_ALIVE &&
	    realpath(path, real) != NULL && strcmp(real, project) == 0);
}

/* The registry's schema version, -1 if it cannot be read. */
static int
schema_version(st_gdb *g)
{
	sqlite3_stmt	*stmt;
	int		 v = -1;

	if (sqlite3_prepare_v2(g->db, "PRAGMA schema_version", -1, &stmt,
	    NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return (v);
}

/*
 * st_runners_list's statement, prepared once per connection (its parse
 * was most of a start's work on the agent's loop).  Fresh rows of other
 * paths: maybe another spelling, or a session's (same_project).  The
 * session's project where the upstream tool's tables are there; a list
 * prepared without them is prepared again once the schema changed, so
 * tables created later are seen.
 */
static sqlite3_stmt *
list_stmt(st_gdb *g, struct st_error *err)
{
	if (g->list != NULL && g->list_schema != -1 &&
	    schema_version(g) != g->list_schema) {
		sqlite3_finalize(g->list);
		g->list = NULL;
	}
	if (g->list != NULL)
		return (g->list);
	if (sqlite3_prepare_v2(g->db, "SELECT " RUNNER_COLUMNS SESSION_SQL
	    LIST_WHERE, -1, &g->list, NULL) == SQLITE_OK) {
		g->list_schema = -1;
		return (g->list);
	}
	g->list = NULL;
	if (st_sql_prepare(g->db, "SELECT " RUNNER_COLUMNS ", NULL" LIST_WHERE,
	    &g->list, err) == -1) {
		g->list = NULL;
		return (NULL);
	}
	if ((g->list_schema = schema_version(g)) == -1) {
		/* Not kept: prepared again next time. */
		g->list_schema = -2;
	}
	return (g->list);
}

/*
 * The rows of a project (NULL: all); a project's are matched by its
 * canonical path, or another spelling of it (same_project).
 */
int
st_runners_list(st_gdb *g, const char *project, struct st_runner_list *l,
    struct st_error *err)
{
	sqlite3_stmt		*stmt;
	struct st_runner	*r;
	size_t			 cap = 0;
	int			 rc;

	l->v = NULL;
	l->n = 0;
	if ((stmt = list_stmt(g, err)) == NULL)
		return (-1);
	st_sql_bind_path(stmt, 1, project);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (l->n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			l->v = st_xreallocarray(l->v, cap, sizeof(*l->v));
		}
		r = &l->v[l->n++];
		r->id = st_sql_strdup(stmt, 0);
		r->status = st_sql_strdup(stmt, 1);
		r->pid = (pid_t)sqlite3_column_int64(stmt, 2);
		r->project_path = st_sql_strdup(stmt, 3);
		r->current_task_id = st_sql_strdup(stmt, 4);
		r->started_at = st_sql_strdup(stmt, 5);
		r->heartbeat_at = st_sql_strdup(stmt, 6);
		r->heartbeat_age = (long)sqlite3_column_int64(stmt, 7);
		r->started_epoch = (long long)sqlite3_column_int64(stmt, 8);
		r->fresh = sqlite3_column_int(stmt, 9) != 0;
		r->session_project = st_sql_strdup(stmt, 10);
		if (project != NULL && !same_project(r, project)) {
			runner_free(r);
			l->n--;
		}
	}
	/* Kept for the next list; the reset ends its read transaction. */
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE) {
		st_runner_list_free(l);
		return (st_sql_err(g->db, rc, err, "cannot list runners"));
	}
	return (0);
}

void
st_runner_list_free(struct st_runner_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		runner_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Insert this process's row; id receives the new UUID. */
int
st_runner_insert(st_gdb *g, const char *project, pid_t pid, char id[37],
    struct st_error *err)
{
	sqlite3_stmt	*stmt;

	st_uuid(id);
	if (st_sql_prepare(g->db, "INSERT INTO runners (id, status, pid, "
	    "project_path, started_at, heartbeat_at) VALUES (?1, 'running', "
	    "?2, ?3, datetime('now'), datetime('now'))", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)pid);
	st_sql_bind_path(stmt, 3, project);
	return (st_sql_done(stmt, "cannot record runner", err));
}

/*
 * Heartbeat, and the status and current task with it (status NULL keeps
 * it; task NULL clears it).
 */
int
st_runner_heartbeat(st_gdb *g, const char *id, const char *status,
    const char *task, struct st_error *err)
{
	sqlite3_stmt	*stmt;

	if (st_sql_prepare(g->db, "UPDATE runners SET heartbeat_at = "
	    "datetime('now'), status = COALESCE(?2, status), "
	    "current_task_id = ?3 WHERE id = ?1", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	if (status != NULL)
		sqlite3_bind_text(stmt, 2, status, -1, SQLITE_TRANSIENT);
	if (task != NULL)
		sqlite3_bind_text(stmt, 3, task, -1, SQLITE_TRANSIENT);
	return (st_sql_done(stmt, "cannot update runner", err));
}

int
st_runner_delete(st_gdb *g, const char *id, struct st_error *err)
{
	sqlite3_stmt	*stmt;

	if (st_sql_prepare(g->db, "DELETE FROM runners WHERE id = ?1", &stmt,
	    err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	return (st_sql_done(stmt, "cannot delete runner", err));
}

/*
 * Is a runner's heartbeat older than secs?  Compared by SQLite, never in
 * C, and through datetime(): a heartbeat in ISO form ('T', 'Z', as the
 * upstream tool wrote them into the same DB) is never compared as text,
 * where 'T' sorts after ' ' and an old one would never be stale.  *stale
 * 0 for a row that is not there.
 */
int
st_runner_stale(st_gdb *g, const char *id, long secs, int *stale,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	char		 mod[48];
	int		 rc;

	*stale = 0;
	snprintf(mod, sizeof(mod), "-%ld seconds", secs);
	if (st_sql_prepare(g->db, "SELECT datetime(heartbeat_at) < "
	    "datetime('now', ?2) FROM runners WHERE id = ?1", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, mod, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*stale = sqlite3_column_int(stmt, 0) != 0;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (st_sql_err(g->db, rc, err, "cannot read runner"));
	return (0);
}

/*
 * Does this row's process hold its project's runner lock?  The lock is
 * the truth (the kernel drops it on any death); the PID written in the
 * lock file must be the row's, so a reused PID never looks alive.  When
 * the lock cannot be probed (folder unreadable) a dead PID is 0 and a
 * live one -1, "cannot tell": true enough to list it alive, not enough
 * to signal it (the PID may be another process's by now).
 */
int
st_runner_holds_lock(const struct st_runner *r)
{
	pid_t	holder;
	int	held;

	if (r->pid <= 0 || r->project_path == NULL)
		return (0);
	held = st_lock_probe(r->project_path, &holder);
	if (held == -1)
		return (st_pid_alive(r->pid) ? -1 : 0);
	return (held == 1 && holder == r->pid);
}

/*
 * Is r->pid still the process that wrote r?  1 yes; 0 no: gone, or a
 * reused PID (started after the row, or long before it); -1 cannot tell
 * (no start times on this system, or no started_at in the row).  A clock
 * stepped since the process started shifts its start as computed here
 * (Linux: from the boot time): a step beyond the slack reads as reused.
 */
int
st_runner_writer(const struct st_runner *r)
{
	time_t	start;

	switch (st_proc_start_time(r->pid, &start)) {
	case -1:
		return (0);
	case 0:
		return (-1);
	}
	if (r->started_epoch <= 0)
		return (-1);
	if ((long long)start > r->started_epoch + WRITER_SLACK ||
	    (long long)start < r->started_epoch - WRITER_STARTUP)
		return (0);
	return (1);
}

/*
 * A row judged as the upstream tool's runners must be, which take no
 * lock (SPEC 7): alive when its writer is (or cannot be told from a
 * reused PID) and its heartbeat is within ST_RUNNER_FRESH; stale when
 * its writer lives but has not beaten for that long, which the upstream
 * tool counts as no runner; dead otherwise.  Its process is never ours
 * to signal.
 */
int
st_runner_lockless_state(const struct st_runner *r)
{
	if (r->pid <= 0 || st_runner_writer(r) == 0)
		return (ST_RUNNER_DEAD);
	return (r->fresh ? ST_RUNNER_ALIVE : ST_RUNNER_STALE);
}

/*
 * Is a runner that takes no lock live for project (canonical)?  *pid its
 * PID, or 0; the row of except (the caller's own) aside.
 */
int
st_runner_lockless_live(st_gdb *g, const char *project, pid_t except,
    pid_t *pid, struct st_error *err)
{
	struct st_runner_list	l;
	size_t			i;

	*pid = 0;
	if (st_runners_list(g, project, &l, err) == -1)
		return (-1);
	for (i = 0; i < l.n && *pid == 0; i++)
		if (l.v[i].pid != except &&
		    st_runner_lockless_state(&l.v[i]) == ST_RUNNER_ALIVE)
			*pid = l.v[i].pid;
	st_runner_list_free(&l);
	return (0);
}

/*
 * Alive, stale or dead (enum st_runner_state).  Staleness is the
 * heartbeat's age against runner.stale_timeout of its project (the global
 * value when the project's config cannot be read), compared by SQLite.
 * A row whose process holds no lock is judged as the upstream tool's
 * (st_runner_lockless_state).
 */
int
st_runner_state(st_gdb *g, const struct st_runner *r, int *state,
    struct st_error *err)
{
	st_config	*cfg;
	struct st_error	 cerr;
	long		 secs;
	int		 stale;

	*state = ST_RUNNER_DEAD;
	if (!st_runner_holds_lock(r)) {
		*state = st_runner_lockless_state(r);
		return (0);
	}
	if (st_config_load(r->project_path, &cfg, &cerr) == -1 &&
	    st_config_load(NULL, &cfg, &cerr) == -1)
		secs = strtol(st_config_default("runner.stale_timeout"), NULL,
		    10);
	else {
		secs = st_config_int(cfg, "runner.stale_timeout");
		st_config_free(cfg);
	}
	if (st_runner_stale(g, r->id, secs, &stale, err) == -1)
		return (-1);
	*state = stale ? ST_RUNNER_STALE : ST_RUNNER_ALIVE;
	return (0);
}

const char *
st_runner_state_name(int state)
{
	switch (state) {
	case ST_RUNNER_ALIVE:
		return ("alive");
	case ST_RUNNER_STALE:
		return ("stale");
	default:
		return ("dead");
	}
}

static int
cmp_path(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

/* The paths with runner rows; -1 if the query failed (then ask each). */
int
st_rowpaths_load(st_gdb *g, struct st_rowpaths *rp)
{
	struct st_error		e;
	struct st_runner_list	l;
	const char		*path;
	char			real[PATH_MAX];
	size_t			i;

	rp->v = NULL;
	rp->n = 0;
	if (st_runners_list(g, NULL, &l, &e) == -1)
		return (-1);
	rp->v = st_xcalloc(l.n == 0 ? 1 : l.n * 2, sizeof(*rp->v));
	for (i = 0; i < l.n; i++) {
		if ((path = st_runner_project(&l.v[i])) == NULL)
			continue;
		rp->v[rp->n++] = st_xstrdup(path);
		/* A live one's other spelling (st_runners_list) is its project. */
		if (l.v[i].fresh && st_runner_lockless_state(&l.v[i]) ==
		    ST_RUNNER_ALIVE && realpath(path, real) != NULL &&
		    strcmp(real, path) != 0)
			rp->v[rp->n++] = st_xstrdup(real);
	}
	st_runner_list_free(&l);
	qsort(rp->v, rp->n, sizeof(*rp->v), cmp_path);
	return (0);
}

void
st_rowpaths_free(struct st_rowpaths *rp)
{
	size_t	i;

	for (i = 0; i < rp->n; i++)
		free(rp->v[i]);
	free(rp->v);
}

/*
 * The runner rows of a project against its lock, which is the truth for
 * ours: a row that is not the holder's is deleted unless it is a live
 * runner that takes no lock (the upstream tool's: its writer alive, not a
 * reused pid, its heartbeat within 5 minutes; st_runner_lockless_state),
 * which counts as the project's runner and is never signalled.  The holder's row
 * with a heartbeat older than stale_timeout (compared by SQLite) is asked
 * to beat (rs->stop, stop.c) and, if it does not, a hung runner: stopped
 * and its row deleted (st_runners_stop_end).  A held lock with no row is
 * a runner all the same (starting, or a foreground loop).  A held lock
 * whose PID is not written yet is a runner starting: no row is touched,
 * no process signalled (a live pid in a row may be a reused one) and
 * nothing started.  rows (NULL: unknown) are the paths with rows when
 * the sweep began: a project with none there and a free lock has no
 * runner and no row to check (a row written since is a runner's that has
 * died since, and is cleaned by the next sweep); any other project's
 * rows are read afresh.
 *
 * The lock is as *lock saw it (the sweep's probe child), a moment ago:
 * this opens nothing in the project's folder.  A holder gone since has
 * dropped it; a runner started since wrote a row with a live writer and
 * a fresh heartbeat, which the lockless rule keeps, and is not stopped.
 */
int
st_runners_check(st_gdb *g, const char *path, long stale_timeout, int dry,
    const struct st_rowpaths *rows, const struct st_lockseen *lock,
    struct st_runstate *rs, struct st_error *err)
{
	struct st_runner_list	 l;
	struct st_runner	*r, *mine = NULL;
	pid_t			 holder = lock->holder;
	size_t			 i;
	int			 held = lock->held, stale;

	memset(rs, 0, sizeof(*rs));
	if (held == -1)
		return (st_seterr(err, ST_EGENERAL, "cannot read the runner "
		    "lock of %s", path));
	/* It exited since: the kernel freed its lock.  (Start 0: the PID
	 * written may be an earlier holder's, a new one not written yet.) */
	if (held == 1 && holder > 0 && lock->start != 0 &&
	    st_proc_same(holder, lock->start) == 0)
		held = 0;
	if (!held)
		holder = 0;
	if (!held && rows != NULL && (rows->n == 0 || bsearch(&path, rows->v,
	    rows->n, sizeof(*rows->v), cmp_path) == NULL))
		return (0);
	if (st_runners_list(g, path, &l, err) == -1)
		return (-1);
	rs->held = held;
	for (i = 0; i < l.n; i++) {
		r = &l.v[i];
		if (held && st_pid_alive(r->pid) &&
		    (holder == 0 || r->pid == holder)) {
			if (mine == NULL)
				mine = r;
			continue;
		}
		/*
		 * Not the holder's: the upstream tool's runners take no lock,
		 * and one is live by its own rule (never signalled by us).
		 */
		if (st_runner_lockless_state(r) == ST_RUNNER_ALIVE) {
			if (rs->lockless == 0)
				rs->lockless = r->pid;
			continue;
		}
		if (!dry && st_runner_delete(g, r->id, err) == -1)
			goto fail;
		rs->cleaned++;
	}
	if (!held) {
		rs->running = rs->lockless;
		goto out;
	}
	rs->running = holder;
	if (holder == 0 || mine == NULL || stale_timeout <= 0)
		goto out;
	if (st_runner_stale(g, mine->id, stale_timeout, &stale, err) == -1)
		goto fail;
	if (!stale)
		goto out;
	if (!dry) {
		/* Asked, or stopped, in steps: st_runners_stop_end goes on. */
		rs->stop = st_stop_begin_seen(g, mine, lock->start,
		    ST_STOP_ASK);
		rs->stop_id = st_xstrdup(mine->id);
		goto out;
	}
	rs->killed = mine->pid;
	rs->running = rs->lockless;
	rs->held = 0;
out:
	st_runner_list_free(&l);
	return (0);
fail:
	st_runner_list_free(&l);
	return (-1);
}

/*
 * A stale runner's stop is over: one that answered runs on, healthy; one
 * gone has its row deleted and is treated as no runner; one that outlived
 * SIGKILL (or whose lock turned unreadable) fails the project's sweep.
 */
int
st_runners_stop_end(st_gdb *g, const char *path, struct st_runstate *rs,
    struct st_error *err)
{
	pid_t	pid = rs->running;
	int	rc = 0;

	switch (st_stop_state(rs->stop)) {
	case ST_STOP_ANSWERED:
		rs->answered = 1;
		break;
	case ST_STOP_STUCK:
		rc = st_seterr(err, ST_EGENERAL, "hung runner (pid %ld) did "
		    "not exit after SIGKILL", (long)pid);
		break;
	case ST_STOP_UNCHECKED:
		rc = st_seterr(err, ST_EGENERAL, "cannot read the runner lock "
		    "of %s", path);
		break;
	default:
		if ((rc = st_runner_delete(g, rs->stop_id, err)) == -1)
			break;
		rs->killed = pid;
		rs->running = rs->lockless;
		rs->held = 0;
		break;
	}
	st_stop_free(rs->stop);
	free(rs->stop_id);
	rs->stop = NULL;
	rs->stop_id = NULL;
	return (rc);
}
