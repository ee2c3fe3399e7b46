/*
 * globaldb.c -- $STEROIDS_HOME/steroids.db: open, schema, migrations.
 *
 * Version 1 is what the upstream tool shipped (runners, runner_lock).
 * Version 2 adds projects.  Version 3 adds projects.mount_point, so prune
 * can tell a deleted project from one on an unmounted drive.  Each step is
 * one transaction: a crash leaves the DB at the version before or after,
 * never between.  A newer DB than we know is used as it is, never lowered.
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

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS _global_schema ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runners ("
    " id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'idle', pid INTEGER,"
    " project_path TEXT, current_task_id TEXT, started_at TEXT,"
    " heartbeat_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS runner_lock ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), runner_id TEXT NOT NULL,"
    " acquired_at TEXT NOT NULL DEFAULT (datetime('now')));";

static const char migrate_1_2[] =
    "CREATE TABLE IF NOT EXISTS projects ("
    " path TEXT PRIMARY KEY, name TEXT,"
    " registered_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " last_seen_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " enabled INTEGER NOT NULL DEFAULT 1);"
    "UPDATE _global_schema SET value = '2' WHERE key = 'version';";

static const char migrate_2_3[] =
    "ALTER TABLE projects ADD COLUMN mount_point TEXT;"
    "CREATE INDEX IF NOT EXISTS runners_project ON runners(project_path);"
    "UPDATE _global_schema SET value = '3' WHERE key = 'version';";

static const char *const migrations[] = {
	NULL,		/* 0 -> 1: created fresh, see create() */
	migrate_1_2,
	migrate_2_3,
};

/* -1: no _global_schema or no version row (a fresh DB). */
static int
read_version(sqlite3 *db, int *version, struct st_error *err)
{
	sqlite3_stmt	*stmt;
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
	if (rc == SQLITE_ROW)
		*version = atoi((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (st_sql_err(db, rc, err, "cannot read schema version"));
	return (0);
}

static int
create(sqlite3 *db, struct st_error *err)
{
	char	*sql;
	size_t	 i;

	if (st_sql_exec(db, schema_v1, err) == -1 ||
	    st_sql_exec(db, "INSERT OR REPLACE INTO _global_schema (key, value)"
	    " VALUES ('version', '1'), ('created_at', datetime('now'))",
	    err) == -1)
		return (-1);
	for (i = 1; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		sql = (char *)migrations[i];
		if (st_sql_exec(db, sql, err) == -1)
			return (-1);
	}
	return (0);
}

/* Bring the schema to ST_GLOBAL_SCHEMA_VERSION, one transaction a step. */
static int
upgrade(sqlite3 *db, struct st_error *err)
{
	int	version;

	if (read_version(db, &version, err) == -1)
		return (-1);
	if (version == ST_GLOBAL_SCHEMA_VERSION)
		return (0);		/* the common case: no write lock */
	for (;;) {
		if (st_sql_begin(db, err) == -1)
			return (-1);
		if (read_version(db, &version, err) == -1)
			goto fail;
		if (version >= ST_GLOBAL_SCHEMA_VERSION)
			break;
		if (version <= 0) {
			if (create(db, err) == -1)
				goto fail;
		} else if (st_sql_exec(db, migrations[version], err) == -1)
			goto fail;
		if (st_sql_commit(db, err) == -1)
			return (-1);
	}
	st_sql_rollback(db);
	if (version > ST_GLOBAL_SCHEMA_VERSION) {
		/* Newer: fine if what we use is there. */
		if (st_sql_exec(db, "SELECT path, name, registered_at, "
		    "last_seen_at, enabled, mount_point FROM projects LIMIT 0;"
		    "SELECT id, status, pid, project_path, current_task_id, "
		    "started_at, heartbeat_at FROM runners LIMIT 0", err) == -1)
			return (st_seterr(err, ST_ECONFIG, "global database is "
			    "at schema version %d, newer than this steroids "
			    "(%d), and lacks tables it needs: upgrade steroids",
			    version, ST_GLOBAL_SCHEMA_VERSION));
	}
	return (0);
fail:
	st_sql_rollback(db);
	return (-1);
}

/* Make the file 0600 before SQLite ever creates it with the umask's mode. */
static int
precreate(const char *path, struct st_error *err)
{
	int	fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return (st_seterr(err, errno == EACCES ? ST_EPERM : ST_EGENERAL,
		    "cannot open %s: %s", path, strerror(errno)));
	close(fd);
	return (st_fix_mode(path, 0600, err));
}

static int
fix_modes(const char *path, struct st_error *err)
{
	char	buf[PATH_MAX + 64];

	if (st_fix_mode(path, 0600, err) == -1)
		return (-1);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	if (st_fix_mode(buf, 0600, err) == -1)
		return (-1);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	return (st_fix_mode(buf, 0600, err));
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
	st_gdb	*g;
	char	 path[PATH_MAX];

	*gp = NULL;
	if (snprintf(path, sizeof(path), "%s/steroids.db", home) >=
	    (int)sizeof(path))
		return (st_seterr(err, ST_ECONFIG, "STEROIDS_HOME is too long"));
	if (precreate(path, err) == -1)
		return (-1);
	g = st_xcalloc(1, sizeof(*g));
	strlcpy(g->home, home, sizeof(g->home));
	if (st_sql_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    ST_BUSY_TIMEOUT_MS, &g->db, err) == -1)
		goto fail;
	if (st_sql_exec(g->db, "PRAGMA foreign_keys = ON", err) == -1 ||
	    st_sql_wal(g->db, err) == -1 ||
	    upgrade(g->db, err) == -1 ||
	    fix_modes(path, err) == -1)
		goto fail;
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

	if (st_home_ensure(home, sizeof(home), err) == -1)
		return (-1);
	return (st_gdb_open_dir(home, gp, err));
}

void
st_gdb_close(st_gdb *g)
{
	if (g == NULL)
		return;
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
