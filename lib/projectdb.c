/*
 * projectdb.c -- <project>/.steroids/steroids.db.  Column names follow the
 * upstream steroids tool, so a project it made is read as it is.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

/*
 * What the upstream tool's init makes, at its migration 028 (UPSTREAM.md):
 * every table, column, index, CHECK and foreign key, so that tool adds,
 * lists and picks tasks here and finds no migration left to run.  The
 * column order is its own (tasks' last three came with its 028).
 */
static const char project_schema[] =
    "CREATE TABLE IF NOT EXISTS _schema ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS _migrations ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " checksum TEXT NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS sections ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL,"
    " priority INTEGER DEFAULT 50, skipped INTEGER DEFAULT 0, branch TEXT,"
    " auto_pr INTEGER NOT NULL DEFAULT 0, pr_number INTEGER,"
    " coder_provider TEXT, coder_model TEXT, pr_labels TEXT,"
    " pr_draft INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS tasks ("
    " id TEXT PRIMARY KEY, title TEXT NOT NULL,"
    " description TEXT CHECK (length(description) <= 4000),"
    " status TEXT NOT NULL DEFAULT 'pending',"
    " section_id TEXT REFERENCES sections(id), source_file TEXT,"
    " file_path TEXT, file_line INTEGER, file_commit_sha TEXT,"
    " file_content_hash TEXT, start_commit_sha TEXT,"
    " rejection_count INTEGER NOT NULL DEFAULT 0,"
    " failure_count INTEGER NOT NULL DEFAULT 0, last_failure_at TEXT,"
    " reference_task_id TEXT REFERENCES tasks(id), reference_commit TEXT,"
    " reference_commit_message TEXT,"
    " is_follow_up INTEGER NOT NULL DEFAULT 0 CHECK (is_follow_up IN (0, 1)),"
    " requires_promotion INTEGER NOT NULL DEFAULT 0"
    "  CHECK (requires_promotion IN (0, 1)),"
    " follow_up_depth INTEGER NOT NULL DEFAULT 0 CHECK (follow_up_depth >= 0),"
    " dedupe_key TEXT, conflict_count INTEGER NOT NULL DEFAULT 0,"
    " merge_failure_count INTEGER NOT NULL DEFAULT 0, blocked_reason TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " updated_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " merge_phase TEXT, approved_sha TEXT, rebase_attempts INTEGER DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS task_feedback ("
    " id TEXT PRIMARY KEY,"
    " task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
    " feedback TEXT NOT NULL CHECK (length(feedback) <= 8000),"
    " source TEXT NOT NULL DEFAULT 'user', created_by TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " task_id TEXT NOT NULL REFERENCES tasks(id), from_status TEXT,"
    " to_status TEXT NOT NULL, actor TEXT NOT NULL,"
    " actor_type TEXT DEFAULT 'human', model TEXT, category TEXT,"
    " error_code TEXT, metadata TEXT, notes TEXT, commit_sha TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS disputes ("
    " id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(id),"
    " type TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',"
    " reason TEXT NOT NULL, coder_position TEXT, reviewer_position TEXT,"
    " resolution TEXT, resolution_notes TEXT, created_by TEXT NOT NULL,"
    " resolved_by TEXT, created_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " resolved_at TEXT);"
    "CREATE TABLE IF NOT EXISTS task_locks ("
    " task_id TEXT PRIMARY KEY REFERENCES tasks(id),"
    " runner_id TEXT NOT NULL,"
    " acquired_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " expires_at TEXT NOT NULL,"
    " heartbeat_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS section_locks ("
    " section_id TEXT PRIMARY KEY REFERENCES sections(id),"
    " runner_id TEXT NOT NULL,"
    " acquired_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " expires_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS section_dependencies ("
    " id TEXT PRIMARY KEY, section_id TEXT NOT NULL REFERENCES sections(id),"
    " depends_on_section_id TEXT NOT NULL REFERENCES sections(id),"
    " created_at TEXT DEFAULT (datetime('now')),"
    " UNIQUE (section_id, depends_on_section_id));"
    "CREATE TABLE IF NOT EXISTS task_invocations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " task_id TEXT NOT NULL REFERENCES tasks(id), role TEXT NOT NULL,"
    " provider TEXT NOT NULL, model TEXT NOT NULL, prompt TEXT NOT NULL,"
    " response TEXT, error TEXT, started_at_ms INTEGER,"
    " completed_at_ms INTEGER, status TEXT DEFAULT 'completed'"
    "  CHECK (status IN ('running', 'completed', 'failed', 'timeout')),"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " duration_ms INTEGER NOT NULL DEFAULT 0,"
    " success INTEGER NOT NULL DEFAULT 0,"
    " timed_out INTEGER NOT NULL DEFAULT 0, rejection_number INTEGER,"
    " session_id TEXT, resumed_from_session_id TEXT,"
    " invocation_mode TEXT DEFAULT 'fresh', token_usage_json TEXT,"
    " last_activity_at_ms INTEGER, runner_id TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS incidents ("
    " id TEXT PRIMARY KEY, task_id TEXT REFERENCES tasks(id),"
    " runner_id TEXT, failure_mode TEXT NOT NULL, detected_at TEXT NOT NULL,"
    " resolved_at TEXT, resolution TEXT, details TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS merge_locks ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,"
    " runner_id TEXT NOT NULL, lock_epoch INTEGER NOT NULL DEFAULT 1,"
    " acquired_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " expires_at TEXT NOT NULL,"
    " heartbeat_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS merge_progress ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,"
    " workstream_id TEXT NOT NULL, position INTEGER NOT NULL,"
    " commit_sha TEXT NOT NULL, applied_commit_sha TEXT,"
    " status TEXT NOT NULL"
    "  CHECK (status IN ('applied', 'conflict', 'skipped')),"
    " conflict_task_id TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')), applied_at TEXT);"
    "CREATE TABLE IF NOT EXISTS intake_reports ("
    " id TEXT PRIMARY KEY, source TEXT NOT NULL, external_id TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, title TEXT NOT NULL, summary TEXT,"
    " severity TEXT NOT NULL, status TEXT NOT NULL, report_url TEXT NOT NULL,"
    " created_at_remote TEXT NOT NULL, updated_at_remote TEXT NOT NULL,"
    " resolved_at_remote TEXT, tags_json TEXT NOT NULL,"
    " payload_json TEXT NOT NULL,"
    " first_seen_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " last_seen_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " linked_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " updated_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS intake_poll_state ("
    " source TEXT PRIMARY KEY, cursor TEXT, last_polled_at TEXT,"
    " last_success_at TEXT, last_error_at TEXT, last_error_message TEXT,"
    " updated_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS task_dependencies ("
    " id TEXT PRIMARY KEY,"
    " task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
    " depends_on_task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
    " created_at TEXT DEFAULT (datetime('now')),"
    " UNIQUE (task_id, depends_on_task_id));";

/* Its indexes: run after project_schema, or on a DB of ours made before. */
static const char project_indexes[] =
    "CREATE INDEX IF NOT EXISTS idx_sections_priority ON sections(priority);"
    "CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status);"
    "CREATE INDEX IF NOT EXISTS idx_tasks_section ON tasks(section_id);"
    "CREATE INDEX IF NOT EXISTS idx_tasks_failures ON tasks(failure_count)"
    " WHERE failure_count > 0;"
    "CREATE INDEX IF NOT EXISTS idx_tasks_conflict_count"
    " ON tasks(conflict_count) WHERE conflict_count > 0;"
    "CREATE INDEX IF NOT EXISTS idx_tasks_merge_failures"
    " ON tasks(merge_failure_count) WHERE merge_failure_count > 0;"
    "CREATE INDEX IF NOT EXISTS idx_tasks_reference_task"
    " ON tasks(reference_task_id) WHERE reference_task_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS idx_tasks_follow_up_state"
    " ON tasks(is_follow_up, requires_promotion) WHERE is_follow_up = 1;"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_tasks_dedupe ON tasks(dedupe_key)"
    " WHERE dedupe_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS idx_tasks_selection_followup"
    " ON tasks(status, is_follow_up, requires_promotion);"
    "CREATE INDEX IF NOT EXISTS idx_task_feedback_task"
    " ON task_feedback(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_task_feedback_task_created"
    " ON task_feedback(task_id, created_at DESC);"
    "CREATE INDEX IF NOT EXISTS idx_audit_task ON audit(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_audit_commit ON audit(commit_sha);"
    "CREATE INDEX IF NOT EXISTS idx_disputes_task ON disputes(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_disputes_status ON disputes(status);"
    "CREATE INDEX IF NOT EXISTS idx_task_locks_expires"
    " ON task_locks(expires_at);"
    "CREATE INDEX IF NOT EXISTS idx_section_locks_expires"
    " ON section_locks(expires_at);"
    "CREATE INDEX IF NOT EXISTS idx_section_dependencies_section"
    " ON section_dependencies(section_id);"
    "CREATE INDEX IF NOT EXISTS idx_section_dependencies_depends_on"
    " ON section_dependencies(depends_on_section_id);"
    "CREATE INDEX IF NOT EXISTS idx_task_invocations_task"
    " ON task_invocations(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_task_invocations_role"
    " ON task_invocations(role);"
    "CREATE INDEX IF NOT EXISTS idx_task_invocations_created"
    " ON task_invocations(created_at DESC);"
    "CREATE INDEX IF NOT EXISTS idx_task_invocations_task_status"
    " ON task_invocations(task_id, status, started_at_ms DESC);"
    "CREATE INDEX IF NOT EXISTS idx_task_invocations_session"
    " ON task_invocations(session_id);"
    "CREATE INDEX IF NOT EXISTS idx_incidents_task ON incidents(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_incidents_detected"
    " ON incidents(detected_at);"
    "CREATE INDEX IF NOT EXISTS idx_incidents_unresolved"
    " ON incidents(resolved_at) WHERE resolved_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS idx_merge_locks_expires"
    " ON merge_locks(expires_at);"
    "CREATE INDEX IF NOT EXISTS idx_merge_locks_heartbeat"
    " ON merge_locks(heartbeat_at);"
    "CREATE INDEX IF NOT EXISTS idx_merge_locks_epoch"
    " ON merge_locks(session_id, lock_epoch);"
    "CREATE INDEX IF NOT EXISTS idx_merge_progress_session"
    " ON merge_progress(session_id, position);"
    "CREATE INDEX IF NOT EXISTS idx_merge_progress_status"
    " ON merge_progress(status, applied_at);"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_merge_progress_unique_position"
    " ON merge_progress(session_id, workstream_id, position);"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_merge_progress_unique_commit"
    " ON merge_progress(session_id, workstream_id, commit_sha);"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_intake_reports_source_external"
    " ON intake_reports(source, external_id);"
    "CREATE INDEX IF NOT EXISTS idx_intake_reports_source_status"
    " ON intake_reports(source, status);"
    "CREATE INDEX IF NOT EXISTS idx_intake_reports_source_severity"
    " ON intake_reports(source, severity);"
    "CREATE INDEX IF NOT EXISTS idx_intake_reports_linked_task"
    " ON intake_reports(linked_task_id) WHERE linked_task_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS idx_task_deps_task"
    " ON task_dependencies(task_id);"
    "CREATE INDEX IF NOT EXISTS idx_task_deps_depends_on"
    " ON task_dependencies(depends_on_task_id);";

/*
 * Its migrations, all applied: it decides what to run from these rows
 * alone.  The checksums are what it records itself ('builtin' for the
 * steps its init folds in, the SHA-256 of the step's file for 027, 028).
 */
static const char project_migrations[] =
    "INSERT OR IGNORE INTO _migrations (id, name, checksum) VALUES"
    " (1, '001_initial_schema', 'builtin'),"
    " (2, '002_add_commit_sha', 'builtin'),"
    " (3, '003_add_section_priority', 'builtin'),"
    " (4, '004_add_section_dependencies', 'builtin'),"
    " (5, '005_add_audit_actor_model', 'builtin'),"
    " (6, '006_add_task_invocations', 'builtin'),"
    " (7, '007_add_file_anchor', 'builtin'),"
    " (8, '008_add_section_skipped', 'builtin'),"
    " (9, '009_add_incidents_and_failure_tracking', 'builtin'),"
    " (10, '010_add_lifecycle_timestamps', 'builtin'),"
    " (11, '011_add_merge_locks_and_progress', 'builtin'),"
    " (12, '012_add_merge_lock_epoch', 'builtin'),"
    " (13, '013_add_merge_progress_applied_commit_sha', 'builtin'),"
    " (14, '014_add_session_context', 'builtin'),"
    " (15, '015_add_follow_up_fields', 'builtin'),"
    " (16, '016_add_invocation_activity_timestamp', 'builtin'),"
    " (17, '017_add_invocation_runner_id', 'builtin'),"
    " (18, '018_expand_audit_columns', 'builtin'),"
    " (19, '019_add_task_start_sha', 'builtin'),"
    " (20, '020_add_workspace_fields', 'builtin'),"
    " (21, '021_add_section_branch', 'builtin'),"
    " (22, '022_add_section_auto_pr', 'builtin'),"
    " (23, '023_add_task_feedback', 'builtin'),"
    " (24, '024_add_merge_failure_count', 'builtin'),"
    " (25, '025_add_intake_tables', 'builtin'),"
    " (26, '026_add_section_coder_and_pr_fields', 'builtin'),"
    " (27, '027_add_task_dependencies', 'sha256:"
    "d380660d9553fbaa52c4dc55011181afd112964f7be58542e97f634eb91fca39'),"
    " (28, '028_add_merge_queue_fields', 'sha256:"
    "414e330889bf45e7a97dc62b4e9ada70c66ea31ad1305b534e5fadbe925177b5');"
    "INSERT OR IGNORE INTO _schema (key, value) VALUES"
    " ('created_at', datetime('now'));"
    "INSERT OR REPLACE INTO _schema (key, value) VALUES"
    " ('version', '28'), ('last_migration', '028_add_merge_queue_fields');";

/*
 * The columns a project DB made by an earlier steroids (or by a tool that
 * left upstream's migrations out) may lack, with what each takes to add.
 */
static const struct {
	const char	*table, *column, *decl;
} pdb_columns[] = {
	{ "sections", "priority", "INTEGER DEFAULT 50" },
	{ "sections", "skipped", "INTEGER DEFAULT 0" },
	{ "sections", "branch", "TEXT" },
	{ "sections", "auto_pr", "INTEGER NOT NULL DEFAULT 0" },
	{ "sections", "pr_number", "INTEGER" },
	{ "sections", "coder_provider", "TEXT" },
	{ "sections", "coder_model", "TEXT" },
	{ "sections", "pr_labels", "TEXT" },
	{ "sections", "pr_draft", "INTEGER NOT NULL DEFAULT 0" },
	{ "tasks", "description", "TEXT CHECK (length(description) <= 4000)" },
	{ "tasks", "source_file", "TEXT" },
	{ "tasks", "file_path", "TEXT" },
	{ "tasks", "file_line", "INTEGER" },
	{ "tasks", "file_commit_sha", "TEXT" },
	{ "tasks", "file_content_hash", "TEXT" },
	{ "tasks", "start_commit_sha", "TEXT" },
	{ "tasks", "rejection_count", "INTEGER NOT NULL DEFAULT 0" },
	{ "tasks", "failure_count", "INTEGER NOT NULL DEFAULT 0" },
	{ "tasks", "last_failure_at", "TEXT" },
	{ "tasks", "reference_task_id", "TEXT REFERENCES tasks(id)" },
	{ "tasks", "reference_commit", "TEXT" },
	{ "tasks", "reference_commit_message", "TEXT" },
	{ "tasks", "is_follow_up",
	    "INTEGER NOT NULL DEFAULT 0 CHECK (is_follow_up IN (0, 1))" },
	{ "tasks", "requires_promotion",
	    "INTEGER NOT NULL DEFAULT 0 CHECK (requires_promotion IN (0, 1))" },
	{ "tasks", "follow_up_depth",
	    "INTEGER NOT NULL DEFAULT 0 CHECK (follow_up_depth >= 0)" },
	{ "tasks", "dedupe_key", "TEXT" },
	{ "tasks", "conflict_count", "INTEGER NOT NULL DEFAULT 0" },
	{ "tasks", "merge_failure_count", "INTEGER NOT NULL DEFAULT 0" },
	{ "tasks", "blocked_reason", "TEXT" },
	{ "tasks", "merge_phase", "TEXT" },
	{ "tasks", "approved_sha", "TEXT" },
	{ "tasks", "rebase_attempts", "INTEGER DEFAULT 0" },
	{ "audit", "actor_type", "TEXT DEFAULT 'human'" },
	{ "audit", "model", "TEXT" },
	{ "audit", "category", "TEXT" },
	{ "audit", "error_code", "TEXT" },
	{ "audit", "metadata", "TEXT" },
	{ "audit", "commit_sha", "TEXT" },
};
#define PDB_NCOLUMNS	(sizeof(pdb_columns) / sizeof(pdb_columns[0]))
#define PDB_MIGRATIONS	28	/* the upstream tool's, at v0.18.3 */

/*
 * What the DB is, for the upgrade: PDB_OURS (no _migrations: made by an
 * earlier steroids, or empty), PDB_UPSTREAM_ALL (upstream's migrations
 * 1..28 all recorded), PDB_UPSTREAM_PART (some: that tool migrates it
 * itself, on its next open).  *missing: columns of pdb_columns not there.
 */
#define PDB_OURS		0
#define PDB_UPSTREAM_ALL	1
#define PDB_UPSTREAM_PART	2

static int
pdb_shape(sqlite3 *db, int *kind, int *missing, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	size_t		 i;
	int		 rc, n = -1, have;

	*missing = 0;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM _migrations WHERE "
	    "id BETWEEN 1 AND 28", -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			n = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
		if (rc != SQLITE_ROW)
			return (st_sql_err(db, rc, err, "cannot read "
			    "_migrations"));
	} else if (strstr(sqlite3_errmsg(db), "no such table") == NULL)
		return (st_sql_err(db, rc, err, "cannot read _migrations"));
	*kind = n == -1 ? PDB_OURS : n == PDB_MIGRATIONS ? PDB_UPSTREAM_ALL :
	    PDB_UPSTREAM_PART;
	for (i = 0; i < PDB_NCOLUMNS; i++) {
		have = st_sql_has_column(db, pdb_columns[i].table,
		    pdb_columns[i].column, err);
		if (have == -1)
			return (-1);
		*missing += !have;
	}
	return (0);
}

/*
 * Bring a project DB to the upstream tool's 028 shape, additively, in
 * one transaction: one of ours made before (its tables gain the columns,
 * the other tables and the migration rows, so that tool finds nothing to
 * migrate: its steps, meeting a column that exists, would skip the rest
 * of themselves for good), or one it migrated itself with columns left
 * out.  One it has not finished migrating is its own to migrate: left
 * alone, and read by its columns.
 */
static int
pdb_upgrade(sqlite3 *db, struct st_error *err)
{
	char	 sql[256];
	size_t	 i;
	int	 kind, missing, have;

	if (pdb_shape(db, &kind, &missing, err) == -1)
		return (-1);
	if (kind == PDB_UPSTREAM_PART ||
	    (kind == PDB_UPSTREAM_ALL && missing == 0))
		return (0);		/* the common case: no write lock */
	if (st_sql_begin(db, err) == -1)
		return (-1);
	if (pdb_shape(db, &kind, &missing, err) == -1)
		goto fail;
	if (kind == PDB_UPSTREAM_PART ||
	    (kind == PDB_UPSTREAM_ALL && missing == 0)) {
		st_sql_rollback(db);
		return (0);
	}
	if (st_sql_exec(db, project_schema, err) == -1)
		goto fail;
	for (i = 0; i < PDB_NCOLUMNS; i++) {
		have = st_sql_has_column(db, pdb_columns[i].table,
		    pdb_columns[i].column, err);
		if (have == -1)
			goto fail;
		if (have)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    pdb_columns[i].table, pdb_columns[i].column,
		    pdb_columns[i].decl);
		if (st_sql_exec(db, sql, err) == -1)
			goto fail;
	}
	if (st_sql_exec(db, project_indexes, err) == -1 ||
	    (kind == PDB_OURS &&
	    st_sql_exec(db, project_migrations, err) == -1))
		goto fail;
	return (st_sql_commit(db, err));
fail:
	st_sql_rollback(db);
	return (-1);
}

