/*
 * child.c -- starting a child process: fork, set it up, exec, and tell
 * the parent whether the exec happened.  Every child of the library is
 * started here; each caller says only what its child differs in.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

/*
 * In a child just forked: fd0, fd1 and fd2 (-1: leave it) become stdin,
 * stdout and stderr, fd3 (-1: none) becomes fd 3, and every fd above
 * those is closed.  The fds given must be above 2, or equal to the one
 * they become.  -1 and errno if a dup2 failed.
 */
int
st_child_fds(int fd0, int fd1, int fd2, int fd3)
{
	const int	fds[3] = { fd0, fd1, fd2 };
	int		i;

	for (i = 0; i < 3; i++)
		if (fds[i] != -1 && dup2(fds[i], i) == -1)
			return (-1);
	if (fd3 == -1) {
		closefrom(3);
		return (0);
	}
	if (fd3 != 3 && dup2(fd3, 3) == -1)
		return (-1);
	closefrom(4);
	return (0);
}

/* The child's side of st_child_start; never returns. */
static void __attribute__((noreturn))
child_run(const struct st_child *c, pid_t parent, int errfd)
{
	struct sigaction	 sa;
	sigset_t		 none;
	size_t			 i;
	int			 e, sig, efd = errfd;

	/* The parent sets the group too, so a kill cannot beat us to it. */
	if (c->flags & ST_CHILD_PGROUP)
		(void)setpgid(0, 0);
	if ((c->flags & ST_CHILD_DEATHSIG) && st_die_with_parent(parent) == -1)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (c->sigdfl == NULL) {
		for (sig = 1; sig < NSIG; sig++)
			(void)sigaction(sig, &sa, NULL);
	} else {
		for (i = 0; c->sigdfl[i] != 0; i++)
			(void)sigaction(c->sigdfl[i], &sa, NULL);
	}
	if (c->flags & ST_CHILD_UNBLOCK) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if ((c->flags & ST_CHILD_SETSID) && setsid() == -1)
		goto fail;
	if ((c->dirfd != -1 && fchdir(c->dirfd) == -1) ||
	    (c->dirfd == -1 && c->dir != NULL && chdir(c->dir) == -1))
		goto fail;
	if (st_child_fds(c->fd[0], c->fd[1], c->fd[2], errfd) == -1)
		goto fail;
	/* The error pipe, now fd 3, closes on exec: EOF says it worked. */
	if (errfd != -1) {
		efd = 3;
		(void)fcntl(efd, F_SETFD, FD_CLOEXEC);
	}
	if (c->flags & ST_CHILD_PATH)
		execvp(c->path != NULL ? c->path : c->argv[0], c->argv);
	else
		execv(c->path != NULL ? c->path : c->argv[0], c->argv);
fail:
	e = errno;
	if (efd != -1)
		(void)write(efd, &e, sizeof(e));
	_exit(127);
}

/*
 * Start c->argv as a child: 0 and *pidp (else left as it was); -1 and
 * err ("pipe: ...", "fork: ..."; no child) if it could not be forked; 1
 * and *child_errno when it failed in the child before or at the exec
 * (that child has been reaped).  With ST_CHILD_NOWAIT the parent does
 * not wait for the exec and never sees 1: a failed exec exits 127.
 */
int
st_child_start(const struct st_child *c, pid_t *pidp, int *child_errno,
    struct st_error *err)
{
	pid_t	 pid, parent = getpid();
	ssize_t	 n;
	int	 p[2] = { -1, -1 }, e;

	*child_errno = 0;
	if (!(c->flags & ST_CHILD_NOWAIT)) {
		if (pipe(p) == -1)
			return (st_seterr(err, ST_EGENERAL, "pipe: %s",
			    strerror(errno)));
		(void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
		(void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
	}
	if ((pid = fork()) == -1) {
		e = errno;
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		return (st_seterr(err, ST_EGENERAL, "fork: %s", strerror(e)));
	}
	if (pid == 0) {
		if (p[0] != -1)
			close(p[0]);
		child_run(c, parent, p[1]);
	}
	if (p[0] == -1) {
		*pidp = pid;
		return (0);
	}
	close(p[1]);
	while ((n = read(p[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(p[0]);
	if (n == sizeof(e)) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		*child_errno = e;
		return (1);
	}
	*pidp = pid;
	return (0);
}
