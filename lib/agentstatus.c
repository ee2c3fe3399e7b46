/*
 * agentstatus.c -- what the agent tells the CLI: agent.pid (its PID,
 * locked while it runs) and agent.status ("key value" lines), both in
 * STEROIDS_HOME.  The agent writes them and the CLI reads them; the keys
 * and the probe are here so the two binaries cannot drift apart.
 */
#include "config.h"

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st-int.h"

/* Does someone hold the lock on agent.pid?  Takes it for a moment if not. */
static int
pidfile_held(int fd)
{
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return (0);
	}
	return (errno == EWOULDBLOCK);
}

/*
 * The PID of the agent of home, 0 if none runs, -1 on error (err).
 * The file's PID is read first, and the lock is probed only when that
 * process lives (to tell the agent from a reused PID): a probe takes the
 * lock for a moment when it is free, which could refuse an agent starting
 * right then, so it is never done on a leftover file naming a dead PID.
 */
pid_t
st_agent_pid(const char *home, struct st_error *err)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	char		 path[PATH_MAX + 16], disp[ST_DISPLAY_MAX];
	pid_t		 pid;
	int		 fd, i, held, e;

	snprintf(path, sizeof(path), "%s/agent.pid", home);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if ((e = errno) == ENOENT)
			return (0);
		st_path_display(path, disp, sizeof(disp));
		return (st_seterr(err, ST_EPERM, "cannot open %s: %s", disp,
		    strerror(e)));
	}
	/* Empty: an agent is starting and has not written its PID yet. */
	for (i = 0; (pid = st_pid_read(fd)) == 0 && i < 100; i++)
		nanosleep(&ts, NULL);
	if (pid > 0 && !st_pid_alive(pid)) {
		close(fd);		/* a leftover of a killed agent */
		return (0);
	}
	held = pidfile_held(fd);
	close(fd);
	if (!held)
		return (0);		/* a leftover; the PID was reused */
	if (pid == 0) {
		st_path_display(path, disp, sizeof(disp));
		return (st_seterr(err, ST_EHEALTH, "%s is locked but holds no "
		    "PID", disp));
	}
	return (pid);
}

/*
 * agent.status as read: every key below must be there with a value that
 * parses, each line must end in a newline, and there must be as many
 * backoff_project lines as "backoff" says.  A file cut short (a crash, a
 * full disk) or garbage is refused, never shown as the agent's word.
 * In the order of enum st_agent_key, which is the order written.  The
 * keys marked new may be missing: an agent from before them still runs
 * after an upgrade, and has no limit (0).
 */
static const struct {
	const char	*key;
	size_t		 off;	/* of a long, or of a string */
	size_t		 len;	/* 0: a long */
	int		 isnew;	/* 1: may be missing (0) */
} status_keys[] = {
	{ "pid", offsetof(struct st_agent_status, pid), 0, 0 },
	{ "started", offsetof(struct st_agent_status, started), 0, 0 },
	{ "version", offsetof(struct st_agent_status, version), 32, 0 },
	{ "backend", offsetof(struct st_agent_status, backend), 32, 0 },
	{ "watched_native", offsetof(struct st_agent_status, native), 0, 0 },
	{ "watched_poll", offsetof(struct st_agent_status, polled), 0, 0 },
	{ "unwatched", offsetof(struct st_agent_status, unwatched), 0, 0 },
	{ "runners", offsetof(struct st_agent_status, runners), 0, 0 },
	{ "last_sweep", offsetof(struct st_agent_status, last_sweep), 0, 0 },
	{ "starts", offsetof(struct st_agent_status, starts), 0, 0 },
	{ "restarts", offsetof(struct st_agent_status, restarts), 0, 0 },
	{ "backoff", offsetof(struct st_agent_status, backoff), 0, 0 },
	{ "hung", offsetof(struct st_agent_status, hung), 0, 0 },
	{ "max_runners", offsetof(struct st_agent_status, max_runners), 0, 1 },
	{ "alive", offsetof(struct st_agent_status, alive), 0, 1 },
	{ "queued", offsetof(struct st_agent_status, queued), 0, 1 },
};
#define STATUS_NKEYS	(sizeof(status_keys) / sizeof(status_keys[0]))

/* The name of key k (enum st_agent_key) in agent.status. */
const char *
st_agent_key(int k)
{
	if (k < 0 || (size_t)k >= STATUS_NKEYS)
		return ("unknown");
	return (status_keys[k].key);
}

/* Append a copy of val to *vp (*np of them); -1 out of memory. */
static int
status_list_add(char ***vp, size_t *np, const char *val)
{
	char	**v;

	if ((v = reallocarray(*vp, *np + 1, sizeof(**vp))) == NULL)
		return (-1);
	*vp = v;
	if ((v[*np] = strdup(val)) == NULL)
		return (-1);
	(*np)++;
	return (0);
}

