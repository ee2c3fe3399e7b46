/* registry.c -- the projects table of the global DB. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st-int.h"

#define PROJECT_COLUMNS	"path, name, registered_at, last_seen_at, " \
	"CAST(strftime('%s', 'now') - strftime('%s', last_seen_at) AS INTEGER), " \
	"enabled, "
/* A registry we may not write may lack the column we would have added. */
#define MOUNT_POINT(g)	((g)->mount_point ? "mount_point" : "NULL")

/* "SELECT <the columns> FROM projects <tail>" (PROJECT_COLUMNS holds %s). */
static void
project_sql(st_gdb *g, const char *tail, char *buf, size_t len)
{
	strlcpy(buf, "SELECT " PROJECT_COLUMNS, len);
	strlcat(buf, MOUNT_POINT(g), len);
	strlcat(buf, " FROM projects ", len);
	strlcat(buf, tail, len);
}

static void
read_project(sqlite3_stmt *stmt, struct st_project *p)
{
	p->path = st_sql_strdup(stmt, 0);
	p->name = st_sql_strdup(stmt, 1);
	p->registered_at = st_sql_strdup(stmt, 2);
	p->last_seen_at = st_sql_strdup(stmt, 3);
	p->last_seen_age = (long)sqlite3_column_int64(stmt, 4);
	p->enabled = sqlite3_column_int(stmt, 5) != 0;
	p->mount_point = st_sql_strdup(stmt, 6);
}

int
st_registry_register(st_gdb *g, const char *in, const char *name, char *out,
    size_t outlen, struct st_error *err)
{
	char		 path[PATH_MAX], mp[PATH_MAX];
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_path_canon(in, path, sizeof(path), err) == -1 ||
	    st_path_check_project(path, err) == -1 ||
	    st_gdb_writable(g, err) == -1)
		return (-1);
	if (st_path_mount_point(path, mp, sizeof(mp)) == -1)
		mp[0] = '\0';
	if (st_sql_prepare(g->db, "INSERT INTO projects (path, name, "
	    "mount_point) VALUES (?1, ?2, ?3) ON CONFLICT(path) DO UPDATE SET "
	    "name = COALESCE(excluded.name, name), "
	    "mount_point = excluded.mount_point, "
	    "last_seen_at = datetime('now')", &stmt, err) == -1)
		return (-1);
	st_sql_bind_path(stmt, 1, path);
	if (name != NULL)
		sqlite3_bind_text(stmt, 2, name, -1, SQLITE_TRANSIENT);
	if (mp[0] != '\0')
		st_sql_bind_path(stmt, 3, mp);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return (st_sql_err(g->db, rc, err, "cannot register project"));
	if (out != NULL)
		strlcpy(out, path, outlen);
	return (0);
}

/* Run one UPDATE/DELETE keyed by path; NOT_FOUND when no row matched. */
static int
by_path(st_gdb *g, const char *sql, const char *in, int arg, char *out,
    size_t outlen, struct st_error *err)
{
	char		 path[PATH_MAX];
	sqlite3_stmt	*stmt;
	int		 rc;

	if (st_path_lookup(in, path, sizeof(path), err) == -1)
		return (-1);
	if (out != NULL)
		strlcpy(out, path, outlen);
	if (st_gdb_writable(g, err) == -1)
		return (-1);
	if (st_sql_prepare(g->db, sql, &stmt, err) == -1)
		return (-1);
	st_sql_bind_path(stmt, 1, path);
	sqlite3_bind_int(stmt, 2, arg);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return (st_sql_err(g->db, rc, err, "cannot update registry"));
	if (sqlite3_changes(g->db) == 0)
		return (st_seterr(err, ST_ENOTFOUND, "not a registered "
		    "project: %s (see 'steroids projects list')", path));
	return (0);
}

int
st_registry_unregister(st_gdb *g, const char *in, char *out, size_t outlen,
    struct st_error *err)
{
	return (by_path(g, "DELETE FROM projects WHERE path = ?1 AND ?2 = 0",
	    in, 0, out, outlen, err));
}

int
st_registry_set_enabled(st_gdb *g, const char *in, int enabled, char *out,
    size_t outlen, struct st_error *err)
{
	return (by_path(g, "UPDATE projects SET enabled = ?2 WHERE path = ?1",
	    in, enabled ? 1 : 0, out, outlen, err));
}

int
st_registry_list(st_gdb *g, int enabled_only, struct st_project_list *l,
    struct st_error *err)
{
	sqlite3_stmt	*stmt;
	char		 sql[512];
	size_t		 cap = 0;
	int		 rc;

	l->v = NULL;
	l->n = 0;
	project_sql(g, "WHERE enabled OR ?1 = 0 ORDER BY path", sql,
	    sizeof(sql));
	if (st_sql_prepare(g->db, sql, &stmt, err) == -1)
		return (-1);
	sqlite3_bind_int(stmt, 1, enabled_only);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (l->n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			l->v = st_xreallocarray(l->v, cap, sizeof(*l->v));
		}
		read_project(stmt, &l->v[l->n++]);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		st_project_list_free(l);
		return (st_sql_err(g->db, rc, err, "cannot list projects"));
	}
	return (0);
}

