/*
 * stop.c -- stopping a runner, the one sequence and grace policy of the
 * CLI and the sweep: ask (SIGUSR1, "beat now"), SIGTERM, SIGKILL, gone.
 * Each step does what needs no waiting; the caller waits between steps
 * on st_stop_fd and st_stop_timeout (an event loop), or st_stop_wait does.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

#define STOP_POLL_MS	100	/* re-read the heartbeat, or look for the
				   exit where no pidfd tells it */

struct st_stop {
	st_gdb		*g;		/* ST_STOP_ASK: where the row is */
	char		*id;
	char		*project;
	char		*heartbeat;	/* heartbeat_at when asked */
	pid_t		 pid;		/* or the group's id */
	int		 group;		/* st_stop_group */
	int		 flags;
	int		 state;		/* enum st_stop_state */
	int		 killed;	/* SIGKILL went */
	int		 fd;		/* pidfd, -1: none */
	time_t		 start;		/* the holder's start, as the caller
					   saw it hold the lock; 0: probe */
	struct timespec	 since;		/* when the state began */
};

/*
 * The one judgement of who may be signalled: the process that holds its
 * project's runner lock, which only our runner takes.  A row of the
 * upstream tool's runners (no lock) never is: Node starts its inspector
 * on SIGUSR1 and dies of SIGTERM.  Asked at the start with a pidfd open
 * (which then stands for that process only), else again before every
 * signal, so a runner gone (its pid free for reuse) is not signalled
 * either.  A caller that saw the lock itself (the sweep, from its probe
 * child, so that the agent's loop opens no project file) gives the
 * holder's start time: the same process still holds it, as our runner
 * keeps its lock until it exits.  1 ours, 0 not (gone, or not our
 * runner), -1 cannot tell (lock unreadable).
 */
static int
ours(const struct st_stop *s)
{
	pid_t	holder;
	int	held;

	/* A group of our child's cannot be reused while it has a member. */
	if (s->group)
		return (s->pid > 1 && (kill(-s->pid, 0) == 0 || errno == EPERM));
	if (s->start != 0)
		return (st_proc_same(s->pid, s->start));
	if (s->pid <= 0 || s->project == NULL)
		return (0);
	if ((held = st_lock_probe(s->project, &holder)) == -1)
		return (st_pid_alive(s->pid) ? -1 : 0);
	return (held == 1 && holder == s->pid);
}

/*
 * Gone: exited (the pidfd turns readable even before its parent reaps
 * it), or without a pidfd, not ours() any more (a zombie, or a pid
 * reused): the project's folder is not touched again with a pidfd.
 */
