/* cmd-tasks.c -- steroids tasks add|list|update. */
#include "config.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/*
 * Who changes a task, for the audit rows: the runner whose handler runs
 * us (it sets STEROIDS_RUNNER_ID), else the user.
 */
static const char *
actor(const char **type)
{
	static char	 buf[64];
	struct passwd	*pw;
	const char	*rid = getenv("STEROIDS_RUNNER_ID");

	if (rid != NULL && *rid != '\0') {
		*type = "handler";
		strlcpy(buf, rid, sizeof(buf));
		return (buf);
	}
	*type = "human";
	if ((pw = getpwuid(geteuid())) != NULL)
		strlcpy(buf, pw->pw_name, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "uid %lu", (unsigned long)geteuid());
	return (buf);
}

static int
open_project(struct cli *c, struct cmd_args *a, int flags, st_pdb **p)
{
	char	dir[PATH_MAX];

	if (cli_project_dir(c, args_get(a, "project"), dir, sizeof(dir)) == -1)
		return (-1);
	if (st_pdb_open(dir, flags, p, &c->err) == -1)
		return (cli_fail(c));
	return (0);
}

static void
json_task(struct cli *c, const struct st_task *t)
{
	json_obj_begin(&c->js, NULL);
	json_str(&c->js, "id", t->id);
	json_str(&c->js, "title", t->title);
	if (t->description != NULL)
		json_str(&c->js, "description", t->description);
	else
		json_null(&c->js, "description");
	json_str(&c->js, "status", t->status);
	if (t->section != NULL)
		json_str(&c->js, "section", t->section);
	else
		json_null(&c->js, "section");
	json_int(&c->js, "failure_count", t->failure_count);
	if (t->last_failure_at != NULL)
		json_str(&c->js, "last_failure_at", t->last_failure_at);
	else
		json_null(&c->js, "last_failure_at");
	json_str(&c->js, "created_at", t->created_at);
	json_str(&c->js, "updated_at", t->updated_at);
	json_obj_end(&c->js);
}

static int
cmd_tasks_add_exec(struct cli *c, struct cmd_args *a)
{
	const char	*title = a->argv[0], *section = args_get(a, "section");
	const char	*desc = args_get(a, "description"), *type;
	const char	*who = actor(&type);
	char		 id[37];
	st_pdb		*p;
	int		 rc;

	if (args_check_text(c, "the title", title) == -1 ||
	    (section != NULL && args_check_text(c, "--section", section) == -1))
		return (-1);
	/* A description may have several lines; other controls are refused. */
	if (desc != NULL && strpbrk(desc, "\001\002\003\004\005\006\007\010"
	    "\013\014\015\016\017\020\021\022\023\024\025\026\027\030\031\032"
	    "\033\034\035\036\037\177") != NULL)
		return (cli_error(c, ST_EARGS, "--description contains a "
		    "control character"));
	if (open_project(c, a, 0, &p) == -1)
		return (-1);
	rc = st_task_add(p, title, section, desc, who, type, id, &c->err);
	st_pdb_close(p);
	if (rc == -1)
		return (cli_fail(c));
	cli_info(c, "Added task %s: %s\n", id, title);
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "id", id);
		json_str(&c->js, "title", title);
		json_str(&c->js, "status", "pending");
		if (section != NULL)
			json_str(&c->js, "section", section);
		else
			json_null(&c->js, "section");
		json_obj_end(&c->js);
	}
	return (0);
}

