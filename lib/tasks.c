/*
 * tasks.c -- the task queue of a project DB: add, list, status changes and
 * the runner's choice of the next task (SPEC 4).  Every status change and
 * its audit row are one transaction, so the history never disagrees with
 * the state.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st-int.h"

const char *const st_task_statuses[ST_TASK_NSTATUS] = {
	"pending", "in_progress", "review", "completed", "failed", "disputed",
	"skipped"
};

#define TASK_FROM	ST_SQL_TASK_FROM
/*
 * Sections by position, tasks without one (or with a lost one) last.
 * created_at by time, not text: another tool may have written ISO 8601.
 */
#define TASK_ORDER	"s.position IS NULL, s.position, " \
	"COALESCE(datetime(t.created_at), t.created_at), t.rowid"

/*
 * "SELECT <a task's columns> FROM tasks t LEFT JOIN sections s WHERE
 * <where> <tail>", each of the columns a project at an older upstream
 * migration lacks read as its default.
 */
static void
task_select(st_pdb *p, const char *where, const char *tail, char *buf,
    size_t len)
{
	snprintf(buf, len, "SELECT t.id, t.title, %s, t.status, t.section_id, "
	    "s.name, %s, %s, t.created_at, t.updated_at" TASK_FROM " WHERE "
	    "(%s) %s",
	    (p->cols & ST_PDB_HAS_DESCRIPTION) ? "t.description" : "NULL",
	    (p->cols & ST_PDB_HAS_FAILURES) ? "t.failure_count" : "0",
	    (p->cols & ST_PDB_HAS_FAILURES) ? "t.last_failure_at" : "NULL",
	    where, tail);
}

/* Pending work (ST_SQL_TASK_WORK), where sections have no skipped yet. */
static const char *
task_work(st_pdb *p)
{
	return ((p->cols & ST_PDB_HAS_SKIPPED) ? ST_SQL_TASK_WORK :
	    ST_SQL_TASK_OPEN);
}

int
st_task_status_valid(const char *s)
{
	size_t	i;

	if (s == NULL)
		return (0);
	for (i = 0; i < ST_TASK_NSTATUS; i++)
		if (strcmp(st_task_statuses[i], s) == 0)
			return (1);
	return (0);
}

/* 0, or -1 with an error that lists the statuses. */
int
st_task_status_check(const char *s, struct st_error *err)
{
	if (st_task_status_valid(s))
		return (0);
	return (st_seterr(err, ST_EARGS, "unknown status '%s' (one of pending, "
	    "in_progress, review, completed, failed, disputed, skipped)",
	    s != NULL ? s : ""));
}

static void
read_task(sqlite3_stmt *stmt, struct st_task *t)
{
	t->id = st_sql_strdup(stmt, 0);
	t->title = st_sql_strdup(stmt, 1);
	t->description = st_sql_strdup(stmt, 2);
	t->status = st_sql_strdup(stmt, 3);
	t->section_id = st_sql_strdup(stmt, 4);
	t->section = st_sql_strdup(stmt, 5);
	t->failure_count = (long)sqlite3_column_int64(stmt, 6);
	t->last_failure_at = st_sql_strdup(stmt, 7);
	t->created_at = st_sql_strdup(stmt, 8);
	t->updated_at = st_sql_strdup(stmt, 9);
}

void
st_task_free(struct st_task *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->title);
	free(t->description);
	free(t->status);
	free(t->section_id);
	free(t->section);
	free(t->last_failure_at);
	free(t->created_at);
	free(t->updated_at);
	memset(t, 0, sizeof(*t));
}

