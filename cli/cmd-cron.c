/*
 * cmd-cron.c -- steroids runners cron install|uninstall|status: the
 * wakeup every minute from the user's crontab, when no agent runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
cmd_cron_exec(struct cli *c, struct cmd_args *a)
{
	const char	*op = a->argv[0];
	char		*line = NULL, *up = NULL;
	int		 n, rc;

	if (strcmp(op, "install") == 0) {
		if ((rc = st_cron_install(&n, &line, &c->err)) == 0) {
			cli_info(c, "%s\n%s\n", n ? "Installed in your crontab:" :
			    "Already in your crontab:", line);
			if (c->json) {
				json_obj_begin(&c->js, NULL);
				json_bool(&c->js, "installed", 1);
				json_bool(&c->js, "changed", n);
				json_str(&c->js, "line", line);
				json_obj_end(&c->js);
			}
		}
	} else if (strcmp(op, "uninstall") == 0) {
		if ((rc = st_cron_uninstall(&n, &c->err)) == 0) {
			cli_info(c, "%s\n", n ? "Removed from your crontab" :
			    "Not in your crontab; nothing to remove");
			if (c->json) {
				json_obj_begin(&c->js, NULL);
				json_bool(&c->js, "installed", 0);
				json_bool(&c->js, "changed", n > 0);
				json_obj_end(&c->js);
			}
		}
	} else if (strcmp(op, "status") == 0) {
		if ((rc = st_cron_status(&n, &line, &up, &c->err)) == 0) {
			if (n)
				cli_info(c, "installed\n%s\n", line);
			else if (up == NULL)
				cli_info(c, "not installed; run 'steroids "
				    "runners cron install'\n");
			else
				cli_info(c, "not installed\n");
			if (up != NULL)
				cli_info(c, "upstream's wakeup line is "
				    "installed:\n%s\n", up);
			if (c->json) {
				json_obj_begin(&c->js, NULL);
				json_bool(&c->js, "installed", n);
				if (line != NULL)
					json_str(&c->js, "line", line);
				else
					json_null(&c->js, "line");
				if (up != NULL)
					json_str(&c->js, "upstream", up);
				else
					json_null(&c->js, "upstream");
				json_obj_end(&c->js);
			}
		}
	} else
		return (cli_error(c, ST_EARGS, "unknown cron action '%s': use "
		    "install, uninstall or status", cli_path(op)));
	free(line);
	free(up);
	return (rc == 0 ? 0 : cli_fail(c));
}

const struct cmd_entry cmd_runners_cron_entry = {
	"runners", "cron", "install|uninstall|status",
	"Manage the crontab(1) entry that runs 'steroids runners wakeup\n"
	"--quiet' every minute by absolute path (with STEROIDS_HOME when it\n"
	"is set), under a marker comment.  Installing twice keeps one entry;\n"
	"uninstall removes only those lines.  Exit 4 when crontab is missing.\n"
	"The upstream tool's wakeup line ('* * * * * steroids runners wakeup\n"
	"--quiet') is recognised: status names it, install adds nothing\n"
	"beside it and exits 6.",
	{ { NULL, 0, 0 } }, 1, 1, cmd_cron_exec
};
