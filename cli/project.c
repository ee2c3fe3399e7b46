/* project.c -- which project a command acts on: --project, or the cwd's. */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int
is_project(const char *dir)
{
	char		path[PATH_MAX + 64];
	struct stat	sb;

	(void)st_pdb_path(dir, path, sizeof(path));
	return (stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
}

/*
 * With --project: that folder, canonical, must be a project (exit 3
 * "Not a steroids project" otherwise).  Without: the current directory or
 * the nearest parent that is one, as git finds its repository.  The
 * ownership rules of SPEC 5 apply either way.
 */
int
cli_project_dir(struct cli *c, const char *opt, char *out, size_t len)
{
	struct st_error	 perr;
	char		 dir[PATH_MAX];
	char		*slash;

	if (opt != NULL) {
		if (st_path_canon(opt, dir, sizeof(dir), &perr) == -1) {
			if (perr.code == ST_ENOTFOUND)
				perr.code = ST_ENOTINIT;
			return (cli_error(c, perr.code, "Not a steroids "
			    "project: %s (%s)", cli_path(opt), perr.msg));
		}
		if (!is_project(dir))
			return (cli_error(c, ST_ENOTINIT, "Not a steroids "
			    "project: %s", cli_path(dir)));
	} else {
		if (getcwd(dir, sizeof(dir)) == NULL)
			return (cli_error(c, ST_EGENERAL, "cannot get the "
			    "current directory"));
		while (!is_project(dir)) {
			if (strcmp(dir, "/") == 0)
				return (cli_error(c, ST_ENOTINIT, "Not a "
				    "steroids project (nor any parent): run "
				    "'steroids init' or use --project"));
			slash = strrchr(dir, '/');
			if (slash == dir)
				slash[1] = '\0';
			else
				*slash = '\0';
		}
	}
	if (st_path_check_project(dir, &c->err) == -1)
		return (cli_fail(c));
	strlcpy(out, dir, len);
	return (0);
}
