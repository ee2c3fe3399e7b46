/*
 * projectdb_test.c -- project DBs both tools use: our init makes the
 * upstream tool's 028 shape (compared table by table with a fixture of
 * it), its DBs at 028 and at 007 are read and written without a change
 * to their schema, and one of ours made before is upgraded additively.
 */
#include "config.h"

#include "unit.h"
#include "st-int.h"

/*
 * One row per column, foreign key and index of every table of schema s,
 * as a subquery (a compound's operators would otherwise chain with ours).
 */
#define SHAPE(s) "SELECT * FROM (" SHAPE_ROWS(s) ")"
#define SHAPE_ROWS(s) \
	"SELECT 'c', m.name, p.name, p.type, p.\"notnull\", p.dflt_value, " \
	"p.pk FROM " s ".sqlite_master m, pragma_table_info(m.name, '" s \
	"') p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' " \
	"UNION ALL SELECT 'f', m.name, f.\"from\", f.\"table\", f.\"to\", " \
	"f.on_delete, f.on_update FROM " s ".sqlite_master m, " \
	"pragma_foreign_key_list(m.name, '" s "') f WHERE m.type = 'table' " \
	"UNION ALL SELECT 'i', m.name, i.name, i.\"unique\", i.partial, " \
	"(SELECT group_concat(x.name) FROM pragma_index_info(i.name, '" s \
	"') x), NULL FROM " s ".sqlite_master m, pragma_index_list(m.name, '" \
	s "') i WHERE m.type = 'table'"

/* Rows of a query on db with other attached as fx; -1 on error. */
static long
count_attached(const char *db, const char *other, const char *sql)
{
	sqlite3		*h;
	sqlite3_stmt	*stmt;
	long		 n = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "ATTACH ?1 AS fx", -1, &stmt,
	    NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, other, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
	if (sqlite3_prepare_v2(h, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(h);
	return (n);
}

/* The fixture loaded into a DB file of its own. */
static void
fixture_db(const struct unit *u, const char *fixture, char *db, size_t len)
{
	char	fx[PATH_MAX];

	unit_path(u, db, len, "%s.db", fixture);
	unit_sql_file(db, unit_fixture(fixture, fx, sizeof(fx)));
}

/* A project folder whose DB another tool made from the fixture. */
static void
foreign_project(const struct unit *u, const char *name, const char *fixture,
    char *dir, size_t len, char *db, size_t dblen)
{
	char	fx[PATH_MAX], sub[PATH_MAX + 16];

	unit_path(u, dir, len, "%s", name);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(db, dblen, "%s/steroids.db", sub);
	unit_sql_file(db, unit_fixture(fixture, fx, sizeof(fx)));
}

static char *
schema_text(const char *db)
{
	return (unit_query(db, "SELECT group_concat(type || name || "
	    "ifnull(sql, ''), ';') FROM (SELECT * FROM sqlite_master ORDER BY "
	    "type, name)"));
}

static void
test_init_matches_upstream_028(void **state)
{
	struct unit	*u = *state;
	char		 proj[PATH_MAX], db[PATH_MAX + 32], fx[PATH_MAX];

	unit_project(u, "p", proj, sizeof(proj));
	snprintf(db, sizeof(db), "%s/.steroids/steroids.db", proj);
	fixture_db(u, "upstream-project-028.sql", fx, sizeof(fx));

	/* Both ways: nothing of the fixture's missing, nothing more. */
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM ("
	    SHAPE("fx") " EXCEPT " SHAPE("main") ")"), 0);
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM ("
	    SHAPE("main") " EXCEPT " SHAPE("fx") ")"), 0);
	/* The comparison sees every column: 29 in tasks. */
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM "
	    "pragma_table_info('tasks', 'main')"), 29);
	/* Column order too, as the upstream tool's own files have it. */
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM "
	    "pragma_table_info('tasks', 'main') a JOIN "
	    "pragma_table_info('tasks', 'fx') b ON a.cid = b.cid AND "
	    "a.name = b.name"), 29);
	/* Its migrations, every one, as that tool records them. */
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM (SELECT "
	    "id, name, checksum FROM fx._migrations EXCEPT SELECT id, name, "
	    "checksum FROM main._migrations)"), 0);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _migrations"),
	    28);
	unit_assert_query(db, "SELECT value FROM _schema WHERE key = "
	    "'version'", "28");
	unit_assert_query(db, "SELECT value FROM _schema WHERE key = "
	    "'last_migration'", "028_add_merge_queue_fields");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _schema WHERE "
	    "key = 'created_at' AND value GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]"
	    "-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"), 1);
}

