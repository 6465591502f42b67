/* cdc-capture's state machine (capture_run.h). */
#include "capture_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "capture_ns.h"
#include "capture_reader.h"
#include "conn.h"
#include "error.h"
#include "lease.h"
#include "log.h"
#include "marker.h"
#include "names.h"
#include "stop.h"

struct capture_run {
	mongoc_client_t *source;
	mongoc_client_t *target;
	capture_source_t *src;
	capture_reader_t reader;
	lease_t *lease; /* "capture:<ns>": one capture per source collection */
	/*
	 * The namespace the stream feeds. A database-level stream would feed
	 * several, each its own capture_ns_t, picked by the event's ns.
	 */
	capture_ns_t ns;
};

static void
emit_status(capture_run_t *run, capture_ns_t *cns, const char *state, bool final)
{
	optime_t source_time;
	bool caught_up = run->reader.idle && capture_source_op_time(run->src, &source_time);

	capture_ns_status(cns, state, caught_up ? &source_time : NULL, final);
}

static void
maybe_status(capture_run_t *run, capture_ns_t *cns)
{
	if (capture_ns_status_due(cns))
		emit_status(run, cns, run->reader.idle ? "idle" : "streaming", false);
}

/* SIGINT/SIGTERM: the batch is staged, the position saved; false, stopped. */
static bool
stop_cleanly(capture_run_t *run, bson_error_t *error)
{
	capture_ns_t *cns = &run->ns;

	capture_reader_close(&run->reader);
	if (!capture_ns_flush(cns, error) ||
	    !capture_ns_checkpoint(cns, CHECKPOINT_STATE_STOPPED, NULL, false, error))
		return false;
	emit_status(run, cns, "stopped", true);
	csm_error_stopped(error, "stopped on signal: '%s' staged up to seq %" PRId64, cns->ns,
			  capture_ns_staged_seq(cns));
	return false;
}

/* Stages the DDL event's batch; false with its message (exit 4). */
static bool
stop_at_ddl(capture_run_t *run, capture_ns_t *cns, const char *optype, bson_error_t *error)
{
	char detail[512];
	int64_t seq;

	capture_reader_close(&run->reader);
	if (!capture_ns_flush(cns, error))
		return false;
	seq = capture_ns_staged_seq(cns);
	snprintf(detail, sizeof detail, "'%s' event on '%s' staged as seq %" PRId64, optype,
		 cns->ns, seq);
	if (!capture_ns_checkpoint(cns, CHECKPOINT_STATE_DDL, detail, true, error))
		return false;
	csm_error_set(error, CSM_EXIT_DDL,
		      "stopped at a '%s' event on '%s' (staged as seq %" PRId64 "): the "
		      "collection was dropped or renamed on the source; cdc-replay applies every "
		      "event before it; migrate the collection again from init once the source "
		      "is settled",
		      optype, cns->ns, seq);
	return false;
}

static bool
take_event(capture_run_t *run, const bson_t *event, bson_error_t *error)
{
	capture_ns_t *cns = &run->ns;
	capture_read_mode_t mode = run->reader.mode;
	char optype[64] = "";
	bson_iter_t it;

	/* The event is borrowed from the stream: what outlives it is copied. */
	if (bson_iter_init_find(&it, event, EVENT_F_OPERATION_TYPE) && BSON_ITER_HOLDS_UTF8(&it))
		bson_strncpy(optype, bson_iter_utf8(&it, NULL), sizeof optype);
	if (!capture_ns_add(cns, event, error))
		return false;
	if (capture_is_ddl(optype))
		return stop_at_ddl(run, cns, optype, error);
	if (capture_reader_event_ends_mode(&run->reader)) {
		if (!capture_ns_flush(cns, error))
			return false;
		if (mode == CAPTURE_READ_NO_LOOKUP)
			log_info("staged the oversized event of '%s' as seq %" PRId64
				 " without its looked-up document; updateLookup resumes",
				 cns->ns, capture_ns_staged_seq(cns));
		capture_reader_close(&run->reader);
		return true;
	}
	if (capture_ns_batch_due(cns) && !capture_ns_flush(cns, error))
		return false;
	maybe_status(run, cns);
	return true;
}

/* An empty getMore: stage what we have, then note the PBRT. */
static bool
batch_empty(capture_run_t *run, bson_error_t *error)
{
	capture_ns_t *cns = &run->ns;
	const bson_t *pbrt;
	optime_t op_time;

	if (!capture_ns_flush(cns, error))
		return false;
	if (capture_reader_batch_empty(&run->reader, &pbrt)) {
		if (pbrt) {
			capture_source_idle_time(run->src, pbrt, &op_time);
			capture_ns_advance(cns, pbrt, op_time);
			capture_ns_caught_up(cns, run->reader.asked_ms);
		}
		if (capture_ns_checkpoint_due(cns) &&
		    !capture_ns_checkpoint(cns, CHECKPOINT_STATE_RUNNING, NULL, false, error))
			return false;
	}
	maybe_status(run, cns);
	return true;
}

/* The stream failed with cause (reply borrowed from the stream). */
static bool
stream_failed(capture_run_t *run, const bson_error_t *cause, const bson_t *reply,
	      bson_error_t *error)
{
	capture_ns_t *cns = &run->ns;
	char *subject;
	capture_after_t after;
	bson_error_t said;
	capture_verdict_t verdict;

	/* What was read before the error is good: stage it first. */
	if (!capture_ns_flush(cns, error))
		return false;
	if (stop_requested())
		return stop_cleanly(run, error);
	verdict = capture_reader_verdict(&run->reader, cause, reply, cns->ns, &said);
	if (verdict == CAPTURE_VERDICT_HISTORY_LOST)
		capture_ns_checkpoint(cns, CHECKPOINT_STATE_HISTORY_LOST, cause->message, false,
				      error);
	subject = bson_strdup_printf("'%s'", cns->ns);
	after = capture_reader_after(&run->reader, verdict, &said, subject, error);
	bson_free(subject);
	switch (after) {
	case CAPTURE_AFTER_READ_ON:
		return true;
	case CAPTURE_AFTER_STOP:
		return stop_cleanly(run, error);
	default:
		return false;
	}
}

