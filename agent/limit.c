/*
 * limit.c -- agent.max_runners: at most that many runners alive at once
 * across all projects, whoever started them.  A project whose check finds
 * work while the limit is reached, or while others wait, waits in one
 * first-come queue.  When a runner exits, the head is checked at once
 * (its check brings the folder and log a start needs, check.c) and
 * starts; once it is tracked, the next head is checked if a slot is still
 * free.  So runners start in the order their projects came, one check
 * apart.  A project whose runner just exited with work left asks again
 * like any other, so it goes behind those already waiting.
 *
 * A project leaves the queue when it starts, when a check finds it needs
 * no start (no work, a runner of someone else's), when it goes hung or
 * is disabled: so a project that cannot answer never holds the queue up
 * for longer than one check's deadline.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define RETRY_BUSY	0.05	/* s: another starter holds the list */
#define RETRY_UNSEEN	0.25	/* s: its runner is not visible yet */
#define RETRY_FAILED	5.	/* s: the list cannot be opened */

static TAILQ_HEAD(, project) waiting = TAILQ_HEAD_INITIALIZER(waiting);
static long	nwaiting;
static ev_timer	retry;
static st_starts *admitted;	/* locked from limit_admit to limit_started */

/*
 * The runners alive now: the ones the agent tracks (its children, and
 * those it adopted by their lock), and the live rows of projects with
 * none tracked (the upstream tool's runners, which take no lock, and
 * ours started elsewhere that it has not adopted yet).  Read from the
 * registry only: nothing in a project's folder.  known (NULL: not
 * wanted): every PID counted or in a row, for st_starts_others; to free.
 */
static long
limit_count(pid_t **known, size_t *nknown)
{
	struct st_runner_list	 l;
	struct st_error		 err;
	struct runner		*r;
	const char		*path;
	long			 n = 0;
	size_t			 i;

	if (st_runners_list(agent.gdb, NULL, &l, &err) == -1) {
		log_debug("runner limit: %s", err.msg);
		memset(&l, 0, sizeof(l));
	}
	TAILQ_FOREACH(r, &agent.runners, entry)
		n++;
	if (known != NULL) {
		if ((*known = calloc((size_t)n + l.n + 1,
		    sizeof(**known))) == NULL)
			fatalx("out of memory");
		*nknown = 0;
		TAILQ_FOREACH(r, &agent.runners, entry)
			(*known)[(*nknown)++] = r->pid;
		for (i = 0; i < l.n; i++)
			(*known)[(*nknown)++] = l.v[i].pid;
	}
	for (i = 0; i < l.n; i++) {
		if ((path = st_runner_project(&l.v[i])) == NULL ||
		    runner_find(path) != NULL)
			continue;
		if (st_runner_lockless_state(&l.v[i]) == ST_RUNNER_ALIVE)
			n++;
	}
	st_runner_list_free(&l);
	return (n);
}

long
limit_alive(void)
{
	return (limit_count(NULL, NULL));
}

long
limit_queued(void)
{
	return (nwaiting);
}

/* The queue in order, for agent.status: the first, then each next. */
struct project *
limit_first(void)
{
	return (TAILQ_FIRST(&waiting));
}

struct project *
limit_next(struct project *p)
{
	return (TAILQ_NEXT(p, wait_entry));
}

/* Count again soon: another starter has the list, or a start of its own. */
static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	limit_kick(0);
}

static void
retry_soon(double after)
{
	if (ev_is_active(&retry))
		return;
	ev_timer_init(&retry, retry_cb, after, 0.);
	ev_timer_start(agent.loop, &retry);
}

/*
 * The slots free now (a large number when there is no limit), counted
 * under $STEROIDS_HOME/starts (st_starts_lock): *sp the list, still
 * locked, when sp is not NULL and a slot is free, else unlocked here.
 * Another starter holding it, or one of its runners not visible yet,
 * makes a retry soon, as nothing else would say when it is over.
 */
