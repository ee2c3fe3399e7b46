/* cmd-projects.c -- steroids projects list|add|remove|enable|disable|prune. */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* add, remove, enable, disable: the current folder when no path is given. */
static const char *
path_arg(const struct cmd_args *a)
{
	return (a->argc > 0 ? a->argv[0] : ".");
}

static const char *
project_state(const struct st_project *p)
{
	char		buf[PATH_MAX];
	struct stat	sb;

	(void)st_pdb_path(p->path, buf, sizeof(buf));
	if (stat(buf, &sb) == -1)
		return (st_registry_unmounted(p->path, p->mount_point) ?
		    "unmounted" : "missing");
	return (p->enabled ? "enabled" : "disabled");
}

/* Named hung in the agent's status: its files are not touched here. */
static int
agent_says_hung(const struct st_agent_status *as, const char *path)
{
	char	disp[ST_DISPLAY_MAX];
	size_t	i;

	if (as->nhung == 0)
		return (0);
	st_path_display(path, disp, sizeof(disp));
	for (i = 0; i < as->nhung; i++)
		if (strcmp(as->hung_v[i], disp) == 0)
			return (1);
	return (0);
}

/* Its place in the agent's queue under agent.max_runners (1: next), 0 none. */
static size_t
agent_queue_place(const struct st_agent_status *as, const char *path)
{
	char	disp[ST_DISPLAY_MAX];
	size_t	i;

	if (as->nqueued == 0)
		return (0);
	st_path_display(path, disp, sizeof(disp));
	for (i = 0; i < as->nqueued; i++)
		if (strcmp(as->queued_v[i], disp) == 0)
			return (i + 1);
	return (0);
}

static int
cmd_projects_list_exec(struct cli *c, struct cmd_args *a)
{
	struct st_agent_status	 as;
	struct st_project_list	 l;
	struct st_error		 perr;
	struct table		*t;
	st_gdb			*g;
	char			 pending[32], ago[32], cbuf[64], runner[32];
	const char		*state, *col;
	size_t			 i, hidden = 0, place;
	long			 n;
	pid_t			 holder;
	int			 all = args_has(a, "all"), held;

	if (st_gdb_open(&g, &c->err) == -1 ||
	    st_registry_list(g, 0, &l, &c->err) == -1) {
		st_gdb_close(g);
		return (cli_fail(c));
	}
	st_gdb_close(g);
	(void)agent_status_load(c, &as);
	t = table_new(5, "PATH", "STATUS", "RUNNER", "PENDING", "LAST SEEN");
	/* The upstream tool's shape: {"projects": [...], "count": N}. */
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_arr_begin(&c->js, "projects");
	}
	for (i = 0; i < l.n; i++) {
		if (!all && !l.v[i].enabled) {
			hidden++;
			continue;
		}
		if (l.v[i].enabled && agent_says_hung(&as, l.v[i].path)) {
			/* A stat or open there may hang this command too. */
			state = "hung";
			n = -1;
			held = -1;
			holder = 0;
			strlcpy(pending, "?", sizeof(pending));
			strlcpy(runner, "?", sizeof(runner));
			goto show;
		}
		state = project_state(&l.v[i]);
		if (strcmp(state, "missing") == 0 ||
		    strcmp(state, "unmounted") == 0 ||
		    st_project_pending(l.v[i].path, ST_PDB_QUICK, &n,
		    &perr) == -1)
			n = -1;
		if (n >= 0)
			snprintf(pending, sizeof(pending), "%ld", n);
		else
			strlcpy(pending, "?", sizeof(pending));
		/* The lock, not a row, says whether a runner is there. */
		held = st_lock_probe(l.v[i].path, &holder);
		if (held == 1 && holder == 0)	/* PID not written yet */
			strlcpy(runner, "starting", sizeof(runner));
		else if (held == 1)
			snprintf(runner, sizeof(runner), "pid %ld",
			    (long)holder);
		else if (held == 0 && l.v[i].enabled &&
		    (place = agent_queue_place(&as, l.v[i].path)) > 0)
			snprintf(runner, sizeof(runner), "queued #%zu", place);
		else
			strlcpy(runner, held == 0 ? "-" : "?", sizeof(runner));
show:
		if (c->json) {
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "path", l.v[i].path);
			json_str(&c->js, "name", l.v[i].name);
			json_str(&c->js, "status", state);
			json_bool(&c->js, "enabled", l.v[i].enabled);
			if (held == 1) {
				json_obj_begin(&c->js, "runner");
				if (holder > 0)
					json_int(&c->js, "pid", holder);
				else
					json_null(&c->js, "pid");
				json_obj_end(&c->js);
			} else
				json_null(&c->js, "runner");
			if (n >= 0)
				json_int(&c->js, "pending", n);
			else
				json_null(&c->js, "pending");
			place = held == 0 && l.v[i].enabled ?
			    agent_queue_place(&as, l.v[i].path) : 0;
			if (place > 0)
				json_int(&c->js, "queued", (long long)place);
			else
				json_null(&c->js, "queued");
			json_str(&c->js, "registered_at",
			    l.v[i].registered_at);
			json_str(&c->js, "last_seen_at", l.v[i].last_seen_at);
			json_obj_end(&c->js);
			continue;
		}
		col = strcmp(state, "enabled") == 0 ? "32" :
		    strcmp(state, "disabled") == 0 ? "33" : "31";
		table_add(t, cli_path(l.v[i].path),
		    cli_color(c, col, state, cbuf, sizeof(cbuf)), runner, pending,
		    cli_ago(l.v[i].last_seen_age, ago, sizeof(ago)));
	}
	if (c->json) {
		json_arr_end(&c->js);
		json_int(&c->js, "count", (long long)(l.n - hidden));
		json_obj_end(&c->js);
	} else if (!c->quiet) {
		if (l.n - hidden > 0)
			table_print(t, stdout);
		else if (l.n == 0)
			printf("No projects registered; run 'steroids init' in "
			    "a project or 'steroids projects add <path>'.\n");
		if (hidden > 0)
			printf("(%zu disabled project%s not shown; use --all)\n",
			    hidden, hidden == 1 ? "" : "s");
	}
	table_free(t);
	st_project_list_free(&l);
	st_agent_status_free(&as);
	return (0);
}

