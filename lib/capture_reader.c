/* The stream side of cdc-capture (capture_reader.h). */
#include "capture_reader.h"

#include <stdarg.h>
#include <stdio.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "server_codes.h"

/* Fills *out with exit_code and the message; returns verdict. */
static capture_verdict_t say(capture_verdict_t verdict, int exit_code, bson_error_t *out,
			     const char *fmt, ...) BSON_GNUC_PRINTF(4, 5);

static capture_verdict_t
say(capture_verdict_t verdict, int exit_code, bson_error_t *out, const char *fmt, ...)
{
	char message[sizeof out->message];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	csm_error_set(out, exit_code, "%s", message);
	return verdict;
}

/* Too large: narrow to one event, then that event without updateLookup. */
static capture_verdict_t
too_large_verdict(const bson_error_t *error, capture_read_mode_t mode, bool update_lookup,
		  bool has_split, const char *ns, bson_error_t *out)
{
	if (mode == CAPTURE_READ_NO_LOOKUP || !update_lookup)
		return say(CAPTURE_VERDICT_FATAL, CSM_EXIT_DATAERR, out,
			   "the event after the last staged one on '%s' is larger than 16 MiB "
			   "even without its looked-up document (%s) and cannot be staged%s",
			   ns, error->message,
			   has_split ? ""
				     : "; a source with $changeStreamSplitLargeEvent "
				       "(MongoDB 6.0.9+ or 7.0+) can split it");
	if (mode == CAPTURE_READ_FULL)
		return say(CAPTURE_VERDICT_NARROW, CSM_EXIT_TEMPFAIL, out,
			   "a batch of '%s' is too large with its looked-up documents (%s): "
			   "reading one event at a time to find the oversized one",
			   ns, error->message);
	return say(CAPTURE_VERDICT_NO_LOOKUP, CSM_EXIT_TEMPFAIL, out,
		   "an event on '%s' is too large with its looked-up document (%s): staging "
		   "it without fullDocument",
		   ns, error->message);
}

capture_verdict_t
capture_stream_verdict(const bson_error_t *error, const bson_t *reply, capture_read_mode_t mode,
		       bool update_lookup, bool has_split, const char *ns, bson_error_t *out)
{
	csm_error_class_t class = csm_error_classify(error, reply);
	int32_t code = csm_error_server_code(error, reply);
	int exit_code = csm_exit_code(error);

	if (class == CSM_ERRCLASS_HISTORY_LOST)
		return say(CAPTURE_VERDICT_HISTORY_LOST, CSM_EXIT_HISTORY_LOST, out,
			   "cannot resume change stream on '%s': resume point is no longer in "
			   "the source oplog (%s); migrate this collection again from init",
			   ns, error->message);
	if (code == SERVER_BSON_OBJECT_TOO_LARGE)
		return too_large_verdict(error, mode, update_lookup, has_split, ns, out);
	if (class == CSM_ERRCLASS_TRANSIENT) {
		*out = *error;
		return CAPTURE_VERDICT_REOPEN;
	}
	if (code == SERVER_CHANGE_STREAM_NEEDS_REPLICA_SET)
		return say(CAPTURE_VERDICT_FATAL, CSM_EXIT_UNAVAILABLE, out,
			   "cannot open change stream on '%s': the source is not a replica set "
			   "or sharded cluster (%s); point the source URI at one",
			   ns, error->message);
	if (code == SERVER_INVALID_RESUME_TOKEN)
		return say(CAPTURE_VERDICT_FATAL, CSM_EXIT_DATAERR, out,
			   "cannot resume change stream on '%s': the source rejects the resume "
			   "token (%s); migrate this collection again from init",
			   ns, error->message);
	return say(CAPTURE_VERDICT_FATAL, exit_code == CSM_EXIT_OK ? CSM_EXIT_SOFTWARE : exit_code,
		   out, "change stream on '%s' failed: %s", ns, error->message);
}

