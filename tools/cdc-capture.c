/*
 * cdc-capture — stage every change of one source collection on the target,
 * exactly once, across any crash (SPEC §2, §5).
 *
 * The change stream on SOURCE db.coll resumes after the newest of the token
 * file and the staged events (lib/capture.h); events are staged in ordered
 * w:majority, j:true batches (lib/staging.h); only then are the token file
 * and the checkpoint rewritten.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <mongoc/mongoc.h>

#include "capture.h"
#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "log.h"
#include "staging.h"
#include "staging_format.h"
#include "stop.h"
#include "tokenfile.h"

#define PROGRAM "cdc-capture"
/* A batch also ends at this many bytes of staged documents. */
#define BATCH_MAX_BYTES (16 * 1024 * 1024)
/* The checkpoint is written at most this often (and at every state change). */
#define CHECKPOINT_EVERY_MS 1000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

static const char usage_text[] =
	"usage: cdc-capture --db DB --coll COLL [options]\n"
	"\n"
	"Follows the change stream of SOURCE DB.COLL from its token file\n"
	"(<state-dir>/DB.COLL.token, written by token-probe) and stages every event\n"
	"in DB.<staging> on TARGET, exactly once, until stopped by SIGINT/SIGTERM\n"
	"(exit 0) or a drop/rename/dropDatabase/invalidate event (exit 4).\n"
	"\n"
	"  --db DB                 source database (also the staging database)\n"
	"  --coll COLL             source collection\n"
	"  --state-dir DIR         where the token file lives (default: .)\n"
	"  --staging-coll NAME     staging collection (default: cdc)\n"
	"  --full-document MODE    default (the default: updates carry their delta)\n"
	"                          or updateLookup (also the current document;\n"
	"                          it can run ahead of other documents, see README)\n"
	"  --split-events MODE     auto (default: $changeStreamSplitLargeEvent when the\n"
	"                          source has it) or never\n"
	"  --batch-size N          events per staged batch (default: 1000)\n"
	"  --batch-ms MS           longest wait before a batch is staged (default: 200)\n"
	"  --status-interval S     seconds between status lines (default: 10)\n" CONN_USAGE_SOURCE
		CONN_USAGE_TARGET CLI_USAGE_LOG "  -h, --help              print this help\n"
	"\n"
	"exit: 0 stopped by signal, 3 resume point lost (migrate again from init),\n"
	"4 stopped at a DDL event, 64 usage, 65 corrupt token file, 66 no token file\n"
	"and nothing staged (run token-probe first), 69 server unavailable.\n";

enum {
	OPT_DB = 0x2000,
	OPT_COLL,
	OPT_STATE_DIR,
	OPT_STAGING_COLL,
	OPT_FULL_DOCUMENT,
	OPT_SPLIT_EVENTS,
	OPT_BATCH_SIZE,
	OPT_BATCH_MS,
	OPT_STATUS_INTERVAL,
};

typedef struct options {
	const char *db;
	const char *coll;
	const char *state_dir;
	const char *staging_coll;
	bool update_lookup;
	bool split_never;
	int64_t batch_size;
	int64_t batch_ms;
	int64_t status_interval;
} options_t;

/* Everything the capture loop works with. */
typedef struct capture_run {
	const options_t *opts;
	char *ns;
	char *token_path;
	capture_source_t *src;
	staging_t *st;
	staging_batch_t batch;
	staging_checkpoint_t cp;
	capture_stream_opts_t stream_opts;
	/* The newest position whose every earlier event is staged. */
	bson_t resume_token;
	uint32_t resume_ct_t, resume_ct_i;
	bool idle;     /* the last getMore came back empty */
	bool cp_dirty; /* a write failed since the last checkpoint */
	int64_t last_cp_ms;
	int64_t last_wall_ms; /* wallTime of the newest staged event */
	/* Status line. */
	int64_t staged_total;
	int64_t staged_at_status;
	int64_t last_status_ms;
} capture_run_t;

/* Outcomes of a failed stream open/next. */
typedef enum {
	STREAM_RETRY,     /* transient: back off and reopen */
	STREAM_TOO_LARGE, /* 10334: reopen without updateLookup for one event */
	STREAM_FATAL,     /* rc set */
} stream_outcome_t;

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(FILE *out)
{
	fputs(usage_text, out);
}