void
st_agent_status_free(struct st_agent_status *s)
{
	size_t	i;

	for (i = 0; i < s->nbackoff; i++)
		free(s->backoff_v[i]);
	free(s->backoff_v);
	s->backoff_v = NULL;
	s->nbackoff = 0;
	for (i = 0; i < s->nhung; i++)
		free(s->hung_v[i]);
	free(s->hung_v);
	s->hung_v = NULL;
	s->nhung = 0;
	for (i = 0; i < s->nqueued; i++)
		free(s->queued_v[i]);
	free(s->queued_v);
	s->queued_v = NULL;
	s->nqueued = 0;
}

/* One "key value" line; -1 when a known key's value does not parse. */
static int
status_line(struct st_agent_status *s, const char *key, const char *val)
{
	const char	*errstr;
	char		*end, *dst;
	long		 n;
	size_t		 i;

	errno = 0;
	if (strcmp(key, ST_AGENT_BACKOFF_PROJECT) == 0)
		return (status_list_add(&s->backoff_v, &s->nbackoff, val));
	if (strcmp(key, ST_AGENT_HUNG_PROJECT) == 0)
		return (status_list_add(&s->hung_v, &s->nhung, val));
	if (strcmp(key, ST_AGENT_QUEUED_PROJECT) == 0)
		return (status_list_add(&s->queued_v, &s->nqueued, val));
	for (i = 0; i < STATUS_NKEYS; i++)
		if (strcmp(key, status_keys[i].key) == 0)
			break;
	if (i == STATUS_NKEYS)
		return (0);	/* a key of a later version */
	s->seen |= 1U << i;
	if (status_keys[i].len != 0) {
		dst = (char *)s + status_keys[i].off;
		if (*val == '\0' || strlen(val) >= status_keys[i].len)
			return (-1);
		for (end = (char *)val; *end != '\0'; end++)
			if (*end <= ' ' || *end > '~')
				return (-1);
		strlcpy(dst, val, status_keys[i].len);
		return (0);
	}
	n = (long)strtonum(val, 0, LONG_MAX, &errstr);
	if (errstr != NULL)
		return (-1);
	*(long *)((char *)s + status_keys[i].off) = n;
	return (0);
}

/*
 * Read path, the agent.status of the agent with this pid, into s: 0, or
 * -1 and err (ST_EHEALTH) when it cannot be read or is not whole.  Free
 * s with st_agent_status_free.
 */
int
st_agent_status_read(const char *path, pid_t pid, struct st_agent_status *s,
    struct st_error *err)
{
	char		 line[PATH_MAX * 4 + 64], what[128];
	char		 disp[ST_DISPLAY_MAX];
	char		*sp, *nl;
	FILE		*f;
	size_t		 i;
	int		 lineno = 0;

	memset(s, 0, sizeof(*s));
	st_path_display(path, disp, sizeof(disp));
	if ((f = fopen(path, "r")) == NULL)
		return (st_seterr(err, ST_EHEALTH, "the agent (pid %ld) runs "
		    "but %s cannot be read: %s", (long)pid, disp,
		    strerror(errno)));
	what[0] = '\0';
	while (what[0] == '\0' && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL) {
			snprintf(what, sizeof(what), "is cut short or corrupt "
			    "(line %d)", lineno);
			break;
		}
		*nl = '\0';
		if ((sp = strchr(line, ' ')) == NULL) {
			snprintf(what, sizeof(what), "is corrupt (line %d)",
			    lineno);
			break;
		}
		*sp++ = '\0';
		if (status_line(s, line, sp) == -1)
			snprintf(what, sizeof(what), "is corrupt (line %d: %s)",
			    lineno, errno == ENOMEM ? "out of memory" :
			    "bad value");
	}
	if (what[0] == '\0' && ferror(f))
		snprintf(what, sizeof(what), "cannot be read: %s",
		    strerror(errno));
	fclose(f);
	if (what[0] == '\0' && (s->seen & 1U) && s->pid != (long)pid) {
		st_seterr(err, ST_EHEALTH, "the agent (pid %ld) runs but %s is "
		    "not its own (pid %ld)", (long)pid, disp, s->pid);
		st_agent_status_free(s);
		return (-1);
	}
	for (i = 0; what[0] == '\0' && i < STATUS_NKEYS; i++)
		if (!(s->seen & (1U << i)) && !status_keys[i].isnew)
			snprintf(what, sizeof(what), "is incomplete (no %s "
			    "line)", status_keys[i].key);
	if (what[0] == '\0' && (size_t)s->backoff != s->nbackoff)
		snprintf(what, sizeof(what), "is incomplete (backoff %ld, "
		    "but %zu backoff_project lines)", s->backoff, s->nbackoff);
	if (what[0] == '\0' && (size_t)s->hung != s->nhung)
		snprintf(what, sizeof(what), "is incomplete (hung %ld, but %zu "
		    "hung_project lines)", s->hung, s->nhung);
	if (what[0] == '\0' && (size_t)s->queued != s->nqueued)
		snprintf(what, sizeof(what), "is incomplete (queued %ld, but "
		    "%zu queued_project lines)", s->queued, s->nqueued);
	if (what[0] == '\0')
		return (0);
	st_agent_status_free(s);
	return (st_seterr(err, ST_EHEALTH, "the agent (pid %ld) runs but %s "
	    "%s; 'kill -HUP %ld' makes it write the file again", (long)pid,
	    disp, what, (long)pid));
}
