/*
 * check.c -- the check stage: everything the agent learns from a
 * project's own files (a stat of .steroids, the runner lock, SQLite
 * reads, its config, opening its folder and runner log for a start) is
 * asked of a worker process over a socket, one request at a time, with a
 * deadline, so that no project -- a hung mount, a FIFO, a locked DB --
 * can stop the event loop.  The loop touches $STEROIDS_HOME, its own fds
 * and pids only.
 *
 * One worker, the primary, takes the requests in order (urgent ones --
 * events, exits -- before bulk ones: rescans, revalidation) and keeps the
 * re-check ladders' DB connections.  A request that takes longer than
 * CHECK_SLOW while others wait demotes it: a new primary goes on with the
 * queue, the old one finishes (or not) its one request alone and exits.
 * A request of a project that has not answered a check yet (its first,
 * or it is hung: CK_QUICK) demotes after CHECK_SLOW_QUICK.
 * A request unanswered after CHECK_TIMEOUT gets its worker killed and
 * its caller an answer with timeout set: the project is hung
 * (watch.c).  A start's folder and log are opened here and passed back
 * (SCM_RIGHTS), so the spawn on the loop (start.c) does fchdir only.
 *
 * A worker killed at its deadline may stay in the kernel until its file
 * system answers (a hung FUSE or NFS mount): it counts apart from
 * WORKERS_MAX, and its path is not asked again until it is reaped
 * (check_stuck), so a dead mount holds one process a project.
 *
 * The worker that stats a .steroids also makes its watch: with inotify
 * in the agent's instance (fd 4, shared), with kqueue by opening the
 * directory, DB and -wal and passing them back, and a -wal made anew
 * later is opened by a worker too (OP_REOPEN); so no path is looked up
 * on the loop.  The periodic sweep (lib/sweep.c) judges runners by the
 * lock as its probe child saw it and starts nothing itself.
 */
#include "config.h"

#include <sys/socket.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CHECK_SLOW	0.3	/* s: past this, others waiting go elsewhere */
#define CHECK_SLOW_QUICK 0.05	/* s: the same for a request of a project
				   not known to answer (CK_QUICK), which a
				   healthy project answers well within */
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC	0	/* the fds get FD_CLOEXEC below */
#endif
#define CHECK_FDS	3	/* at most, with an answer: dir, DB, -wal */
#define WORKERS_MAX	32	/* at work at once (killed ones not counted):
				   20 hung projects at the start, demoted
				   after 0.05 s each, use 20 till 2 s */
#define RETRY_DELAY	0.1	/* s: after a fork or a send failed */
#define SEND_TRIES	3	/* to new workers, before the caller is told */

/* A request as sent; the path follows. */
struct wire_req {
	int	op;
	int	flags;
	int	tries;
	size_t	len;
};

struct creq {
	TAILQ_ENTRY(creq)	 entry;
	struct wire_req		 w;
	int			 prio;
	int			 failed;	/* sends that failed */
	char			*path;
	check_cb		*cb;
	void			*arg;
};
TAILQ_HEAD(creqs, creq);

struct worker {
	TAILQ_ENTRY(worker)	 entry;
	pid_t			 pid;		/* -1 once reaped */
	int			 fd;		/* -1 once done with */
	char			*stuck;		/* killed on this path, not reaped */
	ev_io			 io;
	ev_timer		 timer;
	struct creq		*req;		/* in flight, or NULL */
	ev_tstamp		 sent;
	unsigned		 gen;		/* of the primary it was */
	struct check_answer	 ans;		/* read so far */
	size_t			 got;
	int			 fds[CHECK_FDS];
	int			 nfds;
};
TAILQ_HEAD(workers, worker);

static struct creqs	 urgent = TAILQ_HEAD_INITIALIZER(urgent);
static struct creqs	 bulk = TAILQ_HEAD_INITIALIZER(bulk);
static struct creqs	 undelivered = TAILQ_HEAD_INITIALIZER(undelivered);
static size_t		 nbulk;
static struct workers	 workers = TAILQ_HEAD_INITIALIZER(workers);
static size_t		 nworkers;	/* on the list and not killed */
static ev_timer		 retry_timer;
static struct worker	*primary;
static unsigned		 primary_gen;
static int		 workers_logged;

double			 check_timeout = CHECK_TIMEOUT;

static void	dispatch(void);
static void	retry_later(double);
static void	queue_head(struct creq *);

/* ---- the worker process ---- */

/*
 * A ladder's connection, with what it was opened on: the DB, -wal and
 * -shm (dev, ino; 0 where missing), and a descriptor on the -shm and the
 * DB for the writer probe, closed only after the connection is.
 */
#define KEPT_FILES	3
struct kept {
	char	*path;
	st_pdb	*pdb;
	dev_t	 dev[KEPT_FILES];
	ino_t	 ino[KEPT_FILES];
	int	 shmfd;
	int	 dbfd;
	int	 spare;		/* its ladder is over (OP_RELEASE) */
	double	 since;		/* a spare since (monotonic s) */
};
static struct kept	kept[PDB_KEEP_MAX];
static double		spare_ttl = SPARE_TTL;
static int		watch_fd = -1;	/* the backend's, in a worker */

static void	kept_drop(struct kept *);

static double
mono_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Close the spares past their time; ms until the next one is due, or -1. */
static int
spares_expire(void)
{
	double	now = mono_now(), left, next = -1;
	size_t	i;

	for (i = 0; i < PDB_KEEP_MAX; i++) {
		if (kept[i].path == NULL || !kept[i].spare)
			continue;
		if ((left = kept[i].since + spare_ttl - now) <= 0)
			kept_drop(&kept[i]);
		else if (next < 0 || left < next)
			next = left;
	}
	return (next < 0 ? -1 : (int)(next * 1000) + 1);
}

