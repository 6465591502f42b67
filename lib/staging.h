/*
 * The staging collection writer (SPEC §5): cdc-capture turns change events
 * into staged documents (format: staging_format.h), writes them in ordered
 * batches with w:majority, j:true to <db>.<staging> on the TARGET, and keeps
 * the per-ns checkpoint in <db>.<staging>_meta.
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

typedef struct staging staging_t;

/* What the highest staged document of an ns says (staging_read_last). */
typedef struct staging_last {
	int64_t seq;             /* 0: nothing staged for the ns */
	bson_t token;            /* its resume token; empty when seq is 0 */
	uint32_t ct_t, ct_i;     /* its clusterTime; 0 when absent */
	int64_t wall_ms;         /* its wallTime (Unix ms); 0 when absent */
	int64_t staged_at_ms;    /* its stagedAt (Unix ms); 0 when absent */
	char operation_type[64]; /* "" when absent */
	int32_t chunk_index;     /* -1 when not a chunk part */
	int32_t chunk_of;        /* 0 when not a chunk part */
} staging_last_t;

/* The checkpoint document "checkpoint:<ns>" of the meta collection. */
typedef struct staging_checkpoint {
	bson_t token;        /* empty when unknown */
	uint32_t ct_t, ct_i; /* 0 when unknown */
	int64_t last_seq;
	int64_t heartbeat_ms; /* set by staging_write_checkpoint on write */
	char state[32];       /* "running" | "stopped" | "ddl" | "history-lost" */
	char detail[512];     /* stateDetail; "" for none */
} staging_checkpoint_t;

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
	uint32_t last_ct_t, last_ct_i;
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

/* Initializes/releases a checkpoint. */
void staging_checkpoint_init(staging_checkpoint_t *cp);
void staging_checkpoint_cleanup(staging_checkpoint_t *cp);

/* Reads the ns's checkpoint into cp (initialized by the caller); *found
 * false when there is none. */
bool staging_read_checkpoint(staging_t *st, staging_checkpoint_t *cp, bool *found,
			     bson_error_t *error);

/*
 * Upserts the ns's checkpoint with w:majority, j:true; sets
 * cp->heartbeat_ms to the time written. *transient tells a retryable
 * failure.
 */
bool staging_write_checkpoint(staging_t *st, staging_checkpoint_t *cp, bool *transient,
			      bson_error_t *error);

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
 * On success done == n. On failure *transient tells whether retrying may
 * help; the caller then calls staging_batch_resync before the next try.
 */
bool staging_batch_insert(staging_t *st, staging_batch_t *batch, bool *transient,
			  bson_error_t *error);

/*
 * After a failed insert: reads the highest staged seq again and moves
 * batch->done past every document already staged, checking that each such
 * seq holds this batch's token (a different token means another writer
 * stages the same ns: exit 73). *transient as above for read failures.
 */
bool staging_batch_resync(staging_t *st, staging_batch_t *batch, bool *transient,
			  bson_error_t *error);

/*
 * Sets the writer's carried operationType/clusterTime/wallTime (for split
 * fragments after the first) from the highest staged document at start.
 */
void staging_set_carry(staging_t *st, const staging_last_t *last);

#endif
