/*
 * Unit test of lib/capture_reader without a server: what each change
 * stream error means for cdc-capture (capture_stream_verdict), and how the
 * read modes after an oversized event end.
 */
#include <mongoc/mongoc.h>
#include <string.h>

#include "capture_reader.h"
#include "error.h"
#include "server_codes.h"
#include "unit.h"

#define NS "db.c"

/* A server error as libmongoc (error API 2) reports it. */
static bson_error_t
server_error(int32_t code, const char *message)
{
	bson_error_t error;

	memset(&error, 0, sizeof error);
	error.domain = MONGOC_ERROR_SERVER;
	error.code = (uint32_t)code;
	bson_strncpy(error.message, message, sizeof error.message);
	return error;
}

static capture_verdict_t
verdict_of(int32_t code, capture_read_mode_t mode, bool update_lookup, bool has_split,
	   bson_error_t *out)
{
	bson_error_t error = server_error(code, "the server said no");

	return capture_stream_verdict(&error, NULL, mode, update_lookup, has_split, NS, out);
}

static void
case_history_lost(void)
{
	static const int32_t codes[] = {SERVER_CHANGE_STREAM_HISTORY_LOST,
					SERVER_CHANGE_STREAM_FATAL, SERVER_CAPPED_POSITION_LOST};
	bson_error_t out;
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		CHECK_INT(verdict_of(codes[i], CAPTURE_READ_FULL, true, true, &out),
			  CAPTURE_VERDICT_HISTORY_LOST);
		CHECK_INT(csm_exit_code(&out), CSM_EXIT_HISTORY_LOST);
		CHECK_CONTAINS(out.message, "cannot resume change stream on '" NS "'");
		CHECK_CONTAINS(out.message, "no longer in the source oplog (the server said no)");
		CHECK_CONTAINS(out.message, "migrate this collection again from init");
		/* Whatever the read mode. */
		CHECK_INT(verdict_of(codes[i], CAPTURE_READ_NO_LOOKUP, true, true, &out),
			  CAPTURE_VERDICT_HISTORY_LOST);
	}
}

/* The verdict on a too-large event read in mode, with and without updateLookup. */
static capture_verdict_t
too_large(capture_read_mode_t mode, bool update_lookup, bool has_split, bson_error_t *out)
{
	return verdict_of(SERVER_BSON_OBJECT_TOO_LARGE, mode, update_lookup, has_split, out);
}

static void
case_too_large(void)
{
	bson_error_t out;

	/* In whole batches: find the oversized event, one event at a time. */
	CHECK_INT(too_large(CAPTURE_READ_FULL, true, false, &out), CAPTURE_VERDICT_NARROW);
	CHECK_STR(out.message, "a batch of '" NS "' is too large with its looked-up documents "
			       "(the server said no): reading one event at a time to find the "
			       "oversized one");
	/* One event at a time: that very event goes without updateLookup. */
	CHECK_INT(too_large(CAPTURE_READ_NARROW, true, false, &out), CAPTURE_VERDICT_NO_LOOKUP);
	CHECK_STR(out.message, "an event on '" NS "' is too large with its looked-up document "
			       "(the server said no): staging it without fullDocument");
	/* Too large even without it: exit 65, naming the split stage when absent. */
	CHECK_INT(too_large(CAPTURE_READ_NO_LOOKUP, true, false, &out), CAPTURE_VERDICT_FATAL);
	CHECK_INT(csm_exit_code(&out), CSM_EXIT_DATAERR);
	CHECK_STR(out.message, "the event after the last staged one on '" NS "' is larger than "
			       "16 MiB even without its looked-up document (the server said no) "
			       "and cannot be staged; a source with $changeStreamSplitLargeEvent "
			       "(MongoDB 6.0.9+ or 7.0+) can split it");
	CHECK_INT(too_large(CAPTURE_READ_NO_LOOKUP, true, true, &out), CAPTURE_VERDICT_FATAL);
	CHECK_LACKS(out.message, "$changeStreamSplitLargeEvent");
	/* Without updateLookup there is nothing to leave out. */
	CHECK_INT(too_large(CAPTURE_READ_FULL, false, false, &out), CAPTURE_VERDICT_FATAL);
	CHECK_INT(csm_exit_code(&out), CSM_EXIT_DATAERR);
}