static struct kept *
kept_find(const char *path)
{
	size_t	i;

	for (i = 0; i < PDB_KEEP_MAX; i++)
		if (kept[i].path != NULL && strcmp(kept[i].path, path) == 0)
			return (&kept[i]);
	return (NULL);
}

static void
kept_drop(struct kept *k)
{
	if (k == NULL)
		return;
	/* SQLite first: closing our descriptors would drop its locks. */
	st_pdb_close(k->pdb);
	if (k->shmfd != -1)
		close(k->shmfd);
	if (k->dbfd != -1)
		close(k->dbfd);
	free(k->path);
	k->path = NULL;
	k->pdb = NULL;
	k->shmfd = k->dbfd = -1;
	k->spare = 0;
}

/* No slot free: the spare longest unread makes room (before an open). */
static void
spare_evict(void)
{
	struct kept	*old = NULL;
	size_t		 i;

	for (i = 0; i < PDB_KEEP_MAX; i++) {
		if (kept[i].path == NULL)
			return;
		if (kept[i].spare && (old == NULL || kept[i].since < old->since))
			old = &kept[i];
	}
	if (old != NULL)
		kept_drop(old);
}

/* Past SPARE_MAX spares, the one longest unread goes (~100 KiB each). */
static void
spares_trim(void)
{
	struct kept	*old;
	size_t		 i, n;

	for (;;) {
		old = NULL;
		for (i = n = 0; i < PDB_KEEP_MAX; i++) {
			if (kept[i].path == NULL || !kept[i].spare)
				continue;
			n++;
			if (old == NULL || kept[i].since < old->since)
				old = &kept[i];
		}
		if (n <= SPARE_MAX)
			return;
		kept_drop(old);
	}
}

/* lstat the DB, -wal and -shm of path: -1 if the name is too long. */
static int
files_id(const char *path, dev_t dev[KEPT_FILES], ino_t ino[KEPT_FILES])
{
	static const char	*const sfx[KEPT_FILES] = { "", "-wal", "-shm" };
	char			 f[PATH_MAX];
	struct stat		 sb;
	int			 i;

	for (i = 0; i < KEPT_FILES; i++) {
		if (snprintf(f, sizeof(f), "%s/" ST_PROJECT_DIR "/"
		    ST_PROJECT_DB "%s", path, sfx[i]) >= (int)sizeof(f))
			return (-1);
		dev[i] = 0;
		ino[i] = 0;
		if (lstat(f, &sb) == 0) {
			dev[i] = sb.st_dev;
			ino[i] = sb.st_ino;
		}
	}
	return (0);
}

/*
 * Is k still on the files at its path?  A file event asks: a DB (or its
 * -wal or -shm) replaced on disk is read anew on a fresh connection,
 * one merely written goes on being read on the kept one.
 */
static int
kept_same(const struct kept *k)
{
	dev_t	dev[KEPT_FILES];
	ino_t	ino[KEPT_FILES];

	return (files_id(k->path, dev, ino) == 0 &&
	    memcmp(dev, k->dev, sizeof(dev)) == 0 &&
	    memcmp(ino, k->ino, sizeof(ino)) == 0);
}