bool
capture_next(capture_run_t *run, bson_error_t *error)
{
	const bson_t *event, *reply = NULL;
	bson_error_t cause;

	if (stop_requested())
		return stop_cleanly(run, error);
	if (!run->reader.stream) {
		if (capture_reader_open(&run->reader, &run->ns.resume_token, &cause, &reply))
			return true;
		return stream_failed(run, &cause, reply, error);
	}
	if (!capture_reader_next(&run->reader, &event, &cause, &reply)) {
		if (stop_requested())
			return stop_cleanly(run, error);
		return stream_failed(run, &cause, reply, error);
	}
	if (event)
		return take_event(run, event, error);
	if (stop_requested())
		return stop_cleanly(run, error);
	return batch_empty(run, error);
}

/* --full-document required|whenAvailable: the collection must keep
 * post-images (required: 64 before anything is staged; whenAvailable: a
 * warning, updates then come as their description). */
static bool
check_post_images(capture_source_t *src, const capture_config_t *config, bson_error_t *error)
{
	bool enabled;

	if (!capture_source_post_images(src, &enabled, error))
		return false;
	if (enabled)
		return true;
	if (strcmp(config->post_image, "required") == 0) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "--full-document required needs post-images, and '%s.%s' on the "
			      "source does not keep them; enable them with collMod "
			      "changeStreamPreAndPostImages: {enabled: true} (MongoDB 6.0+), or "
			      "capture with --full-document default",
			      config->db, config->coll);
		return false;
	}
	log_warn("'%s.%s' on the source keeps no post-images: with --full-document "
		 "whenAvailable its updates are staged with their description only",
		 config->db, config->coll);
	return true;
}

static bool
open_source(capture_run_t *run, const capture_config_t *config, bson_error_t *error)
{
	capture_stream_opts_t opts = {0};

	if (!(run->src = capture_source_new(run->source, config->db, config->coll, error)))
		return false;
	opts.update_lookup = config->update_lookup;
	opts.post_image = config->post_image;
	opts.split_events = !config->split_never && capture_source_has_split_stage(run->src);
	opts.expanded_events = capture_source_has_expanded_events(run->src);
	if (config->post_image && !check_post_images(run->src, config, error))
		return false;
	opts.batch_size = (int32_t)config->batch_size;
	opts.max_await_ms = config->batch_ms;
	capture_reader_init(&run->reader, run->src, &opts);
	return true;
}

/* Takes the lease "capture:<ns>" before anything is written. */
static lease_t *
capture_lease_open(const char *target_uri, const capture_config_t *config, const char *ns,
		   bson_error_t *error)
{
	char *meta_name = marker_meta_coll_name(config->staging_coll);
	char *name = bson_strdup_printf("capture:%s", ns);
	lease_t *lease = lease_open(target_uri, config->db, meta_name, name, "cdc-capture", error);

	bson_free(name);
	bson_free(meta_name);
	return lease;
}

capture_run_t *
capture_run_new(const capture_config_t *config, const char *source_uri, const char *target_uri,
		bson_error_t *error)
{
	capture_run_t *run;
	capture_ns_limits_t limits = {config->batch_size, config->batch_ms,
				      config->status_interval * 1000};
	capture_start_t start;
	bool ok = false;

	if (!names_check_source(config->db, config->coll, config->staging_coll, error))
		return NULL;
	run = bson_malloc0(sizeof *run);
	capture_start_init(&start);
	if (!capture_ns_init(&run->ns, config->db, config->coll, config->state_dir, &limits, error))
		goto done;
	if (!(run->target = conn_client_new(target_uri, "cdc-capture-target", error)) ||
	    !(run->lease = capture_lease_open(target_uri, config, run->ns.ns, error)) ||
	    !(run->source = conn_client_new(source_uri, "cdc-capture-source", error)))
		goto done;
	run->ns.lease = run->lease;
	if (!capture_ns_open(&run->ns, run->target, config->db, config->staging_coll, &start,
			     error) ||
	    !open_source(run, config, error))
		goto done;
	log_info("capturing '%s' into '%s' from the %s (seq %" PRId64 " staged), source %s%s%s",
		 run->ns.ns, staging_full_name(run->ns.st), start.from,
		 capture_ns_staged_seq(&run->ns), capture_source_version(run->src),
		 run->reader.opts.split_events ? ", splitting large events" : "",
		 run->reader.opts.expanded_events ? ", expanded events" : "");
	ok = true;
done:
	capture_start_cleanup(&start);
	if (!ok) {
		capture_run_destroy(run);
		return NULL;
	}
	return run;
}

void
capture_run_destroy(capture_run_t *run)
{
	bson_error_t error;

	if (!run)
		return;
	/* Nothing is written after this: the next capture need not wait. */
	if (run->lease && !lease_release(run->lease, &error))
		log_warn("%s; it expires by itself", error.message);
	lease_destroy(run->lease);
	run->ns.lease = NULL;
	capture_reader_cleanup(&run->reader);
	capture_source_destroy(run->src);
	capture_ns_cleanup(&run->ns);
	mongoc_client_destroy(run->source);
	mongoc_client_destroy(run->target);
	bson_free(run);
}
