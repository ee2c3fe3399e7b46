/*
 * registry_test.c -- the projects table: register (one row per folder,
 * last_seen_at refreshed), the refusals, unregister, enable/disable, list,
 * get, and prune (gone folders removed, unmounted ones kept).
 */
#include "config.h"

#include "unit.h"

static void
db_file(const struct unit *u, char *buf, size_t len)
{
	snprintf(buf, len, "%s/steroids.db", u->home);
}

static void
register_ok(st_gdb *g, const char *in, const char *name, const char *want)
{
	struct st_error	err;
	char		out[PATH_MAX];

	if (st_registry_register(g, in, name, out, sizeof(out), &err) == -1)
		fail_msg("register %s: %s", in, err.msg);
	if (want != NULL)
		assert_string_equal(out, want);
}

static long
nrows(const struct unit *u)
{
	char	db[PATH_MAX];

	db_file(u, db, sizeof(db));
	return (unit_count(db, "SELECT count(*) FROM projects"));
}

static void
test_register_twice(void **state)
{
	struct unit		*u = *state;
	struct st_project	 p;
	struct st_error		 err;
	st_gdb			*g = unit_gdb();
	char			 dir[PATH_MAX], in[PATH_MAX], db[PATH_MAX];
	int			 found;

	unit_project(u, "p", dir, sizeof(dir));
	db_file(u, db, sizeof(db));
	register_ok(g, dir, "first", dir);
	assert_int_equal(nrows(u), 1);

	/* Pretend it was last seen long ago; registering again refreshes. */
	unit_sql(db, "UPDATE projects SET last_seen_at = '2020-01-01 00:00:00',"
	    " registered_at = '2020-01-01 00:00:00'");
	register_ok(g, unit_path(u, in, sizeof(in), "p/"), NULL, dir);
	assert_int_equal(nrows(u), 1);
	assert_int_equal(st_registry_get(g, dir, &p, &found, &err), 0);
	assert_true(found);
	assert_string_equal(p.name, "first");
	assert_string_equal(p.registered_at, "2020-01-01 00:00:00");
	assert_string_not_equal(p.last_seen_at, "2020-01-01 00:00:00");
	assert_in_range(p.last_seen_age, 0, 60);
	assert_true(p.enabled);
	st_project_free(&p);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects WHERE "
	    "last_seen_at >= datetime('now', '-60 seconds')"), 1);

	/* A new name replaces the old one. */
	register_ok(g, dir, "second", dir);
	assert_int_equal(st_registry_get(g, dir, &p, &found, &err), 0);
	assert_string_equal(p.name, "second");
	st_project_free(&p);

	/* Re-registering keeps a disabled project disabled. */
	assert_int_equal(st_registry_set_enabled(g, dir, 0, NULL, 0, &err), 0);
	register_ok(g, dir, NULL, dir);
	assert_int_equal(st_registry_get(g, dir, &p, &found, &err), 0);
	assert_false(p.enabled);
	st_project_free(&p);
	st_gdb_close(g);
}

static void
test_one_row_per_folder(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g = unit_gdb();
	char		 dir[PATH_MAX], in[PATH_MAX];

	unit_project(u, "p", dir, sizeof(dir));
	assert_int_equal(symlink(dir, unit_path(u, in, sizeof(in), "ln")), 0);
	register_ok(g, dir, NULL, dir);
	register_ok(g, unit_path(u, in, sizeof(in), "ln"), NULL, dir);
	register_ok(g, unit_path(u, in, sizeof(in), "ln/"), NULL, dir);
	register_ok(g, unit_path(u, in, sizeof(in), "p/../p"), NULL, dir);
	register_ok(g, unit_path(u, in, sizeof(in), "p//"), NULL, dir);
	assert_int_equal(chdir(u->root), 0);
	register_ok(g, "p", NULL, dir);
	register_ok(g, "./ln/.", NULL, dir);
	assert_int_equal(nrows(u), 1);
	st_gdb_close(g);
}

static void
register_fails(st_gdb *g, const char *in, int code, const char *needle)
{
	struct st_error	err;

	memset(&err, 0, sizeof(err));
	if (st_registry_register(g, in, NULL, NULL, 0, &err) != -1)
		fail_msg("register %s should fail", in);
	if (err.code != code)
		fail_msg("register %s: code %d, want %d: %s", in, err.code,
		    code, err.msg);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("register %s: '%s' lacks '%s'", in, err.msg, needle);
}