/*
 * The DB of the project in dir, <dir>/.steroids/steroids.db, in buf: -1
 * if it does not fit (buf then holds what did, as snprintf leaves it).
 */
int
st_pdb_path(const char *dir, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/" ST_PROJECT_DIR "/" ST_PROJECT_DB, dir) >=
	    (int)len)
		return (-1);
	return (0);
}

static int
db_path(const char *dir, char *buf, size_t len, struct st_error *err)
{
	if (st_pdb_path(dir, buf, len) == -1)
		return (st_seterr(err, ST_EARGS, "path too long: %s", dir));
	return (0);
}

/*
 * Create .steroids (0700) and its DB (0600); run again, it changes nothing.
 * *made says which of the two this call created (ST_MADE_DIR, ST_MADE_DB),
 * so a caller whose next step fails can take back exactly that.  Nothing
 * is changed before its owner is known to be us: never another user's.
 */
int
st_project_make(const char *in, int *made, struct st_error *err)
{
	char		 dir[PATH_MAX], sub[PATH_MAX + 64], path[PATH_MAX + 64];
	struct stat	 sb;
	sqlite3		*db;
	int		 fd, m = 0;

	if (made != NULL)
		*made = 0;
	if (st_path_canon(in, dir, sizeof(dir), err) == -1)
		return (-1);
	if (st_path_is_system(dir))
		return (st_seterr(err, ST_EPERM, "refusing a system directory "
		    "as a project: %s", dir));
	if (st_path_is_home(dir))
		return (st_seterr(err, ST_EARGS, "refusing %s as a project: its "
		    "%s is STEROIDS_HOME, the registry's folder", dir,
		    ST_PROJECT_DIR));
	if (stat(dir, &sb) == -1 || sb.st_uid != geteuid())
		return (st_seterr(err, ST_EPERM, "%s is not owned by you; "
		    "refusing to make it a project", dir));
	if (db_path(dir, path, sizeof(path), err) == -1)
		return (-1);
	snprintf(sub, sizeof(sub), "%s/" ST_PROJECT_DIR, dir);
	if (mkdir(sub, 0700) == 0)
		m |= ST_MADE_DIR;
	else if (errno != EEXIST)
		return (st_seterr(err, errno == EACCES ? ST_EPERM : ST_EGENERAL,
		    "cannot create %s: %s", sub, strerror(errno)));
	if (lstat(sub, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		st_seterr(err, ST_EPERM, "%s is not a directory", sub);
		goto fail;
	}
	if (sb.st_uid != geteuid()) {
		st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not by you; "
		    "refusing to change it", sub, (unsigned long)sb.st_uid);
		goto fail;
	}
	if (st_fix_mode(sub, 0700, err) == -1)
		goto fail;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd != -1)
		m |= ST_MADE_DB;
	else if (errno == EEXIST)
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		st_seterr(err, ST_EPERM, "cannot create %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fstat(fd, &sb) == -1 || sb.st_uid != geteuid()) {
		st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not by you; "
		    "refusing to change it", path, (unsigned long)sb.st_uid);
		close(fd);
		goto fail;
	}
	close(fd);
	if (st_sql_open(path, SQLITE_OPEN_READWRITE, ST_BUSY_TIMEOUT_MS, &db,
	    err) == -1)
		goto fail;
	/* A DB there already is upgraded the same way as on an open. */
	if (st_sql_wal(db, err) == -1 || pdb_upgrade(db, err) == -1) {
		sqlite3_close(db);
		goto fail;
	}
	sqlite3_close(db);
	if (st_fix_mode(path, 0600, err) == -1)
		goto fail;
	if (made != NULL)
		*made = m;
	return (0);
