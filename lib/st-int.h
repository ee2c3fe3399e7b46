/*
 * st-int.h -- libsteroids internals.  Not installed; the CLI and the agent
 * use steroids.h only.
 */
#ifndef ST_INT_H
#define ST_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <time.h>

#include "steroids.h"

#define ST_BUSY_TIMEOUT_MS	5000	/* CLI writers */
#define ST_QUICK_TIMEOUT_MS	250	/* sweep and agent: never wait long on one project */

/*
 * Pending work (SPEC 4), one definition for the runner's choice and for
 * every count that decides whether to start one.  A section marked
 * skipped (the upstream tool's column) is parked: the runner leaves its
 * tasks, whatever their status, until it is unskipped.  Counting them as
 * work would start runners that find nothing to do, forever.
 */
#define ST_SQL_TASK_FROM \
	" FROM tasks t LEFT JOIN sections s ON s.id = t.section_id"
#define ST_SQL_TASK_OPEN \
	" t.status IN ('review', 'in_progress', 'pending')"
#define ST_SQL_TASK_WORK \
	ST_SQL_TASK_OPEN " AND COALESCE(s.skipped, 0) = 0"

struct st_gdb {
	sqlite3	*db;
	char	 home[PATH_MAX];
	int	 readonly;	/* we may not write it: opened read only */
	int	 mount_point;	/* projects.mount_point is there */
	sqlite3_stmt *list;	/* st_runners_list's, kept */
	int	 list_schema;	/* schema_version of a list without sessions */
};

struct st_pdb {
	sqlite3		*db;
	sqlite3_stmt	*counts;	/* st_task_counts's, kept */
	sqlite3_stmt	*open;		/* pdb_count's two, kept */
	sqlite3_stmt	*work;
	char		 dir[PATH_MAX];
	int		 cols;		/* ST_PDB_HAS_*: columns there */
};
/* Columns a project at an older upstream migration lacks (its 008, 009, 015). */
#define ST_PDB_COLS_KNOWN	0x1	/* cols was read (not a one-shot) */
#define ST_PDB_HAS_SKIPPED	0x2	/* sections.skipped */
#define ST_PDB_HAS_FAILURES	0x4	/* failure_count, last_failure_at */
#define ST_PDB_HAS_DESCRIPTION	0x8	/* tasks.description */

