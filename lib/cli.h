/*
 * Command-line pieces every program shares, so that every program reads
 * the same way: option ids, -h/--help, the logging options, strict numeric
 * parsing, the misuse message and the exit-status text of --help.
 *
 * Option ids: a program numbers its own long options from CLI_OPT_FIRST;
 * the shared ones (connection options in conn.h, logging options here)
 * sit at 0x1000 and above, so the two ranges never meet.
 */
#ifndef CSM_CLI_H
#define CSM_CLI_H

#include <bson/bson.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conn.h"
#include "log.h"

#define CLI_OPT_FIRST 0x100

enum {
	CLI_OPT_LOG_FORMAT = 0x1100,
	CLI_OPT_LOG_LEVEL,
};

/* The collection options every program takes (cli_common_t). */
enum {
	CLI_OPT_DB = 0x1200,
	CLI_OPT_COLL,
	CLI_OPT_TO_DB,
	CLI_OPT_TO_COLL,
};

/* The short options every program takes: -h. */
#define CLI_SHORTOPTS "h"

#define CLI_LONGOPT_HELP                                                                           \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* A long option taking an argument, getopt_long returning id. */
#define CLI_LONGOPT_ARG(name, id)                                                                  \
	{                                                                                          \
		name, required_argument, NULL, id                                                  \
	}

#define CLI_LONGOPTS_LOG                                                                           \
	CLI_LONGOPT_ARG("log-format", CLI_OPT_LOG_FORMAT),                                         \
		CLI_LONGOPT_ARG("log-level", CLI_OPT_LOG_LEVEL)

/* --db DB --coll COLL: the source collection. */
#define CLI_LONGOPTS_NS CLI_LONGOPT_ARG("db", CLI_OPT_DB), CLI_LONGOPT_ARG("coll", CLI_OPT_COLL)

/* --to-db DB2 --to-coll COLL2: the target's names when they differ. */
#define CLI_LONGOPTS_TO_NS                                                                         \
	CLI_LONGOPT_ARG("to-db", CLI_OPT_TO_DB), CLI_LONGOPT_ARG("to-coll", CLI_OPT_TO_COLL)

/* The end of every longopts[]: the logging options, -h/--help, the
 * terminating entry. */
#define CLI_LONGOPTS_END                                                                           \
	CLI_LONGOPTS_LOG, CLI_LONGOPT_HELP,                                                        \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

#define CLI_USAGE_LOG                                                                              \
	"  --log-format human|json  one JSON object per log line with json\n"                      \
	"  --log-level LEVEL       debug, info (default), warn or error\n"

#define CLI_USAGE_HELP "  -h, --help              print this help and exit\n"

typedef struct cli_log_opts {
	log_format_t format; /* LOG_FORMAT_HUMAN by default */
	log_level_t level;   /* LOG_INFO by default */
} cli_log_opts_t;

/* One line of a program's exit-status text: the code and, optionally, what
 * it means for this program in particular (NULL: exitcodes.h's words only). */
typedef struct cli_exit {
	int code;
	const char *detail;
} cli_exit_t;

/* Sets the defaults. */
void cli_log_opts_init(cli_log_opts_t *opts);

/*
 * Handles one getopt_long result: 1 when opt was a logging option and was
 * taken, 0 when it is not one, -1 on a bad value (error: exit code 64).
 */
int cli_take_log_opt(cli_log_opts_t *opts, int opt, const char *arg, bson_error_t *error);

/*
 * Parses arg of option optname ("--batch-size") as an integer in [min, max]
 * through parse_int64. On failure fills error (exit code 64) with
 * "invalid value 'x' for --batch-size: expected an integer from 1 to 100000".
 */
bool cli_parse_int(const char *optname, const char *arg, int64_t min, int64_t max, int64_t *out,
		   bson_error_t *error);

/*
 * Fills error (exit code 64) with the one wording of a bad option value:
 * "invalid value 'ARG' for OPTNAME: expected ..." where the expectation is
 * printf-style ("dummy or now", "an integer from %d to %d").
 */
void cli_bad_value(bson_error_t *error, const char *optname, const char *arg,
		   const char *expected_fmt, ...) BSON_GNUC_PRINTF(4, 5);

/*
 * The failure path of a main: logs error's message at error level and
 * returns the exit code for it (csm_exit_code).
 */
int cli_fail(const bson_error_t *error);

