/*
 * probe.c -- the sweep's probe children (sweep.c): what touches a
 * project's folder runs in them, so that a hung mount holds up a child
 * the sweep can kill, never the sweep.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

/*
 * A child walks paths[] in order and streams one record per path through
 * a pipe, because a fork per project costs more than the probe; the
 * parent waits for each record at most ST_PROBE_TIMEOUT_MS.  A child that
 * does not answer in time (a hung mount) is killed, its path reported,
 * and a new child starts at its next path.  A long list is dealt over up
 * to ST_PROBE_LANES children, one a CPU: lane k probes paths k, k +
 * lanes, ...; the parent still takes the records one by one in order.  A
 * child may run ahead of the parent by what its pipe holds; what it
 * reports is then as old as the parent's work on the projects between.
 * The costs are in bench/README.md ("Why the probes are streamed").
 */
#define PROBE_LANE_MIN		64	/* paths a lane's fork is worth */
#define PROBE_NONE	((size_t)-1)

/* The pending work of a project whose folder passed the checks. */
void
st_probe_count(const char *path, struct st_probe *pr)
{
	struct st_error	 e;
	long		 n;

	pr->pending = -1;
	if (st_project_pending(path, ST_PDB_QUICK, &n, &e) == -1)
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
	else
		pr->pending = n;
}

/*
 * The checks themselves; run in the probe child (or here if fork fails).
 * global: the global config loaded once for many projects, or NULL to
 * load it here.
 */
static void
probe_local(const char *path, const st_config *global, struct st_probe *pr)
{
	struct st_error	 e;
	struct stat	 sb;
	st_config	*cfg;

	memset(pr, 0, sizeof(*pr));
	pr->status = ST_PROBE_OK;
	pr->pending = -1;
	pr->stale_timeout = 300;
	if (st_path_check_project(path, &e) == -1) {
		/* Not found: gone, or a stat that failed otherwise (EIO). */
		if (e.code == ST_ENOTFOUND && stat(path, &sb) == -1 &&
		    errno != ENOENT && errno != ENOTDIR) {
			pr->status = ST_PROBE_BROKEN;
			snprintf(pr->msg, sizeof(pr->msg), "%s",
			    strerror(errno));
			return;
		}
		pr->status = e.code == ST_ENOTFOUND ? ST_PROBE_MISSING :
		    e.code == ST_EPERM ? ST_PROBE_UNSAFE : ST_PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	if ((global != NULL ? st_config_load_over(global, path, &cfg, &e) :
	    st_config_load(path, &cfg, &e)) == -1) {
		/* A config that others can write is unsafe, not broken. */
		pr->status = e.code == ST_EPERM ? ST_PROBE_UNSAFE :
		    ST_PROBE_BROKEN;
		strlcpy(pr->msg, e.msg, sizeof(pr->msg));
		return;
	}
	pr->stale_timeout = st_config_int(cfg, "runner.stale_timeout");
	st_config_free(cfg);
	/*
	 * A runner holds the lock: it does the work, and the count (opening
	 * the DB, SQLite reading its schema) is most of a probe's cost.  If
	 * the sweep finds the lock free after all, it counts then
	 * (probe_count).
	 */
	if (st_lock_seen(path, &pr->lock) == 1) {
		pr->pending = ST_PENDING_HELD;
		return;
	}
	st_probe_count(path, pr);
}

/*
 * The child: fd 3 is its pipe and the only fd of ours it keeps
 * (wakeup.lock above all), so it can never hold a lock.  It never
 * outlives the sweep's bound; a parent gone makes its next write fail.
 */
static void __attribute__((noreturn))
probe_child(const struct st_prober *pb, size_t from, size_t step)
{
	static const int	 sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP,
				    SIGCHLD, SIGALRM };
	struct st_error		 e;
	struct st_probe		 pr;
	st_config		*global;
	size_t			 j, off;
	ssize_t			 n;

	for (j = 0; j < sizeof(sigs) / sizeof(sigs[0]); j++)
		signal(sigs[j], SIG_DFL);	/* not the agent's handlers */
	alarm(ST_SWEEP_BOUND);
	if (st_config_load(NULL, &global, &e) == -1)
		global = NULL;		/* each project reports the error */
	for (j = from; j < pb->n; j += step) {
		probe_local(pb->paths[j], global, &pr);
		pr.seq = j;
		for (off = 0; off < sizeof(pr); off += (size_t)n) {
			n = write(3, (char *)&pr + off, sizeof(pr) - off);
			if (n == -1 && errno == EINTR)
				n = 0;
			else if (n <= 0)
				_exit(1);
		}
	}
	_exit(0);
}

