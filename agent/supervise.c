/*
 * supervise.c -- the runners the agent knows of: its own children, reaped
 * through one ev_child, and runners it adopted (started by hand, by cron,
 * or by an earlier agent), watched by PID.  When one exits: check its
 * project (check.c), delete its leftover row, and start again at once or
 * after a per-project backoff that doubles while the project crash-loops.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

struct runner *
runner_find(const char *path)
{
	struct runner	*r;

	TAILQ_FOREACH(r, &agent.runners, entry)
		if (strcmp(r->path, path) == 0)
			return (r);
	return (NULL);
}

static struct runner *
runner_by_pid(pid_t pid, int child)
{
	struct runner	*r;

	TAILQ_FOREACH(r, &agent.runners, entry)
		if (r->pid == pid && r->child == child)
			return (r);
	return (NULL);
}

/*
 * Track a runner; adopted ones get a PID watch (native, else polled).
 * mark: progress_mark(path) read BEFORE the runner was started; a runner
 * can complete a task before a mark read after the spawn, and would then
 * be judged to have made no progress (backoff for nothing).
 */
void
runner_track(const char *path, pid_t pid, int child, long mark)
{
	struct runner	*r;

	/*
	 * Known either way: a runner of ours that holds the lock another
	 * one exited 6 on is adopted by no one, or its exit would be
	 * handled twice.
	 */
	if (runner_by_pid(pid, 1) != NULL || runner_by_pid(pid, 0) != NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(path)) == NULL)
		fatalx("out of memory");
	r->pid = pid;
	r->child = child;
	r->progress = mark;
	TAILQ_INSERT_TAIL(&agent.runners, r, entry);
	limit_drop(project_find(path));	/* it has its runner */
	limit_kick(0);	/* the next head, if a slot is still free */
	if (!child) {
		r->pwb = agent.native;
		if ((r->pw = r->pwb->pid_add(pid, r)) == NULL) {
			log_debug("pid %ld: %s watch failed (%s); polling it",
			    (long)pid, r->pwb->name, strerror(errno));
			r->pwb = &watch_poll;
			r->pw = r->pwb->pid_add(pid, r);
		}
		log_info("%s: adopted the runner with pid %ld", path,
		    (long)pid);
	}
	status_changed();
}

static void
runner_free(struct runner *r)
{
	TAILQ_REMOVE(&agent.runners, r, entry);
	if (r->pw != NULL)
		r->pwb->pid_del(r->pw);
	free(r->path);
	free(r);
	limit_kick(0);	/* a slot is free: the head's turn */
}

void
runners_free(void)
{
	struct runner	*r;

	while ((r = TAILQ_FIRST(&agent.runners)) != NULL)
		runner_free(r);
}

/* Delete the row the dead runner left, if it left one. */
static void
delete_row(const char *path, pid_t pid)
{
	struct st_runner_list	l;
	struct st_error		err;
	size_t			i;

	if (st_runners_list(agent.gdb, path, &l, &err) == -1) {
		log_debug("%s: %s", path, err.msg);
		return;
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i].pid != pid)
			continue;
		if (st_runner_delete(agent.gdb, l.v[i].id, &err) == -1)
			log_debug("%s: %s", path, err.msg);
		else
			log_debug("%s: deleted the row of pid %ld", path,
			    (long)pid);
	}
	st_runner_list_free(&l);
}

static void
describe(char *buf, size_t len, int known, int status)
{
	if (!known)
		snprintf(buf, len, "exited");
	else
		st_wait_status(status, ST_WAIT_LONG, buf, len);
}

/* A runner gone, waiting for the check of its project. */
struct exited {
	pid_t	pid;
	int	known;
	int	status;
	long	start_mark;
	char	how[64];
};

static void	exit_answer(const char *, struct check_answer *, void *);

/*
 * A runner is gone: its project is checked (check.c), and exit_answer
 * decides.  A hung project is left to its retry.
 */
static void
runner_exit(struct runner *r, int known, int status)
{
	struct project	*p;
	struct exited	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatalx("out of memory");
	e->pid = r->pid;
	e->known = known;
	e->status = status;
	e->start_mark = r->progress;
	describe(e->how, sizeof(e->how), known, status);
	p = project_find(r->path);
	if (p == NULL || p->hung) {
		log_info("%s: runner %ld %s (%s)", r->path, (long)e->pid,
		    e->how, p == NULL ? "project no longer watched" :
		    "project hung: checked when it answers");
		runner_free(r);
		status_changed();
		free(e);
		return;
	}
	/*
	 * No writer mid-commit (CK_IDLE, asked before the read, on the
	 * descriptors kept beside a kept connection): a commit whose event
	 * came while the runner ran is visible to the read, so no re-checks
	 * are due.  CK_START: the folder and log for a start at once, if it
	 * comes to that.  CK_FRESH: a connection still kept from the ladder
	 * that started the runner (its release is a bulk request, behind
	 * this one) is checked against the files on disk first.
	 */
	p->exiting++;
	check_submit(OP_CHECK, r->path, CK_FRESH | CK_IDLE | CK_START |
	    (p->home ? CK_HOME : 0), 0, CK_URGENT, exit_answer, e);
	runner_free(r);
	status_changed();
}

