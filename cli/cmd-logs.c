/*
 * cmd-logs.c -- steroids runners logs: the end of a project's runner log
 * and, with --follow, what is appended to it, across rotations, until
 * SIGINT or SIGTERM, as tail -F does.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cli.h"

#define LOGS_LINES	10
#define LOGS_CHUNK	65536
#define LOGS_POLL	1.	/* s: ev_stat's interval where it must poll */

struct follow {
	struct cli	*c;
	char		 path[PATH_MAX];
	int		 fd;		/* -1: the log does not exist (yet) */
	dev_t		 dev;
	ino_t		 ino;
	int		 failed;
};

/* Write all of buf to stdout: a reader that went away ends the command. */
static int
put(const char *buf, size_t n)
{
	if (n > 0 && fwrite(buf, 1, n, stdout) != n)
		return (-1);
	return (fflush(stdout) == EOF ? -1 : 0);
}

/* Copy fd from where it stands to its end. */
static int
drain(int fd)
{
	char	buf[LOGS_CHUNK];
	ssize_t	n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (put(buf, (size_t)n) == -1)
			return (-1);
	}
	return (0);
}

/* Leave fd just after the start of its last n lines. */
static int
seek_last_lines(int fd, long n)
{
	char	buf[LOGS_CHUNK];
	off_t	end, pos;
	ssize_t	got, i;
	long	seen = 0;

	if ((end = lseek(fd, 0, SEEK_END)) == -1)
		return (-1);
	/* A log's final newline ends its last line; it starts none. */
	if (end > 0 && pread(fd, buf, 1, end - 1) == 1 && buf[0] == '\n')
		seen = -1;
	for (pos = end; pos > 0; ) {
		got = pos < (off_t)sizeof(buf) ? (ssize_t)pos : (ssize_t)sizeof(buf);
		pos -= got;
		if (pread(fd, buf, (size_t)got, pos) != got)
			return (-1);
		for (i = got - 1; i >= 0; i--)
			if (buf[i] == '\n' && ++seen == n)
				return (lseek(fd, pos + i + 1, SEEK_SET) == -1 ?
				    -1 : 0);
	}
	return (lseek(fd, 0, SEEK_SET) == -1 ? -1 : 0);
}

static void
follow_open(struct follow *f)
{
	struct stat	sb;
	int		fd;

	if ((fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	f->fd = fd;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
}

/*
 * The path changed: print what was appended; on a rotation, the rest of
 * the old file, then the new one from its start; a truncated file again
 * from its start.
 */
static void
follow_cb(struct ev_loop *loop, ev_stat *w, int revents)
{
	struct follow	*f = w->data;
	struct stat	 sb;
	off_t		 at;

	(void)revents;
	if (f->fd != -1 && (w->attr.st_nlink == 0 ||
	    w->attr.st_dev != f->dev || w->attr.st_ino != f->ino)) {
		if (drain(f->fd) == -1)
			goto fail;
		close(f->fd);
		f->fd = -1;
	}
	if (f->fd == -1) {
		follow_open(f);
		if (f->fd == -1)
			return;
	} else if (fstat(f->fd, &sb) == 0 &&
	    (at = lseek(f->fd, 0, SEEK_CUR)) != -1 && sb.st_size < at) {
		fprintf(stderr, "steroids: %s: truncated\n", cli_path(f->path));
		if (lseek(f->fd, 0, SEEK_SET) == -1)
			goto fail;
	}
	if (drain(f->fd) == 0)
		return;
fail:
	f->failed = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static int
follow_run(struct follow *f)
{
	struct ev_loop	*loop;
	ev_stat		 st;
	ev_signal	 sint, sterm;

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return (cli_error(f->c, ST_EGENERAL, "cannot start libev"));
	ev_stat_init(&st, follow_cb, f->path, LOGS_POLL);
	st.data = f;
	ev_stat_start(loop, &st);
	ev_signal_init(&sint, stop_cb, SIGINT);
	ev_signal_init(&sterm, stop_cb, SIGTERM);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	/* What was appended between the first read and the watch. */
	if (f->fd != -1 && drain(f->fd) == -1)
		f->failed = 1;
	else
		ev_run(loop, 0);
	ev_stat_stop(loop, &st);
	ev_signal_stop(loop, &sint);
	ev_signal_stop(loop, &sterm);
	if (f->fd != -1)
		close(f->fd);
	if (f->failed)
		return (cli_error(f->c, ST_EGENERAL, "cannot follow %s: %s",
		    cli_path(f->path), strerror(errno)));
	return (0);
}

static int
cmd_runners_logs_exec(struct cli *c, struct cmd_args *a)
{
	struct follow	 f;
	char		 dir[PATH_MAX];
	const char	*nstr, *errstr;
	long		 n = LOGS_LINES;

	if ((nstr = args_get(a, "lines")) != NULL) {
		n = (long)strtonum(nstr, 0, 1000000, &errstr);
		if (errstr != NULL)
			return (cli_error(c, ST_EARGS, "-n %s: %s (0 to "
			    "1000000 lines)", nstr, errstr));
	}
	if (c->json)
		return (cli_error(c, ST_EARGS, "runners logs prints the log "
		    "itself; it has no --json form"));
	if (cli_project_dir(c, args_get(a, "project"), dir, sizeof(dir)) == -1)
		return (-1);
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.fd = -1;
	if (snprintf(f.path, sizeof(f.path), "%s/.steroids/logs/runner.log",
	    dir) >= (int)sizeof(f.path))
		return (cli_error(c, ST_EARGS, "path too long: %s",
		    cli_path(dir)));
	follow_open(&f);
	if (f.fd == -1 && !args_has(a, "follow"))
		return (cli_error(c, ST_ENOTFOUND, "no runner log yet: %s "
		    "(a runner writes it when it starts)", cli_path(f.path)));
	if (f.fd != -1 && n > 0) {
		if (seek_last_lines(f.fd, n) == -1 || drain(f.fd) == -1)
			return (cli_error(c, ST_EGENERAL, "cannot read %s: %s",
			    cli_path(f.path), strerror(errno)));
	} else if (f.fd != -1 && lseek(f.fd, 0, SEEK_END) == -1)
		return (cli_error(c, ST_EGENERAL, "cannot read %s: %s",
		    cli_path(f.path), strerror(errno)));
	if (!args_has(a, "follow")) {
		close(f.fd);
		return (0);
	}
	return (follow_run(&f));
}

const struct cmd_entry cmd_runners_logs_entry = {
	"runners", "logs", "[--project <path>] [--follow] [-n <lines>]",
	"Print the last lines of the project's runner log (10 unless -n\n"
	"says; the current folder's project unless --project says).  With\n"
	"--follow, go on printing what is appended, across rotations, until\n"
	"interrupted.",
	{ { "project", 1, 'p' }, { "follow", 0, 'f' }, { "lines", 1, 'n' } },
	0, 0, cmd_runners_logs_exec
};
