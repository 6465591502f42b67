/*
 * The source side of cdc-capture: which server features the source has,
 * opening and resuming its change stream, the source's cluster time, and
 * where a (re)started capture resumes (docs/DESIGN.md, "Staged events" and
 * "Meta documents").
 */
#ifndef CSM_CAPTURE_H
#define CSM_CAPTURE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "cs_cursor.h"
#include "optime.h"
#include "staging.h"
#include "tokenfile.h"

/* The token file's "writer" when cdc-capture wrote it. */
#define CAPTURE_WRITER "cdc-capture"

typedef struct capture_source capture_source_t;

/* How a stream is opened. */
typedef struct capture_stream_opts {
	bool update_lookup;     /* fullDocument "updateLookup", else "default" */
	const char *post_image; /* fullDocument "required"/"whenAvailable" (static
				   string; NULL: none): wins over update_lookup */
	bool split_events;      /* add {$changeStreamSplitLargeEvent: {}} */
	bool expanded_events;   /* showExpandedEvents: true */
	int32_t batch_size;     /* cursor batchSize */
	int64_t max_await_ms;   /* maxAwaitTimeMS of each getMore */
	const bson_t *match;    /* a first {$match: ...} stage (borrowed), or NULL */
} capture_stream_opts_t;

/*
 * A source for db.coll on client (borrowed; must outlive the source); coll
 * NULL: a database-level stream on db (capture_db.h). Runs
 * buildInfo to learn whether the server has $changeStreamSplitLargeEvent,
 * and installs APM callbacks on client that record the operationTime of
 * every aggregate/getMore reply (capture_source_op_time).
 */
capture_source_t *capture_source_new(mongoc_client_t *client, const char *db, const char *coll,
				     bson_error_t *error);
void capture_source_destroy(capture_source_t *src);

/* True when buildInfo's versionArray says 6.0.9+ (6.0 line) or 7.0+. */
bool capture_source_has_split_stage(const capture_source_t *src);
/* "7.0.0" (borrowed), "" when buildInfo had no version. */
const char *capture_source_version(const capture_source_t *src);

/* The same decision on a buildInfo reply (exposed for unit tests). */
bool capture_version_has_split_stage(const bson_t *build_info);

/*
 * True when the source's change streams take showExpandedEvents (6.0+:
 * the DDL events create, createIndexes, dropIndexes, modify...; from 6.1
 * also updateDescription.disambiguatedPaths). A 5.0 source gets neither.
 */
bool capture_source_has_expanded_events(const capture_source_t *src);
/* The same decision on a buildInfo reply: versionArray 6.0+. */
bool capture_version_has_expanded_events(const bson_t *build_info);

/*
 * Whether the source collection has changeStreamPreAndPostImages enabled
 * (listCollections options), into *enabled. false + error when the source
 * cannot say.
 */
bool capture_source_post_images(capture_source_t *src, bool *enabled, bson_error_t *error);

/*
 * The operationTime of the newest aggregate/getMore reply on the source.
 * false, and *out zero, when none yet.
 */
bool capture_source_op_time(const capture_source_t *src, optime_t *out);

/*
 * The cluster time an empty batch's postBatchResumeToken pbrt stands for,
 * into *out: the reply's operationTime (capture_source_op_time), but never
 * past the time the token itself begins with. A server computes the
 * operationTime after the getMore read the oplog, so a write committed in
 * between is later than what was read yet not later than the reply; the
 * token is exactly what was read. Tokens are otherwise opaque; only their
 * leading clusterTime is read (optime_from_token). false when there is no
 * operationTime yet.
 */
bool capture_source_idle_time(const capture_source_t *src, const bson_t *pbrt, optime_t *out);

/*
 * Opens the change stream resuming after resume_token (resumeAfter; must
 * not be empty). Never NULL: errors are in cs_cursor_error. The caller
 * destroys it.
 */
cs_cursor_t *capture_stream_open(capture_source_t *src, const bson_t *resume_token,
				 const capture_stream_opts_t *opts);

/* Where to resume. */
typedef struct capture_start {
	bson_t token;          /* owned */
	optime_t cluster_time; /* zero when unknown */
	const char *from;      /* "token file" | "staged events" | "checkpoint" */
	/* The token file was another program's, newer than the checkpoint it
	 * lost to (nothing staged): worth a warning. */
	bool newer_token_file_passed_over;
} capture_start_t;

/* What capture_choose_start found. */
typedef enum capture_start_result {
	CAPTURE_START_OK,   /* *start is where to resume */
	CAPTURE_START_NONE, /* no token file, nothing staged, no checkpoint */
	/* Events are staged, and a token file another program (token-probe)
	 * wrote after them says to resume later: the changes in between were
	 * never staged, so neither point is safe; the collection must start over. */
	CAPTURE_START_GAP,
} capture_start_result_t;

void capture_start_init(capture_start_t *start);
void capture_start_cleanup(capture_start_t *start);

/*
 * Picks the newest resume point that leaves no change unstaged, of:
 *  - the highest staged event (last, when last->seq > 0): the staged
 *    documents are the source of truth;
 *  - the checkpoint (cp, may be NULL), only when its lastSeq is not behind
 *    the highest staged seq: then its token (possibly a postBatchResumeToken
 *    taken while idle) is at or after every staged event;
 *  - the token file (tf, may be NULL): used when there is neither of the
 *    above. One written by cdc-capture itself never beats what it staged
 *    (it lags the staged events). One written by another program
 *    (token-probe) after the newest staged document and checkpoint were
 *    written would resume past changes nobody staged: with events staged
 *    that is CAPTURE_START_GAP; with only a checkpoint (nothing was ever
 *    staged) the checkpoint wins, unless it says the source lost its
 *    history (then the token file: a new init after an old run), and
 *    start->newer_token_file_passed_over says so. Write times decide, not
 *    clusterTimes: a probe's clusterTime may be an operationTime later than
 *    its token, and tokens are opaque.
 * Never "start from now": CAPTURE_START_NONE when there is no point.
 */
capture_start_result_t capture_choose_start(const token_file_t *tf, const staging_last_t *last,
					    const checkpoint_t *cp, capture_start_t *start);

/* True for drop, rename, dropDatabase and invalidate: the events capture
 * stages and then stops at (docs/DESIGN.md, "Signals and stopping"). */
bool capture_is_ddl(const char *operation_type);

#endif