/* Start the child of from's lane at from; -1 if none could be started. */
static int
prober_start(struct st_prober *pb, size_t from)
{
	struct st_lane	*ln = &pb->lane[from % pb->nlanes];
	pid_t	pid, parent = getpid();
	int	p[2];

	if (pipe(p) == -1)
		return (-1);
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
		/*
		 * A sweep killed midway takes its probe, hung or not, along;
		 * where it cannot, the probe's own alarm(2) bounds it.
		 */
		if (st_die_with_parent(parent) == -1)
			_exit(1);
		if (st_child_fds(-1, -1, -1, p[1]) == -1)
			_exit(1);
		probe_child(pb, from, pb->nlanes);
	}
	close(p[1]);
	(void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	ln->pid = pid;
	ln->fd = p[0];
	return (0);
}

/*
 * Done with the child.  One that has sent its last record is exiting and
 * is waited for; any other is killed and reaped if it dies at once.  One
 * stuck in the kernel on a dead mount is left behind: the CLI exits and
 * init reaps it.  Unless patient (a caller with its own reaper, which
 * tells st_sweep_run_child what it reaped), one not gone at once is kept
 * in dying[] and reaped later, by us or by the caller: never waited for
 * here, so the caller's loop goes on.
 */
static void
lane_stop(struct st_prober *pb, struct st_lane *ln, int finished)
{
	struct timespec	tick = { 0, 10 * 1000 * 1000 };
	int		i;

	if (ln->fd != -1)
		close(ln->fd);
	ln->fd = -1;
	if (ln->pid == -1)
		return;		/* none, or the caller reaped it */
	if (!finished)
		kill(ln->pid, SIGKILL);
	if (!pb->patient) {
		if (waitpid(ln->pid, NULL, WNOHANG) == 0) {
			pb->dying = st_xreallocarray(pb->dying,
			    pb->ndying + 1, sizeof(*pb->dying));
			pb->dying[pb->ndying++] = ln->pid;
		}
	} else if (finished) {
		while (waitpid(ln->pid, NULL, 0) == -1 && errno == EINTR)
			;
	} else {
		for (i = 0; i < 10; i++) {
			if (waitpid(ln->pid, NULL, WNOHANG) != 0)
				break;
			nanosleep(&tick, NULL);
		}
	}
	ln->pid = -1;
}

/*
 * The record of paths[j], the next one due (j in order), never waiting:
 * 1 when it is settled, *rc then 0: *pr is it; -1: no answer within
 * ST_PROBE_TIMEOUT_MS of asking; -2: the child died or is out of step.
 * After -1 or -2 the lane's next path starts a new child.  0: not there
 * yet; st_prober_fd turns readable when it comes, st_prober_wait_ms says when
 * to ask again at the latest.
 */
