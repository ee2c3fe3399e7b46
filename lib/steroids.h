/*
 * steroids.h -- the public interface of libsteroids.
 *
 * Every function that can fail returns 0 on success and -1 on failure with
 * *err filled in (a code from enum st_code and one line of text).  Nothing
 * here prints or exits, but for out of memory: that prints one line and
 * aborts (xmalloc.c), so no caller has a half-made result to clean up.
 * Handles are opaque.
 *
 * Process-wide: the first DB open turns SQLite's memory statistics off
 * (SQLITE_CONFIG_MEMSTATUS), unless SQLite was in use before (sql.c).
 */
#ifndef STEROIDS_H
#define STEROIDS_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What this header declares is the library's ABI; everything else in it
 * is built hidden (-fvisibility=hidden), st-int.h included.
 */
#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility push(default)
#endif

/* This header's release; st_version() says the linked library's. */
#define ST_VERSION	"0.1.0"

/* Exit codes, shared with the upstream tool. */
enum st_code {
	ST_OK = 0,
	ST_EGENERAL = 1,
	ST_EARGS = 2,
	ST_ECONFIG = 3,
	ST_ENOTINIT = 3,
	ST_ENOTFOUND = 4,
	ST_EPERM = 5,
	ST_ELOCKED = 6,
	ST_EHEALTH = 7
};

struct st_error {
	int	code;
	char	msg[1024];
};

/* error.c */
/* The code's name ("RESOURCE_LOCKED", ...), static; else GENERAL_ERROR. */
const char *st_code_name(int code);
/* The linked library's version, static. */
const char *st_version(void);

/* home.c */
/* $STEROIDS_HOME or ~/.steroids, no trailing slash, in buf; creates nothing. */
int	 st_home_dir(char *buf, size_t len, struct st_error *err);
/* st_home_dir, created 0700 and ours, tightened to 0700 if wider. */
int	 st_home_ensure(char *buf, size_t len, struct st_error *err);

/* paths.c */
/* realpath(3) of in, an existing directory, in out. */
int	 st_path_canon(const char *in, char *out, size_t len,
	    struct st_error *err);
/* Canonical spelling of in that may not exist (realpath of its ancestor). */
int	 st_path_lookup(const char *in, char *out, size_t len,
	    struct st_error *err);
/* 0 if path (canonical) is ours to run: ours, not go+w, initialised. */
int	 st_path_check_project(const char *path, struct st_error *err);
/* 1 if dir's .steroids is $STEROIDS_HOME, else 0. */
int	 st_path_is_home(const char *dir);
/* 1 for "/" and the system's trees, never a project; else 0. */
int	 st_path_is_system(const char *path);
/* The mount point of existing path in out: 0, or -1 (stat failed, too long). */
int	 st_path_mount_point(const char *path, char *out, size_t len);
/* 1 if a filesystem is mounted at mp now, else 0. */
int	 st_path_is_mounted(const char *mp);
#define ST_DISPLAY_MAX	(4 * 4096 + 8)	/* room for a PATH_MAX path escaped */
/* Bytes of the valid UTF-8 sequence at str, 0 when it starts none. */
size_t	 st_utf8_len(const char *str);
/* 1 if str starts with a C1 control (U+0080-U+009F) in UTF-8, else 0. */
int	 st_utf8_c1(const char *str);
/* path for people in out: the home as "~", then st_escape; truncates. */
void	 st_path_display(const char *path, char *out, size_t len);
/* str in out, non-printable bytes and C1 controls vis(3)-escaped; truncates. */
void	 st_escape(const char *str, char *out, size_t len);

/* globaldb.c */
typedef struct st_gdb st_gdb;
/* Open, create or upgrade the registry: *gp, to st_gdb_close. */
int	 st_gdb_open(st_gdb **gp, struct st_error *err);
/* st_gdb_open of home's steroids.db; read-only if it is not ours to write. */
int	 st_gdb_open_dir(const char *home, st_gdb **gp, struct st_error *err);
/* Close g and free it; NULL is a no-op. */
void	 st_gdb_close(st_gdb *g);
/* The home g was opened in, owned by g. */
const char *st_gdb_home(st_gdb *g);
/* The registry's schema version (user_version) in *version. */
int	 st_gdb_version(st_gdb *g, int *version, struct st_error *err);
/* PRAGMA data_version in *v: changes when another connection commits. */
int	 st_gdb_data_version(st_gdb *g, long long *v, struct st_error *err);

/* registry.c */
struct st_project {
	char	*path;
	char	*name;
	char	*registered_at;
	char	*last_seen_at;
	long	 last_seen_age;		/* seconds, computed by SQLite */
	int	 enabled;
	char	*mount_point;		/* at registration; NULL: unknown */
};
struct st_project_list {
	struct st_project	*v;
	size_t			 n;
};
/* Register project in (checked; canonical in out, may be NULL). */
int	 st_registry_register(st_gdb *g, const char *in, const char *name,
	    char *out, size_t outlen, struct st_error *err);
