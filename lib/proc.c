/*
 * proc.c -- when a process started, in seconds since the epoch.  A PID in
 * a runners row proves nothing once its writer is gone (PIDs are reused);
 * the process that holds it now and the row's started_at tell whether it
 * is still the writer.  Each system has its own way to ask; one without
 * one says it cannot tell.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#if HAVE_DECL_SYS_PIDFD_OPEN
#include <sys/syscall.h>
#endif
#ifdef HAVE_SYS_PIDFD_H
#include <sys/pidfd.h>
#endif
#if defined(__APPLE__)
#include <sys/proc.h>
#include <libproc.h>
#elif defined(__FreeBSD__) || defined(__DragonFly__) || \
    defined(__OpenBSD__) || defined(__NetBSD__)
#include <sys/param.h>
#include <sys/proc.h>
#include <sys/sysctl.h>
#if defined(__FreeBSD__) || defined(__DragonFly__)
#include <sys/user.h>
#endif
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

#if defined(__linux__)
#ifdef CLOCK_BOOTTIME
#define BOOT_CLOCK	CLOCK_BOOTTIME
#else
#define BOOT_CLOCK	CLOCK_MONOTONIC
#endif

/*
 * Field 22 of /proc/PID/stat is the start in clock ticks since boot.  The
 * name (field 2) may hold spaces and parentheses: count from the last ')'.
 * Since boot is on the boot clock, which counts suspend as the kernel's
 * start times do; the wall clock now less the time since the start is the
 * start, closer than /proc/stat's btime, whole seconds that drift.
 */
static int
start_time(pid_t pid, time_t *start)
{
	char		 path[64], buf[1024], *p, state;
	unsigned long long ticks;
	struct timespec	 now, up;
	double		 ago;
	ssize_t		 n;
	long		 hz;
	int		 fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (errno == ENOENT ? -1 : 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (n == 0 || errno == ESRCH ? -1 : 0);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %c", &state) != 1)
		return (0);
	if (state == 'Z' || state == 'X')
		return (-2);
	/* After ')': field 3 (state) ... field 22 (starttime). */
	for (i = 3; i <= 22; i++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			return (0);
	}
	if (sscanf(p + 1, "%llu", &ticks) != 1 ||
	    (hz = sysconf(_SC_CLK_TCK)) <= 0 ||
	    clock_gettime(CLOCK_REALTIME, &now) == -1 ||
	    clock_gettime(BOOT_CLOCK, &up) == -1)
		return (0);
	ago = (double)up.tv_sec + (double)up.tv_nsec / 1e9 -
	    (double)ticks / (double)hz;
	*start = (time_t)((double)now.tv_sec + (double)now.tv_nsec / 1e9 -
	    ago);
	return (1);
}
#elif defined(__APPLE__)
static int
start_time(pid_t pid, time_t *start)
{
	struct proc_bsdinfo	info;

	if (proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, sizeof(info)) !=
	    (int)sizeof(info))
		return (errno == ESRCH ? -1 : 0);
#ifdef SZOMB
	if (info.pbi_status == SZOMB)
		return (-2);
#endif
	*start = (time_t)info.pbi_start_tvsec;
	return (1);
}
#elif defined(__FreeBSD__) || defined(__DragonFly__)
static int
start_time(pid_t pid, time_t *start)
{
	struct kinfo_proc	kp;
	size_t			len = sizeof(kp);
	int			mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID,
				    (int)pid };

	if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
		return (errno == ESRCH ? -1 : 0);
	if (len == 0)
		return (-1);
#if defined(__DragonFly__)
	*start = (time_t)kp.kp_start.tv_sec;
#else
#ifdef SZOMB
	if (kp.ki_stat == SZOMB)
		return (-2);
#endif
	*start = (time_t)kp.ki_start.tv_sec;
