/*
 * cmd-runners.c -- steroids runners list|stop.  A row says who claims to
 * run where; the project's runner lock says whether it really does, so a
 * dead runner or a reused PID is never shown alive nor sent a signal.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int
cmd_runners_list_exec(struct cli *c, struct cmd_args *a)
{
	struct st_runner_list	 l;
	struct st_runner	*r;
	struct table		*t;
	st_gdb			*g;
	char			 id[9], pid[24], ago[32];
	size_t			 i;
	int			*state;

	(void)a;
	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	if (st_runners_list(g, NULL, &l, &c->err) == -1) {
		st_gdb_close(g);
		return (cli_fail(c));
	}
	state = calloc(l.n + 1, sizeof(*state));
	if (state == NULL)
		abort();
	for (i = 0; i < l.n; i++)
		if (st_runner_state(g, &l.v[i], &state[i], &c->err) == -1) {
			free(state);
			st_runner_list_free(&l);
			st_gdb_close(g);
			return (cli_fail(c));
		}
	st_gdb_close(g);

	if (c->json) {
		json_arr_begin(&c->js, NULL);
		for (i = 0; i < l.n; i++) {
			r = &l.v[i];
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "id", r->id);
			json_int(&c->js, "pid", r->pid);
			json_str(&c->js, "project", r->project_path);
			json_str(&c->js, "status", r->status);
			if (r->current_task_id != NULL)
				json_str(&c->js, "current_task_id",
				    r->current_task_id);
			else
				json_null(&c->js, "current_task_id");
			json_str(&c->js, "started_at", r->started_at);
			json_str(&c->js, "heartbeat_at", r->heartbeat_at);
			json_int(&c->js, "heartbeat_age", r->heartbeat_age);
			json_str(&c->js, "state",
			    st_runner_state_name(state[i]));
			json_obj_end(&c->js);
		}
		json_arr_end(&c->js);
	} else if (!c->quiet && l.n == 0)
		printf("No runners.\n");
	else if (!c->quiet) {
		t = table_new(8, "ID", "PID", "PROJECT", "STATUS", "TASK",
		    "STARTED", "HEARTBEAT", "STATE");
		for (i = 0; i < l.n; i++) {
			r = &l.v[i];
			strlcpy(id, r->id, sizeof(id));
			snprintf(pid, sizeof(pid), "%ld", (long)r->pid);
			table_add(t, id, pid, cli_path(r->project_path != NULL ?
			    r->project_path : "?"), r->status,
			    r->current_task_id != NULL ? r->current_task_id :
			    "-", r->started_at != NULL ? r->started_at : "-",
			    cli_ago(r->heartbeat_age, ago, sizeof(ago)),
			    st_runner_state_name(state[i]));
		}
		table_print(t, stdout);
		table_free(t);
	}
	free(state);
	st_runner_list_free(&l);
	return (0);
}

enum stop_result {
	STOP_WAITING,		/* selected */
	STOP_SKIP,		/* not selected */
	STOP_STOPPED,		/* exited after SIGTERM */
	STOP_KILLED,		/* needed SIGKILL (--force) */
	STOP_STILL_RUNNING,	/* did not exit; no --force */
	STOP_CLEANED,		/* was not running: its row removed */
	STOP_UNCHECKED,		/* lock unreadable: not signalled, row kept */
	STOP_UPSTREAM		/* a live upstream runner: never ours to stop */
};

static const char *
stop_name(int s)
{
	switch (s) {
	case STOP_STOPPED:
		return ("stopped");
	case STOP_KILLED:
		return ("killed");
	case STOP_STILL_RUNNING:
		return ("still_running");
	case STOP_CLEANED:
		return ("cleaned");
	case STOP_UNCHECKED:
		return ("not_signalled");
	case STOP_UPSTREAM:
		return ("upstream_runner");
	default:
		return ("waiting");
	}
}

/* The rows --id names: the exact id or a unique prefix of it. */
static int
stop_select_id(struct cli *c, struct st_runner_list *l, const char *id,
    int *res)
{
	size_t	i, n = 0, len = strlen(id);

	for (i = 0; i < l->n; i++)
		if (len > 0 && strncmp(l->v[i].id, id, len) == 0)
			n++;
	if (n == 0)
		return (cli_error(c, ST_ENOTFOUND, "no runner with id '%s' "
		    "(see 'steroids runners list')", cli_path(id)));
	if (n > 1)
		return (cli_error(c, ST_EARGS, "runner id '%s' is ambiguous: "
		    "give more of it", cli_path(id)));
	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i].id, id, len) != 0)
			res[i] = STOP_SKIP;
	return (0);
}

static void
stop_report(struct cli *c, struct st_runner_list *l, const int *res,
    const char *project)
{
	struct table	*t;
	char		 pid[24];
	size_t		 i, shown = 0;

	if (c->json)
		json_arr_begin(&c->js, NULL);
	t = table_new(4, "ID", "PID", "PROJECT", "RESULT");
	for (i = 0; i < l->n; i++) {
		if (res[i] == STOP_SKIP)
			continue;
		shown++;
		if (c->json) {
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "id", l->v[i].id);
			json_int(&c->js, "pid", l->v[i].pid);
			json_str(&c->js, "project", l->v[i].project_path);
			json_str(&c->js, "result", stop_name(res[i]));
			json_obj_end(&c->js);
			continue;
		}
		snprintf(pid, sizeof(pid), "%ld", (long)l->v[i].pid);
		table_add(t, l->v[i].id, pid, cli_path(l->v[i].project_path !=
		    NULL ? l->v[i].project_path : "?"), stop_name(res[i]));
	}
	if (c->json)
		json_arr_end(&c->js);
	else if (!c->quiet && shown == 0)
		printf("No runners to stop%s%s.\n", project != NULL ? " for " :
		    "", project != NULL ? cli_path(project) : "");
	else if (!c->quiet)
		table_print(t, stdout);
	table_free(t);
}

