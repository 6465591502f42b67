/*
 * A change-stream cursor of our own: the aggregate command that opens it
 * ({$changeStream: ...} first, the caller's stages after), then getMores on
 * the same server, one batch in memory at a time (docs/DESIGN.md, "Staged
 * events"). It does what the change streams driver specification asks of a
 * client (resume token tracking, postBatchResumeToken, no event without
 * _id, killCursors on close) except resuming: a failed stream reports its
 * error and reply, and the caller decides (capture_reader.h).
 */
#ifndef CSM_CS_CURSOR_H
#define CSM_CS_CURSOR_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cs_cursor cs_cursor_t;

/* What the stream is opened with. */
typedef struct cs_cursor_opts {
	const char *db;             /* the database */
	const char *coll;           /* the collection; NULL: a database stream */
	const char *full_document;  /* $changeStream fullDocument */
	const bson_t *resume_after; /* $changeStream resumeAfter (borrowed) */
	bool show_expanded_events;  /* $changeStream showExpandedEvents: true */
	const bson_t *stages;       /* stages after $changeStream (a BSON array,
				       borrowed), or NULL */
	int32_t batch_size;         /* cursor batchSize / getMore batchSize; 0: server's */
	int64_t max_await_ms;       /* getMore maxTimeMS; 0: server's */
} cs_cursor_opts_t;

/*
 * Selects a server by client's read preference and runs the aggregate
 * there. Never NULL: a failed open is in cs_cursor_error. client is
 * borrowed (every command goes through it: its APM callbacks see them).
 */
cs_cursor_t *cs_cursor_open(mongoc_client_t *client, const cs_cursor_opts_t *opts);

/*
 * The next event into *event (borrowed until the next call); false with
 * *event NULL when there is none now: the batch came back empty (a
 * getMore waited up to max_await_ms), the stream is closed (cursor id 0,
 * after an invalidate), or it failed (cs_cursor_error). One server round
 * trip at most per call.
 */
bool cs_cursor_next(cs_cursor_t *c, const bson_t **event);

/*
 * true + the error (and *reply, the server's reply, borrowed; may be empty)
 * when the open or a getMore failed, or an event had no _id.
 */
bool cs_cursor_error(const cs_cursor_t *c, bson_error_t *error, const bson_t **reply);

/*
 * The resume token (borrowed; NULL before any): the batch's
 * postBatchResumeToken once its every event is read, else the last event's
 * _id, else the resumeAfter it was opened with.
 */
const bson_t *cs_cursor_resume_token(const cs_cursor_t *c);

/* Kills the server cursor (best effort) and frees c (NULL: nothing). */
void cs_cursor_destroy(cs_cursor_t *c);

#endif
