/*
 * What cdc-replay does beside applying, once per turn of its loop
 * (docs/DESIGN.md, "Programs"): the --max-ops-per-sec throttle (throttle.h)
 * and, with --purge-applied AGE, deleting the done staged events applied
 * more than AGE ago (staging_purge.h), checked every
 * REPLAY_PURGE_EVERY_MS. Its status keys go into replay's status lines.
 */
#ifndef CSM_REPLAY_UPKEEP_H
#define CSM_REPLAY_UPKEEP_H

#include <jansson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "lease.h"
#include "replay_run.h"

#define REPLAY_PURGE_EVERY_MS 2000
/* At most this many purge batches per turn: applying comes first. */
#define REPLAY_PURGE_BATCHES_PER_TURN 4

typedef struct replay_upkeep replay_upkeep_t;

/*
 * For opts (borrowed, as are staging, ns and lease: they must outlive
 * it). Free with replay_upkeep_destroy (NULL accepted).
 */
replay_upkeep_t *replay_upkeep_new(const replay_opts_t *opts, mongoc_collection_t *staging,
				   const char *ns, lease_t *lease);
void replay_upkeep_destroy(replay_upkeep_t *upkeep);

/*
 * Once per turn, applied being the events this run has applied so far:
 * waits as the throttle says for those applied since the last turn, then
 * purges when due. A failed purge is logged and tried again at the next
 * interval; it never stops replay. Returns at once on a stop request.
 */
void replay_upkeep_turn(replay_upkeep_t *upkeep, int64_t applied);

/*
 * Adds the upkeep's status keys to extra (NULL: a new object), stolen and
 * returned: maxOpsPerSec while a limit is in force, purged (staged
 * documents deleted by this run) once there are any. NULL when extra was
 * NULL and there is nothing to add.
 */
json_t *replay_upkeep_status(replay_upkeep_t *upkeep, json_t *extra);

#endif
