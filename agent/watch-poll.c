/*
 * watch-poll.c -- the backend of last resort: stat(2) of the DB and its
 * -wal (by a check worker), and kill(pid, 0), every agent.poll_interval.  Used for projects
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

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	char			*dir;
	void			*arg;
	struct watch_files	 f;
	int			 primed;	/* f holds a first answer */
	int			 asked;		/* an answer is due */
	int			 dead;		/* deleted: freed by the answer */
};

struct pidwatch {
	TAILQ_ENTRY(pidwatch)	 entry;
	pid_t			 pid;
	void			*arg;
};

static TAILQ_HEAD(, watch)	 poll_watches =
    TAILQ_HEAD_INITIALIZER(poll_watches);
static TAILQ_HEAD(, watch)	 poll_dead = TAILQ_HEAD_INITIALIZER(poll_dead);
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
file_state(const char *dir, const char *name, struct watch_filestate *fs)
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

void
watch_files_read(const char *dir, struct watch_files *f)
{
	struct stat	sb;

	memset(f, 0, sizeof(*f));
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return;
	f->isdir = 1;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	file_state(dir, WATCH_DB, &f->db);
	file_state(dir, WATCH_WAL, &f->wal);
}

static int
file_differs(const struct watch_filestate *a, const struct watch_filestate *b)
{
	return (a->exists != b->exists || a->dev != b->dev ||
	    a->ino != b->ino || a->size != b->size ||
	    a->mtime.tv_sec != b->mtime.tv_sec ||
	    a->mtime.tv_nsec != b->mtime.tv_nsec);
}

static void
watch_free(struct watch *w)
{
	free(w->dir);
	free(w);
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

/*
 * A poll's answer.  The first one is the baseline; then a directory gone
 * or replaced is reported gone, a DB or -wal changed, changed.  No answer
 * (a hung project: its checks say so) changes nothing.
 */
static void
poll_answer(void *arg, const struct watch_files *f)
{
	struct watch	*w = arg;

	w->asked = 0;
	if (w->dead) {
		TAILQ_REMOVE(&poll_dead, w, entry);
		watch_free(w);
		return;
	}
	if (f == NULL)
		return;
	if (!f->isdir || (w->primed && (f->dev != w->f.dev ||
	    f->ino != w->f.ino))) {
		TAILQ_REMOVE(&poll_watches, w, entry);
		agent_gone(w->arg);	/* the agent calls del */
		watch_free(w);
		poll_arm();
		return;
	}
	if (w->primed && (file_differs(&f->db, &w->f.db) ||
	    file_differs(&f->wal, &w->f.wal))) {
		w->f = *f;
		agent_changed(w->arg);
		return;
	}
	w->f = *f;
	w->primed = 1;
}

static void
poll_ask(struct watch *w)
{
	if (!w->asked && agent_files(w->dir, !w->primed, poll_answer, w) == 0)
		w->asked = 1;
}

/*
 * Callbacks may delete any watch (a PID's exit), so the PIDs are walked
 * with the next one taken first.  The files are asked of a check worker:
 * a stat here could hang the loop on a dead mount.
 */
static void
poll_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch		*w;
	struct pidwatch		*pw, *pnext;

	(void)loop;
	(void)t;
	(void)revents;
	poll_busy = 1;
	TAILQ_FOREACH(w, &poll_watches, entry)
		poll_ask(w);
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

	/* Exiting: the answers due never come (agent_files). */
	while ((w = TAILQ_FIRST(&poll_watches)) != NULL) {
		TAILQ_REMOVE(&poll_watches, w, entry);
		watch_free(w);
	}
	while ((w = TAILQ_FIRST(&poll_dead)) != NULL) {
		TAILQ_REMOVE(&poll_dead, w, entry);
		watch_free(w);
	}
	while ((pw = TAILQ_FIRST(&poll_pids)) != NULL) {
		TAILQ_REMOVE(&poll_pids, pw, entry);
		free(pw);
	}
	if (poll_loop != NULL)
		ev_timer_stop(poll_loop, &poll_timer);
}

/*
 * The caller's worker has just found dir a directory.  The baseline is
 * asked now, first in line: the project's check, asked after, then reads
 * every commit it misses, and the polls see every commit after it.
 */
static struct watch *
poll_add(const char *dir, void *arg)
{
	struct watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		errno = ENOMEM;
		return (NULL);
	}
	w->arg = arg;
	TAILQ_INSERT_TAIL(&poll_watches, w, entry);
	poll_ask(w);
	poll_arm();
	return (w);
}

/*
 * A watch that reported gone has already been freed by poll_answer; the
 * agent still calls del for it, so del only frees what is still listed,
 * and one with an answer due is freed by that answer.
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
	if (w->asked) {
		w->dead = 1;
		TAILQ_INSERT_TAIL(&poll_dead, w, entry);
	} else
		watch_free(w);
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

long
watch_max_env(void)
{
	const char	*s, *errstr;
	long		 n;

	if ((s = getenv("STEROIDS_AGENT_MAX_WATCHES")) == NULL || *s == '\0')
		return (-1);
	n = (long)strtonum(s, 0, LONG_MAX, &errstr);
	return (errstr == NULL ? n : -1);
}

const struct watch_backend watch_poll = {
	"poll",
	poll_init,
	poll_done,
	poll_add,
	poll_del,
	poll_pid_add,
	poll_pid_del,
	NULL,		/* watches are added on the loop: its stats are */
	NULL,		/* a worker's already (agent_files) */
	NULL,
	NULL,
	NULL,
	NULL
};