fail:
	st_project_unmake(dir, m, NULL);
	return (-1);
}

int
st_project_init(const char *in, struct st_error *err)
{
	return (st_project_make(in, NULL, err));
}

/*
 * Take back what st_project_make created, and only that: the DB and
 * SQLite's files beside it, then the folder if it is empty.  Anything
 * else found there stays, and the folder with it.
 */
int
st_project_unmake(const char *dir, int made, struct st_error *err)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char	 path[PATH_MAX + 64];
	size_t	 i;

	for (i = 0; (made & ST_MADE_DB) && i < sizeof(sfx) / sizeof(*sfx);
	    i++) {
		(void)st_pdb_path(dir, path, sizeof(path));
		strlcat(path, sfx[i], sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			return (st_seterr(err, ST_EGENERAL, "cannot remove %s: "
			    "%s", path, strerror(errno)));
	}
	snprintf(path, sizeof(path), "%s/" ST_PROJECT_DIR, dir);
	if ((made & ST_MADE_DIR) && rmdir(path) == -1 && errno != ENOENT)
		return (st_seterr(err, ST_EGENERAL, "cannot remove %s: %s",
		    path, strerror(errno)));
	return (0);
}

/*
 * A one-shot reader's connection (ST_PDB_SHMRO with ST_PDB_READONLY): the
 * URI of st_sql_uri with
 * SQLite's readonly_shm URI parameter.  A reader alone on a WAL DB
 * otherwise rebuilds the -shm file (ftruncate, a write per page, mmap)
 * each time it opens it: most of the ~250 us a sweep spent per project.
 * With it, the reader maps the -shm of the DB's live connections read
 * only, or with none reads the WAL into its own memory (SQLite's
 * "unreliable shm" path); it never writes.  It cannot create a missing
 * -shm: SQLITE_CANTOPEN then, and the caller opens the plain way.
 */
