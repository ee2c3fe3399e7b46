/*
 * cron.c -- the cron fallback (SPEC 7): our entry in the user's crontab,
 * read and written through crontab(1) ("crontab -l", "crontab -"), never
 * by editing spool files.  Our lines are the marker comment ST_CRON_MARKER
 * and the entry right after it:
 *
 *   * * * * * [STEROIDS_HOME='<home>' ]'<abs>/steroids' runners wakeup --quiet
 *
 * The binary by absolute path (cron's PATH is /usr/bin:/bin), single
 * quoted for cron's /bin/sh, '%' escaped for cron.  Every other line is
 * written back as it was read.  crontab(1) is looked up on PATH; when it
 * is missing the error is ST_ENOTFOUND (exit 4).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

#define CRON_COMMAND	"runners wakeup --quiet"

/*
 * Not open_memstream(3): the tables are read (length, last byte) between
 * appends, and a FILE adds a failure to check to every write and close.
 */
struct buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = st_xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* 'word' for /bin/sh, with % escaped for cron. */
static int
quote(struct buf *b, const char *s, struct st_error *err)
{
	if (strpbrk(s, "\n\r") != NULL)
		return (st_seterr(err, ST_EARGS, "a path with a newline cannot "
		    "go into a crontab: %s", s));
	buf_str(b, "'");
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_str(b, "'\\''");
		else if (*s == '%')
			buf_str(b, "\\%");
		else
			buf_add(b, s, 1);
	}
	buf_str(b, "'");
	return (0);
}

/* The line we install (without the marker), malloc'd. */
int
st_cron_entry(char **line, struct st_error *err)
{
	struct buf	 b = { NULL, 0, 0 };
	char		 bin[PATH_MAX], home[PATH_MAX];
	const char	*env = getenv("STEROIDS_HOME");

	*line = NULL;
	if (st_steroids_path(bin, sizeof(bin)) == -1 || bin[0] != '/')
		return (st_seterr(err, ST_EGENERAL, "cannot find the steroids "
		    "binary by absolute path"));
	buf_str(&b, "* * * * * ");
	if (env != NULL && *env != '\0') {
		if (st_home_dir(home, sizeof(home), err) == -1)
			goto fail;
		buf_str(&b, "STEROIDS_HOME=");
		if (quote(&b, home, err) == -1)
			goto fail;
		buf_str(&b, " ");
	}
	if (quote(&b, bin, err) == -1)
		goto fail;
	buf_str(&b, " " CRON_COMMAND);
	*line = b.s;
	return (0);
fail:
	free(b.s);
	return (-1);
}

/*
 * Run "crontab <arg>", feeding it input (NULL: nothing), collecting its
 * stdout in *out (may be NULL) and the first line of its stderr in ebuf.
 * *status is its exit code.
 */
static int
crontab_io(const char *arg, const char *input, struct buf *out, int *status,
    char *ebuf, size_t elen, struct st_error *err)
{
	static const int  sigdfl[] = { SIGPIPE, 0 };
	struct st_child	  c;
	struct pollfd	  pfd[2];
	struct buf	  eb = { NULL, 0, 0 };
	char		  chunk[4096];
	char		 *argv[3];
	const char	 *in = input;
	size_t		  inlen = input != NULL ? strlen(input) : 0;
	ssize_t		  n;
	pid_t		  pid;
	int		  pin[2], pout[2], perr[2], e, ws, i, open_fds, rc;

	*status = -1;
	ebuf[0] = '\0';
	if (pipe(pin) == -1 || pipe(pout) == -1 || pipe(perr) == -1)
		return (st_seterr(err, ST_EGENERAL, "pipe: %s",
		    strerror(errno)));
	argv[0] = (char *)"crontab";
	argv[1] = (char *)arg;
	argv[2] = NULL;
	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.fd[0] = pin[0];
	c.fd[1] = pout[1];
	c.fd[2] = perr[1];
	c.dirfd = -1;
	c.sigdfl = sigdfl;
	c.flags = ST_CHILD_PATH;
	/* Did the exec work? st_child_start waits for that. */
	if ((rc = st_child_start(&c, &pid, &e, err)) == -1)
		return (-1);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (rc == 1) {
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		if (e == ENOENT)
			return (st_seterr(err, ST_ENOTFOUND, "crontab(1) not "
			    "found on PATH: install cron, or run 'steroids "
			    "runners wakeup --quiet' every minute from another "
			    "scheduler"));
		return (st_seterr(err, ST_EGENERAL, "cannot run crontab: %s",
		    strerror(e)));
	}
	/* Feed stdin while draining stdout and stderr: no deadlock. */
	pfd[0].fd = pout[0];
	pfd[1].fd = perr[0];
	pfd[0].events = pfd[1].events = POLLIN;
	if (inlen == 0)
		close(pin[1]);
	else
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	open_fds = 2;
	while (open_fds > 0 || inlen > 0) {
		struct pollfd	all[3];
		int		 nfd = 0;

		for (i = 0; i < 2; i++)
			if (pfd[i].fd != -1)
				all[nfd++] = pfd[i];
		if (inlen > 0) {
			all[nfd].fd = pin[1];
			all[nfd++].events = POLLOUT;
		}
		if (poll(all, (nfds_t)nfd, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < nfd; i++) {
			if (all[i].revents == 0)
				continue;
			if (inlen > 0 && all[i].fd == pin[1]) {
				n = write(pin[1], in, inlen);
				if (n > 0) {
					in += n;
					inlen -= (size_t)n;
				} else if (n == -1 && errno != EAGAIN &&
				    errno != EINTR)
					inlen = 0;
				if (inlen == 0)
					close(pin[1]);
				continue;
			}
			n = read(all[i].fd, chunk, sizeof(chunk));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(all[i].fd);
				if (all[i].fd == pout[0])
					pfd[0].fd = -1;
				else
					pfd[1].fd = -1;
				open_fds--;
				continue;
			}
			if (all[i].fd == pout[0]) {
				if (out != NULL)
					buf_add(out, chunk, (size_t)n);
			} else
				buf_add(&eb, chunk, (size_t)n);
		}
	}
	while (waitpid(pid, &ws, 0) == -1 && errno == EINTR)
		;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (eb.s != NULL) {
		eb.s[strcspn(eb.s, "\n")] = '\0';
		strlcpy(ebuf, eb.s, elen);
		free(eb.s);
	}
	return (0);
}

