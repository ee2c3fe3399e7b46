/*
 * sweep.c -- the sweep (SPEC 7): for every registered project, clean the
 * rows of dead runners, replace a hung runner, and start a runner where
 * there is pending work and none runs.  One function for 'steroids
 * runners wakeup', cron and the agent's timer.
 *
 * Time is bounded, so that a locked DB or a dead mount cannot make
 * wakeups pile up:
 *  - only one sweep runs per STEROIDS_HOME (flock on wakeup.lock,
 *    non-blocking: a second sweep returns at once);
 *  - what touches a project's folder (stat, ownership, config, counting
 *    pending tasks with the quick busy timeout) runs in probe children
 *    (struct st_prober), each project's answer awaited ST_PROBE_TIMEOUT_MS: a
 *    project on a hung mount is reported, its child killed and left
 *    behind, never waited for, and a new child goes on with the next;
 *  - the runner lock is judged as the probe child saw it (its holder's
 *    PID and start time), so nothing here opens a project's file but
 *    st_probe_count, for a hold that would start it (the CLI's), and,
 *    on a system that gives no start times, the stop's lock probe;
 *  - a runner whose heartbeat is stale is asked to beat and stopped only
 *    if it does not (stop.c: 3 s to answer, SIGTERM, SIGKILL after 8 s,
 *    2 s to be gone), one project at a time;
 *  - no project is taken on after SWEEP_BUDGET seconds: the rest are
 *    reported skipped and the next sweep begins with them;
 *  - so a sweep ends within ST_SWEEP_BOUND seconds (st_sweep_bound),
 *    which the CLI arms with alarm(2) as a backstop for what no timeout
 *    here can catch (a global DB locked for minutes, a hung count).
 *
 * A sweep is a run of steps that never wait (struct st_sweep_run): the
 * agent takes them on its event loop, between its events; st_sweep waits
 * between them with poll(2).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

#define SWEEP_BUDGET		30	/* s: no project taken on after this */
#define STEP_SLICE_MS		10	/* a step's work, if not patient */

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

struct st_sweep_run;
static void	limit_note(struct st_sweep_run *, struct st_sweep_result *,
		    int);
static int	limit_defer(struct st_sweep_run *, struct st_sweep_result *,
		    int);
static void	sweep_rest(struct st_sweep_run *, const char *, int,
		    struct st_probe *, st_sweep_hold, void *,
		    const struct st_runstate *, struct st_sweep_result *);

/*
 * One project, the steps of SPEC 7 in order.  Its folder checks are *pr,
 * the prober's record (prc its st_prober_try code); a disabled project has
 * none (NULL).  1 when a stale runner is being asked or stopped
 * (rs->stop): once that is done, sweep_resume finishes the project;
 * else 0, *res complete.
 */
static int
sweep_one(struct st_sweep_run *run, st_gdb *g, const struct st_project *p,
    int flags, int prc, struct st_probe *pr, const struct st_rowpaths *rows,
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
	    pr->stale_timeout, dry, rows, &pr->lock, rs, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, e.msg, rlen);
		return (0);
	}
	if (rs->stop != NULL)
		return (1);
	sweep_rest(run, path, flags, pr, hold, arg, rs, res);
	return (0);
}

/* Start a runner for path (or say one would be, dry). */
static int
sweep_start(const char *path, int flags, int killed,
    struct st_sweep_result *res)
{
	struct st_error	 e;
	pid_t		 pid;

