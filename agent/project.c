/*
 * project.c -- the projects the agent watches: kept in step with the
 * registry, each one's .steroids watched by the native backend (or
 * polled), and checked after every change.
 *
 * The check after an event is repeated (at once, looking again every
 * 100 us for 2 ms; then 1 ms apart for 4 ms, then 2, 4 ... 1024 ms apart)
 * because the event comes before the commit that caused it is visible:
 * SQLite writes and syncs the WAL frames, then publishes the commit in
 * -shm, which raises no event (SPEC 8, "Trap").  A check made only at
 * the event misses the task that caused it.
 *
 * A ladder keeps its project's DB open from its first check to its last
 * (project_read): a check is then a read transaction, not SQLite parsing
 * the schema and, alone on a WAL DB, rebuilding the -shm from the WAL --
 * which, once per step, was most of the agent's CPU per reaction (make
 * bench, bench/README.md).  A file event closes the connection and
 * starts the ladder again on a fresh one, so a DB replaced on disk is
 * read anew.  Only a file event looks again every 100 us: after a
 * runner's exit, or a backoff, the event that might have come first is
 * older than the fine steps.
 *
 * The ladder ends early where the wait is known to be over: a check
 * made with none of our connections open first asks whether a writer is
 * mid-commit (st_pdb_writer_idle: SQLite's write locks); with none, every
 * commit whose event came before is visible to its read, so finding
 * nothing open it ends the ladder (and a runner's exit needs none).
 *
 * What is not an event -- the agent's start, a project added to the
 * registry or back from a missing folder, a lost event queue -- gets one
 * check per project instead, a few projects at a time whenever the loop
 * has nothing else to do (projects_rescan): at 10,000 projects a ladder
 * for each, or a check of all in one go, would keep the agent from its
 * events and signals for seconds, and lose more events on the way.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static int	home_tag;	/* the arg of the $STEROIDS_HOME watch */

static int	project_watch(struct project *);

/* A rescan round: at most this many checks, or this long, then events. */
#define RESCAN_CHUNK	64
#define RESCAN_SLICE	0.005
/* From a lost event queue to the rescan (projects_rescan). */
#define RESCAN_DELAY	0.05

static const double check_delays[CHECK_STEPS] = {
	0, .001, .001, .001, .001, .002, .004, .008, .016, .032, .064, .128,
	.256, .512, 1.024
};

static double
step_delay(int step)
{
	return (check_delays[step]);
}

struct project *
project_find(const char *path)
{
	return (hash_get(agent.byname, path, strlen(path)));
}

/*
 * Start a runner through the library's per-project sweep.  The caller has
 * set p->mark (project_counts) just before: see runner_track.  1 when a
 * runner was started (or one runs), 0 when none was (skipped: the ladder
 * must go on, or the wakeup is lost).
 */
int
project_start(struct project *p)
{
	struct st_sweep_result	res;
	struct st_error		err;
	int			started;

	memset(&res, 0, sizeof(res));
	if (st_sweep_project(agent.gdb, p->path, ST_SWEEP_NO_DETACH |
	    ST_SWEEP_IN_PROCESS, &res, &err) == -1) {
		log_warnx("%s: %s", p->path, err.msg);
		return (0);
	}
	started = res.pid > 0;
	switch (res.action) {
	case ST_SWEEP_STARTED:
	case ST_SWEEP_RESTARTED:
		p->skip_logged = 0;
		if (res.pid > 0) {
			runner_track(p->path, res.pid, 1, p->mark);
			agent.starts++;
			if (p->restart)
				agent.restarts++;
			p->restart = 0;
			log_info("%s: started a runner (pid %ld)", p->path,
			    (long)res.pid);
			status_changed();
		}
		break;
	case ST_SWEEP_SKIPPED:
		if (!p->skip_logged)
			log_warnx("%s: skipped: %s", p->path, res.reason);
		p->skip_logged = 1;
		break;
	default:
		break;
	}
	st_sweep_result_free(&res);
	return (started);
}

static void
project_pdb_close(struct project *p)
{
	if (p->pdb == NULL)
		return;
	st_pdb_close(p->pdb);
	p->pdb = NULL;
	agent.npdb--;
}

