/* args.c -- one option parser for every command, driven by the table. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_HELP = 256, OPT_JSON, OPT_QUIET, OPT_VERBOSE, OPT_NOCOLOR,
    OPT_BASE = 512 };

static int
opt_index(const struct cmd_entry *e, const char *name)
{
	int	i;

	for (i = 0; i < CMD_MAXOPTS && e->opts[i].name != NULL; i++)
		if (strcmp(e->opts[i].name, name) == 0)
			return (i);
	return (-1);
}

const char *
args_get(const struct cmd_args *a, const char *name)
{
	int	i = opt_index(a->entry, name);

	return (i == -1 ? NULL : a->val[i]);
}

int
args_has(const struct cmd_args *a, const char *name)
{
	return (args_get(a, name) != NULL);
}

static void
print_help(const struct cmd_entry *e)
{
	printf("usage: steroids %s%s%s %s\n\n%s\n", e->name,
	    e->sub != NULL ? " " : "", e->sub != NULL ? e->sub : "", e->usage,
	    e->summary);
	printf("\nGlobal options: -h/--help, -j/--json, -q/--quiet, "
	    "-v/--verbose, --no-color\n");
}

/* Text that goes into a DB or a file: valid UTF-8, no control characters. */
int
args_check_text(struct cli *c, const char *what, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f || st_utf8_c1((const char *)p))
			return (cli_error(c, ST_EARGS, "%s contains a control "
			    "character", what));
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((n = st_utf8_len((const char *)p)) == 0)
			return (cli_error(c, ST_EARGS, "%s is not valid UTF-8",
			    what));
		p += n;
	}
	return (0);
}

/*
 * argv[0] is the command word (or the subcommand); options may come before
 * or after the positionals.  Returns -1 with the error set, or 1 when
 * --help was answered.
 */
int
args_parse(struct cli *c, const struct cmd_entry *e, int argc, char **argv,
    struct cmd_args *a)
{
	struct option	 lo[CMD_MAXOPTS + 6];
	char		 so[3 * CMD_MAXOPTS + 8], *p = so;
	int		 i, n = 0, ch, idx;

	memset(a, 0, sizeof(*a));
	a->entry = e;
	*p++ = ':';
	for (i = 0; i < CMD_MAXOPTS && e->opts[i].name != NULL; i++) {
		lo[n].name = e->opts[i].name;
		lo[n].has_arg = e->opts[i].has_arg ? required_argument :
		    no_argument;
		lo[n].flag = NULL;
		lo[n].val = OPT_BASE + i;
		n++;
		if (e->opts[i].shortc != 0) {
			*p++ = (char)e->opts[i].shortc;
			if (e->opts[i].has_arg)
				*p++ = ':';
		}
	}
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	lo[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	lo[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	lo[n++] = (struct option){ "no-color", no_argument, NULL, OPT_NOCOLOR };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	strcpy(p, "hjqv");

	opterr = 0;
	optind = 1;
#ifdef HAVE_OPTRESET
	optreset = 1;
#endif
	while ((ch = getopt_long(argc, argv, so, lo, &idx)) != -1) {
		switch (ch) {
		case 'h':
			print_help(e);
			return (1);
		case 'j':
			c->json = 1;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case 'v':
			c->verbose++;
			break;
		case OPT_NOCOLOR:
			c->color = 0;
			break;
		case ':':
			return (cli_error(c, ST_EARGS, "option %s needs a value; "
			    "see 'steroids %s%s%s --help'", argv[optind - 1],
			    e->name, e->sub ? " " : "", e->sub ? e->sub : ""));
		case '?':
			return (cli_error(c, ST_EARGS, "unknown option %s; see "
			    "'steroids %s%s%s --help'", argv[optind - 1],
			    e->name, e->sub ? " " : "", e->sub ? e->sub : ""));
		default:
			if (ch >= OPT_BASE)
				i = ch - OPT_BASE;
			else {
				for (i = 0; i < CMD_MAXOPTS &&
				    e->opts[i].name != NULL; i++)
					if (e->opts[i].shortc == ch)
						break;
			}
			a->val[i] = e->opts[i].has_arg ? optarg : "";
			break;
		}
	}
	a->argv = argv + optind;
	a->argc = argc - optind;
	if (a->argc < e->min_args)
		return (cli_error(c, ST_EARGS, "missing argument; usage: "
		    "steroids %s%s%s %s", e->name, e->sub ? " " : "",
		    e->sub ? e->sub : "", e->usage));
	if (e->max_args != -1 && a->argc > e->max_args)
		return (cli_error(c, ST_EARGS, "unexpected argument '%s'; usage: "
		    "steroids %s%s%s %s", a->argv[e->max_args], e->name,
		    e->sub ? " " : "", e->sub ? e->sub : "", e->usage));
	return (0);
}
