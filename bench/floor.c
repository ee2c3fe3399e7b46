/*
 * floor.c -- the physical floor: the least a watcher can do.
 *
 *	floor PROJECTS RUNNER [ARG ...]
 *
 * For every project in the file PROJECTS (one path a line): one inotify
 * watch on its .steroids/, one kept SQLite connection.  An event, or the
 * exit of the runner it started (pidfd), makes it check the project: if
 * PRAGMA data_version moved, count the pending work; if there is some and
 * the runner lock is free (shared flock probe), posix_spawn RUNNER ARG ...
 * PROJECT in a new session with stdio on /dev/null.  Because the event for a
 * commit comes before the commit is visible (SPEC 8), a project stays "hot"
 * and is re-checked every 100 us for 50 ms after its last event.
 *
 * No config, no registry, no logs, no sweep: a lower bound for the agent,
 * measured in the same run.  Where the fd limit cannot hold three fds per
 * project for the kept connections (about 6,000 projects at 20,000 fds),
 * the connection is opened at the first event instead, and the run says so
 * on stderr.  Linux only (inotify, pidfd); runs until SIGTERM.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"

#define HOT_NS		(50 * 1000000LL)	/* re-check after an event */
#define RECHECK_NS	(100 * 1000LL)

extern char	**environ;

struct project {
	char		*path;
	sqlite3		*db;
	sqlite3_stmt	*version;
	sqlite3_stmt	*count;
	long long	 seen;		/* data_version last counted */
	pid_t		 child;
	int		 pidfd;
	int64_t		 hot_until;	/* 0: cold */
	int		 tracked;	/* pidfd in kids[] */
};

static struct project	 *projects;
static size_t		  nprojects;
static size_t		 *wd2p;		/* inotify wd -> index + 1 */
static size_t		  nwd;
static char		**runner_argv;
static size_t		  runner_argc;
static int		  devnull;
static size_t		 *hot, nhot;	/* projects being re-checked */
static size_t		 *kids, nkids;	/* projects with a live child */
static volatile sig_atomic_t quit;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

static void
heat(size_t i, int64_t now)
{
	if (projects[i].hot_until == 0)
		hot[nhot++] = i;
	projects[i].hot_until = now + HOT_NS;
}

static int
db_open(struct project *p)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.steroids/steroids.db", p->path);
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "PRAGMA data_version", -1, &p->version,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "SELECT count(*) FROM tasks WHERE "
	    "status IN ('pending', 'in_progress', 'review')", -1, &p->count,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "floor: %s: %s\n", path,
		    sqlite3_errmsg(p->db));
		return (-1);
	}
	sqlite3_busy_timeout(p->db, 250);
	p->seen = -1;
	return (0);
}

static long long
step_int(sqlite3_stmt *st)
{
	long long	n = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (n);
}

static void
start(struct project *p)
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		at;
	pid_t				pid;
	int				rc;

	runner_argv[runner_argc] = p->path;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawnattr_init(&at);
#ifdef POSIX_SPAWN_SETSID
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
#endif
	rc = posix_spawn(&pid, runner_argv[0], &fa, &at, runner_argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		fprintf(stderr, "floor: spawn: %s\n", strerror(rc));
		return;
	}
	p->child = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
}