/* Open fd on path's file sfx, -1 unless it is (dev, ino). */
static int
open_same(const char *path, const char *sfx, dev_t dev, ino_t ino)
{
	char		f[PATH_MAX];
	struct stat	sb;
	int		fd;

	if (ino == 0 || snprintf(f, sizeof(f), "%s/" ST_PROJECT_DIR "/"
	    ST_PROJECT_DB "%s", path, sfx) >= (int)sizeof(f))
		return (-1);
	if ((fd = open(f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &sb) == -1 || sb.st_dev != dev || sb.st_ino != ino) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Keep pdb, opened on path with the files before[] said were there, if
 * they are the same now and a slot is free; else NULL, and pdb is still
 * the caller's, with *left a descriptor opened here (or -1) that the
 * caller closes only after pdb: closing it first would drop the POSIX
 * locks SQLite holds on that file through its own.
 */
static struct kept *
kept_add(const char *path, st_pdb *pdb, const dev_t bdev[KEPT_FILES],
    const ino_t bino[KEPT_FILES], int *left)
{
	struct kept	*k;
	size_t		 i;
	int		 j;

	*left = -1;
	for (i = 0; i < PDB_KEEP_MAX && kept[i].path != NULL; i++)
		;
	if (i == PDB_KEEP_MAX)
		return (NULL);
	k = &kept[i];
	if (files_id(path, k->dev, k->ino) == -1)
		return (NULL);
	/*
	 * Changed under the open: not known which file it read.  A -wal or
	 * -shm that was not there before is the one the open made.
	 */
	for (j = 0; j < KEPT_FILES; j++)
		if ((j == 0 || bino[j] != 0) && (bdev[j] != k->dev[j] ||
		    bino[j] != k->ino[j]))
			return (NULL);
	if ((k->path = strdup(path)) == NULL)
		return (NULL);
	k->dbfd = -1;
	k->shmfd = open_same(path, "-shm", k->dev[2], k->ino[2]);
	if ((k->ino[2] != 0 && k->shmfd == -1) ||
	    (k->dbfd = open_same(path, "", k->dev[0], k->ino[0])) == -1) {
		*left = k->shmfd;
		k->shmfd = -1;
		free(k->path);
		k->path = NULL;
		return (NULL);
	}
	k->pdb = pdb;
	k->spare = 0;
	return (k);
}

/*
 * Work (the library's definition: open tasks outside skipped sections,
 * st_pdb_work), asked only when a task is open at all, and the mark:
 * the tasks in a final status.
 */
static int
count_work(st_pdb *pdb, long *work, long *mark, struct st_error *err)
{
	long	counts[ST_TASK_NSTATUS], open = 0;
	int	i;

	if (st_task_counts(pdb, counts, NULL, err) == -1)
		return (-1);
	*mark = 0;
	for (i = 0; i < ST_TASK_NSTATUS; i++) {
		if (i < 3)	/* pending, in_progress, review */
			open += counts[i];
		else
			*mark += counts[i];
	}
	*work = 0;
	if (open > 0 && st_pdb_work(pdb, work, err) == -1)
		return (-1);
	return (0);
}

/*
 * For a start: the folder passes the checks, its config loads; open both.
 * The folder is opened first and must be, after the checks, what is at
 * its path, so the fd handed to the spawn is the folder that was judged.
 */
static void
prepare_start(const char *path, struct check_answer *a, int fds[CHECK_FDS])
{
	struct st_error	 err;
	struct stat	 fsb, psb;
	st_config	*cfg;
	int		 dfd;

	a->startable = -1;
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(a->msg, sizeof(a->msg), "cannot open the folder: %s",
		    strerror(errno));
		return;
	}
	if (st_path_check_project(path, &err) == -1) {
		strlcpy(a->msg, err.code == ST_EPERM ? "unsafe: " : "",
		    sizeof(a->msg));
		strlcat(a->msg, err.msg, sizeof(a->msg));
		close(dfd);
		return;
	}
	if (fstat(dfd, &fsb) == -1 || stat(path, &psb) == -1 ||
	    fsb.st_dev != psb.st_dev || fsb.st_ino != psb.st_ino) {
		strlcpy(a->msg, "the folder changed while it was checked",
		    sizeof(a->msg));
		close(dfd);
		return;
	}
	if (st_config_load(path, &cfg, &err) == -1) {
		strlcpy(a->msg, err.msg, sizeof(a->msg));
		close(dfd);
		return;
	}
	st_config_free(cfg);
	if (st_runner_log_open(path, ST_RUNNER_LOG_MAX, &fds[1], &err) == -1) {
		strlcpy(a->msg, err.msg, sizeof(a->msg));
		close(dfd);
		return;
	}
	fds[0] = dfd;
	a->startable = 1;
}

/*
 * Wait for a writer mid-commit: no writer holding its write lock (1), or
 * a commit published since the count before (2: mark; a writer in a
 * burst lets its lock go at each COMMIT and takes it again microseconds
 * later, which the lock probe all but never sees), probed at once and
 * then every 20 us on the descriptors kept beside the connection (k):
 * at once, as the commit may have come during the count or the start's
 * preparation before (0.1-0.3 ms when the event came late); back for a
 * count all the same after 100 us (0: a writer the probes cannot see, on
 * another host), by the clock, not by a number of probes: a 20 us sleep
 * took 50-60 us on the bench's VM, five of them 300 us.  Past end by a
 * sleep at most.  After 1, every commit whose event came before is
 * visible to the next read; after 2, one more is.
 */
static int
writer_wait(const struct kept *k, unsigned char mark[ST_PDB_MARK_LEN],
    double end)
{
	struct timespec	tick = { 0, FAST_PROBE * 1000 };
	double		now, next;

	if (k == NULL) {
		tick.tv_nsec = FAST_TICK * 1000;
		nanosleep(&tick, NULL);
		return (0);
	}
	next = mono_now() + FAST_TICK / 1e6;
	for (;;) {
		if (st_pdb_writer_idle_fd(k->shmfd, k->dbfd) == 1)
			return (1);
		if (st_pdb_commit_since(k->shmfd, mark) == 1)
			return (2);
		if ((now = mono_now()) >= next || now >= end)
			return (0);
		nanosleep(&tick, NULL);
	}
}

/*
 * The counts, looking again while there is no work for tries x 100 us at
 * most, on the same connection (a new read transaction each time): right
 * after an event the commit that caused it is mostly visible within ~1 ms
 * (SPEC 8, "Trap"), and the loop's timers cannot wait less than 1 ms.
 * The event comes before the commit is visible, ~1-2 ms before with a
 * writer that syncs; a start (*prepared not NULL) is got ready in that
 * time (prepare_start), so that the commit seen is a spawn at once (a
 * commit with no work leaves a runner log made or rotated, no more).
 * Not ST_PDB_SHMRO: a readonly_shm reader alone re-reads the whole WAL at
 * each read transaction.
 */
static int
read_counts(const char *path, int keep, int tries, struct check_answer *a,
    int fds[CHECK_FDS], int *prepared, struct st_error *err)
{
	struct kept	*k = kept_find(path);
	st_pdb		*pdb = k != NULL ? k->pdb : NULL;
	dev_t		 dev[KEPT_FILES];
	ino_t		 ino[KEPT_FILES];
	struct st_error	 e;
	unsigned char	 mark[ST_PDB_MARK_LEN] = { 0 };
	double		 end;
	long		 n;
	int		 rc, idle = 0, mine = 0, waited = 0, left = -1;

	if (pdb == NULL && keep && files_id(path, dev, ino) == -1)
		keep = 0;
	if (pdb == NULL && keep)
		spare_evict();
	if (pdb == NULL) {
		if (st_pdb_open(path, ST_PDB_READONLY | ST_PDB_QUICK, &pdb,
		    err) == -1)
			return (-1);
		/* Kept from here: the writer probe below needs its fds. */
		if (!keep || (k = kept_add(path, pdb, dev, ino, &left)) ==
		    NULL)
			mine = 1;
	} else if (keep)
		k->spare = 0;	/* a ladder reads it again */
	end = mono_now() + tries * FAST_TICK / 1e6;
	for (;;) {
		/* Before the count: a commit published after is one it missed. */
		if (k != NULL && tries > 0)
			(void)st_pdb_commit_since(k->shmfd, mark);
		if ((rc = count_work(pdb, &a->work, &a->mark, err)) == -1)
			break;
		if (a->work != 0 || tries <= 0 || idle == 1 ||
		    mono_now() >= end)
			break;
		if (!waited) {
			/* Its statement prepared now, not after the commit. */
			(void)st_pdb_work(pdb, &n, &e);
			waited = 1;
		}
		if (prepared != NULL && !*prepared) {
			prepare_start(path, a, fds);
			*prepared = 1;
		}
		idle = writer_wait(k, mark, end);
	}
	if (rc == -1)
		a->work = a->mark = -1;
	if (mine) {
		st_pdb_close(pdb);
		if (left != -1)
			close(left);
	} else if (rc == -1)
		kept_drop(k);
	return (rc);
}

/* Undo prepare_start: no start after all. */
static void
unprepare(struct check_answer *a, int fds[CHECK_FDS])
{
	int	i;

	for (i = 0; i < CHECK_FDS; i++)
		if (fds[i] != -1) {
			close(fds[i]);
			fds[i] = -1;
		}
	a->startable = 0;
	a->msg[0] = '\0';
}

static void
serve_check(const struct wire_req *rq, const char *path,
    struct check_answer *a, int fds[CHECK_FDS])
{
	struct st_error	err;
	struct kept	*k;
	int		rc, prepared = 0;

	/* A spare was read by nobody since: it is checked too. */
	if ((k = kept_find(path)) != NULL && ((rq->flags & CK_FRESH) ||
	    k->spare) && !kept_same(k))
		kept_drop(k);
	a->held = st_lock_probe(path, &a->holder);
	if (a->held == -1) {
		strlcpy(a->msg, "cannot read the runner lock", sizeof(a->msg));
		return;
	}
	if (rq->flags & CK_HOME) {
		/*
		 * Its DB is the registry, which the agent had open when it
		 * forked us: SQLite's per-process record of that file came
		 * along, with descriptors closefrom() closed, so no connection
		 * here may open it.  It is never started (SPEC 4) anyway.
		 */
		a->code = ST_EPERM;
		strlcpy(a->msg, "its .steroids is $STEROIDS_HOME, the registry",
		    sizeof(a->msg));
		return;
	}
	if (a->held == 1) {
		/* For an adoption: the mark before it makes progress. */
		if (a->holder > 0 &&
		    read_counts(path, 0, 0, a, fds, NULL, &err) == -1)
			a->mark = -1;
		a->work = -1;
		/* Still kept by its ladder: the agent releases it at the end. */
		a->kept = (k = kept_find(path)) != NULL && !k->spare;
		return;
	}
	/*
	 * No writer mid-commit (by path only with no connection of ours
	 * open on the file: closing the descriptor it opens drops every
	 * POSIX lock this process holds there, SQLite's included; with one,
	 * on the descriptors kept beside it; never for $STEROIDS_HOME, the
	 * registry): every commit whose event came before is then visible
	 * to the read below.
	 */
	k = kept_find(path);
	if ((rq->flags & CK_IDLE) && !(rq->flags & CK_HOME))
		a->idle = (k == NULL ? st_pdb_writer_idle(path) :
		    st_pdb_writer_idle_fd(k->shmfd, k->dbfd)) == 1;
	rc = read_counts(path, (rq->flags & CK_KEEP) != 0, a->idle == 1 ? 0 :
	    rq->tries, a, fds, (rq->flags & CK_START) ? &prepared : NULL, &err);
	if (prepared && (rc == -1 || a->work <= 0))
		unprepare(a, fds);	/* got ready for a commit with no work */
	if (rc == -1) {
		a->code = err.code == 0 ? ST_EGENERAL : err.code;
		strlcpy(a->msg, err.msg, sizeof(a->msg));
		return;
	}
	a->kept = (k = kept_find(path)) != NULL && !k->spare;
	if (a->work > 0 && (rq->flags & CK_START) && !prepared)
		prepare_start(path, a, fds);
}

/* What each fd a worker opened for a watch is (fstat: off the loop). */
static void
watch_ids(const int fds[CHECK_FDS], struct check_answer *a)
{
	struct stat	sb;
	int		i;

	for (i = 0; i < CHECK_FDS; i++)
		if (fds[i] != -1 && fstat(fds[i], &sb) == 0) {
			a->wid[i].dev = sb.st_dev;
			a->wid[i].ino = sb.st_ino;
		}
}

/*
 * A watch's files for the loop (kqueue), opened here; 0, or -1 and errno.
 * Never a second descriptor of a DB this worker keeps a connection to:
 * closing it after the send would drop SQLite's POSIX locks on the file
 * (they are the process's, not the descriptor's).  The connection's own
 * descriptor, kept beside it, is lent instead (lent_fd: not closed).
 */
static int	lent_fd = -1;

static int
watch_open(const char *path, const char *dir, int mask,
    int fds[CHECK_FDS], struct check_answer *a)
{
	struct kept	*k = kept_find(path);
	int		 m = mask;

	if ((mask & WATCH_F_DB) && k != NULL && k->dbfd != -1 && kept_same(k))
		m &= ~WATCH_F_DB;
	if (agent.native->worker_open(dir, m, fds, &a->wnews) == -1)
		return (-1);
	if (m != mask) {
		fds[1] = lent_fd = k->dbfd;
		a->wnews |= WATCH_F_DB;
	}
	watch_ids(fds, a);
	return (0);
}

static void
serve_stat(const struct wire_req *rq, const char *path,
    struct check_answer *a, int fds[CHECK_FDS])
{
	char		dir[PATH_MAX + 16];
	struct stat	sb;

	snprintf(dir, sizeof(dir), "%s/" ST_PROJECT_DIR, path);
	if (stat(dir, &sb) == -1) {
		a->code = errno == ENOENT || errno == ENOTDIR ? ST_ENOTFOUND :
		    ST_EGENERAL;
		snprintf(a->msg, sizeof(a->msg), ST_PROJECT_DIR ": %s",
		    strerror(errno));
		return;
	}
	a->isdir = S_ISDIR(sb.st_mode);
	a->dev = sb.st_dev;
	a->ino = sb.st_ino;
	if (!(rq->flags & CK_WATCH) || !a->isdir)
		return;
	if (agent.native->worker_open != NULL) {
		/* The watch's files, opened here for the loop (kqueue). */
		if (watch_open(path, dir, WATCH_F_ALL, fds, a) == -1) {
			a->watched = -1;
			a->werr = errno;
		} else
			a->watched = 3;
	} else if (watch_fd == -1)
		a->watched = 2;		/* none here: the loop adds it */
	else if ((a->token = agent.native->worker_add(watch_fd, dir)) == -1) {
		a->watched = -1;
		a->werr = errno;
	} else
		a->watched = 1;
}

/* The files a watch of serve_stat's lacks now, or has anew at its path. */
static void
serve_reopen(const struct wire_req *rq, const char *path,
    struct check_answer *a, int fds[CHECK_FDS])
{
	char	dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/" ST_PROJECT_DIR, path);
	if (agent.native->worker_open == NULL || watch_open(path, dir,
	    rq->flags & (WATCH_F_DB | WATCH_F_WAL), fds, a) == -1) {
		a->code = ST_EGENERAL;
		snprintf(a->msg, sizeof(a->msg), "cannot reopen its files: %s",
		    strerror(errno));
	}
}

static int
read_full(int fd, void *buf, size_t len)
{
	size_t	off;
	ssize_t	n;

	for (off = 0; off < len; off += (size_t)n) {
		n = read(fd, (char *)buf + off, len - off);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			return (-1);
	}
	return (0);
}

/* a, with the fds that are not -1 (a->fdmask says which they are). */
static int
send_answer(int fd, struct check_answer *a, const int fds[CHECK_FDS])
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(CHECK_FDS * sizeof(int))];
	}		 cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	ssize_t		 n;
	int		 i, v[CHECK_FDS], nv = 0;

	a->fdmask = 0;
	for (i = 0; i < CHECK_FDS; i++)
		if (fds[i] != -1) {
			a->fdmask |= 1 << i;
			v[nv++] = fds[i];
		}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)a;
	iov.iov_len = sizeof(*a);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nv > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nv * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nv * sizeof(int));
		memcpy(CMSG_DATA(c), v, nv * sizeof(int));
	}
	while ((n = sendmsg(fd, &mh, 0)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return (-1);
	/* The rest (a stream socket may take part of it), without the fds. */
	return (n == (ssize_t)sizeof(*a) ? 0 : -1);
}

/* The worker: fd 3 is its socket; 4 the watch backend's, if it has one. */
static void __attribute__((noreturn))
worker_main(void)
{
	static const int	 sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP,
				    SIGCHLD, SIGALRM };
	struct check_answer	 a;
	struct wire_req		 rq;
	struct kept		*k;
	char			 path[PATH_MAX];
	int			 fds[CHECK_FDS];
	size_t			 i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
#if defined(HAVE_SYS_PRCTL_H) && defined(PR_SET_TIMERSLACK)
	/* Its waits are 20 us (writer_wait): Linux's 50 us slack doubled them. */
	(void)prctl(PR_SET_TIMERSLACK, 1000UL);
#endif
	for (;;) {
		struct pollfd	pfd = { 3, POLLIN, 0 };
		int		ms;

		/* Asleep with no spare; else up to the next one's end. */
		while ((ms = spares_expire()) != -1 && poll(&pfd, 1, ms) == 0)
			;
		if (read_full(3, &rq, sizeof(rq)) == -1 || rq.len == 0 ||
		    rq.len >= sizeof(path) || read_full(3, path, rq.len) == -1)
			_exit(0);	/* the agent is done with us */
		path[rq.len] = '\0';
		memset(&a, 0, sizeof(a));
		a.held = -1;
		a.idle = -1;
		a.work = a.mark = -1;
		for (i = 0; i < CHECK_FDS; i++)
			fds[i] = -1;
		switch (rq.op) {
		case OP_CHECK:
			serve_check(&rq, path, &a, fds);
			break;
		case OP_STAT:
			serve_stat(&rq, path, &a, fds);
			break;
		case OP_REOPEN:
			serve_reopen(&rq, path, &a, fds);
			break;
		case OP_RELEASE:
			/* Kept a while for the project's next reaction. */
			if ((k = kept_find(path)) != NULL && spare_ttl <= 0)
				kept_drop(k);
			else if (k != NULL && !k->spare) {
				k->spare = 1;
				k->since = mono_now();
				spares_trim();
			}
			break;
		case OP_FORGET:
			for (i = 0; i < PDB_KEEP_MAX; i++)
				if (kept[i].path != NULL && ((rq.flags &
				    CK_ALL) || strcmp(kept[i].path, path) == 0))
					kept_drop(&kept[i]);
			break;
		case OP_FILES:
			watch_files_read(path, &a.files);
			break;
		}
		if (send_answer(3, &a, fds) == -1)
			_exit(1);
		for (i = 0; i < CHECK_FDS; i++)
			if (fds[i] != -1 && fds[i] != lent_fd)
				close(fds[i]);
		lent_fd = -1;
	}
}

