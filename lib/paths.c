/* paths.c -- canonical project paths and the rules for which are safe. */
#include "config.h"

#define LIBBSD_OPENBSD_VIS	1	/* the OpenBSD strvis, not NetBSD's */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vis.h>

#include "st-int.h"

static int
check_arg(const char *in, struct st_error *err)
{
	if (in == NULL || *in == '\0')
		return (st_seterr(err, ST_EARGS, "empty path"));
	if (strlen(in) >= PATH_MAX)
		return (st_seterr(err, ST_EARGS, "path too long (%zu bytes, "
		    "limit %d)", strlen(in), PATH_MAX - 1));
	return (0);
}

/* realpath(3) of an existing directory. */
int
st_path_canon(const char *in, char *out, size_t len, struct st_error *err)
{
	char		 buf[PATH_MAX];
	struct stat	 sb;

	if (check_arg(in, err) == -1)
		return (-1);
	if (realpath(in, buf) == NULL) {
		switch (errno) {
		case ENOENT:
			return (st_seterr(err, ST_ENOTFOUND, "no such "
			    "directory: %s", in));
		case ENOTDIR:
			return (st_seterr(err, ST_ENOTFOUND, "not a "
			    "directory: %s", in));
		case EACCES:
			return (st_seterr(err, ST_EPERM, "cannot resolve %s: %s",
			    in, strerror(errno)));
		case ENAMETOOLONG:
			return (st_seterr(err, ST_EARGS, "path too long: %s",
			    in));
		default:
			return (st_seterr(err, ST_EGENERAL, "cannot resolve %s: "
			    "%s", in, strerror(errno)));
		}
	}
	if (stat(buf, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return (st_seterr(err, ST_ENOTFOUND, "not a directory: %s", in));
	if (strlcpy(out, buf, len) >= len)
		return (st_seterr(err, ST_EARGS, "path too long: %s", in));
	return (0);
}

/*
 * The canonical spelling of a path that may no longer exist (a project
 * to remove or disable after its folder went away): the realpath of its
 * longest existing ancestor, then the rest with ".", ".." and repeated
 * slashes folded.
 */
int
st_path_lookup(const char *in, char *out, size_t len, struct st_error *err)
{
	char	 abs[PATH_MAX], head[PATH_MAX], res[PATH_MAX];
	char	*comp, *next, *slash;
	size_t	 n;

	if (check_arg(in, err) == -1)
		return (-1);
	if (realpath(in, res) != NULL) {
		if (strlcpy(out, res, len) >= len)
			return (st_seterr(err, ST_EARGS, "path too long: %s",
			    in));
		return (0);
	}
	if (*in == '/')
		n = strlcpy(abs, in, sizeof(abs));
	else {
		if (getcwd(abs, sizeof(abs)) == NULL)
			return (st_seterr(err, ST_EGENERAL, "getcwd: %s",
			    strerror(errno)));
		strlcat(abs, "/", sizeof(abs));
		n = strlcat(abs, in, sizeof(abs));
	}
	if (n >= sizeof(abs))
		return (st_seterr(err, ST_EARGS, "path too long: %s", in));

	/* Lexical fold of the whole path. */
	res[0] = '\0';
	for (comp = abs; comp != NULL; comp = next) {
		while (*comp == '/')
			comp++;
		if ((next = strchr(comp, '/')) != NULL)
			*next++ = '\0';
		if (*comp == '\0' || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if ((slash = strrchr(res, '/')) != NULL)
				*slash = '\0';
			continue;
		}
		strlcat(res, "/", sizeof(res));
		if (strlcat(res, comp, sizeof(res)) >= sizeof(res))
			return (st_seterr(err, ST_EARGS, "path too long: %s",
			    in));
	}
	if (res[0] == '\0')
		strlcpy(res, "/", sizeof(res));

	/* Resolve the longest prefix that exists, keep the rest as is. */
	strlcpy(head, res, sizeof(head));
	while ((slash = strrchr(head, '/')) != NULL && slash != head) {
		*slash = '\0';
		if (realpath(head, abs) != NULL) {
			if (strcmp(abs, "/") == 0)
				abs[0] = '\0';
			strlcat(abs, res + strlen(head), sizeof(abs));
			strlcpy(res, abs, sizeof(res));
			break;
		}
	}
	if (strlcpy(out, res, len) >= len)
		return (st_seterr(err, ST_EARGS, "path too long: %s", in));
	return (0);
}

static int
under(const char *path, const char *top)
{
	size_t	n = strlen(top);

	return (strncmp(path, top, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/'));
}

/* "/" and the trees that belong to the system, never a project. */
int
st_path_is_system(const char *path)
{
	static const char *const trees[] = { "/etc", "/usr", "/bin", "/sbin",
	    "/boot", "/dev", "/proc", "/sys", "/System", "/Library", NULL };
	const char	*home;
	size_t		 i;

	if (strcmp(path, "/") == 0)
		return (1);
	for (i = 0; trees[i] != NULL; i++)
		if (under(path, trees[i]))
			return (1);
	if (strncmp(path, "/lib", 4) == 0) /* /lib, /lib32, /lib64, /libx32 */
		return (1);
	if (under(path, "/var") || under(path, "/private/var")) {
		home = getenv("HOME");
		if (home == NULL || *home != '/' || strcmp(home, "/") == 0 ||
		    !under(path, home))
			return (1);
	}
	return (0);
}

/*
 * 1 when dir's .steroids is $STEROIDS_HOME: the project DB would be the
 * registry itself (steroids init ~ with the default home), one file for
 * two schemas, and the agent would hold it open as both.
 */
int
st_path_is_home(const char *dir)
{
	char		 home[PATH_MAX], real[PATH_MAX], sub[PATH_MAX];
	struct stat	 hs, ss;
	struct st_error	 e;

	if (st_home_dir(home, sizeof(home), &e) == -1)
		return (0);
	if (snprintf(sub, sizeof(sub), "%s/" ST_PROJECT_DIR, dir) >=
	    (int)sizeof(sub))
		return (0);
	if (strcmp(sub, home) == 0 || (realpath(home, real) != NULL &&
	    strcmp(sub, real) == 0))
		return (1);
	return (stat(home, &hs) == 0 && stat(sub, &ss) == 0 &&
	    hs.st_dev == ss.st_dev && hs.st_ino == ss.st_ino);
}

/*
 * The rule for a file whose content decides what runs as us (a config,
 * the project DB): owned by us or root, writable by neither group nor
 * others.  Otherwise another user could choose our command or our tasks.
 */
int
st_file_judge(const char *path, const struct stat *sb, struct st_error *err)
{
	uid_t	uid = geteuid();

	if (sb->st_uid != uid && sb->st_uid != 0)
		return (st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not "
		    "by you (uid %lu) or root; refusing to use it", path,
		    (unsigned long)sb->st_uid, (unsigned long)uid));
	if (sb->st_mode & (S_IWGRP | S_IWOTH))
		return (st_seterr(err, ST_EPERM, "%s is writable by group or "
		    "others; fix with: chmod go-w %s", path, path));
	return (0);
}

static int
symlink_err(const char *path, struct st_error *err)
{
	return (st_seterr(err, ST_EPERM, "%s is a symbolic link; refusing to "
	    "follow it: put the file itself there", path));
}

/*
 * Open a config for reading, judged by fstat(2) of what was opened, so
 * a swap after the check cannot change what is read.  O_NOFOLLOW: a
 * symbolic link is refused, never followed; O_NONBLOCK: a FIFO cannot
 * hang the open.  1 (and no fd) when there is no such file.
 */
int
st_file_open(const char *path, int *fdp, struct st_error *err)
{
	struct stat	 sb;
	int		 fd, fl;

	*fdp = -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return (1);
		/* What O_NOFOLLOW fails with: ELOOP, EMLINK (FreeBSD), EFTYPE. */
		if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
			return (symlink_err(path, err));
		return (st_seterr(err, ST_ECONFIG, "%s: cannot read: %s", path,
		    strerror(errno)));
	}
	if (fstat(fd, &sb) == -1) {
		st_seterr(err, ST_ECONFIG, "%s: cannot read: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		st_seterr(err, ST_ECONFIG, "%s: cannot read: not a regular "
		    "file", path);
		goto fail;
	}
	if (st_file_judge(path, &sb, err) == -1)
		goto fail;
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*fdp = fd;
	return (0);
fail:
	close(fd);
	return (-1);
}

/*
 * The project DB and its -wal and -shm (which SQLite creates with the
 * DB's mode): judged by lstat(2), as SQLite does the opening; a close(2)
 * of a descriptor of ours would drop the POSIX locks a connection of
 * this process holds on them.  No one else can swap them: .steroids is
 * ours and not writable by others, checked before.
 */
static int
check_db_file(const char *path, int may_miss, struct st_error *err)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT && may_miss)
			return (0);
		return (st_seterr(err, ST_EPERM, "%s: %s", path,
		    strerror(errno)));
	}
	if (S_ISLNK(sb.st_mode))	/* SQLite would follow it */
		return (symlink_err(path, err));
	return (st_file_judge(path, &sb, err));
}