/*
 * A one-shot count (st_project_pending, once per project in a sweep):
 * the connection never leaves that function, so no other thread can use
 * it (SQLITE_OPEN_NOMUTEX); its one statement's prepare reads the schema,
 * so there is no check of its own before (the statement's error says
 * what is missing); and it only reads, so its close does not try to
 * checkpoint (NO_CKPT_ON_CLOSE saves a lock and two stats).
 */
#define PDB_ONESHOT		0x10000

/* Connect and check the schema; -2 if the read-only -shm was missing. */
static int
pdb_connect(st_pdb *p, const char *path, int flags, struct st_error *err)
{
	char	uri[PATH_MAX * 3 + 64];
	int	shmro, oflags, oneshot;

	shmro = (flags & ST_PDB_SHMRO) && (flags & ST_PDB_READONLY) &&
	    st_sql_uri(path, "readonly_shm=1", uri, sizeof(uri)) == 0;
	oneshot = (flags & PDB_ONESHOT) && (flags & ST_PDB_READONLY);
	oflags = (flags & ST_PDB_READONLY) ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE;
	if (oneshot)
		oflags |= SQLITE_OPEN_NOMUTEX;
	if (st_sql_open(shmro ? uri : path, oflags | (shmro ?
	    SQLITE_OPEN_URI : 0), (flags & ST_PDB_QUICK) ?
	    ST_QUICK_TIMEOUT_MS : ST_BUSY_TIMEOUT_MS, &p->db, err) == -1)
		return (-1);
	if (oneshot) {
		(void)sqlite3_db_config(p->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
		    1, NULL);
		return (0);
	}
	if (st_sql_exec(p->db, "SELECT id, title, status, section_id "
	    "FROM tasks LIMIT 0", err) == -1) {
		if (shmro &&
		    (sqlite3_extended_errcode(p->db) & 0xff) == SQLITE_CANTOPEN) {
			sqlite3_close(p->db);
			p->db = NULL;
			return (-2);
		}
		if (err->code == ST_EGENERAL &&
		    strstr(err->msg, "no such") != NULL)
			st_seterr(err, ST_ENOTINIT, "%s: not a steroids project "
			    "database (no tasks table)", path);
		return (-1);
	}
	return (0);
}