/* Doubles *delay_ms from BACKOFF_FIRST_MS to BACKOFF_MAX_MS; returns the wait. */
static long
next_backoff(long *delay_ms)
{
	*delay_ms = *delay_ms ? *delay_ms * 2 : BACKOFF_FIRST_MS;
	if (*delay_ms > BACKOFF_MAX_MS)
		*delay_ms = BACKOFF_MAX_MS;
	return *delay_ms;
}

static void
log_retry(const capture_run_t *run, const char *side, const bson_error_t *error, int attempt,
	  long delay_ms)
{
	json_t *fields = json_object();

	json_object_set_new(fields, "ns", json_string(run->ns));
	json_object_set_new(fields, "side", json_string(side));
	json_object_set_new(fields, "attempt", json_integer(attempt));
	json_object_set_new(fields, "delay_ms", json_integer(delay_ms));
	json_object_set_new(fields, "reason", json_string(error->message));
	log_fields(LOG_WARN, "retrying", fields);
}

static void
log_status(capture_run_t *run, const char *state)
{
	int64_t now = monotonic_ms();
	double secs = (double)(now - run->last_status_ms) / 1000.0;
	double rate = secs > 0 ? (double)(run->staged_total - run->staged_at_status) / secs : 0;
	double lag = -1;
	uint32_t t = run->resume_ct_t, i = run->resume_ct_i;
	json_t *fields = json_object(), *ct;

	/* Idle and caught up: the source's own time says how far we are. */
	if (run->idle && capture_source_op_time(run->src, &t, &i))
		lag = (double)wall_ms() / 1000.0 - (double)t;
	else if (run->last_wall_ms)
		lag = (double)(wall_ms() - run->last_wall_ms) / 1000.0;
	else if (t)
		lag = (double)wall_ms() / 1000.0 - (double)t;
	if (lag < 0 && lag != -1)
		lag = 0;
	json_object_set_new(fields, "ns", json_string(run->ns));
	json_object_set_new(fields, "state", json_string(state));
	json_object_set_new(fields, "staged", json_integer(run->staged_total));
	json_object_set_new(fields, "seq", json_integer(run->batch.first_seq - 1));
	json_object_set_new(fields, "rate", json_real((double)(int64_t)(rate * 10) / 10.0));
	json_object_set_new(fields, "lag_s",
			    lag == -1 ? json_null()
				      : json_real((double)(int64_t)(lag * 10) / 10.0));
	ct = json_pack("{s:I, s:I}", "t", (json_int_t)t, "i", (json_int_t)i);
	json_object_set_new(fields, "cluster_time", ct);
	log_fields(LOG_INFO, "status", fields);
	run->last_status_ms = now;
	run->staged_at_status = run->staged_total;
}

static void
maybe_status(capture_run_t *run)
{
	if (monotonic_ms() - run->last_status_ms >= run->opts->status_interval * 1000)
		log_status(run, run->idle ? "idle" : "streaming");
}

/*
 * Writes the checkpoint with the current position. With `must`, retries
 * transient failures until it is written (a state change, or a batch whose
 * last insert did not confirm majority); otherwise one try, a failure only
 * logged. false (rc set) on a failure that must stop the capture.
 */
static bool
write_checkpoint(capture_run_t *run, const char *state, const char *detail, bool must, int *rc)
{
	bson_error_t error;
	bool transient;
	long delay = 0;
	int attempt = 0;

	bson_destroy(&run->cp.token);
	bson_copy_to(&run->resume_token, &run->cp.token);
	run->cp.ct_t = run->resume_ct_t;
	run->cp.ct_i = run->resume_ct_i;
	/* Only what is staged: the batch in memory is not. */
	run->cp.last_seq = run->batch.first_seq - 1;
	bson_strncpy(run->cp.state, state, sizeof run->cp.state);
	bson_strncpy(run->cp.detail, detail ? detail : "", sizeof run->cp.detail);
	for (;;) {
		if (staging_write_checkpoint(run->st, &run->cp, &transient, &error)) {
			run->last_cp_ms = monotonic_ms();
			run->cp_dirty = false;
			return true;
		}
		if (!must) {
			/* Tried again after the next batch, whatever the time. */
			log_warn("%s", error.message);
			run->cp_dirty = true;
			return true;
		}
		if (!transient) {
			log_error("%s", error.message);
			*rc = csm_exit_code(&error);
			return false;
		}
		log_retry(run, "target", &error, ++attempt, next_backoff(&delay));
		if (!stop_sleep_ms(delay)) {
			log_warn("stopped before the checkpoint of '%s' was written", run->ns);
			*rc = CSM_EXIT_OK;
			return false;
		}
	}
}