/* Delete in's row (canonical in out, may be NULL); ST_ENOTFOUND. */
int	 st_registry_unregister(st_gdb *g, const char *in, char *out,
	    size_t outlen, struct st_error *err);
/* Set in's enabled (canonical in out, may be NULL); ST_ENOTFOUND. */
int	 st_registry_set_enabled(st_gdb *g, const char *in, int enabled,
	    char *out, size_t outlen, struct st_error *err);
/* Projects (enabled_only: enabled) by path in *l, to st_project_list_free. */
int	 st_registry_list(st_gdb *g, int enabled_only,
	    struct st_project_list *l, struct st_error *err);
/* in's row in *p (to st_project_free): *found 1, or 0 if none. */
int	 st_registry_get(st_gdb *g, const char *in, struct st_project *p,
	    int *found, struct st_error *err);
/* Free p's strings and zero it. */
void	 st_project_free(struct st_project *p);
/* 1 if path is gone as its filesystem (mp, may be NULL) is unmounted. */
int	 st_registry_unmounted(const char *path, const char *mp);
/* Free l's projects and zero it. */
void	 st_project_list_free(struct st_project_list *l);

enum st_prune_action {
	ST_PRUNE_REMOVED,	/* folder or .steroids gone: row deleted */
	ST_PRUNE_UNMOUNTED	/* its filesystem is not mounted: kept */
};
struct st_prune_item {
	char	*path;
	int	 action;
	char	 reason[128];
};
struct st_prune_list {
	struct st_prune_item	*v;
	size_t			 n;
};
/* Delete gone projects' rows (dry_run: none), listed in *l. */
int	 st_registry_prune(st_gdb *g, int dry_run, struct st_prune_list *l,
	    struct st_error *err);
/* Free l's items and zero it. */
void	 st_prune_list_free(struct st_prune_list *l);

/* projectdb.c */
#define ST_PROJECT_DIR		".steroids"
#define ST_PROJECT_DB		"steroids.db"
#define ST_PDB_READONLY		0x1	/* open read-only */
#define ST_PDB_QUICK		0x2	/* short busy timeout (sweep, agent) */
#define ST_PDB_SHMRO		0x100	/* one-shot reader (with READONLY):
					   readonly_shm, never writes -shm */
typedef struct st_pdb st_pdb;
#define ST_MADE_DIR		0x1	/* st_project_make created .steroids */
#define ST_MADE_DB		0x2	/* ... and its steroids.db */
/* <dir>/.steroids/steroids.db in buf; -1 if it does not fit. */
int	 st_pdb_path(const char *dir, char *buf, size_t len);
/* st_project_make, without saying what it made. */
int	 st_project_init(const char *in, struct st_error *err);
/* Create in's .steroids and DB if missing; *made (may be NULL): which. */
int	 st_project_make(const char *in, int *made, struct st_error *err);
/* Remove what st_project_make made (the made bits) in dir, nothing else. */
int	 st_project_unmake(const char *dir, int made, struct st_error *err);
/* Open dir's DB, checked as ours (writer: upgraded): *pp, to st_pdb_close. */
int	 st_pdb_open(const char *dir, int flags, st_pdb **pp,
	    struct st_error *err);
/* Close p and free it; NULL is a no-op. */
void	 st_pdb_close(st_pdb *p);
/* The project folder p was opened for, owned by p. */
const char *st_pdb_dir(st_pdb *p);
/* How many tasks are open for a runner in *count. */
int	 st_pdb_pending(st_pdb *p, long *count, struct st_error *err);
/* The same, asked by one who knows a task is open (st_task_counts). */
int	 st_pdb_work(st_pdb *p, long *count, struct st_error *err);
/* st_pdb_pending of dir, with a one-shot read-only open and close. */
int	 st_project_pending(const char *dir, int flags, long *count,
	    struct st_error *err);
/* 1 no process writes dir's DB, 0 one may, -1 cannot tell (projectdb.c). */
int	 st_pdb_writer_idle(const char *dir);
int	 st_pdb_writer_idle_fd(int shmfd, int dbfd);
/* 1 a commit was published since *mark (an -shm fd), 0 not, -1 unreadable. */
#define ST_PDB_MARK_LEN	48	/* the wal-index header (one copy) */
int	 st_pdb_commit_since(int shmfd, unsigned char mark[ST_PDB_MARK_LEN]);
/* The wal-index header of an -shm fd: 0, or -1 (unreadable, being written). */
int	 st_pdb_header(int shmfd, unsigned char hdr[ST_PDB_MARK_LEN]);

