/*
 * starts.c -- runners started a moment ago, for agent.max_runners across
 * processes.  From its spawn to its lock or its row a runner is seen by
 * nobody but its starter, so two starters (the agent and a CLI sweep)
 * could each take the last slot.  Every start under a limit is counted
 * and made while holding the flock of $STEROIDS_HOME/starts, and is
 * written there as "PID START EPOCH" (START: the process's start time,
 * 0 if unknown; EPOCH: when listed); a line whose process is gone (a
 * zombie included: it has exited), whose PID is another process's now,
 * or older than STARTS_TTL is dropped when the file is next written.
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

#define STARTS_TTL	60		/* s: a runner locks long before */
#define STARTS_MAX	1024		/* lines kept; the oldest go first */
#define STARTS_FILE_MAX	(STARTS_MAX * 32)

struct st_starts {
	int		 fd;
	size_t		 n;
	struct start {
		pid_t	 pid;
		time_t	 start;		/* its start time, 0: unknown */
		time_t	 t;		/* when listed */
	}		 v[STARTS_MAX];
};


/* Parse the file: lines that do not read as "PID EPOCH" are dropped. */
static void
starts_read(struct st_starts *s)
{
	char		 buf[STARTS_FILE_MAX + 1], *line, *next, *f[3];
	const char	*e1, *e2, *e3;
	time_t		 now = time(NULL);
	long long	 pid, start, t;
	ssize_t		 got;
	int		 i;

	s->n = 0;
	if ((got = pread(s->fd, buf, STARTS_FILE_MAX, 0)) <= 0)
		return;
	buf[got] = '\0';
	for (line = buf; line != NULL && s->n < STARTS_MAX; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (i = 0; i < 3 && (f[i] = strsep(&line, " ")) != NULL; i++)
			;
		if (i < 3 || line != NULL)
			continue;
		pid = strtonum(f[0], 1, INT_MAX, &e1);
		start = strtonum(f[1], 0, LLONG_MAX, &e2);
		t = strtonum(f[2], 0, LLONG_MAX, &e3);
		if (e1 != NULL || e2 != NULL || e3 != NULL || t > now ||
		    now - t > STARTS_TTL ||
		    st_proc_same((pid_t)pid, (time_t)start) == 0)
			continue;
		s->v[s->n].pid = (pid_t)pid;
		s->v[s->n].start = (time_t)start;
		s->v[s->n].t = (time_t)t;
		s->n++;
	}
}

int
st_starts_lock(st_gdb *g, st_starts **sp, struct st_error *err)
{
	struct st_starts	*s;
	char			 path[PATH_MAX];
	int			 fd;

	*sp = NULL;
	if (snprintf(path, sizeof(path), "%s/starts", st_gdb_home(g)) >=
	    (int)sizeof(path))
		return (st_seterr(err, ST_EARGS, "path too long"));
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return (st_seterr(err, ST_EPERM, "cannot open %s: %s", path,
		    strerror(errno)));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		if (errno == EWOULDBLOCK) {
			st_seterr(err, ST_ELOCKED, "%s is held by another "
			    "starter", path);
			return (1);
		}
		return (st_seterr(err, ST_EGENERAL, "flock %s: %s", path,
		    strerror(errno)));
	}
	s = st_xcalloc(1, sizeof(*s));
	s->fd = fd;
	starts_read(s);
	*sp = s;
	return (0);
}

long
st_starts_others(const st_starts *s, const pid_t *known, size_t nknown)
{
	long	n = 0;
	size_t	i, j;

	for (i = 0; i < s->n; i++) {
		for (j = 0; j < nknown; j++)
			if (known[j] == s->v[i].pid)
				break;
		if (j == nknown)
			n++;
	}
	return (n);
}

void
st_starts_add(st_starts *s, pid_t pid)
{
	if (pid <= 0)
		return;
	if (s->n == STARTS_MAX)		/* keep the newest */
		memmove(&s->v[0], &s->v[1], --s->n * sizeof(s->v[0]));
	s->v[s->n].pid = pid;
	if (st_proc_start_time(pid, &s->v[s->n].start) != 1)
		s->v[s->n].start = 0;
	s->v[s->n].t = time(NULL);
	s->n++;
}

void
st_starts_unlock(st_starts *s)
{
	char	buf[STARTS_FILE_MAX];
	size_t	i, len = 0;
	int	n;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		n = snprintf(buf + len, sizeof(buf) - len, "%ld %lld %lld\n",
		    (long)s->v[i].pid, (long long)s->v[i].start,
		    (long long)s->v[i].t);
		if (n < 0 || (size_t)n >= sizeof(buf) - len)
			break;
		len += (size_t)n;
	}
	/* A short write leaves lines that read as nothing or as fewer. */
	if (ftruncate(s->fd, 0) == 0 && len > 0)
		(void)pwrite(s->fd, buf, len, 0);
	close(s->fd);
	free(s);
}
