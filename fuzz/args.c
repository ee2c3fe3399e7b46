/*
 * args.c -- the CLI's argument parser (cli/args.c) on any bytes: the
 * first byte picks a command of the table, the rest are its arguments,
 * NUL separated.  Only parsing runs, never a command.
 */
#include "config.h"

#include <getopt.h>

#include "cli.h"
#include "fuzz.h"

#define MAXARGS	64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cmd_entry	*e;
	struct cmd_args		 a;
	struct cli		 c;
	char			*argv[MAXARGS + 2], *buf, *p, *end;
	char			*reset[] = { "x", NULL };
	size_t			 ncmd, i;
	int			 argc = 0, rc;

	if (size == 0)
		return (0);
	for (ncmd = 0; cmd_table[ncmd] != NULL; ncmd++)
		;
	e = cmd_table[data[0] % ncmd];
	buf = fuzz_str(data + 1, size - 1);
	argv[argc++] = (char *)(e->sub != NULL ? e->sub : e->name);
	for (p = buf, end = buf + size - 1; p < end && argc <= MAXARGS;
	    p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	/*
	 * glibc keeps a pointer into the last argv between calls unless
	 * optind is 0; the CLI parses once per process, this loop many times.
	 */
	optind = 0;
	(void)getopt(1, reset, "");

	memset(&c, 0, sizeof(c));
	rc = args_parse(&c, e, argc, argv, &a);
	/* print_error escapes the message; it must only be there, exit 2. */
	if (rc == -1 && (c.err.code != ST_EARGS || c.err.msg[0] == '\0'))
		abort();
	if (rc == 0) {
		if (a.argc < e->min_args ||
		    (e->max_args != -1 && a.argc > e->max_args))
			abort();
		for (i = 0; i < CMD_MAXOPTS && e->opts[i].name != NULL; i++)
			(void)args_get(&a, e->opts[i].name);
		for (i = 0; i < (size_t)a.argc; i++)
			(void)args_check_text(&c, "argument", a.argv[i]);
	}
	free(buf);
	return (0);
}

/* The CLI's output helpers print; the target's stdout is of no use. */
__attribute__((constructor)) static void
quiet(void)
{
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
}
