/*
 * cdc-replay's periodic status line (SPEC §8): applied, events/s, pending,
 * lag seconds; human or JSON through log_fields.
 */
#ifndef CSM_REPLAY_STATUS_H
#define CSM_REPLAY_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "replay_batch.h"
#include "replay_meta.h"

typedef struct replay_status {
	int64_t interval_ms;     /* 0: no periodic line */
	int64_t started_ms;
	int64_t last_emit_ms;
	int64_t applied;         /* events applied by this run */
	int64_t applied_at_emit; /* applied at the last line */
	int64_t batches;
	int64_t last_seq;        /* last seq marked done by this run; 0 none */
	int64_t last_event_ms;   /* wallTime (else clusterTime) of the last applied event */
} replay_status_t;

void replay_status_init(replay_status_t *st, int64_t interval_s);

/* Counts an applied and marked batch. */
void replay_status_batch_done(replay_status_t *st, const replay_batch_t *batch);

/* True when a periodic line is due. */
bool replay_status_due(const replay_status_t *st);

/*
 * Writes one status line for ns: pending (-1 when unknown), lag: now minus
 * the last applied event's time while events are pending, from capture's
 * heartbeat (cp, may be NULL) when idle. final marks the summary at exit.
 */
void replay_status_emit(replay_status_t *st, const char *ns, int64_t pending,
			const replay_checkpoint_t *cp, int64_t fallbacks, bool final);

#endif