/*
 * p's counts (project_counts_wait) on the connection kept for its checks,
 * opened if need be; with PDB_KEEP_MAX kept already (3 fds each), on a
 * connection of its own.
 */
int
project_read(struct project *p, int tries, long *open, long *mark,
    struct st_error *err)
{
	int	had = p->pdb != NULL, rc, keep;

	/*
	 * Not while a sweep runs: its probe children are forked from us,
	 * and a child must not inherit SQLite's record of an open DB (the
	 * probe of that project would take no real lock, or hang on it).
	 */
	keep = had || (agent.npdb < PDB_KEEP_MAX && !sweep_running());
	rc = project_counts_wait(p->path, keep ? &p->pdb : NULL, tries, open,
	    mark, err);
	if (!had && p->pdb != NULL)
		agent.npdb++;
	else if (had && p->pdb == NULL)
		agent.npdb--;
	return (rc);
}

/*
 * 1 when no writer is mid-commit on p's DB (st_pdb_writer_idle).  Asked
 * only with no connection of ours open on that file: the question opens
 * and closes a descriptor on it, and a close drops every POSIX lock this
 * process holds on the file, SQLite's included.  So never for a project
 * whose .steroids is $STEROIDS_HOME, whose DB is the registry the agent
 * keeps open.
 */
int
project_writer_idle(struct project *p)
{
	return (p->pdb == NULL && !p->home && st_pdb_writer_idle(p->path) == 1);
}

/* A sweep begins (its probes fork): close every kept connection. */
void
projects_release_all(void)
{
	struct project	*p;

	if (agent.npdb == 0)
		return;
	TAILQ_FOREACH(p, &agent.projects, entry)
		project_pdb_close(p);
}

/* Close p's kept connection, unless its ladder of checks goes on. */
void
project_release(struct project *p)
{
	if (!ev_is_active(&p->check))
		project_pdb_close(p);
}

/*
 * One check: 1 when the ladder can stop (a runner runs or was started,
 * the project waits out its backoff, or nothing is pending and no writer
 * is mid-commit); 0 when nothing is pending yet (the ladder looks
 * again); -1 when it could not tell (the lock held and
 * no PID written yet, the DB not readable, a start skipped): a single
 * check of a rescan hands these to a ladder.  tries: how many times to
 * look again 100 us apart while nothing is pending.
 */
static int
project_check(struct project *p, int tries)
{
	struct st_error	err;
	pid_t		holder;
	long		n;
	int		held, idle;

	if (runner_find(p->path) != NULL || ev_is_active(&p->backoff))
		return (1);
	held = st_lock_probe(p->path, &holder);
	if (held == 1) {
		if (holder > 0 && st_pid_alive(holder)) {
			runner_track(p->path, holder, 0,
			    progress_mark(p->path));
			return (1);
		}
		return (-1);	/* it has not written its PID yet */
	}
	if (held == -1)
		return (-1);
	/*
	 * No writer mid-commit now (asked only while we have no connection
	 * of our own open: st_pdb_writer_idle): then every commit whose
	 * event came before is visible to the read below, and if that finds
	 * nothing open the ladder can end here.  Else the ladder goes on.
	 */
	idle = project_writer_idle(p);
	if (project_read(p, idle ? 0 : tries, &n, &p->mark, &err) == -1) {
		log_debug("%s: %s", p->path, err.msg);
		return (-1);
	}
	if (n == 0)
		return (idle ? 1 : 0);
	return (project_start(p) ? 1 : -1);
}

static void
check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct project	*p = t->data;

	(void)revents;
	/* After an event, the first check looks again every 100 us for 2 ms. */
	if (project_check(p, p->step == 0 && p->fast ? FAST_TRIES : 0) != 1 &&
	    ++p->step < CHECK_STEPS) {
		ev_timer_set(t, step_delay(p->step), 0.);
		ev_timer_start(loop, t);
		return;
	}
	project_pdb_close(p);	/* the ladder is over */
}