static void
test_register_refusals(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g = unit_gdb();
	char		 dir[PATH_MAX], sub[PATH_MAX];

	unit_path(u, dir, sizeof(dir), "missing");
	register_fails(g, dir, ST_ENOTFOUND, dir);
	register_fails(g, "", ST_EARGS, "empty");
	unit_path(u, dir, sizeof(dir), "plain");
	assert_int_equal(mkdir(dir, 0755), 0);
	register_fails(g, dir, ST_ENOTINIT, dir);
	register_fails(g, "/etc", ST_EPERM, "/etc");
	register_fails(g, "/", ST_EPERM, NULL);

	unit_project(u, "p", dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(chmod(sub, 0777), 0);
	register_fails(g, dir, ST_EPERM, sub);
	assert_int_equal(chmod(sub, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		register_fails(g, dir, ST_EPERM, dir);
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	assert_int_equal(nrows(u), 0);
	st_gdb_close(g);
}

static void
test_unregister(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g = unit_gdb();
	char		 a[PATH_MAX], b[PATH_MAX], in[PATH_MAX], out[PATH_MAX];

	unit_project(u, "a", a, sizeof(a));
	unit_project(u, "b", b, sizeof(b));
	register_ok(g, a, NULL, a);
	register_ok(g, b, NULL, b);

	assert_int_equal(st_registry_unregister(g, unit_path(u, in, sizeof(in),
	    "a/"), out, sizeof(out), &err), 0);
	assert_string_equal(out, a);
	assert_int_equal(nrows(u), 1);
	assert_int_equal(st_registry_unregister(g, a, out, sizeof(out), &err),
	    -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_non_null(strstr(err.msg, a));

	/* A folder that is gone can still be unregistered by its path. */
	unit_rmtree(b);
	assert_int_equal(st_registry_unregister(g, unit_path(u, in, sizeof(in),
	    "b/../b/"), out, sizeof(out), &err), 0);
	assert_string_equal(out, b);
	assert_int_equal(nrows(u), 0);
	st_gdb_close(g);
}

static void
test_enable_disable_list(void **state)
{
	struct unit		*u = *state;
	struct st_project_list	 l;
	struct st_project	 p;
	struct st_error		 err;
	st_gdb			*g = unit_gdb();
	char			 a[PATH_MAX], b[PATH_MAX], out[PATH_MAX];
	int			 found;

	unit_project(u, "a", a, sizeof(a));
	unit_project(u, "b", b, sizeof(b));
	register_ok(g, b, "bee", b);
	register_ok(g, a, NULL, a);

	assert_int_equal(st_registry_list(g, 1, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, a);		/* ordered by path */
	assert_null(l.v[0].name);
	assert_string_equal(l.v[1].path, b);
	assert_string_equal(l.v[1].name, "bee");
	st_project_list_free(&l);
	assert_int_equal(l.n, 0);

	assert_int_equal(st_registry_set_enabled(g, a, 0, out, sizeof(out),
	    &err), 0);
	assert_string_equal(out, a);
	assert_int_equal(st_registry_list(g, 1, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].path, b);
	st_project_list_free(&l);
	assert_int_equal(st_registry_list(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_false(l.v[0].enabled);
	assert_true(l.v[1].enabled);
	st_project_list_free(&l);

	/* Disabling twice is fine; enabling brings it back. */
	assert_int_equal(st_registry_set_enabled(g, a, 0, NULL, 0, &err), 0);
	assert_int_equal(st_registry_set_enabled(g, a, 1, NULL, 0, &err), 0);
	assert_int_equal(st_registry_get(g, a, &p, &found, &err), 0);
	assert_true(found);
	assert_true(p.enabled);
	st_project_free(&p);

	assert_int_equal(st_registry_set_enabled(g, u->user, 0, NULL, 0, &err),
	    -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_int_equal(st_registry_get(g, u->user, &p, &found, &err), 0);
	assert_false(found);
	assert_null(p.path);
	st_gdb_close(g);
}

/* Paths are bytes: spaces, newlines and non-UTF-8 round-trip exactly. */
static void
test_odd_paths(void **state)
{
	static const char *const names[] = { "with space", "new\nline",
	    "bad\377byte", "quote\"s'", "tab\there", NULL };
	struct unit		*u = *state;
	struct st_project_list	 l;
	struct st_error		 err;
	st_gdb			*g = unit_gdb();
	char			 dir[PATH_MAX];
	size_t			 i, j;

	for (i = 0; names[i] != NULL; i++) {
		unit_project(u, names[i], dir, sizeof(dir));
		register_ok(g, dir, NULL, dir);
	}
	assert_int_equal(st_registry_list(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 5);
	for (i = 0; names[i] != NULL; i++) {
		unit_path(u, dir, sizeof(dir), "%s", names[i]);
		for (j = 0; j < l.n; j++)
			if (strcmp(l.v[j].path, dir) == 0)
				break;
		if (j == l.n)
			fail_msg("%s not listed", names[i]);
		assert_int_equal(st_registry_unregister(g, dir, NULL, 0, &err),
		    0);
	}
	st_project_list_free(&l);
	assert_int_equal(nrows(u), 0);
	st_gdb_close(g);
}

static void
test_prune(void **state)
{
	struct unit		*u = *state;
	struct st_prune_list	 l;
	struct st_error		 err;
	st_gdb			*g = unit_gdb();
	char			 keep[PATH_MAX], gone[PATH_MAX];
	char			 nodot[PATH_MAX], sub[PATH_MAX];

	unit_project(u, "keep", keep, sizeof(keep));
	unit_project(u, "gone", gone, sizeof(gone));
	unit_project(u, "nodot", nodot, sizeof(nodot));
	register_ok(g, keep, NULL, keep);
	register_ok(g, gone, NULL, gone);
	register_ok(g, nodot, NULL, nodot);

	assert_int_equal(st_registry_prune(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 0);
	st_prune_list_free(&l);

	unit_rmtree(gone);
	snprintf(sub, sizeof(sub), "%s/.steroids", nodot);
	unit_rmtree(sub);

	/* Dry run: reported, nothing deleted. */
	assert_int_equal(st_registry_prune(g, 1, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, gone);
	assert_int_equal(l.v[0].action, ST_PRUNE_REMOVED);
	assert_string_equal(l.v[1].path, nodot);
	assert_int_equal(l.v[1].action, ST_PRUNE_REMOVED);
	st_prune_list_free(&l);
	assert_int_equal(nrows(u), 3);

	assert_int_equal(st_registry_prune(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 2);
	st_prune_list_free(&l);
	assert_int_equal(nrows(u), 1);
	assert_int_equal(st_registry_prune(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 0);
	st_prune_list_free(&l);
	assert_int_equal(nrows(u), 1);
	st_gdb_close(g);
}

/*
 * A project on a drive that is not mounted is kept.  Without mounting we
 * record a mount point that is an ordinary folder (as an unmounted
 * drive's folder is) and remove the project under it.
 */
static void
test_prune_keeps_unmounted(void **state)
{
	struct unit		*u = *state;
	struct st_prune_list	 l;
	struct st_error		 err;
	st_gdb			*g = unit_gdb();
	char			 drive[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	char			 db[PATH_MAX], sql[3 * PATH_MAX];

	unit_path(u, drive, sizeof(drive), "drive");
	assert_int_equal(mkdir(drive, 0755), 0);
	unit_project(u, "drive/p", p, sizeof(p));
	unit_project(u, "q", q, sizeof(q));
	register_ok(g, p, NULL, p);
	register_ok(g, q, NULL, q);
	db_file(u, db, sizeof(db));
	/* Registration recorded where its filesystem is mounted. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects WHERE "
	    "mount_point IS NOT NULL AND mount_point <> ''"), 2);
	snprintf(sql, sizeof(sql), "UPDATE projects SET mount_point = '%s' "
	    "WHERE path = '%s'", drive, p);
	unit_sql(db, sql);
	unit_rmtree(p);
	unit_rmtree(q);

	assert_int_equal(st_registry_prune(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, p);
	assert_int_equal(l.v[0].action, ST_PRUNE_UNMOUNTED);
	assert_non_null(strstr(l.v[0].reason, "mounted"));
	assert_string_equal(l.v[1].path, q);
	assert_int_equal(l.v[1].action, ST_PRUNE_REMOVED);
	st_prune_list_free(&l);
	assert_int_equal(nrows(u), 1);

	/* The drive's folder itself gone (udisks removes it): still kept. */
	unit_rmtree(drive);
	assert_int_equal(st_registry_prune(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].action, ST_PRUNE_UNMOUNTED);
	st_prune_list_free(&l);
	assert_int_equal(nrows(u), 1);
	st_gdb_close(g);
}

/* A project DB made by another tool with the upstream tables works. */
static void
test_foreign_project_db(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g = unit_gdb();
	char		 dir[PATH_MAX], db[PATH_MAX + 32];
	long		 n;

	unit_path(u, dir, sizeof(dir), "upstream");
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(db, sizeof(db), "%s/.steroids", dir);
	assert_int_equal(mkdir(db, 0700), 0);
	snprintf(db, sizeof(db), "%s/.steroids/steroids.db", dir);
	unit_sql(db, "CREATE TABLE _schema (key TEXT PRIMARY KEY, value TEXT);"
	    "CREATE TABLE sections (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	    " position INTEGER NOT NULL DEFAULT 0, priority INTEGER,"
	    " skipped INTEGER DEFAULT 0, created_at TEXT);"
	    "CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL,"
	    " description TEXT, status TEXT NOT NULL DEFAULT 'pending',"
	    " section_id TEXT, source_file TEXT, file_path TEXT,"
	    " failure_count INTEGER DEFAULT 0, last_failure_at TEXT,"
	    " rejection_count INTEGER DEFAULT 0,"
	    " created_at TEXT DEFAULT (datetime('now')),"
	    " updated_at TEXT DEFAULT (datetime('now')));"
	    "CREATE TABLE audit (id INTEGER PRIMARY KEY, task_id TEXT,"
	    " from_status TEXT, to_status TEXT, actor TEXT, actor_type TEXT,"
	    " notes TEXT, created_at TEXT);"
	    "INSERT INTO tasks (id, title, status) VALUES ('1', 'a', 'pending'),"
	    " ('2', 'b', 'review'), ('3', 'c', 'completed'),"
	    " ('4', 'd', 'in_progress'), ('5', 'e', 'failed');");
	register_ok(g, dir, NULL, dir);
	assert_int_equal(st_project_pending(dir, 0, &n, &err), 0);
	assert_int_equal(n, 3);
	/* init on top of it keeps the tasks. */
	assert_int_equal(st_project_init(dir, &err), 0);
	assert_int_equal(st_project_pending(dir, ST_PDB_QUICK, &n, &err), 0);
	assert_int_equal(n, 3);
	st_gdb_close(g);
}

static void
test_project_init_modes(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 dir[PATH_MAX], sub[PATH_MAX + 32];
	mode_t		 old;

	unit_path(u, dir, sizeof(dir), "p");
	assert_int_equal(mkdir(dir, 0755), 0);
	old = umask(0);
	assert_int_equal(st_project_init(dir, &err), 0);
	umask(old);
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(unit_mode(sub), 0700);
	snprintf(sub, sizeof(sub), "%s/.steroids/steroids.db", dir);
	assert_int_equal(unit_mode(sub), 0600);
	assert_int_equal(unit_count(sub, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('_schema', 'sections', 'tasks',"
	    " 'audit')"), 4);
	assert_int_equal(unit_count(sub, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'index' AND tbl_name = 'tasks' AND name = "
	    "'idx_tasks_status'"), 1);
	/* Widened modes are put back by init run again. */
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(st_project_init(dir, &err), 0);
	assert_int_equal(unit_mode(sub), 0700);

	assert_int_equal(st_project_init("/etc", &err), -1);
	assert_int_equal(err.code, ST_EPERM);
	unit_path(u, dir, sizeof(dir), "nope");
	assert_int_equal(st_project_init(dir, &err), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
}

/* make says what it created; unmake takes back that and nothing else. */
static void
test_project_make_unmake(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 dir[PATH_MAX], sub[PATH_MAX + 32], keep[PATH_MAX + 32];
	int		 made;

	unit_path(u, dir, sizeof(dir), "p");
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(st_project_make(dir, &made, &err), 0);
	assert_int_equal(made, ST_MADE_DIR | ST_MADE_DB);
	assert_int_equal(st_project_unmake(dir, made, &err), 0);
	assert_int_equal(access(sub, F_OK), -1);

	/* Made again over what is there: nothing new, nothing taken. */
	assert_int_equal(st_project_make(dir, &made, &err), 0);
	assert_int_equal(st_project_make(dir, &made, &err), 0);
	assert_int_equal(made, 0);
	assert_int_equal(st_project_unmake(dir, made, &err), 0);
	assert_int_equal(access(sub, F_OK), 0);

	/* Only the DB was new: the folder and what else is in it stay. */
	snprintf(keep, sizeof(keep), "%s/config", sub);
	assert_int_equal(close(open(keep, O_WRONLY | O_CREAT, 0600)), 0);
	snprintf(sub, sizeof(sub), "%s/.steroids/steroids.db", dir);
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(st_project_make(dir, &made, &err), 0);
	assert_int_equal(made, ST_MADE_DB);
	/* A file that appeared meanwhile keeps the folder there. */
	assert_int_equal(st_project_unmake(dir, ST_MADE_DIR | ST_MADE_DB,
	    &err), -1);
	assert_int_equal(access(sub, F_OK), -1);
	assert_int_equal(access(keep, F_OK), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_register_twice),
		st_test(test_one_row_per_folder),
		st_test(test_register_refusals),
		st_test(test_unregister),
		st_test(test_enable_disable_list),
		st_test(test_odd_paths),
		st_test(test_prune),
		st_test(test_prune_keeps_unmounted),
		st_test(test_foreign_project_db),
		st_test(test_project_init_modes),
		st_test(test_project_make_unmake),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
