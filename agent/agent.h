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
	int				 queued; /* on agent.rescan */
	char				*path;	/* canonical */
	char				*dir;	/* path/.steroids */
	const struct watch_backend	*wb;	/* NULL: not watched (gone) */
	struct watch			*w;
	dev_t				 dev;	/* of dir when watched */
	ino_t				 ino;
	int				 seen;	/* registry sync mark */
	int				 fresh;	/* new in this sync */
	int				 home;	/* .steroids is $STEROIDS_HOME */
	int				 skip_logged;
	int				 poll_logged;
	ev_timer			 check;	/* re-checks after an event */
	int				 step;
	int				 fast;	/* step 0 looks again 100 us apart */
	st_pdb				*pdb;	/* kept while the checks go on */
	ev_timer			 backoff;
	double				 delay;	/* current backoff, 0: none */
	int				 restart; /* next start is a restart */
	int				 locked;  /* exits 6 in a row, lock free */
	long				 mark;	/* progress_mark before the start */
};
TAILQ_HEAD(projects, project);
TAILQ_HEAD(rescanq, project);

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

struct agent {
	struct ev_loop			*loop;
	st_gdb				*gdb;
	char				 home[PATH_MAX];
	const struct watch_backend	*native;	/* poll under -P */
	struct projects			 projects;
	struct hash			*byname;	/* path -> project */
	int				 npdb;	/* project DBs kept open */
	struct runners			 runners;

	/* Projects waiting for one check, made a few at a time (project.c) */
	struct rescanq			 rescan;
	ev_timer			 rescan_delay;
	ev_idle				 rescan_idle;

	double				 sweep_interval;
	double				 backoff_initial;
	double				 backoff_max;
	double				 poll_interval;

	const struct watch_backend	*home_wb;
	struct watch			*home_w;
	ev_timer			 home_check;
	int				 home_step;
	long long			 data_version;

	ev_timer			 sweep_timer;
	ev_child			 child;

	time_t				 started;
	time_t				 last_sweep;
	long				 starts;
	long				 restarts;
};
extern struct agent agent;

/* The re-check ladder after an event (project.c check_delays). */
#define CHECK_STEPS	15
#define FAST_TRIES	20	/* 100 us apart: project_counts_wait */
#define PDB_KEEP_MAX	32	/* project DBs kept open at once, at most */

/* agent.c */
int	sweep_reaped(pid_t);
int	sweep_running(void);

/* log.c */
void	log_init(int, int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* project.c */
struct project *project_find(const char *);
void	projects_init(void);
void	projects_release_all(void);
int	project_writer_idle(struct project *);
void	projects_rescan(double);
void	projects_sync(void);
void	projects_revalidate(void);
void	projects_free(void);
void	project_kick(struct project *);
int	project_read(struct project *, int, long *, long *, struct st_error *);
void	project_release(struct project *);
int	project_start(struct project *);
void	home_init(void);
void	home_watch(void);
void	home_kick(void);
void	home_unwatch(void);

/* backoff.c */
void	backoff_save(struct project *);
void	backoff_restore(struct project *);
void	backoffs_free(void);

/* supervise.c */
struct runner *runner_find(const char *);
void	runner_track(const char *, pid_t, int, long);
void	runner_child_init(void);
void	runners_free(void);
long	progress_mark(const char *);
int	project_counts(const char *, long *, long *, struct st_error *);
int	project_counts_wait(const char *, st_pdb **, int, long *, long *,
	    struct st_error *);

/* status.c */
void	status_init(void);
void	status_changed(void);
void	status_write(void);
void	status_done(void);

#endif /* AGENT_H */