/* config.c */
typedef struct st_config st_config;
/* Global config, project's (may be NULL) over it: *cp, to st_config_free. */
int	 st_config_load(const char *project, st_config **cp,
	    struct st_error *err);
/* Free cfg; NULL is a no-op. */
void	 st_config_free(st_config *cfg);
/* Known integer key name's value in cfg (NULL: the default); no error. */
long	 st_config_int(const st_config *cfg, const char *name);
/* Key name's value in cfg (NULL: defaults), owned by cfg; NULL: unknown key. */
const char *st_config_str(const st_config *cfg, const char *name);
/* 1 if name is a config key, else 0. */
int	 st_config_known(const char *name);
/* 0 if value is valid for key, -1 and err (ST_ECONFIG). */
int	 st_config_validate(const char *key, const char *value,
	    struct st_error *err);
/* The config file of global (1) or of project (0) in buf; creates nothing. */
int	 st_config_file(int global, const char *project, char *buf, size_t len,
	    struct st_error *err);
/* Set key to value in file, atomically (rename); other lines kept. */
int	 st_config_set(const char *file, const char *key, const char *value,
	    struct st_error *err);
/* key's value for project (NULL: global) in buf, *source 0, 1 or 2. */
int	 st_config_lookup(const char *project, const char *key, char *buf,
	    size_t len, int *source, struct st_error *err);
/* name's default value, static; NULL: unknown key. */
const char *st_config_default(const char *name);

/* lock.c */
/* Take project's runner lock in *fdp; ST_ELOCKED and *holder if held. */
int	 st_lock_acquire(const char *project, int *fdp, pid_t *holder,
	    struct st_error *err);
/* 1 held (*holder its PID, 0: not yet written), 0 free, -1 cannot tell. */
int	 st_lock_probe(const char *project, pid_t *holder);
/* Release the lock by closing fd; -1 is a no-op. */
void	 st_lock_release(int fd);
/* 1 if pid is alive (ours or not), else 0. */
int	 st_pid_alive(pid_t pid);

/* proc.c */
/* A pidfd for pid (close-on-exec), or -1 and errno (ENOSYS: none here). */
int	 st_pidfd_open(pid_t pid);
/* In a child just forked: SIGKILL when parent dies (Linux); -1: gone. */
int	 st_die_with_parent(pid_t parent);
#define ST_WAIT_SHORT		0	/* "exit 1", "signal 9", "status N" */
#define ST_WAIT_LONG		1	/* "exited 1", "killed by signal 9" */
/* wait(2) status in words of style in buf; truncates. */
void	 st_wait_status(int status, int style, char *buf, size_t len);

/* child.c */
/* In a child: fd0-fd2 (-1: keep) become 0-2, fd3 (-1: none) 3, rest closed. */
int	 st_child_fds(int fd0, int fd1, int fd2, int fd3);
/* What a child started by st_child_start differs in. */
#define ST_CHILD_SETSID		0x01	/* a new session */
#define ST_CHILD_PGROUP		0x02	/* a new process group */
#define ST_CHILD_DEATHSIG	0x04	/* SIGKILL when we die (Linux) */
#define ST_CHILD_UNBLOCK	0x08	/* no signal blocked */
#define ST_CHILD_PATH		0x10	/* execvp: look argv[0] up on PATH */
#define ST_CHILD_NOWAIT		0x20	/* no error pipe: exec errors exit 127 */
struct st_child {
	const char	 *path;		/* what to exec; NULL: argv[0] */
	char *const	 *argv;
	int		  fd[3];	/* its stdin, stdout, stderr; -1: ours */
	int		  dirfd;	/* fchdir there, -1: none */
	const char	 *dir;		/* else chdir there, NULL: none */
	const int	 *sigdfl;	/* signals set to SIG_DFL, 0-ended;
					   NULL: all of them */
	int		  flags;	/* ST_CHILD_* */
};
/*
 * Fork and exec c (fds above c->fd closed, c->sigdfl set to SIG_DFL): 0
 * and *pidp, the caller's to reap; 1 and *child_errno when the child
 * failed before or at the exec (reaped; never with ST_CHILD_NOWAIT); -1
 * and err when no child was forked.  Prints nothing.
 */
int	 st_child_start(const struct st_child *c, pid_t *pidp,
	    int *child_errno, struct st_error *err);

