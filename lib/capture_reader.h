/*
 * The stream side of cdc-capture: one change stream on the source, how it
 * is read (whole batches, or one event at a time after an oversized one),
 * and what a failed open or getMore means (docs/DESIGN.md, "Errors and
 * retries"). It knows nothing of staging: the namespaces it feeds
 * (capture_ns.h) keep their own batches and positions, and the caller says
 * where each (re)open resumes.
 */
#ifndef CSM_CAPTURE_READER_H
#define CSM_CAPTURE_READER_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "retry.h"

/*
 * How the stream is read. After a BSONObjectTooLarge (an event over
 * 16 MiB with its looked-up document) the failing event is somewhere in the
 * batch: first one event per batch (events before it keep their looked-up
 * document); the error then is the very next event, which is read once
 * without updateLookup.
 */
typedef enum capture_read_mode {
	CAPTURE_READ_FULL,      /* batches of --batch-size, as configured */
	CAPTURE_READ_NARROW,    /* one event per batch, to find the oversized one */
	CAPTURE_READ_NO_LOOKUP, /* the oversized event: once, without updateLookup */
} capture_read_mode_t;

/* What a stream error means. */
typedef enum capture_verdict {
	CAPTURE_VERDICT_REOPEN,       /* transient: back off, reopen at the position */
	CAPTURE_VERDICT_NARROW,       /* too large in a batch: reopen, one event per batch */
	CAPTURE_VERDICT_NO_LOOKUP,    /* too large the next event: reopen without updateLookup */
	CAPTURE_VERDICT_HISTORY_LOST, /* the resume point is gone: exit 3 */
	CAPTURE_VERDICT_FATAL,        /* exit with the error's code */
} capture_verdict_t;

/*
 * Decides what the stream error (error, and reply when not NULL) of a
 * stream on ns, read in mode, means; update_lookup and has_split are the
 * configuration and the source's $changeStreamSplitLargeEvent. A pure
 * function: it fills *out with what to say (the warning for NARROW and
 * NO_LOOKUP, the cause for REOPEN, the message and exit code for
 * HISTORY_LOST (3) and FATAL).
 *   history lost (CSM_ERRCLASS_HISTORY_LOST): HISTORY_LOST;
 *   SERVER_BSON_OBJECT_TOO_LARGE: NARROW, then NO_LOOKUP, then FATAL (65)
 *     when even the event without its looked-up document is too large;
 *   transient: REOPEN;
 *   SERVER_CHANGE_STREAM_NEEDS_REPLICA_SET: FATAL 69;
 *   SERVER_INVALID_RESUME_TOKEN: FATAL 65; anything else: FATAL.
 */
capture_verdict_t capture_stream_verdict(const bson_error_t *error, const bson_t *reply,
					 capture_read_mode_t mode, bool update_lookup,
					 bool has_split, const char *ns, bson_error_t *out);

typedef struct capture_reader {
	capture_source_t *src;      /* borrowed */
	capture_stream_opts_t opts; /* as configured */
	cs_cursor_t *stream;        /* owned; NULL while closed */
	capture_read_mode_t mode;
	int64_t mode_events; /* events read in NARROW mode */
	retry_t retry;       /* backoff of reopens after transient errors */
	bool idle;           /* the last getMore came back empty */
	int64_t asked_ms;    /* clock_wall_ms() as the last next() began: an empty
			      * batch's getMore went out at or after it */
} capture_reader_t;

/* A closed reader of src (borrowed: must outlive it) with opts. */
void capture_reader_init(capture_reader_t *r, capture_source_t *src,
			 const capture_stream_opts_t *opts);
/* Closes the stream. */
void capture_reader_cleanup(capture_reader_t *r);

/*
 * Opens the stream resuming after resume_token, with the options of the
 * current mode. false + the stream error (and *reply, borrowed until the
 * next call on r) when the open failed; the stream stays open until
 * capture_reader_close either way.
 */
bool capture_reader_open(capture_reader_t *r, const bson_t *resume_token, bson_error_t *error,
			 const bson_t **reply);
void capture_reader_close(capture_reader_t *r);

/*
 * Reads the next event into *event (borrowed until the next call: copy it
 * first); *event NULL: the getMore came back empty. false + the stream
 * error (and *reply, borrowed) when the stream failed.
 */
bool capture_reader_next(capture_reader_t *r, const bson_t **event, bson_error_t *error,
			 const bson_t **reply);

/*
 * Counts an event just read. true when it ends the NARROW or NO_LOOKUP
 * mode: the caller stages what it has and closes the stream, which the
 * next open reads in whole batches again.
 */
bool capture_reader_event_ends_mode(capture_reader_t *r);

/*
 * An empty getMore; past the batch that failed, NARROW ends. true when
 * the stream is idle and caught up: every event before its
 * postBatchResumeToken (*pbrt, borrowed until the next call on r; NULL
 * when it has none) is read. false while the oversized event is still to
 * be read (NO_LOOKUP): no position may pass it.
 */
bool capture_reader_batch_empty(capture_reader_t *r, const bson_t **pbrt);

/* capture_stream_verdict() for r's mode, switching r to NARROW/NO_LOOKUP. */
capture_verdict_t capture_reader_verdict(capture_reader_t *r, const bson_error_t *error,
					 const bson_t *reply, const char *ns, bson_error_t *out);

/* What a capture does once the verdict on a failed stream is in. */
typedef enum {
	CAPTURE_AFTER_READ_ON, /* reopen now: narrowed, or the retry waited out */
	CAPTURE_AFTER_STOP,    /* a stop came during the retry wait */
	CAPTURE_AFTER_FAIL,    /* *error holds said */
} capture_after_t;

/*
 * The one way both captures (a collection's stream, a database's) act on a
 * verdict: closes the stream, then warns of a narrowed reopen, or waits
 * out the reopen's backoff (subject names the stream in the "retrying"
 * line), or hands the verdict's error on.
 */
capture_after_t capture_reader_after(capture_reader_t *r, capture_verdict_t verdict,
				     const bson_error_t *said, const char *subject,
				     bson_error_t *error);

#endif
