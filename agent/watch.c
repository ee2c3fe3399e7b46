/*
 * watch.c -- the watch stage: the projects, kept in step with the
 * registry; each one's .steroids watched by the native backend (or
 * polled); every change checked (check.c) and, where there is work and
 * no runner, started (start.c).  A project whose check misses its
 * deadline is hung: logged once, retried with backoff, and nothing else
 * waits for it.
 *
 * The check after an event is repeated (at once, looking again every
 * 100 us for 2 ms; then 1 ms apart for 4 ms, then 2, 4 ... 1024 ms apart)
 * because the event comes before the commit that caused it is visible
 * (SPEC 8, "Trap").  A ladder's checks share one DB connection, kept by
 * the worker; a file event starts again on a fresh one, so a DB replaced
 * on disk is read anew.  The ladder ends early where the wait is known
 * to be over: no writer mid-commit (st_pdb_writer_idle) and nothing open.
 *
 * What is not an event -- the agent's start, a project back from a
 * missing folder, a lost event queue -- gets one check per project,
 * queued a few at a time (projects_rescan), so reactions go first.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* A rescan keeps at most this many checks queued. */
#define RESCAN_CHUNK	64
/* From a lost event queue to the rescan (projects_rescan). */
#define RESCAN_DELAY	0.05
#define RELEASE_DELAY	0.01	/* s: a runner's exec is ~1.5 ms, 5 at p99 */

static const double check_delays[CHECK_STEPS] = {
	0, .001, .001, .001, .001, .002, .004, .008, .016, .032, .064, .128,
	.256, .512, 1.024
};

static struct hash	*byname;	/* path -> project */
static TAILQ_HEAD(, project) rescan = TAILQ_HEAD_INITIALIZER(rescan);
static ev_timer		 rescan_delay;
static ev_idle		 rescan_idle;

static int			 home_tag;	/* arg of the home watch */
static const struct watch_backend *home_wb;
static struct watch		*home_w;
static ev_timer			 home_check;
static int			 home_step;
static long long		 data_version;
static int			 closing;	/* projects_free */
static long			 first_stats;	/* unanswered, at the start */
static int			 first_wait;	/* projects_ready: 1 waiting */
static ev_timer			 first_timer;
static dev_t			 home_dev;
static ino_t			 home_ino;

static void	ladder_send(struct project *);
static void	release_now(struct project *);
static void	home_check_cb(struct ev_loop *, ev_timer *, int);
static void	project_stat(struct project *, int, int);

struct project *
project_find(const char *path)
{
	return (hash_get(byname, path, strlen(path)));
}

/* The flags of p's checks. */
static int
check_flags(const struct project *p)
{
	return (CK_IDLE | CK_START | (p->home ? CK_HOME : 0));
}

/* ---- hung projects ---- */

/* p->hung; agent.status's count follows it. */
static void
project_set_hung(struct project *p, int hung)
{
	agent.n_hung += hung - p->hung;
	p->hung = hung;
}

static void
project_hang(struct project *p, const char *why)
{
	if (!p->hung) {
		log_warnx("%s: hung (%s); retried with backoff, no other "
		    "project waits for it", p->path, why);
		project_set_hung(p, 1);
		p->hung_delay = agent.backoff_initial;
		status_changed();
	} else {
		p->hung_delay *= 2;
		if (p->hung_delay > agent.backoff_max)
			p->hung_delay = agent.backoff_max;
		if (p->hung_delay > HUNG_RETRY_MAX)
			p->hung_delay = HUNG_RETRY_MAX;
		log_debug("%s: still hung (%s); next try in %gs", p->path, why,
		    p->hung_delay);
	}
	p->ladder = 0;
	p->ck_again = 0;
	p->kept = 0;	/* its worker is gone, or dropped it */
	limit_drop(p);	/* back in the queue once it answers */
	ev_timer_stop(agent.loop, &p->check);
	ev_timer_stop(agent.loop, &p->retry);
	ev_timer_set(&p->retry, p->hung_delay, 0.);
	ev_timer_start(agent.loop, &p->retry);
}

/*
 * Every answer about p comes through here: -1 when it says p is hung (no
 * answer in time, its DB locked), else 0.  Only a check (OP_CHECK: lock,
 * DB, config) says p answers again; a stat answers for its folder only.
 */