/*
 * The worker's fds: 3 its socket, 4 (watch_fd) the watch backend's own
 * where it adds watches off the loop; nothing else of the agent's.
 */
static int
worker_fds(int sock)
{
	int	wfd = -1, s;

	if (agent.native->worker_fd != NULL)
		wfd = agent.native->worker_fd();
	if (wfd == -1) {
		watch_fd = -1;
		return (st_child_fds(-1, -1, -1, sock));
	}
	/* Above 4 first, so neither dup2 below closes the other. */
	if ((s = fcntl(sock, F_DUPFD, 5)) == -1 ||
	    (wfd = fcntl(wfd, F_DUPFD, 5)) == -1 ||
	    dup2(s, 3) == -1 || dup2(wfd, 4) == -1)
		return (-1);
	closefrom(5);
	watch_fd = 4;
	return (0);
}

/* ---- the loop's side ---- */

static void
worker_io_cb(struct ev_loop *, ev_io *, int);
static void	take_fds(struct worker *, struct check_answer *);
static void
worker_timer_cb(struct ev_loop *, ev_timer *, int);
static void
worker_close(struct worker *);

static struct worker *
worker_new(void)
{
	struct worker	*w;
	pid_t		 pid, parent = getpid();
	int		 sv[2];

	if (nworkers >= WORKERS_MAX) {
		if (!workers_logged)
			log_warnx("%d check workers busy; checks wait",
			    WORKERS_MAX);
		workers_logged = 1;
		return (NULL);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		log_warn("socketpair");
		return (NULL);
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		return (NULL);
	}
	if (pid == 0) {
		/*
		 * An agent killed takes its workers along; where it cannot,
		 * read() sees EOF when the agent is gone.
		 */
		if (st_die_with_parent(parent) == -1)
			_exit(1);
		if (worker_fds(sv[1]) == -1)
			_exit(1);
		worker_main();
	}
	close(sv[1]);
	(void)fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatalx("out of memory");
	w->pid = pid;
	w->fd = sv[0];
	ev_io_init(&w->io, worker_io_cb, w->fd, EV_READ);
	w->io.data = w;
	ev_timer_init(&w->timer, worker_timer_cb, 0., 0.);
	w->timer.data = w;
	TAILQ_INSERT_TAIL(&workers, w, entry);
	nworkers++;
	workers_logged = 0;
	return (w);
}