/*
 * Which of the columns older upstream migrations lack are there.  Asked
 * of the schema SQLite has parsed already (pdb_connect's statement): a
 * few hash lookups, where the SQL below is ~20 % of an open's work
 * (callgrind, the upstream 028 schema; the agent opens per reaction).
 */
#ifdef HAVE_SQLITE3_TABLE_COLUMN_METADATA
/* 1 or 0: the column is there or not (nor its table); -1: cannot tell. */
static int
pdb_has(st_pdb *p, const char *table, const char *column)
{
	int	rc;

	rc = sqlite3_table_column_metadata(p->db, "main", table, column, NULL,
	    NULL, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return (1);
	if (rc == SQLITE_ERROR && strncmp(sqlite3_errmsg(p->db),
	    "no such table column", 20) == 0)
		return (0);
	return (-1);
}

static int
pdb_detect(st_pdb *p, struct st_error *err)
{
	int	skip, desc, fails, fat;

	if ((skip = pdb_has(p, "sections", "skipped")) == -1 ||
	    (desc = pdb_has(p, "tasks", "description")) == -1 ||
	    (fails = pdb_has(p, "tasks", "failure_count")) == -1 ||
	    (fat = pdb_has(p, "tasks", "last_failure_at")) == -1)
		return (st_sql_err(p->db, sqlite3_extended_errcode(p->db), err,
		    "cannot read the schema"));
	p->cols = ST_PDB_COLS_KNOWN | (skip ? ST_PDB_HAS_SKIPPED : 0) |
	    (desc ? ST_PDB_HAS_DESCRIPTION : 0) |
	    (fails && fat ? ST_PDB_HAS_FAILURES : 0);
	return (0);
}
#else
static int
pdb_detect(st_pdb *p, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_sql_prepare(p->db, "SELECT (SELECT count(*) FROM "
	    "pragma_table_info('sections') WHERE name = 'skipped' COLLATE "
	    "NOCASE), (SELECT count(*) FROM pragma_table_info('tasks') WHERE "
	    "name = 'description' COLLATE NOCASE), (SELECT count(*) FROM "
	    "pragma_table_info('tasks') WHERE name COLLATE NOCASE IN "
	    "('failure_count', 'last_failure_at'))", &stmt,
	    err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		p->cols = ST_PDB_COLS_KNOWN;
		if (sqlite3_column_int(stmt, 0) > 0)
			p->cols |= ST_PDB_HAS_SKIPPED;
		if (sqlite3_column_int(stmt, 1) > 0)
			p->cols |= ST_PDB_HAS_DESCRIPTION;
		if (sqlite3_column_int(stmt, 2) == 2)
			p->cols |= ST_PDB_HAS_FAILURES;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return (st_sql_err(p->db, rc, err, "cannot read the schema"));
	return (0);
}
#endif

/*
 * Open a project's DB.  ST_PDB_READONLY for readers; ST_PDB_QUICK for the
 * sweep and the agent, which must not wait long on one locked project.
 * A writer's open upgrades the DB first where it is ours to (pdb_upgrade);
 * every open but the one-shot count notes which optional columns exist.
 */
int
st_pdb_open(const char *dir, int flags, st_pdb **pp, struct st_error *err)
{
	char		 path[PATH_MAX];
	struct stat	 sb;
	st_pdb		*p;
	int		 rc;

	*pp = NULL;
	if (db_path(dir, path, sizeof(path), err) == -1 ||
	    st_path_check_db(dir, err) == -1)
		return (-1);
	p = st_xcalloc(1, sizeof(*p));
	strlcpy(p->dir, dir, sizeof(p->dir));
	if ((rc = pdb_connect(p, path, flags, err)) == -2)
		rc = pdb_connect(p, path, flags & ~ST_PDB_SHMRO, err);
	if (rc == -1)
		goto fail;
	if (!(flags & ST_PDB_READONLY) && pdb_upgrade(p->db, err) == -1)
		goto fail;
	if (!((flags & PDB_ONESHOT) && (flags & ST_PDB_READONLY)) &&
	    pdb_detect(p, err) == -1)
		goto fail;
	*pp = p;
	return (0);
fail:
	/* Asked only now: a stat per open was a syscall per sweep project. */
	if (stat(path, &sb) == -1)
		st_seterr(err, ST_ENOTINIT, "Not a steroids project: %s", dir);
	st_pdb_close(p);
	return (-1);
}

void
st_pdb_close(st_pdb *p)
{
	if (p == NULL)
		return;
	sqlite3_finalize(p->counts);
	sqlite3_finalize(p->open);
	sqlite3_finalize(p->work);
	sqlite3_close(p->db);
	free(p);
}

const char *
st_pdb_dir(st_pdb *p)
{
	return (p->dir);
}

/*
 * Pending work: a task that is pending, in progress or in review, outside
 * a skipped section.  Asked in two steps: is there an open task at all
 * (idx_tasks_status; a simpler statement than the join), and only then,
 * in skipped sections or not.  None open means none pending; a commit
 * between the two is seen by the second.  Each statement is prepared
 * once per connection (*slot): a kept connection counts at each event,
 * and a count with work took ~150 us in the agent's check, the two
 * prepares ~70 us of it (measured apart; bench/README.md).  Each step
 * after a reset is a read transaction of its own, so a commit since is
 * seen.
 */
static int
pdb_count(st_pdb *p, sqlite3_stmt **slot, const char *sql, long *count,
    struct st_error *err)
{
	int	rc;

	if (*slot == NULL && st_sql_prepare(p->db, sql, slot, err) == -1)
		return (-1);
	rc = sqlite3_step(*slot);
	if (rc == SQLITE_ROW)
		*count = (long)sqlite3_column_int64(*slot, 0);
	sqlite3_reset(*slot);
	if (rc != SQLITE_ROW)
		return (st_sql_err(p->db, rc, err, "cannot count tasks"));
	return (0);
}

#define PDB_SQL_OPEN	"SELECT count(*) FROM tasks t WHERE" ST_SQL_TASK_OPEN

int
st_pdb_work(st_pdb *p, long *count, struct st_error *err)
{
	*count = 0;
	/*
	 * Before the upstream tool's migration 008 sections had no skipped
	 * column: asked only when the statement finds it missing, so the
	 * one-shot count (which reads no schema of its own) pays nothing.
	 */
	if ((p->cols & ST_PDB_COLS_KNOWN) && !(p->cols & ST_PDB_HAS_SKIPPED))
		return (pdb_count(p, &p->open, PDB_SQL_OPEN, count, err));
	if (pdb_count(p, &p->work, "SELECT count(*)" ST_SQL_TASK_FROM
	    " WHERE " ST_SQL_TASK_WORK, count, err) == 0)
		return (0);
	if (p->work != NULL ||
	    strstr(sqlite3_errmsg(p->db), "no such column: s.skipped") == NULL)
		return (-1);
	return (pdb_count(p, &p->open, PDB_SQL_OPEN, count, err));
}

int
st_pdb_pending(st_pdb *p, long *count, struct st_error *err)
{
	*count = 0;
	if (pdb_count(p, &p->open, PDB_SQL_OPEN, count, err) == -1)
		return (-1);
	if (*count == 0)
		return (0);
	return (st_pdb_work(p, count, err));
}

int
st_project_pending(const char *dir, int flags, long *count,
    struct st_error *err)
{
	st_pdb	*p;
	int	 rc, prim, shmro = ST_PDB_SHMRO;

	*count = 0;
again:
	if (st_pdb_open(dir, flags | ST_PDB_READONLY | PDB_ONESHOT | shmro,
	    &p, err) == -1)
		return (-1);
	if ((rc = st_pdb_pending(p, count, err)) == -1) {
		prim = sqlite3_extended_errcode(p->db) & 0xff;
		/*
		 * A readonly_shm reader cannot create a missing -shm
		 * (SQLITE_CANTOPEN), and can be refused while a writer
		 * changes the -shm under it (SQLITE_READONLY_CANTINIT,
		 * _RECOVERY: "attempt to write a readonly database"; seen
		 * in make bench).  The plain way then, once.
		 */
		if (shmro && (prim == SQLITE_CANTOPEN ||
		    prim == SQLITE_READONLY)) {
			st_pdb_close(p);
			shmro = 0;
			goto again;
		}
		if (err->code == ST_EGENERAL &&
		    strstr(err->msg, "no such") != NULL)
			st_seterr(err, ST_ENOTINIT, "%s: not a steroids project "
			    "database (%s)", sqlite3_db_filename(p->db, "main"),
			    sqlite3_errmsg(p->db));
	}
	st_pdb_close(p);
	return (rc);
}

/*
 * SQLite's write locks (unix VFS; the lock bytes are part of the file
 * format: https://sqlite.org/walformat.html, fileformat2.html): a WAL
 * write transaction holds the WAL write lock, a POSIX lock on byte 120
 * of the -shm; a rollback-journal one (or a WAL one in exclusive locking
 * mode, which has no -shm) holds RESERVED, byte 0x40000001 of the DB,
 * and PENDING, the byte before, on the way to EXCLUSIVE.
 */
#define SHM_WRITE_LOCK		120
#define DB_PENDING_BYTE		0x40000000
#define DB_LOCK_BYTES		2	/* PENDING and RESERVED */

/*
 * 1 if another process holds a lock on [start, start + len) of path, 0
 * if none does (or path is missing and may be), -1 if unknown.
 */
static int
lock_held_fd(int fd, off_t start, off_t len)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, F_GETLK, &fl) == -1)
		return (-1);
	return (fl.l_type != F_UNLCK);
}

