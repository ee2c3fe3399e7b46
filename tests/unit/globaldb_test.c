/*
 * globaldb_test.c -- the global DB: fresh schema, the 1->2->3 upgrades
 * keeping every row, a newer DB left alone, an upgrade that fails half
 * way leaving the old version, and the file modes.
 */
#include "config.h"

#include "unit.h"
#include "st-int.h"

static void
db_file(const struct unit *u, char *buf, size_t len)
{
	snprintf(buf, len, "%s/steroids.db", u->home);
}

/* A global DB made by someone else from an SQL file. */
static void
seed(const struct unit *u, const char *fixture, const char *extra)
{
	char	db[PATH_MAX], fx[PATH_MAX];

	assert_int_equal(mkdir(u->home, 0700), 0);
	db_file(u, db, sizeof(db));
	unit_sql_file(db, unit_fixture(fixture, fx, sizeof(fx)));
	if (extra != NULL)
		unit_sql(db, extra);
}

static void
open_ok(st_gdb **g)
{
	struct st_error	err;

	if (st_gdb_open(g, &err) == -1)
		fail_msg("st_gdb_open: %s", err.msg);
}

static void
assert_version(st_gdb *g, int want)
{
	struct st_error	err;
	int		v;

	assert_int_equal(st_gdb_version(g, &v, &err), 0);
	assert_int_equal(v, want);
}

static void
assert_table(const char *db, const char *name, int present)
{
	char	sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = '%s'", name);
	if (unit_count(db, sql) != present)
		fail_msg("table %s: want %s", name, present ? "present" :
		    "absent");
}

static void
test_version_constant(void **state)
{
	(void)state;
	assert_int_equal(ST_GLOBAL_SCHEMA_VERSION, 3);
}

static void
test_fresh_create(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX];

	assert_false(unit_exists(u->home));
	open_ok(&g);
	assert_string_equal(st_gdb_home(g), u->home);
	assert_version(g, ST_GLOBAL_SCHEMA_VERSION);
	st_gdb_close(g);

	db_file(u, db, sizeof(db));
	assert_table(db, "_global_schema", 1);
	assert_table(db, "runners", 1);
	assert_table(db, "runner_lock", 1);
	assert_table(db, "projects", 1);
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "3");
	/* created_at is SQLite UTC text, like every timestamp. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _global_schema "
	    "WHERE key = 'created_at' AND value GLOB '[0-9][0-9][0-9][0-9]-"
	    "[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"), 1);
	/* Every column of SPEC 3, plus v3's mount_point. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM "
	    "pragma_table_info('projects') WHERE name IN ('path', 'name', "
	    "'registered_at', 'last_seen_at', 'enabled', 'mount_point')"), 6);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM "
	    "pragma_table_info('runners') WHERE name IN ('id', 'status', 'pid', "
	    "'project_path', 'current_task_id', 'started_at', "
	    "'heartbeat_at')"), 7);
	unit_assert_query(db, "PRAGMA journal_mode", "wal");

	/* Opening again changes nothing. */
	open_ok(&g);
	assert_version(g, ST_GLOBAL_SCHEMA_VERSION);
	st_gdb_close(g);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _global_schema"),
	    2);
}

static void
test_modes_fresh(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX], side[PATH_MAX + 8];
	mode_t		 old;

	/* A careless umask must not leak into our files. */
	old = umask(0);
	open_ok(&g);
	umask(old);
	db_file(u, db, sizeof(db));
	assert_int_equal(unit_mode(u->home), 0700);
	assert_int_equal(unit_mode(db), 0600);
	/* The WAL and shm files exist while the DB is open. */
	snprintf(side, sizeof(side), "%s-wal", db);
	assert_true(unit_exists(side));
	assert_int_equal(unit_mode(side), 0600);
	snprintf(side, sizeof(side), "%s-shm", db);
	assert_true(unit_exists(side));
	assert_int_equal(unit_mode(side), 0600);
	st_gdb_close(g);
}

static void
test_modes_fixed_on_open(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX];

	open_ok(&g);
	st_gdb_close(g);
	db_file(u, db, sizeof(db));
	assert_int_equal(chmod(u->home, 0777), 0);
	assert_int_equal(chmod(db, 0666), 0);
	open_ok(&g);
	st_gdb_close(g);
	assert_int_equal(unit_mode(u->home), 0700);
	assert_int_equal(unit_mode(db), 0600);
}