static void
case_transient(void)
{
	bson_error_t out, error;
	bson_t *reply;

	/* A closed connection, an election or shutdown: back off and reopen. */
	memset(&error, 0, sizeof error);
	error.domain = MONGOC_ERROR_STREAM;
	error.code = MONGOC_ERROR_STREAM_SOCKET;
	bson_strncpy(error.message, "connection closed", sizeof error.message);
	CHECK_INT(capture_stream_verdict(&error, NULL, CAPTURE_READ_FULL, true, true, NS, &out),
		  CAPTURE_VERDICT_REOPEN);
	CHECK_STR(out.message, "connection closed");
	CHECK_INT(verdict_of(SERVER_INTERRUPTED_AT_SHUTDOWN, CAPTURE_READ_FULL, true, true, &out),
		  CAPTURE_VERDICT_REOPEN);
	CHECK_INT(verdict_of(SERVER_NOT_WRITABLE_PRIMARY, CAPTURE_READ_NARROW, true, true, &out),
		  CAPTURE_VERDICT_REOPEN);
	/* The reply's label counts, whatever the code. */
	error = server_error(SERVER_BAD_VALUE, "labelled");
	reply = BCON_NEW("ok", BCON_INT32(0), "code", BCON_INT32(SERVER_BAD_VALUE), "errorLabels",
			 "[", "ResumableChangeStreamError", "]");
	CHECK_INT(capture_stream_verdict(&error, reply, CAPTURE_READ_FULL, true, true, NS, &out),
		  CAPTURE_VERDICT_REOPEN);
	CHECK_INT(capture_stream_verdict(&error, NULL, CAPTURE_READ_FULL, true, true, NS, &out),
		  CAPTURE_VERDICT_FATAL);
	bson_destroy(reply);
}

static void
case_fatal(void)
{
	static const struct {
		int32_t code;
		int exit_code;
		const char *message;
	} fatal[] = {
		{SERVER_CHANGE_STREAM_NEEDS_REPLICA_SET, CSM_EXIT_UNAVAILABLE,
		 "cannot open change stream on '" NS "': the source is not a replica set or "
		 "sharded cluster (the server said no); point the source URI at one"},
		{SERVER_INVALID_RESUME_TOKEN, CSM_EXIT_DATAERR,
		 "cannot resume change stream on '" NS "': the source rejects the resume token "
		 "(the server said no); migrate this collection again from init"},
		{SERVER_BAD_VALUE, CSM_EXIT_DATAERR,
		 "change stream on '" NS "' failed: the server said no"},
		{SERVER_UNAUTHORIZED, CSM_EXIT_NOPERM,
		 "change stream on '" NS "' failed: the server said no"},
	};
	bson_error_t out;
	size_t i;

	for (i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
		CHECK_INT(verdict_of(fatal[i].code, CAPTURE_READ_FULL, true, true, &out),
			  CAPTURE_VERDICT_FATAL);
		CHECK_INT(csm_exit_code(&out), fatal[i].exit_code);
		CHECK_STR(out.message, fatal[i].message);
	}
}

static void
case_read_modes(void)
{
	capture_stream_opts_t opts = {.update_lookup = true, .batch_size = 3};
	capture_reader_t r;
	const bson_t *pbrt;

	capture_reader_init(&r, NULL, &opts);
	CHECK_INT(r.mode, CAPTURE_READ_FULL);
	CHECK(!capture_reader_event_ends_mode(&r));
	/* Narrowed: whole batches again after one batch's worth of events. */
	r.mode = CAPTURE_READ_NARROW;
	r.mode_events = 0;
	CHECK(!capture_reader_event_ends_mode(&r));
	CHECK(!capture_reader_event_ends_mode(&r));
	CHECK(capture_reader_event_ends_mode(&r));
	CHECK_INT(r.mode, CAPTURE_READ_FULL);
	/* ...or after an empty getMore. */
	r.mode = CAPTURE_READ_NARROW;
	CHECK(capture_reader_batch_empty(&r, &pbrt));
	CHECK_INT(r.mode, CAPTURE_READ_FULL);
	CHECK(r.idle);
	/* Without updateLookup: for one event only, which an empty batch is not. */
	r.mode = CAPTURE_READ_NO_LOOKUP;
	r.idle = false;
	CHECK(!capture_reader_batch_empty(&r, &pbrt));
	CHECK_INT(r.mode, CAPTURE_READ_NO_LOOKUP);
	CHECK(!r.idle);
	CHECK(capture_reader_event_ends_mode(&r));
	CHECK_INT(r.mode, CAPTURE_READ_FULL);
	capture_reader_cleanup(&r);
}

static const unit_case_t cases[] = {
	{"history_lost", case_history_lost}, {"too_large", case_too_large},
	{"transient", case_transient},       {"fatal", case_fatal},
	{"read_modes", case_read_modes},
};

UNIT_MAIN(cases)