/* runners.c */
struct st_runner {
	char	*id;
	char	*status;		/* idle, running, stopping */
	pid_t	 pid;
	char	*project_path;
	char	*current_task_id;
	char	*started_at;
	char	*heartbeat_at;
	long	 heartbeat_age;		/* seconds, computed by SQLite */
	long long started_epoch;	/* started_at, UTC epoch; 0 unknown */
	int	 fresh;			/* heartbeat within ST_RUNNER_FRESH */
	char	*session_project;	/* upstream's parallel session's, or NULL */
};
struct st_runner_list {
	struct st_runner	*v;
	size_t			 n;
};
/* project's (NULL: all) runner rows in *l, to st_runner_list_free. */
int	 st_runners_list(st_gdb *g, const char *project,
	    struct st_runner_list *l, struct st_error *err);
/* Free l's rows and zero it. */
void	 st_runner_list_free(struct st_runner_list *l);
/* Delete the runner row of id (none: not an error). */
int	 st_runner_delete(st_gdb *g, const char *id, struct st_error *err);
enum st_runner_state {
	ST_RUNNER_ALIVE,	/* holds its project's lock, fresh heartbeat */
	ST_RUNNER_STALE,	/* holds the lock, heartbeat too old: hung */
	ST_RUNNER_DEAD		/* process gone or lock not its own */
};
/* 1 holds its lock, 0 not, -1 cannot tell (lock unreadable, PID alive). */
int	 st_runner_holds_lock(const struct st_runner *r);
/*
 * A row judged without the lock (the upstream tool's runners take none):
 * its writer alive and its heartbeat fresh by the upstream tool's rule.
 */
#define ST_RUNNER_FRESH		300	/* s: the upstream tool's 5 minutes */
/* The project r is of: its session's or its own path, owned by r. */
const char *st_runner_project(const struct st_runner *r);
/* 1 if r->pid is still the process that wrote r, 0 not, -1 cannot tell. */
int	 st_runner_writer(const struct st_runner *r);
/* r's enum st_runner_state by the upstream tool's rule (no lock). */
int	 st_runner_lockless_state(const struct st_runner *r);
/* *pid a live lockless runner of project other than except, or 0. */
int	 st_runner_lockless_live(st_gdb *g, const char *project, pid_t except,
	    pid_t *pid, struct st_error *err);
/* r's enum st_runner_state in *state, by its lock and heartbeat. */
int	 st_runner_state(st_gdb *g, const struct st_runner *r, int *state,
	    struct st_error *err);
/* The state's name ("alive", ...), static. */
const char *st_runner_state_name(int state);

/*
 * starts.c -- agent.max_runners across processes: a starter counts and
 * starts under the flock of $STEROIDS_HOME/starts, which lists the
 * runners started in the last minute that are still alive, as a runner
 * is seen by nobody else until it holds its lock or writes its row.
 */
typedef struct st_starts st_starts;
/* Lock and read the list, never waiting: 0 and *s, 1 if held elsewhere. */
int	 st_starts_lock(st_gdb *g, st_starts **s, struct st_error *err);
/* The listed runners whose PID is not one of known[]: counted by nobody. */
long	 st_starts_others(const st_starts *s, const pid_t *known,
	    size_t nknown);
/* List pid as a runner started now. */
void	 st_starts_add(st_starts *s, pid_t pid);
/* Write the list back, unlock and free s (NULL: nothing). */
void	 st_starts_unlock(st_starts *s);

/* tasks.c */
#define ST_TASK_NSTATUS		7
#define ST_TASK_STATUS_LEN	16
#define ST_TASK_TITLE_MAX	500	/* bytes */
#define ST_TASK_DESC_MAX	65536	/* bytes */
extern const char *const st_task_statuses[ST_TASK_NSTATUS];
enum st_task_outcome {
	ST_TASK_DONE,		/* handler exit 0 */
	ST_TASK_FAILED,		/* non-zero, signal or timeout: counted */
	ST_TASK_INTERRUPTED	/* runner stopped: back to pending, uncounted */
};
struct st_task {
	char	*id;
	char	*title;
	char	*description;
	char	*status;
	char	*section_id;
	char	*section;		/* its name; NULL: none */
	long	 failure_count;
	char	*last_failure_at;
	char	*created_at;
	char	*updated_at;
};
struct st_task_list {
	struct st_task	*v;
	size_t		 n;
};
/* 1 if s is one of st_task_statuses, else 0 (NULL too). */
int	 st_task_status_valid(const char *s);
/* 0 if s is a status, -1 and err (ST_EARGS) listing them. */
int	 st_task_status_check(const char *s, struct st_error *err);
/* Add a pending task, audited: its UUID in id. */
int	 st_task_add(st_pdb *p, const char *title, const char *section,
	    const char *description, const char *actor, const char *actor_type,
	    char id[37], struct st_error *err);
/* Tasks with status (NULL: all) in queue order in *l, to st_task_list_free. */
int	 st_task_list(st_pdb *p, const char *status, struct st_task_list *l,
	    struct st_error *err);
