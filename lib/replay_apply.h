/*
 * Applying a batch of change events to the target collection: ordered bulk
 * writes (docs/DESIGN.md, "Replay rules"), optionally in parallel lanes
 * partitioned by documentKey, with retries of transient errors and the
 * duplicate-key fallback.
 */
#ifndef CSM_REPLAY_APPLY_H
#define CSM_REPLAY_APPLY_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "lease.h"
#include "optime.h"
#include "replay_batch.h"
#include "replay_meta.h"

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
 * (csm_error_is_transient) are retried with retry_wait(), forever.
 *
 * Returns true once everything is applied. false + error:
 *  - exit 65: a write the target refuses in ordered mode (a duplicate key
 *    that persists: the message names the event, the key value and the _id
 *    that holds it), or an event that cannot be turned into writes;
 *  - exit 73: the lease (replay_applier_set_lease) was lost; nothing more
 *    was sent;
 *  - csm_error_is_stopped(): a stop was requested while retrying; nothing
 *    may be marked done.
 */
bool replay_applier_apply(replay_applier_t *applier, const replay_batch_t *batch,
			  bson_error_t *error);

/*
 * Makes every write of the applier wait for lease_hold(lease) (borrowed;
 * must outlive the applier): a lost lease stops replay_applier_apply with
 * exit 73 before anything more is sent, a lease that cannot be renewed
 * just now is waited for like a transient error.
 */
void replay_applier_set_lease(replay_applier_t *applier, lease_t *lease);

/* How many batches fell back from parallel lanes to one ordered stream. */
int64_t replay_applier_fallbacks(const replay_applier_t *applier);

/*
 * Declares the catch-up window (docs/DESIGN.md, "The catch-up window"):
 * events at or before dump_end may meet documents the dump copied in a
 * newer version. In ordered mode a write of such an event that the target
 * refuses for the document's shape (see replay_window_skippable) is passed
 * over with a warning, because a later event rewrites that path; the same
 * error after the dump end stops replay (65).
 */
void replay_applier_set_window(replay_applier_t *applier, optime_t dump_end);

/*
 * Gives the applier the restore marker of target_ns (view and meta
 * borrowed; must outlive the applier): a unique or TTL index of a
 * createIndexes event that must still wait (docs/DESIGN.md, "Replay
 * rules") is added to its deferred indexes. Without one (view->found
 * false, or never called) such an index is built at once.
 */
void replay_applier_set_marker(replay_applier_t *applier, mongoc_collection_t *meta,
			       const char *target_ns, replay_marker_t *view);
int64_t replay_applier_window_skips(const replay_applier_t *applier);

/*
 * Whether a write of an event at event_time that the target refused with
 * server code code may be passed over: only inside the window (a nonzero
 * event_time at or before dump_end; window_open false: no window), and only
 * for errors about the document's shape (SERVER_BAD_VALUE, e.g. $push on a
 * non-array; SERVER_TYPE_MISMATCH; SERVER_PATH_NOT_VIABLE, e.g. $set "a.b"
 * where a is a number; SERVER_IMMUTABLE_FIELD, a replacement whose _id the
 * server finds altered in the document that its documentKey matched, as a
 * string _id under a collation: the dump copied a later document with that
 * key). The source accepted the write on the document as it was then, so
 * such an error means the dump copied a newer version of the document, and
 * a later event of the window, also replayed, writes the path again.
 */
bool replay_window_skippable(bool window_open, optime_t dump_end, optime_t event_time,
			     int32_t code);

/*
 * The _ids of up to three documents of coll matching key_value, as
 * "{"_id": 4}, {"_id": 9}" ("no document (any more)" when none), to name who
 * holds a duplicate key. The caller bson_free()s it.
 */
char *replay_key_holders(mongoc_collection_t *coll, const bson_t *key_value);

#endif
