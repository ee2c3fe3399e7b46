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
 * 1 when a runner was started, 0 when none was (refused or failed: the
 * caller's checks go on, or the wakeup is lost).  The caller has set
 * p->mark from the same answer: see runner_track.
 */
int
start_runner(struct project *p, struct check_answer *a)
{
	struct st_error	err;
	pid_t		pid;
	int		dirfd = a->dirfd, logfd = a->logfd;

	a->dirfd = a->logfd = -1;	/* ours now */
	/*
	 * The upstream tool's runners take no lock: a live one's row (in
	 * $STEROIDS_HOME) makes it the project's runner (SPEC 7).
	 */
	if (st_runner_lockless_live(agent.gdb, p->path, 0, &pid, &err) == 0 &&
	    pid > 0) {
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
	if (st_spawn_runner_fds(p->path, dirfd, logfd, &pid, &err) == -1) {
		if (!p->skip_logged)
			log_warnx("%s: skipped: %s", p->path, err.msg);
		p->skip_logged = 1;
		return (0);
	}
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
