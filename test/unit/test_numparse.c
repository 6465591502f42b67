/* Unit tests of the strict integer parser and the shared options (numparse.h, cli.h). */
#include <stdint.h>
#include <stdlib.h>

#include "cli.h"
#include "error.h"
#include "numparse.h"
#include "unit.h"

static void
case_accepts(void)
{
	int64_t v = -1;

	CHECK(parse_int64("0", 0, 10, &v) && v == 0);
	CHECK(parse_int64("10", 0, 10, &v) && v == 10);
	CHECK(parse_int64("-5", -5, 5, &v) && v == -5);
	CHECK(parse_int64("+7", 0, 10, &v) && v == 7);
	CHECK(parse_int64("007", 0, 10, &v) && v == 7); /* base 10, not octal */
	CHECK(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v) && v == INT64_MAX);
	CHECK(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) && v == INT64_MIN);
}

static void
case_rejects(void)
{
	static const char *const bad[] = {
		"",
		" ",
		" 1",
		"1 ",
		"12x",
		"x12",
		"1.5",
		"0x10",
		"1e3",
		"--1",
		"+",
		"-",
		"9223372036854775808",
		"-9223372036854775809",
		"99999999999999999999999",
	};
	size_t i;
	int64_t v = 42;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse_int64(bad[i], INT64_MIN, INT64_MAX, &v)) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			CHECK(!"bad input accepted");
		}
	}
	CHECK(!parse_int64(NULL, 0, 1, &v));
	CHECK_INT(v, 42); /* untouched on failure */
}

static void
case_range(void)
{
	int64_t v = 42;

	CHECK(!parse_int64("0", 1, 100, &v));
	CHECK(!parse_int64("101", 1, 100, &v));
	CHECK(!parse_int64("-1", 0, 100, &v));
	CHECK(parse_int64("1", 1, 100, &v) && v == 1);
	CHECK(parse_int64("100", 1, 100, &v) && v == 100);
}

static void
case_cli_message(void)
{
	bson_error_t error;
	int64_t v = 0;

	CHECK(cli_parse_int("--batch-size", "500", 1, 100000, &v, &error) && v == 500);
	CHECK(!cli_parse_int("--batch-size", "12x", 1, 100000, &v, &error));
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_STR(error.message,
		  "invalid value '12x' for --batch-size: expected an integer from 1 to 100000");
	CHECK(!cli_parse_int("--jobs", "0", 1, 64, &v, &error));
	CHECK_CONTAINS(error.message, "from 1 to 64");
}

static void
case_cli_log_opts(void)
{
	cli_log_opts_t opts;
	bson_error_t error;

	cli_log_opts_init(&opts);
	CHECK(opts.format == LOG_FORMAT_HUMAN && opts.level == LOG_INFO);
	CHECK_INT(cli_take_log_opt(&opts, CLI_OPT_LOG_FORMAT, "json", &error), 1);
	CHECK(opts.format == LOG_FORMAT_JSON);
	CHECK_INT(cli_take_log_opt(&opts, CLI_OPT_LOG_LEVEL, "debug", &error), 1);
	CHECK(opts.level == LOG_DEBUG);
	CHECK_INT(cli_take_log_opt(&opts, 'x', "whatever", &error), 0);
	CHECK_INT(cli_take_log_opt(&opts, CLI_OPT_LOG_FORMAT, "xml", &error), -1);
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_CONTAINS(error.message, "'xml' for --log-format");
	CHECK_INT(cli_take_log_opt(&opts, CLI_OPT_LOG_LEVEL, "loud", &error), -1);
	CHECK_CONTAINS(error.message, "--log-level");
}

static void
quiet_usage(FILE *out)
{
	(void)out;
}