static int
cmd_projects_add_exec(struct cli *c, struct cmd_args *a)
{
	const char	*name = args_get(a, "name");
	char		 path[PATH_MAX];
	st_gdb		*g;
	int		 rc;

	if (name != NULL && args_check_text(c, "--name", name) == -1)
		return (-1);
	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	rc = st_registry_register(g, path_arg(a), name, path, sizeof(path),
	    &c->err);
	st_gdb_close(g);
	if (rc == -1)
		return (cli_fail(c));
	cli_info(c, "Registered %s\n", cli_path(path));
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "path", path);
		json_obj_end(&c->js);
	}
	return (0);
}

/* Ask on the terminal; anything but y/yes is no. */
static int
confirm(const char *question)
{
	char	 line[64];
	FILE	*tty;
	int	 yes;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL)
		return (0);
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	yes = fgets(line, sizeof(line), tty) != NULL &&
	    (strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0 ||
	    strcmp(line, "Y\n") == 0);
	fclose(tty);
	return (yes);
}

static int
cmd_projects_remove_exec(struct cli *c, struct cmd_args *a)
{
	struct st_project	 p;
	char			 path[PATH_MAX], q[ST_DISPLAY_MAX + 64];
	st_gdb			*g;
	int			 found;

	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	if (st_registry_get(g, path_arg(a), &p, &found, &c->err) == -1)
		goto fail;
	if (!found) {
		st_path_lookup(path_arg(a), path, sizeof(path), &c->err);
		cli_error(c, ST_ENOTFOUND, "not a registered project: %s",
		    cli_path(path));
		goto fail;
	}
	if (!args_has(a, "yes")) {
		if (!isatty(STDIN_FILENO) || c->json) {
			st_project_free(&p);
			cli_error(c, ST_EARGS, "not removing %s without "
			    "confirmation: not a terminal; add --yes",
			    cli_path(path_arg(a)));
			goto fail;
		}
		snprintf(q, sizeof(q), "Unregister %s? (its files stay)",
		    cli_path(p.path));
		if (!confirm(q)) {
			st_project_free(&p);
			cli_error(c, ST_EGENERAL, "not removed");
			goto fail;
		}
	}
	st_project_free(&p);
	if (st_registry_unregister(g, path_arg(a), path, sizeof(path),
	    &c->err) == -1)
		goto fail;
	st_gdb_close(g);
	cli_info(c, "Removed %s from the registry\n", cli_path(path));
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "path", path);
		json_obj_end(&c->js);
	}
	return (0);
