/* One namespace fed by cdc-capture's change stream (capture_ns.h). */
#include "capture_ns.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "retry.h"
#include "staging_format.h"
#include "status.h"

/* A batch also ends at this many bytes of staged documents. */
#define BATCH_MAX_BYTES (16 * 1024 * 1024)
/* The checkpoint is written at most this often (and at every state change). */
#define CHECKPOINT_EVERY_MS 1000

/* Everything but the token file. */
static void
init_common(capture_ns_t *cns, const char *db, const char *coll, const char *state_dir,
	    const capture_ns_limits_t *limits)
{
	memset(cns, 0, sizeof *cns);
	cns->ns = bson_strdup_printf("%s.%s", db, coll);
	cns->state_dir = bson_strdup(state_dir && *state_dir ? state_dir : ".");
	cns->limits = *limits;
	token_file_init(&cns->tf);
	staging_batch_init(&cns->batch, 1);
	checkpoint_init(&cns->cp);
	bson_init(&cns->resume_token);
	bson_init(&cns->last_staged_token);
}

void
capture_ns_init_in_stream(capture_ns_t *cns, const char *db, const char *coll,
			  const token_file_t *tf, const capture_ns_limits_t *limits)
{
	init_common(cns, db, coll, NULL, limits);
	cns->tf.ns = bson_strdup(cns->ns);
	cns->tf.writer = bson_strdup(tf->writer);
	bson_destroy(&cns->tf.resume_token);
	bson_copy_to(&tf->resume_token, &cns->tf.resume_token);
	cns->tf.cluster_time = tf->cluster_time;
	cns->tf.written_at_ms = tf->written_at_ms;
	cns->have_tf = true;
}

bool
capture_ns_init(capture_ns_t *cns, const char *db, const char *coll, const char *state_dir,
		const capture_ns_limits_t *limits, bson_error_t *error)
{
	init_common(cns, db, coll, state_dir, limits);
	cns->token_path = token_file_path(state_dir, db, coll);

	if (!token_file_read(cns->token_path, &cns->tf, error)) {
		/* No token file: the staged events may still say where to resume. */
		return error->domain == CSM_ERROR_DOMAIN && error->code == CSM_EXIT_NOINPUT;
	}
	if (!cns->tf.ns || strcmp(cns->tf.ns, cns->ns) != 0) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "token file '%s' is for '%s', not '%s'; give the right --state-dir "
			      "or run token-probe for '%s'",
			      cns->token_path, cns->tf.ns ? cns->tf.ns : "", cns->ns, cns->ns);
		return false;
	}
	cns->have_tf = true;
	return true;
}

void
capture_ns_cleanup(capture_ns_t *cns)
{
	staging_destroy(cns->st);
	token_file_cleanup(&cns->tf);
	checkpoint_cleanup(&cns->cp);
	staging_batch_destroy(&cns->batch);
	bson_destroy(&cns->resume_token);
	bson_destroy(&cns->last_staged_token);
	bson_free(cns->token_path);
	bson_free(cns->state_dir);
	bson_free(cns->ns);
	memset(cns, 0, sizeof *cns);
}

static void
set_position(capture_ns_t *cns, const bson_t *token, optime_t cluster_time)
{
	bson_destroy(&cns->resume_token);
	bson_copy_to(token, &cns->resume_token);
	cns->resume_time = cluster_time;
}

/*
 * The refusal of a token file newer than the staged events (65): how to
 * start the collection over is logged first, command by command (README,
 * "Starting over"), since an error message holds too little for them.
 */
