/* cmd-init.c -- steroids init: make a folder a project and register it. */
#include "config.h"

#include <limits.h>

#include "cli.h"

/*
 * Registration failed after the project was made: take back what this
 * call created (never a .steroids that was there before), so nothing is
 * left half-written, and say so.
 */
static int
init_undo(struct cli *c, const char *path, int made)
{
	struct st_error	e;

	if (made == 0)
		return (cli_error(c, c->err.code, "could not register %s: %s "
		    "(its " ST_PROJECT_DIR " was there before and is left "
		    "as it was)", cli_path(path), c->err.msg));
	if (st_project_unmake(path, made, &e) == -1)
		return (cli_error(c, c->err.code, "could not register %s: %s; "
		    "and could not take back what init created: %s",
		    cli_path(path), c->err.msg, e.msg));
	return (cli_error(c, c->err.code, "could not register %s: %s; "
	    "nothing was created", cli_path(path), c->err.msg));
}

static int
cmd_init_exec(struct cli *c, struct cmd_args *a)
{
	const char	*in = a->argc > 0 ? a->argv[0] : ".";
	const char	*name = args_get(a, "name");
	char		 path[PATH_MAX];
	st_gdb		*g = NULL;
	int		 made, reg = !args_has(a, "no-register");

	if (name != NULL && (args_check_text(c, "--name", name) == -1 ||
	    (*name == '\0' && cli_error(c, ST_EARGS, "--name is empty") == -1)))
		return (-1);
	if (st_path_canon(in, path, sizeof(path), &c->err) == -1)
		return (cli_fail(c));
	/*
	 * What is there already is judged as it is, before init puts modes
	 * right: a DB others could write stays refused, not made ours.
	 */
	if (st_path_check_project(path, &c->err) == -1 &&
	    c->err.code != ST_ENOTINIT)
		return (cli_fail(c));
	/* A global DB that cannot be opened fails before anything is made. */
	if (reg && st_gdb_open(&g, &c->err) == -1)
		return (cli_error(c, c->err.code, "%s; nothing was created",
		    c->err.msg));
	if (st_project_make(path, &made, &c->err) == -1) {
		st_gdb_close(g);
		return (cli_fail(c));
	}
	if (reg && st_registry_register(g, path, name, path, sizeof(path),
	    &c->err) == -1) {
		st_gdb_close(g);
		return (init_undo(c, path, made));
	}
	st_gdb_close(g);
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
