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

void
cli_print_exit_codes(FILE *out, const cli_exit_t *codes, size_t n)
{
	fputs("\nexit status:\n", out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "  %-3d %s", codes[i].code, csm_exit_describe(codes[i].code));
		if (codes[i].detail)
			fprintf(out, ": %s", codes[i].detail);
		fputc('\n', out);
	}
}

int
cli_help(void (*usage)(FILE *out))
{
	usage(stdout);
	return fclose(stdout) == 0 ? CSM_EXIT_OK : CSM_EXIT_IOERR;
}

int
cli_misuse(const char *prog, void (*usage)(FILE *out), const bson_error_t *error)
{
	if (error)
		fprintf(stderr, "%s: %s\n", prog, error->message);
	usage(stderr);
	return CSM_EXIT_USAGE;
}
