/*
 * backoff.c -- a project's crash-loop backoff outlives its struct
 * project.  Disabling and enabling a project (or removing and adding it
 * again) frees and makes a new one, which must not start a runner at once
 * nor start the doubling again from backoff_initial (SPEC 8): project_free
 * saves a project that waits out its backoff, keyed by its canonical
 * path, and project_new restores it with the rest of the wait.  An entry
 * goes when its wait is over (after that a new struct project starts
 * afresh), so the table holds at most the projects disabled while in
 * backoff within the last backoff_max seconds.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct saved_backoff {
	TAILQ_ENTRY(saved_backoff)	 entry;
	char				*path;
	ev_tstamp			 until;	/* ev_now() at the end */
	double				 delay;
	int				 restart;
	int				 locked;
};
static TAILQ_HEAD(, saved_backoff) saved = TAILQ_HEAD_INITIALIZER(saved);

static void
saved_free(struct saved_backoff *s)
{
	TAILQ_REMOVE(&saved, s, entry);
	free(s->path);
	free(s);
}

/* Drop the entries whose wait is over. */
static void
backoff_expire(void)
{
	struct saved_backoff	*s, *next;
	ev_tstamp		 now = ev_now(agent.loop);

	for (s = TAILQ_FIRST(&saved); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->until <= now)
			saved_free(s);
	}
}

/* p's backoff timer, to end in `after` s (agent.n_backoff counts them). */
void
backoff_arm(struct project *p, double after)
{
	backoff_disarm(p);
	ev_timer_set(&p->backoff, after, 0.);
	ev_timer_start(agent.loop, &p->backoff);
	agent.n_backoff++;
}

void
backoff_disarm(struct project *p)
{
	if (!ev_is_active(&p->backoff))
		return;
	ev_timer_stop(agent.loop, &p->backoff);
	agent.n_backoff--;
}

/* Its timer's callback: libev stopped the timer before calling it. */
void
backoff_expired(void)
{
	agent.n_backoff--;
}

/* p is going away (disabled, removed): keep its backoff if one runs. */
void
backoff_save(struct project *p)
{
	struct saved_backoff	*s;

	backoff_expire();
	if (!ev_is_active(&p->backoff))
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(p->path)) == NULL)
		fatalx("out of memory");
	s->until = ev_now(agent.loop) +
	    ev_timer_remaining(agent.loop, &p->backoff);
	s->delay = p->delay;
	s->restart = p->restart;
	s->locked = p->locked;
	TAILQ_INSERT_TAIL(&saved, s, entry);
	log_debug("%s: backoff kept for %.1fs", p->path,
	    s->until - ev_now(agent.loop));
}

/* p is new (enabled, added): take up a backoff saved for its path. */
void
backoff_restore(struct project *p)
{
	struct saved_backoff	*s;
	ev_tstamp		 left;

	backoff_expire();
	TAILQ_FOREACH(s, &saved, entry)
		if (strcmp(s->path, p->path) == 0)
			break;
	if (s == NULL)
		return;
	left = s->until - ev_now(agent.loop);
	p->delay = s->delay;
	p->restart = s->restart;
	p->locked = s->locked;
	saved_free(s);
	backoff_arm(p, left);
	log_info("%s: still in crash-loop backoff; starting again in %.1fs",
	    p->path, left);
}

void
backoffs_free(void)
{
	while (!TAILQ_EMPTY(&saved))
		saved_free(TAILQ_FIRST(&saved));
}