/* The fixture, checked by the comparison above, is not empty either. */
static void
test_compare_catches_a_missing_column(void **state)
{
	struct unit	*u = *state;
	char		 db[PATH_MAX], fx[PATH_MAX];

	fixture_db(u, "upstream-project-028.sql", fx, sizeof(fx));
	fixture_db(u, "upstream-project-007.sql", db, sizeof(db));
	assert_true(count_attached(db, fx, "SELECT count(*) FROM ("
	    SHAPE("fx") " EXCEPT " SHAPE("main") ")") > 20);
}

static void
test_upstream_028_used_as_it_is(void **state)
{
	struct unit		*u = *state;
	struct st_task_list	 l;
	struct st_task		 t;
	struct st_error		 err;
	st_pdb			*p;
	const char		*action;
	char			 dir[PATH_MAX], db[PATH_MAX + 32], id[37];
	char			 to[ST_TASK_STATUS_LEN], *before, *after;
	long			 n;
	int			 found;

	foreign_project(u, "up", "upstream-project-028.sql", dir, sizeof(dir),
	    db, sizeof(db));
	before = schema_text(db);
	assert_int_equal(st_project_pending(dir, 0, &n, &err), 0);
	assert_int_equal(n, 1);		/* u-task-2's section is skipped */

	assert_int_equal(st_pdb_open(dir, 0, &p, &err), 0);
	assert_int_equal(st_task_add(p, "Added by us", NULL, "why", NULL,
	    NULL, id, &err), 0);
	assert_int_equal(st_task_list(p, NULL, &l, &err), 0);
	assert_int_equal(l.n, 4);
	st_task_list_free(&l);
	assert_int_equal(st_task_claim(p, "runner-1", &t, &action, &found,
	    &err), 0);
	assert_true(found);
	assert_string_equal(t.id, "u-task-1");
	assert_int_equal(st_task_finish(p, t.id, ST_TASK_FAILED, 3, "runner-1",
	    "exit 1", to, &err), 0);
	assert_string_equal(to, "pending");
	st_task_free(&t);
	st_pdb_close(p);

	after = schema_text(db);
	assert_string_equal(before, after);
	free(before);
	free(after);
	unit_assert_query(db, "SELECT failure_count FROM tasks WHERE id = "
	    "'u-task-1'", "1");
	/* actor is NOT NULL there: every row of ours has one. */
	assert_int_equal(unit_count(db, "SELECT count(*) FROM audit WHERE "
	    "actor IS NULL OR actor = ''"), 0);
	unit_assert_query(db, "SELECT actor FROM audit WHERE task_id = "
	    "(SELECT id FROM tasks WHERE title = 'Added by us')", "steroids");
	/* What that tool's selection needs of the new row, by default. */
	unit_assert_query(db, "SELECT is_follow_up || requires_promotion || "
	    "rejection_count || description FROM tasks WHERE title = "
	    "'Added by us'", "000why");
}

