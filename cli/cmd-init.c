/* cmd-init.c -- steroids init: make a folder a project and register it. */
#include "config.h"

#include <limits.h>

#include "cli.h"

static int
cmd_init_exec(struct cli *c, struct cmd_args *a)
{
	const char	*in = a->argc > 0 ? a->argv[0] : ".";
	const char	*name = args_get(a, "name");
	char		 path[PATH_MAX];
	st_gdb		*g = NULL;
	int		 reg = !args_has(a, "no-register");

	if (name != NULL && (args_check_text(c, "--name", name) == -1 ||
	    (*name == '\0' && cli_error(c, ST_EARGS, "--name is empty") == -1)))
		return (-1);
	if (st_path_canon(in, path, sizeof(path), &c->err) == -1 ||
	    st_project_init(path, &c->err) == -1)
		return (cli_fail(c));
	if (reg) {
		if (st_gdb_open(&g, &c->err) == -1 ||
		    st_registry_register(g, path, name, path, sizeof(path),
		    &c->err) == -1) {
			st_gdb_close(g);
			return (cli_error(c, c->err.code, "initialised %s but "
			    "could not register it: %s", cli_path(path),
			    c->err.msg));
		}
		st_gdb_close(g);
	}
	cli_info(c, "Initialised steroids project in %s%s\n", cli_path(path),
	    reg ? " (registered)" : "");
	if (c->json) {
		json_obj_begin(&c->js, NULL);
		json_str(&c->js, "path", path);
		json_bool(&c->js, "registered", reg);
		json_obj_end(&c->js);
	}
	return (0);
}

const struct cmd_entry cmd_init_entry = {
	"init", NULL, "[--name <name>] [--no-register] [<path>]",
	"Create .steroids/ in <path> (default: the current directory) and\n"
	"register the project so runners are kept alive for it.",
	{ { "name", 1, 0 }, { "no-register", 0, 0 } },
	0, 1, cmd_init_exec
};
