/*
 * cmd-loop.c -- steroids loop: the runner (SPEC 6).  A thin shell over
 * st_runner_run: find the project, print what happens, and for --dry-run
 * only read.
 */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/*
 * Started by the agent or a sweep, our stdout is the runner log, where the
 * library already writes each task with a timestamp: say it once.
 */
static int	out_is_log;

static void
loop_event(const struct st_run_info *i, void *arg)
{
	struct cli	*c = arg;

	if (c->quiet || c->json || (out_is_log && i->event != ST_RUN_STARTED))
		return;
	switch (i->event) {
	case ST_RUN_STARTED:
		printf("runner %s started for %s\n", i->runner_id,
		    cli_path(i->project));
		break;
	case ST_RUN_TASK_BEGIN:
		printf("task %s (%s): %s\n", i->task->id, i->action,
		    cli_path(i->task->title != NULL ? i->task->title : ""));
		break;
	case ST_RUN_TASK_END:
		printf("task %s: %s -> %s\n", i->task->id, i->result,
		    i->status);
		break;
	}
	/* The agent sends our output to the runner log: keep it in order. */
	fflush(stdout);
}

/* --dry-run: counts and what would run next, from a read-only DB. */
static int
loop_dry_run(struct cli *c, const char *dir)
{
	long		 counts[ST_TASK_NSTATUS], other;
	struct st_task	 t;
	st_config	*cfg;
	st_pdb		*p;
	st_gdb		*g;
	const char	*action, *cmd;
	pid_t		 holder;
	size_t		 i;
	int		 found, held, queue;

	if (st_config_load(dir, &cfg, &c->err) == -1)
		return (cli_fail(c));
	queue = st_config_str(cfg, "runner.queue_command") != NULL;
	if ((cmd = st_config_str(cfg, queue ? "runner.queue_command" :
	    "runner.command")) == NULL) {
		st_config_free(cfg);
		return (cli_error(c, ST_ECONFIG, "runner.command is not set "
		    "for %s; set it with: steroids config set runner.command "
		    "'<command>'", cli_path(dir)));
	}
	if (st_pdb_open(dir, ST_PDB_READONLY, &p, &c->err) == -1) {
		st_config_free(cfg);
		return (cli_fail(c));
	}
	if (st_task_counts(p, counts, &other, &c->err) == -1 ||
	    st_task_next(p, &t, &action, &found, &c->err) == -1) {
		st_pdb_close(p);
		st_config_free(cfg);
		return (cli_fail(c));
	}
	st_pdb_close(p);
	held = st_lock_probe(dir, &holder);
	/* Ours hold the lock; the upstream tool's have only their row. */
	if (held != 1 && st_gdb_open(&g, &c->err) == 0) {
		if (st_runner_lockless_live(g, dir, 0, &holder, &c->err) == 0 &&
		    holder > 0)
			held = 1;
		st_gdb_close(g);
	}

	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "project", dir);
		json_bool(&c->js, "dry_run", 1);
		json_obj_begin(&c->js, "counts");
		for (i = 0; i < ST_TASK_NSTATUS; i++)
			json_int(&c->js, st_task_statuses[i], counts[i]);
		json_obj_end(&c->js);
		json_str(&c->js, "command", cmd);
		json_bool(&c->js, "queue_command", queue);
		if (held == 1)
			json_int(&c->js, "runner_pid", holder);
		else
			json_null(&c->js, "runner_pid");
		if (found) {
			json_obj_begin(&c->js, "next");
			json_str(&c->js, "id", t.id);
			json_str(&c->js, "title", t.title);
			json_str(&c->js, "status", t.status);
			json_str(&c->js, "action", action);
			json_obj_end(&c->js);
		} else
			json_null(&c->js, "next");
		json_obj_end(&c->js);
	} else if (!c->quiet) {
		printf("project %s\ntasks:", cli_path(dir));
		for (i = 0; i < ST_TASK_NSTATUS; i++)
			printf(" %s %ld%s", st_task_statuses[i], counts[i],
			    i + 1 < ST_TASK_NSTATUS ? "," : "\n");
		if (held == 1)
			printf("a runner is running (pid %ld): this loop would "
			    "exit 6\n", (long)holder);
		if (queue)
			printf("would run once, for the whole queue "
			    "(runner.queue_command): %s\n", cli_path(cmd));
		else if (found)
			printf("would run: %s\n  for task %s (%s): %s\n",
			    cli_path(cmd), t.id, action, cli_path(t.title));
		else
			printf("no pending work: nothing would run\n");
	}
	st_task_free(&t);
	st_config_free(cfg);
	return (0);
}

static int
cmd_loop_exec(struct cli *c, struct cmd_args *a)
{
	struct st_run_opts	 opts;
	struct st_run_result	 res;
	struct stat		 log, out;
	char			 dir[PATH_MAX], path[PATH_MAX + 32];

	if (cli_project_dir(c, args_get(a, "project"), dir, sizeof(dir)) == -1)
		return (-1);
	if (args_has(a, "dry-run"))
		return (loop_dry_run(c, dir));
	snprintf(path, sizeof(path), "%s/" ST_PROJECT_DIR "/logs/runner.log",
	    dir);
	out_is_log = stat(path, &log) == 0 && fstat(STDOUT_FILENO, &out) == 0 &&
	    log.st_dev == out.st_dev && log.st_ino == out.st_ino;

	memset(&opts, 0, sizeof(opts));
	opts.flags = args_has(a, "once") ? ST_RUN_ONCE : 0;
	opts.cb = loop_event;
	opts.arg = c;
	if (st_runner_run(dir, &opts, &res, &c->err) == -1)
		return (cli_fail(c));
	cli_info(c, "runner %s: %ld task%s run, stopped: %s\n", res.runner_id,
	    res.tasks, res.tasks == 1 ? "" : "s", st_run_stop_name(res.stop));
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "project", dir);
		json_str(&c->js, "runner_id", res.runner_id);
		json_int(&c->js, "tasks", res.tasks);
		json_str(&c->js, "stop", st_run_stop_name(res.stop));
		json_obj_end(&c->js);
	}
	return (0);
}

const struct cmd_entry cmd_loop_entry = {
	"loop", NULL, "[--project <path>] [--once] [--dry-run]",
	"Work through the project's tasks (default: the current directory's)\n"
	"until none is pending: run runner.command for each, in the project\n"
	"folder, or runner.queue_command once for them all.  One runner per\n"
	"project, the upstream tool's included: a second exits 6.  --once\n"
	"stops after one task; --dry-run shows what would run and changes\n"
	"nothing.",
	{ { "project", 1, 'p' }, { "once", 0, 0 }, { "dry-run", 0, 'n' } },
	0, 0, cmd_loop_exec
};