int
project_answered(struct project *p, const struct check_answer *a, int check)
{
	char	why[64];

	if (a->timeout != 0) {
		if (a->timeout == CK_TIMEOUT)
			snprintf(why, sizeof(why), "no answer within %gs",
			    check_timeout);
		else
			strlcpy(why, "its check failed", sizeof(why));
		project_hang(p, why);
		return (-1);
	}
	if (a->code == ST_ELOCKED) {
		project_hang(p, "its database is locked");
		return (-1);
	}
	if (check)
		p->answered = 1;
	if (p->hung && check) {
		project_set_hung(p, 0);
		p->hung_delay = 0;
		ev_timer_stop(agent.loop, &p->retry);
		log_info("%s: answers again", p->path);
		status_changed();
	}
	return (0);
}

/* A hung project's next try: its checks, though it is hung. */
static void
retry_check(struct project *p)
{
	p->ladder = 1;
	p->step = 0;
	p->fast = 0;
	if (p->ck_busy)
		p->ck_again = 1;
	else
		ladder_send(p);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct project	*p = t->data;

	(void)loop;
	(void)revents;
	if (check_stuck(p->path)) {
		/* Its last check's worker is in the kernel still: not yet. */
		project_hang(p, "its last check has not ended");
		return;
	}
	log_debug("%s: hung: trying again", p->path);
	if (p->w == NULL)
		project_stat(p, THEN_KICK, CK_BULK);	/* behind healthy ones */
	else
		retry_check(p);
}

/* ---- checks ---- */

/*
 * What an answer means for p: 1 when its checks can stop (a runner runs
 * or was started, it waits out a backoff, it is hung, or nothing is
 * pending and no writer is mid-commit); 0 when nothing is pending yet
 * (look again); -1 when it could not tell (the lock held and no PID
 * written yet, the DB not readable, a start skipped).
 */
static int
verdict(struct project *p, struct check_answer *a)
{
	if (project_answered(p, a, 1) == -1)
		return (1);
	/* A runner's exit being checked decides (supervise.c): backoff. */
	if (runner_find(p->path) != NULL || ev_is_active(&p->backoff) ||
	    p->exiting > 0)
		return (1);
	if (a->held == 1) {
		if (a->holder > 0 && st_pid_alive(a->holder)) {
			runner_track(p->path, a->holder, 0, a->mark);
			return (1);
		}
		return (-1);	/* it has not written its PID yet */
	}
	if (a->held == -1 || a->work == -1) {
		log_debug("%s: %s", p->path, a->msg);
		return (-1);
	}
	p->mark = a->mark;
	if (a->work == 0)
		return (a->idle == 1 ? 1 : 0);
	return (start_runner(p, a) ? 1 : -1);
}

/* A queued project whose check did not queue it again needs no place. */
static int
project_verdict(struct project *p, struct check_answer *a)
{
	int	rc;

	p->wait_now = 0;	/* limit_admit sets it if it queues p */
	rc = verdict(p, a);
	if (p->waiting && !p->wait_now)
		limit_drop(p);
	return (rc);
}

static void
note_kept(struct project *p, const struct check_answer *a)
{
	p->kept = a->kept;
	p->kept_gen = a->gen;
}

/*
 * A check of p came back: a ladder waiting for it goes on now, unless a
 * runner of p is tracked by now (events while it runs are its work).
 */
static int
check_done(struct project *p)
{
	p->ck_busy = 0;
	if (!p->ck_again || runner_find(p->path) != NULL) {
		p->ck_again = 0;
		return (0);
	}
	p->ck_again = 0;
	ladder_send(p);
	return (1);
}

static void
ladder_answer(const char *path, struct check_answer *a, void *arg)
{
	struct project	*p;
	int		 rc;

	(void)arg;
	if (a->timeout == CK_CANCELLED || (p = project_find(path)) == NULL)
		return;
	note_kept(p, a);
	rc = project_verdict(p, a);
	if (p->hung) {
		p->ck_busy = 0;
		return;
	}
	if (check_done(p))
		return;
	if (rc != 1 && ++p->step < CHECK_STEPS) {
		ev_timer_set(&p->check, check_delays[p->step], 0.);
		ev_timer_start(agent.loop, &p->check);
		return;
	}
	log_debug("%s: checks over", p->path);
	p->ladder = 0;
	start_forget(p);
	project_release(p);
}