static void
ladder_start(struct project *p, int fast)
{
	p->step = 0;
	p->fast = fast;
	ev_timer_stop(agent.loop, &p->check);
	ev_timer_set(&p->check, step_delay(0), 0.);
	ev_timer_start(agent.loop, &p->check);
}

/* Something may have changed (a runner's exit, a backoff over): check. */
void
project_kick(struct project *p)
{
	ladder_start(p, 0);
}

/* A file event: check on a fresh connection, the first step finely. */
static void
project_event(struct project *p)
{
	project_pdb_close(p);
	ladder_start(p, 1);
}

/* Queue p for one check (see projects_rescan). */
static void
project_queue(struct project *p)
{
	if (p->queued)
		return;
	TAILQ_INSERT_TAIL(&agent.rescan, p, rescan_entry);
	p->queued = 1;
	if (!ev_is_active(&agent.rescan_delay))
		ev_idle_start(agent.loop, &agent.rescan_idle);
}

static void
project_unqueue(struct project *p)
{
	if (!p->queued)
		return;
	TAILQ_REMOVE(&agent.rescan, p, rescan_entry);
	p->queued = 0;
}

/*
 * A few checks of the queue, then back to the loop: libev calls this
 * only when no other event is pending, so reactions and signals go
 * first.  A project whose ladder runs is left to its ladder.
 */
static void
rescan_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct project	*p;
	ev_tstamp	 end;
	int		 n;

	(void)revents;
	end = ev_time() + RESCAN_SLICE;
	for (n = 0; n < RESCAN_CHUNK; n++) {
		if ((p = TAILQ_FIRST(&agent.rescan)) == NULL)
			break;
		project_unqueue(p);
		/* Given up by its backend (agent_gone) but still there. */
		if (p->w == NULL && project_watch(p) == 0) {
			log_info("%s: watching it again (%s)", p->path,
			    p->wb->name);
			status_changed();
		}
		if (!ev_is_active(&p->check)) {
			/*
			 * Nothing visible while a writer may be mid-commit
			 * (the Trap), or could not tell: a ladder.
			 */
			if (project_check(p, 0) != 1)
				project_kick(p);
			else
				project_release(p);
		}
		if (ev_time() >= end)
			break;
	}
	if (TAILQ_EMPTY(&agent.rescan)) {
		ev_idle_stop(loop, w);
		log_debug("rescan done");
	}
}

static void
rescan_delay_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	if (!TAILQ_EMPTY(&agent.rescan))
		ev_idle_start(loop, &agent.rescan_idle);
}

/*
 * One check of every project, delay seconds from now, made as above.
 * After a lost event queue the delay lets the commits whose events were
 * lost become visible first (SPEC 8, "Trap").
 */
void
projects_rescan(double delay)
{
	struct project	*p;

	/*
	 * The wait holds the whole queue back, a rescan under way too; a
	 * wait already running is not put off (overflows in a row).
	 */
	if (delay > 0) {
		ev_idle_stop(agent.loop, &agent.rescan_idle);
		if (!ev_is_active(&agent.rescan_delay)) {
			ev_timer_set(&agent.rescan_delay, delay, 0.);
			ev_timer_start(agent.loop, &agent.rescan_delay);
		}
	}
	TAILQ_FOREACH(p, &agent.projects, entry)
		project_queue(p);
}

void
projects_init(void)
{
	TAILQ_INIT(&agent.projects);
	TAILQ_INIT(&agent.rescan);
	if ((agent.byname = hash_new()) == NULL)
		fatalx("out of memory");
	ev_timer_init(&agent.rescan_delay, rescan_delay_cb, 0., 0.);
	ev_idle_init(&agent.rescan_idle, rescan_cb);
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct project	*p = t->data;

	(void)loop;
	(void)revents;
	log_debug("%s: backoff over", p->path);
	status_changed();
	project_kick(p);
}

static void
project_unwatch(struct project *p)
{
	if (p->w != NULL)
		p->wb->del(p->w);
	p->w = NULL;
	p->wb = NULL;
}

