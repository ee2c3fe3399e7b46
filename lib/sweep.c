/*
 * sweep.c -- the sweep (SPEC 7): for every registered project, clean the
 * rows of dead runners, replace a hung runner, and start a runner where
 * there is pending work and none runs.  One function for 'steroids
 * runners wakeup', cron and the agent's timer.
 *
 * Time is bounded, because the upstream tool's wakeups hung on a locked
 * DB or a dead mount and piled up one a minute:
 *  - only one sweep runs per STEROIDS_HOME (flock on wakeup.lock,
 *    non-blocking: a second sweep returns at once);
 *  - what touches a project's folder (stat, ownership, config, counting
 *    pending tasks with the quick busy timeout) runs in probe children
 *    (struct st_prober), each project's answer awaited ST_PROBE_TIMEOUT_MS: a
 *    project on a hung mount is reported, its child killed and left
 *    behind, never waited for, and a new child goes on with the next;
 *  - a runner whose heartbeat is stale is asked to beat and stopped only
 *    if it does not (stop.c: 3 s to answer, SIGTERM, SIGKILL after 8 s,
 *    2 s to be gone), one project at a time;
 *  - no project is taken on after SWEEP_BUDGET seconds: the rest are
 *    reported skipped and the next sweep begins with them;
 *  - so a sweep ends within ST_SWEEP_BOUND seconds (st_sweep_bound),
 *    which the CLI arms with alarm(2) as a backstop for what no timeout
 *    here can catch (a global DB locked for minutes, a hung lock probe).
 *
 * A sweep is a run of steps that never wait (struct st_sweep_run): the
 * agent takes them on its event loop, between its events; st_sweep waits
 * between them with poll(2).
 */
#include "config.h"

#include <sys/file.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

#define ST_PROBE_TIMEOUT_MS	2000	/* a project's folder and DB checks */
#define SWEEP_BUDGET		30	/* s: no project taken on after this */
#define ST_SWEEP_BOUND		50	/* s: BUDGET + one project's worst:
					   probe 2, ask 3, grace 8, kill 2 */
#define STEP_SLICE_MS		10	/* a step's work, if not patient */
#define ST_PENDING_HELD		(-2)	/* a runner held the lock: no count */

enum st_probe_status {
	ST_PROBE_OK,
	ST_PROBE_MISSING,		/* folder gone or not mounted */
	ST_PROBE_UNSAFE,		/* fails the ownership rule */
	ST_PROBE_BROKEN		/* not a project any more, bad config, ... */
};

/* What the probe child sends back; well under PIPE_BUF, so atomic. */
struct st_probe {
	size_t	 seq;			/* which path of the prober's */
	int	 status;
	long	 pending;		/* -1: could not count, msg says why;
					   ST_PENDING_HELD: not counted */
	long	 stale_timeout;
	char	 msg[240];
};

/*
 * The probe children of a sweep.  Forking one per project cost ~1 ms
 * each (copy-on-write faults of a forked heap, exit, wait), a second for
 * 1,000 projects; so a child walks paths[] in order and streams one
 * record per path through a pipe, and the parent waits for each record at
 * most ST_PROBE_TIMEOUT_MS.  A child that does not answer in time (a hung
 * mount) is killed, its path reported, and a new child starts at its next
 * path.  Opening a project's DB (SQLite reading its schema) is most of
 * what is left, ~100 us, so a long list is dealt over up to PROBE_LANES
 * children, one a CPU: lane k probes paths k, k + lanes, ...; the parent
 * still takes the records one by one in order.  A child may run ahead of
 * the parent by what its pipe holds; what it reports is then as old as
 * the parent's work on the projects between.
 */
#define PROBE_LANES		4
#define PROBE_LANE_MIN		64	/* paths a lane's fork is worth */

struct st_lane {
	pid_t		  pid;		/* the child, -1 none (or reaped) */
	int		  fd;		/* its pipe, -1 none */
};

#define PROBE_NONE	((size_t)-1)

struct st_prober {
	const char	**paths;
	size_t		  n;
	size_t		  nlanes;
	int		  local;	/* check in process: no child */
	int		  patient;	/* nobody else reaps: wait for them */
	struct st_lane	  lane[PROBE_LANES];

	size_t		  due;		/* the record asked for, or NONE */
	struct timespec	  asked;	/* when */
	struct st_probe	  rec;		/* read so far of it */
	size_t		  got;

	pid_t		 *dying;	/* killed, not reaped yet (!patient) */
	size_t		  ndying;
};

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

const char *
st_sweep_action_name(int action)
{
	switch (action) {
	case ST_SWEEP_NONE:
		return ("none");
	case ST_SWEEP_STARTED:
		return ("started");
	case ST_SWEEP_WOULD_START:
		return ("would_start");
	case ST_SWEEP_RESTARTED:
		return ("restarted");
	case ST_SWEEP_CLEANED:
		return ("cleaned");
	case ST_SWEEP_SKIPPED:
		return ("skipped");
	case ST_SWEEP_ALIVE:
		return ("alive");
	}
	return ("unknown");
}

/* The whole sweep's upper bound in seconds, whatever the projects do. */
unsigned int
st_sweep_bound(void)
{
	return (ST_SWEEP_BOUND);
}