/* Task of id or unique prefix in *t, to st_task_free; ST_ENOTFOUND. */
int	 st_task_get(st_pdb *p, const char *id, struct st_task *t,
	    struct st_error *err);
/*
 * Set task id's status (exact id) with an audit row naming actor (of
 * actor_type) and notes (NULL: none): 0 and the old status in from (may
 * be NULL), -1 and err.  The status it already has changes nothing.
 */
int	 st_task_set_status(st_pdb *p, const char *id, const char *status,
	    const char *actor, const char *actor_type, const char *notes,
	    char from[ST_TASK_STATUS_LEN], struct st_error *err);
/* Read only: next task in *t, *action (static); *found 0: none. */
int	 st_task_next(st_pdb *p, struct st_task *t, const char **action,
	    int *found, struct st_error *err);
/* st_task_next, marked in_progress by actor and audited, in one transaction. */
int	 st_task_claim(st_pdb *p, const char *actor, struct st_task *t,
	    const char **action, int *found, struct st_error *err);
/* Apply outcome (enum st_task_outcome) to task id: its status in to. */
int	 st_task_finish(st_pdb *p, const char *id, int outcome,
	    long max_failures, const char *actor, const char *notes,
	    char to[ST_TASK_STATUS_LEN], struct st_error *err);
/* Tasks per status in counts, in *other (may be NULL) the rest. */
int	 st_task_counts(st_pdb *p, long counts[ST_TASK_NSTATUS], long *other,
	    struct st_error *err);
/* Free t's strings and zero it. */
void	 st_task_free(struct st_task *t);
/* Free l's tasks and zero it. */
void	 st_task_list_free(struct st_task_list *l);

/*
 * runner.c -- the loop of 'steroids loop' (SPEC 6).  SIGUSR1 makes the
 * runner beat at once (stop.c asks so); it is left ignored afterwards.
 */
#define ST_RUNNER_LOG_MAX	((off_t)10 * 1024 * 1024)
#define ST_RUN_ONCE		0x1
enum st_run_event {
	ST_RUN_STARTED,		/* lock held, row in place: runner_id */
	ST_RUN_TASK_BEGIN,	/* task, action */
	ST_RUN_TASK_END		/* task, action, status, result */
};
enum st_run_stop {
	ST_STOP_DONE,		/* no pending work left */
	ST_STOP_ONCE,
	ST_STOP_SIGNAL,		/* SIGTERM or SIGINT */
	ST_STOP_DISABLED	/* the project was disabled */
};
struct st_run_info {
	int			 event;
	const char		*runner_id;
	const char		*project;
	const struct st_task	*task;
	const char		*action;	/* start, resume, review */
	const char		*status;	/* the task's, after it ran */
	const char		*result;	/* "exit 0", "timeout ...", ... */
};
struct st_run_opts {
	int	 flags;
	void	(*cb)(const struct st_run_info *info, void *arg);
	void	*arg;
};
struct st_run_result {
	char	 runner_id[37];
	long	 tasks;
	int	 stop;			/* enum st_run_stop */
};
/*
 * Run the canonical project's queue in this process: 0 when it stopped as
 * asked (res->stop says why), -1 and err otherwise (ST_ELOCKED: another
 * runner holds the project).  It owns the process while it runs: chdir
 * to the project, libev's default loop with its SIGTERM, SIGINT, SIGUSR1
 * and SIGCHLD watchers (SIGUSR1 is left ignored after), a child subreaper
 * (Linux), and STEROIDS_PROJECT, STEROIDS_RUNNER_ID and STEROIDS_TASK_*
 * set in the environment for the handlers.  It holds the runner lock
 * and a runners row, both gone when it returns.
 */
int	 st_runner_run(const char *project, const struct st_run_opts *opts,
	    struct st_run_result *res, struct st_error *err);
/* The project's runner log, opened to append (rotated past max): 0, *fdp. */
int	 st_runner_log_open(const char *project, off_t max, int *fdp,
	    struct st_error *err);
/* Why a run stopped (enum st_run_stop), in words, static. */
const char *st_run_stop_name(int stop);

/*
 * clock.c -- did the machine sleep?  st_clock_now reads the clocks;
 * st_clock_slept gives the seconds the machine was suspended between two
 * readings (0: it was not, or for less than a few seconds): CLOCK_BOOTTIME
 * against CLOCK_MONOTONIC where there is one, else the wall clock.
 */
struct st_clock {
	struct timespec	 mono;
	struct timespec	 boot;
	struct timespec	 wall;
	int		 has_boot;
};
void	 st_clock_now(struct st_clock *c);
long	 st_clock_slept(const struct st_clock *before,
	    const struct st_clock *after);

