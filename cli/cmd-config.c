/* cmd-config.c -- steroids config get|set. */
#include "config.h"

#include <limits.h>
#include <stdio.h>

#include "cli.h"

static const char *const sources[] = { "default", "global", "project" };

static int
cmd_config_get_exec(struct cli *c, struct cmd_args *a)
{
	char		 dir[PATH_MAX], val[1024];
	const char	*project = NULL;
	int		 source;

	if (!st_config_known(a->argv[0]))
		return (cli_error(c, ST_EARGS, "unknown config key '%s'",
		    a->argv[0]));
	if (!args_has(a, "global")) {
		if (args_has(a, "project")) {
			if (cli_project_dir(c, args_get(a, "project"), dir,
			    sizeof(dir)) == -1)
				return (-1);
			project = dir;
		} else if (cli_project_dir(c, NULL, dir, sizeof(dir)) == 0)
			project = dir;
	}
	if (st_config_lookup(project, a->argv[0], val, sizeof(val), &source,
	    &c->err) == -1)
		return (cli_fail(c));
	if (source == -1)
		return (cli_error(c, ST_EGENERAL, "%s is not set; set it with "
		    "'steroids config set %s <value>'", a->argv[0], a->argv[0]));
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "key", a->argv[0]);
		json_str(&c->js, "value", val);
		json_str(&c->js, "source", sources[source]);
		json_obj_end(&c->js);
	} else if (!c->quiet) {
		if (c->verbose)
			printf("%s\t(%s)\n", val, sources[source]);
		else
			printf("%s\n", val);
	}
	return (0);
}

static int
cmd_config_set_exec(struct cli *c, struct cmd_args *a)
{
	char	dir[PATH_MAX], file[PATH_MAX], home[PATH_MAX];
	int	global = args_has(a, "global");

	if (args_check_text(c, "value", a->argv[1]) == -1)
		return (-1);
	if (st_config_validate(a->argv[0], a->argv[1], &c->err) == -1)
		return (cli_error(c, ST_EARGS, "%s", c->err.msg));
	if (global) {
		if (st_home_ensure(home, sizeof(home), &c->err) == -1 ||
		    st_config_file(1, NULL, file, sizeof(file), &c->err) == -1)
			return (cli_fail(c));
	} else {
		if (cli_project_dir(c, args_get(a, "project"), dir,
		    sizeof(dir)) == -1) {
			if (!args_has(a, "project"))
				return (cli_error(c, c->err.code, "%s; or use "
				    "--global", c->err.msg));
			return (-1);
		}
		if (st_config_file(0, dir, file, sizeof(file), &c->err) == -1)
			return (cli_fail(c));
	}
	if (st_config_set(file, a->argv[0], a->argv[1], &c->err) == -1)
		return (cli_fail(c));
	cli_info(c, "%s = %s (%s)\n", a->argv[0], a->argv[1],
	    global ? "global" : "project");
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "key", a->argv[0]);
		json_str(&c->js, "value", a->argv[1]);
		json_str(&c->js, "file", file);
		json_obj_end(&c->js);
	}
	return (0);
}

const struct cmd_entry cmd_config_get_entry = {
	"config", "get", "<key> [--global] [--project <path>]",
	"Print the value a key has: the project's config over the global one\n"
	"over the default.  With -v, also where it came from.",
	{ { "global", 0, 'g' }, { "project", 1, 'p' } }, 1, 1,
	cmd_config_get_exec
};
const struct cmd_entry cmd_config_set_entry = {
	"config", "set", "<key> <value> [--global] [--project <path>]",
	"Set a key in the project's .steroids/config, or with --global in\n"
	"$STEROIDS_HOME/config.  Keys: runner.command, runner.queue_command,\n"
	"runner.task_timeout, runner.max_failures, runner.heartbeat_interval,\n"
	"runner.stale_timeout, agent.sweep_interval, agent.backoff_initial,\n"
	"agent.backoff_max, agent.poll_interval, agent.max_runners.",
	{ { "global", 0, 'g' }, { "project", 1, 'p' } }, 2, 2,
	cmd_config_set_exec
};