static void
test_upstream_007_read_not_changed(void **state)
{
	struct unit		*u = *state;
	struct st_task_list	 l;
	struct st_task		 t;
	struct st_error		 err;
	st_pdb			*p;
	const char		*action;
	char			 dir[PATH_MAX], db[PATH_MAX + 32], id[37];
	char			 to[ST_TASK_STATUS_LEN], *before, *after;
	long			 n, counts[ST_TASK_NSTATUS];
	int			 found;

	foreign_project(u, "old", "upstream-project-007.sql", dir, sizeof(dir),
	    db, sizeof(db));
	before = schema_text(db);
	/* The sweep's one-shot count and a kept reader's. */
	assert_int_equal(st_project_pending(dir, ST_PDB_QUICK, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st_pdb_open(dir, ST_PDB_READONLY, &p, &err), 0);
	assert_int_equal(st_pdb_pending(p, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st_pdb_work(p, &n, &err), 0);	/* no skipped column */
	assert_int_equal(n, 2);
	assert_int_equal(st_task_counts(p, counts, NULL, &err), 0);
	assert_int_equal(counts[0], 2);
	assert_int_equal(st_task_list(p, NULL, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].id, "o-task-3");
	assert_string_equal(l.v[1].id, "o-task-2");	/* section 0 first */
	assert_null(l.v[1].description);
	assert_int_equal(l.v[1].failure_count, 0);
	st_task_list_free(&l);
	assert_int_equal(st_task_next(p, &t, &action, &found, &err), 0);
	assert_true(found);
	assert_string_equal(t.id, "o-task-2");
	st_task_free(&t);
	st_pdb_close(p);

	/* Written: tasks and status changes, no schema change. */
	assert_int_equal(st_pdb_open(dir, 0, &p, &err), 0);
	assert_int_equal(st_task_add(p, "New", "Phase 1", NULL, "me", "human",
	    id, &err), 0);
	assert_int_equal(st_task_add(p, "New", NULL, "a description", NULL,
	    NULL, id, &err), -1);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_int_equal(st_task_claim(p, "runner-1", &t, &action, &found,
	    &err), 0);
	assert_string_equal(t.id, "o-task-2");
	/* Failures cannot be counted there: the first is final. */
	assert_int_equal(st_task_finish(p, t.id, ST_TASK_FAILED, 3, "runner-1",
	    "exit 1", to, &err), 0);
	assert_string_equal(to, "failed");
	st_task_free(&t);
	st_pdb_close(p);
	after = schema_text(db);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _migrations"), 7);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM audit WHERE "
	    "actor IS NULL"), 0);
}

/* Every (table, column) of the 028 fixture is in db. */
static void
assert_has_028_columns(const struct unit *u, const char *db)
{
	char	fx[PATH_MAX];

	fixture_db(u, "upstream-project-028.sql", fx, sizeof(fx));
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM (SELECT "
	    "m.name, p.name FROM fx.sqlite_master m, pragma_table_info(m.name, "
	    "'fx') p WHERE m.type = 'table' EXCEPT SELECT m.name, p.name FROM "
	    "main.sqlite_master m, pragma_table_info(m.name, 'main') p WHERE "
	    "m.type = 'table')"), 0);
	assert_int_equal(count_attached(db, fx, "SELECT count(*) FROM (SELECT "
	    "name FROM fx.sqlite_master WHERE type = 'index' AND sql IS NOT "
	    "NULL EXCEPT SELECT name FROM main.sqlite_master WHERE type = "
	    "'index')"), 0);
}

static void
test_ours_v1_upgraded_on_write(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_pdb		*p;
	char		 dir[PATH_MAX], db[PATH_MAX + 32];

	foreign_project(u, "mine", "project-v1.sql", dir, sizeof(dir), db,
	    sizeof(db));
	/* A reader changes nothing. */
	assert_int_equal(st_pdb_open(dir, ST_PDB_READONLY, &p, &err), 0);
	st_pdb_close(p);
	unit_assert_query(db, "SELECT value FROM _schema WHERE key = "
	    "'version'", "1");

	assert_int_equal(st_pdb_open(dir, 0, &p, &err), 0);
	st_pdb_close(p);
	assert_has_028_columns(u, db);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _migrations"),
	    28);
	unit_assert_query(db, "SELECT value FROM _schema WHERE key = "
	    "'version'", "28");
	unit_assert_query(db, "SELECT value FROM _schema WHERE key = "
	    "'created_at'", "2026-01-05 08:00:00");
	/* Every row as it was. */
	unit_assert_query(db, "SELECT group_concat(id || '|' || status || '|' "
	    "|| ifnull(description, '-') || '|' || failure_count, ';') FROM "
	    "(SELECT * FROM tasks ORDER BY id)", "v1-task-1|pending|with a "
	    "description|1;v1-task-2|completed|-|0");
	assert_int_equal(unit_count(db, "SELECT count(*) FROM audit"), 1);
	unit_assert_query(db, "SELECT skipped FROM sections", "0");
}

