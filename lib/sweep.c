/*
 * sweep.c -- the sweep (SPEC 7): for every registered project, clean the
 * rows of dead runners, replace a hung runner, and start a runner where
 * there is pending work and none runs.  One function for 'steroids
 * runners wakeup', cron and the agent's timer.
 *
 * Time is bounded, because the upstream tool's wakeups hung on a locked
 * DB or a dead mount and piled up one a minute:
 *  - only one sweep runs per STEROIDS_HOME (flock on wakeup.lock,
 *    non-blocking: a second sweep returns at once);
 *  - what touches a project's folder (stat, ownership, config, counting
 *    pending tasks with the quick busy timeout) runs in a short-lived
 *    child given PROBE_TIMEOUT_MS: a project on a hung mount is reported
 *    and the child left behind, never waited for;
 *  - a hung runner gets STALE_GRACE_MS after SIGTERM, then SIGKILL;
 *  - no project is taken on after SWEEP_BUDGET seconds: the rest are
 *    reported skipped and the next sweep begins with them;
 *  - so a sweep ends within ST_SWEEP_BOUND seconds (st_sweep_bound),
 *    which the CLI arms with alarm(2) as a backstop for what no timeout
 *    here can catch (a global DB locked for minutes, a hung lock probe).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#if HAVE_DECL_SYS_PIDFD_OPEN
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

#define PROBE_TIMEOUT_MS	2000	/* a project's folder and DB checks */
#define STALE_GRACE_MS		3000	/* SIGTERM to SIGKILL, hung runner */
#define STALE_KILL_MS		1000	/* SIGKILL to gone */
#define SWEEP_BUDGET		40	/* s: no project taken on after this */
#define ST_SWEEP_BOUND		50	/* s: BUDGET + one project's worst */

enum probe_status {
	PROBE_OK,
	PROBE_MISSING,		/* folder gone or not mounted */
	PROBE_UNSAFE,		/* fails the ownership rule */
	PROBE_BROKEN		/* not a project any more, bad config, ... */
};

/* What the probe child sends back; well under PIPE_BUF, so atomic. */
struct probe {
	int	 status;
	long	 pending;		/* -1: could not count, msg says why */
	long	 stale_timeout;
	char	 msg[240];
};

/* What is known about a project's runner after the rows are checked. */
struct runstate {
	size_t	 cleaned;		/* rows deleted (or to delete, dry) */
	int	 held;		/* the runner lock is held */
	pid_t	 running;		/* a live, healthy runner, or 0 */
	pid_t	 killed;		/* a hung runner stopped (or to stop) */
};

const char *
st_sweep_action_name(int action)
{
	switch (action) {
	case ST_SWEEP_NONE:
		return ("none");
	case ST_SWEEP_STARTED:
		return ("started");
	case ST_SWEEP_WOULD_START:
		return ("would_start");
	case ST_SWEEP_RESTARTED:
		return ("restarted");
	case ST_SWEEP_CLEANED:
		return ("cleaned");
	case ST_SWEEP_SKIPPED:
		return ("skipped");
	}
	return ("unknown");
}

