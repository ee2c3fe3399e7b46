/*
 * runner.c -- the runner (SPEC 6): hold the project's lock, keep a row in
 * the global DB alive with heartbeats, and run runner.command for each
 * task in its own process group until no work is left.
 *
 * It lives in the library, not in cli/cmd-loop.c, so the CLI stays thin
 * and the whole loop can be driven from tests; it owns the process while
 * it runs (chdir, SIGTERM/SIGINT/SIGCHLD through libev's default loop),
 * which is what a runner process is for.  libev gives one event loop for
 * the heartbeat, the task timeout, the handler's stop (stop.c, in steps),
 * its exit and the signals: no sleep loops, and heartbeats go on while a
 * long task runs.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "st-int.h"

#define HB_BUSY_MS	1000	/* a heartbeat never holds the loop long */
#define HANDLER_FILE	"handler.pgid"	/* in .steroids: the group running */

struct runner {
	struct ev_loop		*loop;
	const char		*project;
	const char		*command;
	const struct st_run_opts *opts;
	st_gdb			*g;
	st_pdb			*p;
	int			 lockfd;
	int			 queue;		/* runner.queue_command */
	char			 id[37];
	long			 timeout;
	long			 max_failures;

	ev_timer		 heartbeat;
	ev_timer		 deadline;	/* runner.task_timeout */
	ev_timer		 stop_wait;	/* the next step of stop */
	ev_child		 child;
	ev_signal		 sigterm;
	ev_signal		 sigint;
	ev_signal		 sigusr1;	/* "beat now" (stop.c asks) */

	const char		*task_id;	/* the task running, or NULL */
	pid_t			 pid;		/* its handler (and group) */
	int			 wstatus;
	int			 exited;
	int			 timed_out;
	st_stop			*stop;		/* its group being stopped */
	int			 stopping;	/* SIGTERM or SIGINT came */
};

static void
notify(struct runner *r, int event, const struct st_task *t,
    const char *action, const char *status, const char *result)
{
	struct st_run_info	info;

	if (r->opts == NULL || r->opts->cb == NULL)
		return;
	memset(&info, 0, sizeof(info));
	info.event = event;
	info.runner_id = r->id;
	info.project = r->project;
	info.task = t;
	info.action = action;
	info.status = status;
	info.result = result;
	r->opts->cb(&info, r->opts->arg);
}

/*
 * <project>/.steroids/logs/runner.log, opened for appending: the folder
 * 0700, the file 0600, and moved to runner.log.1 first once it has
 * reached max bytes, so a chatty handler cannot fill the disk.  The runner
 * and whoever starts one (spawn.c) may rotate at the same moment: each
 * rotates only the file it holds flock on and only while the name still
 * points at it, so one rotation never fails on or throws away another's.
 */
int
st_runner_log_open(const char *project, off_t max, int *fdp,
    struct st_error *err)
{
	char		 dir[PATH_MAX], path[PATH_MAX + 16], old[PATH_MAX + 32];
	struct stat	 sb, cur;
	int		 fd, tries;

	*fdp = -1;
	if (snprintf(dir, sizeof(dir), "%s/" ST_PROJECT_DIR "/logs",
	    project) >= (int)sizeof(dir))
		return (st_seterr(err, ST_EARGS, "path too long: %s", project));
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return (st_seterr(err, ST_EPERM, "cannot create %s: %s", dir,
		    strerror(errno)));
	if (lstat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != geteuid())
		return (st_seterr(err, ST_EPERM, "%s is not a directory of "
		    "yours", dir));
	if (st_fix_mode(dir, 0700, err) == -1)
		return (-1);
	snprintf(path, sizeof(path), "%s/runner.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	for (tries = 0;; tries++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd == -1)
			return (st_seterr(err, ST_EPERM, "cannot open %s: %s",
			    path, strerror(errno)));
		/* A few rounds at most: a log cannot fill that fast. */
		if (max <= 0 || tries == 8 || flock(fd, LOCK_EX) == -1)
			break;
		if (fstat(fd, &sb) == -1 || sb.st_size < max) {
			flock(fd, LOCK_UN);
			break;
		}
		if (lstat(path, &cur) == 0 && cur.st_dev == sb.st_dev &&
		    cur.st_ino == sb.st_ino && rename(path, old) == -1) {
			close(fd);
			return (st_seterr(err, ST_EPERM, "cannot rotate %s: %s",
			    path, strerror(errno)));
		}
		close(fd);	/* and its flock: the next rotator sees it moved */
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 07777) != 0600)
		fchmod(fd, 0600);
	*fdp = fd;
	return (0);
}