/* cli_common_end() on a fresh parse of the given option values. */
static bool
common_end(const char *db, const char *coll, const char *to_db, char *operand, bson_error_t *error)
{
	cli_common_t common;
	char *operands[] = {operand, NULL};
	int rc = -1;
	bool ok;

	cli_common_init(&common, "test_numparse", quiet_usage);
	if (db)
		CHECK_INT(cli_take_common(&common, CLI_OPT_DB, db, &rc), 1);
	if (coll)
		CHECK_INT(cli_take_common(&common, CLI_OPT_COLL, coll, &rc), 1);
	if (to_db)
		CHECK_INT(cli_take_common(&common, CLI_OPT_TO_DB, to_db, &rc), 1);
	CHECK_INT(rc, -1); /* nothing asked main to return */
	ok = cli_common_end(&common, operand ? 1 : 0, operands, error);
	if (ok) {
		CHECK_STR(common.db, db);
		CHECK_STR(common.coll, coll);
	}
	conn_opts_cleanup(&common.conn);
	return ok;
}

static void
case_cli_common(void)
{
	cli_common_t common;
	bson_error_t error;
	int rc = -1;

	CHECK(common_end("shop", "orders", NULL, NULL, &error));
	CHECK(common_end("shop", "orders", "archive", NULL, &error));
	CHECK(!common_end("shop", NULL, NULL, NULL, &error));
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_STR(error.message, "--db and --coll are required");
	CHECK(!common_end("", "orders", NULL, NULL, &error));
	CHECK_STR(error.message, "--db and --coll are required");
	CHECK(!common_end("shop", "orders", "", NULL, &error));
	CHECK_STR(error.message, "--to-db and --to-coll must not be empty");
	CHECK(!common_end("shop", "orders", NULL, "stray", &error));
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_STR(error.message, "unexpected argument 'stray'");

	/* The connection and logging options are taken too; others are not. */
	cli_common_init(&common, "test_numparse", quiet_usage);
	CHECK_INT(cli_take_common(&common, CONN_OPT_SOURCE_URI, "mongodb://h", &rc), 1);
	CHECK_STR(common.conn.source_uri, "mongodb://h");
	CHECK_INT(cli_take_common(&common, CLI_OPT_LOG_LEVEL, "warn", &rc), 1);
	CHECK(common.log.level == LOG_WARN);
	CHECK_INT(cli_take_common(&common, CLI_OPT_FIRST, "x", &rc), 0);
	CHECK_INT(rc, -1);
	/* A bad value is a misuse main returns at once: exit 64. */
	CHECK_INT(cli_take_common(&common, CLI_OPT_LOG_LEVEL, "loud", &rc), -1);
	CHECK_INT(rc, 64);
	rc = -1;
	CHECK_INT(cli_take_common(&common, '?', NULL, &rc), -1);
	CHECK_INT(rc, 64);
	/* An unreadable URI file is not a misuse: its own exit code. */
	rc = -1;
	CHECK_INT(cli_take_common(&common, CONN_OPT_TARGET_URI_FILE, "/nonexistent/uri", &rc), -1);
	CHECK_INT(rc, 66);
	conn_opts_cleanup(&common.conn);
}

/* cli_common_start: the URIs first, the driver only once they are there. */
static void
case_cli_common_start(void)
{
	cli_common_t common;
	bson_error_t error;
	int rc = -1;

	unsetenv("SOURCE_URI");
	unsetenv("TARGET_URI");
	cli_common_init(&common, "test_numparse", quiet_usage);
	CHECK_INT(cli_take_common(&common, CONN_OPT_TARGET_URI, "mongodb://h", &rc), 1);
	CHECK(!cli_common_start(&common, true, true, &error));
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_CONTAINS(error.message, "no source URI");
	CHECK(!common.driver_started);
	CHECK(cli_common_start(&common, false, true, &error));
	CHECK(common.driver_started);
	common.stdout_closed = true; /* the test's own stdout stays open */
	CHECK_INT(cli_common_finish(&common, 0), 0);
	CHECK(!common.driver_started);
	CHECK(common.conn.target_uri == NULL);
}

static const unit_case_t cases[] = {
	{"accepts", case_accepts},
	{"rejects", case_rejects},
	{"range", case_range},
	{"cli_message", case_cli_message},
	{"cli_log_opts", case_cli_log_opts},
	{"cli_common", case_cli_common},
	{"cli_common_start", case_cli_common_start},
};

UNIT_MAIN(cases)