/* Watch .steroids natively, else poll it; 0 watched, -1 it is gone. */
static int
project_watch(struct project *p)
{
	struct stat	sb;
	int		e;

	if (stat(p->dir, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return (-1);
	p->dev = sb.st_dev;
	p->ino = sb.st_ino;
	p->wb = agent.native;
	if ((p->w = p->wb->add(p->dir, p)) != NULL)
		return (0);
	e = errno;
	if (e == ENOENT || e == ENOTDIR) {
		p->wb = NULL;
		return (-1);
	}
	if (!p->poll_logged)
		log_warnx("%s: cannot watch with %s (%s); polling it every "
		    "%gs instead", p->path, agent.native->name, strerror(e),
		    agent.poll_interval);
	p->poll_logged = 1;
	p->wb = &watch_poll;
	if ((p->w = p->wb->add(p->dir, p)) != NULL)
		return (0);
	p->wb = NULL;
	return (-1);
}

static struct project *
project_new(const char *path)
{
	struct project	*p;
	struct stat	 sb, hb;

	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->path = strdup(path)) == NULL ||
	    asprintf(&p->dir, "%s/" ST_PROJECT_DIR, path) == -1)
		fatalx("out of memory");
	ev_timer_init(&p->check, check_cb, 0., 0.);
	p->check.data = p;
	ev_timer_init(&p->backoff, backoff_cb, 0., 0.);
	p->backoff.data = p;
	if (hash_put(agent.byname, p->path, strlen(p->path), p) == -1)
		fatalx("out of memory");
	if (stat(p->dir, &sb) == 0 && stat(agent.home, &hb) == 0 &&
	    sb.st_dev == hb.st_dev && sb.st_ino == hb.st_ino)
		p->home = 1;	/* project_writer_idle */
	backoff_restore(p);	/* disabled and enabled in backoff */
	TAILQ_INSERT_TAIL(&agent.projects, p, entry);
	if (project_watch(p) == -1)
		log_info("%s: not found; the sweep will look for it again",
		    p->path);
	else
		log_debug("%s: watched (%s)", p->path, p->wb->name);
	return (p);
}

static void
project_free(struct project *p)
{
	TAILQ_REMOVE(&agent.projects, p, entry);
	hash_del(agent.byname, p->path, strlen(p->path));
	project_unqueue(p);
	project_unwatch(p);
	project_pdb_close(p);
	backoff_save(p);
	ev_timer_stop(agent.loop, &p->check);
	ev_timer_stop(agent.loop, &p->backoff);
	free(p->dir);
	free(p->path);
	free(p);
}

void
projects_free(void)
{
	struct project	*p;

	while ((p = TAILQ_FIRST(&agent.projects)) != NULL)
		project_free(p);
	ev_idle_stop(agent.loop, &agent.rescan_idle);
	ev_timer_stop(agent.loop, &agent.rescan_delay);
	hash_free(agent.byname);
	agent.byname = NULL;
	backoffs_free();
}

/* Bring the watched set in line with the enabled projects of the registry. */
void
projects_sync(void)
{
	struct st_project_list	 l;
	struct st_error		 err;
	struct project		*p, *next;
	size_t			 i, added = 0;

	if (st_registry_list(agent.gdb, 1, &l, &err) == -1) {
		log_warnx("cannot read the registry: %s", err.msg);
		return;
	}
	TAILQ_FOREACH(p, &agent.projects, entry)
		p->seen = 0;
	for (i = 0; i < l.n; i++) {
		if (!l.v[i].enabled)
			continue;
		if ((p = project_find(l.v[i].path)) == NULL) {
			p = project_new(l.v[i].path);
			log_info("%s: now watching", p->path);
			p->fresh = 1;
			added++;
			status_changed();
		}
		p->seen = 1;
	}
	/*
	 * A project or a few (one just registered, and maybe given a task
	 * the moment before its watch existed: SPEC 8, Trap) get the ladder;
	 * many at once (the agent's start) one check each, queued.
	 */
	TAILQ_FOREACH(p, &agent.projects, entry) {
		if (!p->fresh)
			continue;
		p->fresh = 0;
		if (added <= RESCAN_CHUNK)
			project_kick(p);
		else
			project_queue(p);
	}
	for (p = TAILQ_FIRST(&agent.projects); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->seen)
			continue;
		log_info("%s: removed or disabled; no longer watched", p->path);
		project_free(p);
		status_changed();
	}
	st_project_list_free(&l);
}

