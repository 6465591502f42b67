/* Unit tests of the rate limiter and its file, and of durations (throttle.h, numparse.h). */
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "error.h"
#include "numparse.h"
#include "throttle.h"
#include "unit.h"

static void
case_duration(void)
{
	int64_t s = -1;

	CHECK(parse_duration_s("90", 0, 86400, &s) && s == 90);
	CHECK(parse_duration_s("90s", 0, 86400, &s) && s == 90);
	CHECK(parse_duration_s("15m", 0, 86400, &s) && s == 900);
	CHECK(parse_duration_s("2h", 0, 86400, &s) && s == 7200);
	CHECK(parse_duration_s("1d", 0, 86400, &s) && s == 86400);
	CHECK(parse_duration_s("0", 0, 86400, &s) && s == 0);
	s = 42;
	CHECK(!parse_duration_s("2d", 0, 86400, &s)); /* above max */
	CHECK(!parse_duration_s("1w", 0, 86400, &s));
	CHECK(!parse_duration_s("d", 0, 86400, &s));
	CHECK(!parse_duration_s("", 0, 86400, &s));
	CHECK(!parse_duration_s("-1m", 0, 86400, &s));
	CHECK(!parse_duration_s("1.5h", 0, 86400, &s));
	CHECK(!parse_duration_s("1 h", 0, 86400, &s));
	CHECK(!parse_duration_s("106751991167301d", 0, INT64_MAX, &s)); /* overflows */
	CHECK(!parse_duration_s(NULL, 0, 1, &s));
	CHECK_INT(s, 42);
}

/* Writes text to dir/name; its path in a static buffer. */
static const char *
write_file(const char *dir, const char *name, const char *text)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
case_file(void)
{
	const char *dir = unit_scratch_dir("throttle", "file");
	throttle_limits_t l;
	bson_error_t error;
	bool exists = true;
	char missing[600];

	snprintf(missing, sizeof missing, "%s/none", dir);
	CHECK(throttle_file_read(missing, &l, &exists, &error) && !exists);
	CHECK(l.ops_per_sec == -1 && l.docs_per_sec == -1 && l.mb_per_sec == -1);
	CHECK(throttle_file_read(write_file(dir, "a",
					    "# pace\nmax-ops-per-sec 250\n\n"
					    "max-mb-per-sec\t0 # none\n"),
				 &l, &exists, &error) &&
	      exists);
	CHECK(l.ops_per_sec == 250 && l.docs_per_sec == -1 && l.mb_per_sec == 0);
	CHECK(!throttle_file_read(write_file(dir, "b", "max-ops-per-sec 1\nmax-ops 5\n"), &l, NULL,
				  &error));
	CHECK_INT(csm_exit_code(&error), 65);
	CHECK_CONTAINS(error.message, "line 2");
	CHECK(!throttle_file_read(write_file(dir, "c", "max-docs-per-sec -3\n"), &l, NULL, &error));
	CHECK(!throttle_file_read(write_file(dir, "d", "max-docs-per-sec 3 4\n"), &l, NULL,
				  &error));
}

static void
case_pace(void)
{
	const char *dir = unit_scratch_dir("throttle", "pace");
	throttle_t *t = throttle_new(THROTTLE_KEY_OPS, 100, 0, NULL);
	int64_t t0 = clock_mono_ms();

	/* 30 items at 100/s: the third take waits until 300 ms have passed. */
	CHECK(throttle_take(t, 10, 0) && throttle_take(t, 10, 0) && throttle_take(t, 10, 0));
	CHECK(clock_mono_ms() - t0 >= 290);
	CHECK_INT(throttle_items_per_sec(t), 100);
	throttle_destroy(t);
	/* No limit: no wait. */
	t = throttle_new(THROTTLE_KEY_DOCS, 0, 0, NULL);
	t0 = clock_mono_ms();
	CHECK(throttle_take(t, 1000000, 1000000000));
	CHECK(clock_mono_ms() - t0 < 200);
	throttle_destroy(t);
	/* The file overrides the command line; a missing line gives it back. */
	t = throttle_new(THROTTLE_KEY_DOCS, 5, 7, write_file(dir, "f", "max-docs-per-sec 0\n"));
	CHECK(throttle_take(t, 0, 0));
	CHECK_INT(throttle_items_per_sec(t), 0);
	CHECK_INT(throttle_mb_per_sec(t), 7);
	CHECK(throttle_take(NULL, 5, 5));
	throttle_destroy(t);
}

static const unit_case_t cases[] = {
	{"duration", case_duration},
	{"file", case_file},
	{"pace", case_pace},
};

UNIT_MAIN(cases)
