/*
 * The capture checkpoint: the one codec of the meta document
 * "checkpoint:<ns>" in <db>.<staging>_meta on the TARGET (docs/DESIGN.md,
 * "Meta documents"). cdc-capture writes it; cdc-replay (lag, --drain, the
 * catch-up window), the drivers and operators read it. Field names come
 * from staging_format.h.
 */
#ifndef CSM_CHECKPOINT_H
#define CSM_CHECKPOINT_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "optime.h"

typedef struct checkpoint {
	bson_t token;          /* the position: an event's token or a PBRT; empty when unknown */
	optime_t cluster_time; /* of that position; zero when unknown */
	int64_t last_seq;      /* highest seq staged when it was written */
	int64_t heartbeat_ms;  /* heartbeatAt, Unix ms; set by checkpoint_write */
	/*
	 * caughtUpAt, Unix ms (0: none): a getMore sent at this time or after
	 * it found no event past the position, so once replay has applied
	 * everything staged the target holds every write the stream had by
	 * then (a real server's cluster time moves only every 10 s on a quiet
	 * replica set: the position alone would say that much lag).
	 */
	int64_t caught_up_ms;
	char state[32];   /* CHECKPOINT_STATE_*; "" when absent */
	char detail[512]; /* stateDetail; "" for none */
} checkpoint_t;

#define CHECKPOINT_STATE_RUNNING "running"
#define CHECKPOINT_STATE_STOPPED "stopped"
#define CHECKPOINT_STATE_DDL "ddl"
#define CHECKPOINT_STATE_HISTORY_LOST "history-lost"

/* An empty checkpoint; checkpoint_cleanup() frees it and leaves it empty. */
void checkpoint_init(checkpoint_t *cp);
void checkpoint_cleanup(checkpoint_t *cp);

/*
 * Reads the checkpoint of ns from the meta collection into cp (cleaned
 * first), with read concern majority: only a checkpoint that survives a
 * failover is acted on. *found false, cp empty, when there is none.
 * false + the driver's error, prefixed with the ns, on a read failure.
 */
bool checkpoint_read(mongoc_collection_t *meta, const char *ns, checkpoint_t *cp, bool *found,
		     bson_error_t *error);

/*
 * Upserts cp as the checkpoint of ns with w: majority, j: true, and sets
 * cp->heartbeat_ms to the time written. An empty state is written as
 * "running". false + the driver's error, prefixed with the ns (sort it
 * with csm_error_classify()).
 */
bool checkpoint_write(mongoc_collection_t *meta, const char *ns, checkpoint_t *cp,
		      bson_error_t *error);

#endif
