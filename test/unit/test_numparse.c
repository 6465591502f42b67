/* Unit tests of the strict integer parser and cli_parse_int (numparse.h, cli.h). */
#include <stdint.h>

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

static const unit_case_t cases[] = {
	{"accepts", case_accepts},
	{"rejects", case_rejects},
	{"range", case_range},
	{"cli_message", case_cli_message},
	{"cli_log_opts", case_cli_log_opts},
};

UNIT_MAIN(cases)
