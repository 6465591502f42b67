/* Unit tests of the wall-clock text (clock.h). */
#include <string.h>

#include "clock.h"
#include "unit.h"

static void
case_format_utc(void)
{
	char buf[CLOCK_UTC_SIZE];

	CHECK_STR(clock_format_utc(1764096353123, true, buf, sizeof buf),
		  "2025-11-25T18:45:53.123Z");
	CHECK_STR(clock_format_utc(1764096353123, false, buf, sizeof buf), "2025-11-25T18:45:53Z");
	CHECK_STR(clock_format_utc(0, true, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
	CHECK_STR(clock_format_utc(1764096353005, true, buf, sizeof buf),
		  "2025-11-25T18:45:53.005Z");
	/* The last millisecond of year 9999 still fits, with its NUL. */
	CHECK(strlen(clock_format_utc(253402300799999, true, buf, sizeof buf)) < CLOCK_UTC_SIZE);
}

static const unit_case_t cases[] = {
	{"format_utc", case_format_utc},
};

UNIT_MAIN(cases)