	if (flags & ST_SWEEP_DRY_RUN) {
		res->action = ST_SWEEP_WOULD_START;
		return (0);
	}
	if (st_spawn_runner(path, (flags & ST_SWEEP_NO_DETACH) ? 0 :
	    ST_SPAWN_DETACH, &pid, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		add_note(res->reason, sizeof(res->reason), "%s", e.msg);
		return (-1);
	}
	res->action = killed ? ST_SWEEP_RESTARTED : ST_SWEEP_STARTED;
	res->pid = pid;
	return (0);
}

/*
 * What follows the row checks: report them, and start a runner where
 * there is work and none runs.  Under agent.max_runners (a run's limit)
 * the start waits until every project's runners are known (sweep_limit).
 */
static void
sweep_rest(struct st_sweep_run *run, const char *path, int flags,
    struct st_probe *pr, st_sweep_hold hold, void *arg,
    const struct st_runstate *rs, struct st_sweep_result *res)
{
	const char	*why;
	char		*reason = res->reason;
	size_t		 rlen = sizeof(res->reason);
	int		 dry = (flags & ST_SWEEP_DRY_RUN) != 0, asked;

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
	if (run != NULL)
		limit_note(run, res, rs->running != 0 || rs->held);
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
	/*
	 * The probe saw a runner, gone since or stopped above: count now,
	 * unless the caller's hold would start nothing anyway (the agent,
	 * which opens no project file on its loop, checks it itself).  The
	 * hold is asked once: here, or below once there is work.
	 */
	asked = hold != NULL && pr->pending == ST_PENDING_HELD;
	if (asked && (why = hold(path, arg)) != NULL) {
		add_note(reason, rlen, "its runner is gone; not counted here: "
		    "%s", why);
		return;
	}
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
	if (hold != NULL && !asked && (why = hold(path, arg)) != NULL) {
		add_note(reason, rlen, "not started: %s", why);
		return;
	}
	if (run != NULL && limit_defer(run, res, rs->killed != 0))
		return;
	(void)sweep_start(path, flags, rs->killed != 0, res);
}

/* The project of sweep_one's 1, its stale runner's stop done. */
static void
sweep_resume(struct st_sweep_run *run, st_gdb *g, const char *path,
    int flags, struct st_probe *pr, st_sweep_hold hold, void *arg,
    struct st_runstate *rs, struct st_sweep_result *res)
{
	struct st_error	e;

