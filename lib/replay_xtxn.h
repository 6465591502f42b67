/*
 * A source transaction that spans collections, applied as one target
 * transaction (docs/DESIGN.md, "Replay rules", "Database mode"). A database
 * capture records which seqs of which collections such a transaction
 * staged (txn_record.h); each collection's cdc-replay, on reaching its part
 * of it, parks there (everything before it applied and marked done) until
 * every other part is reachable: its collection has nothing pending before
 * the part, and the part is staged. Then one replay, the first of the
 * participants by name (another one after a second, should that one not
 * run), applies every part still pending and marks each done, in one
 * target transaction whose marks only take pending documents: a second
 * replay trying the same meets a write conflict or marks nothing, and
 * finds its part done. The others see their part done and go on. Stream
 * order is one total order, so the oldest such transaction can always be
 * applied: no cycle of waits. A wait that lasts is logged, naming the
 * collection waited for.
 *
 * The replay that applies a part of another collection writes that
 * collection (<target db>.<its name>) without holding its lease
 * "apply:<ns>": the lease's holder is parked at that very part and writes
 * nothing until the part is done, which the same target transaction says.
 */
#ifndef CSM_REPLAY_XTXN_H
#define CSM_REPLAY_XTXN_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "lease.h"
#include "replay_batch.h"

typedef struct replay_xtxn replay_xtxn_t;

typedef enum {
	XTXN_ALONE,    /* not across collections: apply it as one ns's transaction */
	XTXN_DONE,     /* applied and marked, by this replay or another */
	XTXN_ORDINARY, /* refused as a whole: apply the part as the other events */
	XTXN_FAIL,     /* stop: error says why */
} xtxn_result_t;

/*
 * For the source ns (db.coll), replayed onto target_db (its other
 * collections are <target_db>.<coll>); max_docs: the most staged documents
 * one target transaction takes (--batch-size). client, staging, meta and
 * lease are borrowed.
 */
replay_xtxn_t *replay_xtxn_new(mongoc_client_t *client, mongoc_collection_t *staging,
			       mongoc_collection_t *meta, lease_t *lease, const char *ns,
			       const char *target_db, int64_t max_docs);
void replay_xtxn_destroy(replay_xtxn_t *x);

/* A wait for the other parts ends with 75 at clock_mono_ms() deadline_ms
 * (--max-wait of a drain); 0: no deadline. */
void replay_xtxn_set_deadline(replay_xtxn_t *x, int64_t deadline_ms);

/*
 * batch->events[a..b): one source transaction, whole, to be grouped. When
 * its record names other collections: marks events[0..a) done (applied
 * already), waits for the other parts, and applies them all as above.
 */
xtxn_result_t replay_xtxn_apply(replay_xtxn_t *x, const replay_batch_t *batch, size_t a, size_t b,
				bson_error_t *error);

#endif
