/*
 * status.c -- $STEROIDS_HOME/agent.status, read by 'steroids agent
 * status': "key value" lines, mode 0600, replaced atomically (rename) when
 * something changed, at most about once a second.  No timer runs while
 * nothing changes.
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

static ev_timer		status_timer;
static ev_tstamp	status_last = -1e9;

void
status_write(void)
{
	char			 path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	char			 disp[ST_DISPLAY_MAX];
	struct project		*p;
	struct runner		*r;
	FILE			*f;
	long			 native = 0, polled = 0, unwatched = 0;
	long			 runners = 0, backoff = 0;
	int			 fd;

	status_last = ev_now(agent.loop);
	TAILQ_FOREACH(p, &agent.projects, entry) {
		if (p->wb == NULL)
			unwatched++;
		else if (p->wb == &watch_poll)
			polled++;
		else
			native++;
		if (ev_is_active(&p->backoff))
			backoff++;
	}
	TAILQ_FOREACH(r, &agent.runners, entry)
		runners++;
	snprintf(path, sizeof(path), "%s/agent.status", agent.home);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("cannot write %s", tmp);
		if (fd != -1)
			close(fd);
		return;
	}
	fprintf(f, "pid %ld\n", (long)getpid());
	fprintf(f, "started %lld\n", (long long)agent.started);
	fprintf(f, "version %s\n", st_version());
	fprintf(f, "backend %s\n", agent.native->name);
	fprintf(f, "watched_native %ld\n", native);
	fprintf(f, "watched_poll %ld\n", polled);
	fprintf(f, "unwatched %ld\n", unwatched);
	fprintf(f, "runners %ld\n", runners);
	fprintf(f, "last_sweep %lld\n", (long long)agent.last_sweep);
	fprintf(f, "starts %ld\n", agent.starts);
	fprintf(f, "restarts %ld\n", agent.restarts);
	fprintf(f, "backoff %ld\n", backoff);
	TAILQ_FOREACH(p, &agent.projects, entry) {
		if (!ev_is_active(&p->backoff))
			continue;
		st_path_display(p->path, disp, sizeof(disp));
		fprintf(f, "backoff_project %s\n", disp);
	}
	if (fflush(f) == EOF || ferror(f)) {
		log_warn("cannot write %s", tmp);
		fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	if (rename(tmp, path) == -1) {
		log_warn("cannot rename %s", tmp);
		unlink(tmp);
	}
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

	if (ev_is_active(&status_timer))
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
