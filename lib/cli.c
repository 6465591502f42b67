/* Shared command-line pieces (cli.h). */
#include "cli.h"
#include "error.h"
#include "numparse.h"

void
cli_log_opts_init(cli_log_opts_t *opts)
{
	opts->format = LOG_FORMAT_HUMAN;
	opts->level = LOG_INFO;
}

int
cli_take_log_opt(cli_log_opts_t *opts, int opt, const char *arg, bson_error_t *error)
{
	switch (opt) {
	case CLI_OPT_LOG_FORMAT:
		if (!log_parse_format(arg, &opts->format)) {
			csm_error_set(error, CSM_EXIT_USAGE,
				      "invalid value '%s' for --log-format: expected human or json",
				      arg ? arg : "");
			return -1;
		}
		return 1;
	case CLI_OPT_LOG_LEVEL:
		if (!log_parse_level(arg, &opts->level)) {
			csm_error_set(error, CSM_EXIT_USAGE,
				      "invalid value '%s' for --log-level: expected debug, info, "
				      "warn or error",
				      arg ? arg : "");
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

bool
cli_parse_int(const char *optname, const char *arg, int64_t min, int64_t max, int64_t *out,
	      bson_error_t *error)
{
	if (parse_int64(arg, min, max, out))
		return true;
	csm_error_set(error, CSM_EXIT_USAGE,
		      "invalid value '%s' for %s: expected an integer from %" PRId64 " to %" PRId64,
		      arg ? arg : "", optname, min, max);
	return false;
}
