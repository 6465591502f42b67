/*
 * The two clocks every program reads, in milliseconds: the monotonic one
 * for intervals, timeouts and rates (never goes back), the wall clock for
 * times written to documents and compared with the servers' times; and
 * the one way a wall-clock time is written as text.
 */
#ifndef CSM_CLOCK_H
#define CSM_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for clock_format_utc's longest text and its NUL. */
#define CLOCK_UTC_SIZE 32

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME), as a BSON Date holds. */
int64_t clock_wall_ms(void);

/*
 * Writes the wall-clock time ms (milliseconds since the Unix epoch) into
 * buf as UTC ISO 8601: "2025-11-25T18:45:53.123Z", or without the
 * milliseconds when with_ms is false, "2025-11-25T18:45:53Z". buf holds
 * size bytes, CLOCK_UTC_SIZE at least for the whole text. Returns buf.
 */
char *clock_format_utc(int64_t ms, bool with_ms, char *buf, size_t size);

#endif