static void
refuse_gap(const capture_ns_t *cns, const staging_last_t *last, const char *db,
	   const char *staging_coll, bson_error_t *error)
{
	const char *coll = cns->ns + strlen(db) + 1;
	bool other_staging = strcmp(staging_coll, STAGING_DEFAULT_COLL) != 0;

	log_error("to start '%s' over: 1. stop its sync_migration.sh (Ctrl-C) and its capture: "
		  "init_migration.sh --stop-capture --state-dir %s %s %s",
		  cns->ns, cns->state_dir, db, coll);
	log_error("2. remove what the old run left, on the target (its staged events, "
		  "checkpoint, restore marker, leases and the collection restored from '%s') and "
		  "in the state directory: init_migration.sh --cleanup --drop-target --state-dir "
		  "%s%s%s %s %s (TARGET_URI set)",
		  cns->ns, cns->state_dir, other_staging ? " --staging-coll " : "",
		  other_staging ? staging_coll : "", db, coll);
	log_error("3. init_migration.sh --force --state-dir %s%s%s - - %s %s (SOURCE_URI and "
		  "TARGET_URI set), then sync_migration.sh as after any init",
		  cns->state_dir, other_staging ? " --staging-coll " : "",
		  other_staging ? staging_coll : "", db, coll);
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "cannot resume '%s': token file '%s' (written by %s) is newer than the "
		      "events staged for it in '%s' (up to seq %" PRId64 "); the changes in "
		      "between were never staged and resuming from the token file would skip "
		      "them: start '%s' over as logged above (README, \"Starting over\")",
		      cns->ns, cns->token_path ? cns->token_path : "(the position file)",
		      cns->tf.writer ? cns->tf.writer : "?", staging_full_name(cns->st), last->seq,
		      cns->ns);
}

/* Where the staged events, the checkpoint and the token file say to resume. */
static bool
choose_start(capture_ns_t *cns, const staging_last_t *last, bool have_cp, const char *db,
	     const char *staging_coll, capture_start_t *start, bson_error_t *error)
{
	int64_t next_seq = last->seq;
	capture_start_result_t found;

	if (last->seq > 0 && capture_is_ddl(last->operation_type)) {
		csm_error_set(error, CSM_EXIT_DDL,
			      "'%s' already stopped at a '%s' event (staged as seq %" PRId64 "); "
			      "migrate the collection again from init",
			      cns->ns, last->operation_type, last->seq);
		return false;
	}
	found = capture_choose_start(cns->have_tf ? &cns->tf : NULL, last,
				     have_cp ? &cns->cp : NULL, start);
	if (found == CAPTURE_START_GAP) {
		refuse_gap(cns, last, db, staging_coll, error);
		return false;
	}
	if (found == CAPTURE_START_NONE) {
		csm_error_set(
			error, CSM_EXIT_NOINPUT,
			"no resume point for '%s': token file '%s' does not exist and nothing "
			"is staged in '%s'; run token-probe first (capture never starts from "
			"now)",
			cns->ns, cns->token_path, staging_full_name(cns->st));
		return false;
	}
	if (start->newer_token_file_passed_over)
		log_warn("token file '%s' (written by %s) is newer than the checkpoint of '%s', "
			 "which staged nothing: resuming from the checkpoint, so that no change "
			 "in between is missed",
			 cns->token_path, cns->tf.writer ? cns->tf.writer : "?", cns->ns);
	set_position(cns, &start->token, start->cluster_time);
	bson_destroy(&cns->last_staged_token);
	bson_copy_to(&last->token, &cns->last_staged_token);
	cns->last_staged_at_ms = last->staged_at_ms;
	cns->last_wall_ms = last->wall_ms;
	staging_set_carry(cns->st, last);
	if (have_cp && cns->cp.last_seq > next_seq)
		next_seq = cns->cp.last_seq;
	staging_batch_destroy(&cns->batch);
	staging_batch_init(&cns->batch, next_seq + 1);
	cns->last_status_ms = cns->last_cp_ms = clock_mono_ms();
	/* Let operators see "running" at once, and the start position. */
	cns->last_cp_ms -= CHECKPOINT_EVERY_MS;
	return true;
}

bool
capture_ns_open(capture_ns_t *cns, mongoc_client_t *target, const char *db,
		const char *staging_coll, capture_start_t *start, bson_error_t *error)
{
	staging_last_t last;
	bool have_cp = false, ok = false;
	int64_t removed = 0;

	staging_last_init(&last);
	if (!(cns->st = staging_new(target, db, staging_coll, cns->ns, error)) ||
	    !staging_ensure_indexes(cns->st, error) ||
	    !staging_repair_tail(cns->st, &removed, error) ||
	    !staging_read_last(cns->st, &last, error) ||
	    !checkpoint_read(staging_meta(cns->st), cns->ns, &cns->cp, &have_cp, error))
		goto done;
	if (removed)
		log_warn("removed %" PRId64 " parts of an event of '%s' left incomplete by a "
			 "crash; it is staged again",
			 removed, cns->ns);
	ok = choose_start(cns, &last, have_cp, db, staging_coll, start, error);
done:
	staging_last_cleanup(&last);
	return ok;
}