static int
gone(const struct st_stop *s)
{
	struct pollfd	pfd;

	if (s->fd != -1) {
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		return (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
	}
	return (ours(s) != 1);
}

static void
enter(struct st_stop *s, int state)
{
	s->state = state;
	clock_gettime(CLOCK_MONOTONIC, &s->since);
}

/* Send sig if it is still ours; 0 sent, -1 it is gone (or not ours). */
static int
send_sig(struct st_stop *s, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (s->fd != -1) {
		if (syscall(SYS_pidfd_send_signal, s->fd, sig, NULL, 0) == 0)
			return (0);
		if (errno != ENOSYS)
			return (-1);	/* ESRCH: it has exited */
	}
#endif
	if (ours(s) != 1)
		return (-1);
	if (kill(s->group ? -s->pid : s->pid, sig) == -1 && errno == ESRCH)
		return (-1);
	return (0);
}

/* SIGTERM to SIGKILL: a runner first stops its handler's group. */
static long
grace_ms(const struct st_stop *s)
{
	return (s->group ? ST_STOP_GRACE_MS : ST_STOP_RUNNER_GRACE_MS);
}

static void
finish_gone(struct st_stop *s)
{
	enter(s, s->killed ? ST_STOP_KILLED : ST_STOP_STOPPED);
}

static void
term(struct st_stop *s)
{
	if (send_sig(s, SIGTERM) == -1)
		finish_gone(s);
	else
		enter(s, ST_STOP_TERM);
}

/* Its heartbeat_at changed since we asked: it beat, so its loop runs. */
static int
answered(const struct st_stop *s)
{
	sqlite3_stmt	*stmt;
	struct st_error	 err;
	const char	*hb;
	int		 rc, yes = 0;

	if (st_sql_prepare(s->g->db, "SELECT heartbeat_at FROM runners "
	    "WHERE id = ?1", &stmt, &err) == -1)
		return (0);
	sqlite3_bind_text(stmt, 1, s->id, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		hb = (const char *)sqlite3_column_text(stmt, 0);
		yes = hb != NULL && (s->heartbeat == NULL ||
		    strcmp(hb, s->heartbeat) != 0);
	}
	sqlite3_finalize(stmt);
	return (yes);
}

st_stop *
st_stop_begin(st_gdb *g, const struct st_runner *r, int flags)
{
	return (st_stop_begin_seen(g, r, 0, flags));
}

/* st_stop_begin of a holder of the lock seen by the caller (ours()). */
st_stop *
st_stop_begin_seen(st_gdb *g, const struct st_runner *r, time_t start,
    int flags)
{
	st_stop	*s;

	s = st_xcalloc(1, sizeof(*s));
	s->start = start;
	s->g = g;
	s->id = r->id != NULL ? st_xstrdup(r->id) : NULL;
	s->project = r->project_path != NULL ?
	    st_xstrdup(r->project_path) : NULL;
	s->heartbeat = r->heartbeat_at != NULL ?
	    st_xstrdup(r->heartbeat_at) : NULL;
	s->pid = r->pid;
	s->flags = flags;
	/* First the pidfd, then the check: it is of the process checked. */
	if ((s->fd = r->pid > 0 ? st_pidfd_open(r->pid) : -1) != -1)
		(void)fcntl(s->fd, F_SETFD, FD_CLOEXEC);
	switch (ours(s)) {
	case 0:
		enter(s, ST_STOP_NOT_HELD);
		return (s);
	case -1:
		enter(s, ST_STOP_UNCHECKED);
		return (s);
	}
	if ((flags & ST_STOP_ASK) && g != NULL && s->id != NULL) {
		if (send_sig(s, SIGUSR1) == -1)
			finish_gone(s);
		else
			enter(s, ST_STOP_ASKING);
	} else
		term(s);
	return (s);
}

/*
 * The same for a process group (a task's handler, run by our runner):
 * SIGTERM now, SIGKILL after ST_STOP_GRACE_MS, gone when the group has
 * no member left.  Internal: the runner's own use.
 */
st_stop *
st_stop_group(pid_t pgid)
{
	st_stop	*s;

	s = st_xcalloc(1, sizeof(*s));
	s->pid = pgid;
	s->group = 1;
	s->fd = -1;
	term(s);
	return (s);
}

int
st_stop_step(st_stop *s)
{
	switch (s->state) {
	case ST_STOP_ASKING:
	case ST_STOP_TERM:
	case ST_STOP_KILL:
		break;
	default:
		return (1);
	}
	if (gone(s)) {
		finish_gone(s);
		return (1);
	}
	switch (s->state) {
	case ST_STOP_ASKING:
		if (answered(s))
			enter(s, ST_STOP_ANSWERED);
		else if (st_ms_since(&s->since) >= ST_STOP_ASK_MS)
			term(s);
		break;
	case ST_STOP_TERM:
		if (st_ms_since(&s->since) < grace_ms(s))
			break;
		if (s->flags & ST_STOP_NO_KILL)
			enter(s, ST_STOP_RUNNING);
		else if (send_sig(s, SIGKILL) == -1)
			finish_gone(s);
		else {
			s->killed = 1;
			enter(s, ST_STOP_KILL);
		}
		break;
	case ST_STOP_KILL:
		if (st_ms_since(&s->since) >= ST_STOP_KILL_MS)
			enter(s, ST_STOP_STUCK);
		break;
	}
	return (st_stop_done(s));
}

int
st_stop_done(const st_stop *s)
{
	return (s->state != ST_STOP_ASKING && s->state != ST_STOP_TERM &&
	    s->state != ST_STOP_KILL);
}

int
st_stop_state(const st_stop *s)
{
	return (s->state);
}

int
st_stop_fd(const st_stop *s)
{
	return (st_stop_done(s) ? -1 : s->fd);
}

double
st_stop_timeout(const st_stop *s)
{
	long	limit, left;

	switch (s->state) {
	case ST_STOP_ASKING:
		limit = ST_STOP_ASK_MS;
		break;
	case ST_STOP_TERM:
		limit = grace_ms(s);
		break;
	case ST_STOP_KILL:
		limit = ST_STOP_KILL_MS;
		break;
	default:
		return (-1.);
	}
	if ((left = limit - st_ms_since(&s->since)) < 0)
		left = 0;
	/* The heartbeat has no event; nor has an exit without a pidfd. */
	if ((s->state == ST_STOP_ASKING || s->fd == -1) && left > STOP_POLL_MS)
		left = STOP_POLL_MS;
	return ((double)left / 1000.);
}

void
st_stop_free(st_stop *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->id);
	free(s->project);
	free(s->heartbeat);
	free(s);
}

void
st_stop_wait(st_stop **v, size_t n)
{
	struct pollfd	*pfd;
	double		 t, wait;
	size_t		 i, left;

	pfd = st_xcalloc(n == 0 ? 1 : n, sizeof(*pfd));
	for (;;) {
		left = 0;
		wait = -1.;
		for (i = 0; i < n; i++) {
			pfd[i].fd = -1;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			if (st_stop_step(v[i]))
				continue;
			left++;
			pfd[i].fd = st_stop_fd(v[i]);
			t = st_stop_timeout(v[i]);
			if (wait < 0. || t < wait)
				wait = t;
		}
		if (left == 0)
			break;
		(void)poll(pfd, (nfds_t)n, (int)(wait * 1000.) + 1);
	}
	free(pfd);
}

/* The most seconds a stop with these flags takes, whatever the process does. */
unsigned int
st_stop_bound(int flags)
{
	long	ms = ST_STOP_RUNNER_GRACE_MS;

	if (flags & ST_STOP_ASK)
		ms += ST_STOP_ASK_MS;
	if (!(flags & ST_STOP_NO_KILL))
		ms += ST_STOP_KILL_MS;
	return ((unsigned int)((ms + 999) / 1000));
}

const char *
st_stop_state_name(int state)
{
	switch (state) {
	case ST_STOP_ASKING:
		return ("asking");
	case ST_STOP_TERM:
		return ("term_sent");
	case ST_STOP_KILL:
		return ("kill_sent");
	case ST_STOP_ANSWERED:
		return ("answered");
	case ST_STOP_STOPPED:
		return ("stopped");
	case ST_STOP_KILLED:
		return ("killed");
	case ST_STOP_RUNNING:
		return ("still_running");
	case ST_STOP_STUCK:
		return ("stuck");
	case ST_STOP_NOT_HELD:
		return ("not_held");
	case ST_STOP_UNCHECKED:
		return ("not_signalled");
	}
	return ("unknown");
}