/*
 * stop.c -- stopping a runner: one sequence and one grace policy for the
 * CLI and the sweep.  Only the process holding its project's runner lock
 * is ever signalled (our runner; the upstream tool's take no lock), and
 * that is asked again before every signal.  With ST_STOP_ASK it is first
 * asked to beat (SIGUSR1; st_runner_run beats at once) and left alone
 * (ST_STOP_ANSWERED) if the row's heartbeat_at changes within 3 s.  Then
 * SIGTERM; SIGKILL after 8 s (room for the runner's own 5 s + 2 s stop of
 * its task's handler), unless ST_STOP_NO_KILL (then ST_STOP_RUNNING);
 * then up to 2 s to be gone.  st_stop_begin sends the first signal and
 * returns at once (never NULL; g is read only with ST_STOP_ASK); call
 * st_stop_step when st_stop_fd (a pidfd; -1: none) turns readable or
 * st_stop_timeout seconds have passed, until it returns 1 (st_stop_done);
 * st_stop_state then says how it ended.  st_stop_wait steps n stops to
 * their end, waiting in poll(2).  Free with st_stop_free.  st_stop_bound:
 * the most seconds a stop with these flags takes.
 */
#define ST_STOP_ASK		0x1	/* ask first; stop only if no answer */
#define ST_STOP_NO_KILL		0x2	/* no SIGKILL after the grace */
enum st_stop_state {
	ST_STOP_ASKING,		/* SIGUSR1 sent, waiting for a heartbeat */
	ST_STOP_TERM,		/* SIGTERM sent, waiting for the exit */
	ST_STOP_KILL,		/* SIGKILL sent, waiting for the exit */
	ST_STOP_ANSWERED,	/* it beat when asked: healthy, left alone */
	ST_STOP_STOPPED,	/* gone, without SIGKILL */
	ST_STOP_KILLED,		/* gone after SIGKILL */
	ST_STOP_RUNNING,	/* ST_STOP_NO_KILL: still running after grace */
	ST_STOP_STUCK,		/* not gone 2 s after SIGKILL */
	ST_STOP_NOT_HELD,	/* holds no runner lock: never signalled */
	ST_STOP_UNCHECKED	/* its lock cannot be read: never signalled */
};
typedef struct st_stop st_stop;
/* Begin stopping r (its first signal now, if any); never NULL, to free. */
st_stop	*st_stop_begin(st_gdb *g, const struct st_runner *r, int flags);
/* The next step, if due: 1 when the stop is over, else 0. */
int	 st_stop_step(st_stop *s);
/* 1 when the stop is over, else 0. */
int	 st_stop_done(const st_stop *s);
/* Where it stands (enum st_stop_state); once done, how it ended. */
int	 st_stop_state(const st_stop *s);
/* A pidfd readable at the runner's exit, owned by s; -1: none. */
int	 st_stop_fd(const st_stop *s);
/* Seconds until the next step is due. */
double	 st_stop_timeout(const st_stop *s);
/* Step the n stops of v to their end, waiting in poll(2). */
void	 st_stop_wait(st_stop **v, size_t n);
/* Free s, and close its pidfd; NULL: nothing.  Signals nothing. */
void	 st_stop_free(st_stop *s);
/* The most seconds a stop with these flags takes. */
unsigned int st_stop_bound(int flags);
/* The state's name, static. */
const char *st_stop_state_name(int state);

/*
 * spawn.c -- start a runner: new session, cwd the project, stdin
 * /dev/null, stdout/stderr appended to its runner log, no other fd, execv
 * of STEROIDS_LOOP_COMMAND (split on blanks, first word an absolute path)
 * or "<steroids> loop --project", the canonical project path last.
 * ST_SPAWN_DETACH: the runner is not our child (the CLI); without it the
 * caller must reap it (the agent).  st_steroids_path: the steroids binary
 * by absolute path (beside the running program, else the installed one).
 */
#define ST_SPAWN_DETACH		0x1
/* Start project's (canonical) runner as above: *pidp. */
int	 st_spawn_runner(const char *project, int flags, pid_t *pidp,
	    struct st_error *err);
/* st_spawn_runner (not detached) with fchdir(dirfd), log logfd; closes both. */
int	 st_spawn_runner_fds(const char *project, int dirfd, int logfd,
	    pid_t *pidp, struct st_error *err);
/* The steroids binary's absolute path in buf: 0, or -1 if none fits. */
int	 st_steroids_path(char *buf, size_t len);