/*
 * Prints "exit status:" and one line for each of the n codes: the number,
 * csm_exit_describe()'s words and the detail when there is one.
 */
void cli_print_exit_codes(FILE *out, const cli_exit_t *codes, size_t n);

/* -h/--help: usage(stdout), then closes stdout. Returns the exit code: 0, or
 * 74 when the text could not be written. */
int cli_help(void (*usage)(FILE *out));

/*
 * Misuse: "prog: reason" and then usage(stderr) on stderr. reason is
 * error's message when error is not NULL, else nothing is printed before
 * the usage (getopt has already said what is wrong). Returns 64.
 */
int cli_misuse(const char *prog, void (*usage)(FILE *out), const bson_error_t *error);

/*
 * What every program's command line has in common: the source collection
 * (--db, --coll), the target's names (--to-db, --to-coll, for programs that
 * list CLI_LONGOPTS_TO_NS), the connection and logging options and
 * -h/--help. A main puts CLI_LONGOPTS_NS (and the others it takes) in its
 * longopts[], ends it with CLI_LONGOPTS_END, offers every getopt_long
 * result to cli_take_common() first and switches only over its own options:
 *
 *	cli_common_init(&common, PROGRAM, usage);
 *	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
 *		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
 *			if (taken < 0)
 *				goto cleanup;
 *			continue;
 *		}
 *		switch (opt) { ...the program's own options... }
 *	}
 *	if (!cli_common_end(&common, argc - optind, argv + optind, &error) ||
 *	    !cli_common_start(&common, need_source, need_target, &error)) {
 *		rc = cli_common_misuse(&common, &error);
 *		goto cleanup;
 *	}
 *	...the one call into lib...
 * cleanup:
 *	return cli_common_finish(&common, rc);
 */
typedef struct cli_common {
	const char *prog;         /* the program's name, for messages; borrowed */
	void (*usage)(FILE *out); /* its usage text */
	const char *db;           /* --db, borrowed from argv; NULL until given */
	const char *coll;         /* --coll */
	const char *to_db;        /* --to-db; NULL when not given */
	const char *to_coll;      /* --to-coll */
	conn_opts_t conn;         /* the URIs, owned (cli_common_finish frees them) */
	cli_log_opts_t log;       /* --log-format, --log-level */
	bool coll_optional;       /* set before cli_common_end: --coll may be left out */
	bool stdout_closed;       /* --help closed stdout already */
	bool driver_started;      /* cli_common_start ran conn_global_init */
} cli_common_t;

/*
 * Sets the defaults and starts the logger under prog's name at the default
 * level, so that what the options' handling logs (an open URI file) is
 * already the program's.
 */
void cli_common_init(cli_common_t *common, const char *prog, void (*usage)(FILE *out));

/*
 * Offers one getopt_long result to the common options. Returns 1 when opt
 * was one of them and was taken, 0 when it is none of them (the program's
 * own switch handles it), -1 when main must return *rc now: -h/--help
 * printed the usage to stdout (0, or 74 when it could not be written);
 * getopt's '?' or a bad --log-format/--log-level value printed the misuse
 * (64, see cli_misuse); an unreadable URI file printed "prog: reason" (66
 * or 74).
 */
int cli_take_common(cli_common_t *common, int opt, const char *arg, int *rc);

/*
 * After the getopt loop, with the n operands left in operand: applies the
 * logging options (log_init), then checks that no operand is left, that
 * --db and --coll (unless coll_optional) were given and are not empty, and that --to-db and
 * --to-coll are not empty when given. False with error (exit code 64)
 * otherwise.
 */
bool cli_common_end(cli_common_t *common, int n, char **operand, bson_error_t *error);

/*
 * The step between the options and the work: resolves the URIs the
 * program needs (conn_opts_resolve; false with error, exit code 64, when
 * one is missing or malformed), then starts the driver (conn_global_init),
 * which cli_common_finish stops.
 */
bool cli_common_start(cli_common_t *common, bool need_source, bool need_target,
		      bson_error_t *error);

/* cli_misuse() under common's program name and usage: returns 64. */
int cli_common_misuse(const cli_common_t *common, const bson_error_t *error);

/*
 * The end of main, after every client is destroyed: stops the driver when
 * cli_common_start started it, frees the URIs and closes stdout with a
 * check (unless --help closed it already); a failed close turns exit code
 * 0 into 74. Returns the exit code main returns.
 */
int cli_common_finish(cli_common_t *common, int rc);

#endif
