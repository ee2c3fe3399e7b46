/*
 * watch-inotify.c -- the Linux backend: one inotify descriptor for every
 * watched directory, and a pidfd per PID that is not our child.
 * STEROIDS_AGENT_MAX_WATCHES=N makes the N+1th watch fail with ENOSPC,
 * as the kernel's max_user_watches would, so the fallback can be tested.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "steroids.h"
#include "hash.h"
#include "watch.h"

#define IN_DIR_MASK	(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE | \
	IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	int			 wd;	/* the key in in_wds; -1 once dropped */
	void			*arg;
};

struct pidwatch {
	ev_io			 io;
	void			*arg;
};

static TAILQ_HEAD(, watch)	 in_watches = TAILQ_HEAD_INITIALIZER(in_watches);
static struct ev_loop		*in_loop;
static ev_io			 in_io;
static int			 in_fd = -1;
static long			 in_count, in_max = -1;
static struct hash		*in_wds;	/* wd -> watch */

static struct watch *
in_find(int wd)
{
	return (hash_get(in_wds, &wd, sizeof(wd)));
}

static void
in_forget(struct watch *w)
{
	if (w->wd != -1)
		hash_del(in_wds, &w->wd, sizeof(w->wd));
	w->wd = -1;
}

/*
 * A commit writes the -wal (WAL mode) or the DB (rollback journal); a DB
 * created or moved into place is new.  Readers create the -wal and -shm
 * (the agent's own checks do) and write the -shm, and a last writer's
 * close deletes the -wal after its commit was written: none of these
 * carries a commit, and reacting to them would make every check of the
 * agent cause another one.
 */
static int
interesting(const struct inotify_event *ev)
{
	if (ev->len == 0)
		return (0);
	if (strcmp(ev->name, WATCH_WAL) == 0)
		return ((ev->mask & IN_MODIFY) != 0);
	if (strcmp(ev->name, WATCH_DB) == 0)
		return ((ev->mask & (IN_MODIFY | IN_CREATE | IN_MOVED_TO)) !=
		    0);
	return (0);
}

static void
in_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	char				 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	struct watch			*w;
	ssize_t				 n;
	char				*p;

	(void)loop;
	(void)io;
	(void)revents;
	for (;;) {
		n = read(in_fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (p = buf; p < buf + n;
		    p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				agent_overflow();
				continue;
			}
			if ((w = in_find(ev->wd)) == NULL)
				continue;
			if (ev->mask & (IN_IGNORED | IN_UNMOUNT |
			    IN_DELETE_SELF | IN_MOVE_SELF)) {
				/* The kernel dropped (or will drop) it. */
				if (ev->mask & IN_IGNORED)
					in_forget(w);
				agent_gone(w->arg);
				continue;
			}
			if (interesting(ev))
				agent_changed(w->arg);
		}
	}
}

static int
in_init(struct ev_loop *loop)
{
	in_max = watch_max_env();
	if ((in_wds = hash_new()) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if ((in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		hash_free(in_wds);
		in_wds = NULL;
		return (-1);
	}
	in_loop = loop;
	ev_io_init(&in_io, in_read_cb, in_fd, EV_READ);
	ev_io_start(loop, &in_io);
	return (0);
}

static void
in_done(void)
{
	struct watch	*w;

	while ((w = TAILQ_FIRST(&in_watches)) != NULL) {
		TAILQ_REMOVE(&in_watches, w, entry);
		free(w);
	}
	hash_free(in_wds);
	in_wds = NULL;
	if (in_fd != -1) {
		ev_io_stop(in_loop, &in_io);
		close(in_fd);
		in_fd = -1;
	}
	in_count = 0;
}

/* A check worker's copy of the instance, at a number the worker picks. */
static int
in_worker_fd(void)
{
	return (in_fd);
}

/*
 * In the worker, off the loop: the path lookup (a hung mount can hold it)
 * adds the watch to the instance the agent reads, which shares it.
 */
static long
in_worker_add(int fd, const char *dir)
{
	return (inotify_add_watch(fd, dir, IN_DIR_MASK));
}

/* The loop's side of a watch made by a worker: wd its token. */
static struct watch *
in_add_token(long token, void *arg)
{
	struct watch	*w;
	int		 wd = (int)token;

	/* Two spellings of one directory share a wd: keep them apart. */
	if (in_find(wd) != NULL) {
		errno = EEXIST;
		return (NULL);
	}
	if (in_max != -1 && in_count >= in_max) {
		inotify_rm_watch(in_fd, wd);
		errno = ENOSPC;
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		inotify_rm_watch(in_fd, wd);
		errno = ENOMEM;
		return (NULL);
	}
	w->wd = wd;
	w->arg = arg;
	if (hash_put(in_wds, &w->wd, sizeof(w->wd), w) == -1) {
		inotify_rm_watch(in_fd, wd);
		free(w);
		errno = ENOMEM;
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&in_watches, w, entry);
	in_count++;
	return (w);
}

static struct watch *
in_add(const char *dir, void *arg)
{
	int	wd;

	if (in_max != -1 && in_count >= in_max) {
		errno = ENOSPC;
		return (NULL);
	}
	if ((wd = inotify_add_watch(in_fd, dir, IN_DIR_MASK)) == -1)
		return (NULL);
	return (in_add_token(wd, arg));
}

static void
in_del(struct watch *w)
{
	if (w->wd != -1)
		inotify_rm_watch(in_fd, w->wd);
	in_forget(w);
	TAILQ_REMOVE(&in_watches, w, entry);
	free(w);
	in_count--;
}

static void
pid_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct pidwatch	*pw = (struct pidwatch *)io;

	(void)revents;
	/* Readable once the process has exited; the agent calls pid_del. */
	ev_io_stop(loop, io);
	agent_pid_exit(pw->arg);
}

static struct pidwatch *
in_pid_add(pid_t pid, void *arg)
{
	struct pidwatch	*pw;
	int		 fd;

	if ((fd = st_pidfd_open(pid)) == -1)
		return (NULL);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((pw = calloc(1, sizeof(*pw))) == NULL) {
		close(fd);
		errno = ENOMEM;
		return (NULL);
	}
	pw->arg = arg;
	ev_io_init(&pw->io, pid_cb, fd, EV_READ);
	ev_io_start(in_loop, &pw->io);
	return (pw);
}

static void
in_pid_del(struct pidwatch *pw)
{
	ev_io_stop(in_loop, &pw->io);
	close(pw->io.fd);
	free(pw);
}

const struct watch_backend watch_inotify = {
	"inotify",
	in_init,
	in_done,
	in_add,
	in_del,
	in_pid_add,
	in_pid_del,
	in_worker_fd,
	in_worker_add,
	in_add_token,
	NULL,		/* its watches hold no descriptor */
	NULL,
	NULL
};