/*
 * sweep.c -- SPEC 7: one function for the CLI, cron and the agent.
 * st_sweep: every registered project, one result each (disabled ones
 * with action none), under $STEROIDS_HOME/wakeup.lock; returns 1 with an
 * empty list (err says why) when another sweep holds it.  It ends within
 * st_sweep_bound() seconds.  st_sweep_project: one registered project,
 * without wakeup.lock (the agent, on an event).  With ST_SWEEP_NO_DETACH
 * the runners started are the caller's children, to reap.  With
 * ST_SWEEP_IN_PROCESS st_sweep_project checks the folder itself, without
 * a probe child (whose fork costs ~1 ms): for a caller that has just read
 * that folder in process anyway (the agent, after an event).
 * st_sweep_project waits for a stale runner's ask and stop (13 s at
 * most); the agent calls it only for a project whose lock is free.
 * hold (st_sweep_begin; st_sweep_held inside the library): before
 * starting a runner for a project, hold(path, arg) is asked: a non-NULL
 * answer (why, e.g. the agent's crash-loop backoff) starts nothing there,
 * noted in the reason; cleaning rows and stopping hung runners still
 * happen.  A runner whose heartbeat is
 * older than runner.stale_timeout is asked first (st_stop_begin with
 * ST_STOP_ASK): one that beats is left running (ST_SWEEP_ALIVE), one
 * that does not is stopped and replaced.  ST_SWEEP_NO_STALE judges no
 * heartbeat at all: for a caller that has just seen the machine resume
 * from a suspend (st_clock_slept), during which no runner could beat.
 * Under agent.max_runners (global config) st_sweep and a run hold their
 * starts back until every project was looked at, then start only as
 * many as the limit leaves room for beside the runners alive (runner
 * locks held, live rows of the rest); st_sweep_project does not count.
 *
 * The same sweep for an event loop, which it never blocks (st_sweep and
 * st_sweep_held are these steps with a wait between them):
 * st_sweep_begin takes wakeup.lock and returns 0 and a run, or 1 (run
 * NULL, err says why) when another sweep holds it, like st_sweep.  Then
 * call st_sweep_run_step when st_sweep_run_fd (-1: none) turns readable
 * or st_sweep_run_timeout seconds have passed (0: at once; a probe that
 * has not answered in time is then killed and its project reported),
 * until it returns 1.  Each step does what needs no waiting, ~10 ms of
 * work at most (a stale runner's ask and stop too: the fd and the
 * timeout are then its), and may start runners: st_sweep_run_next
 * hands out each new result (in sweep order, NULL when none is left), to
 * take after every step.  st_sweep_run_end ends a run, done or not (the projects a
 * run did not reach are skipped and the next sweep begins with them),
 * kills and reaps its probe children, gives every result in registry
 * order (l may be NULL) and frees run.  A caller that reaps children
 * with waitpid(-1) (libev's ev_child) must pass each pid it reaps to
 * st_sweep_run_child first, which says (1) if it was the run's probe:
 * the run then never signals or waits for it again.
 */
enum st_sweep_action {
	ST_SWEEP_NONE,		/* nothing done (reason says why) */
	ST_SWEEP_STARTED,	/* pid: the runner started */
	ST_SWEEP_WOULD_START,	/* --dry-run */
	ST_SWEEP_RESTARTED,	/* hung runner stopped, pid: the new one */
	ST_SWEEP_CLEANED,	/* dead rows deleted or a hung runner stopped */
	ST_SWEEP_SKIPPED,	/* missing, unsafe, DB unreadable, ... */
	ST_SWEEP_ALIVE		/* heartbeat stale, but it beat when asked */
};
#define ST_SWEEP_DRY_RUN	0x1	/* change nothing, start nothing */
#define ST_SWEEP_NO_DETACH	0x2	/* caller reaps runners (the agent) */
#define ST_SWEEP_IN_PROCESS	0x4	/* st_sweep_project: no probe child */
#define ST_SWEEP_NO_STALE	0x8	/* judge no heartbeat (just resumed) */
struct st_sweep_result {
	char	*project;
	int	 action;		/* enum st_sweep_action */
	char	 reason[256];
	pid_t	 pid;			/* started, or the one running */
};
struct st_sweep_list {
	struct st_sweep_result	*v;
	size_t			 n;
};
/* The action's name ("started", ...), static. */
const char *st_sweep_action_name(int action);
/* NULL: start path's runner; else why not, copied into its result. */
typedef const char *(*st_sweep_hold)(const char *path, void *arg);
/* Sweep every project into *l (to st_sweep_list_free): 0, 1 held, -1. */
int	 st_sweep(st_gdb *g, int flags, struct st_sweep_list *l,
	    struct st_error *err);
/* The most seconds st_sweep takes. */
unsigned int st_sweep_bound(void);
struct st_sweep_run;
/* Begin a stepped sweep: 0 and *run, 1 held elsewhere, -1. */
int	 st_sweep_begin(st_gdb *g, int flags, st_sweep_hold hold, void *arg,
	    struct st_sweep_run **run, struct st_error *err);