static void
ladder_send(struct project *p)
{
	int	flags = check_flags(p) | CK_KEEP;

	if (p->ck_fresh)
		flags |= CK_FRESH;
	if (!p->answered || p->hung)
		flags |= CK_QUICK;
	p->ck_fresh = 0;
	p->ck_busy = 1;
	/*
	 * After an event, the first check looks again every 100 us for 2 ms.
	 * A hung project's checks (its retries) go behind every healthy
	 * project's, bulk ones too: they are likely to hang again.  One not
	 * known to answer hands the queue on sooner (CK_QUICK, check.c), so
	 * many hung ones at the agent's start add up to little.
	 */
	check_submit(OP_CHECK, p->path, flags, p->step == 0 && p->fast ?
	    FAST_TRIES : 0, p->hung ? CK_BULK : CK_URGENT, ladder_answer,
	    NULL);
	if (p->step == 0 && p->fast && !p->hung)
		start_early(p);	/* while the worker is at it */
}

static void
step_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct project	*p = t->data;

	(void)loop;
	(void)revents;
	if (!p->ladder) {
		release_now(p);	/* project_release's, RELEASE_DELAY on */
		return;
	}
	if (p->ck_busy)
		p->ck_again = 1;	/* sent when the one in flight is back */
	else
		ladder_send(p);
}

static void
ladder_start(struct project *p, int fast)
{
	if (p->hung)
		return;		/* its retry checks it */
	p->ladder = 1;
	p->step = 0;
	p->fast = fast;
	ev_timer_stop(agent.loop, &p->check);
	ev_timer_set(&p->check, check_delays[0], 0.);
	ev_timer_start(agent.loop, &p->check);
}

/* Something may have changed (a runner's exit, a backoff over): check. */
void
project_kick(struct project *p)
{
	ladder_start(p, 0);
}

/*
 * A file event: check on a fresh connection, the first step finely.
 * None while a runner of p is tracked: its own commits are most of these
 * events, it does the work, and its exit is checked (supervise.c).
 */
static void
project_event(struct project *p)
{
	if (runner_find(p->path) != NULL)
		return;
	p->ck_fresh = 1;
	ladder_start(p, 1);
}

static void
release_answer(const char *path, struct check_answer *a, void *arg)
{
	(void)path;
	(void)a;
	(void)arg;
}

static void
release_now(struct project *p)
{
	if (p->ladder || !p->kept || closing)
		return;
	p->kept = 0;
	if (check_gen_current(p->kept_gen))
		check_submit(OP_RELEASE, p->path, 0, 0, CK_BULK,
		    release_answer, NULL);
}

/*
 * The worker closes p's kept connection, unless its checks go on: after
 * RELEASE_DELAY, on p's check timer (its ladder is over), so that the
 * release (a worker's wakeup, maybe a close) does not share the two
 * cores with the exec of a runner just started; a ladder begun meanwhile
 * reads the connection again instead.
 */
void
project_release(struct project *p)
{
	if (p->ladder || !p->kept || closing)
		return;
	ev_timer_stop(agent.loop, &p->check);
	ev_timer_set(&p->check, RELEASE_DELAY, 0.);
	ev_timer_start(agent.loop, &p->check);
}

/* ---- one check each, a few at a time ---- */

static void
project_unqueue(struct project *p)
{
	if (!p->queued)
		return;
	TAILQ_REMOVE(&rescan, p, rescan_entry);
	p->queued = 0;
}

static void
project_queue(struct project *p)
{
	if (p->queued || p->hung)
		return;
	TAILQ_INSERT_TAIL(&rescan, p, rescan_entry);
	p->queued = 1;
	if (!ev_is_active(&rescan_delay))
		ev_idle_start(agent.loop, &rescan_idle);
}