/*
 * crontab_io with SIGPIPE ignored: a crontab that exits before reading
 * all its input must give an error, not kill us without a word.
 */
static int
run_crontab(const char *arg, const char *input, struct buf *out, int *status,
    char *ebuf, size_t elen, struct st_error *err)
{
	struct sigaction	 ign, old;
	int			 rc;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	rc = crontab_io(arg, input, out, status, ebuf, elen, err);
	sigaction(SIGPIPE, &old, NULL);
	return (rc);
}

/* The current table; "no crontab for user" is an empty one. */
static int
cron_read(struct buf *tab, struct st_error *err)
{
	char	ebuf[512];
	int	status;

	tab->s = NULL;
	tab->len = tab->cap = 0;
	buf_add(tab, "", 0);
	if (run_crontab("-l", NULL, tab, &status, ebuf, sizeof(ebuf),
	    err) == -1)
		goto fail;
	/* Edited as a string, the table would lose all after the NUL. */
	if (status == 0 && memchr(tab->s, '\0', tab->len) != NULL) {
		st_seterr(err, ST_EGENERAL, "crontab -l gave a table with a NUL "
		    "byte; fix it with 'crontab -e' first");
		goto fail;
	}
	if (status == 0)
		return (0);
	if (strstr(ebuf, "no crontab") != NULL) {
		tab->len = 0;
		tab->s[0] = '\0';
		return (0);
	}
	st_seterr(err, ST_EGENERAL, "crontab -l failed (exit %d)%s%s", status,
	    ebuf[0] != '\0' ? ": " : "", ebuf);
fail:
	free(tab->s);
	tab->s = NULL;
	return (-1);
}

static int
cron_write(const char *tab, struct st_error *err)
{
	char	ebuf[512];
	int	status;

	if (run_crontab("-", tab, NULL, &status, ebuf, sizeof(ebuf), err) == -1)
		return (-1);
	if (status != 0)
		return (st_seterr(err, ST_EGENERAL, "crontab - failed (exit "
		    "%d)%s%s", status, ebuf[0] != '\0' ? ": " : "", ebuf));
	return (0);
}

/*
 * Split the table into the other lines (in *rest, order kept) and ours:
 * each marker and the line after it when that is a wakeup entry.
 * *found: how many entries; *line: the last one (malloc'd) or NULL.
 */
static void
cron_split(const char *tab, struct buf *rest, int *found, char **line)
{
	const char	*p = tab, *nl;
	size_t		 n;
	int		 after_marker = 0;

	*found = 0;
	*line = NULL;
	rest->s = NULL;
	rest->len = rest->cap = 0;
	buf_add(rest, "", 0);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n == strlen(ST_CRON_MARKER) &&
		    strncmp(p, ST_CRON_MARKER, n) == 0) {
			after_marker = 1;
		} else if (after_marker && memmem(p, n, " " CRON_COMMAND,
		    strlen(" " CRON_COMMAND)) != NULL) {
			(*found)++;
			free(*line);
			*line = st_xmalloc(n + 1);
			memcpy(*line, p, n);
			(*line)[n] = '\0';
			after_marker = 0;
		} else {
			after_marker = 0;
			buf_add(rest, p, n);
			buf_add(rest, "\n", 1);
		}
		p += n + (nl != NULL);
	}
}

