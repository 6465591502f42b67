/* Shared command-line pieces (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

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
			cli_bad_value(error, "--log-format", arg, "human or json");
			return -1;
		}
		return 1;
	case CLI_OPT_LOG_LEVEL:
		if (!log_parse_level(arg, &opts->level)) {
			cli_bad_value(error, "--log-level", arg, "debug, info, warn or error");
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
	cli_bad_value(error, optname, arg, "an integer from %" PRId64 " to %" PRId64, min, max);
	return false;
}

void
cli_bad_value(bson_error_t *error, const char *optname, const char *arg, const char *expected_fmt,
	      ...)
{
	char expected[sizeof error->message];
	va_list ap;

	va_start(ap, expected_fmt);
	vsnprintf(expected, sizeof expected, expected_fmt, ap);
	va_end(ap);
	csm_error_set(error, CSM_EXIT_USAGE, "invalid value '%s' for %s: expected %s",
		      arg ? arg : "", optname, expected);
}

int
cli_fail(const bson_error_t *error)
{
	log_error("%s", error->message);
	return csm_exit_code(error);
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

void
cli_common_init(cli_common_t *common, const char *prog, void (*usage)(FILE *out))
{
	memset(common, 0, sizeof *common);
	common->prog = prog;
	common->usage = usage;
	cli_log_opts_init(&common->log);
	log_init(prog, common->log.level, common->log.format);
}

/* --db, --coll, --to-db, --to-coll: 1 when opt was one of them. */
static int
take_ns_opt(cli_common_t *common, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_DB:
		common->db = arg;
		return 1;
	case CLI_OPT_COLL:
		common->coll = arg;
		return 1;
	case CLI_OPT_TO_DB:
		common->to_db = arg;
		return 1;
	case CLI_OPT_TO_COLL:
		common->to_coll = arg;
		return 1;
	default:
		return 0;
	}
}

int
cli_take_common(cli_common_t *common, int opt, const char *arg, int *rc)
{
	bson_error_t error;
	int taken;

	if (opt == 'h') {
		*rc = cli_help(common->usage);
		common->stdout_closed = true;
		return -1;
	}
	if (opt == '?') {
		*rc = cli_misuse(common->prog, common->usage, NULL);
		return -1;
	}
	taken = take_ns_opt(common, opt, arg);
	if (taken == 0)
		taken = conn_opts_take(&common->conn, opt, arg, &error);
	if (taken == 0)
		taken = cli_take_log_opt(&common->log, opt, arg, &error);
	if (taken >= 0)
		return taken;
	if (csm_exit_code(&error) == CSM_EXIT_USAGE) {
		*rc = cli_common_misuse(common, &error);
	} else {
		fprintf(stderr, "%s: %s\n", common->prog, error.message);
		*rc = csm_exit_code(&error);
	}
	return -1;
}

bool
cli_common_end(cli_common_t *common, int n, char **operand, bson_error_t *error)
{
	log_init(common->prog, common->log.level, common->log.format);
	if (n > 0) {
		csm_error_set(error, CSM_EXIT_USAGE, "unexpected argument '%s'", operand[0]);
		return false;
	}
	if (!common->db || !*common->db ||
	    (common->coll_optional ? common->coll && !*common->coll
				   : !common->coll || !*common->coll)) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      common->coll_optional
				      ? "--db is required and --coll must not be empty"
				      : "--db and --coll are required");
		return false;
	}
	if ((common->to_db && !*common->to_db) || (common->to_coll && !*common->to_coll)) {
		csm_error_set(error, CSM_EXIT_USAGE, "--to-db and --to-coll must not be empty");
		return false;
	}
	return true;
}

bool
cli_common_start(cli_common_t *common, bool need_source, bool need_target, bson_error_t *error)
{
	if (!conn_opts_resolve(&common->conn, need_source, need_target, error))
		return false;
	conn_global_init();
	common->driver_started = true;
	return true;
}

int
cli_common_misuse(const cli_common_t *common, const bson_error_t *error)
{
	return cli_misuse(common->prog, common->usage, error);
}

int
cli_common_finish(cli_common_t *common, int rc)
{
	if (common->driver_started) {
		common->driver_started = false;
		conn_global_cleanup();
	}
	conn_opts_cleanup(&common->conn);
	if (!common->stdout_closed) {
		common->stdout_closed = true;
		if (fclose(stdout) != 0 && rc == CSM_EXIT_OK)
			rc = CSM_EXIT_IOERR;
	}
	return rc;
}
