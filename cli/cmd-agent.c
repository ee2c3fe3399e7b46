/*
 * cmd-agent.c -- steroids agent start|stop|status.  The agent is found
 * beside the steroids binary (or in the install's bindir) and started
 * with -d; it is known to run while the PID in its pidfile lives and it
 * holds the lock on that file (probed only then; see st_agent_pid).
 * status exits 1 when the agent is not running and 7 (HEALTH_FAILED)
 * when it runs but its status file is missing, not its own, cut short or
 * corrupt.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define AGENT_WAIT_MS	10000	/* stop: how long to wait for the exit */

/* The PID of the running agent, 0 if none runs, -1 on error (c->err). */
static pid_t
agent_pid(struct cli *c, char *home, size_t len)
{
	if (st_home_dir(home, len, &c->err) == -1)
		return (-1);
	return (st_agent_pid(home, &c->err));
}

/* steroids-agent beside the steroids binary (or the installed one). */
static int
agent_path(struct cli *c, char *buf, size_t len)
{
	char	 bin[PATH_MAX], *slash;

	if (st_steroids_path(bin, sizeof(bin)) == -1 ||
	    (slash = strrchr(bin, '/')) == NULL)
		return (cli_error(c, ST_ENOTFOUND, "cannot find the steroids "
		    "binary"));
	*slash = '\0';
	if (snprintf(buf, len, "%s/steroids-agent", bin) >= (int)len)
		return (cli_error(c, ST_EGENERAL, "path too long"));
	if (access(buf, X_OK) == -1)
		return (cli_error(c, ST_ENOTFOUND, "cannot run %s: %s",
		    cli_path(buf), strerror(errno)));
	return (0);
}

static void
report_pid(struct cli *c, const char *what, pid_t pid)
{
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "state", what);
		json_int(&c->js, "pid", pid);
		json_obj_end(&c->js);
	} else
		cli_info(c, "agent %s (pid %ld)\n", what, (long)pid);
}

static int
cmd_agent_start_exec(struct cli *c, struct cmd_args *a)
{
	struct st_child	 ch;
	char		 home[PATH_MAX], path[PATH_MAX];
	char		*argv[3];
	pid_t		 pid, child;
	int		 status, e, rc;

	(void)a;
	if ((pid = agent_pid(c, home, sizeof(home))) == -1)
		return (-1);
	if (pid > 0) {
		report_pid(c, "already running", pid);
		return (0);
	}
	if (agent_path(c, path, sizeof(path)) == -1)
		return (-1);
	argv[0] = path;
	argv[1] = (char *)"-d";
	argv[2] = NULL;
	memset(&ch, 0, sizeof(ch));
	ch.argv = argv;
	ch.fd[0] = ch.fd[1] = ch.fd[2] = -1;
	ch.dirfd = -1;
	fflush(stdout);
	fflush(stderr);
	if ((rc = st_child_start(&ch, &child, &e, &c->err)) == -1)
		return (-1);
	if (rc == 1)
		return (cli_error(c, ST_EGENERAL, "cannot run %s: %s",
		    cli_path(path), strerror(e)));
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			return (cli_error(c, ST_EGENERAL, "waitpid: %s",
			    strerror(errno)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return (cli_error(c, WIFEXITED(status) &&
		    WEXITSTATUS(status) < 8 && WEXITSTATUS(status) > 0 ?
		    WEXITSTATUS(status) : ST_EGENERAL, "the agent did not "
		    "start; run steroids-agent in the foreground to see why"));
	if ((pid = agent_pid(c, home, sizeof(home))) == -1)
		return (-1);
	if (pid == 0)
		return (cli_error(c, ST_EGENERAL, "the agent started but "
		    "exited at once; see the system log"));
	report_pid(c, "started", pid);
	return (0);
}

static int
cmd_agent_stop_exec(struct cli *c, struct cmd_args *a)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	char		 home[PATH_MAX];
	pid_t		 pid, now;
	int		 i;

	(void)a;
	if ((pid = agent_pid(c, home, sizeof(home))) == -1)
		return (-1);
	if (pid == 0) {
		if (c->json) {
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "state", "not running");
			json_obj_end(&c->js);
		} else
			cli_info(c, "agent not running\n");
		return (0);
	}
	if (kill(pid, SIGTERM) == -1)
		return (cli_error(c, errno == EPERM ? ST_EPERM : ST_EGENERAL,
		    "cannot signal the agent (pid %ld): %s", (long)pid,
		    strerror(errno)));
	for (i = 0; i < AGENT_WAIT_MS / 20; i++) {
		if ((now = agent_pid(c, home, sizeof(home))) == -1)
			return (-1);
		if (now != pid) {
			report_pid(c, "stopped", pid);
			return (0);
		}
		nanosleep(&ts, NULL);
	}
	return (cli_error(c, ST_EGENERAL, "the agent (pid %ld) did not exit "
	    "within %d s", (long)pid, AGENT_WAIT_MS / 1000));
}

