/*
 * Command-line pieces every program shares: the logging options and strict
 * numeric option parsing with a usage-grade message.
 */
#ifndef CSM_CLI_H
#define CSM_CLI_H

#include <bson/bson.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"

enum {
	CLI_OPT_LOG_FORMAT = 0x1100,
	CLI_OPT_LOG_LEVEL,
};

#define CLI_LONGOPTS_LOG                                                      \
	{"log-format", required_argument, NULL, CLI_OPT_LOG_FORMAT},          \
	{                                                                     \
		"log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL      \
	}

#define CLI_USAGE_LOG                                                          \
	"  --log-format human|json  one JSON object per log line with json\n"   \
	"  --log-level LEVEL       debug, info (default), warn or error\n"

typedef struct cli_log_opts {
	log_format_t format; /* LOG_FORMAT_HUMAN by default */
	log_level_t level;   /* LOG_INFO by default */
} cli_log_opts_t;

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

#endif
