/*
 * One namespace fed by cdc-capture's change stream: its staging writer,
 * the batch in memory, its seqs, its position (token file and checkpoint)
 * and its status line (docs/DESIGN.md, "Staged events", "Meta documents",
 * "Token file"). It never reads the stream itself (capture_reader.h): the
 * caller hands it the events of its ns, so one stream can feed several.
 *
 * Exactly-once: a batch is staged with w:majority, j:true (retried and
 * resynced after a failed insert, see staging.h) before the token file is
 * rewritten; the checkpoint follows at most every second, at every state
 * change, and at once after a failed insert, whose later documents may lack
 * a majority acknowledgement until a majority write follows them.
 */
#ifndef CSM_CAPTURE_NS_H
#define CSM_CAPTURE_NS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "checkpoint.h"
#include "lease.h"
#include "optime.h"
#include "staging.h"
#include "tokenfile.h"

/* When a batch is staged and a status line is due. */
typedef struct capture_ns_limits {
	int64_t batch_events; /* a batch is staged at this many events */
	int64_t batch_ms;     /* ... or this long after its first event */
	int64_t status_ms;    /* between two status lines */
} capture_ns_limits_t;

typedef struct capture_ns {
	char *ns;         /* "db.coll", owned */
	char *token_path; /* <state-dir>/db.coll.token, owned; NULL: none (a
			   * database stream keeps one position file) */
	char *state_dir;  /* owned; "." for the current directory */
	capture_ns_limits_t limits;
	token_file_t tf; /* as read at start */
	bool have_tf;
	staging_t *st; /* owned */
	staging_batch_t batch;
	checkpoint_t cp; /* as read at start, then as last written */
	/* The newest position whose every earlier event of ns is staged. */
	bson_t resume_token;
	optime_t resume_time;
	bson_t last_staged_token;  /* of the highest event staged at open; empty: none */
	int64_t last_staged_at_ms; /* ... and its stagedAt (Unix ms) */
	int64_t last_wall_ms;      /* wallTime of the newest staged event */
	bool cp_dirty;             /* a checkpoint write failed since the last one */
	int64_t last_cp_ms;
	int64_t staged_total; /* events staged by this run */
	int64_t staged_at_status;
	int64_t last_status_ms;
	/*
	 * "capture:<ns>" (borrowed; NULL: none), held before every write: a
	 * lost lease stops the capture (73) before anything more is staged.
	 */
	lease_t *lease;
} capture_ns_t;

/*
 * Names ns db.coll and reads its token file from state_dir (no server
 * needed; NULL or "" is the current directory). A missing file is no error
 * (have_tf false); one for another ns is exit 65; a corrupt one 65 as
 * token_file_read says. capture_ns_cleanup releases cns whatever this
 * returns.
 */
bool capture_ns_init(capture_ns_t *cns, const char *db, const char *coll, const char *state_dir,
		     const capture_ns_limits_t *limits, bson_error_t *error);
void capture_ns_cleanup(capture_ns_t *cns);

/*
 * The same for a namespace a database stream feeds: no token file of its
 * own; tf (copied) is the stream's position file, the resume point when
 * nothing is staged for ns.
 */
void capture_ns_init_in_stream(capture_ns_t *cns, const char *db, const char *coll,
			       const token_file_t *tf, const capture_ns_limits_t *limits);

/*
 * Opens the staging writer into db.staging_coll of target (borrowed; must
 * outlive cns): indexes, repair of a half-staged tail, the highest staged
 * seq and the checkpoint; then picks where to resume (capture_choose_start)
 * into *start. Exit 4 when ns already stopped at a DDL event, 66 when there
 * is no resume point at all, 65 when a token file of another program is
 * newer than the staged events (how to start over is logged first).
 */
bool capture_ns_open(capture_ns_t *cns, mongoc_client_t *target, const char *db,
		     const char *staging_coll, capture_start_t *start, bson_error_t *error);

/* Adds one event of ns (copied) to the batch. */
bool capture_ns_add(capture_ns_t *cns, const bson_t *event, bson_error_t *error);

/* True when the batch has reached its events, bytes or time limit. */
bool capture_ns_batch_due(const capture_ns_t *cns);

/*
 * Stages the batch (retrying transient failures, resyncing after each),
 * then rewrites the token file and, when due, the checkpoint. false +
 * error when capture must stop: csm_error_stopped() when a stop came while
 * retrying (the batch's events are read again on restart), 73 when the
 * lease was lost (nothing more is written).
 */
bool capture_ns_flush(capture_ns_t *cns, bson_error_t *error);

/* The highest seq staged (the batch in memory is not). */
int64_t capture_ns_staged_seq(const capture_ns_t *cns);

/*
 * Writes the checkpoint with state (CHECKPOINT_STATE_*), detail (may be
 * NULL) and the current position. With must, retries transient failures
 * until it is written (false + error on a fatal one or a stop); otherwise
 * one try whose failure is only logged, and true. A lost lease is false +
 * 73 either way, with nothing written.
 */
bool capture_ns_checkpoint(capture_ns_t *cns, const char *state, const char *detail, bool must,
			   bson_error_t *error);

/* True when a "running" checkpoint is due (a second since the last). */
bool capture_ns_checkpoint_due(const capture_ns_t *cns);

/*
 * Idle with everything staged: the stream's postBatchResumeToken (and the
 * source's operationTime) becomes ns's position.
 */
void capture_ns_advance(capture_ns_t *cns, const bson_t *token, optime_t cluster_time);

/* A getMore sent at wall_ms (or after) found nothing past the position:
 * the next checkpoint's caughtUpAt (checkpoint.h). Only moves forward. */
void capture_ns_caught_up(capture_ns_t *cns, int64_t wall_ms);

/* True when a status line is due. */
bool capture_ns_status_due(const capture_ns_t *cns);

/*
 * Logs ns's status line (status.h) in state. source_time, when not NULL,
 * is the source's own time while idle and caught up: the lag is measured
 * against it; otherwise against the newest staged event.
 */
void capture_ns_status(capture_ns_t *cns, const char *state, const optime_t *source_time,
		       bool final);

#endif