static void
test_relative_home_refused(void **state)
{
	struct st_error	 err;
	st_gdb		*g;

	(void)state;
	setenv("STEROIDS_HOME", "relative/home", 1);
	assert_int_equal(st_gdb_open(&g, &err), -1);
	assert_null(g);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_non_null(strstr(err.msg, "absolute"));
}

static void
test_home_is_a_file(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;

	unit_write(u->home, "not a directory\n");
	assert_int_equal(st_gdb_open(&g, &err), -1);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_non_null(strstr(err.msg, u->home));
}

static void
test_upgrade_from_v1(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX];

	seed(u, "global-v1.sql", NULL);
	db_file(u, db, sizeof(db));
	assert_table(db, "projects", 0);

	open_ok(&g);
	assert_version(g, ST_GLOBAL_SCHEMA_VERSION);
	st_gdb_close(g);

	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "3");
	/* Created at is kept: this is the same DB, upgraded. */
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'created_at'", "2024-03-01 10:00:00");
	assert_table(db, "projects", 1);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects"), 0);
	/* Every runner row, every column, as it was. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM runners"), 3);
	unit_assert_query(db, "SELECT group_concat(id || '|' || status || '|' "
	    "|| ifnull(pid, '-') || '|' || ifnull(project_path, '-') || '|' || "
	    "ifnull(current_task_id, '-') || '|' || ifnull(started_at, '-') || "
	    "'|' || heartbeat_at, ';') FROM (SELECT * FROM runners ORDER BY id)",
	    "0b6f7a52-0000-4000-8000-000000000001|running|4242|"
	    "/home/alice/src/blog|task-17|2024-03-01 10:00:05|"
	    "2024-03-01 10:05:00;"
	    "0b6f7a52-0000-4000-8000-000000000002|idle|-|-|-|-|"
	    "2024-03-01 09:00:00;"
	    "0b6f7a52-0000-4000-8000-000000000003|stopping|777|"
	    "/home/alice/src/shop|-|2024-02-28 23:59:59|2024-02-29 00:01:00");
	unit_assert_query(db, "SELECT runner_id || '|' || acquired_at FROM "
	    "runner_lock", "0b6f7a52-0000-4000-8000-000000000001|"
	    "2024-03-01 10:00:05");
}

static void
test_upgrade_from_v2(void **state)
{
	struct unit		*u = *state;
	struct st_project_list	 l;
	struct st_error		 err;
	st_gdb			*g;
	char			 db[PATH_MAX];

	seed(u, "global-v2.sql", NULL);
	db_file(u, db, sizeof(db));

	open_ok(&g);
	assert_version(g, ST_GLOBAL_SCHEMA_VERSION);
	assert_int_equal(st_registry_list(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].path, "/home/alice/src/blog");
	assert_string_equal(l.v[0].name, "blog");
	assert_string_equal(l.v[0].registered_at, "2024-05-01 08:00:00");
	assert_string_equal(l.v[0].last_seen_at, "2024-05-02 12:00:00");
	assert_true(l.v[0].enabled);
	assert_string_equal(l.v[1].path, "/home/alice/src/old shop");
	assert_null(l.v[1].name);
	assert_false(l.v[1].enabled);
	assert_string_equal(l.v[2].path, "/media/alice/USB/notes");
	st_project_list_free(&l);
	st_gdb_close(g);

	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "3");
	/* Rows from before v3 have no mount point recorded. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects "
	    "WHERE mount_point IS NULL"), 3);
	unit_assert_query(db, "SELECT pid FROM runners", "31337");
}

/* A newer steroids wrote this DB: keep its version, use what we know. */
static void
test_newer_version_left_alone(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX], proj[PATH_MAX];

	open_ok(&g);
	st_gdb_close(g);
	db_file(u, db, sizeof(db));
	unit_sql(db, "UPDATE _global_schema SET value = '9' WHERE "
	    "key = 'version'; CREATE TABLE future_stuff (x); "
	    "INSERT INTO future_stuff VALUES (42);");

	open_ok(&g);
	assert_version(g, 9);
	unit_project(u, "p", proj, sizeof(proj));
	assert_int_equal(st_registry_register(g, proj, "p", NULL, 0, &err), 0);
	st_gdb_close(g);

	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "9");
	unit_assert_query(db, "SELECT x FROM future_stuff", "42");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects"), 1);
}

/*
 * Newer, and without a table we need: added beside what is there, the
 * version kept (a number says nothing of the columns; SPEC 3).
 */
