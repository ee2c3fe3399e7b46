/*
 * start.c -- the start stage: a runner for a project whose check found
 * work and no runner.  The worker opened the project's folder and runner
 * log (check.c); the spawn here does fchdir, so it touches none of the
 * project's files, and the runner is our child (supervise.c reaps it).
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/*
 * A project's runner rows asked when its event came (start_early), while
 * its worker waits for the writer, not at its start: an answer of none
 * holds until a commit to the registry, which changes the header of its
 * -shm.  reg_mark is the header last read, reg_gen counts the headers
 * seen; p->reg_gen is the one its none was read under, 0 for none.
 */
static unsigned char	reg_mark[ST_PDB_MARK_LEN];
static unsigned		reg_gen = 1;
static int		reg_shm = -1;
static int		reg_lost;	/* its -shm is another file now */
static dev_t		reg_dev;
static ino_t		reg_ino;

/*
 * The registry's header now; 0, or -1: none to go by.  The descriptor is
 * closed only after agent.gdb (start_done): closing any descriptor of the
 * -shm drops every POSIX lock this process holds on it, SQLite's too.
 * Not on OpenBSD: its pread may not see another process's writes to the
 * mapping yet (st_pdb_commit_since), and a header seen late is trusted.
 */
static int
reg_header(void)
{
	char		path[PATH_MAX];
	unsigned char	hdr[ST_PDB_MARK_LEN];
	struct stat	sb;

#ifdef __OpenBSD__
	reg_lost = 1;
#endif
	if (reg_lost || snprintf(path, sizeof(path), "%s/" ST_PROJECT_DB
	    "-shm", agent.home) >= (int)sizeof(path))
		return (-1);
	if (reg_shm == -1) {
		if ((reg_shm = open(path, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1)
			return (-1);
		if (fstat(reg_shm, &sb) == -1) {
			reg_lost = 1;
			return (-1);
		}
		reg_dev = sb.st_dev;
		reg_ino = sb.st_ino;
	}
	if (st_pdb_header(reg_shm, hdr) == -1)
		return (-1);
	/* Read, then still the file at its path: the header is its own. */
	if (stat(path, &sb) == -1 || sb.st_dev != reg_dev ||
	    sb.st_ino != reg_ino) {
		reg_lost = 1;
		return (-1);
	}
	if (memcmp(hdr, reg_mark, sizeof(hdr)) != 0) {
		memcpy(reg_mark, hdr, sizeof(hdr));
		reg_gen++;
	}
	return (0);
}

/* p's ladder is over: its next one asks anew. */
void
start_forget(struct project *p)
{
	p->reg_asked = 0;
	p->reg_gen = 0;
}

/* At the end, agent.gdb closed. */
void
start_done(void)
{
	if (reg_shm != -1)
		close(reg_shm);
	reg_shm = -1;
}

/*
 * An event of p: its first check is on its way to a worker, which will
 * be a while on the open and the writer's commit; the loop asks the
 * registry meanwhile, once a ladder (a commit is ~10 events).  The
 * header first: the rows read after it are at least as new.
 */
void
start_early(struct project *p)
{
	struct st_runner_list	l;
	struct st_error		err;

	if (p->reg_asked)
		return;
	p->reg_asked = 1;
	p->reg_gen = 0;
	if (reg_header() == -1 ||
	    st_runners_list(agent.gdb, p->path, &l, &err) == -1)
		return;
	if (l.n == 0)
		p->reg_gen = reg_gen;
	st_runner_list_free(&l);
}

/*
 * The project's runner rows (in $STEROIDS_HOME), its lock free a moment
 * ago: a live one is the upstream tool's, which takes no lock, and is the
 * project's runner (SPEC 7); its PID, or 0.  Any other row is a dead
 * runner's and is deleted, as the sweep does before a start.  None, with
 * no commit to the registry since start_early read none, is none.
 */
static pid_t
live_lockless(struct project *p)
{
	struct st_runner_list	l;
	struct st_error		err;
	const char		*path = p->path;
	pid_t			pid = 0;
	size_t			i;
	unsigned		gen = p->reg_gen;

	start_forget(p);
	if (gen != 0 && reg_header() == 0 && gen == reg_gen)
		return (0);
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
	if ((pid = live_lockless(p)) > 0) {
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