fail:
	st_gdb_close(g);
	return (cli_fail(c));
}

static int
set_enabled(struct cli *c, struct cmd_args *a, int on)
{
	char	 path[PATH_MAX];
	st_gdb	*g;
	int	 rc;

	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	rc = st_registry_set_enabled(g, path_arg(a), on, path, sizeof(path),
	    &c->err);
	st_gdb_close(g);
	if (rc == -1)
		return (cli_fail(c));
	cli_info(c, "%s %s\n", on ? "Enabled" : "Disabled", cli_path(path));
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "path", path);
		json_bool(&c->js, "enabled", on);
		json_obj_end(&c->js);
	}
	return (0);
}

static int
cmd_projects_enable_exec(struct cli *c, struct cmd_args *a)
{
	return (set_enabled(c, a, 1));
}

static int
cmd_projects_disable_exec(struct cli *c, struct cmd_args *a)
{
	return (set_enabled(c, a, 0));
}

static int
cmd_projects_prune_exec(struct cli *c, struct cmd_args *a)
{
	struct st_prune_list	 l;
	st_gdb			*g;
	size_t			 i;
	int			 dry = args_has(a, "dry-run"), rc;
	const char		*verb;

	if (st_gdb_open(&g, &c->err) == -1)
		return (cli_fail(c));
	rc = st_registry_prune(g, dry, &l, &c->err);
	st_gdb_close(g);
	if (rc == -1)
		return (cli_fail(c));
	if (c->json)
		json_arr_begin(&c->js, NULL);
	for (i = 0; i < l.n; i++) {
		if (l.v[i].action == ST_PRUNE_UNMOUNTED)
			verb = "unmounted";
		else
			verb = dry ? "would_remove" : "removed";
		if (c->json) {
			json_obj_begin(&c->js, NULL);
			json_str(&c->js, "path", l.v[i].path);
			json_str(&c->js, "action", verb);
			json_str(&c->js, "reason", l.v[i].reason);
			json_obj_end(&c->js);
		} else
			cli_info(c, "%-12s %s (%s)\n", verb,
			    cli_path(l.v[i].path), l.v[i].reason);
	}
	if (c->json)
		json_arr_end(&c->js);
	else if (l.n == 0)
		cli_info(c, "Nothing to prune\n");
	st_prune_list_free(&l);
	return (0);
}

const struct cmd_entry cmd_projects_list_entry = {
	"projects", "list", "[--all]",
	"List registered projects: path, status, runner, pending tasks and\n"
	"when each was last seen.  Disabled projects are shown with --all.\n"
	"A project whose filesystem is not mounted shows as unmounted.",
	{ { "all", 0, 'a' } }, 0, 0, cmd_projects_list_exec
};
const struct cmd_entry cmd_projects_add_entry = {
	"projects", "add", "[<path>] [--name <name>]",
	"Register an initialised project (its canonical path); without a\n"
	"path, the current folder.",
	{ { "name", 1, 0 } }, 0, 1, cmd_projects_add_exec
};
const struct cmd_entry cmd_projects_remove_entry = {
	"projects", "remove", "[<path>] [--yes]",
	"Unregister a project (without a path, the current folder); its\n"
	"files stay.  Asks on a terminal; needs --yes otherwise.",
	{ { "yes", 0, 'y' } }, 0, 1, cmd_projects_remove_exec
};
const struct cmd_entry cmd_projects_enable_entry = {
	"projects", "enable", "[<path>]",
	"Let wakeup and the agent start runners for a project again\n"
	"(without a path, the current folder).",
	{ { NULL, 0, 0 } }, 0, 1, cmd_projects_enable_exec
};
const struct cmd_entry cmd_projects_disable_entry = {
	"projects", "disable", "[<path>]",
	"Stop wakeup and the agent starting runners for a project (without\n"
	"a path, the current folder).",
	{ { NULL, 0, 0 } }, 0, 1, cmd_projects_disable_exec
};
const struct cmd_entry cmd_projects_prune_entry = {
	"projects", "prune", "[--dry-run]",
	"Unregister projects whose folder or .steroids is gone.  A project on\n"
	"a filesystem that is not mounted is kept and reported as unmounted.",
	{ { "dry-run", 0, 'n' } }, 0, 0, cmd_projects_prune_exec
};