	if (st_runners_stop_end(g, path, rs, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		add_note(res->reason, sizeof(res->reason), "%s", e.msg);
		return;
	}
	sweep_rest(run, path, flags, pr, hold, arg, rs, res);
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
	if (sweep_one(NULL, g, &p, flags, prc, p.enabled ? &pr : NULL, NULL,
	    NULL, NULL, &rs, res)) {
		st_stop_wait(&rs.stop, 1);
		sweep_resume(NULL, g, p.path, flags, &pr, NULL, NULL, &rs,
		    res);
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

	long			 limit;		/* agent.max_runners, 0: none */
	long			 alive;		/* runners of settled projects */
	char			*settled;	/* per project: runners known */
	struct limit_cand	*cand;		/* starts waiting for the count */
	size_t			 ncand;
};

/* A start held back until the sweep knows how many runners are alive. */
struct limit_cand {
	size_t	 i;			/* registry index of its result */
	int	 action;		/* the result's action before */
	int	 killed;		/* a hung runner was stopped */
};

/* Project res's runners are known now: alive 1 if one runs or starts. */
static void
limit_note(struct st_sweep_run *run, struct st_sweep_result *res, int alive)
{
	if (run->limit <= 0)
		return;
	run->settled[res - run->l.v] = 1;
	if (alive)
		run->alive++;
}

/* Under a limit, res's start waits for sweep_limit: 1, else 0. */
static int
limit_defer(struct st_sweep_run *run, struct st_sweep_result *res,
    int killed)
{
	struct limit_cand	*c;

	if (run->limit <= 0)
		return (0);
	c = &run->cand[run->ncand++];
	c->i = (size_t)(res - run->l.v);
	c->action = res->action;
	c->killed = killed;
	return (1);
}

/*
 * The live runners of projects this sweep did not settle (disabled,
 * skipped, not registered): their rows, judged by the lockless rule
 * (a live writer, a fresh heartbeat), as no lock of theirs is probed.
 * *known: the PIDs counted some way, every row's and every settled
 * project's runner's, for st_starts_others; to free.
 */
static long
limit_elsewhere(struct st_sweep_run *run, pid_t **known, size_t *nknown)
{
	struct st_runner_list	 l;
	struct st_error		 e;
	const char		*path;
	long			 n = 0;
	size_t			 i, k;

	if (st_runners_list(run->g, NULL, &l, &e) == -1)
		memset(&l, 0, sizeof(l));
	*known = st_xcalloc(l.n + run->pl.n + 1, sizeof(**known));
	*nknown = 0;
	for (k = 0; k < run->pl.n; k++)
		if (run->settled[k] && run->l.v[k].pid > 0)
			(*known)[(*nknown)++] = run->l.v[k].pid;
	for (i = 0; i < l.n; i++) {
		(*known)[(*nknown)++] = l.v[i].pid;
		if ((path = st_runner_project(&l.v[i])) == NULL ||
		    st_runner_lockless_state(&l.v[i]) != ST_RUNNER_ALIVE)
			continue;
		for (k = 0; k < run->pl.n; k++)
			if (strcmp(run->pl.v[k].path, path) == 0)
				break;
		if (k == run->pl.n || !run->settled[k])
			n++;
	}
	st_runner_list_free(&l);
	return (n);
}

/*
 * $STEROIDS_HOME/starts, for the count and the starts: 0 and *sp, else
 * -1 and *err.  A patient run (the CLI) waits a little for a starter
 * that holds it; the agent's does not wait.
 */
static int
limit_lock(struct st_sweep_run *run, st_starts **sp, struct st_error *err)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 i, rc;

	for (i = 0; (rc = st_starts_lock(run->g, sp, err)) == 1 &&
	    run->pb.patient && i < 100; i++)
		nanosleep(&ts, NULL);
	return (rc == 0 ? 0 : -1);
}

/*
 * agent.max_runners: every project's runners are known, so start as
 * many of the held-back runners, in sweep order, as the limit leaves
 * room for, counted and started under $STEROIDS_HOME/starts with the
 * runners others started that are not visible yet.  The next sweep
 * begins with the first one left, so the projects late in the registry
 * get their turn.
 */
static void
sweep_limit(struct st_sweep_run *run)
{
	struct st_sweep_result	*res;
	struct limit_cand	*c;
	st_starts		*st = NULL;
	struct st_error		 why;
	pid_t			*known;
	size_t			 k, nknown;
	long			 alive;

	if (run->ncand == 0)
		return;
	why.msg[0] = '\0';
	alive = run->alive + limit_elsewhere(run, &known, &nknown);
	if (alive < run->limit && !(run->flags & ST_SWEEP_DRY_RUN)) {
		if (limit_lock(run, &st, &why) == 0)
			alive += st_starts_others(st, known, nknown);
	}
	free(known);
	for (k = 0; k < run->ncand; k++) {
		c = &run->cand[k];
		res = &run->l.v[c->i];
		if (alive < run->limit && (st != NULL ||
		    (run->flags & ST_SWEEP_DRY_RUN))) {
			if (sweep_start(res->project, run->flags, c->killed,
			    res) == 0) {
				alive++;
				if (st != NULL)
					st_starts_add(st, res->pid);
			}
			continue;
		}
		res->action = c->action;
		if (alive < run->limit)
			add_note(res->reason, sizeof(res->reason), "not "
			    "started: %s", why.msg);
		else
			add_note(res->reason, sizeof(res->reason), "not "
			    "started: agent.max_runners (%ld) reached, %ld "
			    "runner%s alive", run->limit, alive, alive == 1 ?
			    "" : "s");
		if (run->cut == NULL)
			run->cut = res->project;
	}
	st_starts_unlock(st);
	run->ncand = 0;
}

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
	struct st_error		 cerr;
	st_config		*cfg;
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
	/* A global config that does not load fails each project's probe. */
	if (st_config_load(NULL, &cfg, &cerr) == 0) {
		run->limit = st_config_int(cfg, "agent.max_runners");
		st_config_free(cfg);
	}
	run->settled = st_xcalloc(run->pl.n == 0 ? 1 : run->pl.n, 1);
	run->cand = st_xcalloc(run->pl.n == 0 ? 1 : run->pl.n,
	    sizeof(*run->cand));
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
	sweep_limit(run);
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
			sweep_resume(run, run->g, p->path, run->flags,
			    &run->pr, run->hold, run->arg, &run->rs,
			    &run->l.v[i]);
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
		if (sweep_one(run, run->g, p, run->flags, prc, p->enabled ?
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
	/* Under a limit the starts are decided at the end (sweep_limit). */
	if (run->taken >= run->k || (run->limit > 0 && !run->done))
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
		run->ncand = 0;		/* nobody would take the runners */
		sweep_cut(run, "sweep stopped before it got here; the next "
		    "sweep starts here");
		sweep_finish(run);
	}
	st_prober_reap(&run->pb, cut ? 500 : 0);
	free(run->paths);
	free(run->settled);
	free(run->cand);
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