static void
stops_free(st_stop **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		st_stop_free(v[i]);
	free(v);
}

static int
cmd_runners_stop_exec(struct cli *c, struct cmd_args *a)
{
	const char		*id = args_get(a, "id");
	const char		*project = args_get(a, "project");
	struct st_runner_list	 l;
	struct st_error		 derr;
	char			 path[PATH_MAX];
	st_gdb			*g;
	size_t			 i;
	st_stop			**stops;
	int			*res, n, stuck = 0, unchecked = 0, upstream = 0;
	int			 force = args_has(a, "force");

	n = (id != NULL) + (project != NULL) + args_has(a, "all");
	if (n != 1)
		return (cli_error(c, ST_EARGS, "say which runners to stop: "
		    "--project <path>, --id <id> or --all"));
	/* The folder may be gone while its runner row is not. */
	if (project != NULL && st_path_lookup(project, path, sizeof(path),
	    &c->err) == -1)
		return (cli_fail(c));
	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	if (st_runners_list(g, project != NULL ? path : NULL, &l,
	    &c->err) == -1) {
		st_gdb_close(g);
		return (cli_fail(c));
	}
	res = calloc(l.n + 1, sizeof(*res));
	stops = calloc(l.n + 1, sizeof(*stops));
	if (res == NULL || stops == NULL)
		abort();
	if (id != NULL && stop_select_id(c, &l, id, res) == -1)
		goto fail;

	/* Only a process that holds its project's lock gets a signal. */
	for (i = 0; i < l.n; i++)
		if (res[i] != STOP_SKIP)
			stops[i] = st_stop_begin(g, &l.v[i], force ? 0 :
			    ST_STOP_NO_KILL);
	for (i = 0, n = 0; i < l.n; i++)
		if ((stops[n] = stops[i]) != NULL)
			n++;
	for (i = (size_t)n; i < l.n; i++)
		stops[i] = NULL;
	st_stop_wait(stops, (size_t)n);
	for (i = 0, n = 0; i < l.n; i++) {
		if (res[i] == STOP_SKIP)
			continue;
		switch (st_stop_state(stops[n++])) {
		case ST_STOP_UNCHECKED:
			res[i] = STOP_UNCHECKED;
			unchecked++;
			continue;
		case ST_STOP_RUNNING:
		case ST_STOP_STUCK:
			res[i] = STOP_STILL_RUNNING;
			stuck++;
			continue;
		case ST_STOP_NOT_HELD:
			/* Holds no lock, yet live by the upstream tool's rule. */
			if (st_runner_lockless_state(&l.v[i]) ==
			    ST_RUNNER_ALIVE) {
				res[i] = STOP_UPSTREAM;
				upstream++;
				continue;
			}
			res[i] = STOP_CLEANED;
			break;
		case ST_STOP_KILLED:
			res[i] = STOP_KILLED;
			break;
		default:
			res[i] = STOP_STOPPED;
			break;
		}
		/* Gone; one killed could not remove its own row. */
		st_runner_delete(g, l.v[i].id, &derr);
	}
	st_gdb_close(g);
	stop_report(c, &l, res, project != NULL ? path : NULL);
	stops_free(stops, l.n);
	free(res);
	st_runner_list_free(&l);
	if (unchecked > 0)
		return (cli_error(c, ST_EGENERAL, "%d runner%s not signalled: "
		    "the lock of %s project cannot be read, so the PID may be "
		    "another process's; check the folder's permissions",
		    unchecked, unchecked == 1 ? "" : "s", unchecked == 1 ?
		    "its" : "their"));
	if (upstream > 0)
		return (cli_error(c, ST_EGENERAL, "%d runner%s of the upstream "
		    "tool not stopped and %s row kept: it takes no runner lock, "
		    "so stop it with that tool", upstream, upstream == 1 ? "" :
		    "s", upstream == 1 ? "its" : "their"));
	if (stuck > 0)
		return (cli_error(c, ST_EGENERAL, "%d runner%s did not stop "
		    "within %u s%s", stuck, stuck == 1 ? "" : "s",
		    st_stop_bound(force ? 0 : ST_STOP_NO_KILL), force ? "" :
		    "; add --force to kill with SIGKILL"));
	return (0);
fail:
	st_gdb_close(g);
	free(res);
	free(stops);
	st_runner_list_free(&l);
	return (-1);
}

const struct cmd_entry cmd_runners_list_entry = {
	"runners", "list", "",
	"List the runners of every project: id, pid, project, status, current\n"
	"task, start time, last heartbeat, and whether it is alive (holds its\n"
	"project's lock), stale (heartbeat older than runner.stale_timeout)\n"
	"or dead (a row left behind).",
	{ { NULL, 0, 0 } }, 0, 0, cmd_runners_list_exec
};
const struct cmd_entry cmd_runners_stop_entry = {
	"runners", "stop", "--project <path> | --id <id> | --all [--force]",
	"Stop runners: SIGTERM, then wait; the task in hand goes back to\n"
	"pending.  With --force, one that has not stopped after the grace\n"
	"gets SIGKILL.  Rows of runners that are gone are removed.  The agent\n"
	"starts a new runner for a project with work left: disable the\n"
	"project ('steroids projects disable') to keep it stopped.",
	{ { "project", 1, 'p' }, { "id", 1, 0 }, { "all", 0, 'a' },
	  { "force", 0, 'f' } }, 0, 0, cmd_runners_stop_exec
};
