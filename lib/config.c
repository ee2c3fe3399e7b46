/*
 * config.c -- "key = value" files: $STEROIDS_HOME/config, then
 * <project>/.steroids/config on top.  Unknown keys and bad values are
 * errors naming file, line and key: a typo must not silently mean default.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st-int.h"

enum ktype { K_STR, K_INT };

static const struct key {
	const char	*name;
	enum ktype	 type;
	const char	*def;
	long		 min;
	long		 max;
} keys[] = {
	{ "runner.command",		K_STR, NULL,	0, 0 },
	{ "runner.queue_command",	K_STR, NULL,	0, 0 },
	{ "runner.task_timeout",	K_INT, "3600",	0, 31536000 },
	{ "runner.max_failures",	K_INT, "3",	1, 1000000 },
	{ "runner.heartbeat_interval",	K_INT, "30",	1, 86400 },
	{ "runner.stale_timeout",	K_INT, "300",	1, 31536000 },
	{ "agent.sweep_interval",	K_INT, "60",	1, 86400 },
	{ "agent.backoff_initial",	K_INT, "1",	1, 86400 },
	{ "agent.backoff_max",		K_INT, "300",	1, 604800 },
	{ "agent.poll_interval",	K_INT, "2",	1, 3600 },
	{ "agent.max_runners",		K_INT, "0",	0, 1000000 },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

struct st_config {
	char	*val[NKEYS];
};

static const struct key *
find_key(const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return (&keys[i]);
		}
	return (NULL);
}

int
st_config_known(const char *name)
{
	return (find_key(name, NULL) != NULL);
}

const char *
st_config_default(const char *name)
{
	const struct key	*k = find_key(name, NULL);

	return (k != NULL ? k->def : NULL);
}

static int
check_value(const struct key *k, const char *v, char *why, size_t len)
{
	const char	*s, *errstr;

	for (s = v; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s)) {
			snprintf(why, len, "control character in value");
			return (-1);
		}
	if (k->type == K_STR) {
		if (*v == '\0') {
			snprintf(why, len, "empty value");
			return (-1);
		}
		return (0);
	}
	(void)strtonum(v, k->min, k->max, &errstr);
	if (errstr != NULL) {
		snprintf(why, len, "bad value '%s' (an integer from %ld to %ld)",
		    v, k->min, k->max);
		return (-1);
	}
	return (0);
}

int
st_config_validate(const char *key, const char *value, struct st_error *err)
{
	const struct key	*k;
	char			 why[256];

	if ((k = find_key(key, NULL)) == NULL)
		return (st_seterr(err, ST_ECONFIG, "unknown config key '%s'",
		    key));
	if (check_value(k, value, why, sizeof(why)) == -1)
		return (st_seterr(err, ST_ECONFIG, "%s: %s", key, why));
	return (0);
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/*
 * Split one line; *key NULL for blank and comment lines.  -1 with a reason
 * when it is neither a comment nor "key = value".
 */
static int
split_line(char *line, char **key, char **value)
{
	char	*eq, *s = trim(line);

	*key = *value = NULL;
	if (*s == '\0' || *s == '#')
		return (0);
	if ((eq = strchr(s, '=')) == NULL)
		return (-1);
	*eq = '\0';
	*key = trim(s);
	*value = trim(eq + 1);
	return (**key == '\0' ? -1 : 0);
}

/*
 * Open a config to read (*f NULL when there is none).  Its
 * content decides what runs, so it must pass st_file_open's rule.
 */
