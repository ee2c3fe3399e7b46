/*
 * unit.h -- what the cmocka unit tests share: a temporary folder per test
 * with STEROIDS_HOME and HOME inside it (never the real ones), removed
 * afterwards, and a few file and SQL helpers.
 */
#ifndef UNIT_H
#define UNIT_H

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "steroids.h"

/*
 * Test paths live in a short temporary folder; GCC cannot know that and
 * warns on every snprintf of one PATH_MAX buffer into another.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#ifndef UNIT_SRCDIR
#define UNIT_SRCDIR	"."
#endif

struct unit {
	char	root[PATH_MAX];		/* canonical temporary folder */
	char	home[PATH_MAX];		/* $STEROIDS_HOME (not created) */
	char	user[PATH_MAX];		/* $HOME (created) */
};

static inline int
unit_rm_one(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		return (rmdir(path));
	return (unlink(path));
}

static inline void
unit_rmtree(const char *path)
{
	nftw(path, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Fill buf with root/fmt... */
static inline char *
unit_path(const struct unit *u, char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(buf, len, "%s/", u->root);
	va_start(ap, fmt);
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return (buf);
}

static inline int
unit_setup(void **state)
{
	struct unit	*u;
	char		 tmpl[PATH_MAX];
	const char	*tmp = getenv("TMPDIR");

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (-1);
	snprintf(tmpl, sizeof(tmpl), "%s/steroids-unit.XXXXXX",
	    tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, u->root) == NULL) {
		free(u);
		return (-1);
	}
	snprintf(u->home, sizeof(u->home), "%s/home", u->root);
	snprintf(u->user, sizeof(u->user), "%s/user", u->root);
	if (mkdir(u->user, 0700) == -1)
		return (-1);
	setenv("STEROIDS_HOME", u->home, 1);
	setenv("HOME", u->user, 1);
	*state = u;
	return (0);
}

static inline int
unit_teardown(void **state)
{
	struct unit	*u = *state;

	if (u == NULL)
		return (0);
	/* Back into a folder we may remove, with modes that let us. */
	if (chdir("/") == -1)
		return (-1);
	unit_rmtree(u->root);
	free(u);
	*state = NULL;
	return (0);
}

/*
 * A child that waits to be killed (an hour at most, should the test die
 * without its teardown), its output on /dev/null; unit_reap kills and
 * reaps it and zeroes *pid, for a teardown to call pass or fail.
 */
static inline pid_t
unit_sleeper(void)
{
	pid_t	pid;
	int	fd;

	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		alarm(3600);
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	return (pid);
}

static inline void
unit_reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* The global DB of the test's STEROIDS_HOME, opened or the test fails. */
static inline st_gdb *
unit_gdb(void)
{
	struct st_error	 err;
	st_gdb		*g;

	if (st_gdb_open(&g, &err) == -1)
		fail_msg("st_gdb_open: %s", err.msg);
	return (g);
}

static inline mode_t
unit_mode(const char *path)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1)
		return ((mode_t)-1);
	return (sb.st_mode & 07777);
}

static inline int
unit_exists(const char *path)
{
	struct stat	sb;

	return (lstat(path, &sb) == 0);
}

static inline void
unit_write(const char *path, const char *text)
{
	FILE	*f;

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The whole file as a string (caller frees), NULL if unreadable. */
static inline char *
unit_read(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return (buf);
}

/* A checked-in fixture under tests/fixtures. */
static inline char *
unit_fixture(const char *name, char *buf, size_t len)
{
	const char	*top = getenv("top_srcdir");

	if (top == NULL || *top == '\0')
		top = UNIT_SRCDIR;
	snprintf(buf, len, "%s/tests/fixtures/%s", top, name);
	return (buf);
}

/* Run SQL on a database file, as another program would. */
static inline void
unit_sql(const char *db, const char *sql)
{
	sqlite3	*h;
	char	*msg = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", db, msg != NULL ? msg : "?");
	sqlite3_close(h);
}

static inline void
unit_sql_file(const char *db, const char *file)
{
	char	*sql;

	sql = unit_read(file);
	if (sql == NULL)
		fail_msg("cannot read fixture %s", file);
	unit_sql(db, sql);
	free(sql);
}

/*
 * The first column of the first row as a fresh string: "(null)" for
 * NULL, NULL when no row.
 */
static inline char *
unit_query(const char *db, const char *sql)
{
	sqlite3		*h;
	sqlite3_stmt	*stmt;
	char		*res = NULL;
	const char	*v;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(stmt, 0);
		res = strdup(v != NULL ? v : "(null)");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(h);
	return (res);
}

static inline long
unit_count(const char *db, const char *sql)
{
	char	*s = unit_query(db, sql);
	long	 n;

	assert_non_null(s);
	n = strtol(s, NULL, 10);
	free(s);
	return (n);
}

static inline void
unit_assert_query(const char *db, const char *sql, const char *want)
{
	char	*got = unit_query(db, sql);

	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", sql,
		    got != NULL ? got : "(no row)",
		    want != NULL ? want : "(no row)");
	free(got);
}

/* Make root/name an initialised project; its canonical path in out. */
static inline void
unit_project(const struct unit *u, const char *name, char *out, size_t len)
{
	struct st_error	err;
	char		dir[PATH_MAX];

	unit_path(u, dir, sizeof(dir), "%s", name);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	if (st_project_init(dir, &err) == -1)
		fail_msg("init %s: %s", dir, err.msg);
	if (out != NULL)
		snprintf(out, len, "%s", dir);
}

#define st_test(f) \
	cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

/*
 * Skip the running test, saying why.  cmocka 1.1.5 (Debian 12) prints a
 * skip as "not ok N # SKIP name", which TAP readers such as automake's
 * driver count as a failure: unit_run_group() runs the group in a child and
 * rewrites such a line as "ok N - name # SKIP why".
 */
#define unit_skip(why) do {						\
	printf("# skip: %s\n", (why));					\
	fflush(stdout);							\
	skip();								\
} while (0)

#define unit_run_group(tests) \
	unit_run_tests((tests), sizeof(tests) / sizeof((tests)[0]))

static inline int
unit_run_tests(const struct CMUnitTest *tests, size_t n)
{
	FILE	*in;
	char	*line = NULL, *name, why[512] = "";
	size_t	 cap = 0;
	pid_t	 pid;
	int	 fds[2], st, num, end;

	fflush(stdout);
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		perror("unit_run_tests");
		return (1);
	}
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], STDOUT_FILENO) == -1)
			_exit(1);
		close(fds[1]);
		st = _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
		fflush(stdout);
		_exit(st > 125 ? 125 : st);
	}
	close(fds[1]);
	if ((in = fdopen(fds[0], "r")) == NULL)
		return (1);
	while (getline(&line, &cap, in) != -1) {
		line[strcspn(line, "\n")] = '\0';
		end = 0;
		if (strncmp(line, "# skip: ", 8) == 0) {
			snprintf(why, sizeof(why), "%s", line + 8);
		} else if (sscanf(line, "not ok %d%n", &num, &end) == 1 &&
		    strncmp(line + end, " # SKIP", 7) == 0) {
			name = line + end + 7;
			name += strspn(name, " ");
			printf("ok %d - %s # SKIP %s\n", num, name,
			    *why != '\0' ? why : "skipped");
			*why = '\0';
			continue;
		}
		puts(line);
	}
	free(line);
	fclose(in);
	fflush(stdout);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return (1);
	return (WEXITSTATUS(st));
}

#endif /* UNIT_H */
