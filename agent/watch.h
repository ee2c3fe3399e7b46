/*
 * watch.h -- the watch backends of steroids-agent: one small interface,
 * one file per platform (watch-inotify.c, watch-kqueue.c) and polling
 * (watch-poll.c), which is always built.  A backend watches a directory
 * for changes to its steroids.db and steroids.db-wal and watches PIDs
 * it is told about; it reports through the agent_* callbacks below.
 */
#ifndef WATCH_H
#define WATCH_H

#include <sys/types.h>

#include <ev.h>

struct watch;		/* a watched directory, backend-defined */
struct pidwatch;	/* a watched PID, backend-defined */

/* What a worker's fd is, so the loop can tell a file replaced. */
struct watch_fid {
	dev_t	dev;
	ino_t	ino;
};

struct watch_backend {
	const char	*name;
	/* 0 ok, -1 errno set: the backend cannot be used at all. */
	int		 (*init)(struct ev_loop *);
	void		 (*done)(void);
	/*
	 * Watch dir (its steroids.db and -wal); arg comes back in the
	 * callbacks.  NULL with errno set: ENOENT the directory is gone,
	 * ENOSPC/EMFILE/ENFILE/ENOMEM a limit was reached (poll it instead).
	 */
	struct watch	*(*add)(const char *, void *);
	void		 (*del)(struct watch *);
	/* Watch a PID that is not our child; NULL with errno set. */
	struct pidwatch	*(*pid_add)(pid_t, void *);
	void		 (*pid_del)(struct pidwatch *);
	/*
	 * Optional (NULL: add on the loop): a watch made off the loop.  A
	 * check worker keeps worker_fd() (as its own fd n), worker_add(n,
	 * dir) there gives a token (-1 and errno: as add's errors), and the
	 * loop's add_token(token, arg) makes the watch of it, as add would.
	 */
	int		 (*worker_fd)(void);
	long		 (*worker_add)(int, const char *);
	struct watch	*(*add_token)(long, void *);
	/*
	 * Optional (kqueue, whose watches are descriptors): the files opened
	 * off the loop.  In a check worker, worker_open(dir, mask, fds,
	 * &news) opens what mask asks (WATCH_F_*: fds[0] dir, [1] DB, [2]
	 * -wal; -1 where a file is not there) and news (WATCH_F_* bits) says
	 * which may hold a commit not seen if new to the watch; -1 and errno
	 * if dir cannot be.  On the loop, add_fds(dir, fds, ids, arg) makes
	 * the watch of them (ids: what each fd is, read in the worker), and
	 * refresh_fds gives a watch the files it asked for with agent_reopen,
	 * replacing one that is another file now.  Both take the fds.
	 */
	int		 (*worker_open)(const char *, int, int [3], int *);
	struct watch	*(*add_fds)(const char *, int [3],
			    const struct watch_fid [3], void *);
	void		 (*refresh_fds)(struct watch *, int [3],
			    const struct watch_fid [3], int);
};

#define WATCH_F_DIR	0x1
#define WATCH_F_DB	0x2
#define WATCH_F_WAL	0x4
#define WATCH_F_ALL	(WATCH_F_DIR | WATCH_F_DB | WATCH_F_WAL)

/* The names a watched directory reports changes for. */
#define WATCH_DB	"steroids.db"
#define WATCH_WAL	"steroids.db-wal"

extern const struct watch_backend watch_poll;
#if defined(WATCH_INOTIFY)
extern const struct watch_backend watch_inotify;
#define WATCH_NATIVE	(&watch_inotify)
#elif defined(WATCH_KQUEUE)
extern const struct watch_backend watch_kqueue;
#define WATCH_NATIVE	(&watch_kqueue)
#else
#define WATCH_NATIVE	(&watch_poll)
#endif

/* STEROIDS_AGENT_MAX_WATCHES (a test's watch limit), -1 unset or bad. */
long	watch_max_env(void);

/* watch-poll.c: the interval, in seconds, of the stat and kill(0) polls. */
void	watch_poll_interval(double);

/* What a poll looks at: the directory, its DB and -wal. */
struct watch_filestate {
	int		 exists;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};
struct watch_files {
	int			 isdir;
	dev_t			 dev;
	ino_t			 ino;
	struct watch_filestate	 db;
	struct watch_filestate	 wal;
};
/* Read them (the stats a poll makes: in a check worker, never the loop). */
void	watch_files_read(const char *, struct watch_files *);
typedef void watch_files_cb(void *, const struct watch_files *);

/* Provided by the agent, called by every backend. */
void	agent_changed(void *);		/* the DB or -wal changed */
void	agent_gone(void *);		/* the directory went away */
void	agent_overflow(void);		/* events lost: rescan everything */
void	agent_pid_exit(void *);		/* a watched PID exited */
/* A watch of add_fds lacks these files (WATCH_F_*): open them off the loop. */
void	agent_reopen(void *, int);
/*
 * Read dir's files off the loop: cb(arg, files) later, from the loop,
 * with NULL if no answer came in time; never if the agent is exiting.
 * first: a baseline, read ahead of the checks asked after it.  -1: not
 * asked (the last ask of dir is stuck in the kernel).
 */
int	agent_files(const char *, int, watch_files_cb *, void *);

#endif /* WATCH_H */