static void
log_line(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line of the runner's own in the log, between the handlers' output. */
static void
log_line(int fd, const char *fmt, ...)
{
	char		 buf[2048], stamp[32];
	struct tm	 tm;
	time_t		 now = time(NULL);
	va_list		 ap;
	int		 n;

	if (fd == -1)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(buf, sizeof(buf), "[steroids %s] ", stamp);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strlcat(buf, "\n", sizeof(buf));
	if (write(fd, buf, strlen(buf)) == -1) {
		/* Nothing to do: the log is best effort. */
	}
}

/* Global DB writes wait at most this long: the loop must not stall. */
static void
gdb_busy(struct runner *r, int ms)
{
	sqlite3_busy_timeout(r->g->db, ms);
}

static void
beat(struct runner *r)
{
	struct st_error	 err;

	/* A missed beat is retried at the next tick; never fatal. */
	gdb_busy(r, HB_BUSY_MS);
	st_runner_heartbeat(r->g, r->id, NULL, r->task_id, &err);
	gdb_busy(r, ST_BUSY_TIMEOUT_MS);
}

static void
heartbeat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	beat(w->data);
}

/*
 * A sweep that found our heartbeat old asks whether we are hung: a beat
 * at once says no (after a suspend the timer is up to an interval late).
 */
static void
ask_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct runner	*r = w->data;

	(void)loop;
	(void)revents;
	if (r->g != NULL && r->id[0] != '\0')
		beat(r);
}

static int
group_alive(pid_t pgid)
{
	return (kill(-pgid, 0) == 0 || errno == EPERM);
}

static void
stop_clear(struct runner *r)
{
	ev_timer_stop(r->loop, &r->stop_wait);
	st_stop_free(r->stop);
	r->stop = NULL;
}

static void
handler_done(struct runner *r)
{
	ev_timer_stop(r->loop, &r->deadline);
	stop_clear(r);
	ev_child_stop(r->loop, &r->child);
	ev_break(r->loop, EVBREAK_ONE);
}

/*
 * The stop of the handler's group (stop.c) goes on.  Over once the group
 * is empty, or SIGKILL's wait has passed (a member stuck in the kernel
 * must not hold the runner forever), and the leader is reaped: child_cb
 * ends it if the leader is not yet.
 */
static void
stop_next(struct runner *r)
{
	if (st_stop_step(r->stop)) {
		if (r->exited)
			handler_done(r);
		return;
	}
	ev_timer_set(&r->stop_wait, st_stop_timeout(r->stop), 0.);
	ev_timer_start(r->loop, &r->stop_wait);
}

static void
stop_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	stop_next(w->data);
}

static void
term_group(struct runner *r)
{
	if (r->stop != NULL)
		return;
	r->stop = st_stop_group(r->pid);
	stop_next(r);
}

/*
 * The handler's shell is gone.  What it left in its group gets SIGTERM
 * and the grace; as subreaper we reap them, so an empty group means done.
 */
static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct runner	*r = w->data;

	(void)loop;
	(void)revents;
	r->wstatus = w->rstatus;
	r->exited = 1;
	/*
	 * The exit and the deadline both due (a runner stopped past it and
	 * continued): the deadline, whichever libev hands us first.
	 */
	if (ev_is_active(&r->deadline) &&
	    ev_timer_remaining(r->loop, &r->deadline) <= 0.)
		r->timed_out = 1;
	ev_child_stop(r->loop, &r->child);
	ev_timer_stop(r->loop, &r->deadline);
	if (!group_alive(r->pid) || (r->stop != NULL &&
	    st_stop_done(r->stop))) {
		handler_done(r);
		return;
	}
	term_group(r);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct runner	*r = w->data;

	(void)loop;
	(void)revents;
	r->timed_out = 1;
	term_group(r);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct runner	*r = w->data;

	(void)revents;
	r->stopping = 1;
	if (r->pid > 0 && !r->exited)
		term_group(r);
	else if (r->pid == 0)
		ev_break(loop, EVBREAK_ONE);
}

