/*
 * agent.c -- steroids-agent: the always-on, per-user daemon on libev that
 * starts a runner the moment a project gets pending work or its runner
 * dies (SPEC 8).  main, options, pidfile, daemonising, signals, config
 * and the periodic sweep; the pipeline is
 * watch.c (registry, watches, events) -> check.c (the workers that touch
 * a project's files) -> start.c -> supervise.c (the runners).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__FreeBSD__) || defined(__DragonFly__)
#include <libutil.h>
#elif defined(__NetBSD__) || defined(__OpenBSD__)
#include <util.h>
#endif

#include "agent.h"

struct agent	 agent;

#define PIDFILE_WAIT_MS	2000	/* a lock on agent.pid with no live agent */

static ev_signal	sig_term, sig_int, sig_hup;
static double		sweep_interval;
static ev_timer		sweep_timer;
static struct pidfh *volatile pidfh_lost;	/* see write_pidfile */

static void __attribute__((__noreturn__))
usage(int help)
{
	fprintf(help ? stdout : stderr, "usage: steroids-agent [-dPv]\n");
	exit(help ? 0 : ST_EARGS);
}

static double	heartbeat_interval;	/* runner.heartbeat_interval */

static int
load_config(int first)
{
	struct st_error	 err;
	st_config	*cfg;

	if (st_config_load(NULL, &cfg, &err) == -1) {
		if (first) {
			fprintf(stderr, "steroids-agent: %s\n", err.msg);
			exit(err.code == 0 ? ST_ECONFIG : err.code);
		}
		log_warnx("config not reloaded: %s", err.msg);
		return (-1);
	}
	sweep_interval = (double)st_config_int(cfg,
	    "agent.sweep_interval");
	agent.backoff_initial = (double)st_config_int(cfg,
	    "agent.backoff_initial");
	agent.backoff_max = (double)st_config_int(cfg, "agent.backoff_max");
	agent.poll_interval = (double)st_config_int(cfg, "agent.poll_interval");
	agent.max_runners = st_config_int(cfg, "agent.max_runners");
	heartbeat_interval = (double)st_config_int(cfg,
	    "runner.heartbeat_interval");
	if (agent.backoff_max < agent.backoff_initial)
		agent.backoff_max = agent.backoff_initial;
	st_config_free(cfg);
	return (0);
}

/*
 * The periodic sweep: the same library code as 'steroids runners
 * wakeup', run in steps on the loop (st_sweep_begin), so that a project
 * whose probe hangs (2 s each, up to the sweep's budget) or a long
 * registry never keeps the agent from its events and signals.
 */
static struct st_sweep_run	*sweep_run;
static struct st_clock		 sweep_clock;	/* at the last sweep tick */
static int			 sweep_ticked;
static struct timespec		 resumed_until;	/* no heartbeat judged before */
static ev_io			 sweep_io;	/* the probe's pipe */
static ev_timer			 sweep_wait;	/* the probe's deadline */

/*
 * The sweep starts nothing for a project that waits out its crash-loop
 * backoff (SPEC 8): the backoff timer starts it when the time is up; nor
 * where a runner of ours or one adopted is known (the sweep's record of
 * the project may be older than that runner's start); nor one queued
 * under agent.max_runners (limit.c).  A project the agent watches it
 * hands to the agent's own check, which starts its runner off the loop's
 * files (check.c, start.c); one it does not watch yet is watched and
 * checked when the sweep ends.  So the sweep starts nothing itself, nor
 * counts tasks on the loop.
 */
static const char *
sweep_hold(const char *path, void *arg)
{
	struct project	*p;

	(void)arg;
	if ((p = project_find(path)) != NULL && ev_is_active(&p->backoff)) {
		log_debug("sweep: %s: not started: in crash-loop backoff",
		    path);
		return ("in crash-loop backoff");
	}
	if (runner_find(path) != NULL)
		return ("the agent tracks a runner of it");
	/* Registered since the agent last read the registry: the sync at
	 * the sweep's end watches and checks it. */
	if (p == NULL)
		return ("not watched yet: the agent reads the registry next");
	if (p->waiting)
		return ("queued: agent.max_runners reached");
	if (p->hung)
		return ("hung: the agent tries it again");
	project_kick(p);
	return ("the agent checks and starts it");
}