static int
cmd_tasks_list_exec(struct cli *c, struct cmd_args *a)
{
	const char		*status = args_get(a, "status");
	struct st_task_list	 l;
	struct table		*t;
	char			 id[9], fails[16];
	st_pdb			*p;
	size_t			 i;

	if (status != NULL && st_task_status_check(status, &c->err) == -1)
		return (cli_fail(c));
	if (open_project(c, a, ST_PDB_READONLY, &p) == -1)
		return (-1);
	if (st_task_list(p, status, &l, &c->err) == -1) {
		st_pdb_close(p);
		return (cli_fail(c));
	}
	st_pdb_close(p);
	if (c->json) {
		json_arr_begin(&c->js, NULL);
		for (i = 0; i < l.n; i++)
			json_task(c, &l.v[i]);
		json_arr_end(&c->js);
	} else if (!c->quiet && l.n == 0)
		printf("No tasks%s%s; add one with 'steroids tasks add "
		    "<title>'.\n", status != NULL ? " with status " : "",
		    status != NULL ? status : "");
	else if (!c->quiet) {
		t = table_new(5, "ID", "STATUS", "FAILURES", "SECTION",
		    "TITLE");
		for (i = 0; i < l.n; i++) {
			/* Short ids, like git's: 'update' takes a prefix. */
			strlcpy(id, l.v[i].id, sizeof(id));
			snprintf(fails, sizeof(fails), "%ld",
			    l.v[i].failure_count);
			table_add(t, id, l.v[i].status, fails,
			    l.v[i].section != NULL ? cli_path(l.v[i].section) :
			    "-", cli_path(l.v[i].title));
		}
		table_print(t, stdout);
		table_free(t);
	}
	st_task_list_free(&l);
	return (0);
}

static int
cmd_tasks_update_exec(struct cli *c, struct cmd_args *a)
{
	const char	*status = args_get(a, "status"), *type, *who;
	struct st_task	 t;
	char		 from[ST_TASK_STATUS_LEN];
	st_pdb		*p;
	int		 rc;

	if (status == NULL)
		return (cli_error(c, ST_EARGS, "say which status: steroids "
		    "tasks update <id> --status <status>"));
	if (st_task_status_check(status, &c->err) == -1)
		return (cli_fail(c));
	if (args_check_text(c, "the task id", a->argv[0]) == -1)
		return (-1);
	if (open_project(c, a, 0, &p) == -1)
		return (-1);
	if (st_task_get(p, a->argv[0], &t, &c->err) == -1) {
		st_pdb_close(p);
		return (cli_fail(c));
	}
	who = actor(&type);
	rc = st_task_set_status(p, t.id, status, who, type, "steroids tasks "
	    "update", from, &c->err);
	st_pdb_close(p);
	if (rc == -1) {
		st_task_free(&t);
		return (cli_fail(c));
	}
	if (strcmp(from, status) == 0)
		cli_info(c, "Task %s is already %s\n", t.id, status);
	else
		cli_info(c, "Task %s: %s -> %s\n", t.id, from, status);
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "id", t.id);
		json_str(&c->js, "from", from);
		json_str(&c->js, "to", status);
		json_bool(&c->js, "changed", strcmp(from, status) != 0);
		json_obj_end(&c->js);
	}
	st_task_free(&t);
	return (0);
}

const struct cmd_entry cmd_tasks_add_entry = {
	"tasks", "add",
	"<title> [--section <name>] [--description <text>] [--project <path>]",
	"Add a pending task to the project (default: the current directory's).\n"
	"A section that does not exist yet is created after the others.",
	{ { "section", 1, 's' }, { "description", 1, 'd' },
	  { "project", 1, 'p' } }, 1, 1, cmd_tasks_add_exec
};
const struct cmd_entry cmd_tasks_list_entry = {
	"tasks", "list", "[--status <status>] [--project <path>]",
	"List the project's tasks in queue order.  Statuses: pending,\n"
	"in_progress, review, completed, failed, disputed, skipped.",
	{ { "status", 1, 's' }, { "project", 1, 'p' } }, 0, 0,
	cmd_tasks_list_exec
};
const struct cmd_entry cmd_tasks_update_entry = {
	"tasks", "update", "<id> --status <status> [--project <path>]",
	"Set a task's status (the id or a unique prefix of it).  Every change\n"
	"is recorded in the audit table.  A runner's handler uses this to\n"
	"decide the outcome of its task itself.",
	{ { "status", 1, 's' }, { "project", 1, 'p' } }, 1, 1,
	cmd_tasks_update_exec
};
