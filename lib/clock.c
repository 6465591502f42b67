/* The monotonic and the wall clock in milliseconds (clock.h). */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

char *
clock_format_utc(int64_t ms, bool with_ms, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char date[CLOCK_UTC_SIZE];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_ms)
		snprintf(buf, size, "%s.%03dZ", date, (int)(ms % 1000));
	else
		snprintf(buf, size, "%sZ", date);
	return buf;
}