static int
open_config(const char *file, FILE **f, struct st_error *err)
{
	int	fd, rc;

	*f = NULL;
	if ((rc = st_file_open(file, &fd, err)) != 0)
		return (rc == 1 ? 0 : -1);
	if ((*f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return (st_seterr(err, ST_EGENERAL, "fdopen: %s",
		    strerror(errno)));
	}
	return (0);
}

/* Read one file into cfg; a missing file is fine. */
static int
load_file(st_config *cfg, const char *file, struct st_error *err)
{
	const struct key	*k;
	FILE			*f;
	char			*line = NULL, *key, *value, why[256];
	size_t			 cap = 0, idx;
	ssize_t			 n;
	unsigned		 lineno = 0;
	int			 rc = -1;

	if (open_config(file, &f, err) == -1)
		return (-1);
	if (f == NULL)
		return (0);
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			st_seterr(err, ST_ECONFIG, "%s:%u: NUL byte in line",
			    file, lineno);
			goto out;
		}
		if (split_line(line, &key, &value) == -1) {
			line[strcspn(line, " \t=")] = '\0';
			st_seterr(err, ST_ECONFIG, "%s:%u: %s%sexpected "
			    "'key = value'", file, lineno, trim(line),
			    *trim(line) != '\0' ? ": " : "");
			goto out;
		}
		if (key == NULL)
			continue;
		if ((k = find_key(key, &idx)) == NULL) {
			st_seterr(err, ST_ECONFIG, "%s:%u: unknown key '%s'",
			    file, lineno, key);
			goto out;
		}
		if (check_value(k, value, why, sizeof(why)) == -1) {
			st_seterr(err, ST_ECONFIG, "%s:%u: %s: %s", file,
			    lineno, key, why);
			goto out;
		}
		free(cfg->val[idx]);
		cfg->val[idx] = st_xstrdup(value);
	}
	if (ferror(f)) {
		st_seterr(err, ST_ECONFIG, "%s: cannot read: %s", file,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return (rc);
}

/* The file behind "global" (1) or a project's (0). */
int
st_config_file(int global, const char *project, char *buf, size_t len,
    struct st_error *err)
{
	char	home[PATH_MAX];
	int	n;

	if (global) {
		if (st_home_dir(home, sizeof(home), err) == -1)
			return (-1);
		n = snprintf(buf, len, "%s/config", home);
	} else
		n = snprintf(buf, len, "%s/" ST_PROJECT_DIR "/config", project);
	if (n < 0 || (size_t)n >= len)
		return (st_seterr(err, ST_EARGS, "path too long"));
	return (0);
}

/* Global config, then the project's on top (project may be NULL). */
int
st_config_load(const char *project, st_config **cp, struct st_error *err)
{
	st_config	*cfg;
	char		 file[PATH_MAX];

	*cp = NULL;
	cfg = st_xcalloc(1, sizeof(*cfg));
	if (st_config_file(1, NULL, file, sizeof(file), err) == -1 ||
	    load_file(cfg, file, err) == -1)
		goto fail;
	if (project != NULL &&
	    (st_config_file(0, project, file, sizeof(file), err) == -1 ||
	    load_file(cfg, file, err) == -1))
		goto fail;
	*cp = cfg;
	return (0);
fail:
	st_config_free(cfg);
	return (-1);
}

/*
 * A project's config on top of a global one loaded once by the caller:
 * a sweep of many projects reads the global file once, not per project.
 */
int
st_config_load_over(const st_config *global, const char *project,
    st_config **cp, struct st_error *err)
{
	st_config	*cfg;
	char		 file[PATH_MAX];
	size_t		 i;

	*cp = NULL;
	cfg = st_xcalloc(1, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if (global->val[i] != NULL)
			cfg->val[i] = st_xstrdup(global->val[i]);
	if (st_config_file(0, project, file, sizeof(file), err) == -1 ||
	    load_file(cfg, file, err) == -1) {
		st_config_free(cfg);
		return (-1);
	}
	*cp = cfg;
	return (0);
}

void
st_config_free(st_config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free(cfg->val[i]);
	free(cfg);
}

const char *
st_config_str(const st_config *cfg, const char *name)
{
	size_t	idx;

	if (find_key(name, &idx) == NULL)
		return (NULL);
	if (cfg != NULL && cfg->val[idx] != NULL)
		return (cfg->val[idx]);
	return (keys[idx].def);
}

/* Keys are checked on load, so this cannot fail for a known integer key. */
long
st_config_int(const st_config *cfg, const char *name)
{
	const char	*v = st_config_str(cfg, name);

	return (v != NULL ? strtol(v, NULL, 10) : 0);
}

/*
 * The value a key has for a project (NULL: global only) and where it came
 * from: *source 0 default, 1 global file, 2 project file.
 */
int
st_config_lookup(const char *project, const char *key, char *buf, size_t len,
    int *source, struct st_error *err)
{
	st_config	*g = NULL, *p = NULL;
	char		 file[PATH_MAX];
	size_t		 idx;
	int		 rc = -1;

	if (find_key(key, &idx) == NULL)
		return (st_seterr(err, ST_ECONFIG, "unknown config key '%s'",
		    key));
	g = st_xcalloc(1, sizeof(*g));
	if (st_config_file(1, NULL, file, sizeof(file), err) == -1 ||
	    load_file(g, file, err) == -1)
		goto out;
	if (project != NULL) {
		p = st_xcalloc(1, sizeof(*p));
		if (st_config_file(0, project, file, sizeof(file), err) == -1 ||
		    load_file(p, file, err) == -1)
			goto out;
	}
	*source = 0;
	buf[0] = '\0';
	if (p != NULL && p->val[idx] != NULL) {
		*source = 2;
		strlcpy(buf, p->val[idx], len);
	} else if (g->val[idx] != NULL) {
		*source = 1;
		strlcpy(buf, g->val[idx], len);
	} else if (keys[idx].def != NULL)
		strlcpy(buf, keys[idx].def, len);
	else
		*source = -1;		/* unset, no default */
	rc = 0;
out:
	st_config_free(g);
	st_config_free(p);
	return (rc);
}

/*
 * Set one key in one file: the line that has it is replaced, or one is
 * appended; comments and other lines stay.  Written to a temporary file
 * and renamed, so a crash leaves the old file or the new one.
 */
int
st_config_set(const char *file, const char *key, const char *value,
    struct st_error *err)
{
	FILE		*in, *out;
	char		 tmp[PATH_MAX], *line = NULL, *copy, *k, *v;
	size_t		 cap = 0;
	ssize_t		 n;
	unsigned	 lineno = 0;
	int		 fd, done = 0, rc = -1;

	if (st_config_validate(key, value, err) == -1)
		return (-1);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >=
	    sizeof(tmp))
		return (st_seterr(err, ST_EARGS, "path too long: %s", file));
	if ((fd = mkstemp(tmp)) == -1)
		return (st_seterr(err, ST_EPERM, "cannot write %s: %s", file,
		    strerror(errno)));
	if ((out = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return (st_seterr(err, ST_EGENERAL, "fdopen: %s",
		    strerror(errno)));
	}
	/* Never copy what another user could have written into our file. */
	if (open_config(file, &in, err) == -1)
		goto out;
	while (in != NULL && (n = getline(&line, &cap, in)) != -1) {
		lineno++;
		/* Copied as a string, the line would lose what follows. */
		if (memchr(line, '\0', (size_t)n) != NULL) {
			st_seterr(err, ST_ECONFIG, "%s:%u: NUL byte in line; "
			    "fix the file first", file, lineno);
			goto out;
		}
		copy = st_xstrdup(line);
		if (split_line(copy, &k, &v) == 0 && k != NULL &&
		    strcmp(k, key) == 0) {
			if (!done)
				fprintf(out, "%s = %s\n", key, value);
			done = 1;
		} else {
			fputs(line, out);
			if (line[strlen(line) - 1] != '\n')
				fputc('\n', out);
		}
		free(copy);
	}
	/* A read that fails midway must not cut the file short. */
	if (in != NULL && ferror(in)) {
		st_seterr(err, ST_ECONFIG, "%s: cannot read: %s", file,
		    strerror(errno));
		goto out;
	}
	if (!done)
		fprintf(out, "%s = %s\n", key, value);
	if (fflush(out) == EOF || fsync(fileno(out)) == -1) {
		st_seterr(err, ST_EGENERAL, "cannot write %s: %s", file,
		    strerror(errno));
		goto out;
	}
	if (rename(tmp, file) == -1) {
		st_seterr(err, ST_EPERM, "cannot replace %s: %s", file,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	if (in != NULL)
		fclose(in);
	fclose(out);
	if (rc == -1)
		unlink(tmp);
	return (rc);
}