/*
 * The upstream tool's wakeup line among the lines not ours: its marker
 * comment, or a line that is not a comment holding what its own status
 * looks for ("steroids runners wakeup", bare name or a path; ours quotes
 * the path, so it never matches).  The
 * entry itself (malloc'd) rather than the comment when there is one.
 */
static char *
cron_upstream(const char *rest)
{
	const char	*p = rest, *nl, *hit = NULL;
	size_t		 n;
	char		*line;

	for (; *p != '\0'; p += n + (nl != NULL)) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (*p != '#' &&
		    memmem(p, n, "steroids runners wakeup", 23) != NULL) {
			hit = p;
			break;
		} else if (hit == NULL && memmem(p, n, ST_CRON_UPSTREAM_MARKER,
		    strlen(ST_CRON_UPSTREAM_MARKER)) != NULL)
			hit = p;
	}
	if (hit == NULL)
		return (NULL);
	n = strcspn(hit, "\n");
	line = st_xmalloc(n + 1);
	memcpy(line, hit, n);
	line[n] = '\0';
	return (line);
}

/*
 * cron_split and cron_upstream for a caller without struct buf
 * (fuzz/cron.c); all malloc'd.
 */
void
st_cron_split(const char *tab, char **rest, int *found, char **line,
    char **upstream)
{
	struct buf	b;

	cron_split(tab, &b, found, line);
	*upstream = cron_upstream(b.s);
	*rest = b.s;
}

/*
 * *installed 1 if our entry is there; *line the entry (malloc'd) or NULL.
 * *upstream (may be NULL): the upstream tool's wakeup line, or NULL.
 */
int
st_cron_status(int *installed, char **line, char **upstream,
    struct st_error *err)
{
	struct buf	tab, rest;
	int		found;

	*installed = 0;
	*line = NULL;
	if (upstream != NULL)
		*upstream = NULL;
	if (cron_read(&tab, err) == -1)
		return (-1);
	cron_split(tab.s, &rest, &found, line);
	*installed = found > 0;
	if (upstream != NULL)
		*upstream = cron_upstream(rest.s);
	free(tab.s);
	free(rest.s);
	return (0);
}

/*
 * Install our entry once: *changed 0 when exactly it was there already.
 * An older entry of ours (another binary path, another STEROIDS_HOME) is
 * replaced.  *line receives the entry (malloc'd).  Where the upstream
 * tool's wakeup line is, nothing is added (ST_ELOCKED, *line that line):
 * two sweeps every minute would race each other for every project.
 */
int
st_cron_install(int *changed, char **line, struct st_error *err)
{
	struct buf	 tab, rest;
	char		*entry, *old, *upstream = NULL;
	int		 found, rc = -1;

	*changed = 0;
	*line = NULL;
	if (st_cron_entry(&entry, err) == -1)
		return (-1);
	if (cron_read(&tab, err) == -1) {
		free(entry);
		return (-1);
	}
	cron_split(tab.s, &rest, &found, &old);
	if ((upstream = cron_upstream(rest.s)) != NULL) {
		st_seterr(err, ST_ELOCKED, "the upstream steroids tool's "
		    "wakeup runs from your crontab already (%s); not adding a second "
		    "sweep every minute: remove that line first (its 'steroids "
		    "runners cron uninstall', or crontab -e)", upstream);
		free(entry);
		entry = upstream;
		goto out;
	}
	if (found == 1 && strcmp(old, entry) == 0 &&
	    strstr(tab.s, ST_CRON_MARKER "\n") != NULL) {
		rc = 0;
		goto out;
	}
	if (rest.len > 0 && rest.s[rest.len - 1] != '\n')
		buf_str(&rest, "\n");
	buf_str(&rest, ST_CRON_MARKER "\n");
	buf_str(&rest, entry);
	buf_str(&rest, "\n");
	if (cron_write(rest.s, err) == -1)
		goto out;
	*changed = 1;
	rc = 0;
out:
	if (rc == 0 || upstream != NULL) {
		*line = entry;
		entry = NULL;
	}
	free(entry);
	free(old);
	free(tab.s);
	free(rest.s);
	return (rc);
}

/* Remove our lines, and only ours; *removed: how many entries. */
int
st_cron_uninstall(int *removed, struct st_error *err)
{
	struct buf	 tab, rest;
	char		*old;
	int		 found, rc = 0;

	*removed = 0;
	if (cron_read(&tab, err) == -1)
		return (-1);
	cron_split(tab.s, &rest, &found, &old);
	if (found > 0 || strstr(tab.s, ST_CRON_MARKER) != NULL) {
		if ((rc = cron_write(rest.s, err)) == 0)
			*removed = found;
	}
	free(old);
	free(tab.s);
	free(rest.s);
	return (rc);
}
