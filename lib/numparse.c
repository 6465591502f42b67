/* The strict integer parser (numparse.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

bool
parse_int64(const char *text, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long value;

	/* strtoll skips leading blanks and accepts "": we do not. */
	if (!text || !*text || isspace((unsigned char)*text))
		return false;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return false;
	if (value < min || value > max)
		return false;
	if (out)
		*out = (int64_t)value;
	return true;
}

bool
parse_duration_s(const char *text, int64_t min_s, int64_t max_s, int64_t *seconds)
{
	static const struct {
		char suffix;
		int64_t unit;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char digits[32];
	size_t len = text ? strlen(text) : 0;
	int64_t unit = 1, value;

	if (len == 0 || len >= sizeof digits)
		return false;
	memcpy(digits, text, len + 1);
	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
		if (digits[len - 1] == units[k].suffix) {
			unit = units[k].unit;
			digits[--len] = '\0';
			break;
		}
	}
	/* The product is checked against max_s without overflowing. */
	if (!parse_int64(digits, 0, max_s / unit, &value) || value * unit < min_s)
		return false;
	*seconds = value * unit;
	return true;
}
