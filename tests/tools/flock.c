/*
 * flock.c -- the part of util-linux flock(1) the tests use, for systems
 * without it (the BSDs, macOS); built for every `make check`, so the
 * tests take the same locks everywhere.
 *
 *	flock [-n] [-s | -x] FILE COMMAND [ARG ...]
 *	flock [-n] [-s | -x] FD
 *
 * With FILE: open (create) it, take flock(2) and exec COMMAND with the
 * descriptor open, so the lock lasts as long as COMMAND (the PID that
 * holds it is the one the shell started).  With FD: lock the inherited
 * descriptor, which stays locked in the shell that owns it.  -n: exit 1
 * at once when the lock is held elsewhere.  Exit 64 on bad usage.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(void)
{
	fprintf(stderr, "usage: flock [-n] [-s | -x] FILE COMMAND [ARG ...]\n"
	    "       flock [-n] [-s | -x] FD\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	int	 c, op = LOCK_EX, nb = 0, fd;
	long	 n;
	char	*end;

	while ((c = getopt(argc, argv, "+nsx")) != -1) {
		switch (c) {
		case 'n':
			nb = LOCK_NB;
			break;
		case 's':
			op = LOCK_SH;
			break;
		case 'x':
			op = LOCK_EX;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	n = strtol(argv[0], &end, 10);
	if (argc == 1) {
		if (*argv[0] == '\0' || *end != '\0' || n < 0 || n > 1024)
			usage();
		fd = (int)n;
	} else if ((fd = open(argv[0], O_RDONLY | O_CREAT, 0666)) == -1) {
		fprintf(stderr, "flock: %s: %s\n", argv[0], strerror(errno));
		return (1);
	}
	while (flock(fd, op | nb) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return (1);
		fprintf(stderr, "flock: %s: %s\n", argv[0], strerror(errno));
		return (1);
	}
	if (argc == 1)
		return (0);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "flock: %s: %s\n", argv[1], strerror(errno));
	return (127);
}
