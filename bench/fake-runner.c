/*
 * fake-runner.c -- the runner every watcher in the bench starts.
 *
 *	fake-runner RESULTS MODEFILE PROJECT
 *
 * It is set as STEROIDS_LOOP_COMMAND="fake-runner RESULTS MODEFILE", so the
 * project path arrives last, as with the real runner.  The first thing main
 * does is read CLOCK_MONOTONIC: that is the "runner entry" of every latency
 * figure.  Then, like the real runner, it takes <project>/.steroids/
 * runner.lock with flock(LOCK_EX | LOCK_NB) (retrying briefly so a watcher's
 * shared-lock probe never makes it give up) and writes its PID there, and
 * appends one line to RESULTS:
 *
 *	project <TAB> entry-ns <TAB> pid <TAB> got-lock(1/0)
 *
 * in a single write(2) on an O_APPEND descriptor, so lines from concurrent
 * runners never interleave.  What it does next is read from MODEFILE:
 *
 *	complete	mark every task with pending work completed, exit 0
 *	hold		keep the lock until killed; SIGTERM completes and exits 0
 *	hold1		complete one task (progress, as a real runner makes), then
 *			hold as above
 *	exit		exit 0 at once, leaving the work
 *
 * Links only libsqlite3 (never the libtool wrapper of libsteroids), so the
 * cost of starting it is one dynamic exec, the same for every watcher.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define LOCK_TRIES	50	/* x 5 ms, as st_lock_acquire */

static volatile sig_atomic_t	 terminated;

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

static int
read_mode(const char *file, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	strncpy(buf, "complete", len - 1);
	buf[len - 1] = '\0';
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	buf[strcspn(buf, " \t\r\n")] = '\0';
	return (0);
}

static int
take_lock(const char *project)
{
	char		 path[PATH_MAX], buf[32];
	struct timespec	 ts = { 0, 5 * 1000 * 1000 };
	int		 fd, i, n;

	if (snprintf(path, sizeof(path), "%s/.steroids/runner.lock",
	    project) >= (int)sizeof(path))
		return (-1);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return (-1);
	for (i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    i == LOCK_TRIES) {
			close(fd);
			return (-1);
		}
		nanosleep(&ts, NULL);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return (-1);
	}
	return (fd);
}

static int
complete(const char *project, int one)
{
	char	 path[PATH_MAX];
	sqlite3	*db;
	int	 rc;

	if (snprintf(path, sizeof(path), "%s/.steroids/steroids.db",
	    project) >= (int)sizeof(path))
		return (-1);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return (-1);
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	rc = sqlite3_exec(db, one ? "UPDATE tasks SET status = 'completed', "
	    "updated_at = datetime('now') WHERE rowid = (SELECT min(rowid) "
	    "FROM tasks WHERE status IN ('pending', 'in_progress', 'review'))" :
	    "UPDATE tasks SET status = 'completed', "
	    "updated_at = datetime('now') WHERE status IN "
	    "('pending', 'in_progress', 'review')", NULL, NULL, NULL);
	sqlite3_close(db);
	return (rc == SQLITE_OK ? 0 : -1);
}

int
main(int argc, char *argv[])
{
	struct timespec		 entry;
	struct sigaction	 sa;
	sigset_t		 mask, old;
	char			 line[PATH_MAX + 96], mode[32];
	const char		*project;
	int			 fd, lockfd, n;

	clock_gettime(CLOCK_MONOTONIC, &entry);

	if (argc < 4) {
		fprintf(stderr, "usage: fake-runner results modefile "
		    "project\n");
		return (2);
	}
	project = argv[argc - 1];

	/* SIGTERM may come as soon as the line is out: be ready first. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);

	lockfd = take_lock(project);
	n = snprintf(line, sizeof(line), "%s\t%lld\t%ld\t%d\n", project,
	    (long long)entry.tv_sec * 1000000000LL + entry.tv_nsec,
	    (long)getpid(), lockfd != -1);
	if ((fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) != -1) {
		if (n > 0 && n < (int)sizeof(line))
			(void)write(fd, line, (size_t)n);
		close(fd);
	}
	if (lockfd == -1)
		return (6);

	read_mode(argv[2], mode, sizeof(mode));
	if (strcmp(mode, "exit") == 0)
		return (0);
	if (strcmp(mode, "hold1") == 0 && complete(project, 1) == -1)
		return (1);
	if (strncmp(mode, "hold", 4) == 0) {
		while (!terminated)
			sigsuspend(&old);
	}
	return (complete(project, 0) == 0 ? 0 : 1);
}