static void
worker_free(struct worker *w)
{
	TAILQ_REMOVE(&workers, w, entry);
	if (w->stuck == NULL)
		nworkers--;
	free(w->stuck);
	free(w);
}

/*
 * Killed: a worker in an uninterruptible wait (a hung FUSE or NFS mount)
 * stays until the file system answers.  It no longer counts against
 * WORKERS_MAX, and its path is not asked again until it is reaped
 * (check_stuck), so a hung project holds one process, not one a retry.
 */
static void
worker_kill(struct worker *w)
{
	if (w->pid != -1 && w->stuck == NULL) {
		kill(w->pid, SIGKILL);
		w->stuck = strdup(w->req != NULL ? w->req->path : "");
		if (w->stuck == NULL)
			fatalx("out of memory");
		nworkers--;
	}
	w->req = NULL;
	worker_close(w);
}

/* Done with w's socket: it exits when it reads EOF (or was killed). */
static void
worker_close(struct worker *w)
{
	int	i;

	if (primary == w)
		primary = NULL;
	ev_io_stop(agent.loop, &w->io);
	ev_timer_stop(agent.loop, &w->timer);
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	for (i = 0; i < w->nfds; i++)
		close(w->fds[i]);
	w->nfds = 0;
	if (w->pid == -1)
		worker_free(w);
}