/* The whole sweep's upper bound in seconds, whatever the projects do. */
unsigned int
st_sweep_bound(void)
{
	return (ST_SWEEP_BOUND);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* The checks themselves; run in the probe child (or here if fork fails). */
static void
probe_local(const char *path, struct probe *pr)
{
	struct st_error	 e;
	struct stat	 sb;
	st_config	*cfg;
	long		 n;

	memset(pr, 0, sizeof(*pr));
	pr->status = PROBE_OK;
	pr->pending = -1;
	pr->stale_timeout = 300;
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			pr->status = PROBE_MISSING;
		else {
			pr->status = PROBE_BROKEN;
			snprintf(pr->msg, sizeof(pr->msg), "%s",
			    strerror(errno));
		}
		return;
	}
	if (st_path_check_project(path, &e) == -1) {
		pr->status = e.code == ST_ENOTFOUND ? PROBE_MISSING :
		    e.code == ST_EPERM ? PROBE_UNSAFE : PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	if (st_config_load(path, &cfg, &e) == -1) {
		pr->status = PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	pr->stale_timeout = st_config_int(cfg, "runner.stale_timeout");
	st_config_free(cfg);
	if (st_project_pending(path, ST_PDB_QUICK, &n, &e) == -1)
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
	else
		pr->pending = n;
}

/*
 * Run probe_local in a child and wait at most PROBE_TIMEOUT_MS.  A child
 * stuck on a dead mount is killed and not waited for: the CLI exits and
 * init reaps it; the agent reaps its children anyway.  The child keeps no
 * fd of ours (wakeup.lock above all), so it can never hold a lock.
 * Returns -1 on timeout.
 */
static int
probe(const char *path, struct probe *pr)
{
	struct timespec	 t0;
	struct pollfd	 pfd;
	size_t		 got = 0;
	ssize_t		 n;
	pid_t		 pid;
	long		 left;
	int		 p[2];

	if (pipe(p) == -1) {
		probe_local(path, pr);		/* degraded, not wrong */
		return (0);
	}
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		probe_local(path, pr);
		return (0);
	}
	if (pid == 0) {
		if (p[1] != 3 && dup2(p[1], 3) == -1)
			_exit(1);
		closefrom(4);
		probe_local(path, pr);
		(void)write(3, pr, sizeof(*pr));
		_exit(0);
	}
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (got < sizeof(*pr)) {
		if ((left = PROBE_TIMEOUT_MS - ms_since(&t0)) <= 0)
			break;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents == 0)
			continue;
		n = read(p[0], (char *)pr + got, sizeof(*pr) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	if (got == sizeof(*pr)) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return (0);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, WNOHANG);
	memset(pr, 0, sizeof(*pr));
	pr->status = PROBE_BROKEN;
	pr->pending = -1;
	return (-1);
}

/* Wait up to ms for pid to be gone; 1 when it is. */
static int
wait_gone(pid_t pid, long ms)
{
	struct timespec	 t0, tick = { 0, 20 * 1000 * 1000 };
#if HAVE_DECL_SYS_PIDFD_OPEN
	struct pollfd	 pfd;
	int		 fd;

	/* An event where the kernel has one: the pidfd turns readable. */
	if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) != -1) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (poll(&pfd, 1, (int)(ms - ms_since(&t0) > 0 ?
		    ms - ms_since(&t0) : 0)) == -1 && errno == EINTR)
			;
		close(fd);
		return (!st_pid_alive(pid));
	}
#endif
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (st_pid_alive(pid) && ms_since(&t0) < ms)
		nanosleep(&tick, NULL);
	return (!st_pid_alive(pid));
}

/*
 * A hung runner: SIGTERM (it puts its task back, stops its task handler's
 * process group and exits), SIGKILL after the grace.  0 once its lock is
 * free.  Known gap: after SIGKILL the handler's group (its own pgid, in
 * the runner's session) is not signalled here, as neither the runner's
 * row nor its lock file names that pgid; on Linux PR_SET_PDEATHSIG kills
 * the handler's shell, but what the shell started may live on.
 */
static int
stop_hung(const char *path, pid_t pid)
{
	pid_t	holder;

	/* Still the holder?  Else it is gone and its pid may be another's. */
	if (st_lock_probe(path, &holder) != 1 || holder != pid)
		return (0);
	if (kill(pid, SIGTERM) == -1 && errno == ESRCH)
		return (0);
	if (!wait_gone(pid, STALE_GRACE_MS)) {
		kill(pid, SIGKILL);
		wait_gone(pid, STALE_KILL_MS);
	}
	return (st_lock_probe(path, NULL) == 0 ? 0 : -1);
}

/*
 * The runner rows of a project against its lock, which is the truth: a
 * row whose process is dead, or whose project lock is free, or whose pid
 * is not the lock holder's (a reused pid), is deleted.  The holder's row
 * with a heartbeat older than stale_timeout (compared by SQLite) is a
 * hung runner: stopped and its row deleted.  A held lock with no row is
 * a runner all the same (starting, or a foreground loop).  A held lock
 * whose PID is not written yet is a runner starting: no row is touched,
 * no process signalled (a live pid in a row may be a reused one) and
 * nothing started.
 */
static int
check_runners(st_gdb *g, const char *path, long stale_timeout, int dry,
    struct runstate *rs, struct st_error *err)
{
	struct st_runner_list	 l;
	struct st_runner	*r, *mine = NULL;
	pid_t			 holder;
	size_t			 i;
	int			 held, stale;

