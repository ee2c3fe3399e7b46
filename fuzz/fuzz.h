/*
 * fuzz.h -- what every libFuzzer target here shares: one private
 * scratch folder per process (STEROIDS_HOME and HOME point into it, so
 * nothing reaches the real home) and writing an input to a file there.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char fuzz_dir[PATH_MAX];

/* The scratch folder, made on first use and removed at exit. */
static void __attribute__((unused))
fuzz_cleanup(void)
{
	char	cmd[PATH_MAX + 16];

	if (fuzz_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
	(void)system(cmd);
}

static const char * __attribute__((unused))
fuzz_scratch(void)
{
	const char	*tmp;
	char		 home[PATH_MAX];

	if (fuzz_dir[0] != '\0')
		return (fuzz_dir);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/steroids-fuzz.XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(home, sizeof(home), "%s/home", fuzz_dir);
	(void)mkdir(home, 0700);
	setenv("HOME", home, 1);
	snprintf(home, sizeof(home), "%s/home/.steroids", fuzz_dir);
	(void)mkdir(home, 0700);
	setenv("STEROIDS_HOME", home, 1);
	atexit(fuzz_cleanup);
	return (fuzz_dir);
}

/* The input as a file, replaced whole (written, then renamed). */
static void __attribute__((unused))
fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	char	tmp[PATH_MAX + 8];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		perror(tmp);
		abort();
	}
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		perror(tmp);
		abort();
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		perror(path);
		abort();
	}
}

/* A NUL-terminated copy of the input (malloc'd). */
static char * __attribute__((unused))
fuzz_str(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

#endif /* FUZZ_H */