static int
lock_held(const char *path, off_t start, off_t len, int may_miss)
{
	int	fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (errno == ENOENT && may_miss ? 0 : -1);
	rc = lock_held_fd(fd, start, len);
	close(fd);
	return (rc);
}

/*
 * Is no process in a write transaction on the project DB of dir?  SQLite
 * publishes a commit before it releases its write lock, so when this
 * answers 1, every commit whose WAL frames (or DB pages) were written
 * before the call is visible to a read transaction begun after it: a
 * file event, then this, then a count that finds no open task means the
 * commit behind the event brought none (SPEC 8, "Trap").  0: a writer
 * holds its lock, the commit may not be visible yet; -1: cannot tell.
 * A reader starting a transaction holds PENDING for a moment: 0 then,
 * which only costs the caller a look later.
 *
 * Never call it while this process has the DB open with SQLite: the
 * close(2) here would drop that connection's POSIX locks (all of a
 * process's locks on a file go with any of its descriptors), and
 * another process could then take the WAL for unused and delete it.
 * F_GETLK does not see this process's own locks either.
 */
int
st_pdb_writer_idle(const char *dir)
{
	struct st_error	err;
	char		path[PATH_MAX], shm[PATH_MAX + 8];
	int		held;

	if (db_path(dir, path, sizeof(path), &err) == -1)
		return (-1);
	if (snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm))
		return (-1);
	if ((held = lock_held(shm, SHM_WRITE_LOCK, 1, 1)) != 0)
		return (held == 1 ? 0 : -1);
	if ((held = lock_held(path, DB_PENDING_BYTE, DB_LOCK_BYTES, 0)) != 0)
		return (held == 1 ? 0 : -1);
	return (1);
}