/* Set the handler's environment in ours: the child inherits it. */
static void
task_env(struct runner *r, const struct st_task *t, const char *action)
{
	setenv("STEROIDS_TASK_ID", t->id, 1);
	setenv("STEROIDS_TASK_TITLE", t->title != NULL ? t->title : "", 1);
	setenv("STEROIDS_TASK_ACTION", action, 1);
	setenv("STEROIDS_PROJECT", r->project, 1);
	setenv("STEROIDS_RUNNER_ID", r->id, 1);
}

/*
 * A runner killed with SIGKILL cannot stop its handler.  PR_SET_PDEATHSIG
 * takes the handler's shell with it (Linux), but whatever the shell
 * started lives on in its process group and would still work on the task
 * the next runner resumes: two handlers on one task.  So while a handler
 * runs, its group and our id are in .steroids/handler.pgid, and the next
 * runner, holding the lock, ends what is left of that group (SIGTERM, then
 * SIGKILL after the grace) and waits for it to be gone before it claims a
 * task.  A group id can be reused once its group is gone: st_pgroup_marked
 * checks on Linux that a process of the group still carries the dead
 * runner's STEROIDS_RUNNER_ID.  Without Linux's /proc the record is
 * trusted; a wrong kill then needs the old group to end by itself and its
 * id to go to a new group of the same user before the next runner starts.
 */
static void
handler_path(const char *project, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" ST_PROJECT_DIR "/" HANDLER_FILE, project);
}

static void
handler_record(struct runner *r)
{
	char	path[PATH_MAX + 32];
	int	fd;

	handler_path(r->project, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return;		/* best effort, as PR_SET_PDEATHSIG is */
	dprintf(fd, "%ld %s\n", (long)r->pid, r->id);
	close(fd);
}

static void
handler_forget(struct runner *r)
{
	char	path[PATH_MAX + 32];

	handler_path(r->project, path, sizeof(path));
	unlink(path);
}

/* End the group a dead runner's handler left, if it is still there. */
static void
reap_leftover(struct runner *r)
{
	char	 path[PATH_MAX + 32], buf[128], rid[37];
	ssize_t	 n;
	long	 pgid;
	int	 fd, logfd;

	handler_path(r->project, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%ld %36s", &pgid, rid) == 2 && pgid > 1 &&
	    pgid <= INT_MAX && group_alive((pid_t)pgid) &&
	    st_pgroup_marked((pid_t)pgid, "STEROIDS_RUNNER_ID", rid) != 0) {
		if (st_runner_log_open(r->project, 0, &logfd, NULL) == 0) {
			log_line(logfd, "runner %s: ending process group %ld "
			    "left by runner %s", r->id, pgid, rid);
			close(logfd);
		}
		/* The handler's own machinery, with no leader to wait for. */
		r->pid = (pid_t)pgid;
		r->exited = 1;
		r->timed_out = 0;
		term_group(r);
		if (r->stop != NULL)	/* else over at once */
			ev_run(r->loop, 0);
		r->pid = 0;
		r->exited = 0;
	}
	unlink(path);
}

/*
 * /bin/sh -c runner.command: cwd the project, stdin /dev/null, output to
 * the log, its own process group, nothing else of ours open.  If we die
 * (kill -9) the shell gets SIGKILL too, where the kernel can do that.
 */
static int
spawn_handler(struct runner *r, int logfd, struct st_error *err)
{
	static const int sigdfl[] = { SIGPIPE, SIGTERM, SIGINT, SIGCHLD, 0 };
	struct st_child	 c;
	char		*argv[4];
	pid_t		 pid;
	int		 nullfd, e;

	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return (st_seterr(err, ST_EGENERAL, "/dev/null: %s",
		    strerror(errno)));
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)r->command;
	argv[3] = NULL;
	memset(&c, 0, sizeof(c));
	c.path = "/bin/sh";
	c.argv = argv;
	c.fd[0] = nullfd;
	c.fd[1] = c.fd[2] = logfd;
	c.dirfd = -1;
	c.sigdfl = sigdfl;
	c.flags = ST_CHILD_PGROUP | ST_CHILD_DEATHSIG | ST_CHILD_UNBLOCK |
	    ST_CHILD_NOWAIT;
	fflush(NULL);
	if (st_child_start(&c, &pid, &e, err) == -1) {
		close(nullfd);
		return (-1);
	}
	/* Both sides set the group, so a kill cannot beat the child to it. */
	setpgid(pid, pid);
	close(nullfd);
	r->pid = pid;
	r->exited = r->timed_out = 0;
	r->wstatus = 0;
	handler_record(r);
	ev_child_set(&r->child, pid, 0);
	ev_child_start(r->loop, &r->child);
	if (r->timeout > 0) {
		ev_timer_set(&r->deadline, (ev_tstamp)r->timeout, 0.);
		ev_timer_start(r->loop, &r->deadline);
	}
	if (r->stopping)
		term_group(r);
	return (0);
}

