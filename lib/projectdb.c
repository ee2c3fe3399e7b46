/*
 * projectdb.c -- <project>/.steroids/steroids.db.  Column names follow the
 * upstream steroids tool, so a project it made is read as it is.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

static const char project_schema[] =
    "CREATE TABLE IF NOT EXISTS _schema ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sections ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " position INTEGER NOT NULL DEFAULT 0, priority INTEGER DEFAULT 50,"
    " skipped INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS tasks ("
    " id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT,"
    " status TEXT NOT NULL DEFAULT 'pending',"
    " section_id TEXT REFERENCES sections(id),"
    " failure_count INTEGER NOT NULL DEFAULT 0, last_failure_at TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " updated_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status);"
    "CREATE TABLE IF NOT EXISTS audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,"
    " from_status TEXT, to_status TEXT NOT NULL, actor TEXT,"
    " actor_type TEXT, notes TEXT,"
    " created_at TEXT NOT NULL DEFAULT (datetime('now')));"
    "INSERT OR IGNORE INTO _schema (key, value) VALUES"
    " ('version', '1'), ('created_at', datetime('now'));";

static int
db_path(const char *dir, char *buf, size_t len, struct st_error *err)
{
	if (snprintf(buf, len, "%s/" ST_PROJECT_DIR "/" ST_PROJECT_DB, dir) >=
	    (int)len)
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
	if (st_sql_wal(db, err) == -1 || st_sql_begin(db, err) == -1) {
		sqlite3_close(db);
		goto fail;
	}
	if (st_sql_exec(db, project_schema, err) == -1 ||
	    st_sql_commit(db, err) == -1) {
		st_sql_rollback(db);
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
		snprintf(path, sizeof(path), "%s/" ST_PROJECT_DIR "/"
		    ST_PROJECT_DB "%s", dir, sfx[i]);
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
 * A one-shot reader's connection (ST_PDB_SHMRO with ST_PDB_READONLY):
 * SQLite's readonly_shm URI parameter.  A reader alone on a WAL DB
 * otherwise rebuilds the -shm file (ftruncate, a write per page, mmap)
 * each time it opens it: most of the ~250 us a sweep spent per project.
 * With it, the reader maps the -shm of the DB's live connections read
 * only, or with none reads the WAL into its own memory (SQLite's
 * "unreliable shm" path); it never writes.  It cannot create a missing
 * -shm: SQLITE_CANTOPEN then, and the caller opens the plain way.
 */
static int
pdb_uri(const char *path, char *buf, size_t len)
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
	if (strlcat(buf, "?readonly_shm=1", len) >= len)
		return (-1);
	return (0);
}

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
	    pdb_uri(path, uri, sizeof(uri)) == 0;
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
	if (st_sql_exec(p->db, "SELECT id, title, status, section_id, "
	    "failure_count FROM tasks LIMIT 0", err) == -1) {
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
 * Open a project's DB.  ST_PDB_READONLY for readers; ST_PDB_QUICK for the
 * sweep and the agent, which must not wait long on one locked project.
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
 * (idx_tasks_status; a simpler statement, ~6 of the ~15 us it takes to
 * prepare and run the join), and only then, in skipped sections or not.
 * None open means none pending; a commit between the two is seen by the
 * second.
 */
static int
pdb_count(st_pdb *p, const char *sql, long *count, struct st_error *err)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_sql_prepare(p->db, sql, &stmt, err) == -1)
		return (-1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*count = (long)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return (st_sql_err(p->db, rc, err, "cannot count tasks"));
	return (0);
}

int
st_pdb_pending(st_pdb *p, long *count, struct st_error *err)
{
	*count = 0;
	if (pdb_count(p, "SELECT count(*) FROM tasks t WHERE" ST_SQL_TASK_OPEN,
	    count, err) == -1)
		return (-1);
	if (*count == 0)
		return (0);
	return (pdb_count(p, "SELECT count(*)" ST_SQL_TASK_FROM " WHERE "
	    ST_SQL_TASK_WORK, count, err));
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
lock_held(const char *path, off_t start, off_t len, int may_miss)
{
	struct flock	fl;
	int		fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (errno == ENOENT && may_miss ? 0 : -1);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	rc = fcntl(fd, F_GETLK, &fl);
	close(fd);
	if (rc == -1)
		return (-1);
	return (fl.l_type != F_UNLCK);
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