static void
rescan_answer(const char *path, struct check_answer *a, void *arg)
{
	struct project	*p;
	int		 rc;

	(void)arg;
	if (a->timeout == CK_CANCELLED)
		return;
	if (!TAILQ_EMPTY(&rescan) && !ev_is_active(&rescan_delay))
		ev_idle_start(agent.loop, &rescan_idle);
	if ((p = project_find(path)) == NULL)
		return;
	rc = project_verdict(p, a);
	if (p->hung) {
		p->ck_busy = 0;
		return;
	}
	if (check_done(p))
		return;
	/* Nothing visible while a writer may be mid-commit, or unknown. */
	if (rc != 1)
		project_kick(p);
}

/*
 * Queue the next checks, then back to the loop: libev calls this only
 * when no other event is pending, and the answers bring it back.
 */
static void
rescan_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct project	*p;

	(void)revents;
	ev_idle_stop(loop, w);
	while (check_backlog() < RESCAN_CHUNK &&
	    (p = TAILQ_FIRST(&rescan)) != NULL) {
		project_unqueue(p);
		if (p->ladder || p->ck_busy || p->hung)
			continue;	/* its ladder, or its retry, checks it */
		p->ck_busy = 1;
		check_submit(OP_CHECK, p->path, check_flags(p), 0, CK_BULK,
		    rescan_answer, NULL);
	}
	if (TAILQ_EMPTY(&rescan))
		log_debug("rescan queued");
}

static void
rescan_delay_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	if (!TAILQ_EMPTY(&rescan))
		ev_idle_start(loop, &rescan_idle);
}

/*
 * One check of every project, delay seconds from now.  After a lost
 * event queue the delay lets the commits whose events were lost become
 * visible first (SPEC 8, "Trap"); a wait already running is not put off.
 */
static void
projects_rescan(double delay)
{
	struct project	*p;

	if (delay > 0) {
		ev_idle_stop(agent.loop, &rescan_idle);
		if (!ev_is_active(&rescan_delay)) {
			ev_timer_set(&rescan_delay, delay, 0.);
			ev_timer_start(agent.loop, &rescan_delay);
		}
	}
	TAILQ_FOREACH(p, &agent.projects, entry)
		project_queue(p);
}

/* ---- watches ---- */

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct project	*p = t->data;

	(void)loop;
	(void)revents;
	backoff_expired();
	log_debug("%s: backoff over", p->path);
	status_changed();
	project_kick(p);
}

/* The count agent.status shows for a watch backend (NULL: none). */
static long *
wb_count(const struct watch_backend *wb)
{
	if (wb == NULL)
		return (&agent.n_unwatched);
	return (wb == &watch_poll ? &agent.n_polled : &agent.n_native);
}

static void
project_set_wb(struct project *p, const struct watch_backend *wb)
{
	(*wb_count(p->wb))--;
	p->wb = wb;
	(*wb_count(wb))++;
}

static void
project_unwatch(struct project *p)
{
	if (p->w != NULL)
		p->wb->del(p->w);
	p->w = NULL;
	project_set_wb(p, NULL);
}

/*
 * Watch .steroids natively, else poll it; 0 watched, -1 it is gone.  The
 * native backends have the worker make the watch with its stat, so the
 * path is never looked up on the loop: inotify's in the instance they
 * share (a's token), kqueue's as the files' descriptors (a's wfd).
 */
static int
project_watch(struct project *p, struct check_answer *a)
{
	static unsigned	gen;
	int		e, i;

	project_set_wb(p, agent.native);
	p->wgen = ++gen;	/* what agent_reopen asks for is this watch's */
	if (a->watched == 1)
		p->w = p->wb->add_token(a->token, p);
	else if (a->watched == 3) {
		p->w = p->wb->add_fds(p->dir, a->wfd, a->wid, p);
		for (i = 0; i < 3; i++)
			a->wfd[i] = -1;		/* the backend's now */
	} else if (a->watched == -1) {
		p->w = NULL;
		errno = a->werr;
	} else
		p->w = p->wb->add(p->dir, p);
	if (p->w != NULL)
		return (0);
	e = errno;
	if (e == ENOENT || e == ENOTDIR) {
		project_set_wb(p, NULL);
		return (-1);
	}
	if (!p->poll_logged)
		log_warnx("%s: cannot watch with %s (%s); polling it every "
		    "%gs instead", p->path, agent.native->name, strerror(e),
		    agent.poll_interval);
	p->poll_logged = 1;
	project_set_wb(p, &watch_poll);
	if ((p->w = p->wb->add(p->dir, p)) != NULL)
		return (0);
	project_set_wb(p, NULL);
	return (-1);
}