static void
req_free(struct creq *r)
{
	free(r->path);
	free(r);
}

/* Hand a's answer to the caller; fds it did not take are closed here. */
static void
deliver(struct creq *r, struct check_answer *a)
{
	int	i;

	r->cb(r->path, a, r->arg);
	if (a->dirfd != -1)
		close(a->dirfd);
	if (a->logfd != -1)
		close(a->logfd);
	for (i = 0; i < CHECK_FDS; i++)
		if (a->wfd[i] != -1)
			close(a->wfd[i]);
	req_free(r);
}

/* The answer to a request no worker answered (why: CK_TIMEOUT, ...). */
static void
no_answer(struct check_answer *a, int why)
{
	memset(a, 0, sizeof(*a));
	a->timeout = why;
	a->held = a->idle = -1;
	a->work = a->mark = -1;
	a->dirfd = a->logfd = -1;
	a->wfd[0] = a->wfd[1] = a->wfd[2] = -1;
}

/* w's request is over without an answer (why: CK_TIMEOUT, CK_DIED, ...). */
static void
worker_fail(struct worker *w, int why)
{
	struct check_answer	 a;
	struct creq		*r = w->req;

	worker_kill(w);
	if (r != NULL) {
		no_answer(&a, why);
		deliver(r, &a);
	}
	dispatch();
}