bool
capture_ns_add(capture_ns_t *cns, const bson_t *event, bson_error_t *error)
{
	return staging_batch_add_event(cns->st, &cns->batch, event, error);
}

bool
capture_ns_batch_due(const capture_ns_t *cns)
{
	const staging_batch_t *batch = &cns->batch;

	return batch->events >= (size_t)cns->limits.batch_events ||
	       batch->bytes >= BATCH_MAX_BYTES ||
	       clock_mono_ms() - batch->first_added_ms >= cns->limits.batch_ms;
}

int64_t
capture_ns_staged_seq(const capture_ns_t *cns)
{
	return cns->batch.first_seq - 1;
}

/* A write that may be repeated: transient, or written but not yet majority-confirmed. */
static bool
write_may_retry(const bson_error_t *error)
{
	return error->domain == MONGOC_ERROR_WRITE_CONCERN || csm_error_is_transient(error, NULL);
}

/* Before a write: the lease (if any) still ours; false + error when not. */
static bool
hold_lease(capture_ns_t *cns, bson_error_t *error)
{
	return !cns->lease || lease_hold(cns->lease, error);
}

bool
capture_ns_checkpoint(capture_ns_t *cns, const char *state, const char *detail, bool must,
		      bson_error_t *error)
{
	char what[sizeof error->message];
	bson_error_t failed;
	retry_t retry;

	bson_destroy(&cns->cp.token);
	bson_copy_to(&cns->resume_token, &cns->cp.token);
	cns->cp.cluster_time = cns->resume_time;
	cns->cp.last_seq = capture_ns_staged_seq(cns);
	bson_strncpy(cns->cp.state, state, sizeof cns->cp.state);
	bson_strncpy(cns->cp.detail, detail ? detail : "", sizeof cns->cp.detail);
	snprintf(what, sizeof what, "writing the checkpoint of '%s' (target)", cns->ns);
	retry_init(&retry, 0);
	for (;;) {
		if (!hold_lease(cns, &failed)) {
			if (!csm_error_is_transient(&failed, NULL)) {
				*error = failed;
				return false;
			}
		} else if (checkpoint_write(staging_meta(cns->st), cns->ns, &cns->cp, &failed)) {
			break;
		}
		if (!must) {
			/* Tried again after the next batch, whatever the time. */
			log_warn("%s", failed.message);
			cns->cp_dirty = true;
			return true;
		}
		if (!write_may_retry(&failed) || !retry_wait(&retry, what, &failed)) {
			*error = failed;
			return false;
		}
	}
	cns->last_cp_ms = clock_mono_ms();
	cns->cp_dirty = false;
	return true;
}

bool
capture_ns_checkpoint_due(const capture_ns_t *cns)
{
	return clock_mono_ms() - cns->last_cp_ms >= CHECKPOINT_EVERY_MS;
}

/* Returns false; a stop while retrying says that nothing of the batch is lost. */
static bool
stage_failed(bson_error_t *error)
{
	char said[sizeof error->message];

	if (csm_error_is_stopped(error)) {
		bson_strncpy(said, error->message, sizeof said);
		csm_error_stopped(error, "%s; its events are read again on restart", said);
	}
	return false;
}

/* Inserts the batch, resyncing after every failed try; *failed when one did. */
static bool
stage_batch(capture_ns_t *cns, bool *failed, bson_error_t *error)
{
	char what[sizeof error->message];
	csm_error_class_t class;
	retry_t retry;
	size_t before;

	snprintf(what, sizeof what, "staging a batch of '%s' (target)", cns->ns);
	retry_init(&retry, 0);
	for (;;) {
		if (!hold_lease(cns, error)) {
			if (!csm_error_is_transient(error, NULL) ||
			    !retry_wait(&retry, what, error))
				return stage_failed(error);
			continue;
		}
		if (staging_batch_insert(cns->st, &cns->batch, error))
			break;
		*failed = true;
		before = cns->batch.done;
		/* A duplicate seq may be our own earlier try: the resync tells. */
		class = csm_error_classify(error, NULL);
		if ((class != CSM_ERRCLASS_TRANSIENT && class != CSM_ERRCLASS_DUPLICATE_KEY) ||
		    !retry_wait(&retry, what, error))
			return stage_failed(error);
		while (!staging_batch_resync(cns->st, &cns->batch, error)) {
			if (!csm_error_is_transient(error, NULL) ||
			    !retry_wait(&retry, what, error))
				return stage_failed(error);
		}
		/* Progress (a duplicate key on a seq that we had staged): no wait. */
		if (cns->batch.done > before)
			retry_reset(&retry);
	}
	return true;
}

