/*
 * setsid.c -- util-linux setsid(1) for the tests, on systems without it:
 * run COMMAND as the leader of a new session (and process group), in the
 * same process, so the shell's $! is that leader.
 *
 *	setsid COMMAND [ARG ...]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	if (argc < 2) {
		fprintf(stderr, "usage: setsid COMMAND [ARG ...]\n");
		return (64);
	}
	if (setsid() == -1) {
		fprintf(stderr, "setsid: %s\n", strerror(errno));
		return (1);
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "setsid: %s: %s\n", argv[1], strerror(errno));
	return (127);
}
