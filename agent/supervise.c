/*
 * supervise.c -- the runners the agent knows of: its own children, reaped
 * through one ev_child, and runners it adopted (started by hand, by cron,
 * or by an earlier agent), watched by PID.  When one exits: delete its
 * leftover row, look for work left, and start again at once or after a
 * per-project backoff that doubles while the project crash-loops.
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
 * One read of the project DB: *open, the open tasks (pending, in_progress,
 * review: the work a runner is started for), and *mark, the tasks in a
 * final status (a runner that moved this on made progress).  -1 (both
 * -1, err set) when it cannot be read.  One open, not two: on the way
 * to a start every open of the DB is latency (~0.3 ms each).
 */
int
project_counts(const char *path, long *open, long *mark,
    struct st_error *err)
{
	return (project_counts_wait(path, NULL, 0, open, mark, err));
}

/*
 * project_counts, but while nothing is open look again every 100 us on
 * the same connection (a new read transaction each time, so a commit
 * published since is seen), tries times at most.  Right after an event
 * the commit that caused it is mostly visible within ~1 ms (SPEC 8,
 * "Trap"), and libev's timers (epoll) cannot wait less than 1 ms: this
 * is the fine part of the re-check ladder.  It blocks the loop for
 * tries * ~0.15 ms at most, and only where no runner runs.
 *
 * pdbp: NULL for a connection of its own, closed before the return; else
 * a connection the caller keeps between reads (opened here if *pdbp is
 * NULL, closed and set NULL if a read on it fails).  A fresh open costs
 * ~0.3 ms of CPU: SQLite parses the schema, and the first connection to
 * a WAL DB rebuilds its -shm from the WAL; a read on a kept connection
 * is a read transaction, a few us (make bench, bench/README.md).
 */
int
project_counts_wait(const char *path, st_pdb **pdbp, int tries, long *open,
    long *mark, struct st_error *err)
{
	struct timespec	 tick = { 0, 100 * 1000 };
	st_pdb		*pdb = pdbp != NULL ? *pdbp : NULL;
	long		 counts[ST_TASK_NSTATUS];
	int		 i, rc;

	*open = *mark = -1;
	/*
	 * Not ST_PDB_SHMRO: a readonly_shm reader alone on the DB re-reads
	 * the whole WAL at each read transaction (each try below), and can
	 * be refused while a writer changes the -shm.
	 */
	if (pdb == NULL && st_pdb_open(path, ST_PDB_READONLY | ST_PDB_QUICK,
	    &pdb, err) == -1)
		return (-1);
	for (;;) {
		if ((rc = st_task_counts(pdb, counts, NULL, err)) == -1)
			break;
		*open = *mark = 0;
		for (i = 0; i < ST_TASK_NSTATUS; i++) {
			if (i < 3)	/* pending, in_progress, review */
				*open += counts[i];
			else		/* completed ... */
				*mark += counts[i];
		}
		if (*open != 0 || tries-- <= 0)
			break;
		nanosleep(&tick, NULL);
	}
	if (pdbp == NULL || rc == -1) {
		st_pdb_close(pdb);
		pdb = NULL;
	}
	if (pdbp != NULL)
		*pdbp = pdb;
	return (rc == -1 ? -1 : 0);
}

/* The tasks in a final status (project_counts); -1 if unreadable. */
long
progress_mark(const char *path)
{
	struct st_error	err;
	long		open, mark;

	(void)project_counts(path, &open, &mark, &err);
	return (mark);
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
	 * one exited 6 on is adopted by no one (tracked twice, its exit
	 * was handled twice: seen by make soak).
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
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "stopped");
}

/*
 * A runner is gone.  Exit 0 or 6 (another runner holds the lock) is not a
 * failure; an unknown status (not our child) is judged by progress only.
 * A failure after progress starts again at once; without progress (exit
 * 0 included) it backs off.
 */
static void
runner_exit(struct runner *r, int known, int status)
{
	struct project	*p;
	struct st_error	 err;
	char		 path[PATH_MAX], how[64];
	pid_t		 pid = r->pid, holder;
	long		 start_mark = r->progress, mark, n;
	int		 failed, locked, progressed, held, idle;

	strlcpy(path, r->path, sizeof(path));
	runner_free(r);
	status_changed();
	describe(how, sizeof(how), known, status);
	locked = known && WIFEXITED(status) && WEXITSTATUS(status) == 6;
	failed = known && !locked && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	if ((p = project_find(path)) == NULL) {
		log_info("%s: runner %ld %s (project no longer watched)", path,
		    (long)pid, how);
		return;
	}
	/*
	 * No writer mid-commit (st_pdb_writer_idle, asked before we open the
	 * DB): a commit whose event came while the runner ran is visible to
	 * the read below, so with nothing open no re-checks are due.
	 */
	idle = project_writer_idle(p);
	/* n and the mark for a start from here, in one read. */
	if (project_read(p, 0, &n, &mark, &err) == -1)
		log_debug("%s: %s", path, err.msg);
	p->mark = mark;
	progressed = mark != -1 && start_mark != -1 && mark > start_mark;
	if (progressed)
		p->delay = 0;
	if (!locked || progressed)
		p->locked = 0;

	held = st_lock_probe(path, &holder);
	if (held == 1) {
		log_info("%s: runner %ld %s; another runner holds the lock",
		    path, (long)pid, how);
		if (holder > 0 && holder != pid && st_pid_alive(holder))
			runner_track(path, holder, 0, mark);
		else
			project_kick(p);
		goto out;
	}
	if (held == 0)
		delete_row(path, pid);
	/* One of ours that has not taken the lock yet (a sweep restart). */
	if (runner_find(path) != NULL)
		goto out;
	if (n == -1) {
		log_warnx("%s: runner %ld %s; %s", path, (long)pid, how,
		    err.msg);
		project_kick(p);
		goto out;
	}
	if (n == 0) {
		log_info("%s: runner %ld %s; no work left", path, (long)pid,
		    how);
		if (!failed)
			p->delay = 0;
		/* A task committed as it exited may not be visible yet. */
		if (!idle)
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
		ev_timer_stop(agent.loop, &p->backoff);
		ev_timer_set(&p->backoff, p->delay, 0.);
		ev_timer_start(agent.loop, &p->backoff);
		status_changed();
		goto out;
	}
	log_info("%s: runner %ld %s with %ld task(s) left; starting again",
	    path, (long)pid, how, n);
	project_start(p);
out:
	project_release(p);	/* unless the checks go on (project_kick) */
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct runner	*r;

	(void)loop;
	(void)revents;
	if (sweep_reaped(w->rpid))
		return;		/* a probe of the sweep's */
	if ((r = runner_by_pid(w->rpid, 1)) == NULL) {
		log_debug("reaped pid %ld, not a runner", (long)w->rpid);
		return;
	}
	runner_exit(r, 1, w->rstatus);
}

void
runner_child_init(void)
{
	ev_child_init(&agent.child, child_cb, 0, 0);
	/*
	 * libev reaps with waitpid(-1), the sweep's probes too: this runs
	 * before any other watcher's callback (the sweep's, which may kill a
	 * probe by pid), so the sweep learns of a reaped probe at once.
	 */
	ev_set_priority(&agent.child, EV_MAXPRI);
	ev_child_start(agent.loop, &agent.child);
}

void
agent_pid_exit(void *arg)
{
	runner_exit(arg, 0, 0);
}