	memset(rs, 0, sizeof(*rs));
	if ((held = st_lock_probe(path, &holder)) == -1)
		return (st_seterr(err, ST_EGENERAL, "cannot read the runner "
		    "lock of %s", path));
	if (st_runners_list(g, path, &l, err) == -1)
		return (-1);
	rs->held = held;
	for (i = 0; i < l.n; i++) {
		r = &l.v[i];
		if (held && st_pid_alive(r->pid) &&
		    (holder == 0 || r->pid == holder)) {
			if (mine == NULL)
				mine = r;
			continue;
		}
		if (!dry && st_runner_delete(g, r->id, err) == -1)
			goto fail;
		rs->cleaned++;
	}
	if (!held)
		goto out;
	rs->running = holder;
	if (holder == 0 || mine == NULL || stale_timeout <= 0)
		goto out;
	if (st_runner_stale(g, mine->id, stale_timeout, &stale, err) == -1)
		goto fail;
	if (!stale)
		goto out;
	if (!dry) {
		if (stop_hung(path, mine->pid) == -1) {
			st_seterr(err, ST_EGENERAL, "hung runner (pid %ld) did "
			    "not exit after SIGKILL", (long)mine->pid);
			goto fail;
		}
		if (st_runner_delete(g, mine->id, err) == -1)
			goto fail;
	}
	rs->killed = mine->pid;
	rs->running = 0;
	rs->held = 0;
out:
	st_runner_list_free(&l);
	return (0);
fail:
	st_runner_list_free(&l);
	return (-1);
}