/*
 * A project's DB, -wal and -shm (those present) by the rule: its tasks
 * become commands run as us, their titles in the environment.  Before
 * every SQLite open too: SQLite running as root hands an existing -wal
 * to the DB's owner, which would make a foreign one pass afterwards.
 */
int
st_path_check_db(const char *dir, struct st_error *err)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char	path[PATH_MAX + 32];
	size_t	i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (st_pdb_path(dir, path, sizeof(path)) == -1 ||
		    strlcat(path, sfx[i], sizeof(path)) >= sizeof(path))
			return (st_seterr(err, ST_EARGS, "path too long: %s",
			    dir));
		if (check_db_file(path, 1, err) == -1)
			return (-1);
	}
	return (0);
}

/*
 * The rules of SPEC 5: not a system tree; the folder and its .steroids
 * owned by us (as git's safe.directory asks of a repository) and, like
 * every file in it that decides what runs (the DB with its -wal and
 * -shm, the config), not writable by group or others: otherwise we
 * would run someone else's runner.command, or their tasks, as ourselves.
 */
int
st_path_check_project(const char *path, struct st_error *err)
{
	char		 sub[PATH_MAX];
	struct stat	 sb;
	uid_t		 uid = geteuid();
	int		 fd, rc;

	if (st_path_is_system(path))
		return (st_seterr(err, ST_EPERM, "refusing a system directory "
		    "as a project: %s", path));
	if (st_path_is_home(path))
		return (st_seterr(err, ST_EARGS, "refusing %s as a project: its "
		    "%s is STEROIDS_HOME, the registry's folder", path,
		    ST_PROJECT_DIR));
	if (stat(path, &sb) == -1)
		return (st_seterr(err, ST_ENOTFOUND, "no such directory: %s",
		    path));
	if (!S_ISDIR(sb.st_mode))
		return (st_seterr(err, ST_ENOTFOUND, "not a directory: %s",
		    path));
	if (sb.st_uid != uid)
		return (st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not "
		    "by you (uid %lu); refusing to run its tasks", path,
		    (unsigned long)sb.st_uid, (unsigned long)uid));
	/* Others could plant what runner.command runs there (a Makefile). */
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return (st_seterr(err, ST_EPERM, "%s is writable by group or "
		    "others; fix with: chmod go-w %s", path, path));
	snprintf(sub, sizeof(sub), "%s/" ST_PROJECT_DIR, path);
	if (lstat(sub, &sb) == -1) {
		if (errno == ENOENT)
			return (st_seterr(err, ST_ENOTINIT, "%s: not a steroids "
			    "project (no %s): run 'steroids init' there first",
			    path, ST_PROJECT_DIR));
		return (st_seterr(err, ST_EPERM, "%s: %s", sub,
		    strerror(errno)));
	}
	if (!S_ISDIR(sb.st_mode))
		return (st_seterr(err, ST_EPERM, "%s is not a directory", sub));
	if (sb.st_uid != uid)
		return (st_seterr(err, ST_EPERM, "%s is owned by uid %lu, not "
		    "by you", sub, (unsigned long)sb.st_uid));
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return (st_seterr(err, ST_EPERM, "%s is writable by group or "
		    "others; fix with: chmod go-w %s", sub, sub));
	(void)st_pdb_path(path, sub, sizeof(sub));
	if (lstat(sub, &sb) == -1 || (!S_ISREG(sb.st_mode) &&
	    !S_ISLNK(sb.st_mode)))
		return (st_seterr(err, ST_ENOTINIT, "%s: not a steroids project "
		    "(no %s/%s): run 'steroids init' there first",
		    path, ST_PROJECT_DIR, ST_PROJECT_DB));
	if (st_path_check_db(path, err) == -1)
		return (-1);
	if (st_config_file(0, path, sub, sizeof(sub), err) == -1 ||
	    (rc = st_file_open(sub, &fd, err)) == -1)
		return (-1);
	if (rc == 0)
		close(fd);
	return (0);
}