static void
test_newer_version_missing_tables(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX];

	seed(u, "global-v1.sql", "UPDATE _global_schema SET value = '9' WHERE "
	    "key = 'version'");
	db_file(u, db, sizeof(db));
	open_ok(&g);
	assert_version(g, 9);
	st_gdb_close(g);
	assert_table(db, "projects", 1);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM "
	    "pragma_table_info('projects') WHERE name = 'mount_point'"), 1);
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "9");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM runners"), 3);
}

/*
 * The upstream tool's registry (its version 25): our columns and index
 * added, its version, tables, columns and rows kept, in one open.
 */
static void
test_upstream_v25(void **state)
{
	struct unit		*u = *state;
	struct st_project_list	 l;
	struct st_error		 err;
	st_gdb			*g;
	char			 db[PATH_MAX];
	long			 tables, columns;

	seed(u, "upstream-global-v25.sql", NULL);
	db_file(u, db, sizeof(db));
	tables = unit_count(db, "SELECT count(*) FROM sqlite_master");
	columns = unit_count(db, "SELECT count(*) FROM sqlite_master m, "
	    "pragma_table_info(m.name) WHERE m.type = 'table'");

	open_ok(&g);
	assert_version(g, 25);
	assert_int_equal(st_registry_list(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, "/home/alice/src/blog");
	assert_null(l.v[0].name);
	assert_true(l.v[0].enabled);
	assert_null(l.v[0].mount_point);
	assert_false(l.v[1].enabled);
	st_project_list_free(&l);
	st_gdb_close(g);

	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "25");
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'created_at'", "2026-03-27T09:14:02.113Z");
	/* Only ours added: one column, one index. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM sqlite_master"),
	    tables + 1);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM sqlite_master m, "
	    "pragma_table_info(m.name) WHERE m.type = 'table'"), columns + 1);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'runners_project'"), 1);
	unit_assert_query(db, "SELECT pending_count || '|' || completed_count "
	    "|| '|' || hibernation_tier FROM projects WHERE path = "
	    "'/home/alice/src/blog'", "2|5|0");
	unit_assert_query(db, "SELECT section_id FROM runners", "sec-1");

	/* Opened again: nothing left to add, nothing written. */
	open_ok(&g);
	st_gdb_close(g);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM sqlite_master"),
	    tables + 1);
}

/*
 * The upstream tool opening our registry after us, as it does it: it
 * takes our 3 for its own 3 and skips its step 3, so ours must have its
 * step 3's columns; then it adds its later columns and writes 25.  Ours
 * keep working, mount_point included.
 */
static void
test_upstream_opens_after_us(void **state)
{
	struct unit		*u = *state;
	struct st_project_list	 l;
	struct st_error		 err;
	st_gdb			*g;
	char			 db[PATH_MAX], proj[PATH_MAX];

	open_ok(&g);
	st_gdb_close(g);
	db_file(u, db, sizeof(db));
	assert_int_equal(unit_count(db, "SELECT count(*) FROM "
	    "pragma_table_info('projects') WHERE name IN ('pending_count', "
	    "'in_progress_count', 'review_count', 'completed_count', "
	    "'stats_updated_at')"), 5);

	unit_sql(db, "ALTER TABLE runners ADD COLUMN section_id TEXT;"
	    "ALTER TABLE runners ADD COLUMN parallel_session_id TEXT;"
	    "ALTER TABLE projects ADD COLUMN hibernating_until TEXT;"
	    "ALTER TABLE projects ADD COLUMN hibernation_tier INTEGER "
	    "DEFAULT 0;"
	    "CREATE TABLE activity_log (id INTEGER PRIMARY KEY, project_path "
	    "TEXT NOT NULL);"
	    "UPDATE _global_schema SET value = '25' WHERE key = 'version'");

	open_ok(&g);
	assert_version(g, 25);
	unit_project(u, "p", proj, sizeof(proj));
	assert_int_equal(st_registry_register(g, proj, "p", NULL, 0, &err), 0);
	assert_int_equal(st_registry_list(g, 0, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_non_null(l.v[0].mount_point);
	st_project_list_free(&l);
	st_gdb_close(g);
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "25");
	unit_assert_query(db, "SELECT count(*) FROM projects WHERE mount_point "
	    "IS NOT NULL AND hibernation_tier = 0", "1");
}

/*
 * Modes: the upstream tool makes its files with the umask's (0644);
 * group and other bits go, the owner's stay.
 */
static void
test_modes_only_tightened(void **state)
{
	struct unit	*u = *state;
	st_gdb		*g;
	char		 db[PATH_MAX];

	seed(u, "upstream-global-v25.sql", NULL);
	db_file(u, db, sizeof(db));
	assert_int_equal(chmod(u->home, 0755), 0);
	assert_int_equal(chmod(db, 0644), 0);
	open_ok(&g);
	st_gdb_close(g);
	assert_int_equal(unit_mode(u->home), 0700);
	assert_int_equal(unit_mode(db), 0600);
}

/*
 * The 1->2 step fails after its CREATE TABLE (a trigger aborts the
 * version update): the transaction must take the new table back with it.
 */
static void
test_failed_upgrade_leaves_v1(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX];

	seed(u, "global-v1.sql", "CREATE TRIGGER no_upgrade BEFORE UPDATE ON "
	    "_global_schema BEGIN SELECT RAISE(ABORT, 'simulated crash'); "
	    "END;");
	db_file(u, db, sizeof(db));

	assert_int_equal(st_gdb_open(&g, &err), -1);
	assert_null(g);
	assert_non_null(strstr(err.msg, "simulated crash"));
	assert_table(db, "projects", 0);
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "1");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM runners"), 3);

	/* Once the cause is gone, the same file upgrades cleanly. */
	unit_sql(db, "DROP TRIGGER no_upgrade");
	open_ok(&g);
	assert_version(g, ST_GLOBAL_SCHEMA_VERSION);
	st_gdb_close(g);
	assert_table(db, "projects", 1);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM runners"), 3);
}