/*
 * Exit 0 or 6 (another runner holds the lock) is not a failure; an
 * unknown status (not our child) is judged by progress only.  A failure
 * after progress starts again at once; without progress (exit 0
 * included) it backs off.
 */
static void
exit_answer(const char *path, struct check_answer *a, void *arg)
{
	struct exited	*e = arg;
	struct project	*p;
	const char	*how = e->how;
	pid_t		 pid = e->pid;
	long		 n = a->work, mark = a->mark;
	int		 failed, locked, progressed, status = e->status;

	if (a->timeout == CK_CANCELLED)
		goto done;
	if ((p = project_find(path)) == NULL) {
		log_info("%s: runner %ld %s (project no longer watched)", path,
		    (long)pid, how);
		goto done;
	}
	if (p->exiting > 0)
		p->exiting--;
	if (project_answered(p, a, 1) == -1) {
		log_info("%s: runner %ld %s; the project is hung", path,
		    (long)pid, how);
		goto done;
	}
	locked = e->known && WIFEXITED(status) && WEXITSTATUS(status) == 6;
	failed = e->known && !locked && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	p->mark = mark;
	progressed = mark != -1 && e->start_mark != -1 && mark > e->start_mark;
	if (progressed)
		p->delay = 0;
	if (!locked || progressed)
		p->locked = 0;

	if (a->held == 1) {
		log_info("%s: runner %ld %s; another runner holds the lock",
		    path, (long)pid, how);
		if (a->holder > 0 && a->holder != pid &&
		    st_pid_alive(a->holder))
			runner_track(path, a->holder, 0, mark);
		else
			project_kick(p);
		goto out;
	}
	if (a->held == 0)
		delete_row(path, pid);
	/* One of ours that has not taken the lock yet (a sweep restart). */
	if (runner_find(path) != NULL)
		goto out;
	if (n == -1) {
		log_warnx("%s: runner %ld %s; %s", path, (long)pid, how,
		    a->msg);
		project_kick(p);
		goto out;
	}
	if (n == 0) {
		log_info("%s: runner %ld %s; no work left", path, (long)pid,
		    how);
		if (!failed)
			p->delay = 0;
		/* A task committed as it exited may not be visible yet. */
		if (a->idle != 1)
			project_kick(p);
		else
			log_debug("%s: no writer: no re-checks due", path);
		goto out;
	}
	p->restart = 1;
	/*
	 * Exit 6 is no failure: the holder of the lock must have just gone,
	 * so start again at once.  But a runner that exits 6 again and again
	 * with the lock free is a crash loop like any other.
	 */
	if (locked && p->locked++ == 0) {
		project_kick(p);
		goto out;
	}
	/*
	 * A runner that completed a task is no crash loop, whatever its
	 * exit (killed, failed): start again at once (SPEC 8: finishing a
	 * task resets the backoff; the restart row of make bench).
	 */
	if (!progressed) {
		p->delay = p->delay == 0 ? agent.backoff_initial :
		    p->delay * 2;
		if (p->delay > agent.backoff_max)
			p->delay = agent.backoff_max;
		log_info("%s: runner %ld %s with %ld task(s) left; starting "
		    "again in %gs", path, (long)pid, how, n, p->delay);
		backoff_arm(p, p->delay);
		status_changed();
		goto out;
	}
	log_info("%s: runner %ld %s with %ld task(s) left; starting again",
	    path, (long)pid, how, n);
	if (ev_is_active(&p->backoff) || !start_runner(p, a))
		project_kick(p);
out:
	project_release(p);	/* unless the checks go on (project_kick) */
done:
	free(e);
}

static ev_child	child;

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct runner	*r;

	(void)loop;
	(void)revents;
	if (sweep_reaped(w->rpid))
		return;		/* a probe of the sweep's */
	if (check_reaped(w->rpid))
		return;		/* a check worker */
	if ((r = runner_by_pid(w->rpid, 1)) == NULL) {
		log_debug("reaped pid %ld, not a runner", (long)w->rpid);
		return;
	}
	runner_exit(r, 1, w->rstatus);
}

void
runner_child_init(void)
{
	ev_child_init(&child, child_cb, 0, 0);
	/*
	 * libev reaps with waitpid(-1), the sweep's probes and the check
	 * workers too: this runs before any other watcher's callback (the
	 * sweep's, which may kill a probe by pid), so the sweep learns of a
	 * reaped probe at once.
	 */
	ev_set_priority(&child, EV_MAXPRI);
	ev_child_start(agent.loop, &child);
}

void
agent_pid_exit(void *arg)
{
	runner_exit(arg, 0, 0);
}