/*
 * Stages the batch (retrying transient failures with backoff, resyncing
 * after each), then rewrites the token file and, at most every second, the
 * checkpoint. false with *rc set when the capture must stop.
 */
static bool
flush(capture_run_t *run, int *rc)
{
	token_file_t tf;
	bson_error_t error;
	bool transient, failed = false;
	long delay = 0;
	int attempt = 0;
	size_t before;

	if (run->batch.n == 0)
		return true;
	while (!staging_batch_insert(run->st, &run->batch, &transient, &error)) {
		failed = true;
		before = run->batch.done;
		if (!transient) {
			log_error("%s", error.message);
			*rc = csm_exit_code(&error);
			return false;
		}
		log_retry(run, "target", &error, ++attempt, next_backoff(&delay));
		for (;;) {
			if (!stop_sleep_ms(delay)) {
				log_warn("stopped while staging a batch of '%s': its events are "
					 "read "
					 "again on restart",
					 run->ns);
				*rc = CSM_EXIT_OK;
				return false;
			}
			if (staging_batch_resync(run->st, &run->batch, &transient, &error))
				break;
			if (!transient) {
				log_error("%s", error.message);
				*rc = csm_exit_code(&error);
				return false;
			}
			log_retry(run, "target", &error, ++attempt, next_backoff(&delay));
		}
		/* Progress (e.g. an 11000 on a seq that we had staged): no wait. */
		if (run->batch.done > before)
			delay = 0;
	}

	bson_destroy(&run->resume_token);
	bson_copy_to(&run->batch.last_token, &run->resume_token);
	run->resume_ct_t = run->batch.last_ct_t;
	run->resume_ct_i = run->batch.last_ct_i;
	if (run->batch.last_wall_ms)
		run->last_wall_ms = run->batch.last_wall_ms;
	run->staged_total += (int64_t)run->batch.events;
	staging_batch_reset(&run->batch);

	/*
	 * After a failed insert the remaining documents may have been written
	 * without a majority acknowledgement: a majority write after them (the
	 * checkpoint) confirms them before the token file moves.
	 */
	if (failed && !write_checkpoint(run, "running", NULL, true, rc))
		return false;

	token_file_init(&tf);
	tf.ns = bson_strdup(run->ns);
	tf.writer = bson_strdup(CAPTURE_WRITER);
	bson_destroy(&tf.resume_token);
	bson_copy_to(&run->resume_token, &tf.resume_token);
	tf.cluster_time = (optime_t){run->resume_ct_t, run->resume_ct_i};
	if (!token_file_write(run->token_path, &tf, &error)) {
		token_file_cleanup(&tf);
		log_error("%s (the batch is staged; a restart resumes from the staging collection)",
			  error.message);
		*rc = csm_exit_code(&error);
		return false;
	}
	token_file_cleanup(&tf);

	if (monotonic_ms() - run->last_cp_ms >= CHECKPOINT_EVERY_MS || run->cp_dirty)
		write_checkpoint(run, "running", NULL, false, rc);
	return true;
}

/* Server code of a stream error (0 for client-side errors). */
static int32_t
stream_error_code(const bson_error_t *error, const bson_t *reply)
{
	bson_iter_t it;

	if (reply && bson_iter_init_find(&it, reply, "code") && BSON_ITER_HOLDS_NUMBER(&it))
		return (int32_t)bson_iter_as_int64(&it);
	if (error->domain == MONGOC_ERROR_SERVER || error->domain == MONGOC_ERROR_QUERY)
		return (int32_t)error->code;
	return 0;
}

/*
 * Decides what a stream error means. History lost and fatal errors are
 * logged here with rc set.
 */
