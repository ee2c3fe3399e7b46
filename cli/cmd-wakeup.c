/*
 * cmd-wakeup.c -- steroids runners wakeup: one sweep (SPEC 7), for cron
 * and for people.  A table of what was done, nothing when nothing was.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

static int
cmd_wakeup_exec(struct cli *c, struct cmd_args *a)
{
	struct st_sweep_list	 l;
	struct st_sweep_result	*r;
	struct table		*t;
	st_gdb			*g;
	char			 pid[32], reason[ST_DISPLAY_MAX];
	size_t			 i, shown = 0;
	int			 flags = 0, rc;

	if (args_has(a, "dry-run"))
		flags |= ST_SWEEP_DRY_RUN;
	/*
	 * The backstop of the sweep's own bound.  The default action, not a
	 * handler: only a fatal signal ends a wait on a hung NFS mount, and a
	 * SIGALRM ignored by whoever started us would be inherited.
	 */
	signal(SIGALRM, SIG_DFL);
	alarm(st_sweep_bound());

	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	rc = st_sweep(g, flags, &l, &c->err);
	st_gdb_close(g);
	if (rc == -1)
		return (cli_fail(c));
	if (c->json)
		json_arr_begin(&c->js, NULL);
	if (rc == 1) {
		/* Not an error; under --json stdout is the envelope's alone. */
		if (c->json) {
			json_arr_end(&c->js);
			if (!c->quiet)
				fprintf(stderr, "steroids: %s\n", c->err.msg);
		} else
			cli_info(c, "%s\n", c->err.msg);
		c->err.code = ST_OK;
		return (0);
	}
	t = table_new(4, "PROJECT", "ACTION", "PID", "REASON");
	for (i = 0; i < l.n; i++) {
		r = &l.v[i];
		if (r->pid > 0)
			snprintf(pid, sizeof(pid), "%ld", (long)r->pid);
		else
			snprintf(pid, sizeof(pid), "-");
		if (c->json) {
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "project", r->project);
			json_str(&c->js, "action",
			    st_sweep_action_name(r->action));
			json_str(&c->js, "reason", r->reason);
			if (r->pid > 0)
				json_int(&c->js, "pid", r->pid);
			else
				json_null(&c->js, "pid");
			json_obj_end(&c->js);
			continue;
		}
		if (r->action == ST_SWEEP_NONE)
			continue;
		st_path_display(r->reason, reason, sizeof(reason));
		table_add(t, cli_path(r->project),
		    st_sweep_action_name(r->action), pid, reason);
		shown++;
	}
	if (c->json)
		json_arr_end(&c->js);
	else if (!c->quiet && shown > 0)
		table_print(t, stdout);
	table_free(t);
	st_sweep_list_free(&l);
	return (0);
}

const struct cmd_entry cmd_runners_wakeup_entry = {
	"runners", "wakeup", "[--dry-run]",
	"Sweep every registered project: remove the rows of dead runners,\n"
	"replace hung ones and start a runner where work is pending and none\n"
	"runs.  A runner with a stale heartbeat is asked first (SIGUSR1) and\n"
	"kept if it beats within 3 s (alive); else SIGTERM, SIGKILL after 8 s.\n"
	"Prints what it did (nothing if nothing); --quiet prints\n"
	"nothing, for cron.  Works from any directory.  Only one sweep runs\n"
	"at a time; a second one exits 0 at once.  A sweep ends within 50\n"
	"seconds (alarm(2) backstop) even if every project is locked.",
	{ { "dry-run", 0, 'n' } }, 0, 0, cmd_wakeup_exec
};