/* The pending work of a project whose folder passed the checks. */
static void
st_probe_count(const char *path, struct st_probe *pr)
{
	struct st_error	 e;
	long		 n;

	pr->pending = -1;
	if (st_project_pending(path, ST_PDB_QUICK, &n, &e) == -1)
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
	else
		pr->pending = n;
}

/*
 * The checks themselves; run in the probe child (or here if fork fails).
 * global: the global config loaded once for many projects, or NULL to
 * load it here.
 */
static void
probe_local(const char *path, const st_config *global, struct st_probe *pr)
{
	struct st_error	 e;
	struct stat	 sb;
	st_config	*cfg;

	memset(pr, 0, sizeof(*pr));
	pr->status = ST_PROBE_OK;
	pr->pending = -1;
	pr->stale_timeout = 300;
	if (st_path_check_project(path, &e) == -1) {
		/* Not found: gone, or a stat that failed otherwise (EIO). */
		if (e.code == ST_ENOTFOUND && stat(path, &sb) == -1 &&
		    errno != ENOENT && errno != ENOTDIR) {
			pr->status = ST_PROBE_BROKEN;
			snprintf(pr->msg, sizeof(pr->msg), "%s",
			    strerror(errno));
			return;
		}
		pr->status = e.code == ST_ENOTFOUND ? ST_PROBE_MISSING :
		    e.code == ST_EPERM ? ST_PROBE_UNSAFE : ST_PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	if ((global != NULL ? st_config_load_over(global, path, &cfg, &e) :
	    st_config_load(path, &cfg, &e)) == -1) {
		/* A config that others can write is unsafe, not broken. */
		pr->status = e.code == ST_EPERM ? ST_PROBE_UNSAFE :
		    ST_PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	pr->stale_timeout = st_config_int(cfg, "runner.stale_timeout");
	st_config_free(cfg);
	/*
	 * A runner holds the lock: it does the work, and the count (opening
	 * the DB, SQLite reading its schema) is most of a probe's cost.  If
	 * the sweep finds the lock free after all, it counts then
	 * (probe_count).
	 */
	if (st_lock_probe(path, NULL) == 1) {
		pr->pending = ST_PENDING_HELD;
		return;
	}
	st_probe_count(path, pr);
}

/*
 * The child: fd 3 is its pipe and the only fd of ours it keeps
 * (wakeup.lock above all), so it can never hold a lock.  It never
 * outlives the sweep's bound; a parent gone makes its next write fail.
 */
static void __attribute__((noreturn))
probe_child(const struct st_prober *pb, size_t from, size_t step)
{
	static const int	 sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP,
				    SIGCHLD, SIGALRM };
	struct st_error		 e;
	struct st_probe		 pr;
	st_config		*global;
	size_t			 j, off;
	ssize_t			 n;

	for (j = 0; j < sizeof(sigs) / sizeof(sigs[0]); j++)
		signal(sigs[j], SIG_DFL);	/* not the agent's handlers */
	alarm(ST_SWEEP_BOUND);
	if (st_config_load(NULL, &global, &e) == -1)
		global = NULL;		/* each project reports the error */
	for (j = from; j < pb->n; j += step) {
		probe_local(pb->paths[j], global, &pr);
		pr.seq = j;
		for (off = 0; off < sizeof(pr); off += (size_t)n) {
			n = write(3, (char *)&pr + off, sizeof(pr) - off);
			if (n == -1 && errno == EINTR)
				n = 0;
			else if (n <= 0)
				_exit(1);
		}
	}
	_exit(0);
}

/* Start the child of from's lane at from; -1 if none could be started. */
static int
prober_start(struct st_prober *pb, size_t from)
{
	struct st_lane	*ln = &pb->lane[from % pb->nlanes];
	pid_t	pid, parent = getpid();
	int	p[2];

	if (pipe(p) == -1)
		return (-1);
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
#ifdef HAVE_SYS_PRCTL_H
		/* A sweep killed midway takes its probe, hung or not, along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
#else
		(void)parent;	/* the probe's own alarm(2) bounds it */
#endif
		if (p[1] != 3 && dup2(p[1], 3) == -1)
			_exit(1);
		closefrom(4);
		probe_child(pb, from, pb->nlanes);
	}
	close(p[1]);
	(void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	ln->pid = pid;
	ln->fd = p[0];
	return (0);
}

/*
 * Done with the child.  One that has sent its last record is exiting and
 * is waited for; any other is killed and reaped if it dies at once.  One
 * stuck in the kernel on a dead mount is left behind: the CLI exits and
 * init reaps it.  Unless patient (a caller with its own reaper, which
 * tells st_sweep_run_child what it reaped), one not gone at once is kept
 * in dying[] and reaped later, by us or by the caller: never waited for
 * here, so the caller's loop goes on.
 */
static void
lane_stop(struct st_prober *pb, struct st_lane *ln, int finished)
{
	struct timespec	tick = { 0, 10 * 1000 * 1000 };
	int		i;

	if (ln->fd != -1)
		close(ln->fd);
	ln->fd = -1;
	if (ln->pid == -1)
		return;		/* none, or the caller reaped it */
	if (!finished)
		kill(ln->pid, SIGKILL);
	if (!pb->patient) {
		if (waitpid(ln->pid, NULL, WNOHANG) == 0) {
			pb->dying = st_xreallocarray(pb->dying,
			    pb->ndying + 1, sizeof(*pb->dying));
			pb->dying[pb->ndying++] = ln->pid;
		}
	} else if (finished) {
		while (waitpid(ln->pid, NULL, 0) == -1 && errno == EINTR)
			;
	} else {
		for (i = 0; i < 10; i++) {
			if (waitpid(ln->pid, NULL, WNOHANG) != 0)
				break;
			nanosleep(&tick, NULL);
		}
	}
	ln->pid = -1;
}

/*
 * The record of paths[j], the next one due (j in order), never waiting:
 * 1 when it is settled, *rc then 0: *pr is it; -1: no answer within
 * ST_PROBE_TIMEOUT_MS of asking; -2: the child died or is out of step.
 * After -1 or -2 the lane's next path starts a new child.  0: not there
 * yet; st_prober_fd turns readable when it comes, st_prober_wait_ms says when
 * to ask again at the latest.
 */
static int
st_prober_try(struct st_prober *pb, size_t j, struct st_probe *pr, int *rc)
{
	struct st_lane	*ln = &pb->lane[j % pb->nlanes];
	ssize_t		 n;

	if (pb->due != j) {
		pb->due = j;
		pb->got = 0;
		clock_gettime(CLOCK_MONOTONIC, &pb->asked);
		if (pb->local || (ln->fd == -1 &&
		    prober_start(pb, j) == -1)) {
			probe_local(pb->paths[j], NULL, pr); /* degraded */
			pb->due = PROBE_NONE;
			*rc = 0;
			return (1);
		}
	}
	for (;;) {
		n = read(ln->fd, (char *)&pb->rec + pb->got,
		    sizeof(pb->rec) - pb->got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (st_ms_since(&pb->asked) < ST_PROBE_TIMEOUT_MS)
				return (0);
			*rc = -1;
			break;
		}
		if (n <= 0) {
			*rc = -2;
			break;
		}
		if ((pb->got += (size_t)n) < sizeof(pb->rec))
			continue;
		if (pb->rec.seq != j) {
			*rc = -2;
			break;
		}
		*pr = pb->rec;
		pb->due = PROBE_NONE;
		if (j + pb->nlanes >= pb->n)
			lane_stop(pb, ln, 1);	/* its last: it is exiting */
		*rc = 0;
		return (1);
	}
	lane_stop(pb, ln, 0);
	pb->due = PROBE_NONE;
	memset(pr, 0, sizeof(*pr));
	pr->status = ST_PROBE_BROKEN;
	pr->pending = -1;
	return (1);
}

/* The pipe the record due comes through; -1 if none is awaited. */
static int
st_prober_fd(const struct st_prober *pb)
{
	if (pb->due == PROBE_NONE)
		return (-1);
	return (pb->lane[pb->due % pb->nlanes].fd);
}

/* How long the record due may still take, in ms (0: ask now). */
static long
st_prober_wait_ms(const struct st_prober *pb)
{
	long	left;

	if (pb->due == PROBE_NONE)
		return (0);
	left = ST_PROBE_TIMEOUT_MS - st_ms_since(&pb->asked);
	return (left > 0 ? left : 0);
}

/* prober_try, waiting for the answer (st_sweep_project). */
static int
st_prober_get(struct st_prober *pb, size_t j, struct st_probe *pr)
{
	struct pollfd	pfd;
	int		rc;

	while (!st_prober_try(pb, j, pr, &rc)) {
		pfd.fd = st_prober_fd(pb);
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)st_prober_wait_ms(pb) + 1);
	}
	return (rc);
}

