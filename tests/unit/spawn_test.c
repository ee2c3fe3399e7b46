/*
 * spawn_test.c -- the argv a runner is started with: STEROIDS_LOOP_COMMAND
 * split on blanks (no quoting, no shell), the first word an absolute
 * path, the project path appended as one last argument; the default
 * "<steroids> loop --project <path>".  And a real start: its own session,
 * its cwd, its argv, its stdout in the runner log.  And st_child_start,
 * which every child of the library is started with.
 */
#include "config.h"

#include <sys/wait.h>

#include "unit.h"
#include "st-int.h"

#define MAXARGS	8

static int
split(const char *env, const char *project, char **argv, char *words,
    size_t wlen, struct st_error *err)
{
	static char	bin[PATH_MAX];

	if (env != NULL)
		setenv("STEROIDS_LOOP_COMMAND", env, 1);
	else
		unsetenv("STEROIDS_LOOP_COMMAND");
	return (st_spawn_argv(project, argv, MAXARGS, words, wlen, bin,
	    sizeof(bin), err));
}

static void
test_split_words(void **state)
{
	struct st_error	 err;
	char		*argv[MAXARGS], words[256];

	(void)state;
	assert_int_equal(split("  /usr/bin/env \t FOO=1\n/bin/x  ",
	    "/p/with space 'q'", argv, words, sizeof(words), &err), 0);
	assert_string_equal(argv[0], "/usr/bin/env");
	assert_string_equal(argv[1], "FOO=1");
	assert_string_equal(argv[2], "/bin/x");
	assert_string_equal(argv[3], "/p/with space 'q'");
	assert_null(argv[4]);

	/* No quoting: quotes are part of the words. */
	assert_int_equal(split("/bin/echo 'a b'", "/p", argv, words,
	    sizeof(words), &err), 0);
	assert_string_equal(argv[1], "'a");
	assert_string_equal(argv[2], "b'");
	assert_string_equal(argv[3], "/p");
}

static void
test_split_default(void **state)
{
	struct st_error	 err;
	char		*argv[MAXARGS], words[256];

	(void)state;
	/* Unset and blank both mean the default. */
	assert_int_equal(split(NULL, "/p", argv, words, sizeof(words), &err),
	    0);
	assert_true(argv[0][0] == '/');
	assert_string_equal(argv[1], "loop");
	assert_string_equal(argv[2], "--project");
	assert_string_equal(argv[3], "/p");
	assert_null(argv[4]);
	assert_int_equal(split(" \t", "/p", argv, words, sizeof(words), &err),
	    0);
	assert_string_equal(argv[1], "loop");
}

static void
test_split_bad(void **state)
{
	struct st_error	 err;
	char		*argv[MAXARGS], words[16];

	(void)state;
	/* No PATH lookup: a bare name is refused. */
	assert_int_equal(split("steroids loop", "/p", argv, words,
	    sizeof(words), &err), -1);
	assert_int_equal(err.code, ST_ECONFIG);
	assert_non_null(strstr(err.msg, "absolute"));
	assert_int_equal(split("/a b c d e f g", "/p", argv, words,
	    sizeof(words), &err), -1);
	assert_non_null(strstr(err.msg, "too many"));
	assert_int_equal(split("/a/very/long/command/line", "/p", argv, words,
	    sizeof(words), &err), -1);
	assert_non_null(strstr(err.msg, "too long"));
}

/*
 * A real start of a script writing what it sees into the runner log: its
 * own session, its cwd, its argument, stdin at EOF, no fd of ours.
 */
static void
test_spawn_child(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 proj[PATH_MAX], log[PATH_MAX], script[PATH_MAX];
	char		 cmd[PATH_MAX + 16], want[2 * PATH_MAX + 64], *text;
	pid_t		 pid;
	int		 status, leak;

	unit_path(u, proj, sizeof(proj), "proj");
	assert_int_equal(mkdir(proj, 0700), 0);
	assert_int_equal(st_project_init(proj, &err), 0);
	unit_path(u, script, sizeof(script), "runner.sh");
	unit_write(script, "#!/bin/sh\n"
	    "echo \"sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$ cwd=$(pwd -P) "
	    "arg=$1 n=$#\"\n"
	    "read x || echo eof\n"
	    "[ -e /proc/$$/fd/7 ] && echo leak\n"
	    "exit 0\n");
	assert_int_equal(chmod(script, 0700), 0);
	snprintf(cmd, sizeof(cmd), "/bin/sh %s", script);
	setenv("STEROIDS_LOOP_COMMAND", cmd, 1);
	/* An fd without close-on-exec that the runner must not get. */
	leak = open("/dev/null", O_RDONLY);
	assert_true(leak != -1);
	assert_int_equal(dup2(leak, 7), 7);
	assert_int_equal(st_spawn_runner(proj, 0, &pid, &err), 0);
	close(7);
	close(leak);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unit_path(u, log, sizeof(log), "proj/.steroids/logs/runner.log");
	text = unit_read(log);
	snprintf(want, sizeof(want), "sid=%ld pid=%ld cwd=%s arg=%s n=1\neof\n",
	    (long)pid, (long)pid, proj, proj);
	assert_string_equal(text, want);
	free(text);
	assert_int_equal(unit_mode(log), 0600);

	/* Detached: the pid comes back, and it is not our child. */
	assert_int_equal(st_spawn_runner(proj, ST_SPAWN_DETACH, &pid, &err),
	    0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* Not executable: a clear error, nothing started. */
	setenv("STEROIDS_LOOP_COMMAND", "/nonexistent/runner", 1);
	assert_int_equal(st_spawn_runner(proj, ST_SPAWN_DETACH, &pid, &err),
	    -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	unsetenv("STEROIDS_LOOP_COMMAND");
}

/* Read what fd has until EOF, NUL-terminated. */
static void
read_all(int fd, char *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/*
 * st_child_start: stdout where it was told, the error pipe not left open
 * past the exec, and a failed exec reported as the child's errno, the
 * child reaped.
 */
static void
test_child_start(void **state)
{
	struct st_error	 err;
	struct st_child	 c;
	char		 out[64];
	char		*argv[4];
	pid_t		 pid = 0;
	int		 p[2], e, status;

	(void)state;
	assert_int_equal(pipe(p), 0);
	argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)"if (: >&3) 2>/dev/null; then echo open; "
	    "else echo closed; fi";
	argv[3] = NULL;
	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.fd[0] = c.fd[2] = -1;
	c.fd[1] = p[1];
	c.dirfd = -1;
	assert_int_equal(st_child_start(&c, &pid, &e, &err), 0);
	close(p[1]);
	read_all(p[0], out, sizeof(out));
	close(p[0]);
	assert_string_equal(out, "closed\n");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	argv[0] = (char *)"/nonexistent/program";
	pid = 0;
	assert_int_equal(st_child_start(&c, &pid, &e, &err), 1);
	assert_int_equal(e, ENOENT);
	assert_int_equal(pid, 0);
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* Without the error pipe, a failed exec is an exit of 127. */
	c.flags = ST_CHILD_NOWAIT;
	assert_int_equal(st_child_start(&c, &pid, &e, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 127);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_words),
		cmocka_unit_test(test_split_default),
		cmocka_unit_test(test_split_bad),
		cmocka_unit_test_setup_teardown(test_spawn_child, unit_setup,
		    unit_teardown),
		cmocka_unit_test(test_child_start),
	};

	return (unit_run_group(tests));
}