static void
worker_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(CHECK_FDS * sizeof(int))];
	}			 cm;
	struct worker		*w = io->data;
	struct check_answer	 a;
	struct creq		*r;
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*c;
	ssize_t			 n;
	int			 i, nfd;

	(void)loop;
	(void)revents;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (char *)&w->ans + w->got;
	iov.iov_len = sizeof(w->ans) - w->got;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(w->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	for (c = CMSG_FIRSTHDR(&mh); n > 0 && c != NULL;
	    c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < nfd; i++) {
			int	fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			if (w->nfds < CHECK_FDS)
				w->fds[w->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n <= 0 || w->req == NULL) {
		log_warnx("a check worker (pid %ld) %s", (long)w->pid,
		    n == 0 ? "exited" : "failed");
		worker_fail(w, CK_DIED);
		return;
	}
	w->got += (size_t)n;
	if (w->got < sizeof(w->ans))
		return;
	a = w->ans;
	take_fds(w, &a);
	w->got = 0;
	a.gen = w == primary ? w->gen : 0;
	if (w != primary)
		a.kept = 0;	/* it exits now, and its connections */
	r = w->req;
	w->req = NULL;
	ev_timer_stop(agent.loop, &w->timer);
	if (w != primary)
		worker_close(w);
	deliver(r, &a);
	dispatch();
}

/*
 * The fds that came with a's answer, where fdmask says: a start's folder
 * and log, or a watch's files (what a worker put in a's fields of them
 * are its own numbers).  A start that lacks one is refused.
 */
static void
take_fds(struct worker *w, struct check_answer *a)
{
	int	slot[CHECK_FDS], i, j = 0;

	for (i = 0; i < CHECK_FDS; i++)
		slot[i] = (a->fdmask & (1 << i)) && j < w->nfds ?
		    w->fds[j++] : -1;
	for (; j < w->nfds; j++)
		close(w->fds[j]);
	w->nfds = 0;
	a->dirfd = a->logfd = -1;
	if (a->startable == 1) {
		a->dirfd = slot[0];
		a->logfd = slot[1];
		if (slot[2] != -1)
			close(slot[2]);
		if (a->dirfd == -1 || a->logfd == -1) {
			a->startable = -1;
			strlcpy(a->msg, "its folder and log did not come "
			    "through", sizeof(a->msg));
		}
		for (i = 0; i < CHECK_FDS; i++)
			a->wfd[i] = -1;
		return;
	}
	for (i = 0; i < CHECK_FDS; i++)
		a->wfd[i] = slot[i];
}

/* No other request waits behind a slow one: a new primary takes them. */
static void
demote(struct worker *w)
{
	if (w != primary)
		return;
	log_debug("check of %s slow; another worker goes on", w->req->path);
	primary = NULL;
}

static void
worker_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;
	double		 left;

	(void)revents;
	if (w->req == NULL)
		return;
	left = check_timeout - (ev_now(loop) - w->sent);
	if (left <= 0) {
		worker_fail(w, CK_TIMEOUT);
		return;
	}
	if (w == primary && (!TAILQ_EMPTY(&urgent) || !TAILQ_EMPTY(&bulk))) {
		demote(w);
		dispatch();
	}
	ev_timer_set(t, left, 0.);
	ev_timer_start(loop, t);
}

/* How long a request may keep others waiting before they go elsewhere. */
static double
slow_after(const struct creq *r)
{
	return ((r->w.flags & CK_QUICK) ? CHECK_SLOW_QUICK : CHECK_SLOW);
}

static int
worker_send(struct worker *w, struct creq *r)
{
	char	buf[sizeof(struct wire_req) + PATH_MAX];
	ssize_t	n;

	if (r->w.len >= PATH_MAX)
		return (-1);	/* watch.c never lets one in */
	memcpy(buf, &r->w, sizeof(r->w));
	memcpy(buf + sizeof(r->w), r->path, r->w.len);
	/* One request at a time: the socket's buffer is empty. */
	while ((n = write(w->fd, buf, sizeof(r->w) + r->w.len)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)(sizeof(r->w) + r->w.len))
		return (-1);
	w->req = r;
	w->sent = ev_now(agent.loop);
	w->got = 0;
	ev_io_start(agent.loop, &w->io);
	ev_timer_set(&w->timer, slow_after(r), 0.);
	ev_timer_start(agent.loop, &w->timer);
	return (0);
}

/* Send the next request to the primary (a new one if need be). */
static void
dispatch(void)
{
	struct creq	*r;
	struct creqs	*q;

	while (!TAILQ_EMPTY(&urgent) || !TAILQ_EMPTY(&bulk)) {
		if (primary != NULL && primary->req != NULL) {
			/* Slow already: do not wait for it. */
			if (ev_now(agent.loop) - primary->sent <
			    slow_after(primary->req))
				return;
			demote(primary);
		}
		if (primary == NULL) {
			if ((primary = worker_new()) == NULL) {
				/* One going away, or the timer, brings us back. */
				retry_later(RETRY_DELAY);
				return;
			}
			primary->gen = ++primary_gen;
		}
		q = !TAILQ_EMPTY(&urgent) ? &urgent : &bulk;
		r = TAILQ_FIRST(q);
		TAILQ_REMOVE(q, r, entry);
		if (q == &bulk)
			nbulk--;
		if (worker_send(primary, r) == -1) {
			/*
			 * Its worker died idle: the request goes back first
			 * in line, for a new worker, from the loop (the
			 * caller of check_submit never hears back from in
			 * there); after SEND_TRIES, its caller is told.
			 */
			if (r->failed++ == 0)
				log_warn("cannot ask check worker %ld",
				    (long)primary->pid);
			worker_kill(primary);
			if (r->failed >= SEND_TRIES)
				TAILQ_INSERT_TAIL(&undelivered, r, entry);
			else
				queue_head(r);
			retry_later(r->failed == 1 ? 0. : RETRY_DELAY);
			return;
		}
	}
}

