/*
 * config_test.c -- the "key = value" files: defaults, global then project,
 * comments and blank lines, errors that name file, line and key, and
 * st_config_set keeping every other line.
 */
#include "config.h"

#include "unit.h"

static void
global_file(const struct unit *u, char *buf, size_t len)
{
	assert_int_equal(mkdir(u->home, 0700) == 0 || errno == EEXIST, 1);
	snprintf(buf, len, "%s/config", u->home);
}

static void
project_file(const struct unit *u, char *dir, size_t dlen, char *buf,
    size_t len)
{
	unit_project(u, "p", dir, dlen);
	snprintf(buf, len, "%s/.steroids/config", dir);
}

static st_config *
load_ok(const char *project)
{
	struct st_error	 err;
	st_config	*cfg;

	if (st_config_load(project, &cfg, &err) == -1)
		fail_msg("load: %s", err.msg);
	assert_non_null(cfg);
	return (cfg);
}

/* Loading fails with CONFIG_ERROR and a message holding every needle. */
static void
load_fails(const char *project, const char *n1, const char *n2,
    const char *n3)
{
	struct st_error	 err;
	st_config	*cfg;

	memset(&err, 0, sizeof(err));
	assert_int_equal(st_config_load(project, &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err.code, ST_ECONFIG);
	if ((n1 != NULL && strstr(err.msg, n1) == NULL) ||
	    (n2 != NULL && strstr(err.msg, n2) == NULL) ||
	    (n3 != NULL && strstr(err.msg, n3) == NULL))
		fail_msg("'%s' lacks one of '%s' '%s' '%s'", err.msg,
		    n1 ? n1 : "", n2 ? n2 : "", n3 ? n3 : "");
	assert_null(strchr(err.msg, '\n'));
}

static void
test_defaults(void **state)
{
	st_config	*cfg;

	(void)state;
	cfg = load_ok(NULL);
	assert_null(st_config_str(cfg, "runner.command"));
	assert_int_equal(st_config_int(cfg, "runner.task_timeout"), 3600);
	assert_int_equal(st_config_int(cfg, "runner.max_failures"), 3);
	assert_int_equal(st_config_int(cfg, "runner.heartbeat_interval"), 30);
	assert_int_equal(st_config_int(cfg, "runner.stale_timeout"), 300);
	assert_int_equal(st_config_int(cfg, "agent.sweep_interval"), 60);
	assert_int_equal(st_config_int(cfg, "agent.backoff_initial"), 1);
	assert_int_equal(st_config_int(cfg, "agent.backoff_max"), 300);
	assert_int_equal(st_config_int(cfg, "agent.poll_interval"), 2);
	assert_null(st_config_str(cfg, "no.such_key"));
	st_config_free(cfg);

	/* Without a config at all, the getters give the defaults too. */
	assert_int_equal(st_config_int(NULL, "runner.stale_timeout"), 300);
	assert_string_equal(st_config_default("agent.backoff_max"), "300");
	assert_null(st_config_default("runner.command"));
	assert_true(st_config_known("runner.command"));
	assert_false(st_config_known("runner.comand"));
	assert_false(st_config_known(""));
}

static void
test_global_then_project(void **state)
{
	struct unit	*u = *state;
	st_config	*cfg;
	char		 gf[PATH_MAX], pf[PATH_MAX], dir[PATH_MAX];

	global_file(u, gf, sizeof(gf));
	project_file(u, dir, sizeof(dir), pf, sizeof(pf));
	unit_write(gf, "# global\n"
	    "runner.command = make ci\n"
	    "runner.task_timeout=120\n"
	    "  agent.sweep_interval   =\t15  \n"
	    "\n"
	    "   # indented comment = with an equals sign\n"
	    "\t\n");
	unit_write(pf, "runner.command = ./run-task \"$STEROIDS_TASK_ID\"\n"
	    "runner.max_failures = 5\n");

	cfg = load_ok(NULL);
	assert_string_equal(st_config_str(cfg, "runner.command"), "make ci");
	assert_int_equal(st_config_int(cfg, "runner.task_timeout"), 120);
	assert_int_equal(st_config_int(cfg, "agent.sweep_interval"), 15);
	assert_int_equal(st_config_int(cfg, "runner.max_failures"), 3);
	st_config_free(cfg);

	cfg = load_ok(dir);
	assert_string_equal(st_config_str(cfg, "runner.command"),
	    "./run-task \"$STEROIDS_TASK_ID\"");
	assert_int_equal(st_config_int(cfg, "runner.task_timeout"), 120);
	assert_int_equal(st_config_int(cfg, "runner.max_failures"), 5);
	st_config_free(cfg);

	/* A later line wins within one file. */
	unit_write(pf, "runner.max_failures = 5\nrunner.max_failures = 7\n");
	cfg = load_ok(dir);
	assert_int_equal(st_config_int(cfg, "runner.max_failures"), 7);
	st_config_free(cfg);

	/* The last line needs no newline. */
	unit_write(pf, "runner.max_failures = 9");
	cfg = load_ok(dir);
	assert_int_equal(st_config_int(cfg, "runner.max_failures"), 9);
	st_config_free(cfg);
}

static void
test_lookup_source(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 gf[PATH_MAX], pf[PATH_MAX], dir[PATH_MAX], val[256];
	int		 src;

	global_file(u, gf, sizeof(gf));
	project_file(u, dir, sizeof(dir), pf, sizeof(pf));
	assert_int_equal(st_config_lookup(dir, "runner.task_timeout", val,
	    sizeof(val), &src, &err), 0);
	assert_string_equal(val, "3600");
	assert_int_equal(src, 0);
	assert_int_equal(st_config_lookup(dir, "runner.command", val,
	    sizeof(val), &src, &err), 0);
	assert_int_equal(src, -1);
	unit_write(gf, "runner.task_timeout = 10\n");
	assert_int_equal(st_config_lookup(dir, "runner.task_timeout", val,
	    sizeof(val), &src, &err), 0);
	assert_string_equal(val, "10");
	assert_int_equal(src, 1);
	unit_write(pf, "runner.task_timeout = 0\n");
	assert_int_equal(st_config_lookup(dir, "runner.task_timeout", val,
	    sizeof(val), &src, &err), 0);
	assert_string_equal(val, "0");
	assert_int_equal(src, 2);
	assert_int_equal(st_config_lookup(NULL, "runner.task_timeout", val,
	    sizeof(val), &src, &err), 0);
	assert_string_equal(val, "10");
	assert_int_equal(st_config_lookup(NULL, "bogus", val, sizeof(val),
	    &src, &err), -1);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_non_null(strstr(err.msg, "bogus"));
}

static void
test_errors_name_file_line_key(void **state)
{
	struct unit	*u = *state;
	char		 gf[PATH_MAX], pf[PATH_MAX], dir[PATH_MAX];

	global_file(u, gf, sizeof(gf));
	unit_write(gf, "# ok\n\nrunner.comand = make\n");
	load_fails(NULL, gf, ":3:", "runner.comand");

	unit_write(gf, "runner.task_timeout = soon\n");
	load_fails(NULL, gf, ":1:", "runner.task_timeout");
	unit_write(gf, "runner.task_timeout = -1\n");
	load_fails(NULL, gf, ":1:", "runner.task_timeout");
	unit_write(gf, "runner.task_timeout = 12abc\n");
	load_fails(NULL, gf, ":1:", "runner.task_timeout");
	unit_write(gf, "runner.task_timeout = 99999999999999999999999\n");
	load_fails(NULL, gf, ":1:", "runner.task_timeout");
	unit_write(gf, "runner.max_failures = 0\n");
	load_fails(NULL, gf, ":1:", "runner.max_failures");
	unit_write(gf, "runner.task_timeout =\n");
	load_fails(NULL, gf, ":1:", "runner.task_timeout");
	unit_write(gf, "\n\nrunner.command =\n");
	load_fails(NULL, gf, ":3:", "runner.command");

	/* Missing '=': file, line and what was there. */
	unit_write(gf, "runner.command = ok\nrunner.task_timeout 5\n");
	load_fails(NULL, gf, ":2:", "runner.task_timeout");
	unit_write(gf, " = 5\n");
	load_fails(NULL, gf, ":1:", NULL);

	/* The project file's error names the project file. */
	unit_write(gf, "");
	project_file(u, dir, sizeof(dir), pf, sizeof(pf));
	unit_write(pf, "runner.command = x\nagent.poll_interval = fast\n");
	load_fails(dir, pf, ":2:", "agent.poll_interval");
}

/* A config we cannot read is an error, never silently the defaults. */
static void
test_unreadable(void **state)
{
	struct unit	*u = *state;
	char		 gf[PATH_MAX];

	global_file(u, gf, sizeof(gf));
	assert_int_equal(mkdir(gf, 0700), 0);
	load_fails(NULL, gf, "cannot read", NULL);
	assert_int_equal(rmdir(gf), 0);

	if (geteuid() != 0) {
		/* Root reads through mode 000; everyone else cannot. */
		unit_write(gf, "runner.command = x\n");
		assert_int_equal(chmod(gf, 0), 0);
		load_fails(NULL, gf, "cannot read", NULL);
	}
}

static void
test_nul_byte(void **state)
{
	struct unit	*u = *state;
	char		 gf[PATH_MAX];
	FILE		*f;

	global_file(u, gf, sizeof(gf));
	f = fopen(gf, "w");
	assert_non_null(f);
	fwrite("runner.command = a\0b\n", 1, 21, f);
	fclose(f);
	load_fails(NULL, gf, ":1:", "NUL");
}

static void
set_ok(const char *file, const char *key, const char *value)
{
	struct st_error	err;

	if (st_config_set(file, key, value, &err) == -1)
		fail_msg("set %s: %s", key, err.msg);
}

static void
assert_file(const char *file, const char *want)
{
	char	*got = unit_read(file);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_set_keeps_other_lines(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	st_config	*cfg;
	char		 gf[PATH_MAX];

	global_file(u, gf, sizeof(gf));

	/* A new file is made, private. */
	set_ok(gf, "runner.command", "make test");
	assert_file(gf, "runner.command = make test\n");
	assert_int_equal(unit_mode(gf), 0600);

	unit_write(gf, "# my settings\n"
	    "runner.task_timeout = 60   # not a comment: checked below\n");
	assert_int_equal(st_config_load(NULL, &cfg, &err), -1);

	unit_write(gf, "# my settings\n"
	    "\n"
	    "runner.command = old\n"
	    "  # keep me = please\n"
	    "agent.poll_interval = 5\n");
	set_ok(gf, "runner.command", "new one");
	assert_file(gf, "# my settings\n"
	    "\n"
	    "runner.command = new one\n"
	    "  # keep me = please\n"
	    "agent.poll_interval = 5\n");
	set_ok(gf, "runner.stale_timeout", "600");
	assert_file(gf, "# my settings\n"
	    "\n"
	    "runner.command = new one\n"
	    "  # keep me = please\n"
	    "agent.poll_interval = 5\n"
	    "runner.stale_timeout = 600\n");
	cfg = load_ok(NULL);
	assert_string_equal(st_config_str(cfg, "runner.command"), "new one");
	assert_int_equal(st_config_int(cfg, "runner.stale_timeout"), 600);
	assert_int_equal(st_config_int(cfg, "agent.poll_interval"), 5);
	st_config_free(cfg);

	/* Duplicates collapse into the first one's place. */
	unit_write(gf, "agent.poll_interval = 1\n# c\nagent.poll_interval = 2\n");
	set_ok(gf, "agent.poll_interval", "3");
	assert_file(gf, "agent.poll_interval = 3\n# c\n");

	/* A last line without its newline is not glued to the new one. */
	unit_write(gf, "# no newline at the end\nagent.poll_interval = 1");
	set_ok(gf, "runner.command", "x");
	assert_file(gf, "# no newline at the end\nagent.poll_interval = 1\n"
	    "runner.command = x\n");
	cfg = load_ok(NULL);
	assert_int_equal(st_config_int(cfg, "agent.poll_interval"), 1);
	st_config_free(cfg);

	/* No temporary files are left behind. */
	{
		char	cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | "
		    "grep -v '^config$')\"", u->home);
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_set_refuses_bad_input(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 gf[PATH_MAX];

	global_file(u, gf, sizeof(gf));
	unit_write(gf, "runner.command = keep\n");
	assert_int_equal(st_config_set(gf, "runner.comand", "x", &err), -1);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_non_null(strstr(err.msg, "runner.comand"));
	assert_int_equal(st_config_set(gf, "runner.task_timeout", "x", &err),
	    -1);
	assert_non_null(strstr(err.msg, "runner.task_timeout"));
	assert_int_equal(st_config_set(gf, "runner.command", "a\nb", &err),
	    -1);
	assert_int_equal(st_config_set(gf, "runner.command", "", &err), -1);
	assert_file(gf, "runner.command = keep\n");
	assert_int_equal(st_config_validate("runner.task_timeout", "0", &err),
	    0);

	/* Into a folder that does not exist: an error, nothing made. */
	snprintf(gf, sizeof(gf), "%s/nope/config", u->home);
	assert_int_equal(st_config_set(gf, "runner.command", "x", &err), -1);
	assert_non_null(strstr(err.msg, gf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_defaults),
		st_test(test_global_then_project),
		st_test(test_lookup_source),
		st_test(test_errors_name_file_line_key),
		st_test(test_unreadable),
		st_test(test_nul_byte),
		st_test(test_set_keeps_other_lines),
		st_test(test_set_refuses_bad_input),
	};

	return (unit_run_group(tests));
}
