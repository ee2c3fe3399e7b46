/*
 * steroids.c -- main: global flags, then the command table, tmux style:
 * adding a command is a cmd-*.c file and a line here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

extern const struct cmd_entry cmd_init_entry;
extern const struct cmd_entry cmd_projects_list_entry;
extern const struct cmd_entry cmd_projects_add_entry;
extern const struct cmd_entry cmd_projects_remove_entry;
extern const struct cmd_entry cmd_projects_enable_entry;
extern const struct cmd_entry cmd_projects_disable_entry;
extern const struct cmd_entry cmd_projects_prune_entry;
extern const struct cmd_entry cmd_tasks_add_entry;
extern const struct cmd_entry cmd_tasks_list_entry;
extern const struct cmd_entry cmd_tasks_update_entry;
extern const struct cmd_entry cmd_loop_entry;
extern const struct cmd_entry cmd_runners_list_entry;
extern const struct cmd_entry cmd_runners_stop_entry;
extern const struct cmd_entry cmd_runners_logs_entry;
extern const struct cmd_entry cmd_runners_wakeup_entry;
extern const struct cmd_entry cmd_runners_cron_entry;
extern const struct cmd_entry cmd_agent_start_entry;
extern const struct cmd_entry cmd_agent_stop_entry;
extern const struct cmd_entry cmd_agent_status_entry;
extern const struct cmd_entry cmd_config_get_entry;
extern const struct cmd_entry cmd_config_set_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_init_entry,
	&cmd_projects_list_entry,
	&cmd_projects_add_entry,
	&cmd_projects_remove_entry,
	&cmd_projects_enable_entry,
	&cmd_projects_disable_entry,
	&cmd_projects_prune_entry,
	&cmd_tasks_add_entry,
	&cmd_tasks_list_entry,
	&cmd_tasks_update_entry,
	&cmd_loop_entry,
	&cmd_runners_list_entry,
	&cmd_runners_stop_entry,
	&cmd_runners_logs_entry,
	&cmd_runners_wakeup_entry,
	&cmd_runners_cron_entry,
	&cmd_agent_start_entry,
	&cmd_agent_stop_entry,
	&cmd_agent_status_entry,
	&cmd_config_get_entry,
	&cmd_config_set_entry,
	NULL
};

static void
usage(FILE *f)
{
	const struct cmd_entry	*e;
	size_t			 i;

	fprintf(f, "usage: steroids [-hjqv] [--no-color] [--version] "
	    "<command> [<args>]\n\ncommands:\n");
	for (i = 0; (e = cmd_table[i]) != NULL; i++)
		fprintf(f, "  %s%s%s %s\n", e->name, e->sub ? " " : "",
		    e->sub ? e->sub : "", e->usage);
	fprintf(f, "\n'steroids <command> --help' tells more.\n");
}

static void
group_usage(FILE *f, const char *name)
{
	const struct cmd_entry	*e;
	size_t			 i;

	fprintf(f, "usage: steroids %s <subcommand>\n\nsubcommands:\n", name);
	for (i = 0; (e = cmd_table[i]) != NULL; i++)
		if (strcmp(e->name, name) == 0)
			fprintf(f, "  %s %s\n", e->sub, e->usage);
}

/*
 * The command words (group NULL) or one group's subcommands, comma
 * separated, for an error that must stay on one line.
 */
static const char *
word_list(const char *group, char *buf, size_t len)
{
	const struct cmd_entry	*e;
	const char		*w, *last = NULL;
	size_t			 i;

	buf[0] = '\0';
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if (group != NULL && (e->sub == NULL ||
		    strcmp(e->name, group) != 0))
			continue;
		w = group != NULL ? e->sub : e->name;
		if (last != NULL && strcmp(last, w) == 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, ", ", len);
		strlcat(buf, w, len);
		last = w;
	}
	return (buf);
}