/* error.c */
int	 st_seterr(struct st_error *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* globaldb.c: the registry's schema this library writes */
#define ST_GLOBAL_SCHEMA_VERSION	3

/* lock.c */
struct st_lockseen;
pid_t	 st_lock_holder(const char *);
int	 st_lock_seen(const char *, struct st_lockseen *);
pid_t	 st_pid_read(int);

/* proc.c */
int	 st_proc_start_time(pid_t, time_t *);
int	 st_proc_same(pid_t, time_t);

/* runners.c: rows only the runner (runner.c) and the sweep write */
void	 st_uuid(char [37]);
int	 st_runner_insert(st_gdb *, const char *, pid_t, char [37],
	    struct st_error *);
int	 st_runner_heartbeat(st_gdb *, const char *, const char *,
	    const char *, struct st_error *);
int	 st_runner_stale(st_gdb *, const char *, long, int *,
	    struct st_error *);

/* sweep.c: st_sweep, asking hold before each start, waiting between steps */
int	 st_sweep_held(st_gdb *, int, st_sweep_hold, void *,
	    struct st_sweep_list *, struct st_error *);

/* xmalloc.c */
void	*st_xmalloc(size_t);
void	*st_xcalloc(size_t, size_t);
void	*st_xreallocarray(void *, size_t, size_t);
char	*st_xstrdup(const char *);
int	 st_xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* sql.c */
int	 st_sql_open(const char *, int, int, sqlite3 **, struct st_error *);
int	 st_sql_err(sqlite3 *, int, struct st_error *, const char *);
int	 st_sql_exec(sqlite3 *, const char *, struct st_error *);
int	 st_sql_prepare(sqlite3 *, const char *, sqlite3_stmt **,
	    struct st_error *);
int	 st_sql_begin(sqlite3 *, struct st_error *);
int	 st_sql_commit(sqlite3 *, struct st_error *);
void	 st_sql_rollback(sqlite3 *);
int	 st_sql_done(sqlite3_stmt *, const char *, struct st_error *);
char	*st_sql_strdup(sqlite3_stmt *, int);
int	 st_sql_bind_path(sqlite3_stmt *, int, const char *);
int	 st_fix_mode(const char *, mode_t, struct st_error *);
int	 st_tighten_mode(const char *, mode_t, struct st_error *);
int	 st_sql_has_column(sqlite3 *, const char *, const char *,
	    struct st_error *);
int	 st_sql_uri(const char *, const char *, char *, size_t);
int	 st_sql_wal(sqlite3 *, struct st_error *);

/* clock.c */
struct timespec;
long	 st_ms_since(const struct timespec *);

/* globaldb.c */
int	 st_gdb_writable(st_gdb *, struct st_error *);

/* paths.c */
struct stat;
int	 st_file_judge(const char *, const struct stat *, struct st_error *);
int	 st_file_open(const char *, int *, struct st_error *);
int	 st_path_check_db(const char *, struct st_error *);

/* pgroup.c */
int	 st_pgroup_marked(pid_t, const char *, const char *);

/* config.c */
int	 st_config_load_over(const st_config *, const char *, st_config **,
	    struct st_error *);

/*
 * stop.c: the one grace policy, in ms.  A process group (a task's
 * handler) gets SIGTERM, SIGKILL after GRACE, then KILL to be gone; a
 * runner, which stops its handler so when told, gets all of that and a
 * second more before its own SIGKILL.  A runner asked to beat has ASK.
 */
#define ST_STOP_ASK_MS		3000
#define ST_STOP_GRACE_MS	5000
#define ST_STOP_KILL_MS		2000
#define ST_STOP_RUNNER_GRACE_MS	(ST_STOP_GRACE_MS + ST_STOP_KILL_MS + 1000)
st_stop	*st_stop_group(pid_t);
st_stop	*st_stop_begin_seen(st_gdb *, const struct st_runner *, time_t, int);

/* probe.c: the sweep's probe children */
#define ST_PROBE_TIMEOUT_MS	2000	/* a project's folder and DB checks */
#define ST_SWEEP_BOUND		50	/* s: sweep budget + one's worst:
					   probe 2, ask 3, grace 8, kill 2 */
#define ST_PENDING_HELD		(-2)	/* a runner held the lock: no count */
#define ST_PROBE_LANES		4

enum st_probe_status {
	ST_PROBE_OK,
	ST_PROBE_MISSING,		/* folder gone or not mounted */
	ST_PROBE_UNSAFE,		/* fails the ownership rule */
	ST_PROBE_BROKEN		/* not a project any more, bad config, ... */
};

/*
 * The runner lock as a probe saw it, so that the sweep (on the agent's
 * loop) need not open it again: who held it, and since when that
 * process has lived, which tells it from a later one with its PID.
 */
struct st_lockseen {
	int	 held;			/* st_lock_probe's answer */
	pid_t	 holder;		/* 0: not written yet (or free) */
	time_t	 start;			/* the holder's start, 0: unknown */
};

/* What the probe child sends back; well under PIPE_BUF, so atomic. */
struct st_probe {
	size_t	 seq;			/* which path of the prober's */
	int	 status;
	long	 pending;		/* -1: could not count, msg says why;
					   ST_PENDING_HELD: not counted */
	long	 stale_timeout;
	struct st_lockseen lock;	/* status ST_PROBE_OK only */
	char	 msg[240];
};

struct st_lane {
	pid_t		  pid;		/* the child, -1 none (or reaped) */
	int		  fd;		/* its pipe, -1 none */
};

struct st_prober {
	const char	**paths;
	size_t		  n;
	size_t		  nlanes;
	int		  local;	/* check in process: no child */
	int		  patient;	/* nobody else reaps: wait for them */
	struct st_lane	  lane[ST_PROBE_LANES];

	size_t		  due;		/* the record asked for, or NONE */
	struct timespec	  asked;	/* when */
	struct st_probe	  rec;		/* read so far of it */
	size_t		  got;

	pid_t		 *dying;	/* killed, not reaped yet (!patient) */
	size_t		  ndying;
};

void	 st_probe_count(const char *, struct st_probe *);
void	 st_prober_init(struct st_prober *, const char **, size_t);
int	 st_prober_try(struct st_prober *, size_t, struct st_probe *, int *);
int	 st_prober_get(struct st_prober *, size_t, struct st_probe *);
int	 st_prober_fd(const struct st_prober *);
long	 st_prober_wait_ms(const struct st_prober *);
void	 st_prober_stop(struct st_prober *);
void	 st_prober_reap(struct st_prober *, long);

/* runners.c: a project's runner rows against its lock (the sweep) */
/*
 * The project paths that have runner rows, read in one query at the
 * start of a sweep and sorted (strcmp), instead of a query per project.
 */
struct st_rowpaths {
	char	**v;
	size_t	  n;
};

/* What is known about a project's runner after the rows are checked. */
struct st_runstate {
	size_t	 cleaned;		/* rows deleted (or to delete, dry) */
	int	 held;		/* the runner lock is held */
	pid_t	 running;		/* a live, healthy runner, or 0 */
	pid_t	 lockless;		/* a live runner without the lock */
	pid_t	 killed;		/* a hung runner stopped (or to stop) */
	st_stop	*stop;			/* a stale runner being asked/stopped */
	char	*stop_id;		/* its row */
	int	 answered;		/* it beat when asked */
};

int	 st_rowpaths_load(st_gdb *, struct st_rowpaths *);
void	 st_rowpaths_free(struct st_rowpaths *);
int	 st_runners_check(st_gdb *, const char *, long, int,
	    const struct st_rowpaths *, const struct st_lockseen *,
	    struct st_runstate *, struct st_error *);
int	 st_runners_stop_end(st_gdb *, const char *, struct st_runstate *,
	    struct st_error *);

/* spawn.c */
int	 st_spawn_argv(const char *, char **, size_t, char *, size_t, char *,
	    size_t, struct st_error *);

/* cron.c */
void	 st_cron_split(const char *, char **, int *, char **, char **);

#endif /* ST_INT_H */
