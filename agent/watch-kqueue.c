/*
 * watch-kqueue.c -- the BSD and macOS backend: EVFILT_VNODE on the
 * .steroids directory, its steroids.db and its -wal (reopened when SQLite
 * deletes and recreates it), and EVFILT_PROC/NOTE_EXIT for PIDs that are
 * not our children.  One kqueue, read through one ev_io.  Knotes are
 * matched by ident (fd or PID) rather than udata, whose type differs
 * between the BSDs (intptr_t before NetBSD 10).  A project's files are
 * opened by a check worker (kq_worker_open) and only registered here
 * (kq_add_fds, kq_refresh_fds), so no project path is looked up on the
 * loop; kq_add, which opens on the loop, is for $STEROIDS_HOME.
 *
 * Each watch holds three descriptors, so the watches may use what
 * RLIMIT_NOFILE leaves after a reserve for the agent's own SQLite, spawn
 * and log work; past that add fails with EMFILE and the project is polled.
 * STEROIDS_AGENT_MAX_WATCHES=N makes the N+1th watch fail with ENOSPC, as
 * in watch-inotify.c, so the fallback can be tested.
 *
 * No BSD here?  tests/kqueue-compile.sh compiles this file against the
 * <sys/event.h> of FreeBSD, OpenBSD, NetBSD and macOS.
 */
#include "config.h"

#include <sys/types.h>
/*
 * libev's EV_ERROR (an enum constant) and kqueue's (a macro) collide:
 * <ev.h> must come first, and EV_ERROR below is kqueue's.
 */
#include <ev.h>
#include <sys/event.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef LIBKQUEUE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "hash.h"
#include "watch.h"

#ifdef O_EVTONLY
#define KQ_OPEN_FLAGS	(O_EVTONLY | O_CLOEXEC)	/* macOS: never blocks unmount */
#else
#define KQ_OPEN_FLAGS	(O_RDONLY | O_CLOEXEC)
#endif

/* libkqueue (kqueue over inotify, docs/kqueue.md) has no NOTE_REVOKE. */
#ifdef NOTE_REVOKE
#define KQ_GONE_NOTES	(NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE)
#else
#define KQ_GONE_NOTES	(NOTE_DELETE | NOTE_RENAME)
#endif
#define KQ_DIR_NOTES	(NOTE_WRITE | KQ_GONE_NOTES)
#define KQ_FILE_NOTES	(NOTE_WRITE | NOTE_EXTEND | KQ_GONE_NOTES)

#define KQ_WATCH_FDS	3	/* the directory, the DB and the -wal */
#define KQ_FD_RESERVE	64	/* left for SQLite, spawns and logs */

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	char			*dir;
	void			*arg;
	int			 dirfd;
	int			 dbfd;
	int			 walfd;
	int			 offloop;	/* add_fds: files come from
						   a worker (agent_reopen) */
	struct watch_fid	 id[3];		/* offloop: what each fd is */
};

struct pidwatch {
	TAILQ_ENTRY(pidwatch)	 entry;
	pid_t			 pid;
	void			*arg;
};

static TAILQ_HEAD(, watch)	 kq_watches = TAILQ_HEAD_INITIALIZER(kq_watches);
static TAILQ_HEAD(, pidwatch)	 kq_pids = TAILQ_HEAD_INITIALIZER(kq_pids);
static struct ev_loop		*kq_loop;
#ifdef LIBKQUEUE
/*
 * libkqueue's kqueue descriptor is the write end of a pipe, never
 * readable: no ev_io can wait on it.  A thread blocks in kevent() and
 * hands each batch to the loop through kq_async, then waits until the
 * loop has handled it, so events are handled on the loop alone and one
 * batch at a time, as from the ev_io.
 */
static pthread_t		 kq_thread;
static pthread_mutex_t		 kq_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 kq_cv = PTHREAD_COND_INITIALIZER;
static ev_async			 kq_async;
static struct kevent		 kq_batch[64];
static int			 kq_nbatch;	/* events waiting for the loop */
static int			 kq_stop;	/* kq_done: the thread ends */
#else
static ev_io			 kq_io;
#endif
static int			 kq_fd = -1;
static long			 kq_count;	/* watches held */
static long			 kq_max = -1;	/* STEROIDS_AGENT_MAX_WATCHES */
static long			 kq_fdmax = LONG_MAX; /* descriptors for watches */
static struct hash		*kq_fds;	/* each fd of a watch -> watch */

