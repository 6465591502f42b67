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

#endif