static void
st_prober_init(struct st_prober *pb, const char **paths, size_t n)
{
#ifdef CPU_COUNT
	cpu_set_t	set;
#endif
	long		cpus;
	size_t		i;

	pb->paths = paths;
	pb->n = n;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef CPU_COUNT
	/* The CPUs we may run on (taskset, a container's cpuset). */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) < cpus)
		cpus = CPU_COUNT(&set);
#endif
	pb->local = 0;
	pb->nlanes = cpus < 1 ? 1 : cpus > PROBE_LANES ? PROBE_LANES :
	    (size_t)cpus;
	if (pb->nlanes > n / PROBE_LANE_MIN)
		pb->nlanes = n / PROBE_LANE_MIN;
	if (pb->nlanes < 1)
		pb->nlanes = 1;
	for (i = 0; i < PROBE_LANES; i++) {
		pb->lane[i].pid = -1;
		pb->lane[i].fd = -1;
	}
	pb->patient = 1;
	pb->due = PROBE_NONE;
	pb->got = 0;
	pb->dying = NULL;
	pb->ndying = 0;
}

/* Done with the sweep: children still running are cut short. */
static void
st_prober_stop(struct st_prober *pb)
{
	size_t	i;

	for (i = 0; i < pb->nlanes; i++)
		lane_stop(pb, &pb->lane[i], 0);
}

/*
 * Reap what dying[] holds (killed, or exiting after their last record),
 * waiting up to ms in all.  What is left after that (stuck in the kernel
 * on a dead mount, or not quite gone yet) is the caller's reaper's, or
 * init's, to reap.
 */
