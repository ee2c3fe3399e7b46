/*
 * globaldb.c -- $STEROIDS_HOME/steroids.db: open, schema, migrations.
 *
 * The upstream tool writes the same file and counts its own versions (25
 * at v0.18.3), so the number does not say which columns a registry has:
 * what this build needs is looked up in the schema and added where it is
 * missing, in one transaction, a crash leaving the registry as it was.
 * The version is raised to ours when lower and never lowered; tables and
 * columns we do not know are left as they are.  A registry we may not
 * write is opened read only: reads work, writes fail saying so.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

/* Our version 1 is the upstream tool's 1 and our 2 its 2 (projects). */
static const char schema_tables[] =
    "CREATE TABLE IF NOT EXISTS _global_schema ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runners ("
    " id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'idle', pid INTEGER,"
    " project_path TEXT, current_task_id TEXT, started_at TEXT,"
    " heartbeat_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS runner_lock ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), runner_id TEXT NOT NULL,"
    " acquired_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS projects ("
    " path TEXT PRIMARY KEY, name TEXT,"
    " registered_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " last_seen_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " enabled INTEGER NOT NULL DEFAULT 1);";

/*
 * Columns added to tables that may predate them.  Our 3 adds mount_point;
 * the upstream tool's 3 added the task counts, and it takes a registry
 * at 3 for its own 3 and never adds them after, so a registry we bring
 * to 3 gets them too, or the upstream tool would fail on it.
 */
static const struct {
	const char	*table, *column, *decl;
} gdb_columns[] = {
	{ "projects", "mount_point", "TEXT" },
	{ "projects", "pending_count", "INTEGER DEFAULT 0" },
	{ "projects", "in_progress_count", "INTEGER DEFAULT 0" },
	{ "projects", "review_count", "INTEGER DEFAULT 0" },
	{ "projects", "completed_count", "INTEGER DEFAULT 0" },
	{ "projects", "stats_updated_at", "TEXT" },
};
#define GDB_NCOLUMNS	(sizeof(gdb_columns) / sizeof(gdb_columns[0]))

static const char schema_indexes[] =
    "CREATE INDEX IF NOT EXISTS runners_project ON runners(project_path);";

/* What we read and write: missing from a read-only registry is an error. */
static const char schema_used[] =
    "SELECT path, name, registered_at, last_seen_at, enabled FROM projects "
    "LIMIT 0; SELECT id, status, pid, project_path, current_task_id, "
    "started_at, heartbeat_at FROM runners LIMIT 0";

/*
 * -1: no _global_schema or no version row (a fresh DB).  A version that
 * is not a number is taken as newer than ours, so it is never replaced.
 */