static bool
write_token_file(capture_ns_t *cns, bson_error_t *error)
{
	char said[sizeof error->message];
	token_file_t tf;
	bool ok;

	if (!cns->token_path)
		return true;
	token_file_init(&tf);
	tf.ns = bson_strdup(cns->ns);
	tf.writer = bson_strdup(CAPTURE_WRITER);
	bson_destroy(&tf.resume_token);
	bson_copy_to(&cns->resume_token, &tf.resume_token);
	tf.cluster_time = cns->resume_time;
	ok = token_file_write(cns->token_path, &tf, error);
	if (!ok) {
		bson_strncpy(said, error->message, sizeof said);
		csm_error_set(error, csm_exit_code(error),
			      "%s (the batch is staged; a restart resumes from the staging "
			      "collection)",
			      said);
	}
	token_file_cleanup(&tf);
	return ok;
}

bool
capture_ns_flush(capture_ns_t *cns, bson_error_t *error)
{
	bool failed = false;

	if (cns->batch.n == 0)
		return true;
	if (!stage_batch(cns, &failed, error))
		return false;
	set_position(cns, &cns->batch.last_token, cns->batch.last_cluster_time);
	if (cns->batch.last_wall_ms)
		cns->last_wall_ms = cns->batch.last_wall_ms;
	cns->staged_total += (int64_t)cns->batch.events;
	staging_batch_reset(&cns->batch);

	/*
	 * After a failed insert the remaining documents may have been written
	 * without a majority acknowledgement: a majority write after them (the
	 * checkpoint) confirms them before the token file moves.
	 */
	if (failed && !capture_ns_checkpoint(cns, CHECKPOINT_STATE_RUNNING, NULL, true, error))
		return false;
	if (!write_token_file(cns, error))
		return false;
	if (capture_ns_checkpoint_due(cns) || cns->cp_dirty)
		return capture_ns_checkpoint(cns, CHECKPOINT_STATE_RUNNING, NULL, false, error);
	return true;
}

void
capture_ns_advance(capture_ns_t *cns, const bson_t *token, optime_t cluster_time)
{
	if (!bson_empty(token) && !bson_equal(token, &cns->resume_token))
		set_position(cns, token, cluster_time);
}

void
capture_ns_caught_up(capture_ns_t *cns, int64_t wall_ms)
{
	if (wall_ms > cns->cp.caught_up_ms)
		cns->cp.caught_up_ms = wall_ms;
}

bool
capture_ns_status_due(const capture_ns_t *cns)
{
	return clock_mono_ms() - cns->last_status_ms >= cns->limits.status_ms;
}

static int64_t
newest_ms(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void
capture_ns_status(capture_ns_t *cns, const char *state, const optime_t *source_time, bool final)
{
	int64_t now = clock_mono_ms();
	double secs = (double)(now - cns->last_status_ms) / 1000.0;
	status_line_t line = {
		.ns = cns->ns,
		.state = state,
		.events = cns->staged_total,
		.rate = secs > 0 ? (double)(cns->staged_total - cns->staged_at_status) / secs : 0,
		.last_seq = capture_ns_staged_seq(cns),
		.pending = -1, /* replay's to know */
		.lag_seconds = -1,
		.cluster_time = source_time ? *source_time : cns->resume_time,
	};

	/* Idle and caught up, the source's own time says how far we are, or
	 * when the getMore that found nothing went out, if that is later. */
	if (!source_time && cns->last_wall_ms)
		line.lag_seconds = (double)(clock_wall_ms() - cns->last_wall_ms) / 1000.0;
	else if (line.cluster_time.t)
		line.lag_seconds = (double)(clock_wall_ms() -
					    newest_ms((int64_t)line.cluster_time.t * 1000,
						      source_time ? cns->cp.caught_up_ms : 0)) /
				   1000.0;
	if (line.lag_seconds < 0 && line.lag_seconds != -1)
		line.lag_seconds = 0;
	status_emit(&line, final, NULL);
	cns->last_status_ms = now;
	cns->staged_at_status = cns->staged_total;
}