static void
st_prober_reap(struct st_prober *pb, long ms)
{
	struct timespec	 t0, tick = { 0, 5 * 1000 * 1000 };
	size_t		 i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (i = 0; i < pb->ndying; i++) {
			if (waitpid(pb->dying[i], NULL, WNOHANG) != 0)
				pb->dying[i--] = pb->dying[--pb->ndying];
		}
		if (pb->ndying == 0 || st_ms_since(&t0) >= ms)
			break;
		nanosleep(&tick, NULL);
	}
	free(pb->dying);
	pb->dying = NULL;
	pb->ndying = 0;
}

static int
cmp_path(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

/* The paths with runner rows; -1 if the query failed (then ask each). */
static int
st_rowpaths_load(st_gdb *g, struct st_rowpaths *rp)
{
	struct st_error		e;
	struct st_runner_list	l;
	const char		*path;
	char			real[PATH_MAX];
	size_t			i;

	rp->v = NULL;
	rp->n = 0;
	if (st_runners_list(g, NULL, &l, &e) == -1)
		return (-1);
	rp->v = st_xcalloc(l.n == 0 ? 1 : l.n * 2, sizeof(*rp->v));
	for (i = 0; i < l.n; i++) {
		if ((path = st_runner_project(&l.v[i])) == NULL)
			continue;
		rp->v[rp->n++] = st_xstrdup(path);
		/* A live one's other spelling (st_runners_list) is its project. */
		if (l.v[i].fresh && st_runner_lockless_state(&l.v[i]) ==
		    ST_RUNNER_ALIVE && realpath(path, real) != NULL &&
		    strcmp(real, path) != 0)
			rp->v[rp->n++] = st_xstrdup(real);
	}
	st_runner_list_free(&l);
	qsort(rp->v, rp->n, sizeof(*rp->v), cmp_path);
	return (0);
}

static void
st_rowpaths_free(struct st_rowpaths *rp)
{
	size_t	i;

	for (i = 0; i < rp->n; i++)
		free(rp->v[i]);
	free(rp->v);
}

/*
 * The runner rows of a project against its lock, which is the truth for
 * ours: a row that is not the holder's is deleted unless it is a live
 * runner that takes no lock (the upstream tool's: its writer alive, not a
 * reused pid, its heartbeat within 5 minutes; st_runner_lockless_state),
 * which counts as the project's runner and is never signalled.  The holder's row
 * with a heartbeat older than stale_timeout (compared by SQLite) is asked
 * to beat (rs->stop, stop.c) and, if it does not, a hung runner: stopped
 * and its row deleted (st_runners_stop_end).  A held lock with no row is
 * a runner all the same (starting, or a foreground loop).  A held lock
 * whose PID is not written yet is a runner starting: no row is touched,
 * no process signalled (a live pid in a row may be a reused one) and
 * nothing started.  rows (NULL: unknown) are the paths with rows when
 * the sweep began: a project with none there and a free lock has no
 * runner and no row to check (a row written since is a runner's that has
 * died since, and is cleaned by the next sweep); any other project's
 * rows are read afresh.
 */
static int
st_runners_check(st_gdb *g, const char *path, long stale_timeout, int dry,
    const struct st_rowpaths *rows, struct st_runstate *rs,
    struct st_error *err)
{
	struct st_runner_list	 l;
	struct st_runner	*r, *mine = NULL;
	pid_t			 holder;
	size_t			 i;
	int			 held, stale;

	memset(rs, 0, sizeof(*rs));
	if ((held = st_lock_probe(path, &holder)) == -1)
		return (st_seterr(err, ST_EGENERAL, "cannot read the runner "
		    "lock of %s", path));
	if (!held && rows != NULL && (rows->n == 0 || bsearch(&path, rows->v,
	    rows->n, sizeof(*rows->v), cmp_path) == NULL))
		return (0);
	if (st_runners_list(g, path, &l, err) == -1)
		return (-1);
	rs->held = held;
	for (i = 0; i < l.n; i++) {
		r = &l.v[i];
		if (held && st_pid_alive(r->pid) &&
		    (holder == 0 || r->pid == holder)) {
			if (mine == NULL)
				mine = r;
			continue;
		}
		/*
		 * Not the holder's: the upstream tool's runners take no lock,
		 * and one is live by its own rule (never signalled by us).
		 */
		if (st_runner_lockless_state(r) == ST_RUNNER_ALIVE) {
			if (rs->lockless == 0)
				rs->lockless = r->pid;
			continue;
		}
		if (!dry && st_runner_delete(g, r->id, err) == -1)
			goto fail;
		rs->cleaned++;
	}
	if (!held) {
		rs->running = rs->lockless;
		goto out;
	}
	rs->running = holder;
	if (holder == 0 || mine == NULL || stale_timeout <= 0)
		goto out;
	if (st_runner_stale(g, mine->id, stale_timeout, &stale, err) == -1)
		goto fail;
	if (!stale)
		goto out;
	if (!dry) {
		/* Asked, or stopped, in steps: st_runners_stop_end goes on. */
		rs->stop = st_stop_begin(g, mine, ST_STOP_ASK);
		rs->stop_id = st_xstrdup(mine->id);
		goto out;
	}
	rs->killed = mine->pid;
	rs->running = rs->lockless;
	rs->held = 0;
out:
	st_runner_list_free(&l);
	return (0);
fail:
	st_runner_list_free(&l);
	return (-1);
}

static void
add_note(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append "; note" to a reason. */
static void
add_note(char *buf, size_t len, const char *fmt, ...)
{
	char	note[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (*buf != '\0')
		strlcat(buf, "; ", len);
	strlcat(buf, note, len);
}

/*
 * A stale runner's stop is over: one that answered runs on, healthy; one
 * gone has its row deleted and is treated as no runner; one that outlived
 * SIGKILL (or whose lock turned unreadable) fails the project's sweep.
 */
static int
st_runners_stop_end(st_gdb *g, const char *path, struct st_runstate *rs,
    struct st_error *err)
{
	pid_t	pid = rs->running;
	int	rc = 0;

	switch (st_stop_state(rs->stop)) {
	case ST_STOP_ANSWERED:
		rs->answered = 1;
		break;
	case ST_STOP_STUCK:
		rc = st_seterr(err, ST_EGENERAL, "hung runner (pid %ld) did "
		    "not exit after SIGKILL", (long)pid);
		break;
	case ST_STOP_UNCHECKED:
		rc = st_seterr(err, ST_EGENERAL, "cannot read the runner lock "
		    "of %s", path);
		break;
	default:
		if ((rc = st_runner_delete(g, rs->stop_id, err)) == -1)
			break;
		rs->killed = pid;
		rs->running = rs->lockless;
		rs->held = 0;
		break;
	}
	st_stop_free(rs->stop);
	free(rs->stop_id);
	rs->stop = NULL;
	rs->stop_id = NULL;
	return (rc);
}

static void	sweep_rest(const char *, int, struct st_probe *,
		    st_sweep_hold, void *, const struct st_runstate *,
		    struct st_sweep_result *);

/*
 * One project, the steps of SPEC 7 in order.  Its folder checks are *pr,
 * the prober's record (prc its st_prober_try code); a disabled project has
 * none (NULL).  1 when a stale runner is being asked or stopped
 * (rs->stop): once that is done, sweep_resume finishes the project;
 * else 0, *res complete.
 */
static int
sweep_one(st_gdb *g, const struct st_project *p, int flags, int prc,
    struct st_probe *pr, const struct st_rowpaths *rows,
    st_sweep_hold hold, void *arg, struct st_runstate *rs,
    struct st_sweep_result *res)
{
	struct st_error	 e;
	const char	*path = p->path;
	char		*reason = res->reason;
	size_t		 rlen = sizeof(res->reason);
	int		 dry = (flags & ST_SWEEP_DRY_RUN) != 0;

	memset(res, 0, sizeof(*res));
	res->project = st_xstrdup(path);
	res->action = ST_SWEEP_NONE;
	if (!p->enabled) {
		strlcpy(reason, "disabled", rlen);
		return (0);
	}
	switch (prc) {
	case -1:
		res->action = ST_SWEEP_SKIPPED;
		snprintf(reason, rlen, "no answer within %d ms (hung mount?)",
		    ST_PROBE_TIMEOUT_MS);
		return (0);
	case -2:
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, "the check of its folder failed (probe child "
		    "died)", rlen);
		return (0);
	}
	switch (pr->status) {
	case ST_PROBE_MISSING:
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, "directory not found", rlen);
		return (0);
	case ST_PROBE_UNSAFE:
		res->action = ST_SWEEP_SKIPPED;
		snprintf(reason, rlen, "unsafe: %s", pr->msg);
		return (0);
	case ST_PROBE_BROKEN:
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, pr->msg, rlen);
		return (0);
	}

	/* Just resumed from a suspend: no heartbeat is judged (the agent). */
	if (st_runners_check(g, path, (flags & ST_SWEEP_NO_STALE) ? 0 :
	    pr->stale_timeout, dry, rows, rs, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, e.msg, rlen);
		return (0);
	}
	if (rs->stop != NULL)
		return (1);
	sweep_rest(path, flags, pr, hold, arg, rs, res);
	return (0);
}

