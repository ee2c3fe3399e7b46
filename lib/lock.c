/*
 * lock.c -- the runner lock: flock(LOCK_EX) on <project>/.steroids/
 * runner.lock for the runner's whole life.  The kernel drops it on any
 * death, so a lock can never be stale and a reused PID can never fake a
 * live runner.  The holder writes its PID into the file for people to see.
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

#include "st-int.h"

#define LOCK_TRIES	50	/* x 5 ms: rides out a concurrent probe */

static int
lock_path(const char *project, char *buf, size_t len)
{
	return (snprintf(buf, len, "%s/" ST_PROJECT_DIR "/runner.lock",
	    project) >= (int)len ? -1 : 0);
}

/*
 * Open the lock file: O_NONBLOCK, so that a FIFO put in its place cannot
 * hold the open, and a file that is not regular is refused (EINVAL).
 */
static int
lock_open(const char *path, int flags)
{
	struct stat	sb;
	int		fd;

	if ((fd = open(path, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		return (-1);
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return (-1);
	}
	return (fd);
}

/* The pid written at the start of a lock or pid file; 0: none yet. */
pid_t
st_pid_read(int fd)
{
	char	buf[32];
	ssize_t	n;
	long	pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return (pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0);
}

/*
 * Take the lock or say who has it (ST_ELOCKED, *holder set).  A probe
 * (st_lock_probe) holds a shared lock for a moment; we retry briefly so a
 * probe never makes a starting runner give up.
 */
int
st_lock_acquire(const char *project, int *fdp, pid_t *holder,
    struct st_error *err)
{
	char		 path[PATH_MAX + 64], buf[32];
	struct timespec	 ts = { 0, 5 * 1000 * 1000 };
	pid_t		 pid;
	int		 fd, i, n;

	*fdp = -1;
	if (holder != NULL)
		*holder = 0;
	if (lock_path(project, path, sizeof(path)) == -1)
		return (st_seterr(err, ST_EARGS, "path too long: %s", project));
	if ((fd = lock_open(path, O_RDWR | O_CREAT)) == -1)
		return (st_seterr(err, ST_EPERM, "cannot open %s: %s", path,
		    errno == EINVAL ? "not a regular file" : strerror(errno)));
	for (i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    i == LOCK_TRIES) {
			n = errno;
			pid = st_pid_read(fd);
			if (holder != NULL)
				*holder = pid;
			close(fd);
			if (n == EWOULDBLOCK && pid > 0)
				return (st_seterr(err, ST_ELOCKED, "a runner "
				    "is already running for %s (pid %ld)",
				    project, (long)pid));
			if (n == EWOULDBLOCK)
				return (st_seterr(err, ST_ELOCKED, "a runner "
				    "is starting for %s (its pid is not "
				    "written yet)", project));
			return (st_seterr(err, ST_EGENERAL, "flock %s: %s",
			    path, strerror(n)));
		}
		nanosleep(&ts, NULL);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		n = errno;
		close(fd);
		return (st_seterr(err, ST_EGENERAL, "cannot write %s: %s", path,
		    strerror(n)));
	}
	*fdp = fd;
	return (0);
}

/* The PID written in a project's lock file, 0 if none. */
pid_t
st_lock_holder(const char *project)
{
	char	path[PATH_MAX + 64];
	pid_t	pid;
	int	fd;

	if (lock_path(project, path, sizeof(path)) == -1)
		return (0);
	if ((fd = lock_open(path, O_RDONLY)) == -1)
		return (0);
	pid = st_pid_read(fd);
	close(fd);
	return (pid);
}

/*
 * The look both probes share: 1 held (*fdp the lock file, open, and
 * *holder the PID written in it, 0 if none yet), 0 free, -1 cannot tell
 * (*fdp -1 unless held).  Never creates the file.
 */
static int
lock_look(const char *project, pid_t *holder, int *fdp)
{
	char	path[PATH_MAX + 64];
	int	fd, held;

	*holder = 0;
	*fdp = -1;
	if (lock_path(project, path, sizeof(path)) == -1)
		return (-1);
	if ((fd = lock_open(path, O_RDONLY)) == -1)
		return (errno == ENOENT ? 0 : -1);
	/* A shared lock we get is free; the close drops it. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		held = 0;
	else
		held = errno == EWOULDBLOCK ? 1 : -1;
	if (held != 1) {
		close(fd);
		return (held);
	}
	*holder = st_pid_read(fd);
	*fdp = fd;
	return (1);
}

/*
 * Is a runner holding the lock?  1 held (*holder its PID, 0 if it has not
 * written it yet), 0 free, -1 cannot tell.  Never creates the file.
 */
int
st_lock_probe(const char *project, pid_t *holder)
{
	pid_t	pid;
	int	fd, held;

	held = lock_look(project, &pid, &fd);
	if (fd != -1)
		close(fd);
	if (holder != NULL)
		*holder = pid;
	return (held);
}

/*
 * st_lock_probe for a judgement made later (the sweep, struct
 * st_lockseen): the holder with its start time.  Its holder writes its
 * PID after it has started, so a process that started after the file was
 * last written is not the holder (a PID of an earlier holder, reused,
 * while a new one has the lock and not written yet): holder 0 then.
 */
int
st_lock_seen(const char *project, struct st_lockseen *seen)
{
	struct stat	sb;
	int		fd;

	memset(seen, 0, sizeof(*seen));
	if ((seen->held = lock_look(project, &seen->holder, &fd)) != 1)
		return (seen->held);
	if (seen->holder > 0) {
		if (st_proc_start_time(seen->holder, &seen->start) != 1)
			seen->start = 0;	/* gone, or no start times */
		else if (fstat(fd, &sb) == 0 &&
		    seen->start > sb.st_mtime + 1) {
			seen->holder = 0;	/* not its writer: above */
			seen->start = 0;
		}
	}
	close(fd);
	return (1);
}

void
st_lock_release(int fd)
{
	if (fd != -1)
		close(fd);
}

/* Is a process alive?  EPERM means it is, just not ours. */
int
st_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return (0);
	return (kill(pid, 0) == 0 || errno == EPERM);
}
