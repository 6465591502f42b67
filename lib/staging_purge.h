/*
 * Bounded staging (cdc-replay --purge-applied AGE, docs/DESIGN.md, "Staged
 * events"): deletes the done staged events of one ns that were applied
 * more than AGE ago, so that the staging collection holds about lag x rate
 * events instead of every change ever captured. Never deleted: a pending
 * document; the newest done one and any above it; and with them the
 * highest staged document, the one cdc-capture's exactly-once restart
 * reads (its seq, token and fields carried over to the next fragment) —
 * it is at or above the newest done seq.
 */
#ifndef CSM_STAGING_PURGE_H
#define CSM_STAGING_PURGE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

/* Staged documents one delete may cover: a bounded write and oplog entry. */
#define STAGING_PURGE_BATCH 5000

/*
 * One batch: deletes the done documents of ns with appliedAt before
 * applied_before_ms (Unix ms), among the STAGING_PURGE_BATCH lowest seqs
 * from the oldest done one, and below the newest done seq, with w:
 * majority. *deleted: how many; *more: whether done documents below the
 * newest remain past this batch (call again). false + the driver's error.
 */
bool staging_purge_batch(mongoc_collection_t *staging, const char *ns, int64_t applied_before_ms,
			 int64_t *deleted, bool *more, bson_error_t *error);

#endif
