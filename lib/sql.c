/* sql.c -- the few SQLite helpers every DB file shares. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <string.h>

#include "st-int.h"

/* Map an SQLite failure onto our codes: a lock is RESOURCE_LOCKED. */
int
st_sql_err(sqlite3 *db, int rc, struct st_error *err, const char *what)
{
	const char	*msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	const char	*file = db != NULL ? sqlite3_db_filename(db, "main") : NULL;
	int		 prim = rc & 0xff;

	if (file == NULL || *file == '\0')
		file = "database";
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return (st_seterr(err, ST_ELOCKED, "%s: %s: database is locked "
		    "by another process; try again", file, what));
	if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
		return (st_seterr(err, ST_EGENERAL, "%s: %s: not a valid "
		    "database (%s); move it aside or restore it", file, what,
		    msg));
	if (prim == SQLITE_CANTOPEN || prim == SQLITE_PERM ||
	    prim == SQLITE_READONLY || prim == SQLITE_AUTH)
		return (st_seterr(err, ST_EPERM, "%s: %s: %s", file, what,
		    msg));
	return (st_seterr(err, ST_EGENERAL, "%s: %s: %s", file, what, msg));
}

/*
 * Process-wide SQLite settings, made before SQLite's first use here
 * (sqlite3_config refuses after; a program that used SQLite first keeps
 * its own).  No memory statistics: they take a global mutex on every
 * allocation, and nothing here reads them.  No bulk page cache: a count
 * reads a few pages, and the agent keeps many DBs open at once.  The
 * figures are in bench/README.md ("Why two SQLite settings").
 */
static void
sql_setup(void)
{
	static int	done;

	if (done)
		return;
	done = 1;
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

int
st_sql_open(const char *path, int flags, int busy_ms, sqlite3 **dbp,
    struct st_error *err)
{
	sqlite3	*db = NULL;
	int	 rc;

	*dbp = NULL;
	sql_setup();
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		if (db == NULL)
			return (st_seterr(err, ST_EGENERAL, "%s: %s", path,
			    sqlite3_errstr(rc)));
		st_sql_err(db, rc, err, "cannot open");
		sqlite3_close(db);
		return (-1);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, busy_ms);
	*dbp = db;
	return (0);
}

int
st_sql_exec(sqlite3 *db, const char *sql, struct st_error *err)
{
	int	rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return (st_sql_err(db, rc, err, "query failed"));
	return (0);
}

int
st_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt,
    struct st_error *err)
{
	int	rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, stmt, NULL)) != SQLITE_OK)
		return (st_sql_err(db, rc, err, "cannot prepare query"));
	return (0);
}

/* IMMEDIATE: take the write lock up front, so busy_timeout applies once. */
int
st_sql_begin(sqlite3 *db, struct st_error *err)
{
	return (st_sql_exec(db, "BEGIN IMMEDIATE", err));
}

int
st_sql_commit(sqlite3 *db, struct st_error *err)
{
	if (st_sql_exec(db, "COMMIT", err) == -1) {
		st_sql_rollback(db);
		return (-1);
	}
	return (0);
}

void
st_sql_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* A column as a fresh string; NULL stays NULL.  Bytes kept as they are. */
char *
st_sql_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char	*s;
	int			 n;
	char			*p;

	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return (NULL);
	s = sqlite3_column_text(stmt, col);
	n = sqlite3_column_bytes(stmt, col);
	p = st_xmalloc((size_t)n + 1);
	memcpy(p, s, (size_t)n);
	p[n] = '\0';
	return (p);
}

/* Paths are bytes, not necessarily UTF-8: bind them with their length. */
int
st_sql_bind_path(sqlite3_stmt *stmt, int idx, const char *path)
{
	if (path == NULL)
		return (sqlite3_bind_null(stmt, idx));
	return (sqlite3_bind_text(stmt, idx, path, (int)strlen(path),
	    SQLITE_TRANSIENT));
}

/* Enforce a mode on a file we own; a missing file is not an error. */
int
st_fix_mode(const char *path, mode_t mode, struct st_error *err)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return (0);
		return (st_seterr(err, ST_EPERM, "%s: %s", path,
		    strerror(errno)));
	}
	if ((sb.st_mode & 07777) != mode && chmod(path, mode) == -1)
		return (st_seterr(err, ST_EPERM, "%s: cannot set mode %04o: %s",
		    path, (unsigned)mode, strerror(errno)));
	return (0);
}

/*
 * Take away the bits of a file's mode outside mask, never add any: a
 * file or folder its owner made read-only stays read-only (a registry we
 * may not write is read, not made writable).  A missing file is fine,
 * and so is a read-only filesystem, where nothing can change it anyway.
 */
int
st_tighten_mode(const char *path, mode_t mask, struct st_error *err)
{
	struct stat	sb;
	mode_t		mode;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return (0);
		return (st_seterr(err, ST_EPERM, "%s: %s", path,
		    strerror(errno)));
	}
	mode = sb.st_mode & 07777;
	if ((mode & ~mask) != 0 && chmod(path, mode & mask) == -1 &&
	    errno != EROFS)
		return (st_seterr(err, ST_EPERM, "%s: cannot set mode %04o: %s",
		    path, (unsigned)(mode & mask), strerror(errno)));
	return (0);
}

/* 1 if table has the column, 0 if not (or no such table), -1 on error. */
int
st_sql_has_column(sqlite3 *db, const char *table, const char *column,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_sql_prepare(db, "SELECT 1 FROM pragma_table_info(?1) WHERE "
	    "name = ?2", &stmt, err) == -1)
		return (-1);
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, column, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return (1);
	if (rc == SQLITE_DONE)
		return (0);
	return (st_sql_err(db, rc, err, "cannot read the schema"));
}

/*
 * A file: URI for path, percent-encoded, with the query params (no '?')
 * appended; -1 if it does not fit.
 */
int
st_sql_uri(const char *path, const char *params, char *buf, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*s;
	size_t			 n;

	n = strlcpy(buf, "file://", len);
	for (s = (const unsigned char *)path; *s != '\0'; s++) {
		if (n + 4 >= len)
			return (-1);
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/-._~", *s) != NULL)
			buf[n++] = (char)*s;
		else {
			buf[n++] = '%';
			buf[n++] = hex[*s >> 4];
			buf[n++] = hex[*s & 0xf];
		}
	}
	buf[n] = '\0';
	if (strlcat(buf, "?", len) >= len || strlcat(buf, params, len) >= len)
		return (-1);
	return (0);
}

/*
 * Step a statement that returns no rows and finalize it: 0, or -1 with
 * an error that says what could not be done.
 */
int
st_sql_done(sqlite3_stmt *stmt, const char *what, struct st_error *err)
{
	sqlite3	*db = sqlite3_db_handle(stmt);
	int	 rc;

	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return (st_sql_err(db, rc, err, what));
	return (0);
}
