/* The strict integer parser (numparse.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

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