static int
kq_vnode(int fd, unsigned int notes)
{
	struct kevent	kev;

	EV_SET(&kev, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, notes, 0, 0);
	return (kevent(kq_fd, &kev, 1, NULL, 0, NULL));
}

/*
 * Open and watch one file of a watched directory; -1 with errno set.
 * O_NONBLOCK: a FIFO under that name must not hang the agent in open.
 */
static int
kq_open_file(int dirfd, const char *name)
{
	int	fd, e;

	fd = openat(dirfd, name, KQ_OPEN_FLAGS | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return (-1);
	if (kq_vnode(fd, KQ_FILE_NOTES) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

/* Index a descriptor of w (its key lives in w); -1 ENOMEM. */
static int
kq_index(struct watch *w, int *fdp)
{
	if (*fdp == -1 || hash_put(kq_fds, fdp, sizeof(*fdp), w) == 0)
		return (0);
	close(*fdp);
	*fdp = -1;
	errno = ENOMEM;
	return (-1);
}

/*
 * (Re)open the DB and the -wal where they are missing or were replaced.
 * A missing file is fine: the directory's NOTE_WRITE tells when it comes.
 * Any other failure (EMFILE, ENOMEM) would leave its writes unseen: -1.
 * *news: 1 when what was opened may hold a commit not seen yet (a new
 * DB, or a -wal with frames written before its knote was there).
 */
static int
kq_refresh(struct watch *w, int *news)
{
	struct stat	sb;

	*news = 0;
	if (w->dbfd == -1) {
		w->dbfd = kq_open_file(w->dirfd, WATCH_DB);
		if (w->dbfd == -1 && errno != ENOENT)
			return (-1);
		if (kq_index(w, &w->dbfd) == -1)
			return (-1);
		if (w->dbfd != -1)
			*news = 1;
	}
	if (w->walfd == -1) {
		w->walfd = kq_open_file(w->dirfd, WATCH_WAL);
		if (w->walfd == -1 && errno != ENOENT)
			return (-1);
		if (kq_index(w, &w->walfd) == -1)
			return (-1);
		/* Readers create it empty (the agent's own checks do). */
		if (w->walfd != -1 && (fstat(w->walfd, &sb) == -1 ||
		    sb.st_size > 0))
			*news = 1;
	}
	return (0);
}

/*
 * Deleting the knote before the close drops it and any event still
 * queued for it; a kernel kqueue does that on close alone, libkqueue does
 * not (the knote, with its inotify descriptor, would outlive the fd and
 * be taken over by the next file that gets the same number).  An event
 * already read in the same batch may name a number that refresh then
 * reuses; it can only cause a spurious change or reopen, never a loss,
 * since directories are opened by add alone, never from a callback.
 */
static void
kq_close(int *fdp)
{
	struct kevent	kev;

	if (*fdp != -1) {
		if (kq_fds != NULL)
			hash_del(kq_fds, fdp, sizeof(*fdp));
		EV_SET(&kev, *fdp, EVFILT_VNODE, EV_DELETE, 0, 0, 0);
		(void)kevent(kq_fd, &kev, 1, NULL, 0, NULL);
		close(*fdp);
		*fdp = -1;
	}
}

/*
 * A write to the DB or the -wal is a commit.  The directory's NOTE_WRITE
 * (a name added or removed) is one only when it brought a new DB or a
 * -wal that already has frames: the agent's own checks create the -wal
 * and -shm, and reacting to that would make each check cause the next.
 */
static void
kq_event(const struct kevent *kev)
{
	struct watch	*w;
	struct pidwatch	*pw;
	int		 fd, news, changed;

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
	if ((w = hash_get(kq_fds, &fd, sizeof(fd))) == NULL)
		return;
	changed = fd != w->dirfd &&
	    (kev->fflags & (NOTE_WRITE | NOTE_EXTEND)) != 0;
	if (kev->fflags & KQ_GONE_NOTES) {
		if (fd == w->dirfd) {
			agent_gone(w->arg);		/* the agent calls del */
			return;
		}
		kq_close(fd == w->walfd ? &w->walfd : &w->dbfd);
	}
	if (w->offloop) {
		/*
		 * A worker opens what is missing, or the -wal a name changed
		 * in the directory may have replaced (one unlinked before its
		 * knote came: no NOTE_DELETE then); its news come with them.
		 * A DB replaced gives NOTE_DELETE or NOTE_RENAME on its own.
		 */
		if (fd == w->dirfd)
			agent_reopen(w->arg, WATCH_F_WAL |
			    (w->dbfd == -1 ? WATCH_F_DB : 0));
		else if (w->dbfd == -1 || w->walfd == -1)
			agent_reopen(w->arg, (w->dbfd == -1 ? WATCH_F_DB : 0) |
			    (w->walfd == -1 ? WATCH_F_WAL : 0));
		if (changed)
			agent_changed(w->arg);
		return;
	}
	if (kq_refresh(w, &news) == -1) {
		/*
		 * Half a watch would miss writes.  Give it up: the agent
		 * adds it again at once, natively or polled if the limit
		 * holds (agent_gone).
		 */
		log_warn("%s: kqueue cannot reopen its files", w->dir);
		agent_gone(w->arg);
		return;
	}
	if (changed || news)
		agent_changed(w->arg);
}

#ifdef LIBKQUEUE
/* arg: the kqueue descriptor (kq_fd is the loop's to change). */
static void *
kq_wait_thread(void *arg)
{
	struct kevent	evs[64];
	int		fd = (int)(intptr_t)arg, n, e, stop = 0;

	while (!stop) {
		n = kevent(fd, NULL, 0, evs, 64, NULL);
		e = errno;
		pthread_mutex_lock(&kq_mtx);
		if (!kq_stop && n > 0) {
			memcpy(kq_batch, evs, (size_t)n * sizeof(evs[0]));
			kq_nbatch = n;
			ev_async_send(kq_loop, &kq_async);
			while (kq_nbatch > 0 && !kq_stop)
				pthread_cond_wait(&kq_cv, &kq_mtx);
		}
		stop = kq_stop || (n == -1 && e != EINTR);
		pthread_mutex_unlock(&kq_mtx);
	}
	return (NULL);
}

static void
kq_async_cb(struct ev_loop *loop, ev_async *as, int revents)
{
	int	i;

	(void)loop;
	(void)as;
	(void)revents;
	pthread_mutex_lock(&kq_mtx);
	for (i = 0; i < kq_nbatch; i++)
		kq_event(&kq_batch[i]);
	kq_nbatch = 0;
	pthread_cond_signal(&kq_cv);
	pthread_mutex_unlock(&kq_mtx);
}

/* The thread takes no signals: the loop's handlers run on the loop. */
static int
kq_start(struct ev_loop *loop)
{
	sigset_t	all, old;
	int		e;

	kq_stop = 0;
	kq_nbatch = 0;
	ev_async_init(&kq_async, kq_async_cb);
	ev_async_start(loop, &kq_async);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&kq_thread, NULL, kq_wait_thread,
	    (void *)(intptr_t)kq_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		ev_async_stop(loop, &kq_async);
		errno = e;
		return (-1);
	}
	return (0);
}

/* Closing the kqueue wakes the thread out of kevent() (libkqueue). */
static void
kq_finish(void)
{
	pthread_mutex_lock(&kq_mtx);
	kq_stop = 1;
	pthread_cond_signal(&kq_cv);
	pthread_mutex_unlock(&kq_mtx);
	close(kq_fd);
	kq_fd = -1;
	pthread_join(kq_thread, NULL);
	ev_async_stop(kq_loop, &kq_async);
}
#else
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
kq_start(struct ev_loop *loop)
{
	ev_io_init(&kq_io, kq_read_cb, kq_fd, EV_READ);
	ev_io_start(loop, &kq_io);
	return (0);
}

static void
kq_finish(void)
{
	ev_io_stop(kq_loop, &kq_io);
	close(kq_fd);
	kq_fd = -1;
}
#endif

/*
 * Watches cost descriptors: raise the soft limit to the hard one (macOS
 * refuses more than OPEN_MAX) and keep a reserve for everything else.
 */
static void
kq_limits(void)
{
	struct rlimit	 rl;
	rlim_t		 want;

	kq_max = watch_max_env();
	kq_fdmax = LONG_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = rl.rlim_max;
#if defined(__APPLE__) && defined(OPEN_MAX)
	if (want == RLIM_INFINITY || want > (rlim_t)OPEN_MAX)
		want = OPEN_MAX;
#endif
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)LONG_MAX)
		kq_fdmax = (long)rl.rlim_cur - KQ_FD_RESERVE;
}