void
capture_reader_init(capture_reader_t *r, capture_source_t *src, const capture_stream_opts_t *opts)
{
	*r = (capture_reader_t){.src = src, .opts = *opts, .mode = CAPTURE_READ_FULL};
	retry_init(&r->retry, 0);
}

void
capture_reader_cleanup(capture_reader_t *r)
{
	capture_reader_close(r);
}

bool
capture_reader_open(capture_reader_t *r, const bson_t *resume_token, bson_error_t *error,
		    const bson_t **reply)
{
	capture_stream_opts_t opts = r->opts;

	capture_reader_close(r);
	if (r->mode == CAPTURE_READ_NO_LOOKUP) {
		opts.update_lookup = false;
		opts.post_image = NULL;
	}
	if (r->mode != CAPTURE_READ_FULL)
		opts.batch_size = 1;
	r->stream = capture_stream_open(r->src, resume_token, &opts);
	return !cs_cursor_error(r->stream, error, reply);
}

void
capture_reader_close(capture_reader_t *r)
{
	cs_cursor_destroy(r->stream);
	r->stream = NULL;
}

bool
capture_reader_next(capture_reader_t *r, const bson_t **event, bson_error_t *error,
		    const bson_t **reply)
{
	r->asked_ms = clock_wall_ms();
	if (cs_cursor_next(r->stream, event)) {
		r->idle = false;
		retry_reset(&r->retry);
		return true;
	}
	return !cs_cursor_error(r->stream, error, reply);
}

bool
capture_reader_event_ends_mode(capture_reader_t *r)
{
	switch (r->mode) {
	case CAPTURE_READ_NO_LOOKUP:
		/* The one oversized event is read: back to updateLookup. */
		r->mode = CAPTURE_READ_FULL;
		return true;
	case CAPTURE_READ_NARROW:
		/* Past the batch that failed: whole batches again. */
		if (++r->mode_events < r->opts.batch_size)
			return false;
		r->mode = CAPTURE_READ_FULL;
		return true;
	default:
		return false;
	}
}

bool
capture_reader_batch_empty(capture_reader_t *r, const bson_t **pbrt)
{
	*pbrt = NULL;
	if (r->mode == CAPTURE_READ_NARROW)
		r->mode = CAPTURE_READ_FULL;
	if (r->mode == CAPTURE_READ_NO_LOOKUP)
		return false;
	r->idle = true;
	if (r->stream)
		*pbrt = cs_cursor_resume_token(r->stream);
	return true;
}

capture_verdict_t
capture_reader_verdict(capture_reader_t *r, const bson_error_t *error, const bson_t *reply,
		       const char *ns, bson_error_t *out)
{
	capture_verdict_t verdict = capture_stream_verdict(
		error, reply, r->mode, r->opts.update_lookup || r->opts.post_image,
		capture_source_has_split_stage(r->src), ns, out);

	if (verdict == CAPTURE_VERDICT_NARROW) {
		r->mode = CAPTURE_READ_NARROW;
		r->mode_events = 0;
	} else if (verdict == CAPTURE_VERDICT_NO_LOOKUP) {
		r->mode = CAPTURE_READ_NO_LOOKUP;
	}
	return verdict;
}

capture_after_t
capture_reader_after(capture_reader_t *r, capture_verdict_t verdict, const bson_error_t *said,
		     const char *subject, bson_error_t *error)
{
	char what[sizeof error->message];
	bson_error_t waited = *said;

	capture_reader_close(r);
	switch (verdict) {
	case CAPTURE_VERDICT_NARROW:
	case CAPTURE_VERDICT_NO_LOOKUP:
		log_warn("%s", said->message);
		return CAPTURE_AFTER_READ_ON;
	case CAPTURE_VERDICT_REOPEN:
		snprintf(what, sizeof what, "change stream on %s (source)", subject);
		return retry_wait(&r->retry, what, &waited) ? CAPTURE_AFTER_READ_ON
							    : CAPTURE_AFTER_STOP;
	default:
		*error = *said;
		return CAPTURE_AFTER_FAIL;
	}
}
