/*
 * log.c -- OpenBSD daemon style logging: stderr in the foreground, syslog
 * once daemonised.  log_debug only with -v.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "agent.h"

static int	log_syslog;
static int	log_verbose;

void
log_init(int to_syslog, int verbose)
{
	log_syslog = to_syslog;
	log_verbose = verbose;
	if (to_syslog)
		openlog("steroids-agent", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char		 raw[2048], msg[4 * sizeof(raw)];
	char		 ts[32];
	time_t		 now;
	struct tm	 tm;

	/* Registered paths are anyone's bytes: one message, one line. */
	vsnprintf(raw, sizeof(raw), fmt, ap);
	st_escape(raw, msg, sizeof(msg));
	if (log_syslog) {
		syslog(pri, "%s", msg);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fprintf(stderr, "%s steroids-agent: %s\n", ts, msg);
}

void
log_warn(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(e));
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