static void
describe(struct runner *r, char *buf, size_t len)
{
	if (r->timed_out)
		snprintf(buf, len, "timeout after %ld s", r->timeout);
	else
		st_wait_status(r->wstatus, ST_WAIT_SHORT, buf, len);
	if (r->stopping && !(WIFEXITED(r->wstatus) &&
	    WEXITSTATUS(r->wstatus) == 0 && !r->timed_out))
		strlcat(buf, ", interrupted", len);
}

/* Run one claimed task to its end and record the verdict. */
static int
run_task(struct runner *r, struct st_task *t, const char *action,
    struct st_error *err)
{
	char		 result[64], status[ST_TASK_STATUS_LEN], notes[128];
	int		 logfd, outcome;
	struct st_error	 lerr;

	r->task_id = t->id;
	gdb_busy(r, HB_BUSY_MS);
	st_runner_heartbeat(r->g, r->id, "running", t->id, &lerr);
	gdb_busy(r, ST_BUSY_TIMEOUT_MS);
	notify(r, ST_RUN_TASK_BEGIN, t, action, NULL, NULL);

	if (st_runner_log_open(r->project, ST_RUNNER_LOG_MAX, &logfd,
	    err) == -1)
		goto fail;
	log_line(logfd, "runner %s: task %s (%s): %s", r->id, t->id, action,
	    t->title != NULL ? t->title : "");
	task_env(r, t, action);
	if (spawn_handler(r, logfd, err) == -1) {
		close(logfd);
		goto fail;
	}
	ev_run(r->loop, 0);
	if (!group_alive(r->pid))
		handler_forget(r);
	r->pid = 0;

	describe(r, result, sizeof(result));
	if (!r->timed_out && WIFEXITED(r->wstatus) &&
	    WEXITSTATUS(r->wstatus) == 0)
		outcome = ST_TASK_DONE;
	else if (r->stopping)
		outcome = ST_TASK_INTERRUPTED;
	else
		outcome = ST_TASK_FAILED;
	snprintf(notes, sizeof(notes), "runner: %s", result);
	if (st_task_finish(r->p, t->id, outcome, r->max_failures, r->id,
	    notes, status, err) == -1) {
		log_line(logfd, "runner %s: task %s: %s; cannot record: %s",
		    r->id, t->id, result, err->msg);
		close(logfd);
		goto fail;
	}
	log_line(logfd, "runner %s: task %s: %s -> %s", r->id, t->id, result,
	    status);
	close(logfd);
	notify(r, ST_RUN_TASK_END, t, action, status, result);
	r->task_id = NULL;
	gdb_busy(r, HB_BUSY_MS);
	st_runner_heartbeat(r->g, r->id, r->stopping ? "stopping" : "idle",
	    NULL, &lerr);
	gdb_busy(r, ST_BUSY_TIMEOUT_MS);
	return (0);
fail:
	/* Not the handler's fault: the task goes back, uncounted. */
	st_task_finish(r->p, t->id, ST_TASK_INTERRUPTED, r->max_failures,
	    r->id, "runner error", NULL, &lerr);
	r->task_id = NULL;
	return (-1);
}

/*
 * We hold the lock, so another row of ours is a runner that died without
 * cleaning up (kill -9, OOM, reboot) and goes.  A live runner that takes
 * no lock (the upstream tool's, st_runner_lockless_state) has the
 * project all the same: refuse, as a held lock does.
 */
static int
claim_rows(struct runner *r, struct st_error *err)
{
	struct st_runner_list	l;
	size_t			i;
	int			rc = 0;

	if (st_runners_list(r->g, r->project, &l, err) == -1)
		return (-1);
	for (i = 0; i < l.n && rc == 0; i++) {
		if (l.v[i].id == NULL || strcmp(l.v[i].id, r->id) == 0)
			continue;
		if (st_runner_lockless_state(&l.v[i]) == ST_RUNNER_ALIVE)
			rc = st_seterr(err, ST_ELOCKED, "a runner is already "
			    "running for %s (pid %ld, the upstream tool's: it "
			    "takes no runner lock)", r->project,
			    (long)l.v[i].pid);
		else
			rc = st_runner_delete(r->g, l.v[i].id, err);
	}
	st_runner_list_free(&l);
	return (rc);
}

