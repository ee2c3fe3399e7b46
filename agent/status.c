/*
 * status.c -- $STEROIDS_HOME/agent.status, read by 'steroids agent
 * status' (st_agent_status_read): "key value" lines, mode 0600,
 * replaced atomically (rename) when something changed, at most about
 * once a second.  No timer runs while nothing changes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define STATUS_MIN_INTERVAL	1.0
#define K(key)			st_agent_key(key)	/* the one list */

static ev_timer		status_timer;
static ev_tstamp	status_last = -1e9;

/*
 * A write that failed is logged once; the old agent.status stays (the
 * temporary file is removed) until a write succeeds again.
 */
static int	status_failing;
static int	status_started;	/* the first write, once the agent is ready */

static void
status_fail(const char *what, const char *tmp, FILE *f)
{
	int	e = errno;

	if (f != NULL)
		(void)fclose(f);
	(void)unlink(tmp);
	if (!status_failing)
		log_warnx("cannot %s %s: %s; the last status is kept", what,
		    tmp, strerror(e));
	status_failing = 1;
}

static int
in_backoff(const struct project *p)
{
	return (ev_is_active(&p->backoff));
}

static int
is_hung(const struct project *p)
{
	return (p->hung);
}

/*
 * A "key path" line for each of the n projects that are(): the projects
 * are walked only to name some (none, mostly), up to the last of them.
 */
static void
name_projects(FILE *f, const char *key, long n,
    int (*are)(const struct project *))
{
	char		 disp[ST_DISPLAY_MAX];
	struct project	*p;

	TAILQ_FOREACH(p, &agent.projects, entry) {
		if (n == 0)
			break;
		if (!are(p))
			continue;
		n--;
		st_path_display(p->path, disp, sizeof(disp));
		fprintf(f, "%s %s\n", key, disp);
	}
}

void
status_write(void)
{
	char			 path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	char			 disp[ST_DISPLAY_MAX];
	struct project		*p;
	struct runner		*r;
	FILE			*f;
	long			 runners = 0;
	int			 fd;

	status_started = 1;
	status_last = ev_now(agent.loop);
	TAILQ_FOREACH(r, &agent.runners, entry)
		runners++;
	snprintf(path, sizeof(path), "%s/agent.status", agent.home);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		status_fail("create", tmp, NULL);
		return;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		status_fail("write", tmp, NULL);
		close(fd);
		return;
	}
	errno = 0;
	fprintf(f, "%s %ld\n", K(ST_AGENT_PID), (long)getpid());
	fprintf(f, "%s %lld\n", K(ST_AGENT_STARTED), (long long)agent.started);
	fprintf(f, "%s %s\n", K(ST_AGENT_VERSION), st_version());
	fprintf(f, "%s %s\n", K(ST_AGENT_BACKEND), agent.native->name);
	fprintf(f, "%s %ld\n", K(ST_AGENT_WATCHED_NATIVE), agent.n_native);
	fprintf(f, "%s %ld\n", K(ST_AGENT_WATCHED_POLL), agent.n_polled);
	fprintf(f, "%s %ld\n", K(ST_AGENT_UNWATCHED), agent.n_unwatched);
	fprintf(f, "%s %ld\n", K(ST_AGENT_RUNNERS), runners);
	fprintf(f, "%s %lld\n", K(ST_AGENT_LAST_SWEEP),
	    (long long)agent.last_sweep);
	fprintf(f, "%s %ld\n", K(ST_AGENT_STARTS), agent.starts);
	fprintf(f, "%s %ld\n", K(ST_AGENT_RESTARTS), agent.restarts);
	fprintf(f, "%s %ld\n", K(ST_AGENT_BACKOFF), agent.n_backoff);
	name_projects(f, ST_AGENT_BACKOFF_PROJECT, agent.n_backoff,
	    in_backoff);
	fprintf(f, "%s %ld\n", K(ST_AGENT_HUNG), agent.n_hung);
	name_projects(f, ST_AGENT_HUNG_PROJECT, agent.n_hung, is_hung);
	/* The runner limit; the queue in order, the head first. */
	fprintf(f, "%s %ld\n", K(ST_AGENT_MAX_RUNNERS), agent.max_runners);
	fprintf(f, "%s %ld\n", K(ST_AGENT_ALIVE), limit_alive());
	fprintf(f, "%s %ld\n", K(ST_AGENT_QUEUED), limit_queued());
	for (p = limit_first(); p != NULL; p = limit_next(p)) {
		st_path_display(p->path, disp, sizeof(disp));
		fprintf(f, ST_AGENT_QUEUED_PROJECT " %s\n", disp);
	}
	/*
	 * ferror: any fprintf above that failed.  No fsync: the file is read
	 * only while an agent holds agent.pid, and a reader refuses one cut
	 * short or another agent's (its pid line); a crash of the machine
	 * ends this agent, and the next writes the file anew.  A sync cost
	 * a journal commit on the loop (~0.5 ms here, far more on a disk).
	 */
	if (ferror(f) || fflush(f) == EOF) {
		if (errno == 0)
			errno = EIO;
		status_fail("write", tmp, f);
		return;
	}
	if (fclose(f) == EOF) {
		status_fail("close", tmp, NULL);
		return;
	}
	if (rename(tmp, path) == -1) {
		status_fail("rename", tmp, NULL);
		return;
	}
	if (status_failing)
		log_info("%s written again", path);
	status_failing = 0;
}

static void
status_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	status_write();
}

void
status_init(void)
{
	ev_timer_init(&status_timer, status_cb, 0., 0.);
}

/* Something agent status shows changed: write now or within a second. */
void
status_changed(void)
{
	ev_tstamp	wait;

	if (!status_started || ev_is_active(&status_timer))
		return;
	wait = status_last + STATUS_MIN_INTERVAL - ev_now(agent.loop);
	ev_timer_set(&status_timer, wait > 0 ? wait : 0., 0.);
	ev_timer_start(agent.loop, &status_timer);
}

void
status_done(void)
{
	char	path[PATH_MAX + 16];

	ev_timer_stop(agent.loop, &status_timer);
	snprintf(path, sizeof(path), "%s/agent.status", agent.home);
	unlink(path);
}