static int
kq_init(struct ev_loop *loop)
{
	int	e;

	if ((kq_fds = hash_new()) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if ((kq_fd = kqueue()) == -1) {
		hash_free(kq_fds);
		kq_fds = NULL;
		return (-1);
	}
	fcntl(kq_fd, F_SETFD, FD_CLOEXEC);
	kq_limits();
	kq_loop = loop;
	if (kq_start(loop) == -1) {
		e = errno;
		close(kq_fd);
		kq_fd = -1;
		hash_free(kq_fds);
		kq_fds = NULL;
		errno = e;
		return (-1);
	}
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
	kq_count = 0;
	while ((pw = TAILQ_FIRST(&kq_pids)) != NULL) {
		TAILQ_REMOVE(&kq_pids, pw, entry);
		free(pw);
	}
	if (kq_fd != -1)
		kq_finish();
	hash_free(kq_fds);
	kq_fds = NULL;
}

/* A new watch of dir within the limits, no descriptor yet; NULL, errno. */
static struct watch *
kq_new(const char *dir, void *arg)
{
	struct watch	*w;

	if (kq_max != -1 && kq_count >= kq_max) {
		errno = ENOSPC;
		return (NULL);
	}
	if ((kq_count + 1) * KQ_WATCH_FDS > kq_fdmax) {
		errno = EMFILE;
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		errno = ENOMEM;
		return (NULL);
	}
	w->arg = arg;
	w->dirfd = w->dbfd = w->walfd = -1;
	return (w);
}

/* w made (e 0), or given up (errno e). */
static struct watch *
kq_made(struct watch *w, int e)
{
	if (e != 0) {
		kq_free(w);
		errno = e;
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&kq_watches, w, entry);
	kq_count++;
	return (w);
}

/* Opens on the loop: for $STEROIDS_HOME (a project's: kq_add_fds). */
static struct watch *
kq_add(const char *dir, void *arg)
{
	struct watch	*w;
	int		 news;

	if ((w = kq_new(dir, arg)) == NULL)
		return (NULL);
	if ((w->dirfd = open(dir, KQ_OPEN_FLAGS | O_DIRECTORY)) == -1 ||
	    kq_vnode(w->dirfd, KQ_DIR_NOTES) == -1 ||
	    kq_index(w, &w->dirfd) == -1 || kq_refresh(w, &news) == -1)
		return (kq_made(w, errno));
	return (kq_made(w, 0));
}

static void
kq_del(struct watch *w)
{
	TAILQ_REMOVE(&kq_watches, w, entry);
	kq_free(w);
	kq_count--;
}

/*
 * In a check worker, off the loop (a hung mount holds the worker, not the
 * agent): open what mask asks of dir's, as kq_add and kq_refresh would.
 * *news as kq_refresh's, a WATCH_F_* bit a file: a DB, or a -wal that
 * has frames already.
 */
static int
kq_worker_open(const char *dir, int mask, int fds[3], int *news)
{
	static const char *const names[3] = { NULL, WATCH_DB, WATCH_WAL };
	char		path[PATH_MAX];
	struct stat	sb;
	int		i, e;

	fds[0] = fds[1] = fds[2] = -1;
	*news = 0;
	if ((mask & WATCH_F_DIR) && (fds[0] = open(dir, KQ_OPEN_FLAGS |
	    O_DIRECTORY | O_NONBLOCK)) == -1)
		return (-1);
	for (i = 1; i < 3; i++) {
		if (!(mask & (1 << i)))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		/* By the descriptor of the directory judged, if we have it. */
		fds[i] = fds[0] != -1 ? openat(fds[0], names[i], KQ_OPEN_FLAGS |
		    O_NOFOLLOW | O_NONBLOCK) : open(path, KQ_OPEN_FLAGS |
		    O_NOFOLLOW | O_NONBLOCK);
		if (fds[i] == -1) {
			if (errno != ENOENT)
				goto fail;
			continue;
		}
		if (i == 1 || fstat(fds[i], &sb) == -1 || sb.st_size > 0)
			*news |= 1 << i;
	}
	return (0);
fail:
	e = errno;
	for (i = 0; i < 3; i++)
		if (fds[i] != -1) {
			close(fds[i]);
			fds[i] = -1;
		}
	errno = e;
	return (-1);
}

/* Watch a worker's descriptor of one file; -1: given up (closed). */
static int
kq_take(struct watch *w, int *slot, int fd, unsigned int notes)
{
	int	e;

	*slot = fd;
	if (kq_vnode(fd, notes) == -1) {
		e = errno;
		close(fd);
		*slot = -1;
		errno = e;
		return (-1);
	}
	return (kq_index(w, slot));
}

/*
 * Watch a worker's descriptor of the DB or -wal (i 1 or 2) in w; 0, or
 * -1 with errno when w must be given up.  ENOENT is the file unlinked
 * since (libkqueue reads the path back): no file, as if not opened.
 */
static int
kq_take_file(struct watch *w, int i, int fd, const struct watch_fid *id)
{
	int	*slot = i == 1 ? &w->dbfd : &w->walfd;

	if (kq_take(w, slot, fd, KQ_FILE_NOTES) == -1)
		return (errno == ENOENT ? 0 : -1);
	w->id[i] = *id;
	return (0);
}

/* The loop's side of kq_worker_open: kevent() only, no path. */
static struct watch *
kq_add_fds(const char *dir, int fds[3], const struct watch_fid ids[3],
    void *arg)
{
	struct watch	*w;
	int		 i, e = 0;

	if (fds[0] == -1 || (w = kq_new(dir, arg)) == NULL) {
		e = fds[0] == -1 ? EINVAL : errno;
		for (i = 0; i < 3; i++)
			if (fds[i] != -1)
				close(fds[i]);
		errno = e;
		return (NULL);
	}
	w->offloop = 1;
	/* Each fd, given to kq_take, is in w then or closed; or closed here. */
	if (kq_take(w, &w->dirfd, fds[0], KQ_DIR_NOTES) == -1)
		e = errno;
	for (i = 1; i < 3; i++) {
		if (fds[i] == -1)
			continue;
		if (e != 0)
			close(fds[i]);
		else if (kq_take_file(w, i, fds[i], &ids[i]) == -1)
			e = errno;
	}
	if (kq_made(w, e) == NULL)
		return (NULL);
	/* A file made between the worker's look and the directory's knote
	 * raised nothing here: ask again, with the knote in place. */
	if (w->dbfd == -1 || w->walfd == -1)
		agent_reopen(arg, WATCH_F_DB | WATCH_F_WAL);
	return (w);
}

/*
 * agent_reopen's answer: what w lacks of fds, or has at its path as
 * another file now (a -wal deleted and made anew); the rest closed.  The
 * worker read the -wal's size before its knote was here, so a -wal it
 * found empty (a reader made it) may have had frames written since: one
 * more reopen reads its size again, with the knote in place.
 */
static void
kq_refresh_fds(struct watch *w, int fds[3], const struct watch_fid ids[3],
    int news)
{
	int	i, *slot, failed = 0, took = 0;

	if (fds[0] != -1)
		close(fds[0]);
	for (i = 1; i < 3; i++) {
		if (fds[i] == -1)
			continue;
		slot = i == 1 ? &w->dbfd : &w->walfd;
		if (failed || (*slot != -1 && w->id[i].dev == ids[i].dev &&
		    w->id[i].ino == ids[i].ino)) {
			close(fds[i]);
			continue;
		}
		kq_close(slot);		/* none, or a file gone from its name */
		if (kq_take_file(w, i, fds[i], &ids[i]) == -1)
			failed = 1;
		else if (*slot != -1)
			took |= 1 << i;
	}
	if (failed) {
		log_warn("%s: kqueue cannot watch its reopened files", w->dir);
		agent_gone(w->arg);		/* the agent calls del */
		return;
	}
	if (took & news)
		agent_changed(w->arg);
	else if (took & WATCH_F_WAL)
		agent_reopen(w->arg, WATCH_F_WAL);
}

#ifdef LIBKQUEUE
/*
 * libkqueue reads the exit with waitid(), which fails for a PID that is
 * not our child, and drops the event: the exit would never come.  The
 * agent polls the PID instead.
 */
static struct pidwatch *
kq_pid_add(pid_t pid, void *arg)
{
	(void)pid;
	(void)arg;
	errno = ENOTSUP;
	return (NULL);
}
#else
static struct pidwatch *
kq_pid_add(pid_t pid, void *arg)
{
	struct pidwatch	*pw;
	struct kevent	 kev;

	EV_SET(&kev, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, 0);
	if (kevent(kq_fd, &kev, 1, NULL, 0, NULL) == -1)
		return (NULL);		/* ESRCH: already gone */
	if ((pw = calloc(1, sizeof(*pw))) == NULL) {
		EV_SET(&kev, pid, EVFILT_PROC, EV_DELETE, 0, 0, 0);
		(void)kevent(kq_fd, &kev, 1, NULL, 0, NULL);
		errno = ENOMEM;
		return (NULL);
	}
	pw->pid = pid;
	pw->arg = arg;
	TAILQ_INSERT_TAIL(&kq_pids, pw, entry);
	return (pw);
}
#endif

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
	kq_pid_del,
	NULL,		/* a kqueue is not inherited: no worker_fd */
	NULL,
	NULL,
	kq_worker_open,
	kq_add_fds,
	kq_refresh_fds
};