/* A global flag before the command word; 0 if arg is not one. */
static int
global_flag(struct cli *c, const char *arg)
{
	if (strcmp(arg, "-j") == 0 || strcmp(arg, "--json") == 0)
		c->json = 1;
	else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)
		c->quiet = 1;
	else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
		c->verbose++;
	else if (strcmp(arg, "--no-color") == 0)
		c->color = 0;
	else
		return (0);
	return (1);
}

static int
dispatch(struct cli *c, int argc, char **argv, int *done)
{
	const struct cmd_entry	*e = NULL;
	struct cmd_args		 a;
	char			 names[256];
	int			 i = 1, j, group = 0, rc;

	*done = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			*done = 1;
			return (0);
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("steroids %s\n", st_version());
			*done = 1;
			return (0);
		}
		if (!global_flag(c, argv[i]))
			return (cli_error(c, ST_EARGS, "unknown option %s; see "
			    "'steroids --help'", cli_path(argv[i])));
	}
	if (i == argc)
		return (cli_error(c, ST_EARGS, "no command given (%s); see "
		    "'steroids --help'", word_list(NULL, names, sizeof(names))));
	c->command = argv[i];
	for (j = 0; cmd_table[j] != NULL; j++) {
		if (strcmp(cmd_table[j]->name, argv[i]) != 0)
			continue;
		if (cmd_table[j]->sub == NULL)
			e = cmd_table[j];
		else
			group = 1;
	}
	if (group) {
		for (i++; i < argc && argv[i][0] == '-'; i++) {
			if (strcmp(argv[i], "-h") == 0 ||
			    strcmp(argv[i], "--help") == 0) {
				group_usage(stdout, c->command);
				*done = 1;
				return (0);
			}
			if (!global_flag(c, argv[i]))
				return (cli_error(c, ST_EARGS, "unknown option "
				    "%s; see 'steroids %s --help'",
				    cli_path(argv[i]), c->command));
		}
		if (i == argc)
			return (cli_error(c, ST_EARGS, "steroids %s needs a "
			    "subcommand (%s); see 'steroids %s --help'",
			    c->command, word_list(c->command, names,
			    sizeof(names)), c->command));
		c->subcommand = argv[i];
		for (j = 0; cmd_table[j] != NULL; j++)
			if (strcmp(cmd_table[j]->name, c->command) == 0 &&
			    cmd_table[j]->sub != NULL &&
			    strcmp(cmd_table[j]->sub, argv[i]) == 0)
				e = cmd_table[j];
		if (e == NULL)
			return (cli_error(c, ST_EARGS, "unknown subcommand "
			    "'%s %s'; see 'steroids %s --help'", c->command,
			    cli_path(argv[i]), c->command));
	} else if (e == NULL)
		return (cli_error(c, ST_EARGS, "unknown command '%s'; see "
		    "'steroids --help'", cli_path(argv[i])));

	if ((rc = args_parse(c, e, argc - i, argv + i, &a)) != 0) {
		*done = rc == 1;
		return (rc == 1 ? 0 : -1);
	}
	if (c->json)
		json_open(&c->js);
	return (e->exec(c, &a));
}

int
main(int argc, char **argv)
{
	struct cli	 c;
	const char	*env;
	int		 rc, done, i;

	memset(&c, 0, sizeof(c));
	c.color = isatty(STDOUT_FILENO) &&
	    ((env = getenv("NO_COLOR")) == NULL || *env == '\0');
	if ((env = getenv("STEROIDS_JSON")) != NULL && strcmp(env, "1") == 0)
		c.json = 1;
	/*
	 * "steroids bogus --json" fails before any command parses its flags,
	 * and must still answer with the envelope.
	 */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0)
			c.json = 1;
	rc = dispatch(&c, argc, argv, &done);
	if (done)
		return (0);
	cli_finish(&c, rc);
	json_close(&c.js);
	return (rc == 0 ? 0 : c.err.code);
}
