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

#include "log.h"

#define CLI_OPT_FIRST 0x100

enum {
	CLI_OPT_LOG_FORMAT = 0x1100,
	CLI_OPT_LOG_LEVEL,
};

/* The short options every program takes: -h. */
#define CLI_SHORTOPTS "h"

#define CLI_LONGOPT_HELP                                                                           \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

#define CLI_LONGOPTS_LOG                                                                           \
	{"log-format", required_argument, NULL, CLI_OPT_LOG_FORMAT},                               \
	{                                                                                          \
		"log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL                            \
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

#endif