static int
read_version(sqlite3 *db, int *version, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	const char	*s;
	char		*end;
	long		 v;
	int		 rc;

	*version = -1;
	rc = sqlite3_prepare_v2(db, "SELECT value FROM _global_schema "
	    "WHERE key = 'version'", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		if (strstr(sqlite3_errmsg(db), "no such table") != NULL)
			return (0);
		return (st_sql_err(db, rc, err, "cannot read schema version"));
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		s = (const char *)sqlite3_column_text(stmt, 0);
		v = s != NULL ? strtol(s, &end, 10) : 0;
		if (s == NULL || end == s || *end != '\0' || v < 0 ||
		    v > 1000000)
			v = 1000000;
		*version = (int)v;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (st_sql_err(db, rc, err, "cannot read schema version"));
	return (0);
}

/* How much of what we need is missing: tables, columns, indexes, version. */
static int
count_missing(sqlite3 *db, int *missing, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	size_t		 i;
	int		 rc, version, have;

	*missing = 0;
	if (read_version(db, &version, err) == -1)
		return (-1);
	if (version < ST_GLOBAL_SCHEMA_VERSION)
		(*missing)++;
	if (st_sql_prepare(db, "SELECT (SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('_global_schema', 'runners', "
	    "'runner_lock', 'projects')), (SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'index' AND name = 'runners_project')", &stmt,
	    err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*missing += 4 - sqlite3_column_int(stmt, 0) +
		    1 - sqlite3_column_int(stmt, 1);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return (st_sql_err(db, rc, err, "cannot read the schema"));
	for (i = 0; i < GDB_NCOLUMNS; i++) {
		have = st_sql_has_column(db, gdb_columns[i].table,
		    gdb_columns[i].column, err);
		if (have == -1)
			return (-1);
		*missing += !have;
	}
	return (0);
}

/* Add what is missing; the caller holds the transaction. */
static int
complete(sqlite3 *db, struct st_error *err)
{
	char	 sql[256];
	size_t	 i;
	int	 version, have;

	if (read_version(db, &version, err) == -1 ||
	    st_sql_exec(db, schema_tables, err) == -1)
		return (-1);
	for (i = 0; i < GDB_NCOLUMNS; i++) {
		have = st_sql_has_column(db, gdb_columns[i].table,
		    gdb_columns[i].column, err);
		if (have == -1)
			return (-1);
		if (have)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    gdb_columns[i].table, gdb_columns[i].column,
		    gdb_columns[i].decl);
		if (st_sql_exec(db, sql, err) == -1)
			return (-1);
	}
	if (st_sql_exec(db, schema_indexes, err) == -1 ||
	    st_sql_exec(db, "INSERT OR IGNORE INTO _global_schema (key, value) "
	    "VALUES ('created_at', datetime('now'))", err) == -1)
		return (-1);
	if (version >= ST_GLOBAL_SCHEMA_VERSION)
		return (0);
	snprintf(sql, sizeof(sql), "INSERT INTO _global_schema (key, value) "
	    "VALUES ('version', '%d') ON CONFLICT(key) DO UPDATE SET value = "
	    "excluded.value", ST_GLOBAL_SCHEMA_VERSION);
	return (st_sql_exec(db, sql, err));
}

/* Bring the schema to what this build needs, in one transaction. */
static int
upgrade(sqlite3 *db, struct st_error *err)
{
	int	missing;

	if (count_missing(db, &missing, err) == -1)
		return (-1);
	if (missing == 0)
		return (0);		/* the common case: no write lock */
	if (st_sql_begin(db, err) == -1)
		return (-1);
	if (complete(db, err) == -1) {
		st_sql_rollback(db);
		return (-1);
	}
	return (st_sql_commit(db, err));
}

/*
 * Make the file 0600 before SQLite ever creates it with the umask's mode.
 * *exists: it was there before (a read-only one can then still be read).
 */
static int
precreate(const char *path, int *exists, struct st_error *err)
{
	struct stat	sb;
	int		fd;

	*exists = lstat(path, &sb) == 0;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return (st_seterr(err, errno == EACCES || errno == EROFS ||
		    errno == EPERM ? ST_EPERM : ST_EGENERAL,
		    "cannot open %s: %s", path, strerror(errno)));
	close(fd);
	return (st_tighten_mode(path, 0600, err));
}

/*
 * The upstream tool makes these with the umask's modes (0644 mostly):
 * group and other bits go, as nothing of ours is ever readable by
 * others; the owner's stay (that tool runs as the same user).
 */
static int
fix_modes(const char *path, struct st_error *err)
{
	char	buf[PATH_MAX + 64];

	if (st_tighten_mode(path, 0600, err) == -1)
		return (-1);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	if (st_tighten_mode(buf, 0600, err) == -1)
		return (-1);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	return (st_tighten_mode(buf, 0600, err));
}

/*
 * Read only.  Where no -shm can be made (a read-only folder or mount),
 * a WAL registry opens only as immutable: nobody can write it there.
 */
static int
open_readonly(st_gdb *g, const char *path, struct st_error *err)
{
	static const char *const params[] = {
		"mode=ro", "mode=ro&immutable=1"
	};
	char	uri[PATH_MAX * 3 + 64];
	size_t	i;
	int	rc = -1, have;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		sqlite3_close(g->db);
		g->db = NULL;
		if (st_sql_uri(path, params[i], uri, sizeof(uri)) == -1)
			return (st_seterr(err, ST_ECONFIG, "STEROIDS_HOME is "
			    "too long"));
		if (st_sql_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
		    ST_BUSY_TIMEOUT_MS, &g->db, err) == -1)
			return (-1);
		if ((rc = st_sql_exec(g->db, schema_used, err)) == 0 ||
		    (sqlite3_extended_errcode(g->db) & 0xff) != SQLITE_CANTOPEN)
			break;
	}
	if (rc == -1) {
		if (strstr(err->msg, "no such") != NULL)
			st_seterr(err, ST_EPERM, "%s is read-only and lacks "
			    "what this steroids needs (%s); make it writable "
			    "once", path, sqlite3_errmsg(g->db));
		return (-1);
	}
	if ((have = st_sql_has_column(g->db, "projects", "mount_point",
	    err)) == -1)
		return (-1);
	g->mount_point = have;
	g->readonly = 1;
	return (0);
}