/* Does a stat's worker make the watch too (the backend can, natively)? */
static int
stat_watches(void)
{
	return (agent.native->worker_add != NULL ||
	    agent.native->worker_open != NULL);
}

static void
stat_apply(const char *path, struct check_answer *a)
{
	struct project	*p;
	int		 first, then;

	if ((p = project_find(path)) == NULL)
		return;
	p->st_busy = 0;
	if (project_answered(p, a, 0) == -1)
		return;
	if (p->w != NULL && (!a->isdir || a->dev != p->dev ||
	    a->ino != p->ino)) {
		log_info("%s: .steroids is gone or replaced", p->path);
		project_unwatch(p);
		project_release(p);
		check_forget(p->path);
		status_changed();
	}
	if (p->w != NULL)
		return;
	/* Asked while it was watched: ask again, for the watch too. */
	if (a->isdir && a->watched == 0 && stat_watches()) {
		project_stat(p, p->then, CK_URGENT);
		return;
	}
	first = !p->known;
	then = p->then;
	p->then = THEN_NOTHING;
	if (!a->isdir || (p->dev = a->dev, p->ino = a->ino,
	    project_watch(p, a) == -1)) {
		if (first)
			log_info("%s: not found; the sweep will look for it "
			    "again", p->path);
		p->known = 1;
		/* Gone is an answer: the sweep finds it again, not a retry. */
		(void)project_answered(p, a, 1);
		return;
	}
	p->known = 1;
	p->home = a->dev == home_dev && a->ino == home_ino;
	if (first)
		log_debug("%s: watched (%s)", p->path, p->wb->name);
	else
		log_info("%s: back; watching it again (%s)", p->path,
		    p->wb->name);
	status_changed();
	if (p->hung)
		retry_check(p);	/* its folder answers: now the rest */
	else if (then == THEN_KICK)
		project_kick(p);
	else if (then == THEN_QUEUE)
		project_queue(p);
}

static void
stat_answer(const char *path, struct check_answer *a, void *arg)
{
	if (a->timeout == CK_CANCELLED)
		return;
	stat_apply(path, a);
	if (arg != NULL && --first_stats == 0 && first_wait)
		projects_ready();
}

/* Ask for a stat of p's .steroids; once it answers, watch and then. */
static void
project_stat(struct project *p, int then, int prio)
{
	if (then > p->then)
		p->then = then;		/* the stronger of the two */
	if (p->st_busy)
		return;
	p->st_busy = 1;
	/* Before the agent is ready: counted in first_stats (arg). */
	if (first_wait != -1)
		first_stats++;
	/* A folder never seen, or hung: CK_QUICK, as in ladder_send. */
	check_submit(OP_STAT, p->path, (p->w == NULL && stat_watches() ?
	    CK_WATCH : 0) | (!p->known || p->hung ? CK_QUICK : 0), 0, prio,
	    stat_answer, first_wait != -1 ? &first_stats : NULL);
}

static void
first_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	first_stats = 0;
	projects_ready();
}

/*
 * The first agent.status (the sign that the agent is ready) once every
 * project's folder has answered, or a hung one has had its time: it
 * then shows what is watched.
 */
void
projects_ready(void)
{
	if (first_wait == -1)
		return;
	if (first_stats > 0) {
		if (!first_wait) {
			ev_timer_init(&first_timer, first_timer_cb,
			    check_timeout + 0.1, 0.);
			ev_timer_start(agent.loop, &first_timer);
		}
		first_wait = 1;
		return;
	}
	if (first_wait == 1)
		ev_timer_stop(agent.loop, &first_timer);
	first_wait = -1;
	status_write();
}