static const char *
uptime(long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(buf, len, "%ld min %ld sec", secs / 60, secs % 60);
	else
		snprintf(buf, len, "%ld h %ld min", secs / 3600,
		    secs % 3600 / 60);
	return (buf);
}

/* Read agent.status of the agent with this pid into s; -1 (c->err) if bad. */
static int
status_read(struct cli *c, const char *path, pid_t pid,
    struct st_agent_status *s)
{
	return (st_agent_status_read(path, pid, s, &c->err));
}

/*
 * The running agent's agent.status, for other commands: 1 read, 0 no
 * agent running or its file not readable now (they go on without it).
 */
int
agent_status_load(struct cli *c, struct st_agent_status *s)
{
	struct cli	 quiet;
	char		 home[PATH_MAX], path[PATH_MAX + 16];
	pid_t		 pid;

	memset(s, 0, sizeof(*s));
	quiet = *c;
	if ((pid = agent_pid(&quiet, home, sizeof(home))) <= 0)
		return (0);
	snprintf(path, sizeof(path), "%s/agent.status", home);
	if (status_read(&quiet, path, pid, s) == -1)
		return (0);
	return (1);
}

static int
cmd_agent_status_exec(struct cli *c, struct cmd_args *a)
{
	struct st_agent_status	 s;
	struct table		*t;
	char			 home[PATH_MAX], path[PATH_MAX + 16];
	char			 line[PATH_MAX * 4 + 64], num[32], ago[64];
	size_t			 i;
	pid_t			 pid;
	time_t			 now = time(NULL);

	(void)a;
	if ((pid = agent_pid(c, home, sizeof(home))) == -1)
		return (-1);
	if (pid == 0)
		return (cli_error(c, ST_EGENERAL, "the agent is not running; "
		    "start it with 'steroids agent start'"));
	snprintf(path, sizeof(path), "%s/agent.status", home);
	if (status_read(c, path, pid, &s) == -1)
		return (-1);
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_bool(&c->js, "running", 1);
		json_int(&c->js, "pid", s.pid);
		json_int(&c->js, "uptime", (long long)(now - s.started));
		json_str(&c->js, "backend", s.backend);
		json_obj_begin(&c->js, "watched");
		json_int(&c->js, s.backend, s.native);
		json_int(&c->js, "poll", s.polled);
		json_int(&c->js, "unwatched", s.unwatched);
		json_obj_end(&c->js);
		json_int(&c->js, "runners", s.runners);
		if (s.last_sweep > 0)
			json_int(&c->js, "last_sweep_ago",
			    (long long)(now - s.last_sweep));
		else
			json_null(&c->js, "last_sweep_ago");
		json_int(&c->js, "starts", s.starts);
		json_int(&c->js, "restarts", s.restarts);
		json_arr_begin(&c->js, "backoff");
		for (i = 0; i < s.nbackoff; i++)
			json_str(&c->js, NULL, s.backoff_v[i]);
		json_arr_end(&c->js);
		json_arr_begin(&c->js, "hung");
		for (i = 0; i < s.nhung; i++)
			json_str(&c->js, NULL, s.hung_v[i]);
		json_arr_end(&c->js);
		json_int(&c->js, "max_runners", s.max_runners);
		json_int(&c->js, "alive", s.alive);
		json_arr_begin(&c->js, "queued");
		for (i = 0; i < s.nqueued; i++)
			json_str(&c->js, NULL, s.queued_v[i]);
		json_arr_end(&c->js);
		json_obj_end(&c->js);
	} else if (!c->quiet) {
		t = table_new(2, "KEY", "VALUE");
		snprintf(num, sizeof(num), "%ld", s.pid);
		table_add(t, "pid", num);
		table_add(t, "uptime", uptime(now - s.started, ago,
		    sizeof(ago)));
		table_add(t, "backend", s.backend);
		snprintf(line, sizeof(line), "%s %ld, poll %ld, unwatched %ld",
		    s.backend, s.native, s.polled, s.unwatched);
		table_add(t, "projects watched", line);
		snprintf(num, sizeof(num), "%ld", s.runners);
		table_add(t, "runners tracked", num);
		table_add(t, "last sweep", s.last_sweep > 0 ?
		    cli_ago(now - s.last_sweep, ago, sizeof(ago)) : "never");
		snprintf(line, sizeof(line), "%ld started, %ld restarted",
		    s.starts, s.restarts);
		table_add(t, "runners", line);
		snprintf(num, sizeof(num), "%ld", s.backoff);
		table_add(t, "in backoff", num);
		for (i = 0; i < s.nbackoff; i++)
			table_add(t, "", s.backoff_v[i]);
		snprintf(num, sizeof(num), "%ld", s.hung);
		table_add(t, "hung", num);
		for (i = 0; i < s.nhung; i++)
			table_add(t, "", s.hung_v[i]);
		if (s.max_runners > 0)
			snprintf(num, sizeof(num), "%ld", s.max_runners);
		else
			strlcpy(num, "none", sizeof(num));
		table_add(t, "runner limit", num);
		snprintf(num, sizeof(num), "%ld", s.alive);
		table_add(t, "runners alive", num);
		snprintf(num, sizeof(num), "%ld", s.queued);
		table_add(t, "queued", num);
		for (i = 0; i < s.nqueued; i++) {
			snprintf(line, sizeof(line), "%zu. %s", i + 1,
			    s.queued_v[i]);
			table_add(t, "", line);
		}
		table_print(t, stdout);
		table_free(t);
	}
	st_agent_status_free(&s);
	return (0);
}

const struct cmd_entry cmd_agent_start_entry = {
	"agent", "start", "",
	"Start steroids-agent in the background (it daemonises with -d).\n"
	"Already running: says so and succeeds.",
	{ { NULL, 0, 0 } }, 0, 0,
	cmd_agent_start_exec
};
const struct cmd_entry cmd_agent_stop_entry = {
	"agent", "stop", "",
	"Stop the agent with SIGTERM and wait for it to exit; its runners\n"
	"keep running.  Not running: says so and succeeds.",
	{ { NULL, 0, 0 } }, 0, 0,
	cmd_agent_stop_exec
};
const struct cmd_entry cmd_agent_status_entry = {
	"agent", "status", "",
	"Show the agent's pid, uptime, watch backend, projects watched per\n"
	"backend, runners tracked, last sweep, runners started and restarted,\n"
	"projects in backoff, the runner limit (agent.max_runners), runners\n"
	"alive and the projects queued under it.  Exit 1 when the agent is not running, 7\n"
	"(HEALTH_FAILED) when it runs but its status file is missing, not\n"
	"its own, cut short or corrupt.",
	{ { NULL, 0, 0 } }, 0, 0,
	cmd_agent_status_exec
};
