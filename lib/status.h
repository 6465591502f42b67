/*
 * The status line: one schema for every program that reports progress of
 * a namespace (cdc-capture, cdc-replay), documented in docs/DESIGN.md,
 * "Logs and status lines". Human form "status ns=... state=..." or, with
 * --log-format json, these keys in the log object. Absent numbers (< 0)
 * are written as null, so a reader always finds every key.
 */
#ifndef CSM_STATUS_H
#define CSM_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "optime.h"

typedef struct status_line {
	const char *ns;        /* "db.coll" of the source */
	const char *state;     /* capture: streaming|idle|stopped; replay: applying|idle|finished */
	int64_t events;        /* events this run staged (capture) or applied (replay) */
	double rate;           /* events per second since the previous line */
	int64_t last_seq;      /* highest seq staged / marked done; 0: none */
	int64_t pending;       /* staged but not applied; < 0: unknown or not known here */
	double lag_seconds;    /* how far behind the source; < 0: unknown */
	optime_t cluster_time; /* of the newest event handled; zero: unknown */
} status_line_t;

/*
 * Logs line at info level as the message "status" (or "finished" when
 * final), with the keys ns, state, events, rate, lastSeq, pending,
 * lagSeconds and clusterTime {t, i}; extra (may be NULL, stolen) adds
 * program-specific keys after them.
 */
void status_emit(const status_line_t *line, bool final, json_t *extra);

#endif