static struct project *
project_new(const char *path)
{
	struct project	*p;

	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->path = strdup(path)) == NULL ||
	    asprintf(&p->dir, "%s/" ST_PROJECT_DIR, path) == -1)
		fatalx("out of memory");
	ev_timer_init(&p->check, step_cb, 0., 0.);
	p->check.data = p;
	ev_timer_init(&p->backoff, backoff_cb, 0., 0.);
	p->backoff.data = p;
	ev_timer_init(&p->retry, retry_cb, 0., 0.);
	p->retry.data = p;
	agent.n_unwatched++;	/* p->wb NULL */
	if (hash_put(byname, p->path, strlen(p->path), p) == -1)
		fatalx("out of memory");
	backoff_restore(p);	/* disabled and enabled in backoff */
	TAILQ_INSERT_TAIL(&agent.projects, p, entry);
	return (p);
}

static void
project_free(struct project *p)
{
	p->ladder = 0;
	project_release(p);
	check_forget(p->path);
	TAILQ_REMOVE(&agent.projects, p, entry);
	hash_del(byname, p->path, strlen(p->path));
	project_unqueue(p);
	limit_drop(p);
	project_unwatch(p);
	backoff_save(p);
	ev_timer_stop(agent.loop, &p->check);
	backoff_disarm(p);
	ev_timer_stop(agent.loop, &p->retry);
	project_set_hung(p, 0);
	agent.n_unwatched--;	/* project_unwatch made it one */
	free(p->dir);
	free(p->path);
	free(p);
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
		/* Another tool may store any row: no path we cannot handle. */
		if (l.v[i].path[0] != '/' ||
		    strlen(l.v[i].path) >= PATH_MAX - 64) {
			log_warnx("registry: a project path of %zu bytes is not "
			    "an absolute path this system can use; skipped",
			    strlen(l.v[i].path));
			continue;
		}
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
			project_stat(p, THEN_KICK, CK_URGENT);
		else
			project_stat(p, THEN_QUEUE, CK_BULK);
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
 * replaced (a folder moved away raises no event on its .steroids).  A
 * hung project is left to its retry.
 */
void
projects_revalidate(void)
{
	struct project	*p;

	TAILQ_FOREACH(p, &agent.projects, entry)
		if (!p->hung)
			project_stat(p, THEN_QUEUE, CK_BULK);
}

void
projects_init(void)
{
	struct stat	sb;

	TAILQ_INIT(&agent.projects);
	if ((byname = hash_new()) == NULL)
		fatalx("out of memory");
	ev_timer_init(&rescan_delay, rescan_delay_cb, 0., 0.);
	ev_idle_init(&rescan_idle, rescan_cb);
	ev_timer_init(&home_check, home_check_cb, 0., 0.);
	/* $STEROIDS_HOME as a project's .steroids: see CK_HOME. */
	if (stat(agent.home, &sb) == 0) {
		home_dev = sb.st_dev;
		home_ino = sb.st_ino;
	}
}

void
projects_free(void)
{
	struct project	*p;

	closing = 1;	/* the workers are gone (checks_done) */
	if (first_wait == 1)
		ev_timer_stop(agent.loop, &first_timer);
	while ((p = TAILQ_FIRST(&agent.projects)) != NULL)
		project_free(p);
	ev_idle_stop(agent.loop, &rescan_idle);
	ev_timer_stop(agent.loop, &rescan_delay);
	hash_free(byname);
	byname = NULL;
	backoffs_free();
}

/* ---- callbacks of the watch backends ---- */

static void	home_kick(void);

struct files_ask {
	watch_files_cb	*cb;
	void		*arg;
};

static void
files_answer(const char *path, struct check_answer *a, void *arg)
{
	struct files_ask	*fa = arg;

	(void)path;
	if (a->timeout != CK_CANCELLED)
		fa->cb(fa->arg, a->timeout != 0 ? NULL : &a->files);
	free(fa);
}

int
agent_files(const char *dir, int first, watch_files_cb *cb, void *arg)
{
	struct files_ask	*fa;

	if (check_stuck(dir))
		return (-1);
	if ((fa = malloc(sizeof(*fa))) == NULL)
		fatalx("out of memory");
	fa->cb = cb;
	fa->arg = arg;
	check_submit(OP_FILES, dir, 0, 0, first ? CK_URGENT : CK_BULK,
	    files_answer, fa);
	return (0);
}

void
agent_changed(void *arg)
{
	if (arg == &home_tag)
		home_kick();
	else
		project_event(arg);
}

/* The files came (or not) for the watch of p that asked (wgen). */
static void
reopen_answer(const char *path, struct check_answer *a, void *arg)
{
	struct project	*p;
	int		 i, again;

	if (a->timeout == CK_CANCELLED || (p = project_find(path)) == NULL)
		return;
	p->reopen_busy = 0;
	again = p->reopen_again;
	p->reopen_again = 0;
	if (project_answered(p, a, 0) == -1) {
		/* Hung: its retry stats it, and watches it anew, whole. */
		project_unwatch(p);
		return;
	}
	/* Not for another watch of p made since (its wgen). */
	if (p->w != NULL && p->wb == agent.native &&
	    (uintptr_t)arg == (uintptr_t)p->wgen) {
		if (a->code != 0) {
			log_warnx("%s: %s %s", p->path, p->wb->name, a->msg);
			agent_gone(p);	/* half a watch would miss writes */
			return;
		}
		p->wb->refresh_fds(p->w, a->wfd, a->wid, a->wnews);
		for (i = 0; i < 3; i++)
			a->wfd[i] = -1;
	}
	if (again && p->w != NULL && p->wb == agent.native)
		agent_reopen(p, again);
}

/*
 * A watch made of a worker's descriptors (kqueue) lacks its DB or -wal
 * (one made anew, or not there yet): a worker opens them, so no file of
 * the project is opened on the loop.  One request a project at a time.
 */
void
agent_reopen(void *arg, int mask)
{
	struct project	*p = arg;

	if (p->reopen_busy) {
		p->reopen_again |= mask;
		return;
	}
	/* A worker is still in the kernel for it (a dead mount): not two. */
	if (check_stuck(p->path))
		return;
	p->reopen_busy = 1;
	check_submit(OP_REOPEN, p->path, mask | (p->hung ? CK_QUICK : 0), 0,
	    p->hung ? CK_BULK : CK_URGENT, reopen_answer,
	    (void *)(uintptr_t)p->wgen);
}

void
agent_gone(void *arg)
{
	struct project	*p = arg;

	if (arg == &home_tag) {
		log_warnx("%s is gone; registry changes are seen at the next "
		    "sweep", agent.home);
		home_unwatch();
		return;
	}
	if (p->w == NULL)
		return;
	log_info("%s: its %s watch ended; asking whether .steroids is still "
	    "there", p->path, p->wb->name);
	project_unwatch(p);
	p->ladder = 0;
	ev_timer_stop(agent.loop, &p->check);
	project_release(p);
	check_forget(p->path);
	status_changed();
	/*
	 * Gone, or given up by its backend (kqueue past a limit) while still
	 * there: a worker's stat tells which, and a project still there is
	 * watched again at once, natively or polled, then checked.
	 */
	project_stat(p, THEN_QUEUE, CK_URGENT);
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
	else if (v != data_version) {
		data_version = v;
		projects_sync();
	}
	if (++home_step < CHECK_STEPS) {
		ev_timer_set(t, check_delays[home_step], 0.);
		ev_timer_start(loop, t);
	}
}

static void
home_kick(void)
{
	home_step = 0;
	ev_timer_stop(agent.loop, &home_check);
	ev_timer_set(&home_check, check_delays[0], 0.);
	ev_timer_start(agent.loop, &home_check);
}

int
home_watched(void)
{
	return (home_w != NULL);
}

void
home_watch(void)
{
	struct st_error	err;

	if (home_w != NULL)
		return;
	if (st_gdb_data_version(agent.gdb, &data_version, &err) == -1)
		log_debug("%s", err.msg);
	home_wb = agent.native;
	if ((home_w = home_wb->add(agent.home, &home_tag)) != NULL)
		return;
	log_warn("cannot watch %s with %s; polling it", agent.home,
	    agent.native->name);
	home_wb = &watch_poll;
	if ((home_w = home_wb->add(agent.home, &home_tag)) == NULL)
		log_warn("cannot poll %s", agent.home);
}

void
home_unwatch(void)
{
	if (home_w != NULL)
		home_wb->del(home_w);
	home_w = NULL;
	ev_timer_stop(agent.loop, &home_check);
}