static stream_outcome_t
classify_stream_error(capture_run_t *run, const bson_error_t *error, const bson_t *reply, int *rc)
{
	int32_t code = stream_error_code(error, reply);
	char detail[600];

	if (code == 286 || code == 280) {
		log_error("cannot resume change stream on '%s': resume point is no longer in the "
			  "source oplog (%s); migrate this collection again from init",
			  run->ns, error->message);
		snprintf(detail, sizeof detail, "%s", error->message);
		write_checkpoint(run, "history-lost", detail, false, rc);
		*rc = CSM_EXIT_HISTORY_LOST;
		return STREAM_FATAL;
	}
	if (code == 10334)
		return STREAM_TOO_LARGE;
	if (csm_error_is_transient(error, reply))
		return STREAM_RETRY;
	if (code == 40573) {
		log_error("cannot open change stream on '%s': the source is not a replica set or "
			  "sharded cluster (%s); point the source URI at one",
			  run->ns, error->message);
		*rc = CSM_EXIT_UNAVAILABLE;
		return STREAM_FATAL;
	}
	if (code == 260) {
		log_error(
			"cannot resume change stream on '%s': the source rejects the resume token "
			"(%s); migrate this collection again from init",
			run->ns, error->message);
		*rc = CSM_EXIT_DATAERR;
		return STREAM_FATAL;
	}
	log_error("change stream on '%s' failed: %s", run->ns, error->message);
	*rc = csm_exit_code(error);
	if (*rc == CSM_EXIT_OK)
		*rc = CSM_EXIT_SOFTWARE;
	return STREAM_FATAL;
}

/* Stages the DDL event's batch and stops with its message. */
static int
stop_at_ddl(capture_run_t *run, const char *optype)
{
	char detail[512];
	int rc = CSM_EXIT_DDL;
	int64_t seq;

	if (!flush(run, &rc))
		return rc;
	seq = run->batch.next_seq - 1;
	snprintf(detail, sizeof detail, "'%s' event on '%s' staged as seq %" PRId64, optype,
		 run->ns, seq);
	if (!write_checkpoint(run, "ddl", detail, true, &rc))
		return rc;
	log_error("stopped at a '%s' event on '%s' (staged as seq %" PRId64 "): the collection "
		  "was dropped or renamed on the source; cdc-replay applies every event before "
		  "it; migrate the collection again from init once the source is settled",
		  optype, run->ns, seq);
	return CSM_EXIT_DDL;
}

/* SIGINT/SIGTERM: the batch is staged, the position saved, exit 0. */
static int
stop_cleanly(capture_run_t *run)
{
	int rc = CSM_EXIT_OK;

	if (!flush(run, &rc))
		return rc;
	if (!write_checkpoint(run, "stopped", NULL, false, &rc))
		return rc;
	log_status(run, "stopped");
	log_info("stopped on signal: '%s' staged up to seq %" PRId64, run->ns,
		 run->batch.next_seq - 1);
	return CSM_EXIT_OK;
}

