/*
 * The staging collection writer (docs/DESIGN.md, "Staged events"):
 * cdc-capture turns change events into staged documents (format:
 * staging_format.h) and writes them in ordered batches with w:majority,
 * j:true to <db>.<staging> on the TARGET; the per-ns checkpoint beside them,
 * in <db>.<staging>_meta, is checkpoint.h's.
 *
 * Exactly-once: every staged document of one ns has a seq unique under the
 * index {ns: 1, seq: 1}. A batch whose insert failed midway is resumed by
 * reading the highest staged seq again (staging_batch_resync): documents up
 * to it are staged (their token is checked against the batch's), the rest
 * are inserted again. A retry can therefore never stage an event twice, and
 * an event is never skipped because seqs are assigned in stream order.
 */
#ifndef CSM_STAGING_H
#define CSM_STAGING_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "optime.h"

/* Fields of a change event (the server's names) that the writer reads. */
#define EVENT_F_ID "_id"
#define EVENT_F_OPERATION_TYPE "operationType"
#define EVENT_F_CLUSTER_TIME "clusterTime"
#define EVENT_F_WALL_TIME "wallTime"

typedef struct staging staging_t;

/* What the highest staged document of an ns says (staging_read_last). */
typedef struct staging_last {
	int64_t seq;             /* 0: nothing staged for the ns */
	bson_t token;            /* its resume token; empty when seq is 0 */
	optime_t cluster_time;   /* its clusterTime; zero when absent */
	int64_t wall_ms;         /* its wallTime (Unix ms); 0 when absent */
	int64_t staged_at_ms;    /* its stagedAt (Unix ms); 0 when absent */
	char operation_type[64]; /* "" when absent */
	int32_t chunk_index;     /* -1 when not a chunk part */
	int32_t chunk_of;        /* 0 when not a chunk part */
} staging_last_t;

/*
 * Staged documents not yet known to be on the target. docs[0..done) are
 * staged; docs[done..n) are still to insert. Seqs are consecutive from
 * first_seq. Memory: the caller flushes when events or bytes reach its
 * limits.
 */
typedef struct staging_batch {
	bson_t **docs; /* owned */
	size_t n, cap, done;
	size_t events;     /* change events in the batch (chunks count once) */
	size_t bytes;      /* sum of the documents' sizes */
	int64_t first_seq; /* seq of docs[0] */
	int64_t next_seq;  /* seq the next document gets */
	bson_t last_token; /* token of the last event added; empty if none */
	optime_t last_cluster_time;
	int64_t last_wall_ms;
	int64_t first_added_ms; /* monotonic ms when the first event came */
} staging_batch_t;

/*
 * A writer for ns ("db.coll") into db.staging_coll (and db.<staging>_meta)
 * of target. target is borrowed and must outlive the writer; the strings
 * are copied. Returns NULL only on a bad name (exit 64).
 */
staging_t *staging_new(mongoc_client_t *target, const char *db, const char *staging_coll,
		       const char *ns, bson_error_t *error);
void staging_destroy(staging_t *st);

/* "db.staging_coll", borrowed for the writer's life. */
const char *staging_full_name(const staging_t *st);

/* The meta collection db.<staging_coll>_meta (for checkpoint.h), borrowed
 * for the writer's life. */
mongoc_collection_t *staging_meta(const staging_t *st);

/*
 * Creates {ns:1, status:1, seq:1} and unique {ns:1, seq:1} when missing
 * (createIndexes is a no-op for identical existing indexes).
 */
bool staging_ensure_indexes(staging_t *st, bson_error_t *error);

/* Initializes/releases a staging_last_t. */
void staging_last_init(staging_last_t *last);
void staging_last_cleanup(staging_last_t *last);

/*
 * Reads the highest staged seq of the ns into last (initialized by the
 * caller; overwritten). seq 0 when nothing is staged.
 */
bool staging_read_last(staging_t *st, staging_last_t *last, bson_error_t *error);

/*
 * A crash in the middle of an ordered insert can leave the first parts of a
 * chunked event staged without the rest. Deletes such a trailing incomplete
 * chunk set (its seqs are reused when the event is staged again), so that
 * the highest staged document is always a whole event or fragment.
 * *removed receives the number of documents deleted.
 */
bool staging_repair_tail(staging_t *st, int64_t *removed, bson_error_t *error);

/* Initializes an empty batch whose first document gets seq next_seq. */
void staging_batch_init(staging_batch_t *batch, int64_t next_seq);
/* Drops every document; the next one gets batch->next_seq. */
void staging_batch_reset(staging_batch_t *batch);
void staging_batch_destroy(staging_batch_t *batch);

/*
 * Builds the staged document(s) of one change event (copied; event stays
 * the caller's) and appends them with the next seq(s): one document, or
 * chunk parts when the staged form would exceed 16 MiB. A split fragment
 * after the first has no operationType/clusterTime/wallTime of its own: the
 * writer carries them over from the previous fragment. false when the event
 * has no _id (resume token).
 */
bool staging_batch_add_event(staging_t *st, staging_batch_t *batch, const bson_t *event,
			     bson_error_t *error);

/*
 * Inserts docs[done..n) in one ordered insert with w:majority, j:true.
 * On success done == n. On failure the caller sorts error with
 * csm_error_classify(): a write concern error (the documents are written,
 * not yet known to be majority-committed) or a failure the reply labels
 * retryable comes back as exit code 75 (transient); a duplicate key keeps
 * its server code (the resync decides). Before the next try the caller
 * calls staging_batch_resync.
 */
bool staging_batch_insert(staging_t *st, staging_batch_t *batch, bson_error_t *error);

/*
 * After a failed insert: reads the highest staged seq again and moves
 * batch->done past every document already staged, checking that each such
 * seq holds this batch's token (a different token means another writer
 * stages the same ns: exit 73). A read failure is the driver's error (sort
 * it with csm_error_classify()).
 */
bool staging_batch_resync(staging_t *st, staging_batch_t *batch, bson_error_t *error);

/*
 * Sets the writer's carried operationType/clusterTime/wallTime (for split
 * fragments after the first) from the highest staged document at start.
 */
void staging_set_carry(staging_t *st, const staging_last_t *last);

#endif
