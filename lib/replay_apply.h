/*
 * Applying a batch of change events to the target collection: ordered bulk
 * writes (SPEC §6), optionally in parallel lanes partitioned by documentKey,
 * with retries of transient errors and the duplicate-key fallback.
 */
#ifndef CSM_REPLAY_APPLY_H
#define CSM_REPLAY_APPLY_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "replay_batch.h"

typedef struct replay_applier replay_applier_t;

/*
 * An applier writing to db.coll. client (borrowed; must outlive the
 * applier) serves the ordered path; with workers > 1 each lane pops a
 * client from pool (borrowed too). Free with replay_applier_destroy().
 */
replay_applier_t *replay_applier_new(mongoc_client_pool_t *pool, mongoc_client_t *client,
				     const char *db, const char *coll, int workers);
void replay_applier_destroy(replay_applier_t *applier);

/*
 * Applies every event of batch, in order per document. With workers > 1
 * the write models are split by a hash of documentKey into lanes, each one
 * ordered bulk write on its own connection; if any lane fails (a duplicate
 * key caused by reordering across documents, or anything else) the whole
 * batch is applied again as one ordered stream from its start, which is
 * safe because every rule is idempotent. Transient errors
 * (csm_error_is_transient) are retried with capped backoff, forever.
 *
 * Returns true once everything is applied. false + error:
 *  - exit 65: a write the target refuses in ordered mode (a duplicate key
 *    that persists: the message names the event, the key value and the _id
 *    that holds it), or an event that cannot be turned into writes;
 *  - exit 0 (CSM_EXIT_OK): a stop was requested while retrying; nothing
 *    may be marked done.
 */
bool replay_applier_apply(replay_applier_t *applier, const replay_batch_t *batch,
			  bson_error_t *error);

/* How many batches fell back from parallel lanes to one ordered stream. */
int64_t replay_applier_fallbacks(const replay_applier_t *applier);

/*
 * Declares the catch-up window (SPEC §6): events at or before the dump end
 * may meet documents the dump copied in a newer version. In ordered mode a
 * write of such an event that the target refuses for the document's shape
 * (codes 2, 14, 28: a path that is now a scalar, an array that is now
 * something else) is passed over with a warning, because a later event
 * rewrites that path; the same error after the dump end stops replay (65).
 */
void replay_applier_set_window(replay_applier_t *applier, uint32_t dump_end_t,
			       uint32_t dump_end_i);
int64_t replay_applier_window_skips(const replay_applier_t *applier);

/*
 * The _ids of up to three documents of coll matching key_value, as
 * "{"_id": 4}, {"_id": 9}" ("no document (any more)" when none), to name who
 * holds a duplicate key. The caller bson_free()s it.
 */
char *replay_key_holders(mongoc_collection_t *coll, const bson_t *key_value);

/*
 * Sleeps before retry number attempt (0-based) of what failed with cause:
 * 100 ms doubling up to 5 s, logging a warning. Returns false (without
 * sleeping it all) when a stop is requested.
 */
bool replay_backoff(unsigned attempt, const char *what, const bson_error_t *cause);

#endif