/*
 * The mount point of the filesystem holding an existing path: walk up
 * while the device stays the same.
 */
int
st_path_mount_point(const char *path, char *out, size_t len)
{
	char		 cur[PATH_MAX], up[PATH_MAX];
	struct stat	 sb, psb;
	char		*slash;

	if (strlcpy(cur, path, sizeof(cur)) >= sizeof(cur) ||
	    stat(cur, &sb) == -1)
		return (-1);
	for (;;) {
		strlcpy(up, cur, sizeof(up));
		if ((slash = strrchr(up, '/')) == NULL || strcmp(cur, "/") == 0)
			break;
		if (slash == up)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(up, &psb) == -1 || psb.st_dev != sb.st_dev)
			break;
		strlcpy(cur, up, sizeof(cur));
	}
	if (strlcpy(out, cur, len) >= len)
		return (-1);
	return (0);
}

/* Is something mounted at this mount point now? */
int
st_path_is_mounted(const char *mp)
{
	char		 up[PATH_MAX];
	struct stat	 sb, psb;
	char		*slash;

	if (strcmp(mp, "/") == 0)
		return (1);
	if (stat(mp, &sb) == -1)
		return (0);
	strlcpy(up, mp, sizeof(up));
	if ((slash = strrchr(up, '/')) == NULL)
		return (0);
	if (slash == up)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(up, &psb) == -1)
		return (0);
	return (sb.st_dev != psb.st_dev);
}