int
st_prober_try(struct st_prober *pb, size_t j, struct st_probe *pr, int *rc)
{
	struct st_lane	*ln = &pb->lane[j % pb->nlanes];
	ssize_t		 n;

	if (pb->due != j) {
		pb->due = j;
		pb->got = 0;
		clock_gettime(CLOCK_MONOTONIC, &pb->asked);
		if (pb->local || (ln->fd == -1 &&
		    prober_start(pb, j) == -1)) {
			probe_local(pb->paths[j], NULL, pr); /* degraded */
			pb->due = PROBE_NONE;
			*rc = 0;
			return (1);
		}
	}
	for (;;) {
		n = read(ln->fd, (char *)&pb->rec + pb->got,
		    sizeof(pb->rec) - pb->got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (st_ms_since(&pb->asked) < ST_PROBE_TIMEOUT_MS)
				return (0);
			*rc = -1;
			break;
		}
		if (n <= 0) {
			*rc = -2;
			break;
		}
		if ((pb->got += (size_t)n) < sizeof(pb->rec))
			continue;
		if (pb->rec.seq != j) {
			*rc = -2;
			break;
		}
		*pr = pb->rec;
		pb->due = PROBE_NONE;
		if (j + pb->nlanes >= pb->n)
			lane_stop(pb, ln, 1);	/* its last: it is exiting */
		*rc = 0;
		return (1);
	}
	lane_stop(pb, ln, 0);
	pb->due = PROBE_NONE;
	memset(pr, 0, sizeof(*pr));
	pr->status = ST_PROBE_BROKEN;
	pr->pending = -1;
	return (1);
}

/* The pipe the record due comes through; -1 if none is awaited. */
int
st_prober_fd(const struct st_prober *pb)
{
	if (pb->due == PROBE_NONE)
		return (-1);
	return (pb->lane[pb->due % pb->nlanes].fd);
}

/* How long the record due may still take, in ms (0: ask now). */
long
st_prober_wait_ms(const struct st_prober *pb)
{
	long	left;

	if (pb->due == PROBE_NONE)
		return (0);
	left = ST_PROBE_TIMEOUT_MS - st_ms_since(&pb->asked);
	return (left > 0 ? left : 0);
}

/* prober_try, waiting for the answer (st_sweep_project). */
int
st_prober_get(struct st_prober *pb, size_t j, struct st_probe *pr)
{
	struct pollfd	pfd;
	int		rc;

	while (!st_prober_try(pb, j, pr, &rc)) {
		pfd.fd = st_prober_fd(pb);
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)st_prober_wait_ms(pb) + 1);
	}
	return (rc);
}

void
st_prober_init(struct st_prober *pb, const char **paths, size_t n)
{
#ifdef CPU_COUNT
	cpu_set_t	set;
#endif
	long		cpus;
	size_t		i;

	pb->paths = paths;
	pb->n = n;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef CPU_COUNT
	/* The CPUs we may run on (taskset, a container's cpuset). */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) < cpus)
		cpus = CPU_COUNT(&set);
#endif
	pb->local = 0;
	pb->nlanes = cpus < 1 ? 1 : cpus > ST_PROBE_LANES ? ST_PROBE_LANES :
	    (size_t)cpus;
	if (pb->nlanes > n / PROBE_LANE_MIN)
		pb->nlanes = n / PROBE_LANE_MIN;
	if (pb->nlanes < 1)
		pb->nlanes = 1;
	for (i = 0; i < ST_PROBE_LANES; i++) {
		pb->lane[i].pid = -1;
		pb->lane[i].fd = -1;
	}
	pb->patient = 1;
	pb->due = PROBE_NONE;
	pb->got = 0;
	pb->dying = NULL;
	pb->ndying = 0;
}

/* Done with the sweep: children still running are cut short. */
void
st_prober_stop(struct st_prober *pb)
{
	size_t	i;

	for (i = 0; i < pb->nlanes; i++)
		lane_stop(pb, &pb->lane[i], 0);
}

/*
 * Reap what dying[] holds (killed, or exiting after their last record),
 * waiting up to ms in all.  What is left after that (stuck in the kernel
 * on a dead mount, or not quite gone yet) is the caller's reaper's, or
 * init's, to reap.
 */
void
st_prober_reap(struct st_prober *pb, long ms)
{
	struct timespec	 t0, tick = { 0, 5 * 1000 * 1000 };
	size_t		 i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (i = 0; i < pb->ndying; i++) {
			if (waitpid(pb->dying[i], NULL, WNOHANG) != 0)
				pb->dying[i--] = pb->dying[--pb->ndying];
		}
		if (pb->ndying == 0 || st_ms_since(&t0) >= ms)
			break;
		nanosleep(&tick, NULL);
	}
	free(pb->dying);
	pb->dying = NULL;
	pb->ndying = 0;
}
