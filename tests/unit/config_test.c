/*
 * config_test.c -- the "key = value" files: defaults, global then project,
 * comments and blank lines, errors that name file, line and key, and
 * st_config_set keeping every other line.
 */
#include "config.h"

#include <dlfcn.h>

#include "unit.h"

/*
 * The library's fstat(2), stat(2) and lstat(2) come here: the program's
 * definitions win in the dynamic link.  Armed (arm_swap), the first of
 * them to look at the file then at swap_path renames another file over
 * that path right after the look: a swap between the check and the use.
 */
static const char	*swap_path, *swap_with;
static struct stat	 swap_orig;
static int		 swaps;

static void
after_look(int rc, const struct stat *sb)
{
	const char	*path = swap_path;

	if (rc == 0 && path != NULL && sb->st_dev == swap_orig.st_dev &&
	    sb->st_ino == swap_orig.st_ino) {
		swap_path = NULL;
		assert_int_equal(rename(swap_with, path), 0);
		swaps++;
	}
}

int
fstat(int fd, struct stat *sb)
{
	static int	(*real)(int, struct stat *);
	int		  rc;

	if (real == NULL)
		real = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
	rc = real(fd, sb);
	after_look(rc, sb);
	return (rc);
}

int
stat(const char *restrict path, struct stat *restrict sb)
{
	static int	(*real)(const char *, struct stat *);
	int		  rc;

	if (real == NULL)
		real = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT,
		    "stat");
	rc = real(path, sb);
	after_look(rc, sb);
	return (rc);
}

int
lstat(const char *restrict path, struct stat *restrict sb)
{
	static int	(*real)(const char *, struct stat *);
	int		  rc;

	if (real == NULL)
		real = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT,
		    "lstat");
	rc = real(path, sb);
	after_look(rc, sb);
	return (rc);
}

static void
arm_swap(const char *path, const char *with)
{
	swap_path = NULL;
	assert_int_equal(lstat(path, &swap_orig), 0);
	swap_with = with;
	swap_path = path;
}

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
	assert_int_equal(st_config_int(cfg, "agent.max_runners"), 0);
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

	/* The runner limit: 0 (none) and up; no negative, no word. */
	unit_write(pf, "");
	unit_write(gf, "agent.max_runners = -1\n");
	load_fails(NULL, gf, ":1:", "agent.max_runners");
	unit_write(gf, "agent.max_runners = many\n");
	load_fails(NULL, gf, ":1:", "agent.max_runners");
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

/* Loading fails with PERMISSION_DENIED, the message holding needle. */
static void
load_refused(const char *project, const char *needle)
{
	struct st_error	 err;
	st_config	*cfg;

	memset(&err, 0, sizeof(err));
	assert_int_equal(st_config_load(project, &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err.code, ST_EPERM);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' lacks '%s'", err.msg, needle);
}

static void
write_mode(const char *path, const char *text, mode_t mode)
{
	unit_write(path, text);
	assert_int_equal(chmod(path, mode), 0);
}

/*
 * A config others can write, or can have placed, is refused: its
 * runner.command would run as us.  A fifo is refused at once.
 */
static void
test_unsafe_refused(void **state)
{
	struct unit	*u = *state;
	st_config	*cfg;
	char		 pf[PATH_MAX], dir[PATH_MAX], other[PATH_MAX];

	project_file(u, dir, sizeof(dir), pf, sizeof(pf));
	write_mode(pf, "runner.command = x\n", 0666);
	load_refused(dir, "writable by group or others; fix with: chmod go-w");
	assert_int_equal(chmod(pf, 0620), 0);
	load_refused(dir, pf);
	assert_int_equal(chmod(pf, 0644), 0);
	cfg = load_ok(dir);
	st_config_free(cfg);

	/* A symbolic link, even to a file of ours, is not followed. */
	snprintf(other, sizeof(other), "%s/mine", u->root);
	write_mode(other, "runner.command = x\n", 0600);
	assert_int_equal(unlink(pf), 0);
	assert_int_equal(symlink(other, pf), 0);
	load_refused(dir, "symbolic link");

	assert_int_equal(unlink(pf), 0);
	assert_int_equal(mkfifo(pf, 0600), 0);
	load_fails(dir, pf, "not a regular file", NULL);

	if (geteuid() == 0) {
		/* Root can make a file of another user; root's own pass. */
		assert_int_equal(unlink(pf), 0);
		write_mode(pf, "runner.command = x\n", 0644);
		assert_int_equal(chown(pf, 65534, (gid_t)-1), 0);
		load_refused(dir, "owned by uid 65534, not by you");
	}
}

/* What is judged is what is read: the fstat is of the open file. */
static void
test_swap_after_check(void **state)
{
	struct unit	*u = *state;
	st_config	*cfg;
	char		 pf[PATH_MAX], dir[PATH_MAX], evil[PATH_MAX];
	char		 good[PATH_MAX];

	project_file(u, dir, sizeof(dir), pf, sizeof(pf));
	snprintf(evil, sizeof(evil), "%s/.steroids/evil", dir);
	snprintf(good, sizeof(good), "%s/.steroids/good", dir);
	write_mode(pf, "runner.command = judged\n", 0600);
	write_mode(evil, "runner.command = swapped in\n", 0666);

	/* A good file judged, another swapped in after: the judged one. */
	swaps = 0;
	arm_swap(pf, evil);
	cfg = load_ok(dir);
	assert_int_equal(swaps, 1);
	assert_string_equal(st_config_str(cfg, "runner.command"), "judged");
	st_config_free(cfg);

	/* A bad file judged, a good one swapped in after: refused. */
	write_mode(good, "runner.command = fine\n", 0600);
	arm_swap(pf, good);
	load_refused(dir, "writable by group or others");
	assert_int_equal(swaps, 2);
	cfg = load_ok(dir);
	assert_string_equal(st_config_str(cfg, "runner.command"), "fine");
	st_config_free(cfg);
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

/* Setting a key never copies what another user could have written. */
static void
test_set_refuses_unsafe(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 gf[PATH_MAX];

	global_file(u, gf, sizeof(gf));
	write_mode(gf, "runner.command = theirs\n", 0666);
	assert_int_equal(st_config_set(gf, "runner.task_timeout", "5", &err),
	    -1);
	assert_int_equal(err.code, ST_EPERM);
	assert_non_null(strstr(err.msg, "chmod go-w"));
	assert_file(gf, "runner.command = theirs\n");
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
		st_test(test_unsafe_refused),
		st_test(test_swap_after_check),
		st_test(test_set_refuses_unsafe),
	};

	return (unit_run_group(tests));
}