/* Do what is due without waiting: 1 when every project has a result. */
int	 st_sweep_run_step(struct st_sweep_run *run);
/* The fd whose readability makes a step due, owned by run; -1: none. */
int	 st_sweep_run_fd(const struct st_sweep_run *run);
/* Seconds until a step is due at the latest (0: at once). */
double	 st_sweep_run_timeout(const struct st_sweep_run *run);
/* The next new result (owned by run, valid until the next step), or NULL. */
const struct st_sweep_result *st_sweep_run_next(struct st_sweep_run *run);
/* Tell run of a reaped pid: 1 if it was its probe, else 0. */
int	 st_sweep_run_child(struct st_sweep_run *run, pid_t pid);
/* End run, done or not (probes killed, reaped); results into l; frees. */
void	 st_sweep_run_end(struct st_sweep_run *run, struct st_sweep_list *l);
/* Sweep one registered project into *res (to st_sweep_result_free). */
int	 st_sweep_project(st_gdb *g, const char *path, int flags,
	    struct st_sweep_result *res, struct st_error *err);
/* Free r's project and set it NULL. */
void	 st_sweep_result_free(struct st_sweep_result *r);
/* Free l's results and zero it. */
void	 st_sweep_list_free(struct st_sweep_list *l);

/* cron.c -- issue 4: the crontab(1) fallback for the sweep */
#define ST_CRON_MARKER	"# steroids: runner wakeup (managed by " \
	"'steroids runners cron')"
/* Our crontab line (no marker) in *line, malloc'd; reads no crontab. */
int	 st_cron_entry(char **line, struct st_error *err);
/* Install our crontab(1) entry once (*changed), *line malloc'd. */
int	 st_cron_install(int *changed, char **line, struct st_error *err);
/* Remove our entries via crontab(1), only ours: *removed how many. */
int	 st_cron_uninstall(int *removed, struct st_error *err);
/* What the upstream tool writes above its line (its own is the entry). */
#define ST_CRON_UPSTREAM_MARKER	"# steroids-runners-wakeup"
/* From crontab -l: *installed, *line, *upstream (malloc'd or NULL). */
int	 st_cron_status(int *installed, char **line, char **upstream,
	    struct st_error *err);

/*
 * agentstatus.c -- the agent's word to the CLI: agent.pid and
 * agent.status, "key value" lines in the order of enum st_agent_key,
 * then one ST_AGENT_BACKOFF_PROJECT line per project in backoff after
 * "backoff", one ST_AGENT_HUNG_PROJECT line per hung one after "hung"
 * and one ST_AGENT_QUEUED_PROJECT line per project queued under
 * agent.max_runners after "queued", the head of the queue first.
 */
enum st_agent_key {
	ST_AGENT_PID,
	ST_AGENT_STARTED,
	ST_AGENT_VERSION,
	ST_AGENT_BACKEND,
	ST_AGENT_WATCHED_NATIVE,
	ST_AGENT_WATCHED_POLL,
	ST_AGENT_UNWATCHED,
	ST_AGENT_RUNNERS,
	ST_AGENT_LAST_SWEEP,
	ST_AGENT_STARTS,
	ST_AGENT_RESTARTS,
	ST_AGENT_BACKOFF,
	ST_AGENT_HUNG,
	ST_AGENT_MAX_RUNNERS,	/* agent.max_runners, 0: no limit */
	ST_AGENT_ALIVE,		/* runners alive, as the limit counts them */
	ST_AGENT_QUEUED
};
#define ST_AGENT_BACKOFF_PROJECT	"backoff_project"
#define ST_AGENT_HUNG_PROJECT		"hung_project"
#define ST_AGENT_QUEUED_PROJECT		"queued_project"
struct st_agent_status {
	long		  pid, started, native, polled, unwatched, runners;
	long		  last_sweep, starts, restarts, backoff, hung;
	long		  max_runners, alive, queued;
	char		  backend[32], version[32];
	char		**backoff_v;	/* displayed paths (st_path_display) */
	size_t		  nbackoff;
	char		**hung_v;
	size_t		  nhung;
	char		**queued_v;	/* the queue in order, head first */
	size_t		  nqueued;
	unsigned int	  seen;		/* a bit per enum st_agent_key */
};
/* The running agent of home's PID, 0: none runs, -1 and err. */
pid_t	 st_agent_pid(const char *home, struct st_error *err);
/* The name of key k in agent.status. */
const char *st_agent_key(int k);
/* Read path, pid's agent.status: 0, or -1 and err (ST_EHEALTH): not whole. */
int	 st_agent_status_read(const char *path, pid_t pid,
	    struct st_agent_status *s, struct st_error *err);
/* Free s's project lists and zero them. */
void	 st_agent_status_free(struct st_agent_status *s);

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* STEROIDS_H */