/* A disabled project finishes its task and stops (SPEC 6). */
static int
project_disabled(struct runner *r)
{
	struct st_project	p;
	struct st_error		err;
	int			found, off;

	if (st_registry_get(r->g, r->project, &p, &found, &err) == -1)
		return (0);	/* cannot tell: keep working */
	off = found && !p.enabled;
	st_project_free(&p);
	return (off);
}

static int
setup(struct runner *r, struct st_error *err)
{
	st_config	*cfg = NULL;
	const char	*cmd;
	pid_t		 holder;
	long		 interval;

	if (chdir(r->project) == -1)
		return (st_seterr(err, errno == ENOENT ? ST_ENOTFOUND :
		    ST_EPERM, "cannot enter %s: %s", r->project,
		    strerror(errno)));
	if (st_config_load(r->project, &cfg, err) == -1)
		return (-1);
	if ((cmd = st_config_str(cfg, "runner.queue_command")) != NULL)
		r->queue = 1;
	else if ((cmd = st_config_str(cfg, "runner.command")) == NULL) {
		st_config_free(cfg);
		return (st_seterr(err, ST_ECONFIG, "runner.command is not set "
		    "for %s; set it with: steroids config set runner.command "
		    "'<command>'", r->project));
	}
	r->command = st_xstrdup(cmd);
	/* A queue command is one long task: no per-task timeout. */
	r->timeout = r->queue ? 0 : st_config_int(cfg, "runner.task_timeout");
	r->max_failures = st_config_int(cfg, "runner.max_failures");
	interval = st_config_int(cfg, "runner.heartbeat_interval");
	st_config_free(cfg);

	if (st_lock_acquire(r->project, &r->lockfd, &holder, err) == -1)
		return (-1);
	if (st_pdb_open(r->project, 0, &r->p, err) == -1)
		return (-1);
	if ((r->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return (st_seterr(err, ST_EGENERAL, "cannot start the event "
		    "loop (libev)"));
	/* Signals first: from here on a stop cannot leak the row. */
	ev_signal_init(&r->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&r->sigint, signal_cb, SIGINT);
	ev_signal_init(&r->sigusr1, ask_cb, SIGUSR1);
	r->sigterm.data = r->sigint.data = r->sigusr1.data = r;
	ev_signal_start(r->loop, &r->sigterm);
	ev_signal_start(r->loop, &r->sigint);
	ev_signal_start(r->loop, &r->sigusr1);
	ev_init(&r->child, child_cb);
	ev_init(&r->deadline, deadline_cb);
	ev_init(&r->stop_wait, stop_wait_cb);
	r->child.data = r->deadline.data = r->stop_wait.data = r;
#if defined(HAVE_SYS_PRCTL_H) && defined(PR_SET_CHILD_SUBREAPER)
	/* Orphans of a handler come to us, so its group can be seen empty. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif

	if (st_gdb_open(&r->g, err) == -1)
		return (-1);
	/*
	 * Our row before we look at the others: an upstream runner that
	 * checks for one after this sees ours and exits; one that registered
	 * before is found by claim_rows.  In queue mode the command is such
	 * a runner and would refuse beside our row: the lock stands for us.
	 */
	if (r->queue)
		st_uuid(r->id);
	else if (st_runner_insert(r->g, r->project, getpid(), r->id,
	    err) == -1)
		return (-1);
	if (claim_rows(r, err) == -1)
		return (-1);
	if (!r->queue) {
		ev_timer_init(&r->heartbeat, heartbeat_cb, (ev_tstamp)interval,
		    (ev_tstamp)interval);
		r->heartbeat.data = r;
		ev_timer_start(r->loop, &r->heartbeat);
	}
	reap_leftover(r);
	return (0);
}

static void
teardown(struct runner *r)
{
	struct st_error	err;
	sigset_t	usr1, old;

	if (r->g != NULL && r->id[0] != '\0') {
		gdb_busy(r, ST_BUSY_TIMEOUT_MS);
		st_runner_delete(r->g, r->id, &err);
	}
	if (r->loop != NULL) {
		stop_clear(r);
		ev_timer_stop(r->loop, &r->heartbeat);
		ev_signal_stop(r->loop, &r->sigterm);
		ev_signal_stop(r->loop, &r->sigint);
		/* An ask that comes late must not kill us, as SIG_DFL would. */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, &old);
		ev_signal_stop(r->loop, &r->sigusr1);
		signal(SIGUSR1, SIG_IGN);
		sigprocmask(SIG_SETMASK, &old, NULL);
		ev_loop_destroy(r->loop);
	}
	st_gdb_close(r->g);
	st_pdb_close(r->p);
	/* The row goes before the lock: a row never outlives its runner. */
	st_lock_release(r->lockfd);
	free((char *)r->command);
}

/*
 * Queue mode: runner.queue_command works the whole queue itself (the
 * upstream tool's runner in the foreground, say), run once, as a task
 * handler is, while we hold the lock.  It exits 0 when it is done; 6 says
 * another runner has the project, as ours would.
 */
static int
run_queue(struct runner *r, struct st_run_result *res, struct st_error *err)
{
	char	result[64];
	int	logfd;

	if (st_runner_log_open(r->project, ST_RUNNER_LOG_MAX, &logfd,
	    err) == -1)
		return (-1);
	log_line(logfd, "runner %s: queue command: %s", r->id, r->command);
	setenv("STEROIDS_PROJECT", r->project, 1);
	setenv("STEROIDS_RUNNER_ID", r->id, 1);
	if (spawn_handler(r, logfd, err) == -1) {
		close(logfd);
		return (-1);
	}
	ev_run(r->loop, 0);
	if (!group_alive(r->pid))
		handler_forget(r);
	r->pid = 0;
	describe(r, result, sizeof(result));
	log_line(logfd, "runner %s: queue command: %s", r->id, result);
	close(logfd);
	if (r->stopping) {
		res->stop = ST_STOP_SIGNAL;
		return (0);
	}
	if (WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0) {
		res->stop = ST_STOP_DONE;
		return (0);
	}
	return (st_seterr(err, WIFEXITED(r->wstatus) &&
	    WEXITSTATUS(r->wstatus) == ST_ELOCKED ? ST_ELOCKED : ST_EGENERAL,
	    "runner.queue_command for %s: %s", r->project, result));
}

/*
 * Run a project's queue: 0 when it stopped as asked (no work left,
 * --once, a stop signal, the project disabled), -1 with *err otherwise.
 * project must be canonical.
 */
int
st_runner_run(const char *project, const struct st_run_opts *opts,
    struct st_run_result *res, struct st_error *err)
{
	struct runner	 r;
	struct st_task	 t;
	const char	*action;
	int		 found, rc = -1;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.project = project;
	r.opts = opts;
	r.lockfd = -1;
	if (setup(&r, err) == -1)
		goto out;
	strlcpy(res->runner_id, r.id, sizeof(res->runner_id));
	notify(&r, ST_RUN_STARTED, NULL, NULL, NULL, NULL);
	if (r.queue) {
		if (project_disabled(&r))
			res->stop = ST_STOP_DISABLED;
		else if (run_queue(&r, res, err) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	for (;;) {
		/* Take a stop signal that came between tasks. */
		ev_run(r.loop, EVRUN_NOWAIT);
		if (r.stopping) {
			res->stop = ST_STOP_SIGNAL;
			break;
		}
		if (project_disabled(&r)) {
			res->stop = ST_STOP_DISABLED;
			break;
		}
		if (st_task_claim(r.p, r.id, &t, &action, &found, err) == -1)
			goto out;
		if (!found) {
			res->stop = ST_STOP_DONE;
			break;
		}
		rc = run_task(&r, &t, action, err);
		st_task_free(&t);
		if (rc == -1)
			goto out;
		rc = -1;
		res->tasks++;
		if (r.stopping) {
			res->stop = ST_STOP_SIGNAL;
			break;
		}
		if (opts != NULL && (opts->flags & ST_RUN_ONCE)) {
			res->stop = ST_STOP_ONCE;
			break;
		}
	}
	rc = 0;
out:
	teardown(&r);
	return (rc);
}

const char *
st_run_stop_name(int stop)
{
	switch (stop) {
	case ST_STOP_DONE:
		return ("no pending work");
	case ST_STOP_ONCE:
		return ("once");
	case ST_STOP_SIGNAL:
		return ("stopped by signal");
	case ST_STOP_DISABLED:
		return ("project disabled");
	default:
		return ("unknown");
	}
}