static void
check(struct project *p)
{
	long long	v;

	if (p->child != 0)
		return;		/* its exit brings us back */
	if (p->db == NULL && db_open(p) == -1)
		return;
	v = step_int(p->version);
	if (v == p->seen)
		return;
	if (step_int(p->count) > 0) {
		if (lock_free(p->path))
			start(p);
		else
			return;	/* a runner we did not start: re-check */
	}
	p->seen = v;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	struct rlimit		 rl;
	struct pollfd		*pfd;
	struct project		*p;
	struct inotify_event	*ie;
	struct timespec		 ts;
	char			 path[PATH_MAX], *line = NULL;
	char			 ev[65536] __attribute__((aligned(8)));
	size_t			 cap = 0, i, j, np, alloc = 0;
	ssize_t			 n;
	int64_t			 now;
	FILE			*f;
	int			 ifd, wd, keep;

	if (argc < 3) {
		fprintf(stderr, "usage: floor projects runner [arg ...]\n");
		return (2);
	}
	runner_argc = (size_t)argc - 2;
	if ((runner_argv = calloc(runner_argc + 2, sizeof(char *))) == NULL)
		abort();
	for (i = 0; i < runner_argc; i++)
		runner_argv[i] = argv[i + 2];

	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return (1);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (nprojects == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			projects = realloc(projects, alloc * sizeof(*projects));
			if (projects == NULL)
				abort();
		}
		p = &projects[nprojects++];
		memset(p, 0, sizeof(*p));
		p->pidfd = -1;
		if ((p->path = strdup(line)) == NULL)
			abort();
	}
	fclose(f);
	free(line);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return (1);

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	keep = nprojects * 3 + 256 < rl.rlim_cur;
	if (!keep)
		fprintf(stderr, "floor: %zu projects do not fit %llu fds: "
		    "connections opened at first event\n", nprojects,
		    (unsigned long long)rl.rlim_cur);

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		perror("floor: inotify");
		return (1);
	}
	for (i = 0; i < nprojects; i++) {
		p = &projects[i];
		snprintf(path, sizeof(path), "%s/.steroids", p->path);
		wd = inotify_add_watch(ifd, path, IN_MODIFY | IN_CLOSE_WRITE |
		    IN_CREATE | IN_MOVED_TO);
		if (wd == -1) {
			fprintf(stderr, "floor: watch %s: %s\n", path,
			    strerror(errno));
			return (1);
		}
		if ((size_t)wd >= nwd) {
			np = (size_t)wd * 2 + 16;
			if ((wd2p = realloc(wd2p, np * sizeof(*wd2p))) == NULL)
				abort();
			memset(wd2p + nwd, 0, (np - nwd) * sizeof(*wd2p));
			nwd = np;
		}
		wd2p[wd] = i + 1;
		if (keep && db_open(p) == 0)
			p->seen = step_int(p->version);
	}

	if ((pfd = calloc(nprojects + 1, sizeof(*pfd))) == NULL ||
	    (hot = calloc(nprojects, sizeof(*hot))) == NULL ||
	    (kids = calloc(nprojects, sizeof(*kids))) == NULL)
		abort();
	fprintf(stderr, "floor: watching %zu projects\n", nprojects);
	nhot = nkids = 0;
	while (!quit) {
		pfd[0].fd = ifd;
		pfd[0].events = POLLIN;
		for (i = 0; i < nkids; i++) {
			pfd[i + 1].fd = projects[kids[i]].pidfd;
			pfd[i + 1].events = POLLIN;
			pfd[i + 1].revents = 0;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = RECHECK_NS;
		if (ppoll(pfd, nkids + 1, nhot > 0 ? &ts : NULL, NULL) == -1 &&
		    errno != EINTR)
			break;
		now = now_ns();
		if (pfd[0].revents & POLLIN) {
			while ((n = read(ifd, ev, sizeof(ev))) > 0) {
				for (i = 0; i < (size_t)n; i += sizeof(*ie) +
				    ie->len) {
					ie = (struct inotify_event *)(ev + i);
					if (ie->wd < 0 || (size_t)ie->wd >=
					    nwd || wd2p[ie->wd] == 0)
						continue;
					heat(wd2p[ie->wd] - 1, now);
				}
			}
		}
		for (i = nkids; i > 0; i--) {
			if (pfd[i].revents == 0)
				continue;
			j = kids[i - 1];
			p = &projects[j];
			waitpid(p->child, NULL, 0);
			close(p->pidfd);
			p->pidfd = -1;
			p->child = 0;
			p->tracked = 0;
			p->seen = -1;
			kids[i - 1] = kids[--nkids];
			heat(j, now);
		}
		for (i = 0; i < nhot; ) {
			p = &projects[hot[i]];
			check(p);
			if (p->child != 0 && p->pidfd != -1 && !p->tracked) {
				p->tracked = 1;
				kids[nkids++] = hot[i];
			}
			if (p->hot_until <= now) {
				p->hot_until = 0;
				hot[i] = hot[--nhot];
			} else
				i++;
		}
	}
	return (0);
}
