/*
 * The one strict parser every numeric option goes through: strtoll with
 * errno, end pointer and range checks. Never atoi.
 */
#ifndef CSM_NUMPARSE_H
#define CSM_NUMPARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Parses text as a base-10 integer in [min, max]. Returns false on empty
 * input, trailing garbage, overflow or out-of-range values. */
bool parse_int64(const char *text, int64_t min, int64_t max, int64_t *out);

/*
 * Parses a duration: a base-10 integer of seconds, or one followed by a
 * single suffix s, m, h or d (seconds, minutes, hours, days: "90", "90s",
 * "15m", "1d"), into *seconds, which must lie in [min_s, max_s]. Returns
 * false on anything else, as parse_int64 does.
 */
bool parse_duration_s(const char *text, int64_t min_s, int64_t max_s, int64_t *seconds);

#endif
