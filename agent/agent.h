/*
 * agent.h -- steroids-agent internals: the projects it watches, the
 * runners it tracks, and the functions of each agent/ file.
 */
#ifndef AGENT_H
#define AGENT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <time.h>

#include <ev.h>

#include "steroids.h"
#include "hash.h"
#include "watch.h"

/* A registered, enabled project. */
struct project {
	TAILQ_ENTRY(project)		 entry;
	TAILQ_ENTRY(project)		 rescan_entry;
	int				 queued; /* on the rescan queue */
	char				*path;	/* canonical */
	char				*dir;	/* path/.steroids */
	const struct watch_backend	*wb;	/* NULL: not watched (gone) */
	struct watch			*w;
	dev_t				 dev;	/* of dir when watched */
	ino_t				 ino;
	int				 seen;	/* registry sync mark */
	int				 fresh;	/* new in this sync */
	int				 known;	/* its folder was seen once */
	int				 then;	/* once watched: THEN_* */
	int				 home;	/* .steroids is $STEROIDS_HOME */
	int				 skip_logged;
	int				 poll_logged;
	ev_timer			 check;	/* re-checks after an event */
	int				 ladder; /* the re-checks go on */
	int				 step;
	int				 fast;	/* step 0 looks again 100 us apart */
	int				 ck_busy; /* a check of it in flight */
	int				 ck_again; /* a step waits for it */
	int				 ck_fresh; /* next check: new connection */
	int				 st_busy; /* a stat of it in flight */
	int				 exiting; /* runner exits being checked */
	int				 kept;	/* a worker keeps its DB open */
	unsigned			 kept_gen;
	int				 answered; /* a check came back once */
	unsigned			 wgen;	/* its watch's, for agent_reopen */
	int				 reopen_busy;
	int				 reopen_again; /* WATCH_F_* asked meanwhile */
	int				 hung;	/* missed a deadline */
	double				 hung_delay;
	ev_timer			 retry;	/* the next try while hung */
	ev_timer			 backoff;
	double				 delay;	/* current backoff, 0: none */
	int				 restart; /* next start is a restart */
	int				 locked;  /* exits 6 in a row, lock free */
	long				 mark;	/* progress_mark before the start */
	TAILQ_ENTRY(project)		 wait_entry;
	int				 waiting; /* queued: agent.max_runners */
	int				 wait_kicked; /* checked for its turn */
	int				 wait_now; /* this check queued it */
	ev_tstamp			 wait_since;
	int				 reg_asked; /* start_early, this ladder */
	unsigned			 reg_gen; /* it read no rows */
};
TAILQ_HEAD(projects, project);

/* A runner we know of: our child (ev_child) or adopted (pid watch). */
struct runner {
	TAILQ_ENTRY(runner)		 entry;
	pid_t				 pid;
	int				 child;
	const struct watch_backend	*pwb;
	struct pidwatch			*pw;
	char				*path;
	long				 progress;	/* tasks done at start */
};
TAILQ_HEAD(runners, runner);

/* What more than one file of the agent uses. */
struct agent {
	struct ev_loop			*loop;
	st_gdb				*gdb;
	char				 home[PATH_MAX];
	const struct watch_backend	*native;	/* poll under -P */
	struct projects			 projects;
	struct runners			 runners;

	double				 backoff_initial;
	double				 backoff_max;
	double				 poll_interval;
	long				 max_runners;	/* 0: no limit */

	time_t				 started;
	time_t				 last_sweep;
	long				 starts;
	long				 restarts;
	/*
	 * What agent.status counts, kept as it changes: a walk of 10,000
	 * projects at each write held the loop ~2.5 ms once a second.
	 */
	long				 n_native;	/* by p->wb */
	long				 n_polled;
	long				 n_unwatched;
	long				 n_backoff;	/* p->backoff active */
	long				 n_hung;
};
extern struct agent agent;

/* The re-check ladder after an event (watch.c check_delays). */
#define CHECK_STEPS	15
#define FAST_TRIES	20	/* x FAST_TICK: a first check waits this long */
#define FAST_TICK	100	/* us: a count at least this often */
#define FAST_PROBE	20	/* us: the writer probed this often between */
#define PDB_KEEP_MAX	32	/* project DBs a worker keeps open at once */
/*
 * s: a kept DB no ladder reads is closed after this.  0 (closed with its
 * ladder's release): a spare closed later, between or during other
 * requests, would hang its worker on a dead mount with another project's
 * request in hand, and that project would be called hung.
 */
#define SPARE_TTL	0.0
#define SPARE_MAX	8	/* of the PDB_KEEP_MAX, kept with no ladder */
#define CHECK_TIMEOUT	2.0	/* s: a check unanswered by then: hung */
#define HUNG_RETRY_MAX	30.0	/* s: a hung project is tried at least this often */
extern double	check_timeout;	/* CHECK_TIMEOUT, or STEROIDS_AGENT_CHECK_TIMEOUT */

