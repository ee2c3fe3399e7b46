/*
 * runners.c -- rows of the runners table in the global DB.  A row says
 * who runs where; the runner lock (lock.c) says whether it really does.
 * Ages are computed by SQLite from its own UTC text, never compared as
 * strings in C (the upstream tool killed healthy runners that way).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st-int.h"

#define RUNNER_COLUMNS	"id, status, pid, project_path, current_task_id, " \
	"started_at, heartbeat_at, " \
	"CAST(strftime('%s', 'now') - strftime('%s', heartbeat_at) AS INTEGER)"

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
	if (st_sql_prepare(g->db, "SELECT " RUNNER_COLUMNS " FROM runners "
	    "WHERE ?1 IS NULL OR project_path = ?1 ORDER BY project_path, "
	    "started_at", &stmt, err) == -1)
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
	}
	sqlite3_finalize(stmt);
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

	for (i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].status);
		free(l->v[i].project_path);
		free(l->v[i].current_task_id);
		free(l->v[i].started_at);
		free(l->v[i].heartbeat_at);
	}
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
 * Delete a project's rows but keep's (NULL: all).  Only for a caller that
 * holds the project's runner lock: then no other row can be alive.
 */
int
st_runner_delete_others(st_gdb *g, const char *project, const char *keep,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;

	if (st_sql_prepare(g->db, "DELETE FROM runners WHERE project_path = ?1 "
	    "AND (?2 IS NULL OR id <> ?2)", &stmt, err) == -1)
		return (-1);
	st_sql_bind_path(stmt, 1, project);
	if (keep != NULL)
		sqlite3_bind_text(stmt, 2, keep, -1, SQLITE_TRANSIENT);
	return (st_sql_done(stmt, "cannot delete runners", err));
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
 * Alive, stale or dead (enum st_runner_state).  Staleness is the
 * heartbeat's age against runner.stale_timeout of its project (the global
 * value when the project's config cannot be read), compared by SQLite.
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
	if (!st_runner_holds_lock(r))
		return (0);
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