/*
 * The same on descriptors the caller keeps open on the -shm (-1: there
 * was none) and the DB, for as long as its own connection there is open:
 * then no close(2) of ours drops that connection's locks.
 */
int
st_pdb_writer_idle_fd(int shmfd, int dbfd)
{
	int	held;

	if (shmfd != -1 &&
	    (held = lock_held_fd(shmfd, SHM_WRITE_LOCK, 1)) != 0)
		return (held == 1 ? 0 : -1);
	if ((held = lock_held_fd(dbfd, DB_PENDING_BYTE, DB_LOCK_BYTES)) != 0)
		return (held == 1 ? 0 : -1);
	return (1);
}

/* Both copies of the wal-index header: 1, 0 being written, -1 unreadable. */
static int
wal_header(int shmfd, unsigned char hdr[2 * ST_PDB_MARK_LEN])
{
	if (shmfd == -1 ||
	    pread(shmfd, hdr, 2 * ST_PDB_MARK_LEN, 0) != 2 * ST_PDB_MARK_LEN)
		return (-1);
	return (memcmp(hdr, hdr + ST_PDB_MARK_LEN, ST_PDB_MARK_LEN) == 0);
}

/*
 * Was a commit published since *mark, the -shm's header when last asked?
 * SQLite publishes a commit by writing the wal-index header after its
 * frames (and their sync, under synchronous=FULL): two copies, at 0 and
 * 48, the second written first (walformat.html); a read transaction
 * begun after that sees the commit.  So a header changed since, its
 * copies alike (not being written) and with frames (mxFrame, at 16,
 * native order: none means a WAL restarted, by a writer's first frame or
 * a truncating checkpoint, with no commit yet), means every commit whose
 * frames were written before *mark was read is visible now.  A writer
 * that commits again at once (a burst) takes its lock again within
 * microseconds of each COMMIT; this sees the first commit all the same.
 * *mark becomes what was read, unless the header was being written.
 * Where pread does not see another process's writes to a shared mapping
 * at once (OpenBSD, no unified buffer cache) it sees a commit late or
 * never, and the caller's other probes and counts remain.
 */
int
st_pdb_commit_since(int shmfd, unsigned char mark[ST_PDB_MARK_LEN])
{
	unsigned char	hdr[2 * ST_PDB_MARK_LEN];	/* both copies */
	uint32_t	frames;
	int		rc, changed;

	if ((rc = wal_header(shmfd, hdr)) != 1)
		return (rc);
	changed = memcmp(hdr, mark, ST_PDB_MARK_LEN) != 0;
	memcpy(mark, hdr, ST_PDB_MARK_LEN);
	memcpy(&frames, hdr + 16, sizeof(frames));
	return (changed && frames != 0);
}

/*
 * The -shm's wal-index header, into hdr: 0, or -1 when it cannot be read
 * or is being written.  Every commit changes it (its iChange, at 8,
 * counts the transactions), so two reads alike mean no commit between.
 */
int
st_pdb_header(int shmfd, unsigned char hdr[ST_PDB_MARK_LEN])
{
	unsigned char	both[2 * ST_PDB_MARK_LEN];

	if (wal_header(shmfd, both) != 1)
		return (-1);
	memcpy(hdr, both, ST_PDB_MARK_LEN);
	return (0);
}