/*
 * What follows the row checks: report them, and start a runner where
 * there is work and none runs.
 */
static void
sweep_rest(const char *path, int flags, struct st_probe *pr, st_sweep_hold hold,
    void *arg, const struct st_runstate *rs, struct st_sweep_result *res)
{
	struct st_error	 e;
	const char	*why;
	char		*reason = res->reason;
	size_t		 rlen = sizeof(res->reason);
	int		 dry = (flags & ST_SWEEP_DRY_RUN) != 0;
	pid_t		 pid;

	if (rs->cleaned > 0) {
		res->action = ST_SWEEP_CLEANED;
		add_note(reason, rlen, "%s %zu dead runner row%s", dry ?
		    "would remove" : "removed", rs->cleaned,
		    rs->cleaned == 1 ? "" : "s");
	}
	if (rs->killed != 0) {
		res->action = ST_SWEEP_CLEANED;
		add_note(reason, rlen, "%s hung runner (pid %ld)", dry ?
		    "would stop" : "stopped", (long)rs->killed);
	}
	if (rs->answered) {
		res->action = ST_SWEEP_ALIVE;
		add_note(reason, rlen, "heartbeat refreshed when asked");
	}
	if (rs->running != 0) {
		add_note(reason, rlen, "runner running (pid %ld%s)",
		    (long)rs->running, rs->running == rs->lockless ? ", the "
		    "upstream tool's: it takes no runner lock" : "");
		res->pid = rs->running;
		return;
	}
	if (rs->held) {
		add_note(reason, rlen, "runner starting (its lock is held, its "
		    "pid not yet written)");
		return;
	}
	/* The probe saw a runner, gone since or stopped above: count now. */
	if (pr->pending == ST_PENDING_HELD)
		st_probe_count(path, pr);
	if (pr->pending < 0) {
		if (res->action == ST_SWEEP_NONE)
			res->action = ST_SWEEP_SKIPPED;
		add_note(reason, rlen, "%s", pr->msg);
		return;
	}
	if (pr->pending == 0) {
		add_note(reason, rlen, "no pending work");
		return;
	}
	add_note(reason, rlen, "%ld pending task%s", pr->pending,
	    pr->pending == 1 ? "" : "s");
	if (hold != NULL && (why = hold(path, arg)) != NULL) {
		add_note(reason, rlen, "not started: %s", why);
		return;
	}
	if (dry) {
		res->action = ST_SWEEP_WOULD_START;
		return;
	}
	if (st_spawn_runner(path, (flags & ST_SWEEP_NO_DETACH) ? 0 :
	    ST_SPAWN_DETACH, &pid, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		add_note(reason, rlen, "%s", e.msg);
		return;
	}
	res->action = rs->killed != 0 ? ST_SWEEP_RESTARTED : ST_SWEEP_STARTED;
	res->pid = pid;
}

/* The project of sweep_one's 1, its stale runner's stop done. */
static void
sweep_resume(st_gdb *g, const char *path, int flags, struct st_probe *pr,
    st_sweep_hold hold, void *arg, struct st_runstate *rs,
    struct st_sweep_result *res)
{
	struct st_error	e;

	if (st_runners_stop_end(g, path, rs, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		add_note(res->reason, sizeof(res->reason), "%s", e.msg);
		return;
	}
	sweep_rest(path, flags, pr, hold, arg, rs, res);
}

/*
 * Sweep one registered project (the agent, on an event).  It does not
 * take wakeup.lock: racing a full sweep is harmless, since a second
 * runner started for a project finds its lock held and exits 6.  Fails
 * (ST_ENOTFOUND) only for a project that is not registered, or when the
 * global DB cannot be read; everything about the project itself is in
 * *res.  Free *res with st_sweep_result_free.
 */
int
st_sweep_project(st_gdb *g, const char *path, int flags,
    struct st_sweep_result *res, struct st_error *err)
{
	struct st_project	p;
	struct st_prober	pb;
	struct st_probe		pr;
	struct st_runstate	rs;
	const char		*paths[1];
	int			found, prc;

	memset(res, 0, sizeof(*res));
	if (st_registry_get(g, path, &p, &found, err) == -1)
		return (-1);
	if (!found)
		return (st_seterr(err, ST_ENOTFOUND, "not a registered project: "
		    "%s", path));
	paths[0] = p.path;
	st_prober_init(&pb, paths, 1);
	pb.local = (flags & ST_SWEEP_IN_PROCESS) != 0;
	prc = p.enabled ? st_prober_get(&pb, 0, &pr) : 0;
	if (sweep_one(g, &p, flags, prc, p.enabled ? &pr : NULL, NULL, NULL,
	    NULL, &rs, res)) {
		st_stop_wait(&rs.stop, 1);
		sweep_resume(g, p.path, flags, &pr, NULL, NULL, &rs, res);
	}
	st_prober_stop(&pb);
	st_project_free(&p);
	return (0);
}

/*
 * Where to begin: the project a sweep cut short by its time budget did
 * not take on first, whose path it left in wakeup.lock; so projects late
 * in the registry cannot starve behind slow ones.  0 if none.
 */
static size_t
resume_at(int fd, const struct st_project_list *pl)
{
	char	buf[PATH_MAX + 1];
	ssize_t	n;
	size_t	i;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	for (i = 0; i < pl->n; i++)
		if (strcmp(pl->v[i].path, buf) == 0)
			return (i);
	return (0);
}

/*
 * A sweep under way (st_sweep_begin): the registry as it was at the
 * start, the results so far, and where it stands.  k walks the projects
 * in sweep order (from first), j the enabled ones (the prober's paths).
 */
struct st_sweep_run {
	st_gdb			*g;
	int			 flags;
	st_sweep_hold		 hold;
	void			*arg;
	int			 lockfd;	/* wakeup.lock, held */
	struct st_project_list	 pl;
	struct st_sweep_list	 l;		/* registry order */
	struct st_rowpaths	 rows;
	int			 have_rows;
	const char		**paths;
	struct st_prober	 pb;
	struct timespec		 t0;
	size_t			 first;
	size_t			 k;
	size_t			 j;
	size_t			 taken;		/* st_sweep_run_next */
	const char		*cut;		/* where the next one begins */
	int			 done;
	int			 stopping;	/* project k: rs.stop under way */
	struct st_runstate	 rs;		/* ... and its rows, */
	struct st_probe		 pr;		/* its folder's checks */
};

/*
 * Take wakeup.lock, read the registry and the runner rows: 0 and *runp,
 * 1 if another sweep holds the lock (err says so), -1 on failure.
 * patient: nobody else reaps our children, and the caller waits between
 * steps (st_sweep_held) rather than running a loop.
 */
static int
sweep_begin(st_gdb *g, int flags, st_sweep_hold hold, void *arg,
    int patient, struct st_sweep_run **runp, struct st_error *err)
{
	struct st_sweep_run	*run;
	char			 lock[PATH_MAX + 16];
	size_t			 i, j, k;
	int			 fd;

	*runp = NULL;
	if (snprintf(lock, sizeof(lock), "%s/wakeup.lock", st_gdb_home(g)) >=
	    (int)sizeof(lock))
		return (st_seterr(err, ST_EARGS, "path too long"));
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return (st_seterr(err, ST_EPERM, "cannot open %s: %s", lock,
		    strerror(errno)));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		if (errno == EWOULDBLOCK) {
			st_seterr(err, ST_ELOCKED, "another sweep is running "
			    "(%s is held); nothing to do", lock);
			return (1);
		}
		return (st_seterr(err, ST_EGENERAL, "flock %s: %s", lock,
		    strerror(errno)));
	}
	run = st_xcalloc(1, sizeof(*run));
	if (st_registry_list(g, 0, &run->pl, err) == -1) {
		close(fd);
		free(run);
		return (-1);
	}
	run->g = g;
	run->flags = flags;
	run->hold = hold;
	run->arg = arg;
	run->lockfd = fd;
	clock_gettime(CLOCK_MONOTONIC, &run->t0);
	run->l.v = st_xcalloc(run->pl.n == 0 ? 1 : run->pl.n,
	    sizeof(*run->l.v));
	run->first = resume_at(fd, &run->pl);
	run->have_rows = st_rowpaths_load(g, &run->rows) == 0;
	/* The enabled projects in sweep order: what the probe child walks. */
	run->paths = st_xcalloc(run->pl.n == 0 ? 1 : run->pl.n,
	    sizeof(*run->paths));
	for (k = 0, j = 0; k < run->pl.n; k++) {
		i = (run->first + k) % run->pl.n;
		if (run->pl.v[i].enabled)
			run->paths[j++] = run->pl.v[i].path;
	}
	st_prober_init(&run->pb, run->paths, j);
	run->pb.patient = patient;
	*runp = run;
	return (0);
}

/*
 * Begin a sweep (st_sweep_run_*): 0 and *run, 1 when another sweep holds
 * wakeup.lock (*run NULL, err says so; not a failure), -1 on failure.
 */
int
st_sweep_begin(st_gdb *g, int flags, st_sweep_hold hold, void *arg,
    struct st_sweep_run **run, struct st_error *err)
{
	return (sweep_begin(g, flags, hold, arg, 0, run, err));
}

/* The projects from k on are not taken on: skipped, the next sweep's. */
static void
sweep_cut(struct st_sweep_run *run, const char *why)
{
	struct st_sweep_result	*res;
	size_t			 i;

	for (; run->k < run->pl.n; run->k++) {
		i = (run->first + run->k) % run->pl.n;
		if (run->cut == NULL)
			run->cut = run->pl.v[i].path;
		res = &run->l.v[i];
		res->project = st_xstrdup(run->pl.v[i].path);
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(res->reason, why, sizeof(res->reason));
	}
}

/* All projects have a result: stop the probes, note where to resume. */
static void
sweep_finish(struct st_sweep_run *run)
{
	st_prober_stop(&run->pb);
	if (!(run->flags & ST_SWEEP_DRY_RUN) && ftruncate(run->lockfd, 0) ==
	    0 && run->cut != NULL)
		(void)pwrite(run->lockfd, run->cut, strlen(run->cut), 0);
	close(run->lockfd);
	run->lockfd = -1;
	run->l.n = run->pl.n;
	run->done = 1;
}

/*
 * Go on with the sweep as far as it can without waiting: the records the
 * probes have sent are acted on, a probe past its time is killed and its
 * project reported, and no project is taken on after SWEEP_BUDGET.  A
 * non-patient run (st_sweep_begin) also stops after STEP_SLICE_MS of work
 * so that its caller's loop goes on (st_sweep_run_timeout is then 0).
 * 1 once every project has a result, else 0.
 */

int
st_sweep_run_step(struct st_sweep_run *run)
{
	struct st_project	*p;
	struct timespec		 t0;
	char			 why[128];
	size_t			 i;
	int			 prc;

	if (run->done)
		return (1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (run->k < run->pl.n) {
		i = (run->first + run->k) % run->pl.n;
		p = &run->pl.v[i];
		/* A stop under way holds up the sweep, not the caller. */
		if (run->stopping) {
			if (!st_stop_step(run->rs.stop))
				return (0);
			run->stopping = 0;
			sweep_resume(run->g, p->path, run->flags, &run->pr,
			    run->hold, run->arg, &run->rs, &run->l.v[i]);
			run->k++;
			continue;
		}
		if (st_ms_since(&run->t0) >= SWEEP_BUDGET * 1000L) {
			snprintf(why, sizeof(why), "sweep time budget (%d s) "
			    "used up; the next sweep starts here",
			    SWEEP_BUDGET);
			sweep_cut(run, why);
			break;
		}
		prc = 0;
		if (p->enabled) {
			if (!st_prober_try(&run->pb, run->j, &run->pr, &prc))
				return (0);
			run->j++;
		}
		if (sweep_one(run->g, p, run->flags, prc, p->enabled ?
		    &run->pr : NULL, run->have_rows ? &run->rows : NULL,
		    run->hold, run->arg, &run->rs, &run->l.v[i])) {
			run->stopping = 1;
			return (0);
		}
		run->k++;
		if (!run->pb.patient && st_ms_since(&t0) >= STEP_SLICE_MS &&
		    run->k < run->pl.n)
			return (0);
	}
	sweep_finish(run);
	return (1);
}

/* The fd to wait on for readability before the next step; -1: none. */
int
st_sweep_run_fd(const struct st_sweep_run *run)
{
	if (run->done)
		return (-1);
	if (run->stopping)
		return (st_stop_fd(run->rs.stop));
	return (st_prober_fd(&run->pb));
}

/*
 * Seconds until the next step is due at the latest: when the probe's
 * time to answer is up (its project is then reported and the probe
 * killed), or 0 when there is work to do at once.  -1 when done.  The
 * time budget needs no call of its own: it is checked before each
 * project is taken on.
 */
double
st_sweep_run_timeout(const struct st_sweep_run *run)
{
	if (run->done)
		return (-1.);
	if (run->stopping)
		return (st_stop_timeout(run->rs.stop));
	if (st_prober_fd(&run->pb) == -1)
		return (0.);
	return ((double)st_prober_wait_ms(&run->pb) / 1000.);
}

/*
 * The next result since the last call, in sweep order, or NULL: a caller
 * that starts runners as our children (ST_SWEEP_NO_DETACH) takes them
 * after each step, before its loop reaps any.  Valid until
 * st_sweep_run_end.
 */
const struct st_sweep_result *
st_sweep_run_next(struct st_sweep_run *run)
{
	if (run->taken >= run->k)
		return (NULL);
	return (&run->l.v[(run->first + run->taken++) % run->pl.n]);
}

/*
 * The caller reaped pid (its own waitpid(-1), e.g. libev's ev_child): 1
 * if it was one of our probes, which we then never signal nor wait for.
 */
int
st_sweep_run_child(struct st_sweep_run *run, pid_t pid)
{
	size_t	i;

	if (run == NULL || pid <= 0)
		return (0);
	for (i = 0; i < run->pb.nlanes; i++) {
		if (run->pb.lane[i].pid == pid) {
			run->pb.lane[i].pid = -1;	/* its pipe is read on */
			return (1);
		}
	}
	for (i = 0; i < run->pb.ndying; i++) {
		if (run->pb.dying[i] == pid) {
			run->pb.dying[i] = run->pb.dying[--run->pb.ndying];
			return (1);
		}
	}
	return (0);
}

/*
 * End a sweep, done or not: one not done is cut short where it stands
 * (its projects left are skipped and the next sweep begins with them),
 * its probes killed and reaped.  *l (if not NULL) gets every result, in
 * registry order; free it with st_sweep_list_free.  Frees run.
 */
void
st_sweep_run_end(struct st_sweep_run *run, struct st_sweep_list *l)
{
	int	cut = !run->done;

	if (run->stopping) {
		/* Signalled, not waited for: the next sweep sees to it. */
		st_stop_free(run->rs.stop);
		free(run->rs.stop_id);
		st_sweep_result_free(&run->l.v[(run->first + run->k) %
		    run->pl.n]);
		run->stopping = 0;
	}
	if (cut) {
		sweep_cut(run, "sweep stopped before it got here; the next "
		    "sweep starts here");
		sweep_finish(run);
	}
	st_prober_reap(&run->pb, cut ? 500 : 0);
	free(run->paths);
	if (run->have_rows)
		st_rowpaths_free(&run->rows);
	if (l != NULL)
		*l = run->l;
	else
		st_sweep_list_free(&run->l);
	st_project_list_free(&run->pl);
	free(run);
}

/*
 * Sweep every registered project, one result each in registry order
 * (disabled ones too, action none), beginning where a sweep cut short by
 * its budget stopped (resume_at).  0: done, *l filled; 1: another
 * sweep holds wakeup.lock, *l empty and err says so (not a failure);
 * -1: the global DB or wakeup.lock could not be used.
 */
int
st_sweep(st_gdb *g, int flags, struct st_sweep_list *l, struct st_error *err)
{
	return (st_sweep_held(g, flags, NULL, NULL, l, err));
}

/*
 * st_sweep, asking hold before each start (the agent's backoff): the
 * steps of a run, waiting between them.
 */
int
st_sweep_held(st_gdb *g, int flags, st_sweep_hold hold, void *arg,
    struct st_sweep_list *l, struct st_error *err)
{
	struct st_sweep_run	*run;
	struct pollfd		 pfd;
	int			 rc;

	l->v = NULL;
	l->n = 0;
	if ((rc = sweep_begin(g, flags, hold, arg, 1, &run, err)) != 0)
		return (rc);
	while (!st_sweep_run_step(run)) {
		pfd.fd = st_sweep_run_fd(run);
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)(st_sweep_run_timeout(run) * 1000) +
		    1);
	}
	st_sweep_run_end(run, l);
	return (0);
}

void
st_sweep_result_free(struct st_sweep_result *r)
{
	free(r->project);
	r->project = NULL;
}

void
st_sweep_list_free(struct st_sweep_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		st_sweep_result_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