static int
open_readwrite(st_gdb *g, const char *path, int *exists,
    struct st_error *err)
{
	if (precreate(path, exists, err) == -1)
		return (-1);
	if (st_sql_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    ST_BUSY_TIMEOUT_MS, &g->db, err) == -1)
		return (-1);
	if (st_sql_exec(g->db, "PRAGMA foreign_keys = ON", err) == -1 ||
	    st_sql_wal(g->db, err) == -1 ||
	    upgrade(g->db, err) == -1 ||
	    fix_modes(path, err) == -1)
		return (-1);
	g->mount_point = 1;
	return (0);
}

/* 0 if the registry can be written, else -1 and an error that says why. */
int
st_gdb_writable(st_gdb *g, struct st_error *err)
{
	if (!g->readonly)
		return (0);
	return (st_seterr(err, ST_EPERM, "%s/steroids.db is read-only: "
	    "cannot change the registry", g->home));
}

/* WAL is persistent; only switch when it is not already on. */
int
st_sql_wal(sqlite3 *db, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc, wal = 0;

	if (st_sql_prepare(db, "PRAGMA journal_mode", &stmt, err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		wal = strcmp((const char *)sqlite3_column_text(stmt, 0),
		    "wal") == 0;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return (st_sql_err(db, rc, err, "cannot read journal mode"));
	if (wal)
		return (0);
	return (st_sql_exec(db, "PRAGMA journal_mode = WAL", err));
}

int
st_gdb_open_dir(const char *home, st_gdb **gp, struct st_error *err)
{
	struct st_error	 rerr;
	st_gdb		*g;
	char		 path[PATH_MAX];
	int		 exists = 0;

	*gp = NULL;
	if (snprintf(path, sizeof(path), "%s/steroids.db", home) >=
	    (int)sizeof(path))
		return (st_seterr(err, ST_ECONFIG, "STEROIDS_HOME is too long"));
	g = st_xcalloc(1, sizeof(*g));
	strlcpy(g->home, home, sizeof(g->home));
	if (open_readwrite(g, path, &exists, err) == -1) {
		/* Not ours to write (file or folder): read it as it is. */
		if (err->code != ST_EPERM || !exists)
			goto fail;
		if (open_readonly(g, path, &rerr) == -1) {
			if (strstr(rerr.msg, "lacks") != NULL)
				*err = rerr;
			goto fail;
		}
	}
	*gp = g;
	return (0);
fail:
	st_gdb_close(g);
	return (-1);
}

int
st_gdb_open(st_gdb **gp, struct st_error *err)
{
	char	home[PATH_MAX];

	*gp = NULL;
	if (st_home_ensure(home, sizeof(home), err) == -1)
		return (-1);
	return (st_gdb_open_dir(home, gp, err));
}

void
st_gdb_close(st_gdb *g)
{
	if (g == NULL)
		return;
	sqlite3_finalize(g->list);
	sqlite3_close(g->db);
	free(g);
}

const char *
st_gdb_home(st_gdb *g)
{
	return (g->home);
}

int
st_gdb_version(st_gdb *g, int *version, struct st_error *err)
{
	return (read_version(g->db, version, err));
}

/*
 * PRAGMA data_version: changes when another connection commits.  The
 * agent keeps one connection and asks this after every file event, so a
 * commit is seen once it is visible and not before (SPEC 8, "Trap").
 */
int
st_gdb_data_version(st_gdb *g, long long *v, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	*v = 0;
	if (st_sql_prepare(g->db, "PRAGMA data_version", &stmt, err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return (st_sql_err(g->db, rc, err, "cannot read data_version"));
	return (0);
}
