/*
 * writer.c -- the side of the bench that makes work appear and times it.
 *
 *	writer DB
 *	writer [-k | -K] [-n samples] [-s spacing-ms] [-t timeout-ms] [-S seed]
 *	    [-w close | keep | burst] [-b commits] -r RESULTS -m MODEFILE -o OUT
 *	    PROJECTS
 *
 * The first form inserts one pending task into DB (a project DB in WAL
 * mode) and prints CLOCK_MONOTONIC, in ns, read right after COMMIT returned.
 *
 * The second form is the sampling loop of every latency row.  For each
 * sample it picks a project from the file PROJECTS (one path a line) at
 * random and:
 *
 *	reaction (default): commits one pending task and waits for a fake
 *	runner started for that project to append its entry line to RESULTS.
 *	latency = runner entry - COMMIT returned.
 *
 *	restart (-k): commits two tasks with MODEFILE set to "hold1", waits
 *	for the runner to complete one (progress, so a supervisor has no
 *	reason to back off), sets MODEFILE to "complete", reads the clock and
 *	sends the runner SIGKILL with work left.  latency = next runner's
 *	entry - the clock read just before kill(2).  -K: the same with one
 *	task and "hold" (a crash without progress, where SPEC 8 backs off).
 *
 * How the reaction's writer holds its connection (-w, issue 14):
 *
 *	close (default): opens, commits, closes right after COMMIT, as
 *	`steroids tasks add` or any other short-lived writer does; the close
 *	is a second file event, after the commit is visible.
 *
 *	keep: one connection per project, opened at the project's first
 *	sample and kept across samples (a daemon, a web UI, a runner adding
 *	tasks), with no checkpoint between (wal_autocheckpoint off): the
 *	commit's WAL write is the only event, and it comes before the commit
 *	is visible.  The settle reads go over the same connection.
 *
 *	burst: as keep, and each sample commits -b tasks (default 3) in a
 *	row, one transaction each; latency is from the first COMMIT.
 *
 *   Nothing counts as a start but a line from a runner that got the lock.
 * No start within the timeout (default 5 s) is a miss.  After every sample
 * it waits until the project is settled (no pending work, lock free), then
 * sleeps spacing plus a random part of it, so samples never coalesce.  It
 * watches RESULTS with inotify instead of polling it, to keep the CPU free
 * for the watcher being measured.  One line per sample goes to OUT:
 *
 *	project <TAB> t0-ns <TAB> entry-ns <TAB> latency-ns <TAB> ok|miss
 */
#include "config.h"

#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"

#define W_CLOSE	0
#define W_KEEP	1
#define W_BURST	2

#define PENDING_SQL	"SELECT count(*) FROM tasks WHERE status IN " \
			    "('pending', 'in_progress', 'review')"

struct bench {
	const char	*results;
	const char	*modefile;
	FILE		*out;
	char		**projects;
	size_t		 nprojects;
	int		 restart;
	int		 wmode;		/* W_CLOSE, W_KEEP, W_BURST */
	int		 burst;		/* commits a sample in W_BURST */
	sqlite3		**conns;	/* W_KEEP, W_BURST: one a project */
	size_t		 nconns;
	size_t		 maxconns;	/* open at once, for the fd limit */
	long		 samples;
	long		 spacing_ms;
	long		 timeout_ms;
	int		 ifd;		/* inotify on RESULTS */
	off_t		 off;		/* RESULTS read so far */
	char		 buf[65536];	/* a partial line carried over */
	size_t		 len;
};

static void
sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
usage(void)
{
	fprintf(stderr, "usage: writer DB\n"
	    "       writer [-k | -K] [-n samples] [-s spacing-ms] [-t timeout-ms] "
	    "[-S seed]\n"
	    "           [-w close | keep | burst] [-b commits] -r results "
	    "-m modefile\n           -o out projects\n");
	exit(2);
}

