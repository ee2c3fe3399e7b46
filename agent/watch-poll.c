/*
 * watch-poll.c -- the backend of last resort: stat(2) of the DB and its
 * -wal, and kill(pid, 0), every agent.poll_interval.  Used for projects
 * the native backend cannot watch (watch limit, NFS) and for everything
 * with steroids-agent -P.  The timer runs only while something is polled.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steroids.h"
#include "watch.h"

struct filestate {
	int		 exists;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	char			*dir;
	void			*arg;
	struct filestate	 db;
	struct filestate	 wal;
	dev_t			 dirdev;
	ino_t			 dirino;
};

struct pidwatch {
	TAILQ_ENTRY(pidwatch)	 entry;
	pid_t			 pid;
	void			*arg;
};

static TAILQ_HEAD(, watch)	 poll_watches =
    TAILQ_HEAD_INITIALIZER(poll_watches);
static TAILQ_HEAD(, pidwatch)	 poll_pids = TAILQ_HEAD_INITIALIZER(poll_pids);
static struct ev_loop		*poll_loop;
static ev_timer			 poll_timer;
static double			 poll_every = 2.0;
static int			 poll_busy;	/* in the timer callback */

/*
 * An empty -wal counts as none: readers (the agent's own checks) create
 * it empty, and a commit always gives it frames.
 */
static void
file_state(const char *dir, const char *name, struct filestate *fs)
{
	char		path[PATH_MAX + 64];
	struct stat	sb;

	memset(fs, 0, sizeof(*fs));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &sb) == -1)
		return;
	if (sb.st_size == 0 && strcmp(name, WATCH_WAL) == 0)
		return;
	fs->exists = 1;
	fs->dev = sb.st_dev;
	fs->ino = sb.st_ino;
	fs->size = sb.st_size;
#if defined(__APPLE__)
	fs->mtime = sb.st_mtimespec;
#else
	fs->mtime = sb.st_mtim;
#endif
}

static int
file_differs(const struct filestate *a, const struct filestate *b)
{
	return (a->exists != b->exists || a->dev != b->dev ||
	    a->ino != b->ino || a->size != b->size ||
	    a->mtime.tv_sec != b->mtime.tv_sec ||
	    a->mtime.tv_nsec != b->mtime.tv_nsec);
}

static void
poll_arm(void)
{
	if (poll_loop == NULL)
		return;
	if (TAILQ_EMPTY(&poll_watches) && TAILQ_EMPTY(&poll_pids)) {
		ev_timer_stop(poll_loop, &poll_timer);
		return;
	}
	if (!ev_is_active(&poll_timer)) {
		ev_timer_set(&poll_timer, poll_every, poll_every);
		ev_timer_start(poll_loop, &poll_timer);
	}
}

/* Is the watched directory still the one we started with? */
static int
dir_same(struct watch *w)
{
	struct stat	sb;

	return (stat(w->dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    sb.st_dev == w->dirdev && sb.st_ino == w->dirino);
}

/*
 * Callbacks may delete any watch, so each round walks a snapshot of
 * arguments and looks each one up again before using it.
 */
static void
poll_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch		*w, *next;
	struct pidwatch		*pw, *pnext;
	struct filestate	 db, wal;

	(void)loop;
	(void)t;
	(void)revents;
	poll_busy = 1;
	for (w = TAILQ_FIRST(&poll_watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!dir_same(w)) {
			TAILQ_REMOVE(&poll_watches, w, entry);
			agent_gone(w->arg);	/* the agent calls del */
			free(w->dir);
			free(w);
			continue;
		}
		file_state(w->dir, WATCH_DB, &db);
		file_state(w->dir, WATCH_WAL, &wal);
		if (file_differs(&db, &w->db) || file_differs(&wal, &w->wal)) {
			w->db = db;
			w->wal = wal;
			agent_changed(w->arg);
		}
	}
	for (pw = TAILQ_FIRST(&poll_pids); pw != NULL; pw = pnext) {
		pnext = TAILQ_NEXT(pw, entry);
		if (st_pid_alive(pw->pid))
			continue;
		TAILQ_REMOVE(&poll_pids, pw, entry);
		agent_pid_exit(pw->arg);
		free(pw);
	}
	poll_busy = 0;
	poll_arm();
}

static int
poll_init(struct ev_loop *loop)
{
	poll_loop = loop;
	ev_timer_init(&poll_timer, poll_cb, poll_every, poll_every);
	return (0);
}

static void
poll_done(void)
{
	struct watch	*w;
	struct pidwatch	*pw;

	while ((w = TAILQ_FIRST(&poll_watches)) != NULL) {
		TAILQ_REMOVE(&poll_watches, w, entry);
		free(w->dir);
		free(w);
	}
	while ((pw = TAILQ_FIRST(&poll_pids)) != NULL) {
		TAILQ_REMOVE(&poll_pids, pw, entry);
		free(pw);
	}
	if (poll_loop != NULL)
		ev_timer_stop(poll_loop, &poll_timer);
}

static struct watch *
poll_add(const char *dir, void *arg)
{
	struct watch	*w;
	struct stat	 sb;

	if (stat(dir, &sb) == -1)
		return (NULL);
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		errno = ENOMEM;
		return (NULL);
	}
	w->arg = arg;
	w->dirdev = sb.st_dev;
	w->dirino = sb.st_ino;
	file_state(dir, WATCH_DB, &w->db);
	file_state(dir, WATCH_WAL, &w->wal);
	TAILQ_INSERT_TAIL(&poll_watches, w, entry);
	poll_arm();
	return (w);
}

/*
 * A watch that reported gone has already been freed by poll_cb; the
 * agent still calls del for it, so del only frees what is still listed.
 */
static void
poll_del(struct watch *w)
{
	struct watch	*x;

	TAILQ_FOREACH(x, &poll_watches, entry)
		if (x == w)
			break;
	if (x == NULL)
		return;
	TAILQ_REMOVE(&poll_watches, w, entry);
	free(w->dir);
	free(w);
	if (!poll_busy)
		poll_arm();
}

static struct pidwatch *
poll_pid_add(pid_t pid, void *arg)
{
	struct pidwatch	*pw;

	if ((pw = calloc(1, sizeof(*pw))) == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	pw->pid = pid;
	pw->arg = arg;
	TAILQ_INSERT_TAIL(&poll_pids, pw, entry);
	poll_arm();
	return (pw);
}

static void
poll_pid_del(struct pidwatch *pw)
{
	struct pidwatch	*x;

	TAILQ_FOREACH(x, &poll_pids, entry)
		if (x == pw)
			break;
	if (x == NULL)
		return;
	TAILQ_REMOVE(&poll_pids, pw, entry);
	free(pw);
	if (!poll_busy)
		poll_arm();
}

void
watch_poll_interval(double secs)
{
	poll_every = secs;
	if (poll_loop != NULL && ev_is_active(&poll_timer)) {
		ev_timer_stop(poll_loop, &poll_timer);
		poll_arm();
	}
}

const struct watch_backend watch_poll = {
	"poll",
	poll_init,
	poll_done,
	poll_add,
	poll_del,
	poll_pid_add,
	poll_pid_del
};