/*
 * One result, taken right after the step that made it: a runner started
 * is tracked before the loop can reap it.
 */
static void
sweep_result(const struct st_sweep_result *res)
{
	struct project	*p;

	switch (res->action) {
	case ST_SWEEP_STARTED:
	case ST_SWEEP_RESTARTED:
		if (res->pid <= 0)
			break;
		p = project_find(res->project);
		runner_track(res->project, res->pid, 1,
		    p != NULL ? p->mark : -1);
		agent.starts++;
		if (p != NULL && p->restart) {
			agent.restarts++;
			p->restart = 0;
		}
		log_info("sweep: %s: %s a runner (pid %ld)", res->project,
		    st_sweep_action_name(res->action), (long)res->pid);
		break;
	case ST_SWEEP_ALIVE:
		log_info("sweep: %s: %s", res->project, res->reason);
		break;
	case ST_SWEEP_NONE:
		break;
	default:
		log_debug("sweep: %s: %s %s", res->project,
		    st_sweep_action_name(res->action), res->reason);
		break;
	}
}

/* Go on with the sweep; when it is done, catch up with what it found. */
static void
sweep_step(void)
{
	const struct st_sweep_result	*res;
	int				 done, fd;

	ev_io_stop(agent.loop, &sweep_io);
	ev_timer_stop(agent.loop, &sweep_wait);
	done = st_sweep_run_step(sweep_run);
	while ((res = st_sweep_run_next(sweep_run)) != NULL)
		sweep_result(res);
	if (!done) {
		/* ev_io_set: the pipe may be a new one with the same fd. */
		if ((fd = st_sweep_run_fd(sweep_run)) != -1) {
			ev_io_set(&sweep_io, fd, EV_READ);
			ev_io_start(agent.loop, &sweep_io);
		}
		ev_timer_set(&sweep_wait, st_sweep_run_timeout(sweep_run), 0.);
		ev_timer_start(agent.loop, &sweep_wait);
		return;
	}
	st_sweep_run_end(sweep_run, NULL);
	sweep_run = NULL;
	agent.last_sweep = time(NULL);
	if (!home_watched())
		home_watch();
	projects_sync();
	projects_revalidate();
	limit_kick(1);	/* runners the agent does not watch may be gone */
	status_changed();
}

static void
sweep_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sweep_step();
}

static void
sweep_wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sweep_step();
}

/*
 * Did the machine sleep since the last tick?  No runner could beat while
 * it did, and each beats within its interval after the resume: until
 * then no heartbeat is judged (ST_SWEEP_NO_STALE).  Read at each tick, so
 * an idle agent needs no timer of its own for it.
 */
static int
sweep_flags(void)
{
	struct st_clock	now;
	long		slept;

	st_clock_now(&now);
	if (sweep_ticked && (slept = st_clock_slept(&sweep_clock,
	    &now)) > 0) {
		resumed_until = now.mono;
		resumed_until.tv_sec += (time_t)heartbeat_interval + 1;
		log_info("resumed after a suspend of about %ld s: no runner is "
		    "judged hung for %.0f s", slept, heartbeat_interval + 1);
	}
	sweep_clock = now;
	sweep_ticked = 1;
	if (now.mono.tv_sec < resumed_until.tv_sec ||
	    (now.mono.tv_sec == resumed_until.tv_sec &&
	    now.mono.tv_nsec < resumed_until.tv_nsec))
		return (ST_SWEEP_NO_DETACH | ST_SWEEP_NO_STALE);
	return (ST_SWEEP_NO_DETACH);
}

static void
sweep(void)
{
	struct st_error	err;
	int		rc, flags = sweep_flags();

	if (sweep_run != NULL) {
		log_debug("sweep: the last one is still running; not begun");
		return;
	}
	rc = st_sweep_begin(agent.gdb, flags, sweep_hold, NULL, &sweep_run,
	    &err);
	if (rc == -1) {
		log_warnx("sweep: %s", err.msg);
		return;
	}
	if (rc == 1) {
		log_debug("sweep skipped: %s", err.msg);
		return;
	}
	sweep_step();
}