void
st_task_list_free(struct st_task_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		st_task_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The id of a section by name, made at the end of the list if new. */
static int
section_id(sqlite3 *db, const char *name, char id[37], struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_sql_prepare(db, "SELECT id FROM sections WHERE name = ?1 "
	    "ORDER BY position LIMIT 1", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		strlcpy(id, (const char *)sqlite3_column_text(stmt, 0), 37);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return (0);
	if (rc != SQLITE_DONE)
		return (st_sql_err(db, rc, err, "cannot read sections"));

	st_uuid(id);
	if (st_sql_prepare(db, "INSERT INTO sections (id, name, position) "
	    "VALUES (?1, ?2, (SELECT COALESCE(MAX(position), -1) + 1 FROM "
	    "sections))", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_TRANSIENT);
	return (st_sql_done(stmt, "cannot add section", err));
}

static int
audit(sqlite3 *db, const char *task, const char *from, const char *to,
    const char *actor, const char *actor_type, const char *notes,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;

	/* actor is NOT NULL in the upstream tool's audit. */
	if (st_sql_prepare(db, "INSERT INTO audit (task_id, from_status, "
	    "to_status, actor, actor_type, notes, created_at) VALUES (?1, ?2, "
	    "?3, COALESCE(?4, 'steroids'), ?5, ?6, datetime('now'))", &stmt,
	    err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, task, -1, SQLITE_TRANSIENT);
	if (from != NULL)
		sqlite3_bind_text(stmt, 2, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, to, -1, SQLITE_TRANSIENT);
	if (actor != NULL)
		sqlite3_bind_text(stmt, 4, actor, -1, SQLITE_TRANSIENT);
	if (actor_type != NULL)
		sqlite3_bind_text(stmt, 5, actor_type, -1, SQLITE_TRANSIENT);
	if (notes != NULL)
		sqlite3_bind_text(stmt, 6, notes, -1, SQLITE_TRANSIENT);
	return (st_sql_done(stmt, "cannot write audit row", err));
}

/*
 * Add a pending task; id receives its new UUID.  The creation is audited
 * too (from NULL to pending, by actor of actor_type), so every task's
 * history starts somewhere.
 */
int
st_task_add(st_pdb *p, const char *title, const char *section,
    const char *description, const char *actor, const char *actor_type,
    char id[37], struct st_error *err)
{
	sqlite3_stmt	*stmt = NULL;
	char		 sid[37], sql[256];
	int		 rc;

	if (title == NULL || *title == '\0')
		return (st_seterr(err, ST_EARGS, "the task title is empty"));
	if (strlen(title) > ST_TASK_TITLE_MAX)
		return (st_seterr(err, ST_EARGS, "the task title is too long "
		    "(%zu bytes, limit %d)", strlen(title), ST_TASK_TITLE_MAX));
	if (section != NULL && (*section == '\0' ||
	    strlen(section) > ST_TASK_TITLE_MAX))
		return (st_seterr(err, ST_EARGS, "the section name is empty or "
		    "longer than %d bytes", ST_TASK_TITLE_MAX));
	if (description != NULL && strlen(description) > ST_TASK_DESC_MAX)
		return (st_seterr(err, ST_EARGS, "the description is too long "
		    "(%zu bytes, limit %d)", strlen(description),
		    ST_TASK_DESC_MAX));
	if (description != NULL && !(p->cols & ST_PDB_HAS_DESCRIPTION))
		return (st_seterr(err, ST_ECONFIG, "%s/" ST_PROJECT_DIR ": "
		    "this project's database has no task descriptions yet (the "
		    "upstream tool adds them when it next opens it); add the "
		    "task without --description", p->dir));
	if (st_sql_begin(p->db, err) == -1)
		return (-1);
	if (section != NULL && section_id(p->db, section, sid, err) == -1)
		goto fail;
	st_uuid(id);
	/* Every other column of the upstream tool's tasks has a default. */
	snprintf(sql, sizeof(sql), "INSERT INTO tasks (id, title, status, "
	    "section_id, created_at, updated_at%s) VALUES (?1, ?2, 'pending', "
	    "?4, datetime('now'), datetime('now')%s)",
	    (p->cols & ST_PDB_HAS_DESCRIPTION) ? ", description" : "",
	    (p->cols & ST_PDB_HAS_DESCRIPTION) ? ", ?3" : "");
	if (st_sql_prepare(p->db, sql, &stmt, err) == -1)
		goto fail;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, title, -1, SQLITE_TRANSIENT);
	if (description != NULL)
		sqlite3_bind_text(stmt, 3, description, -1, SQLITE_TRANSIENT);
	if (section != NULL)
		sqlite3_bind_text(stmt, 4, sid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		st_sql_err(p->db, rc, err, "cannot add task");
		goto fail;
	}
	if (audit(p->db, id, NULL, "pending", actor, actor_type, "created",
	    err) == -1)
		goto fail;
	return (st_sql_commit(p->db, err));
fail:
	st_sql_rollback(p->db);
	return (-1);
}

/* All tasks (status NULL) or those with one status, in queue order. */
int
st_task_list(st_pdb *p, const char *status, struct st_task_list *l,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	char		 sql[1024];
	size_t		 cap = 0;
	int		 rc;

	l->v = NULL;
	l->n = 0;
	if (status != NULL && st_task_status_check(status, err) == -1)
		return (-1);
	task_select(p, "?1 IS NULL OR t.status = ?1", "ORDER BY " TASK_ORDER,
	    sql, sizeof(sql));
	if (st_sql_prepare(p->db, sql, &stmt, err) == -1)
		return (-1);
	if (status != NULL)
		sqlite3_bind_text(stmt, 1, status, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (l->n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			l->v = st_xreallocarray(l->v, cap, sizeof(*l->v));
		}
		read_task(stmt, &l->v[l->n++]);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		st_task_list_free(l);
		return (st_sql_err(p->db, rc, err, "cannot list tasks"));
	}
	return (0);
}

/*
 * One task by its id or a unique prefix of it (ids are long; people type
 * the first few characters, as with git).  NOT_FOUND when none matches,
 * INVALID_ARGUMENTS when the prefix is ambiguous.
 */
int
st_task_get(st_pdb *p, const char *id, struct st_task *t,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	char		 sql[2048], prefix[1024];
	int		 rc, n = 0;

	memset(t, 0, sizeof(*t));
	if (id == NULL || *id == '\0')
		return (st_seterr(err, ST_EARGS, "empty task id"));
	task_select(p, "substr(t.id, 1, length(?1)) = ?1 AND t.id <> ?1 AND NOT "
	    "EXISTS (SELECT 1 FROM tasks WHERE id = ?1)", "LIMIT 2", prefix,
	    sizeof(prefix));
	task_select(p, "t.id = ?1", "UNION ALL SELECT * FROM (", sql,
	    sizeof(sql));
	strlcat(sql, prefix, sizeof(sql));
	strlcat(sql, ")", sizeof(sql));
	if (st_sql_prepare(p->db, sql, &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n++ == 0)
			read_task(stmt, t);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		st_task_free(t);
		return (st_sql_err(p->db, rc, err, "cannot read task"));
	}
	if (n == 0)
		return (st_seterr(err, ST_ENOTFOUND, "no task with id '%s' (see "
		    "'steroids tasks list')", id));
	if (n > 1) {
		st_task_free(t);
		return (st_seterr(err, ST_EARGS, "task id '%s' is ambiguous: "
		    "give more of it", id));
	}
	return (0);
}

/* The current status of a task inside a transaction; NULL if none. */
static char *
current_status(st_pdb *p, const char *id, long *failures,
    struct st_error *err, int *rcp)
{
	sqlite3		*db = p->db;
	sqlite3_stmt	*stmt;
	char		*s = NULL;
	int		 rc;

	*rcp = -1;
	if (st_sql_prepare(db, (p->cols & ST_PDB_HAS_FAILURES) ? "SELECT "
	    "status, failure_count FROM tasks WHERE id = ?1" : "SELECT status, "
	    "0 FROM tasks WHERE id = ?1", &stmt, err) == -1)
		return (NULL);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		s = st_sql_strdup(stmt, 0);
		if (failures != NULL)
			*failures = (long)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*rcp = 0;
		if (rc == SQLITE_DONE)
			st_seterr(err, ST_ENOTFOUND, "no task with id '%s'", id);
	} else
		st_sql_err(db, rc, err, "cannot read task");
	return (s);
}

static int
write_status(st_pdb *p, const char *id, const char *status, int failed,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;

	/* Where failures have no columns yet, only the status changes. */
	if (st_sql_prepare(p->db, (p->cols & ST_PDB_HAS_FAILURES) ? "UPDATE "
	    "tasks SET status = ?2, updated_at = datetime('now'), "
	    "failure_count = failure_count + ?3, last_failure_at = CASE WHEN "
	    "?3 THEN datetime('now') ELSE last_failure_at END WHERE id = ?1" :
	    "UPDATE tasks SET status = ?2, updated_at = datetime('now') WHERE "
	    "id = ?1", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, status, -1, SQLITE_TRANSIENT);
	if (p->cols & ST_PDB_HAS_FAILURES)
		sqlite3_bind_int(stmt, 3, failed ? 1 : 0);
	return (st_sql_done(stmt, "cannot update task", err));
}

/*
 * Set a task's status (exact id).  from receives the old status.  Setting
 * the status it already has changes nothing and writes no audit row.
 */
int
st_task_set_status(st_pdb *p, const char *id, const char *status,
    const char *actor, const char *actor_type, const char *notes,
    char from[ST_TASK_STATUS_LEN], struct st_error *err)
{
	char	*old;
	int	 rc;

	if (st_task_status_check(status, err) == -1)
		return (-1);
	if (st_sql_begin(p->db, err) == -1)
		return (-1);
	old = current_status(p, id, NULL, err, &rc);
	if (old == NULL)
		goto fail;
	if (from != NULL)
		strlcpy(from, old, ST_TASK_STATUS_LEN);
	if (strcmp(old, status) != 0 &&
	    (write_status(p, id, status, 0, err) == -1 ||
	    audit(p->db, id, old, status, actor, actor_type, notes, err) == -1))
		goto fail;
	free(old);
	return (st_sql_commit(p->db, err));
fail:
	free(old);
	st_sql_rollback(p->db);
	return (-1);
}

static const char *
action_for(const char *status)
{
	if (strcmp(status, "review") == 0)
		return ("review");
	if (strcmp(status, "in_progress") == 0)
		return ("resume");
	return ("start");
}

static int
select_next(st_pdb *p, struct st_task *t, int *found, struct st_error *err)
{
	sqlite3		*db = p->db;
	sqlite3_stmt	*stmt;
	char		 sql[1024];
	int		 rc;

	*found = 0;
	memset(t, 0, sizeof(*t));
	task_select(p, task_work(p), "ORDER BY CASE t.status WHEN 'review' "
	    "THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END, " TASK_ORDER
	    " LIMIT 1", sql, sizeof(sql));
	if (st_sql_prepare(db, sql, &stmt, err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		read_task(stmt, t);
		*found = 1;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (st_sql_err(db, rc, err, "cannot pick the next task"));
	return (0);
}

/*
 * The task a runner would work on next, and how (start, resume, review).
 * Read only: --dry-run uses it.  *found 0 when no work is left.
 */
int
st_task_next(st_pdb *p, struct st_task *t, const char **action, int *found,
    struct st_error *err)
{
	if (select_next(p, t, found, err) == -1)
		return (-1);
	if (action != NULL)
		*action = *found ? action_for(t->status) : NULL;
	return (0);
}

/*
 * Pick the next task and mark it in_progress, in one transaction so the
 * choice and the mark cannot be split by another writer.  A task resumed
 * (already in_progress) gets an audit row too: the history shows who
 * picked it up again after a runner died.
 */
int
st_task_claim(st_pdb *p, const char *actor, struct st_task *t,
    const char **action, int *found, struct st_error *err)
{
	const char	*act;
	char		 notes[64];

	*found = 0;
	if (st_sql_begin(p->db, err) == -1)
		return (-1);
	if (select_next(p, t, found, err) == -1)
		goto fail;
	if (!*found) {
		st_sql_rollback(p->db);
		*action = NULL;
		return (0);
	}
	act = action_for(t->status);
	snprintf(notes, sizeof(notes), "runner: %s", act);
	if (write_status(p, t->id, "in_progress", 0, err) == -1 ||
	    audit(p->db, t->id, t->status, "in_progress", actor, "runner",
	    notes, err) == -1)
		goto fail;
	if (st_sql_commit(p->db, err) == -1) {
		st_task_free(t);
		*found = 0;
		return (-1);
	}
	free(t->status);
	t->status = st_xstrdup("in_progress");
	*action = act;
	return (0);
fail:
	st_sql_rollback(p->db);
	st_task_free(t);
	*found = 0;
	return (-1);
}

/*
 * The runner's verdict on a task it ran (SPEC 6).  A status the handler
 * set itself is kept; only a task still in_progress is moved.  A failure
 * is counted even then, so the history shows it.  One exception: a
 * handler that put its task back to pending and failed is failed by
 * max_failures like any other, or it would be run again forever (the
 * crash loop SPEC 11.10 forbids).  to receives the status the task ends
 * with.
 */
int
st_task_finish(st_pdb *p, const char *id, int outcome, long max_failures,
    const char *actor, const char *notes, char to[ST_TASK_STATUS_LEN],
    struct st_error *err)
{
	const char	*next = NULL;
	char		*old;
	long		 failures = 0;
	int		 rc, failed = outcome == ST_TASK_FAILED;

	if (st_sql_begin(p->db, err) == -1)
		return (-1);
	if ((old = current_status(p, id, &failures, err, &rc)) == NULL)
		goto fail;
	if (strcmp(old, "in_progress") == 0 ||
	    (failed && strcmp(old, "pending") == 0)) {
		switch (outcome) {
		case ST_TASK_DONE:
			next = "completed";
			break;
		case ST_TASK_FAILED:
			/*
			 * Where failures cannot be counted (no failure_count
			 * before the upstream tool's 009) the first is the
			 * last: retrying uncounted would never end.
			 */
			next = failures + 1 >= max_failures ||
			    !(p->cols & ST_PDB_HAS_FAILURES) ? "failed" :
			    "pending";
			break;
		default:
			next = "pending";
			break;
		}
	}
	if (next != NULL && strcmp(next, old) == 0)
		next = NULL;
	if (next != NULL) {
		if (write_status(p, id, next, failed, err) == -1 ||
		    audit(p->db, id, old, next, actor, "runner", notes,
		    err) == -1)
			goto fail;
	} else if (failed && write_status(p, id, old, 1, err) == -1)
		goto fail;
	if (to != NULL)
		strlcpy(to, next != NULL ? next : old, ST_TASK_STATUS_LEN);
	free(old);
	return (st_sql_commit(p->db, err));
fail:
	free(old);
	st_sql_rollback(p->db);
	return (-1);
}

/* How many tasks have each status; counts[] in st_task_statuses order. */
int
st_task_counts(st_pdb *p, long counts[ST_TASK_NSTATUS], long *other,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	const char	*s;
	size_t		 i;
	int		 rc;

	memset(counts, 0, ST_TASK_NSTATUS * sizeof(counts[0]));
	if (other != NULL)
		*other = 0;
	/*
	 * Prepared once per connection: the agent counts again and again on
	 * a connection it keeps (agent/project.c), and compiling the
	 * statement was ~15% of its CPU there.  Each step after a reset
	 * is a new read transaction, so a commit since is seen.
	 */
	if (p->counts == NULL && st_sql_prepare(p->db, "SELECT status, "
	    "count(*) FROM tasks GROUP BY status", &p->counts, err) == -1)
		return (-1);
	stmt = p->counts;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		s = (const char *)sqlite3_column_text(stmt, 0);
		for (i = 0; i < ST_TASK_NSTATUS; i++)
			if (s != NULL && strcmp(s, st_task_statuses[i]) == 0)
				break;
		if (i < ST_TASK_NSTATUS)
			counts[i] = (long)sqlite3_column_int64(stmt, 1);
		else if (other != NULL)
			*other += (long)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return (st_sql_err(p->db, rc, err, "cannot count tasks"));
	return (0);
}
