/*
 * watch-kqueue.c -- the BSD and macOS backend: EVFILT_VNODE on the
 * .steroids directory, its steroids.db and its -wal (reopened when SQLite
 * deletes and recreates it), and EVFILT_PROC/NOTE_EXIT for PIDs that are
 * not our children.  One kqueue, read through one ev_io.  Knotes are
 * matched by ident (fd or PID) rather than udata, whose type differs
 * between the BSDs.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/event.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "steroids.h"
#include "watch.h"

#ifdef O_EVTONLY
#define KQ_OPEN_FLAGS	(O_EVTONLY | O_CLOEXEC)	/* macOS: never blocks unmount */
#else
#define KQ_OPEN_FLAGS	(O_RDONLY | O_CLOEXEC)
#endif
#ifndef NOTE_REVOKE
#define NOTE_REVOKE	0
#endif

#define KQ_DIR_NOTES	(NOTE_WRITE | NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE)
#define KQ_FILE_NOTES	(NOTE_WRITE | NOTE_EXTEND | NOTE_DELETE | \
	NOTE_RENAME | NOTE_REVOKE)

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	char			*dir;
	void			*arg;
	int			 dirfd;
	int			 dbfd;
	int			 walfd;
};

struct pidwatch {
	TAILQ_ENTRY(pidwatch)	 entry;
	pid_t			 pid;
	void			*arg;
};

static TAILQ_HEAD(, watch)	 kq_watches = TAILQ_HEAD_INITIALIZER(kq_watches);
static TAILQ_HEAD(, pidwatch)	 kq_pids = TAILQ_HEAD_INITIALIZER(kq_pids);
static struct ev_loop		*kq_loop;
static ev_io			 kq_io;
static int			 kq_fd = -1;

static int
kq_vnode(int fd, unsigned int notes)
{
	struct kevent	kev;

	EV_SET(&kev, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, notes, 0, 0);
	return (kevent(kq_fd, &kev, 1, NULL, 0, NULL));
}

static int
kq_open_file(const char *dir, const char *name)
{
	char	path[PATH_MAX + 64];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, KQ_OPEN_FLAGS | O_NOFOLLOW)) == -1)
		return (-1);
	if (kq_vnode(fd, KQ_FILE_NOTES) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* (Re)open the DB and the -wal when they were missing or replaced. */
static void
kq_refresh(struct watch *w)
{
	if (w->dbfd == -1)
		w->dbfd = kq_open_file(w->dir, WATCH_DB);
	if (w->walfd == -1)
		w->walfd = kq_open_file(w->dir, WATCH_WAL);
}

static void
kq_close(int *fdp)
{
	if (*fdp != -1) {
		close(*fdp);	/* closing drops its knote */
		*fdp = -1;
	}
}

static void
kq_event(const struct kevent *kev)
{
	struct watch	*w;
	struct pidwatch	*pw;
	int		 fd;

	if (kev->filter == EVFILT_PROC) {
		TAILQ_FOREACH(pw, &kq_pids, entry)
			if (pw->pid == (pid_t)kev->ident)
				break;
		if (pw != NULL && (kev->fflags & NOTE_EXIT))
			agent_pid_exit(pw->arg);	/* the agent calls del */
		return;
	}
	if (kev->filter != EVFILT_VNODE)
		return;
	fd = (int)kev->ident;
	TAILQ_FOREACH(w, &kq_watches, entry)
		if (w->dirfd == fd || w->dbfd == fd || w->walfd == fd)
			break;
	if (w == NULL)
		return;
	if (fd == w->dirfd) {
		if (kev->fflags & (NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE)) {
			agent_gone(w->arg);
			return;
		}
		kq_refresh(w);		/* an entry was created or removed */
	} else if (kev->fflags & (NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE)) {
		if (fd == w->walfd)
			kq_close(&w->walfd);
		else
			kq_close(&w->dbfd);
		kq_refresh(w);
	}
	agent_changed(w->arg);
}

static void
kq_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct kevent	 evs[64];
	struct timespec	 zero = { 0, 0 };
	int		 n, i;

	(void)loop;
	(void)io;
	(void)revents;
	do {
		n = kevent(kq_fd, NULL, 0, evs, 64, &zero);
		for (i = 0; i < n; i++)
			kq_event(&evs[i]);
	} while (n == 64);
}

static int
kq_init(struct ev_loop *loop)
{
	if ((kq_fd = kqueue()) == -1)
		return (-1);
	fcntl(kq_fd, F_SETFD, FD_CLOEXEC);
	kq_loop = loop;
	ev_io_init(&kq_io, kq_read_cb, kq_fd, EV_READ);
	ev_io_start(loop, &kq_io);
	return (0);
}

static void
kq_free(struct watch *w)
{
	kq_close(&w->walfd);
	kq_close(&w->dbfd);
	kq_close(&w->dirfd);
	free(w->dir);
	free(w);
}

static void
kq_done(void)
{
	struct watch	*w;
	struct pidwatch	*pw;

	while ((w = TAILQ_FIRST(&kq_watches)) != NULL) {
		TAILQ_REMOVE(&kq_watches, w, entry);
		kq_free(w);
	}
	while ((pw = TAILQ_FIRST(&kq_pids)) != NULL) {
		TAILQ_REMOVE(&kq_pids, pw, entry);
		free(pw);
	}
	if (kq_fd != -1) {
		ev_io_stop(kq_loop, &kq_io);
		close(kq_fd);
		kq_fd = -1;
	}
}

static struct watch *
kq_add(const char *dir, void *arg)
{
	struct watch	*w;
	int		 e;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		errno = ENOMEM;
		return (NULL);
	}
	w->arg = arg;
	w->dbfd = w->walfd = -1;
	if ((w->dirfd = open(dir, KQ_OPEN_FLAGS | O_DIRECTORY)) == -1 ||
	    kq_vnode(w->dirfd, KQ_DIR_NOTES) == -1) {
		e = errno;
		kq_free(w);
		errno = e;
		return (NULL);
	}
	kq_refresh(w);
	TAILQ_INSERT_TAIL(&kq_watches, w, entry);
	return (w);
}

static void
kq_del(struct watch *w)
{
	TAILQ_REMOVE(&kq_watches, w, entry);
	kq_free(w);
}

static struct pidwatch *
kq_pid_add(pid_t pid, void *arg)
{
	struct pidwatch	*pw;
	struct kevent	 kev;

	EV_SET(&kev, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, 0);
	if (kevent(kq_fd, &kev, 1, NULL, 0, NULL) == -1)
		return (NULL);		/* ESRCH: already gone */
	if ((pw = calloc(1, sizeof(*pw))) == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	pw->pid = pid;
	pw->arg = arg;
	TAILQ_INSERT_TAIL(&kq_pids, pw, entry);
	return (pw);
}

static void
kq_pid_del(struct pidwatch *pw)
{
	struct kevent	kev;

	/* Gone already if the knote fired (EV_ONESHOT); harmless then. */
	EV_SET(&kev, pw->pid, EVFILT_PROC, EV_DELETE, 0, 0, 0);
	(void)kevent(kq_fd, &kev, 1, NULL, 0, NULL);
	TAILQ_REMOVE(&kq_pids, pw, entry);
	free(pw);
}

const struct watch_backend watch_kqueue = {
	"kqueue",
	kq_init,
	kq_done,
	kq_add,
	kq_del,
	kq_pid_add,
	kq_pid_del
};
