/*
 * pgroup.c -- is a process group still the one a runner recorded?  A
 * group id is never reused while the group exists (POSIX), but it may be
 * once the group is gone.  On Linux /proc shows each process's group and
 * the environment it was started with, and every process of a handler
 * inherits STEROIDS_RUNNER_ID: a group with one of those is ours.  Where
 * /proc cannot show that (the BSDs, macOS), the caller is told it cannot
 * tell and trusts its record.
 */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

#define ENV_MAX		(4 * 1024 * 1024)	/* bytes of environ we read */

/* The process group of pid from /proc/PID/stat, -1 if unknown. */
static long
proc_pgid(long pid)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 n;
	long	 pgrp;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp ...": comm may hold anything. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %ld", &pgrp) != 1)
		return (-1);
	return (pgrp);
}

/* Does pid's initial environment hold the entry want ("NAME=value")? */
static int
proc_env_has(long pid, const char *want)
{
	char	 path[64], *buf = NULL, *p, *end;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	for (;;) {
		if (len == cap) {
			if (cap >= ENV_MAX)
				break;
			cap = cap == 0 ? 8192 : cap * 2;
			buf = st_xreallocarray(buf, cap + 1, 1);
		}
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return (0);
	buf[len] = '\0';
	for (p = buf, end = buf + len; p < end; p += strlen(p) + 1)
		if (strcmp(p, want) == 0) {
			found = 1;
			break;
		}
	free(buf);
	return (found);
}

/*
 * Is one of process group pgid's processes started with name=value in
 * its environment?  1 yes, 0 no, -1 cannot tell (no Linux /proc).
 */
int
st_pgroup_marked(pid_t pgid, const char *name, const char *value)
{
	struct dirent	*de;
	DIR		*d;
	const char	*errstr;
	char		*want;
	long		 pid;
	int		 found = 0;

	if (access("/proc/self/stat", R_OK) == -1 ||
	    (d = opendir("/proc")) == NULL)
		return (-1);
	st_xasprintf(&want, "%s=%s", name, value);
	while (!found && (de = readdir(d)) != NULL) {
		pid = (long)strtonum(de->d_name, 1, LONG_MAX, &errstr);
		if (errstr != NULL)
			continue;
		if (proc_pgid(pid) == (long)pgid && proc_env_has(pid, want))
			found = 1;
	}
	closedir(d);
	free(want);
	return (found);
}