static long
limit_free(st_starts **sp)
{
	struct st_error	 err;
	st_starts	*st;
	pid_t		*known;
	size_t		 nknown;
	long		 n, others;
	int		 rc;

	if (sp != NULL)
		*sp = NULL;
	if (agent.max_runners <= 0)
		return (LONG_MAX);
	if ((rc = st_starts_lock(agent.gdb, &st, &err)) != 0) {
		if (rc == -1)
			log_warnx("runner limit: %s", err.msg);
		retry_soon(rc == 1 ? RETRY_BUSY : RETRY_FAILED);
		return (0);
	}
	n = agent.max_runners - limit_count(&known, &nknown);
	others = st_starts_others(st, known, nknown);
	n -= others;
	free(known);
	if (n <= 0 && others > 0)
		retry_soon(RETRY_UNSEEN);
	if (sp != NULL && n > 0)
		*sp = st;
	else
		st_starts_unlock(st);
	return (n);
}

/*
 * A slot is free and the head is not being checked for it yet: check it,
 * and its answer starts it.  force: check it again even so (the sweep's
 * catch-all, should an answer have gone astray).
 */
void
limit_kick(int force)
{
	struct project	*p;

	if ((p = TAILQ_FIRST(&waiting)) == NULL || (p->wait_kicked &&
	    !force) || limit_free(NULL) <= 0)
		return;
	p->wait_kicked = 1;
	log_debug("%s: its turn in the queue: checking it", p->path);
	project_kick(p);
}

/* p needs no place in the queue any more; those behind move up. */
void
limit_drop(struct project *p)
{
	if (p == NULL || !p->waiting)
		return;
	TAILQ_REMOVE(&waiting, p, wait_entry);
	p->waiting = 0;
	p->wait_kicked = 0;
	nwaiting--;
	status_changed();
	limit_kick(0);
}

/*
 * p's check found work and no runner: 1 when it may start one now (a
 * slot is free and it heads the queue, or nobody waits), 0 when it waits
 * (queued at the back if it was not queued yet).
 */
int
limit_admit(struct project *p)
{
	p->wait_kicked = 0;
	/* No limit (any more): the rest of the queue drains as it may. */
	if (agent.max_runners <= 0 || ((nwaiting == 0 ||
	    TAILQ_FIRST(&waiting) == p) && limit_free(&admitted) > 0)) {
		if (p->waiting) {
			log_info("%s: its turn in the queue after %.1fs; "
			    "starting", p->path, ev_now(agent.loop) -
			    p->wait_since);
			TAILQ_REMOVE(&waiting, p, wait_entry);
			p->waiting = 0;
			nwaiting--;
			status_changed();
		}
		return (1);
	}
	p->wait_now = 1;
	if (!p->waiting) {
		TAILQ_INSERT_TAIL(&waiting, p, wait_entry);
		p->waiting = 1;
		p->wait_since = ev_now(agent.loop);
		nwaiting++;
		log_info("%s: queued (place %ld): agent.max_runners is %ld "
		    "and %ld runner(s) are alive", p->path, nwaiting,
		    agent.max_runners, limit_alive());
		status_changed();
	}
	/* A slot may be free for the head (p just had its turn). */
	limit_kick(0);
	return (0);
}

/*
 * The start limit_admit let through is made: pid its runner (0: none),
 * listed for the other starters, who may count again.
 */
void
limit_started(pid_t pid)
{
	if (admitted == NULL)
		return;
	st_starts_add(admitted, pid);
	st_starts_unlock(admitted);
	admitted = NULL;
}

/* The limit changed (SIGHUP): those now within it are checked. */
void
limit_changed(long before)
{
	if (before != agent.max_runners)
		log_info("agent.max_runners is now %ld%s", agent.max_runners,
		    agent.max_runners == 0 ? " (no limit)" : "");
	limit_kick(0);
}