static sqlite3 *
db_open(const char *project, int isdb, int ro)
{
	char	 path[PATH_MAX];
	sqlite3	*db;

	if (isdb)
		snprintf(path, sizeof(path), "%s", project);
	else
		snprintf(path, sizeof(path), "%s/.steroids/steroids.db",
		    project);
	if (sqlite3_open_v2(path, &db, ro ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "writer: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return (NULL);
	}
	sqlite3_busy_timeout(db, 5000);
	/* Never checkpoint and unlink the WAL on close: no stray events. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	return (db);
}

static int
exec_sql(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "writer: %s: %s\n", sql, msg);
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

/* Commit one pending task; return the clock read when COMMIT returned. */
static int64_t
insert_task(sqlite3 *db)
{
	if (exec_sql(db, "BEGIN IMMEDIATE") == -1)
		return (-1);
	if (exec_sql(db, "INSERT INTO tasks (id, title, status) VALUES "
	    "(lower(hex(randomblob(16))), 'bench', 'pending')") == -1) {
		exec_sql(db, "ROLLBACK");
		return (-1);
	}
	if (exec_sql(db, "COMMIT") == -1)
		return (-1);
	return (now_ns());
}

static long
pending(sqlite3 *db)
{
	sqlite3_stmt	*st;
	long		 n = -1;

	if (sqlite3_prepare_v2(db, PENDING_SQL, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (n);
}

static void
set_mode(struct bench *b, const char *mode)
{
	char	tmp[PATH_MAX];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->modefile);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", mode) < 0 ||
	    fclose(f) != 0 || rename(tmp, b->modefile) == -1) {
		perror("writer: mode file");
		exit(1);
	}
}

/*
 * Wait until RESULTS holds a line for project, from a runner that got the
 * lock, with an entry after t0 and a pid other than notpid.  Return its
 * entry time (0: none before the deadline) and its pid.
 */
static int64_t
wait_start(struct bench *b, const char *project, int64_t t0, pid_t notpid,
    pid_t *pidp)
{
	struct pollfd	 pfd = { b->ifd, POLLIN, 0 };
	char		 ev[4096], *line, *nl, *f[4];
	int64_t		 deadline = now_ns() + b->timeout_ms * 1000000LL;
	int64_t		 entry, left;
	ssize_t		 n;
	size_t		 used;
	int		 fd, i;

	for (;;) {
		if ((fd = open(b->results, O_RDONLY | O_CLOEXEC)) != -1) {
			while ((n = pread(fd, b->buf + b->len,
			    sizeof(b->buf) - 1 - b->len, b->off)) > 0) {
				b->off += n;
				b->len += (size_t)n;
				b->buf[b->len] = '\0';
				line = b->buf;
				while ((nl = strchr(line, '\n')) != NULL) {
					*nl = '\0';
					f[0] = line;
					for (i = 1; i < 4 && f[i - 1] != NULL;
					    i++) {
						f[i] = strchr(f[i - 1], '\t');
						if (f[i] != NULL)
							*f[i]++ = '\0';
					}
					line = nl + 1;
					if (f[3] == NULL || strcmp(f[0],
					    project) != 0 || strcmp(f[3],
					    "1") != 0)
						continue;
					entry = strtoll(f[1], NULL, 10);
					*pidp = (pid_t)strtol(f[2], NULL, 10);
					if (entry < t0 || *pidp == notpid)
						continue;
					used = (size_t)(line - b->buf);
					memmove(b->buf, line, b->len - used);
					b->len -= used;
					close(fd);
					return (entry);
				}
				used = (size_t)(line - b->buf);
				memmove(b->buf, line, b->len - used);
				b->len -= used;
			}
			close(fd);
		}
		if ((left = deadline - now_ns()) <= 0)
			return (0);
		if (poll(&pfd, 1, (int)(left / 1000000 + 1)) > 0)
			while (read(b->ifd, ev, sizeof(ev)) > 0)
				;
	}
}

/* Wait (bounded) until the project has n tasks of pending work. */
static int
wait_pending(sqlite3 *db, long n)
{
	int64_t	deadline = now_ns() + 5 * 1000000000LL;

	while (now_ns() < deadline) {
		if (pending(db) == n)
			return (0);
		sleep_ms(1);
	}
	return (-1);
}

static void
skip_results(struct bench *b)
{
	struct stat	sb;

	if (stat(b->results, &sb) == 0)
		b->off = sb.st_size;
	b->len = 0;
}

/* Wait (bounded) for the project to have no work and no runner. */
static int
settle(sqlite3 *db, const char *project)
{
	int64_t	deadline = now_ns() + 10 * 1000000000LL;

	while (now_ns() < deadline) {
		if (pending(db) == 0 && lock_free(project))
			return (0);
		sleep_ms(2);
	}
	return (-1);
}

/* Clear a project a watcher did not serve, so the next sample is clean. */
static void
clear(sqlite3 *db, const char *project, int kept)
{
	sqlite3	*w = db;

	if (settle(db, project) == 0 ||
	    (!kept && (w = db_open(project, 0, 0)) == NULL))
		return;
	exec_sql(w, "UPDATE tasks SET status = 'completed' WHERE status IN "
	    "('pending', 'in_progress', 'review')");
	if (!kept)
		sqlite3_close(w);
	settle(db, project);
}

/*
 * The kept connection of project i (keep, burst), opened at its first
 * sample.  Past maxconns another one is closed first (a close is an event
 * on that project, outside any sample's timing).
 */
static sqlite3 *
kept_conn(struct bench *b, size_t i)
{
	size_t	j;

	if (b->conns[i] != NULL)
		return (b->conns[i]);
	if (b->nconns >= b->maxconns) {
		for (j = (size_t)random() % b->nprojects; b->conns[j] == NULL;
		    j = (j + 1) % b->nprojects)
			;
		sqlite3_close(b->conns[j]);
		b->conns[j] = NULL;
		b->nconns--;
	}
	if ((b->conns[i] = db_open(b->projects[i], 0, 0)) == NULL ||
	    exec_sql(b->conns[i], "PRAGMA wal_autocheckpoint = 0") == -1)
		exit(1);
	b->nconns++;
	return (b->conns[i]);
}

static void
sample(struct bench *b, size_t idx)
{
	const char	*project = b->projects[idx];
	sqlite3		*db;
	int64_t		 tb, t0, entry;
	pid_t		 pid, first;
	int		 kept = b->wmode != W_CLOSE, i;

	if ((db = kept ? kept_conn(b, idx) : db_open(project, 0, 0)) == NULL)
		exit(1);
	/* Only lines from runners started from now on count. */
	skip_results(b);
	tb = now_ns();
	if (!b->restart && kept) {
		if ((t0 = insert_task(db)) == -1)
			exit(1);
		for (i = 1; b->wmode == W_BURST && i < b->burst; i++)
			if (insert_task(db) == -1)
				exit(1);
		entry = wait_start(b, project, tb, 0, &pid);
	} else if (!b->restart) {
		if ((t0 = insert_task(db)) == -1)
			exit(1);
		/* As a CLI writer does: close at once (its fds close too). */
		sqlite3_close(db);
		entry = wait_start(b, project, tb, 0, &pid);
		/* Read-only from here: no WAL writes, no events of ours. */
		if ((db = db_open(project, 0, 1)) == NULL)
			exit(1);
	} else {
		set_mode(b, b->restart == 2 ? "hold" : "hold1");
		if (insert_task(db) == -1 ||
		    (b->restart == 1 && insert_task(db) == -1))
			exit(1);
		if (wait_start(b, project, tb, 0, &first) == 0 ||
		    (b->restart == 1 && wait_pending(db, 1) == -1)) {
			fprintf(b->out, "%s\t0\t0\t0\tnostart\n", project);
			set_mode(b, "complete");
			clear(db, project, kept);
			if (!kept)
				sqlite3_close(db);
			return;
		}
		sleep_ms(20);		/* let the watcher see it run */
		set_mode(b, "complete");
		t0 = now_ns();
		if (kill(first, SIGKILL) == -1) {
			perror("writer: kill");
			exit(1);
		}
		entry = wait_start(b, project, t0, first, &pid);
	}
	if (entry != 0)
		fprintf(b->out, "%s\t%lld\t%lld\t%lld\tok\n", project,
		    (long long)t0, (long long)entry, (long long)(entry - t0));
	else
		fprintf(b->out, "%s\t%lld\t0\t0\tmiss\n", project,
		    (long long)t0);
	fflush(b->out);
	clear(db, project, kept);
	if (!kept)
		sqlite3_close(db);
}

static void
read_projects(struct bench *b, const char *file)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0, alloc = 0;
	ssize_t	 n;

	if ((f = fopen(file, "r")) == NULL) {
		perror(file);
		exit(1);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (b->nprojects == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			b->projects = realloc(b->projects,
			    alloc * sizeof(*b->projects));
			if (b->projects == NULL)
				abort();
		}
		if ((b->projects[b->nprojects++] = strdup(line)) == NULL)
			abort();
	}
	free(line);
	fclose(f);
	if (b->nprojects == 0) {
		fprintf(stderr, "writer: %s: no projects\n", file);
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	struct bench	 b;
	const char	*out = NULL;
	unsigned int	 seed = (unsigned int)getpid();
	sqlite3		*db;
	int64_t		 t;
	long		 i;
	int		 ch, fd;

	memset(&b, 0, sizeof(b));
	b.samples = 500;
	b.spacing_ms = 20;
	b.timeout_ms = 5000;
	b.burst = 3;
	while ((ch = getopt(argc, argv, "b:kKm:n:o:r:s:S:t:w:")) != -1) {
		switch (ch) {
		case 'b':
			b.burst = (int)strtol(optarg, NULL, 10);
			if (b.burst < 1)
				usage();
			break;
		case 'w':
			if (strcmp(optarg, "close") == 0)
				b.wmode = W_CLOSE;
			else if (strcmp(optarg, "keep") == 0)
				b.wmode = W_KEEP;
			else if (strcmp(optarg, "burst") == 0)
				b.wmode = W_BURST;
			else
				usage();
			break;
		case 'k':
			b.restart = 1;
			break;
		case 'K':
			b.restart = 2;
			break;
		case 'm':
			b.modefile = optarg;
			break;
		case 'n':
			b.samples = strtol(optarg, NULL, 10);
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			b.results = optarg;
			break;
		case 's':
			b.spacing_ms = strtol(optarg, NULL, 10);
			break;
		case 'S':
			seed = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 't':
			b.timeout_ms = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();

	if (b.results == NULL) {
		if ((db = db_open(argv[0], 1, 0)) == NULL ||
		    (t = insert_task(db)) == -1)
			return (1);
		printf("%lld\n", (long long)t);
		sqlite3_close(db);
		return (0);
	}
	if (b.modefile == NULL || out == NULL)
		usage();
	read_projects(&b, argv[0]);
	if (b.wmode != W_CLOSE) {
		struct rlimit	rl;

		/* A connection holds the DB, -wal and -shm open. */
		b.maxconns = 1000;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 300 &&
		    rl.rlim_cur != RLIM_INFINITY)
			b.maxconns = (rl.rlim_cur - 100) / 3;
		if ((b.conns = calloc(b.nprojects, sizeof(*b.conns))) == NULL)
			abort();
	}
	if ((b.out = fopen(out, "a")) == NULL) {
		perror(out);
		return (1);
	}
	if ((fd = open(b.results, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		perror(b.results);
		return (1);
	}
	close(fd);
	if ((b.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(b.ifd, b.results, IN_MODIFY) == -1) {
		perror("writer: inotify");
		return (1);
	}
	set_mode(&b, "complete");
	srandom(seed);
	for (i = 0; i < b.samples; i++) {
		sample(&b, (size_t)(random() % (long)b.nprojects));
		sleep_ms(b.spacing_ms + (b.spacing_ms > 0 ?
		    random() % b.spacing_ms : 0));
	}
	fclose(b.out);
	return (0);
}