/* The same for the 2->3 step: the v2 rows and version stay. */
static void
test_failed_upgrade_leaves_v2(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX];

	seed(u, "global-v2.sql", "CREATE TRIGGER no_upgrade BEFORE UPDATE ON "
	    "_global_schema BEGIN SELECT RAISE(ABORT, 'simulated crash'); "
	    "END;");
	db_file(u, db, sizeof(db));
	assert_int_equal(st_gdb_open(&g, &err), -1);
	unit_assert_query(db, "SELECT value FROM _global_schema WHERE "
	    "key = 'version'", "2");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM "
	    "pragma_table_info('projects') WHERE name = 'mount_point'"), 0);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM projects"), 3);
}

/* Garbage where the DB should be: a clear error, the file untouched. */
static void
test_corrupt_file(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX], *before, *after;

	assert_int_equal(mkdir(u->home, 0700), 0);
	db_file(u, db, sizeof(db));
	unit_write(db, "this is not an SQLite database, just some text that "
	    "is long enough to fill a header and then some more bytes......"
	    "................................................................"
	    "\n");
	before = unit_read(db);
	assert_int_equal(st_gdb_open(&g, &err), -1);
	assert_null(g);
	assert_int_equal(err.code, ST_EGENERAL);
	assert_non_null(strstr(err.msg, db));
	assert_non_null(strstr(err.msg, "not a valid database"));
	after = unit_read(db);
	assert_non_null(after);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* A symlink in place of the DB is not followed (someone else's file). */
static void
test_db_symlink_refused(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_gdb		*g;
	char		 db[PATH_MAX], target[PATH_MAX];

	assert_int_equal(mkdir(u->home, 0700), 0);
	db_file(u, db, sizeof(db));
	unit_path(u, target, sizeof(target), "elsewhere.db");
	assert_int_equal(symlink(target, db), 0);
	assert_int_equal(st_gdb_open(&g, &err), -1);
	assert_false(unit_exists(target));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_version_constant),
		st_test(test_fresh_create),
		st_test(test_modes_fresh),
		st_test(test_modes_fixed_on_open),
		st_test(test_relative_home_refused),
		st_test(test_home_is_a_file),
		st_test(test_upgrade_from_v1),
		st_test(test_upgrade_from_v2),
		st_test(test_newer_version_left_alone),
		st_test(test_newer_version_missing_tables),
		st_test(test_upstream_v25),
		st_test(test_upstream_opens_after_us),
		st_test(test_modes_only_tightened),
		st_test(test_failed_upgrade_leaves_v1),
		st_test(test_failed_upgrade_leaves_v2),
		st_test(test_corrupt_file),
		st_test(test_db_symlink_refused),
	};

	return (unit_run_group(tests));
}