/* init run again on one of ours upgrades it too, not only its rows. */
static void
test_init_again_upgrades(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 dir[PATH_MAX], db[PATH_MAX + 32];

	foreign_project(u, "mine", "project-v1.sql", dir, sizeof(dir), db,
	    sizeof(db));
	assert_int_equal(st_project_init(dir, &err), 0);
	assert_has_028_columns(u, db);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _migrations"),
	    28);
}

/*
 * One of ours the upstream tool migrated: its rows 1..28 are there, its
 * steps skipped the columns they met.  Those are added (it will not run
 * the steps again), nothing else is touched.
 */
static void
test_ours_migrated_by_upstream_repaired(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_pdb		*p;
	char		 dir[PATH_MAX], db[PATH_MAX + 32], sql[256];
	int		 i;

	foreign_project(u, "mine", "project-v1.sql", dir, sizeof(dir), db,
	    sizeof(db));
	unit_sql(db, "CREATE TABLE _migrations (id INTEGER PRIMARY KEY, "
	    "name TEXT NOT NULL UNIQUE, checksum TEXT NOT NULL, applied_at "
	    "TEXT NOT NULL DEFAULT (datetime('now')));"
	    "UPDATE _schema SET value = '28' WHERE key = 'version'");
	for (i = 1; i <= 28; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO _migrations (id, name, "
		    "checksum) VALUES (%d, 'step %d', 'builtin')", i, i);
		unit_sql(db, sql);
	}
	assert_int_equal(st_pdb_open(dir, 0, &p, &err), 0);
	st_pdb_close(p);
	assert_has_028_columns(u, db);
	assert_int_equal(unit_count(db, "SELECT count(*) FROM _migrations"),
	    28);
	unit_assert_query(db, "SELECT name FROM _migrations WHERE id = 3",
	    "step 3");
}

/* The optional columns an open of dir notes (pdb_detect). */
static int
cols_of(const char *dir)
{
	struct st_error	 err;
	st_pdb		*p;
	int		 cols;

	assert_int_equal(st_pdb_open(dir, ST_PDB_READONLY, &p, &err), 0);
	cols = p->cols;
	st_pdb_close(p);
	return (cols);
}

static void
test_columns_detected(void **state)
{
	struct unit	*u = *state;
	char		 dir[PATH_MAX], db[PATH_MAX + 32];

	foreign_project(u, "new", "upstream-project-028.sql", dir,
	    sizeof(dir), db, sizeof(db));
	assert_int_equal(cols_of(dir), ST_PDB_COLS_KNOWN | ST_PDB_HAS_SKIPPED |
	    ST_PDB_HAS_DESCRIPTION | ST_PDB_HAS_FAILURES);
	foreign_project(u, "old", "upstream-project-007.sql", dir,
	    sizeof(dir), db, sizeof(db));
	assert_int_equal(cols_of(dir), ST_PDB_COLS_KNOWN);
	/* Half of a pair is none of it; a missing table has no column. */
	unit_sql(db, "ALTER TABLE tasks ADD COLUMN failure_count INTEGER");
	unit_sql(db, "ALTER TABLE tasks ADD COLUMN description TEXT");
	unit_sql(db, "DROP TABLE sections");
	assert_int_equal(cols_of(dir), ST_PDB_COLS_KNOWN |
	    ST_PDB_HAS_DESCRIPTION);
	unit_sql(db, "ALTER TABLE tasks ADD COLUMN last_failure_at TEXT");
	assert_int_equal(cols_of(dir), ST_PDB_COLS_KNOWN |
	    ST_PDB_HAS_DESCRIPTION | ST_PDB_HAS_FAILURES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_init_matches_upstream_028),
		st_test(test_compare_catches_a_missing_column),
		st_test(test_upstream_028_used_as_it_is),
		st_test(test_upstream_007_read_not_changed),
		st_test(test_ours_v1_upgraded_on_write),
		st_test(test_init_again_upgrades),
		st_test(test_ours_migrated_by_upstream_repaired),
		st_test(test_columns_detected),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