/*
 * After a sweep: watch again what came back, drop what went away or was
 * replaced (a folder moved away raises no event on its .steroids).
 */
void
projects_revalidate(void)
{
	struct project	*p;
	struct stat	 sb;

	TAILQ_FOREACH(p, &agent.projects, entry) {
		if (p->w != NULL && (stat(p->dir, &sb) == -1 ||
		    sb.st_dev != p->dev || sb.st_ino != p->ino)) {
			log_info("%s: .steroids is gone or replaced", p->path);
			project_unwatch(p);
			project_pdb_close(p);
			status_changed();
		}
		if (p->w == NULL && project_watch(p) == 0) {
			log_info("%s: back; watching it again (%s)", p->path,
			    p->wb->name);
			project_queue(p);
			status_changed();
		}
	}
}

/* ---- callbacks of the watch backends ---- */

void
agent_changed(void *arg)
{
	if (arg == &home_tag)
		home_kick();
	else
		project_event(arg);
}

void
agent_gone(void *arg)
{
	struct project	*p = arg;
	struct stat	 sb;
	const char	*name;

	if (arg == &home_tag) {
		log_warnx("%s is gone; registry changes are seen at the next "
		    "sweep", agent.home);
		home_unwatch();
		return;
	}
	if (p->w == NULL)
		return;
	name = p->wb->name;
	project_unwatch(p);
	project_pdb_close(p);
	status_changed();
	/*
	 * Still there: the backend gave its watch up (kqueue past a limit).
	 * Watch it again from the rescan, natively or polled, and check it
	 * then: not from here, a backend's callback.
	 */
	if (stat(p->dir, &sb) == 0 && sb.st_dev == p->dev &&
	    sb.st_ino == p->ino) {
		log_info("%s: the %s watch gave up; watching it again",
		    p->path, name);
		project_queue(p);
		return;
	}
	log_info("%s: .steroids is gone; unwatched until the sweep finds it "
	    "again", p->path);
}

void
agent_overflow(void)
{
	log_warnx("event queue overflow: rescanning every project");
	home_kick();
	projects_rescan(RESCAN_DELAY);
}

/* ---- $STEROIDS_HOME: the registry ---- */

static void
home_check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct st_error	err;
	long long	v;

	(void)revents;
	if (st_gdb_data_version(agent.gdb, &v, &err) == -1)
		log_debug("%s", err.msg);
	else if (v != agent.data_version) {
		agent.data_version = v;
		projects_sync();
	}
	if (++agent.home_step < CHECK_STEPS) {
		ev_timer_set(t, step_delay(agent.home_step), 0.);
		ev_timer_start(loop, t);
	}
}

void
home_init(void)
{
	ev_timer_init(&agent.home_check, home_check_cb, 0., 0.);
}

void
home_kick(void)
{
	agent.home_step = 0;
	ev_timer_stop(agent.loop, &agent.home_check);
	ev_timer_set(&agent.home_check, step_delay(0), 0.);
	ev_timer_start(agent.loop, &agent.home_check);
}

void
home_watch(void)
{
	struct st_error	err;

	if (agent.home_w != NULL)
		return;
	if (st_gdb_data_version(agent.gdb, &agent.data_version, &err) == -1)
		log_debug("%s", err.msg);
	agent.home_wb = agent.native;
	if ((agent.home_w = agent.home_wb->add(agent.home, &home_tag)) != NULL)
		return;
	log_warn("cannot watch %s with %s; polling it", agent.home,
	    agent.native->name);
	agent.home_wb = &watch_poll;
	if ((agent.home_w = agent.home_wb->add(agent.home, &home_tag)) == NULL)
		log_warn("cannot poll %s", agent.home);
}

void
home_unwatch(void)
{
	if (agent.home_w != NULL)
		agent.home_wb->del(agent.home_w);
	agent.home_w = NULL;
	ev_timer_stop(agent.loop, &agent.home_check);
}