/* What to do once a project is watched (watch.c). */
#define THEN_NOTHING	0
#define THEN_QUEUE	1	/* one check, queued */
#define THEN_KICK	2	/* a ladder of checks */

/* check.c: requests to the check workers and their answers. */
#define OP_CHECK	0	/* lock, work, mark; a start's fds */
#define OP_STAT		1	/* stat of .steroids */
#define OP_RELEASE	2	/* the DB kept for the path: a spare now */
#define OP_FILES	3	/* a poll: the path (a .steroids), DB, -wal */
#define OP_FORGET	4	/* close it (CK_ALL: every one kept) */
#define OP_REOPEN	5	/* a watch's files (flags: WATCH_F_*) */

#define CK_FRESH	0x01	/* drop the kept DB if replaced on disk */
#define CK_KEEP		0x02	/* keep the connection opened */
#define CK_IDLE		0x04	/* ask whether a writer is mid-commit */
#define CK_START	0x08	/* work: open the folder and runner log */
#define CK_HOME		0x10	/* .steroids is $STEROIDS_HOME */
#define CK_ALL		0x20	/* OP_FORGET: every path */
#define CK_WATCH	0x40	/* OP_STAT: a directory is watched too */
#define CK_QUICK	0x80	/* not known to answer (its first check, or
				   hung): others wait CHECK_SLOW_QUICK only */

#define CK_URGENT	0	/* events and exits, before */
#define CK_BULK		1	/* rescans and revalidation */

#define CK_TIMEOUT	1	/* no answer within CHECK_TIMEOUT */
#define CK_DIED		2	/* the worker died or failed */
#define CK_CANCELLED	(-1)	/* the agent is exiting */

struct check_answer {
	int		 timeout;	/* 0, or CK_TIMEOUT ... */
	int		 code;		/* st_error code of msg, 0: none */
	int		 held;		/* runner lock: 1, 0, -1 unknown */
	pid_t		 holder;
	int		 idle;		/* no writer mid-commit: 1, 0; -1 */
	long		 work;		/* -1: unknown (msg) */
	long		 mark;		/* tasks in a final status, or -1 */
	int		 kept;		/* its DB kept open (for gen) */
	unsigned	 gen;
	int		 isdir;		/* OP_STAT */
	dev_t		 dev;
	ino_t		 ino;
	int		 watched;	/* CK_WATCH: 1 token, 3 wfd, -1 werr,
					   2 not */
	long		 token;		/* for the backend's add_token */
	int		 werr;
	struct watch_files files;	/* OP_FILES */
	int		 startable;	/* 1 fds below, -1 refused (msg) */
	int		 dirfd;		/* the receiver takes them, or not */
	int		 logfd;
	int		 fdmask;	/* which of a worker's fds came (bits) */
	int		 wfd[3];	/* CK_WATCH 3 or OP_REOPEN: WATCH_F_* */
	struct watch_fid wid[3];	/* what each is */
	int		 wnews;		/* which may hold a commit: WATCH_F_* */
	char		 msg[256];
};
typedef void check_cb(const char *, struct check_answer *, void *);

/* agent.c */
int	sweep_reaped(pid_t);

/* log.c */
void	log_init(int, int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* watch.c: the watch stage */
struct project *project_find(const char *);
void	projects_init(void);
void	projects_sync(void);
void	projects_ready(void);
void	projects_revalidate(void);
void	projects_free(void);
void	project_kick(struct project *);
void	project_release(struct project *);
int	project_answered(struct project *, const struct check_answer *, int);
void	home_watch(void);
void	home_unwatch(void);
int	home_watched(void);

/* check.c: the check stage */
void	checks_init(void);
void	check_submit(int, const char *, int, int, int, check_cb *, void *);
size_t	check_backlog(void);
int	check_gen_current(unsigned);
void	check_forget(const char *);
int	check_reaped(pid_t);
int	check_stuck(const char *);
void	checks_done(void);

/* start.c: the start stage */
int	start_runner(struct project *, struct check_answer *);
void	start_early(struct project *);
void	start_forget(struct project *);
void	start_done(void);

/* backoff.c */
void	backoff_arm(struct project *, double);
void	backoff_disarm(struct project *);
void	backoff_expired(void);
void	backoff_save(struct project *);
void	backoff_restore(struct project *);
void	backoffs_free(void);

/* limit.c: agent.max_runners and its queue */
long	limit_alive(void);
long	limit_queued(void);
struct project *limit_first(void);
struct project *limit_next(struct project *);
int	limit_admit(struct project *);
void	limit_started(pid_t);
void	limit_drop(struct project *);
void	limit_kick(int);
void	limit_changed(long);

/* supervise.c: the runners */
struct runner *runner_find(const char *);
void	runner_track(const char *, pid_t, int, long);
void	runner_child_init(void);
void	runners_free(void);

/* status.c */
void	status_init(void);
void	status_changed(void);
void	status_write(void);
void	status_done(void);

#endif /* AGENT_H */