static void
add_note(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append "; note" to a reason. */
static void
add_note(char *buf, size_t len, const char *fmt, ...)
{
	char	note[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (*buf != '\0')
		strlcat(buf, "; ", len);
	strlcat(buf, note, len);
}

/* One project, the steps of SPEC 7 in order. */
static void
sweep_one(st_gdb *g, const struct st_project *p, int flags,
    st_sweep_hold hold, void *arg, struct st_sweep_result *res)
{
	struct st_error	 e;
	struct probe	 pr;
	struct runstate	 rs;
	const char	*path = p->path, *why;
	char		*reason = res->reason;
	size_t		 rlen = sizeof(res->reason);
	int		 dry = (flags & ST_SWEEP_DRY_RUN) != 0;
	pid_t		 pid;

	memset(res, 0, sizeof(*res));
	res->project = st_xstrdup(path);
	res->action = ST_SWEEP_NONE;
	if (!p->enabled) {
		strlcpy(reason, "disabled", rlen);
		return;
	}
	if (probe(path, &pr) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		snprintf(reason, rlen, "no answer within %d ms (hung mount?)",
		    PROBE_TIMEOUT_MS);
		return;
	}
	switch (pr.status) {
	case PROBE_MISSING:
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, "directory not found", rlen);
		return;
	case PROBE_UNSAFE:
		res->action = ST_SWEEP_SKIPPED;
		snprintf(reason, rlen, "unsafe: %s", pr.msg);
		return;
	case PROBE_BROKEN:
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, pr.msg, rlen);
		return;
	}

	if (check_runners(g, path, pr.stale_timeout, dry, &rs, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		strlcpy(reason, e.msg, rlen);
		return;
	}
	if (rs.cleaned > 0) {
		res->action = ST_SWEEP_CLEANED;
		add_note(reason, rlen, "%s %zu dead runner row%s", dry ?
		    "would remove" : "removed", rs.cleaned,
		    rs.cleaned == 1 ? "" : "s");
	}
	if (rs.killed != 0) {
		res->action = ST_SWEEP_CLEANED;
		add_note(reason, rlen, "%s hung runner (pid %ld)", dry ?
		    "would stop" : "stopped", (long)rs.killed);
	}
	if (rs.running != 0) {
		add_note(reason, rlen, "runner running (pid %ld)",
		    (long)rs.running);
		res->pid = rs.running;
		return;
	}
	if (rs.held) {
		add_note(reason, rlen, "runner starting (its lock is held, its "
		    "pid not yet written)");
		return;
	}
	if (pr.pending < 0) {
		if (res->action == ST_SWEEP_NONE)
			res->action = ST_SWEEP_SKIPPED;
		add_note(reason, rlen, "%s", pr.msg);
		return;
	}
	if (pr.pending == 0) {
		add_note(reason, rlen, "no pending work");
		return;
	}
	add_note(reason, rlen, "%ld pending task%s", pr.pending,
	    pr.pending == 1 ? "" : "s");
	if (hold != NULL && (why = hold(path, arg)) != NULL) {
		add_note(reason, rlen, "not started: %s", why);
		return;
	}
	if (dry) {
		res->action = ST_SWEEP_WOULD_START;
		return;
	}
	if (st_spawn_runner(path, (flags & ST_SWEEP_NO_DETACH) ? 0 :
	    ST_SPAWN_DETACH, &pid, &e) == -1) {
		res->action = ST_SWEEP_SKIPPED;
		add_note(reason, rlen, "%s", e.msg);
		return;
	}
	res->action = rs.killed != 0 ? ST_SWEEP_RESTARTED : ST_SWEEP_STARTED;
	res->pid = pid;
}

/*
 * Sweep one registered project (the agent, on an event).  It does not
 * take wakeup.lock: racing a full sweep is harmless, since a second
 * runner started for a project finds its lock held and exits 6.  Fails
 * (ST_ENOTFOUND) only for a project that is not registered, or when the
 * global DB cannot be read; everything about the project itself is in
 * *res.  Free *res with st_sweep_result_free.
 */
int
st_sweep_project(st_gdb *g, const char *path, int flags,
    struct st_sweep_result *res, struct st_error *err)
{
	struct st_project	p;
	int			found;

	memset(res, 0, sizeof(*res));
	if (st_registry_get(g, path, &p, &found, err) == -1)
		return (-1);
	if (!found)
		return (st_seterr(err, ST_ENOTFOUND, "not a registered project: "
		    "%s", path));
	sweep_one(g, &p, flags, NULL, NULL, res);
	st_project_free(&p);
	return (0);
}

/*
 * Where to begin: the project a sweep cut short by its time budget did
 * not take on first, whose path it left in wakeup.lock; so projects late
 * in the registry cannot starve behind slow ones.  0 if none.
 */
static size_t
resume_at(int fd, const struct st_project_list *pl)
{
	char	buf[PATH_MAX + 1];
	ssize_t	n;
	size_t	i;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	for (i = 0; i < pl->n; i++)
		if (strcmp(pl->v[i].path, buf) == 0)
			return (i);
	return (0);
}

/*
 * Sweep every registered project, one result each in registry order
 * (disabled ones too, action none), beginning where a sweep cut short by
 * its budget stopped (resume_at).  0: done, *l filled; 1: another
 * sweep holds wakeup.lock, *l empty and err says so (not a failure);
 * -1: the global DB or wakeup.lock could not be used.
 */
int
st_sweep(st_gdb *g, int flags, struct st_sweep_list *l, struct st_error *err)
{
	return (st_sweep_held(g, flags, NULL, NULL, l, err));
}

/* st_sweep, asking hold before each start (the agent's backoff). */
int
st_sweep_held(st_gdb *g, int flags, st_sweep_hold hold, void *arg,
    struct st_sweep_list *l, struct st_error *err)
{
	struct st_project_list	 pl;
	struct timespec		 t0;
	char			 lock[PATH_MAX + 16];
	const char		*cut = NULL;
	size_t			 i, k, first;
	int			 fd;

	l->v = NULL;
	l->n = 0;
	if (snprintf(lock, sizeof(lock), "%s/wakeup.lock", st_gdb_home(g)) >=
	    (int)sizeof(lock))
		return (st_seterr(err, ST_EARGS, "path too long"));
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return (st_seterr(err, ST_EPERM, "cannot open %s: %s", lock,
		    strerror(errno)));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		if (errno == EWOULDBLOCK) {
			st_seterr(err, ST_ELOCKED, "another sweep is running "
			    "(%s is held); nothing to do", lock);
			return (1);
		}
		return (st_seterr(err, ST_EGENERAL, "flock %s: %s", lock,
		    strerror(errno)));
	}
	if (st_registry_list(g, 0, &pl, err) == -1) {
		close(fd);
		return (-1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	l->v = st_xcalloc(pl.n == 0 ? 1 : pl.n, sizeof(*l->v));
	first = resume_at(fd, &pl);
	for (k = 0; k < pl.n; k++) {
		i = (first + k) % pl.n;
		if (ms_since(&t0) >= SWEEP_BUDGET * 1000L) {
			if (cut == NULL)
				cut = pl.v[i].path;
			l->v[i].project = st_xstrdup(pl.v[i].path);
			l->v[i].action = ST_SWEEP_SKIPPED;
			snprintf(l->v[i].reason, sizeof(l->v[i].reason),
			    "sweep time budget (%d s) used up; the next sweep "
			    "starts here", SWEEP_BUDGET);
			continue;
		}
		sweep_one(g, &pl.v[i], flags, hold, arg, &l->v[i]);
	}
	l->n = pl.n;
	if (!(flags & ST_SWEEP_DRY_RUN) && ftruncate(fd, 0) == 0 &&
	    cut != NULL)
		(void)pwrite(fd, cut, strlen(cut), 0);
	st_project_list_free(&pl);
	close(fd);
	return (0);
}

void
st_sweep_result_free(struct st_sweep_result *r)
{
	free(r->project);
	r->project = NULL;
}

void
st_sweep_list_free(struct st_sweep_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		st_sweep_result_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
