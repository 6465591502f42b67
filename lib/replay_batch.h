/*
 * cdc-replay's batch reader and marker: the pending staged events of one ns
 * in seq order (lib/staging_format.h), reassembled into whole change
 * events, and the one write that marks an applied batch done.
 */
#ifndef CSM_REPLAY_BATCH_H
#define CSM_REPLAY_BATCH_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "optime.h"

/* One change event of a batch, reassembled from its staged part(s). */
typedef struct replay_event {
	int64_t first_seq;       /* seq of its first staged part */
	int64_t last_seq;        /* seq of its last part (== first_seq unless split) */
	bson_t *event;           /* the whole change event (heap, owned) */
	char operation_type[32]; /* as staged */
	apply_kind_t kind;
	optime_t cluster_time; /* zero when the staged document has none */
	int64_t wall_ms;       /* wallTime in Unix ms; 0 when absent */
} replay_event_t;

typedef struct replay_batch {
	replay_event_t *events; /* events[0..len): to apply, in order */
	size_t len;
	size_t cap;
	size_t bytes; /* staged bytes read into this batch */
	/* The first pending staged document (the head), read or not into
	 * events: has_head false when nothing is pending. */
	bool has_head;
	optime_t head_time; /* its clusterTime; zero when it has none */
	/* The batch ends before an event replay must stop at (drop, rename,
	 * dropDatabase, invalidate, or an unknown operationType): it is not
	 * in events, and stays pending. */
	bool has_stop;
	replay_event_t stop_event;
	/* The batch ends before an event whose parts are not all staged yet. */
	bool waiting_for_parts;
} replay_batch_t;

void replay_batch_init(replay_batch_t *batch);
/* Frees the events; the batch may be read into again. */
void replay_batch_clear(replay_batch_t *batch);
void replay_batch_destroy(replay_batch_t *batch);

/*
 * Reads the pending staged documents of ns from staging in seq order
 * (find {ns, status: "pending"} sort {seq: 1}, the {ns, status, seq}
 * index), past after_seq when it is > 0 (the pipeline reads the next batch
 * while the marks of the ones before it are on the way), at most max_docs staged documents and,
 * past max_bytes, no more events, into batch (cleared first). An event split in parts is read
 * whole, beyond max_docs if needed: a batch never ends inside an event.
 * false + error on a server error (the caller retries transient ones; see
 * csm_error_keep_transient) or a malformed staged document (exit 65,
 * naming its seq).
 */
bool replay_batch_read(mongoc_collection_t *staging, const char *ns, int64_t after_seq,
		       int64_t max_docs, size_t max_bytes, replay_batch_t *batch,
		       bson_error_t *error);

/*
 * Marks the staged documents of ns with seq in [first_seq, last_seq] done
 * (status "done", appliedAt now) in one update_many, w: majority. false +
 * error on failure; a failure the server labels retryable is raised as
 * exit 75 (see csm_error_keep_transient).
 */
bool replay_batch_mark_done(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
			    int64_t last_seq, bson_error_t *error);

/* As replay_batch_mark_done, inside session's transaction (borrowed; the
 * commit carries the write concern), so that the mark and the writes it
 * vouches for are committed together. */
bool replay_batch_mark_done_in(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
			       int64_t last_seq, mongoc_client_session_t *session,
			       bson_error_t *error);

/* As replay_batch_mark_done_in, of the pending ones only: *marked says how
 * many it marked (fewer than the range holds: another writer marked them). */
bool replay_batch_claim_in(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
			   int64_t last_seq, mongoc_client_session_t *session, int64_t *marked,
			   bson_error_t *error);

/* "seq 12 (update of {"_id": 3})": a caller-freed (bson_free) description of
 * an event for messages. */
char *replay_event_describe(const replay_event_t *ev);

#endif