/* Length of the valid UTF-8 sequence at s, 0 when the byte starts none. */
size_t
st_utf8_len(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n, i;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return (0);
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return (0);
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) ||
	    (s[0] == 0xed && s[1] >= 0xa0)))
		return (0);
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] >= 0x90)))
		return (0);
	return (n);
}

/*
 * A C1 control (U+0080-U+009F): valid UTF-8, yet some terminals act on
 * it (U+009B is CSI), so it is escaped like the C0 ones.
 */
int
st_utf8_c1(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;

	return (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f);
}

static char *
vis_char(char *d, int c, int next)
{
	/* What vis(3) leaves as it is, without its ~3k instructions a byte. */
	if (c > ' ' && c < 0x7f && c != '\\') {
		*d++ = (char)c;
		*d = '\0';
		return (d);
	}
	return (vis(d, c, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL, next));
}

/*
 * For people and logs: printable UTF-8 stays as it is; every other byte,
 * C1 controls included, goes to vis(3), so a name can never end a line
 * or steer a terminal.
 */
void
st_escape(const char *str, char *out, size_t len)
{
	const char	*s;
	size_t		 n;
	char		*vis, *d;

	if ((vis = st_xmalloc(4 * strlen(str) + 1)) == NULL) {
		if (len > 0)
			*out = '\0';
		return;
	}
	for (s = str, d = vis; *s != '\0'; s += n) {
		n = st_utf8_len(s);
		if (n > 1 && !st_utf8_c1(s)) {
			memcpy(d, s, n);
			d += n;
		} else {
			n = 1;
			d = vis_char(d, (unsigned char)*s, s[1]);
		}
	}
	*d = '\0';
	strlcpy(out, vis, len);
	free(vis);
}

/* For people: the home as "~", then escaped (st_escape). */
void
st_path_display(const char *path, char *out, size_t len)
{
	char		 tmp[PATH_MAX + 2];
	const char	*home = getenv("HOME");
	size_t		 n;

	if (home != NULL && *home == '/' && strcmp(home, "/") != 0 &&
	    under(path, home)) {
		n = strlen(home);
		snprintf(tmp, sizeof(tmp), "~%s", path + n);
	} else
		strlcpy(tmp, path, sizeof(tmp));
	st_escape(tmp, out, len);
}