/* Follows the stream until a stop, a DDL event or a fatal error. */
static int
capture_loop(capture_run_t *run)
{
	mongoc_change_stream_t *stream = NULL;
	capture_stream_opts_t open_opts;
	const bson_t *event, *err_reply;
	bson_error_t error;
	bson_iter_t it;
	const char *optype;
	/*
	 * After a 10334 the failing event is somewhere in the batch: first
	 * narrow to one event per batch (events before it keep their looked-up
	 * document); a 10334 then is the very next event, which is read once
	 * without updateLookup.
	 */
	bool narrow = false, without_lookup = false;
	int64_t narrow_events = 0;
	long delay = 0;
	int attempt = 0, rc = CSM_EXIT_SOFTWARE;
	stream_outcome_t outcome;

	for (;;) {
		if (stop_requested())
			return stop_cleanly(run);
		open_opts = run->stream_opts;
		if (without_lookup)
			open_opts.update_lookup = false;
		if (narrow || without_lookup)
			open_opts.batch_size = 1;
		stream = capture_stream_open(run->src, &run->resume_token, &open_opts);
		if (mongoc_change_stream_error_document(stream, &error, &err_reply))
			goto stream_failed;

		for (;;) {
			while (mongoc_change_stream_next(stream, &event)) {
				delay = 0;
				attempt = 0;
				run->idle = false;
				optype = "";
				if (bson_iter_init_find(&it, event, "operationType") &&
				    BSON_ITER_HOLDS_UTF8(&it))
					optype = bson_iter_utf8(&it, NULL);
				/* The staged copy is taken before the next next(). */
				if (!staging_batch_add_event(run->st, &run->batch, event, &error)) {
					log_error("%s", error.message);
					rc = csm_exit_code(&error);
					goto fail;
				}
				if (capture_is_ddl(optype)) {
					char name[64];

					bson_strncpy(name, optype, sizeof name);
					mongoc_change_stream_destroy(stream);
					return stop_at_ddl(run, name);
				}
				if (without_lookup) {
					/* The one oversized update is staged: back to updateLookup.
					 */
					if (!flush(run, &rc))
						goto fail;
					log_info(
						"staged the oversized event of '%s' as seq %" PRId64
						" without its looked-up document; updateLookup "
						"resumes",
						run->ns, run->batch.first_seq - 1);
					without_lookup = false;
					narrow = false;
					mongoc_change_stream_destroy(stream);
					stream = NULL;
					goto reopen;
				}
				if (narrow && ++narrow_events >= run->opts->batch_size) {
					/* Past the batch that failed: full batches again. */
					if (!flush(run, &rc))
						goto fail;
					narrow = false;
					mongoc_change_stream_destroy(stream);
					stream = NULL;
					goto reopen;
				}
				if (run->batch.events >= (size_t)run->opts->batch_size ||
				    run->batch.bytes >= BATCH_MAX_BYTES ||
				    monotonic_ms() - run->batch.first_added_ms >=
					    run->opts->batch_ms) {
					if (!flush(run, &rc))
						goto fail;
				}
				maybe_status(run);
				if (stop_requested())
					break;
			}
			if (stop_requested()) {
				mongoc_change_stream_destroy(stream);
				return stop_cleanly(run);
			}
			if (mongoc_change_stream_error_document(stream, &error, &err_reply))
				goto stream_failed;
			/* An empty getMore: stage what we have, then note the PBRT. */
			if (!flush(run, &rc))
				goto fail;
			narrow = false;
			if (!without_lookup) {
				const bson_t *pbrt = mongoc_change_stream_get_resume_token(stream);

				run->idle = true;
				if (pbrt && !bson_empty(pbrt) &&
				    !bson_equal(pbrt, &run->resume_token)) {
					bson_destroy(&run->resume_token);
					bson_copy_to(pbrt, &run->resume_token);
					capture_source_op_time(run->src, &run->resume_ct_t,
							       &run->resume_ct_i);
				}
				if (monotonic_ms() - run->last_cp_ms >= CHECKPOINT_EVERY_MS)
					write_checkpoint(run, "running", NULL, false, &rc);
			}
			maybe_status(run);
		}

	stream_failed:
		/* What was read before the error is good: stage it first. */
		if (!flush(run, &rc)) {
			mongoc_change_stream_destroy(stream);
			return rc;
		}
		if (stop_requested()) {
			mongoc_change_stream_destroy(stream);
			return stop_cleanly(run);
		}
		outcome = classify_stream_error(run, &error, err_reply, &rc);
		mongoc_change_stream_destroy(stream);
		stream = NULL;
		switch (outcome) {
		case STREAM_FATAL:
			return rc;
		case STREAM_TOO_LARGE:
			if (without_lookup || !run->stream_opts.update_lookup) {
				log_error("the event after the last staged one on '%s' is larger "
					  "than "
					  "16 MiB even without its looked-up document (%s) and "
					  "cannot "
					  "be staged%s",
					  run->ns, error.message,
					  capture_source_has_split_stage(run->src)
						  ? ""
						  : "; a source with $changeStreamSplitLargeEvent "
						    "(MongoDB 6.0.9+ or 7.0+) can split it");
				return CSM_EXIT_DATAERR;
			}
			if (!narrow) {
				log_warn("a batch of '%s' is too large with its looked-up "
					 "documents (%s): "
					 "reading one event at a time to find the oversized one",
					 run->ns, error.message);
				narrow = true;
				narrow_events = 0;
				break;
			}
			log_warn("an event on '%s' is too large with its looked-up document (%s): "
				 "staging it without fullDocument",
				 run->ns, error.message);
			without_lookup = true;
			break;
		case STREAM_RETRY:
			csm_error_prefix(&error, "change stream on '%s'", run->ns);
			log_retry(run, "source", &error, ++attempt, next_backoff(&delay));
			if (!stop_sleep_ms(delay))
				return stop_cleanly(run);
			break;
		}
	reopen:;
	}

fail:
	mongoc_change_stream_destroy(stream);
	return rc;
}

