/*
 * cli.h -- the steroids command: the command table, argument parsing,
 * output (tables, JSON envelope, errors).  One cmd-*.c file per command.
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "steroids.h"

#define CMD_MAXOPTS	12

struct cmd_opt {
	const char	*name;		/* long name, without "--" */
	int		 has_arg;	/* 0 flag, 1 takes a value */
	int		 shortc;	/* or 0 */
};

struct cmd_args {
	const char	*val[CMD_MAXOPTS];	/* NULL: not given; flags "" */
	char		**argv;			/* positionals */
	int		  argc;
	const struct cmd_entry *entry;
};

struct json {
	FILE	*f;
	char	*buf;
	size_t	 len;
	int	 depth;
	int	 first[32];
};

struct cli {
	int		 json;
	int		 quiet;
	int		 verbose;
	int		 color;
	const char	*command;
	const char	*subcommand;
	struct json	 js;		/* data of the envelope */
	struct st_error	 err;
};

struct cmd_entry {
	const char		*name;
	const char		*sub;		/* NULL: no subcommand */
	const char		*usage;		/* after "steroids name sub" */
	const char		*summary;
	struct cmd_opt		 opts[CMD_MAXOPTS];
	int			 min_args;
	int			 max_args;	/* -1: any */
	int			(*exec)(struct cli *, struct cmd_args *);
};

/* steroids.c */
extern const struct cmd_entry *const cmd_table[];

/* args.c */
const char	*args_get(const struct cmd_args *, const char *);
int		 args_has(const struct cmd_args *, const char *);
int		 args_parse(struct cli *, const struct cmd_entry *, int, char **,
		    struct cmd_args *);
int		 args_check_text(struct cli *, const char *, const char *);

/* json.c */
void	json_open(struct json *);
void	json_close(struct json *);
void	json_obj_begin(struct json *, const char *);
void	json_obj_end(struct json *);
void	json_arr_begin(struct json *, const char *);
void	json_arr_end(struct json *);
void	json_str(struct json *, const char *, const char *);
void	json_int(struct json *, const char *, long long);
void	json_bool(struct json *, const char *, int);
void	json_null(struct json *, const char *);
void	json_write_string(FILE *, const char *);

/* output.c */
int	 cli_error(struct cli *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 cli_fail(struct cli *);
void	 cli_info(struct cli *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 cli_finish(struct cli *, int);
const char *cli_ago(long, char *, size_t);
const char *cli_path(const char *);
const char *cli_color(struct cli *, const char *, const char *, char *,
	    size_t);

struct table;
struct table	*table_new(int, ...);
void		 table_add(struct table *, ...);
void		 table_print(struct table *, FILE *);
void		 table_free(struct table *);

/* project.c */
int	 cli_project_dir(struct cli *, const char *, char *, size_t);

/* cmd-agent.c: the running agent's agent.status, as read. */
int	 agent_status_load(struct cli *, struct st_agent_status *);

#endif /* CLI_H */
