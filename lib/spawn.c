/*
 * spawn.c -- start a runner for a project: a new session, cwd the project,
 * stdin /dev/null, stdout and stderr appended to the runner log, no other
 * fd, and execv of an absolute path.  No shell and no PATH lookup ever
 * see the project path.
 *
 * What is started: STEROIDS_LOOP_COMMAND split on blanks (spaces, tabs,
 * newlines; no quoting, no escapes, no expansion) into an argv prefix
 * whose first word must be an absolute path, or by default the steroids
 * binary by absolute path (st_steroids_path) and "loop --project".  The
 * canonical project path is always appended as the last argument, so a
 * path with spaces or quotes stays one argument.
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
#include <unistd.h>

#ifdef HAVE_SPAWN_H
#include <spawn.h>
#endif

#include "st-int.h"

#ifndef STEROIDS_BIN
#define STEROIDS_BIN	"/usr/local/bin/steroids"
#endif

#if defined(HAVE_SPAWN_H) && HAVE_DECL_POSIX_SPAWN_SETSID && \
    defined(HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP) && \
    defined(HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP)
#define USE_POSIX_SPAWN	1
#endif

#define SPAWN_MAXARGS	64
#define LOOP_BLANKS	" \t\n"

extern char **environ;

struct spawn_req {
	const char	*project;
	char		**argv;
	int		  nullfd;
	int		  logfd;
	int		  dirfd;	/* the project folder, or -1: chdir */
};

static int
is_exec(const char *path)
{
	struct stat	sb;

	return (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    access(path, X_OK) == 0);
}

static int
has_name(const char *path, const char *name)
{
	const char	*base = strrchr(path, '/');

	base = base == NULL ? path : base + 1;
	if (strncmp(base, "lt-", 3) == 0)	/* libtool's uninstalled copy */
		base += 3;
	return (strcmp(base, name) == 0);
}

/*
 * The steroids binary by absolute path: the one running (or the one beside
 * the running agent), so an uninstalled build starts itself; the installed
 * one otherwise.  In a libtool build tree the real program sits in .libs/
 * and the wrapper script one level up is what works without the
 * environment the wrapper sets, so prefer the wrapper.
 */
int
st_steroids_path(char *buf, size_t len)
{
	char	 exe[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX + 32];
	char	*slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		goto installed;
	exe[n] = '\0';
	if (exe[0] != '/' || (slash = strrchr(exe, '/')) == NULL)
		goto installed;
	memcpy(dir, exe, (size_t)(slash - exe));
	dir[slash - exe] = '\0';
	if (has_name(exe, "steroids"))
		strlcpy(cand, exe, sizeof(cand));
	else if (has_name(exe, "steroids-agent"))
		snprintf(cand, sizeof(cand), "%s/steroids", dir);
	else
		goto installed;
	if ((n = (ssize_t)strlen(dir)) >= 6 && strcmp(dir + n - 6, "/.libs")
	    == 0) {
		dir[n - 6] = '\0';
		snprintf(cand, sizeof(cand), "%s/steroids", dir);
	}
	if (is_exec(cand) && strlen(cand) < len) {
		strlcpy(buf, cand, len);
		return (0);
	}
installed:
	if (strlcpy(buf, STEROIDS_BIN, len) >= len)
		return (-1);
	return (0);
}

/*
 * The argv for a project's runner, see the top of the file.  words and
 * bin are the storage the argv points into; argv has room for max
 * pointers, the NULL included.
 */
int
st_spawn_argv(const char *project, char **argv, size_t max, char *words,
    size_t wlen, char *bin, size_t blen, struct st_error *err)
{
	const char	*env = getenv("STEROIDS_LOOP_COMMAND");
	char		*w, *next;
	size_t		 n = 0;

	if (max < 5)
		return (st_seterr(err, ST_EARGS, "argv too small"));
	if (env != NULL && env[strspn(env, LOOP_BLANKS)] != '\0') {
		if (strlcpy(words, env, wlen) >= wlen)
			return (st_seterr(err, ST_ECONFIG, "STEROIDS_LOOP_COMMAND "
			    "is too long"));
		for (next = words; (w = strsep(&next, LOOP_BLANKS)) != NULL;) {
			if (*w == '\0')
				continue;
			if (n == max - 2)
				return (st_seterr(err, ST_ECONFIG,
				    "STEROIDS_LOOP_COMMAND has too many words"));
			argv[n++] = w;
		}
		if (argv[0][0] != '/')
			return (st_seterr(err, ST_ECONFIG, "STEROIDS_LOOP_COMMAND "
			    "must start with an absolute path, not '%s'",
			    argv[0]));
	} else {
		if (st_steroids_path(bin, blen) == -1)
			return (st_seterr(err, ST_EGENERAL, "cannot find the "
			    "steroids binary"));
		argv[n++] = bin;
		argv[n++] = (char *)"loop";
		argv[n++] = (char *)"--project";
	}
	argv[n++] = (char *)project;
	argv[n] = NULL;
	return (0);
}