#endif
	return (1);
}
#elif defined(__OpenBSD__) || defined(__NetBSD__)
#if defined(__NetBSD__)
#define KINFO		kinfo_proc2
#define KERN_PROCS	KERN_PROC2
#else
#define KINFO		kinfo_proc
#define KERN_PROCS	KERN_PROC
#endif
static int
start_time(pid_t pid, time_t *start)
{
	struct KINFO	kp;
	size_t		len = sizeof(kp);
	int		mib[6] = { CTL_KERN, KERN_PROCS, KERN_PROC_PID, (int)pid,
			    (int)sizeof(kp), 1 };

	if (sysctl(mib, 6, &kp, &len, NULL, 0) == -1)
		return (errno == ESRCH ? -1 : 0);
	if (len == 0)
		return (-1);
#ifdef SZOMB
	if (kp.p_stat == SZOMB)
		return (-2);
#endif
	*start = (time_t)kp.p_ustart_sec;
	return (1);
}
#else
static int
start_time(pid_t pid, time_t *start)
{
	(void)pid;
	(void)start;
	return (0);
}
#endif

/*
 * The system's answer: 1 known, 0 cannot tell, -1 no such process, -2 a
 * zombie (start_time above, one per system).
 *
 * 1: *start is when pid started (whole seconds, UTC epoch); -1: no such
 * process (or one that has exited and waits to be reaped); 0: cannot tell
 * (no way to ask on this system, or the answer was unreadable).
 */
int
st_proc_start_time(pid_t pid, time_t *start)
{
	int	rc;

	*start = 0;
	if (pid <= 0)
		return (-1);
	switch ((rc = start_time(pid, start))) {
	case -2:
		return (-1);	/* a zombie: exited, not reaped yet */
	case -1:
		/* There after all, but hidden from us (hidepid=2). */
		return (st_pid_alive(pid) ? 0 : -1);
	case 0:
		return (st_pid_alive(pid) ? 0 : -1);
	}
	return (rc);
}

/*
 * Is pid still the process whose start time was start?  1 yes; 0 no: it
 * is gone, a zombie, or its PID is another process's now; -1 cannot tell
 * (start 0, or no start times here).  Two readings of one start may
 * differ by a second (it is computed from two clocks, read apart).
 */
int
st_proc_same(pid_t pid, time_t start)
{
	time_t	now;

	switch (st_proc_start_time(pid, &now)) {
	case -1:
		return (0);
	case 0:
		return (-1);
	}
	if (start == 0)
		return (-1);
	return (now >= start - 1 && now <= start + 1);
}

/*
 * A pidfd for pid, readable once it has exited (close-on-exec); -1 and
 * errno where there is none (ENOSYS: not Linux 5.3 or later).
 */
int
st_pidfd_open(pid_t pid)
{
#if defined(HAVE_PIDFD_OPEN) && defined(HAVE_SYS_PIDFD_H)
	return (pidfd_open(pid, 0));
#elif HAVE_DECL_SYS_PIDFD_OPEN
	return ((int)syscall(SYS_pidfd_open, pid, 0));
#else
	(void)pid;
	errno = ENOSYS;
	return (-1);
#endif
}

/*
 * In a child just forked from parent: SIGKILL when parent dies, where the
 * kernel offers it (Linux).  -1 if parent is gone already, before the
 * signal was armed: the child should _exit.
 */
int
st_die_with_parent(pid_t parent)
{
#ifdef HAVE_SYS_PRCTL_H
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return (-1);
#else
	(void)parent;
#endif
	return (0);
}

/*
 * A wait(2) status in words, in one of two styles: ST_WAIT_SHORT for task
 * results ("exit 1", "signal 9"), ST_WAIT_LONG for logs ("exited 1",
 * "killed by signal 9").
 */
void
st_wait_status(int status, int style, char *buf, size_t len)
{
	int	lng = style == ST_WAIT_LONG;

	if (WIFEXITED(status))
		snprintf(buf, len, lng ? "exited %d" : "exit %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, lng ? "killed by signal %d" : "signal %d",
		    WTERMSIG(status));
	else if (lng)
		snprintf(buf, len, "stopped");
	else
		snprintf(buf, len, "status %d", status);
}
