/*
 * runner_test.c -- lib/runner.c: the runner log, opened and rotated by
 * size by the runner and by whoever starts one (spawn.c), at any moment.
 */
#include "config.h"

#include <sys/wait.h>

#include "unit.h"

#define WRITERS		4
#define ROUNDS		300
#define LOG_MAX		64	/* bytes: nearly every open rotates */

/*
 * Several processes opening the log at once, each open past the limit:
 * none may fail (a runner that cannot open its log gives its task back and
 * exits; rename of a log another just rotated failed with ENOENT).
 */
static void
test_log_rotation_race(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 dir[PATH_MAX], log[PATH_MAX + 64], line[LOG_MAX];
	pid_t		 pids[WRITERS];
	int		 i, n, fd, status, failed = 0;

	unit_project(u, "proj", dir, sizeof(dir));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (i = 0; i < WRITERS; i++) {
		if ((pids[i] = fork()) == -1)
			fail_msg("fork: %s", strerror(errno));
		if (pids[i] != 0)
			continue;
		for (n = 0; n < ROUNDS; n++) {
			if (st_runner_log_open(dir, LOG_MAX, &fd, &err) == -1) {
				fprintf(stderr, "writer %d: %s\n", i, err.msg);
				_exit(1);
			}
			if (write(fd, line, sizeof(line)) != sizeof(line))
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	for (i = 0; i < WRITERS; i++)
		if (waitpid(pids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	assert_int_equal(failed, 0);
	snprintf(log, sizeof(log), "%s/.steroids/logs/runner.log", dir);
	assert_true(unit_exists(log));
	assert_int_equal(unit_mode(log), 0600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_log_rotation_race),
	};

	return (unit_run_group(tests));
}