/* Reads the token file; a missing one leaves *have false. */
static bool
load_token_file(const char *path, const char *ns, token_file_t *tf, bool *have, int *rc)
{
	bson_error_t error;

	*have = false;
	if (token_file_read(path, tf, &error)) {
		if (!tf->ns || strcmp(tf->ns, ns) != 0) {
			log_error(
				"token file '%s' is for '%s', not '%s'; give the right --state-dir "
				"or run token-probe for '%s'",
				path, tf->ns ? tf->ns : "", ns, ns);
			*rc = CSM_EXIT_DATAERR;
			return false;
		}
		*have = true;
		return true;
	}
	if (error.domain == CSM_ERROR_DOMAIN && error.code == CSM_EXIT_NOINPUT)
		return true;
	log_error("%s", error.message);
	*rc = csm_exit_code(&error);
	return false;
}

static int
run_capture(const options_t *opts, conn_opts_t *conn)
{
	capture_run_t run;
	mongoc_client_t *source = NULL, *target = NULL;
	token_file_t tf;
	staging_last_t last;
	capture_start_t start;
	bson_error_t error;
	bool have_tf = false, have_cp = false;
	int64_t removed = 0;
	int rc = CSM_EXIT_SOFTWARE;

	memset(&run, 0, sizeof run);
	run.opts = opts;
	bson_init(&run.resume_token);
	staging_batch_init(&run.batch, 1);
	staging_checkpoint_init(&run.cp);
	token_file_init(&tf);
	staging_last_init(&last);
	capture_start_init(&start);
	run.ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	run.token_path = token_file_path(opts->state_dir, opts->db, opts->coll);

	if (!load_token_file(run.token_path, run.ns, &tf, &have_tf, &rc))
		goto cleanup;
	if (!(target = conn_client_new(conn->target_uri, "cdc-capture-target", &error)) ||
	    !(source = conn_client_new(conn->source_uri, "cdc-capture-source", &error))) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
		goto cleanup;
	}
	if (!(run.st = staging_new(target, opts->db, opts->staging_coll, run.ns, &error)) ||
	    !staging_ensure_indexes(run.st, &error) ||
	    !staging_repair_tail(run.st, &removed, &error) ||
	    !staging_read_last(run.st, &last, &error) ||
	    !staging_read_checkpoint(run.st, &run.cp, &have_cp, &error)) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
		goto cleanup;
	}
	if (removed)
		log_warn("removed %" PRId64
			 " parts of an event of '%s' left incomplete by a crash; "
			 "it is staged again",
			 removed, run.ns);
	if (last.seq > 0 && capture_is_ddl(last.operation_type)) {
		log_error("'%s' already stopped at a '%s' event (staged as seq %" PRId64 "); "
			  "migrate the collection again from init",
			  run.ns, last.operation_type, last.seq);
		rc = CSM_EXIT_DDL;
		goto cleanup;
	}
	if (!capture_choose_start(have_tf ? &tf : NULL, &last, have_cp ? &run.cp : NULL, &start)) {
		log_error("no resume point for '%s': token file '%s' does not exist and nothing is "
			  "staged in '%s'; run token-probe first (capture never starts from now)",
			  run.ns, run.token_path, staging_full_name(run.st));
		rc = CSM_EXIT_NOINPUT;
		goto cleanup;
	}
	bson_destroy(&run.resume_token);
	bson_copy_to(&start.token, &run.resume_token);
	run.resume_ct_t = start.ct_t;
	run.resume_ct_i = start.ct_i;
	run.last_wall_ms = last.wall_ms;
	staging_set_carry(run.st, &last);
	{
		int64_t next = last.seq;

		if (have_cp && run.cp.last_seq > next)
			next = run.cp.last_seq;
		staging_batch_destroy(&run.batch);
		staging_batch_init(&run.batch, next + 1);
	}

	if (!(run.src = capture_source_new(source, opts->db, opts->coll, &error))) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
		goto cleanup;
	}
	run.stream_opts.update_lookup = opts->update_lookup;
	run.stream_opts.split_events =
		!opts->split_never && capture_source_has_split_stage(run.src);
	run.stream_opts.batch_size = (int32_t)opts->batch_size;
	run.stream_opts.max_await_ms = opts->batch_ms;
	log_info("capturing '%s' into '%s' from the %s (seq %" PRId64 " staged), source %s%s",
		 run.ns, staging_full_name(run.st), start.from, run.batch.next_seq - 1,
		 capture_source_version(run.src),
		 run.stream_opts.split_events ? ", splitting large events" : "");
	run.last_status_ms = run.last_cp_ms = monotonic_ms();
	/* Let operators see "running" at once, and the start position. */
	run.last_cp_ms -= CHECKPOINT_EVERY_MS;
	rc = capture_loop(&run);