/* Exiting: a sweep under way is cut short, its probes killed and reaped. */
static void
sweep_stop(void)
{
	if (sweep_run == NULL)
		return;
	ev_io_stop(agent.loop, &sweep_io);
	ev_timer_stop(agent.loop, &sweep_wait);
	st_sweep_run_end(sweep_run, NULL);
	sweep_run = NULL;
	log_debug("sweep: cut short; the next one starts where it stopped");
}

/* The loop reaped pid: 1 if it was a probe of the sweep under way. */
int
sweep_reaped(pid_t pid)
{
	return (st_sweep_run_child(sweep_run, pid));
}

static void
sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sweep();
}

static void
sweep_timer_start(void)
{
	ev_timer_stop(agent.loop, &sweep_timer);
	ev_timer_set(&sweep_timer, sweep_interval, sweep_interval);
	ev_timer_start(agent.loop, &sweep_timer);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	long	before;

	(void)revents;
	if (w->signum == SIGHUP) {
		log_info("SIGHUP: reloading config and registry");
		before = agent.max_runners;
		check_forget(NULL);	/* what the workers keep is read anew */
		if (load_config(0) == 0) {
			watch_poll_interval(agent.poll_interval);
			sweep_timer_start();
			limit_changed(before);
		}
		projects_sync();
		projects_revalidate();
		status_changed();
		return;
	}
	log_info("signal %d: exiting; runners keep running", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/*
 * -d: fork, new session, stdio to /dev/null.  The parent waits on a pipe
 * until the child is set up, so 'steroids agent start' returns only once
 * the agent runs (0) or has failed (1).  Not st_child_start: no exec.
 */
static int
daemonise(void)
{
	pid_t	pid;
	int	p[2], fd, status;
	char	c;

	if (pipe(p) == -1) {
		fprintf(stderr, "steroids-agent: pipe: %s\n", strerror(errno));
		exit(1);
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "steroids-agent: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid != 0) {
		close(p[1]);
		c = 0;
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		(void)waitpid(pid, &status, WNOHANG);
		_exit(c == 'r' ? 0 : 1);
	}
	close(p[0]);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	setsid();
	if (chdir("/") == -1) {
		/* keep the cwd; nothing depends on it */
	}
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return (p[1]);
}

/*
 * pidfile_open, riding out a moment's lock by someone who is not an agent
 * (a probe of the file, or an old 'steroids agent status'): a holder
 * whose file names no live process is retried for PIDFILE_WAIT_MS.
 */
static struct pidfh *
open_pidfile(const char *path, pid_t *other)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	struct pidfh	*pfh;
	int		 i, e;

	for (i = 0; i < PIDFILE_WAIT_MS / 20; i++) {
		*other = -1;
		if ((pfh = pidfile_open(path, 0600, other)) != NULL)
			return (pfh);
		/* EINVAL: locked, and what it holds is no PID. */
		if ((e = errno) != EEXIST && e != EINVAL)
			return (NULL);
		if (e == EEXIST && st_pid_alive(*other)) {
			errno = EEXIST;
			return (NULL);
		}
		nanosleep(&ts, NULL);
	}
	errno = EEXIST;
	return (NULL);
}

/*
 * Write our PID, or say why not: an agent without a valid agent.pid is one
 * 'steroids agent status' and a second agent cannot see.  pidfile_write
 * removes the file when it fails (libbsd, FreeBSD); remove it here too in
 * case the implementation does not.
 */
static int
write_pidfile(struct pidfh *pfh, const char *path)
{
	int	e;

	if (pidfile_write(pfh) == 0)
		return (0);
	e = errno;
	/* Already removed: pfh's fd is closed and no call frees it now. */
	if (pidfile_remove(pfh) == -1)
		pidfh_lost = pfh;	/* not a leak to LeakSanitizer */
	errno = e;
	log_warn("cannot write %s", path);
	return (-1);
}

int
main(int argc, char **argv)
{
	struct st_error	 err;
	struct pidfh	*pfh;
	char		 pidpath[PATH_MAX + 16];
	pid_t		 other;
	int		 ch, daemon_mode = 0, verbose = 0, force_poll = 0;
	int		 ready = -1, e;

	while ((ch = getopt(argc, argv, "dPvh")) != -1) {
		switch (ch) {
		case 'd':
			daemon_mode = 1;
			break;
		case 'P':
			force_poll = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(1);
			/* NOTREACHED */
		default:
			usage(0);
		}
	}
	if (optind != argc)
		usage(0);
	if (getenv("STEROIDS_AGENT_POLL") != NULL &&
	    strcmp(getenv("STEROIDS_AGENT_POLL"), "1") == 0)
		force_poll = 1;
	signal(SIGPIPE, SIG_IGN);

	memset(&agent, 0, sizeof(agent));
	TAILQ_INIT(&agent.runners);
	if (st_home_ensure(agent.home, sizeof(agent.home), &err) == -1) {
		fprintf(stderr, "steroids-agent: %s\n", err.msg);
		return (err.code == 0 ? 1 : err.code);
	}
	projects_init();
	load_config(1);
	snprintf(pidpath, sizeof(pidpath), "%s/agent.pid", agent.home);
	if ((pfh = open_pidfile(pidpath, &other)) == NULL) {
		e = errno;
		if (e == EEXIST && st_pid_alive(other)) {
			fprintf(stderr, "steroids-agent: already running "
			    "(pid %ld)\n", (long)other);
			return (ST_ELOCKED);
		}
		if (e == EEXIST) {
			fprintf(stderr, "steroids-agent: %s is locked by "
			    "another process; is an agent starting?\n",
			    pidpath);
			return (ST_ELOCKED);
		}
		fprintf(stderr, "steroids-agent: cannot open %s: %s\n",
		    pidpath, strerror(e));
		return (e == EAGAIN ? ST_ELOCKED : 1);
	}
	/* Open the global DB once before daemonising so errors show. */
	if (st_gdb_open_dir(agent.home, &agent.gdb, &err) == -1) {
		fprintf(stderr, "steroids-agent: %s\n", err.msg);
		pidfile_remove(pfh);
		return (err.code == 0 ? 1 : err.code);
	}
	if (daemon_mode) {
		st_gdb_close(agent.gdb);	/* no SQLite handle across fork */
		agent.gdb = NULL;		/* closed again on a failure */
		ready = daemonise();
	}
	log_init(daemon_mode, verbose);
	if (write_pidfile(pfh, pidpath) == -1) {
		st_gdb_close(agent.gdb);
		return (1);
	}
	if (daemon_mode &&
	    st_gdb_open_dir(agent.home, &agent.gdb, &err) == -1)
		fatalx("%s", err.msg);

	agent.loop = ev_default_loop(0);
	agent.started = time(NULL);
	watch_poll.init(agent.loop);
	watch_poll_interval(agent.poll_interval);
	agent.native = force_poll ? &watch_poll : WATCH_NATIVE;
	if (agent.native != &watch_poll && agent.native->init(agent.loop) ==
	    -1) {
		log_warn("%s unavailable; polling every project",
		    agent.native->name);
		agent.native = &watch_poll;
	}
	status_init();
	checks_init();
	runner_child_init();
	ev_signal_init(&sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sig_int, signal_cb, SIGINT);
	ev_signal_init(&sig_hup, signal_cb, SIGHUP);
	ev_signal_start(agent.loop, &sig_term);
	ev_signal_start(agent.loop, &sig_int);
	ev_signal_start(agent.loop, &sig_hup);
	ev_timer_init(&sweep_timer, sweep_cb, 0., 0.);
	ev_io_init(&sweep_io, sweep_io_cb, 0, EV_READ);
	ev_timer_init(&sweep_wait, sweep_wait_cb, 0., 0.);

	home_watch();
	projects_sync();	/* watch, adopt, check */
	sweep();		/* clean rows, start what was missed */
	sweep_timer_start();
	projects_ready();	/* agent.status once the projects answered */
	log_info("started (pid %ld, %s backend, %s)", (long)getpid(),
	    agent.native->name, agent.home);
	if (ready != -1) {
		if (write(ready, "r", 1) != 1)
			log_warn("cannot tell the parent we started");
		close(ready);
	}

	ev_run(agent.loop, 0);

	ev_timer_stop(agent.loop, &sweep_timer);
	sweep_stop();
	home_unwatch();
	checks_done();
	projects_free();
	runners_free();
	if (agent.native != &watch_poll)
		agent.native->done();
	watch_poll.done();
	status_done();
	st_gdb_close(agent.gdb);
	start_done();
	pidfile_remove(pfh);
	ev_loop_destroy(agent.loop);
	return (0);
}