static void
retry_later(double after)
{
	if (ev_is_active(&retry_timer))
		return;
	ev_timer_set(&retry_timer, after, 0.);
	ev_timer_start(agent.loop, &retry_timer);
}

static void
queue_head(struct creq *r)
{
	if (r->prio == CK_URGENT)
		TAILQ_INSERT_HEAD(&urgent, r, entry);
	else {
		TAILQ_INSERT_HEAD(&bulk, r, entry);
		nbulk++;
	}
}

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct check_answer	 a;
	struct creq		*r;

	(void)loop;
	(void)t;
	(void)revents;
	while ((r = TAILQ_FIRST(&undelivered)) != NULL) {
		TAILQ_REMOVE(&undelivered, r, entry);
		no_answer(&a, CK_DIED);
		deliver(r, &a);
	}
	dispatch();
}

/* 1 while a worker killed on path has not ended: asking again would wait too. */
int
check_stuck(const char *path)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->stuck != NULL && strcmp(w->stuck, path) == 0)
			return (1);
	return (0);
}

/*
 * Ask a worker about path; cb gets the answer (or a timeout) exactly once,
 * later, from the loop, never from in here.
 */
void
check_submit(int op, const char *path, int flags, int tries, int prio,
    check_cb *cb, void *arg)
{
	struct creq	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(path)) == NULL)
		fatalx("out of memory");
	r->w.op = op;
	r->w.flags = flags;
	r->w.tries = tries;
	r->w.len = strlen(path);
	r->prio = prio;
	r->cb = cb;
	r->arg = arg;
	if (prio == CK_URGENT)
		TAILQ_INSERT_TAIL(&urgent, r, entry);
	else {
		TAILQ_INSERT_TAIL(&bulk, r, entry);
		nbulk++;
	}
	dispatch();
}

/*
 * STEROIDS_AGENT_CHECK_TIMEOUT=S: another deadline, for an agent run
 * many times slower than usual (make soak under valgrind).
 */
void
checks_init(void)
{
	const char	*s = getenv("STEROIDS_AGENT_CHECK_TIMEOUT");
	char		*end;
	double		 t;

	ev_timer_init(&retry_timer, retry_cb, 0., 0.);
	if (s != NULL && *s != '\0') {
		t = strtod(s, &end);
		if (*end == '\0' && t > 0 && t <= 3600)
			check_timeout = t;
	}
	/* STEROIDS_AGENT_SPARE_TTL=S: spares (off by default; the tests'). */
	s = getenv("STEROIDS_AGENT_SPARE_TTL");
	if (s != NULL && *s != '\0') {
		t = strtod(s, &end);
		if (*end == '\0' && t >= 0 && t <= 3600)
			spare_ttl = t;
	}
}

static void
forget_answer(const char *path, struct check_answer *a, void *arg)
{
	(void)path;
	(void)a;
	(void)arg;
}

/*
 * The primary closes what it keeps for path (NULL: everything): the
 * project is gone, or SIGHUP said anything may have changed.  No primary,
 * nothing kept: none is started for this.
 */
void
check_forget(const char *path)
{
	if (primary == NULL)
		return;
	check_submit(OP_FORGET, path != NULL ? path : "/", path != NULL ? 0 :
	    CK_ALL, 0, CK_URGENT, forget_answer, NULL);
}

/* Bulk requests not yet sent: a rescan keeps this short. */
size_t
check_backlog(void)
{
	return (nbulk);
}

/* 1 while the connection of an answer with this gen is still kept. */
int
check_gen_current(unsigned gen)
{
	return (gen != 0 && primary != NULL && primary->gen == gen);
}

/* The loop reaped pid: 1 if it was a worker. */
int
check_reaped(pid_t pid)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->pid == pid)
			break;
	if (w == NULL)
		return (0);
	w->pid = -1;
	if (w->fd == -1)
		worker_free(w);
	else if (w->req == NULL) {
		/* An idle worker that died: the next request makes another. */
		worker_close(w);
	}
	/* else its socket's EOF comes next: worker_io_cb reports it. */
	dispatch();
	return (1);
}

/* Exiting: every worker killed, every request told it is cancelled. */
void
checks_done(void)
{
	struct check_answer	 a;
	struct worker		*w;
	struct creq		*r;
	struct creqs		*q;

	no_answer(&a, CK_CANCELLED);
	while ((w = TAILQ_FIRST(&workers)) != NULL) {
		r = w->req;
		w->req = NULL;
		if (w->pid != -1) {
			kill(w->pid, SIGKILL);
			if (waitpid(w->pid, NULL, WNOHANG) != 0)
				w->pid = -1;
		}
		w->pid = -1;	/* gone, or init reaps it */
		worker_close(w);
		if (r != NULL)
			deliver(r, &a);
	}
	for (q = &urgent; q != NULL; q = q == &urgent ? &bulk : NULL)
		while ((r = TAILQ_FIRST(q)) != NULL) {
			TAILQ_REMOVE(q, r, entry);
			deliver(r, &a);
		}
	while ((r = TAILQ_FIRST(&undelivered)) != NULL) {
		TAILQ_REMOVE(&undelivered, r, entry);
		deliver(r, &a);
	}
	ev_timer_stop(agent.loop, &retry_timer);
	nbulk = 0;
	primary = NULL;
}