cleanup:
	capture_source_destroy(run.src);
	staging_destroy(run.st);
	mongoc_client_destroy(source);
	mongoc_client_destroy(target);
	capture_start_cleanup(&start);
	staging_last_cleanup(&last);
	token_file_cleanup(&tf);
	staging_checkpoint_cleanup(&run.cp);
	staging_batch_destroy(&run.batch);
	bson_destroy(&run.resume_token);
	bson_free(run.token_path);
	bson_free(run.ns);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"full-document", required_argument, NULL, OPT_FULL_DOCUMENT},
		{"split-events", required_argument, NULL, OPT_SPLIT_EVENTS},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"batch-ms", required_argument, NULL, OPT_BATCH_MS},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_LOG,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	options_t opts = {
		.state_dir = ".",
		.staging_coll = STAGING_DEFAULT_COLL,
		.update_lookup = false,
		.batch_size = 1000,
		.batch_ms = 200,
		.status_interval = 10,
	};
	conn_opts_t conn = {NULL, NULL};
	cli_log_opts_t log_opts;
	bson_error_t error;
	bool mongoc_up = false;
	int opt, taken, rc = CSM_EXIT_USAGE;

	cli_log_opts_init(&log_opts);
	log_init(PROGRAM, log_opts.level, log_opts.format);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((taken = conn_opts_take(&conn, opt, optarg, &error)) != 0 ||
		    (taken = cli_take_log_opt(&log_opts, opt, optarg, &error)) != 0) {
			if (taken < 0) {
				fprintf(stderr, "%s: %s\n", PROGRAM, error.message);
				rc = csm_exit_code(&error);
				goto cleanup;
			}
			continue;
		}
		switch (opt) {
		case OPT_DB:
			opts.db = optarg;
			break;
		case OPT_COLL:
			opts.coll = optarg;
			break;
		case OPT_STATE_DIR:
			opts.state_dir = optarg;
			break;
		case OPT_STAGING_COLL:
			opts.staging_coll = optarg;
			break;
		case OPT_FULL_DOCUMENT:
			if (!strcmp(optarg, "updateLookup")) {
				opts.update_lookup = true;
			} else if (!strcmp(optarg, "default")) {
				opts.update_lookup = false;
			} else {
				fprintf(stderr,
					"%s: invalid value '%s' for --full-document: expected "
					"updateLookup or default\n",
					PROGRAM, optarg);
				goto usage_error;
			}
			break;
		case OPT_SPLIT_EVENTS:
			if (!strcmp(optarg, "auto")) {
				opts.split_never = false;
			} else if (!strcmp(optarg, "never")) {
				opts.split_never = true;
			} else {
				fprintf(stderr,
					"%s: invalid value '%s' for --split-events: expected auto "
					"or "
					"never\n",
					PROGRAM, optarg);
				goto usage_error;
			}
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &opts.batch_size,
					   &error))
				goto bad_value;
			break;
		case OPT_BATCH_MS:
			if (!cli_parse_int("--batch-ms", optarg, 1, 60000, &opts.batch_ms, &error))
				goto bad_value;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 1, 86400,
					   &opts.status_interval, &error))
				goto bad_value;
			break;
		case 'h':
			usage(stdout);
			rc = fclose(stdout) == 0 ? CSM_EXIT_OK : CSM_EXIT_IOERR;
			goto cleanup;
		default:
			goto usage_error;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROGRAM, argv[optind]);
		goto usage_error;
	}
	if (!opts.db || !*opts.db || !opts.coll || !*opts.coll) {
		fprintf(stderr, "%s: --db and --coll are required\n", PROGRAM);
		goto usage_error;
	}
	log_init(PROGRAM, log_opts.level, log_opts.format);
	if (!conn_opts_resolve(&conn, true, true, &error)) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
		goto cleanup;
	}
	if (!fs_mkdir_p(opts.state_dir, &error)) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
		goto cleanup;
	}
	conn_global_init();
	mongoc_up = true;
	stop_install_handlers();
	rc = run_capture(&opts, &conn);
	goto cleanup;

bad_value:
	fprintf(stderr, "%s: %s\n", PROGRAM, error.message);
usage_error:
	usage(stderr);
	rc = CSM_EXIT_USAGE;
cleanup:
	conn_opts_cleanup(&conn);
	if (mongoc_up)
		conn_global_cleanup();
	return rc;
}
