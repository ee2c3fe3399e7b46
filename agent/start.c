/*
 * start.c -- the start stage: a runner for a project whose check found
 * work and no runner.  The worker opened the project's folder and runner
 * log (check.c); the spawn here does fchdir, so it touches none of the
 * project's files, and the runner is our child (supervise.c reaps it).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/*
 * The project's runner rows (in $STEROIDS_HOME), its lock free a moment
 * ago: a live one is the upstream tool's, which takes no lock, and is the
 * project's runner (SPEC 7); its PID, or 0.  Any other row is a dead
 * runner's and is deleted, as the sweep does before a start.
 */
static pid_t
live_lockless(const char *path)
{
	struct st_runner_list	l;
	struct st_error		err;
	pid_t			pid = 0;
	size_t			i;

	if (st_runners_list(agent.gdb, path, &l, &err) == -1) {
		log_debug("%s: %s", path, err.msg);
		return (0);
	}
	for (i = 0; i < l.n; i++) {
		if (st_runner_lockless_state(&l.v[i]) == ST_RUNNER_ALIVE) {
			if (pid == 0)
				pid = l.v[i].pid;
			continue;
		}
		if (st_runner_delete(agent.gdb, l.v[i].id, &err) == -1)
			log_debug("%s: %s", path, err.msg);
	}
	st_runner_list_free(&l);
	return (pid);
}

/*
 * 1 when a runner was started (or p waits its turn under
 * agent.max_runners), 0 when none was (refused or failed: the caller's
 * checks go on, or the wakeup is lost).  The caller has set
 * p->mark from the same answer: see runner_track.
 */
int
start_runner(struct project *p, struct check_answer *a)
{
	struct st_error	err;
	pid_t		pid;
	int		dirfd = a->dirfd, logfd = a->logfd;

	a->dirfd = a->logfd = -1;	/* ours now */
	if ((pid = live_lockless(p->path)) > 0) {
		if (dirfd != -1)
			close(dirfd);
		if (logfd != -1)
			close(logfd);
		log_debug("%s: the upstream tool's runner (pid %ld) runs it",
		    p->path, (long)pid);
		return (1);
	}
	if (a->startable != 1) {
		if (!p->skip_logged)
			log_warnx("%s: skipped: %s", p->path, a->startable ==
			    -1 ? a->msg : "not prepared for a start");
		p->skip_logged = 1;
		return (0);
	}
	/* Queued (agent.max_runners): its turn's check starts it. */
	if (!limit_admit(p)) {
		close(dirfd);
		close(logfd);
		return (1);
	}
	if (st_spawn_runner_fds(p->path, dirfd, logfd, &pid, &err) == -1) {
		limit_started(0);
		if (!p->skip_logged)
			log_warnx("%s: skipped: %s", p->path, err.msg);
		p->skip_logged = 1;
		return (0);
	}
	limit_started(pid);
	p->skip_logged = 0;
	runner_track(p->path, pid, 1, p->mark);
	agent.starts++;
	if (p->restart)
		agent.restarts++;
	p->restart = 0;
	log_info("%s: started a runner (pid %ld)", p->path, (long)pid);
	status_changed();
	return (1);
}
