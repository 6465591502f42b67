/*
 * The two clocks every program reads, in milliseconds: the monotonic one
 * for intervals, timeouts and rates (never goes back), the wall clock for
 * times written to documents and compared with the servers' times.
 */
#ifndef CSM_CLOCK_H
#define CSM_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME), as a BSON Date holds. */
int64_t clock_wall_ms(void);

#endif
