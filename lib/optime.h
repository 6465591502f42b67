/*
 * A position in the source's history: a BSON Timestamp (seconds, increment),
 * as clusterTime, operationTime and dumpEndTime carry it. One type and one
 * order for every comparison of cluster times.
 */
#ifndef CSM_OPTIME_H
#define CSM_OPTIME_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct optime {
	uint32_t t; /* seconds since the Unix epoch */
	uint32_t i; /* increment within the second */
} optime_t;

#define OPTIME_ZERO ((optime_t){0, 0})

/* <0, 0, >0 as a sorts before, with, after b (seconds first, then increment). */
int optime_cmp(optime_t a, optime_t b);

/* True for the zero Timestamp, which stands for "no time known". */
bool optime_is_zero(optime_t a);

/*
 * Reads doc's top-level field key into *out when it holds a Timestamp;
 * otherwise returns false and leaves *out alone.
 */
bool optime_from_doc(const bson_t *doc, const char *key, optime_t *out);

/* Appends a as Timestamp field key of doc. */
bool optime_append(bson_t *doc, const char *key, optime_t a);

/*
 * The clusterTime a resume token begins with, into *out: `_data` is a hex
 * KeyString whose first value is the event's (or the PBRT's) clusterTime,
 * "82" then the Timestamp's 8 bytes big-endian (MongoDB 4.2+,
 * src/mongo/db/pipeline/resume_token.cpp). false for any other form
 * (or no token). The only part of a token ever decoded.
 */
bool optime_from_token(const bson_t *token, optime_t *out);

#endif