/* pipe2(O_CLOEXEC) is not everywhere (macOS). */
static int
cloexec_pipe(int p[2])
{
	if (pipe(p) == -1)
		return (-1);
	if (fcntl(p[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(p[1], F_SETFD, FD_CLOEXEC) == -1) {
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	return (0);
}

/* An fd above stderr, so dup2 onto 0, 1 and 2 never meets itself. */
static int
high_fd(int fd)
{
	int	nfd;

	if (fd == -1 || fd > STDERR_FILENO)
		return (fd);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return (nfd);
}

#ifdef USE_POSIX_SPAWN
/* posix_spawn: a vfork-like clone, cheap even in a large agent. */
static int
spawn_posix(struct spawn_req *rq, pid_t *pidp, struct st_error *err)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, all;
	int				 rc;

	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return (st_seterr(err, ST_EGENERAL, "posix_spawn: %s",
		    strerror(rc)));
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (st_seterr(err, ST_EGENERAL, "posix_spawn: %s",
		    strerror(rc)));
	}
	if ((rc = posix_spawn_file_actions_adddup2(&fa, rq->nullfd,
	    STDIN_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, rq->logfd,
	    STDOUT_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, rq->logfd,
	    STDERR_FILENO)) != 0 ||
	    (rc = rq->dirfd != -1 ?
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDFCHDIR_NP
	    posix_spawn_file_actions_addfchdir_np(&fa, rq->dirfd) :
#else
	    EINVAL :	/* spawn_child takes the fork path */
#endif
	    posix_spawn_file_actions_addchdir_np(&fa, rq->project)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa,
	    STDERR_FILENO + 1)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
		goto out;
	rc = posix_spawn(pidp, rq->argv[0], &fa, &attr, rq->argv, environ);
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return (st_seterr(err, rc == ENOENT ? ST_ENOTFOUND :
		    ST_EGENERAL, "cannot start %s: %s", rq->argv[0],
		    strerror(rc)));
	return (0);
}
#endif

/* fork, then set the child up by hand; exec errors come back on a pipe. */
static int
spawn_fork(struct spawn_req *rq, pid_t *pidp, struct st_error *err)
{
	struct st_child	c;
	int		rc, e;

	memset(&c, 0, sizeof(c));
	c.argv = rq->argv;
	c.fd[0] = rq->nullfd;
	c.fd[1] = c.fd[2] = rq->logfd;
	c.dirfd = rq->dirfd;
	c.dir = rq->project;
	c.sigdfl = NULL;
	c.flags = ST_CHILD_SETSID | ST_CHILD_UNBLOCK;
	if ((rc = st_child_start(&c, pidp, &e, err)) == -1)
		return (-1);
	if (rc == 1)
		return (st_seterr(err, e == ENOENT ? ST_ENOTFOUND :
		    ST_EGENERAL, "cannot start %s: %s", rq->argv[0],
		    strerror(e)));
	return (0);
}

static int
spawn_child(struct spawn_req *rq, pid_t *pidp, struct st_error *err)
{
#ifdef USE_POSIX_SPAWN
#ifndef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDFCHDIR_NP
	if (rq->dirfd == -1)
#endif
		return (spawn_posix(rq, pidp, err));
#endif
	return (spawn_fork(rq, pidp, err));
}

/*
 * Double fork: a short-lived middle child starts the runner and exits, so
 * the runner is nobody's child here and the CLI leaves no zombie.  The
 * middle child sends back the pid or the error.
 */
static int
spawn_detached(struct spawn_req *rq, pid_t *pidp, struct st_error *err)
{
	struct {
		pid_t		pid;
		struct st_error	err;
	}		 msg;
	pid_t		 mid;
	size_t		 got = 0;
	ssize_t		 n;
	int		 p[2], e;

	if (cloexec_pipe(p) == -1)
		return (st_seterr(err, ST_EGENERAL, "pipe: %s",
		    strerror(errno)));
	if ((mid = fork()) == -1) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return (st_seterr(err, ST_EGENERAL, "fork: %s", strerror(e)));
	}
	if (mid == 0) {
		close(p[0]);
		memset(&msg, 0, sizeof(msg));
		if (spawn_child(rq, &msg.pid, &msg.err) == -1)
			msg.pid = -1;
		(void)write(p[1], &msg, sizeof(msg));	/* < PIPE_BUF: atomic */
		_exit(0);
	}
	close(p[1]);
	while (got < sizeof(msg)) {
		n = read(p[0], (char *)&msg + got, sizeof(msg) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (waitpid(mid, NULL, 0) == -1 && errno == EINTR)
		;
	if (got != sizeof(msg))
		return (st_seterr(err, ST_EGENERAL, "cannot start a runner: "
		    "the spawning process died"));
	if (msg.pid == -1) {
		*err = msg.err;
		return (-1);
	}
	*pidp = msg.pid;
	return (0);
}

/*
 * Start a runner for a canonical project path and return its pid.  With
 * ST_SPAWN_DETACH (the CLI) a middle process starts it and exits at once,
 * so the runner is not our child and leaves no zombie; without it (the
 * agent) the runner is our child and the caller must reap it.  Errors
 * that happen before the exec (no such program, chdir) are reported
 * here; what the runner does after is its own business: a runner that
 * finds the project locked exits 6, which is how the lock stays the final
 * word when two starters race.
 */
int
st_spawn_runner(const char *project, int flags, pid_t *pidp,
    struct st_error *err)
{
	char			*argv[SPAWN_MAXARGS];
	char			 words[4096], bin[PATH_MAX];
	struct spawn_req	 rq;
	int			 rc;

	*pidp = 0;
	if (project[0] != '/')
		return (st_seterr(err, ST_EARGS, "not an absolute path: %s",
		    project));
	if (st_spawn_argv(project, argv, SPAWN_MAXARGS, words, sizeof(words),
	    bin, sizeof(bin), err) == -1)
		return (-1);
	if (!is_exec(argv[0]))
		return (st_seterr(err, ST_ENOTFOUND, "cannot start a runner: "
		    "%s is not an executable file", argv[0]));
	rq.project = project;
	rq.argv = argv;
	rq.dirfd = -1;
	if (st_runner_log_open(project, ST_RUNNER_LOG_MAX, &rq.logfd,
	    err) == -1)
		return (-1);
	if ((rq.logfd = high_fd(rq.logfd)) == -1)
		return (st_seterr(err, ST_EGENERAL, "fcntl: %s",
		    strerror(errno)));
	rq.nullfd = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (rq.nullfd == -1) {
		close(rq.logfd);
		return (st_seterr(err, ST_EGENERAL, "/dev/null: %s",
		    strerror(errno)));
	}
	if (flags & ST_SPAWN_DETACH)
		rc = spawn_detached(&rq, pidp, err);
	else
		rc = spawn_child(&rq, pidp, err);
	close(rq.nullfd);
	close(rq.logfd);
	return (rc);
}

/*
 * st_spawn_runner (not detached) into a folder and a log already open:
 * the child does fchdir, so starting it touches no file of the project
 * (the agent opens both off its loop, agent/check.c).  dirfd and logfd
 * are closed here, whatever the outcome.
 */
int
st_spawn_runner_fds(const char *project, int dirfd, int logfd, pid_t *pidp,
    struct st_error *err)
{
	char			*argv[SPAWN_MAXARGS];
	char			 words[4096], bin[PATH_MAX];
	struct spawn_req	 rq;
	int			 rc = -1;

	*pidp = 0;
	rq.project = project;
	rq.argv = argv;
	rq.dirfd = high_fd(dirfd);
	rq.logfd = high_fd(logfd);
	rq.nullfd = -1;
	if (rq.dirfd == -1 || rq.logfd == -1) {
		st_seterr(err, ST_EGENERAL, "fcntl: %s", strerror(errno));
		goto out;
	}
	if (st_spawn_argv(project, argv, SPAWN_MAXARGS, words, sizeof(words),
	    bin, sizeof(bin), err) == -1)
		goto out;
	if (!is_exec(argv[0])) {
		st_seterr(err, ST_ENOTFOUND, "cannot start a runner: %s is not "
		    "an executable file", argv[0]);
		goto out;
	}
	if ((rq.nullfd = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC))) ==
	    -1) {
		st_seterr(err, ST_EGENERAL, "/dev/null: %s", strerror(errno));
		goto out;
	}
	rc = spawn_child(&rq, pidp, err);
out:
	if (rq.nullfd != -1)
		close(rq.nullfd);
	if (rq.logfd != -1)
		close(rq.logfd);
	if (rq.dirfd != -1)
		close(rq.dirfd);
	return (rc);
}