/* *found = 0 and a zeroed *p when the path is not registered. */
int
st_registry_get(st_gdb *g, const char *in, struct st_project *p, int *found,
    struct st_error *err)
{
	char		 path[PATH_MAX], sql[512];
	sqlite3_stmt	*stmt;
	int		 rc;

	memset(p, 0, sizeof(*p));
	*found = 0;
	if (st_path_lookup(in, path, sizeof(path), err) == -1)
		return (-1);
	project_sql(g, "WHERE path = ?1", sql, sizeof(sql));
	if (st_sql_prepare(g->db, sql, &stmt, err) == -1)
		return (-1);
	st_sql_bind_path(stmt, 1, path);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		read_project(stmt, p);
		*found = 1;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (st_sql_err(g->db, rc, err, "cannot read registry"));
	return (0);
}

void
st_project_free(struct st_project *p)
{
	free(p->path);
	free(p->name);
	free(p->registered_at);
	free(p->last_seen_at);
	free(p->mount_point);
	memset(p, 0, sizeof(*p));
}

void
st_project_list_free(struct st_project_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		st_project_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
present(const char *path)
{
	char		buf[PATH_MAX];
	struct stat	sb;

	if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return (0);
	snprintf(buf, sizeof(buf), "%s/" ST_PROJECT_DIR, path);
	return (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode));
}

/*
 * A project whose folder is gone because its drive is not mounted must
 * be kept: the mount point recorded at registration tells us.  Rows from
 * before v3 have none; for them a missing top of the usual removable
 * media trees means the same.  Prune keeps such a project, list shows it.
 */
int
st_registry_unmounted(const char *path, const char *mp)
{
	static const char *const media[] = { "/media/", "/run/media/",
	    "/mnt/", "/Volumes/", NULL };
	char		 top[PATH_MAX];
	const char	*rest, *slash;
	size_t		 i;

	if (mp != NULL && *mp != '\0')
		return (strcmp(mp, "/") != 0 && !st_path_is_mounted(mp));
	for (i = 0; media[i] != NULL; i++) {
		if (strncmp(path, media[i], strlen(media[i])) != 0)
			continue;
		rest = path + strlen(media[i]);
		if (strcmp(media[i], "/media/") == 0 ||
		    strcmp(media[i], "/run/media/") == 0) {
			/* /media/<user>/<drive> */
			if ((slash = strchr(rest, '/')) != NULL)
				rest = slash + 1;
		}
		slash = strchr(rest, '/');
		snprintf(top, sizeof(top), "%.*s", (int)(slash != NULL ?
		    (size_t)(slash - path) : strlen(path)), path);
		return (!st_path_is_mounted(top));
	}
	return (0);
}

static void
prune_add(struct st_prune_list *l, size_t *cap, const char *path, int action,
    const char *reason)
{
	if (l->n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		l->v = st_xreallocarray(l->v, *cap, sizeof(*l->v));
	}
	l->v[l->n].path = st_xstrdup(path);
	l->v[l->n].action = action;
	strlcpy(l->v[l->n].reason, reason, sizeof(l->v[l->n].reason));
	l->n++;
}

int
st_registry_prune(st_gdb *g, int dry_run, struct st_prune_list *l,
    struct st_error *err)
{
	sqlite3_stmt	*sel = NULL, *del = NULL;
	size_t		 cap = 0, i;
	char		*path, *mp, sql[128];
	int		 rc;

	l->v = NULL;
	l->n = 0;
	/* A dry run only reads: it works on a registry we may not write. */
	if (!dry_run && st_gdb_writable(g, err) == -1)
		return (-1);
	if (st_sql_exec(g->db, dry_run ? "BEGIN" : "BEGIN IMMEDIATE",
	    err) == -1)
		return (-1);
	snprintf(sql, sizeof(sql), "SELECT path, %s FROM projects ORDER BY "
	    "path", MOUNT_POINT(g));
	if (st_sql_prepare(g->db, sql, &sel, err) == -1 ||
	    st_sql_prepare(g->db, "DELETE FROM projects WHERE path = ?1",
	    &del, err) == -1)
		goto fail;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		path = st_sql_strdup(sel, 0);
		mp = st_sql_strdup(sel, 1);
		if (path != NULL && !present(path)) {
			if (st_registry_unmounted(path, mp))
				prune_add(l, &cap, path, ST_PRUNE_UNMOUNTED,
				    "filesystem not mounted; kept");
			else
				prune_add(l, &cap, path, ST_PRUNE_REMOVED,
				    "directory not found");
		}
		free(path);
		free(mp);
	}
	if (rc != SQLITE_DONE) {
		st_sql_err(g->db, rc, err, "cannot read registry");
		goto fail;
	}
	for (i = 0; !dry_run && i < l->n; i++) {
		if (l->v[i].action != ST_PRUNE_REMOVED)
			continue;
		sqlite3_reset(del);
		st_sql_bind_path(del, 1, l->v[i].path);
		if ((rc = sqlite3_step(del)) != SQLITE_DONE) {
			st_sql_err(g->db, rc, err, "cannot prune");
			goto fail;
		}
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	if (st_sql_commit(g->db, err) == -1) {
		st_prune_list_free(l);
		return (-1);
	}
	return (0);
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	st_sql_rollback(g->db);
	st_prune_list_free(l);
	return (-1);
}

void
st_prune_list_free(struct st_prune_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
