/* home.c -- where the global state lives: $STEROIDS_HOME or ~/.steroids. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

int
st_home_dir(char *buf, size_t len, struct st_error *err)
{
	const char	*env, *home;
	struct passwd	*pw;
	int		 n;

	if ((env = getenv("STEROIDS_HOME")) != NULL && *env != '\0') {
		if (*env != '/')
			return (st_seterr(err, ST_ECONFIG, "STEROIDS_HOME must "
			    "be an absolute path: %s", env));
		n = snprintf(buf, len, "%s", env);
	} else {
		if ((home = getenv("HOME")) == NULL || *home != '/') {
			if ((pw = getpwuid(geteuid())) == NULL)
				return (st_seterr(err, ST_ECONFIG, "cannot find "
				    "your home directory: set HOME or "
				    "STEROIDS_HOME"));
			home = pw->pw_dir;
		}
		n = snprintf(buf, len, "%s/.steroids", home);
	}
	if (n < 0 || (size_t)n >= len)
		return (st_seterr(err, ST_ECONFIG, "STEROIDS_HOME is too long"));
	/* No trailing slash, so file names join cleanly. */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return (0);
}

/*
 * The global dir: created 0700, and put back to 0700 if someone widened it
 * (the upstream tool makes it with the umask's mode).  One its owner made
 * read-only stays so.
 */
int
st_home_ensure(char *buf, size_t len, struct st_error *err)
{
	struct stat	sb;

	if (st_home_dir(buf, len, err) == -1)
		return (-1);
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		return (st_seterr(err, errno == EACCES ? ST_EPERM : ST_EGENERAL,
		    "cannot create %s: %s", buf, strerror(errno)));
	if (lstat(buf, &sb) == -1)
		return (st_seterr(err, ST_EGENERAL, "%s: %s", buf,
		    strerror(errno)));
	if (!S_ISDIR(sb.st_mode))
		return (st_seterr(err, ST_ECONFIG, "%s is not a directory", buf));
	if (sb.st_uid != geteuid())
		return (st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not "
		    "by you", buf, (unsigned long)sb.st_uid));
	return (st_tighten_mode(buf, 0700, err));
}
