/*
 * Source transactions on the target (docs/DESIGN.md, "Replay rules",
 * "Transactions"): the events of one source transaction — consecutive
 * staged events with the same lsid, txnNumber and clusterTime — are applied
 * in one target transaction that also marks them done, so that a reader of
 * the target sees all of them or none.
 *
 * Where a transaction ends: the staged events say it once an event of
 * another transaction (or none) follows it, or once capture's checkpoint
 * has moved past its clusterTime (a heartbeat); until then the events of a
 * transaction at the end of what is staged wait.
 *
 * Not grouped (applied as every other event, each batch in one bulk
 * write): transactions inside the catch-up window (at or before the dump
 * end: their documents may be newer already), every transaction when the
 * target cannot run transactions (a standalone, a server before 4.0; said
 * once), and a transaction the target refuses to apply as a whole for a
 * reason that is not transient (a duplicate key...: said with a warning,
 * and the ordinary path gives its verdict). A transaction with more events
 * than one batch holds (--batch-size, 16 MiB of staged events) is applied
 * in one target transaction per batch, with a warning naming it.
 *
 * A transaction a database capture staged in several collections (its
 * record, txn_record.h) goes in one target transaction with every
 * collection's part (replay_xtxn.h), once replay_txn_set_cross() is called.
 */
#ifndef CSM_REPLAY_TXN_H
#define CSM_REPLAY_TXN_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "lease.h"
#include "optime.h"
#include "replay_apply.h"
#include "replay_batch.h"

typedef struct replay_txn replay_txn_t;

/* Marks seq first..last of the ns done outside any transaction (the
 * caller's retrying mark); false + error as replay_batch_mark_done. */
typedef bool (*replay_txn_mark_fn)(void *ctx, int64_t first_seq, int64_t last_seq,
				   bson_error_t *error);

/*
 * A grouper for the source ns (copied), whose batches are read with at most
 * max_docs staged documents and max_bytes staged bytes. Everything else is
 * borrowed and must outlive it: client (the target, for the sessions),
 * applier (the ordinary path), target, staging and meta (its checkpoints),
 * lease (held before every target transaction). Free with
 * replay_txn_destroy().
 */
replay_txn_t *replay_txn_new(mongoc_client_t *client, replay_applier_t *applier,
			     mongoc_collection_t *target, mongoc_collection_t *staging,
			     mongoc_collection_t *meta, lease_t *lease, const char *ns,
			     int64_t max_docs, size_t max_bytes);
void replay_txn_destroy(replay_txn_t *rt);

/* Source transactions that span collections of the source database are
 * applied with the other collections' parts, onto <target_db>.<coll>
 * (replay_xtxn.h). */
void replay_txn_set_cross(replay_txn_t *rt, const char *target_db);

/* The catch-up window ends at dump_end: transactions up to it are not grouped. */
void replay_txn_set_window(replay_txn_t *rt, optime_t dump_end);

/* The --max-wait deadline of a wait across collections
 * (replay_xtxn_set_deadline); nothing without replay_txn_set_cross(). */
void replay_txn_set_deadline(replay_txn_t *rt, int64_t deadline_ms);

/*
 * After a batch is read: drops from its end the events of a transaction
 * that may go on past what is staged, or whose rest was staged after the
 * read (they stay pending and come back in a later batch; a stop event
 * after them is dropped too); a transaction that fills a full batch from
 * its start is kept and split (warned). false + error on a
 * server error reading the next staged event or the checkpoint.
 */
bool replay_txn_hold_open(replay_txn_t *rt, replay_batch_t *batch, bson_error_t *error);

/*
 * Applies batch in order and marks it done: each source transaction in one
 * target transaction with its mark, the events between them with
 * replay_applier_apply() and mark(ctx, ...) (mark NULL: the caller marks
 * the whole batch afterwards; marking a transaction's events again is
 * harmless). Transient failures of a
 * target transaction (TransientTransactionError: a write conflict, e.g.
 * with a transaction a killed cdc-replay left open, which the target aborts
 * after its transactionLifetimeLimitSeconds) are retried with retry_wait().
 * false + error as replay_applier_apply() or mark say.
 */
bool replay_txn_apply(replay_txn_t *rt, const replay_batch_t *batch, replay_txn_mark_fn mark,
		      void *ctx, bson_error_t *error);

/* How one try of a target transaction ended (for replay_xtxn.c too). */
typedef enum {
	GROUP_DONE,     /* committed */
	GROUP_RETRY,    /* transient: abort and try again */
	GROUP_ORDINARY, /* refused as a whole: apply the events as the others */
	GROUP_FAIL,     /* stop (error says why) */
} replay_txn_result_t;

/* Sorts a failed try by its reply and error. */
replay_txn_result_t replay_txn_failure(const bson_t *reply, bson_error_t *error);

/* Commits session's transaction, again while its result is unknown. */
bool replay_txn_commit(mongoc_client_session_t *session, bson_t *reply, bson_error_t *error);

/* Writes the data events[0..n) to target in one ordered bulk in session's
 * transaction; reply holds the server's answer. */
bool replay_txn_write(mongoc_client_session_t *session, mongoc_collection_t *target,
		      const replay_event_t *events, size_t n, bson_t *reply, bson_error_t *error);

#endif
