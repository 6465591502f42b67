/*
 * The cdc-replay run (replay_run.h): session, follow loop, marking, status.
 * The decisions themselves are in replay_policy.c.
 */
#include "replay_run.h"

#include <jansson.h>
#include <mongoc/mongoc.h>
#include <string.h>

#include "checkpoint.h"
#include "clock.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "lease.h"
#include "log.h"
#include "marker.h"
#include "names.h"
#include "replay_apply.h"
#include "replay_batch.h"
#include "replay_meta.h"
#include "replay_pipe.h"
#include "replay_policy.h"
#include "replay_txn.h"
#include "replay_upkeep.h"
#include "retry.h"
#include "shardkey.h"
#include "staging_format.h"
#include "status.h"
#include "stop.h"

/* A batch stops growing past this many staged bytes (one event may exceed
 * it): memory stays bounded by the batch size whatever the events weigh. */
#define REPLAY_MAX_BATCH_BYTES ((size_t)16 * 1024 * 1024)

struct replay_session {
	const replay_opts_t *opts;
	char *ns;        /* "db.coll" of the source */
	char *target_ns; /* "db2.coll2" */
	mongoc_client_pool_t *pool;
	mongoc_client_t *client; /* popped from pool: the ordered path and the loop */
	mongoc_collection_t *staging;
	mongoc_collection_t *meta;
	mongoc_collection_t *target;
	replay_applier_t *applier;
	replay_txn_t *txn;     /* source transactions as target transactions */
	lease_t *lease;        /* "apply:<target ns>": the one writer of the target */
	replay_pipe_t *reader; /* reads the next batch while one applies */
	replay_pipe_t *marker; /* marks the previous batch done meanwhile */
	replay_upkeep_t *upkeep;
	/* the target's shard key, read through mongos; NULL: not sharded */
	bson_t *shard_key;
};

/* What the status line counts. Intervals run on the monotonic clock. */
typedef struct replay_progress {
	int64_t interval_ms;     /* 0: no periodic line */
	int64_t started_ms;      /* clock_mono_ms() */
	int64_t last_emit_ms;    /* clock_mono_ms() */
	int64_t applied;         /* events applied by this run */
	int64_t applied_at_emit; /* applied at the last line */
	int64_t last_seq;        /* last seq marked done by this run; 0 none */
	int64_t last_event_ms;   /* wallTime (else clusterTime) of the last applied event */
	optime_t cluster_time;   /* of the last applied event */
} replay_progress_t;

/* An applied batch to mark done, and what the status line counts of it. */
typedef struct replay_mark {
	const replay_session_t *s;
	int64_t first_seq;
	int64_t last_seq;
	int64_t events;
	optime_t cluster_time; /* of its last event; zero: none */
	int64_t wall_ms;       /* of its last event; 0: none */
} replay_mark_t;

/* The next batch to read: past after, into batch. */
typedef struct replay_read {
	const replay_session_t *s;
	int64_t after;
	replay_batch_t *batch;
} replay_read_t;

/* The state of the follow loop. */
typedef struct replay_loop {
	replay_session_t *s;
	replay_batch_t batch; /* the one being applied */
	replay_batch_t ahead; /* the next one, read by s->reader meanwhile */
	replay_read_t read;   /* the reader's job */
	replay_mark_t mark;   /* the marker's job: the batch applied before */
	int64_t read_after;   /* last seq of the last batch applied: reads go past it */
	replay_marker_t marker;
	replay_progress_t progress;
	retry_t retry;          /* reading, the drain check, deferred indexes */
	bool drain;             /* --drain, or SIGUSR1 asked for it */
	int64_t drain_start_ms; /* clock_wall_ms() when the run (or the drain) began */
	long idle_ms;           /* the last idle sleep; 0: the last turn applied a batch */
	int64_t idle_since_ms;  /* clock_mono_ms() of the first idle turn */
	bool unique_waiting_logged;
	bool drain_warned;            /* the missing checkpoint was told */
	int64_t drain_warned_ms;      /* clock_mono_ms() of the last "capture does not run" */
	bool drain_waits_for_capture; /* the last drain check found capture behind the start */
} replay_loop_t;

/* How one turn of the loop ended. */
typedef enum step {
	STEP_NEXT, /* go on */
	STEP_STOP, /* end with exit 0 (a stop, or the drain is complete) */
	STEP_FAIL, /* end with the error's exit code */
} step_t;

/* Takes the lease "apply:<target_ns>" in db.meta_name before anything is written. */
static lease_t *
replay_lease_open(const char *target_uri, const char *db, const char *meta_name,
		  const char *target_ns, bson_error_t *error)
{
	char *name = bson_strdup_printf("apply:%s", target_ns);
	lease_t *lease = lease_open(target_uri, db, meta_name, name, "cdc-replay", error);

	bson_free(name);
	return lease;
}

replay_session_t *
replay_session_open(const char *target_uri, const replay_opts_t *opts, bson_error_t *error)
{
	replay_session_t *s;
	const char *to_db = opts->to_db ? opts->to_db : opts->db;
	const char *to_coll = opts->to_coll ? opts->to_coll : opts->coll;
	char *meta_name;

	if (!names_check_staging(opts->db, opts->coll, opts->to_db, opts->to_coll,
				 opts->staging_coll, error))
		return NULL;
	s = bson_malloc0(sizeof *s);
	meta_name = marker_meta_coll_name(opts->staging_coll);
	s->opts = opts;
	s->ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	s->target_ns = bson_strdup_printf("%s.%s", to_db, to_coll);
	s->pool = conn_pool_new(target_uri, "target", error);
	if (!s->pool) {
		bson_free(meta_name);
		replay_session_close(s);
		return NULL;
	}
	s->client = mongoc_client_pool_pop(s->pool);
	s->staging = mongoc_client_get_collection(s->client, opts->db, opts->staging_coll);
	s->meta = mongoc_client_get_collection(s->client, opts->db, meta_name);
	s->target = mongoc_client_get_collection(s->client, to_db, to_coll);
	s->applier = replay_applier_new(s->pool, s->client, to_db, to_coll, (int)opts->workers);
	s->shard_key = shardkey_read(s->client, to_db, to_coll);
	s->lease = replay_lease_open(target_uri, opts->db, meta_name, s->target_ns, error);
	bson_free(meta_name);
	if (!s->lease) {
		replay_session_close(s);
		return NULL;
	}
	replay_applier_set_lease(s->applier, s->lease);
	s->reader = replay_pipe_new(s->pool);
	s->marker = replay_pipe_new(s->pool);
	s->upkeep = replay_upkeep_new(opts, s->staging, s->ns, s->lease);
	s->txn = replay_txn_new(s->client, s->applier, s->target, s->staging, s->meta, s->lease,
				s->ns, opts->batch_size, REPLAY_MAX_BATCH_BYTES);
	if (strcmp(to_coll, opts->coll) == 0) /* the other collections keep their names too */
		replay_txn_set_cross(s->txn, to_db);
	log_info("replaying '%s' from '%s.%s' onto '%s' (batch %" PRId64 ", workers %" PRId64 "%s)",
		 s->ns, opts->db, opts->staging_coll, s->target_ns, opts->batch_size, opts->workers,
		 opts->drain ? ", drain" : "");
	return s;
}

void
replay_session_close(replay_session_t *s)
{
	bson_error_t error;

	if (!s)
		return;
	/* Nothing is written after this: the next writer need not wait. */
	replay_pipe_destroy(s->marker);
	replay_pipe_destroy(s->reader);
	if (s->lease && !lease_release(s->lease, &error))
		log_warn("%s; it expires by itself", error.message);
	replay_txn_destroy(s->txn);
	replay_upkeep_destroy(s->upkeep);
	lease_destroy(s->lease);
	replay_applier_destroy(s->applier);
	bson_destroy(s->shard_key);
	mongoc_collection_destroy(s->target);
	mongoc_collection_destroy(s->meta);
	mongoc_collection_destroy(s->staging);
	if (s->client)
		mongoc_client_pool_push(s->pool, s->client);
	mongoc_client_pool_destroy(s->pool);
	bson_free(s->target_ns);
	bson_free(s->ns);
	bson_free(s);
}

/* The pending staged documents of the ns (at most limit when > 0) into *n. */
static bool
count_pending(const replay_session_t *s, int64_t limit, int64_t *n, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, s->ns);
	BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	if (limit > 0)
		BSON_APPEND_INT64(&opts, "limit", limit);
	*n = mongoc_collection_count_documents(s->staging, &filter, &opts, NULL, NULL, error);
	if (*n < 0)
		csm_error_prefix(error, "cannot count the pending events of '%s'", s->ns);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return *n >= 0;
}

static void
progress_init(replay_progress_t *p, int64_t interval_s)
{
	*p = (replay_progress_t){0};
	p->interval_ms = interval_s * 1000;
	p->started_ms = clock_mono_ms();
	p->last_emit_ms = p->started_ms;
}

/* Counts an applied and marked batch. */
static void
progress_batch_done(replay_progress_t *p, const replay_mark_t *m)
{
	p->applied += m->events;
	p->last_seq = m->last_seq;
	if (!optime_is_zero(m->cluster_time))
		p->cluster_time = m->cluster_time;
	if (m->wall_ms > 0)
		p->last_event_ms = m->wall_ms;
	else if (m->cluster_time.t > 0)
		p->last_event_ms = (int64_t)m->cluster_time.t * 1000;
}

static bool
progress_due(const replay_progress_t *p)
{
	return p->interval_ms > 0 && clock_mono_ms() - p->last_emit_ms >= p->interval_ms;
}

/*
 * The pending count and lag of the status line, read from the target;
 * unknown (-1) when asking failed.
 */
static void
status_from_target(replay_loop_t *loop, status_line_t *line)
{
	checkpoint_t cp;
	bson_error_t error;
	bool found = false;

	/* The checkpoint first: nothing pending after it was read means every
	 * event staged before it was written is applied. */
	checkpoint_init(&cp);
	if (!checkpoint_read(loop->s->meta, loop->s->ns, &cp, &found, &error))
		log_debug("%s", error.message);
	if (!count_pending(loop->s, 0, &line->pending, &error))
		log_debug("%s", error.message);
	line->lag_seconds = replay_lag_seconds(clock_wall_ms(), line->pending, found ? &cp : NULL,
					       loop->progress.last_event_ms);
	checkpoint_cleanup(&cp);
}

/*
 * Writes the status line (final: the one at exit): events, rate since the
 * previous line (final: since the start), pending, lag (replay_lag_seconds)
 * and, when a batch ever fell back to the ordered path, orderedFallbacks.
 * After a stop request the last line does not ask the target (pending and
 * lag null): a target that is gone would hold the exit for two server
 * selection timeouts.
 */
static void
emit_status(replay_loop_t *loop, bool final)
{
	replay_progress_t *p = &loop->progress;
	status_line_t line = {
		.ns = loop->s->ns, .last_seq = p->last_seq, .pending = -1, .lag_seconds = -1};
	int64_t now = clock_mono_ms(), fallbacks = replay_applier_fallbacks(loop->s->applier);
	int64_t span = now - (final ? p->started_ms : p->last_emit_ms);
	int64_t count = final ? p->applied : p->applied - p->applied_at_emit;

	if (!(final && stop_requested()))
		status_from_target(loop, &line);
	line.state = final ? "finished" : line.pending == 0 ? "idle" : "applying";
	line.events = p->applied;
	line.rate = span > 0 ? (double)count * 1000.0 / (double)span : 0.0;
	line.cluster_time = p->cluster_time;
	status_emit(&line, final,
		    replay_upkeep_status(loop->s->upkeep,
					 fallbacks > 0 ? json_pack("{s:I}", "orderedFallbacks",
								   (json_int_t)fallbacks)
						       : NULL));
	p->last_emit_ms = now;
	p->applied_at_emit = p->applied;
}

/*
 * After a failure of the loop's work on ns (doing: "reading staged events
 * of"): STEP_NEXT once the backoff allows another try of a transient
 * failure, STEP_STOP when a stop came first (stop_wins: also for a failure
 * that is not transient), STEP_FAIL otherwise.
 */
static step_t
retry_step(replay_loop_t *loop, const char *doing, const char *ns, bool stop_wins,
	   bson_error_t *error)
{
	char *what = bson_strdup_printf("%s '%s' on the target", doing, ns);
	bool again = csm_error_is_transient(error, NULL) && retry_wait(&loop->retry, what, error);

	bson_free(what);
	if (again)
		return STEP_NEXT;
	if (csm_error_is_stopped(error) || (stop_wins && stop_requested()))
		return STEP_STOP;
	return STEP_FAIL;
}

/* Reads the restore marker, retrying transient failures. */
static step_t
load_marker(replay_loop_t *loop, bson_error_t *error)
{
	replay_marker_t *m = &loop->marker;
	step_t step;

	while (!replay_marker_load(loop->s->meta, loop->s->target_ns, m, error)) {
		step = retry_step(loop, "reading the restore marker of", loop->s->target_ns, false,
				  error);
		if (step != STEP_NEXT)
			return step;
	}
	retry_reset(&loop->retry);
	replay_applier_set_marker(loop->s->applier, loop->s->meta, loop->s->target_ns, m);
	if (m->found && !optime_is_zero(m->dump_end)) {
		replay_applier_set_window(loop->s->applier, m->dump_end);
		replay_txn_set_window(loop->s->txn, m->dump_end);
	}
	if (m->found)
		log_info("restore marker of '%s': %zu deferred unique, %zu deferred TTL "
			 "index(es)%s",
			 loop->s->target_ns, m->n_unique, m->n_ttl,
			 optime_is_zero(m->dump_end) ? ", no dump end time" : "");
	return STEP_NEXT;
}

/*
 * The marker's job (a replay_mark_t): marks the applied batch done,
 * retrying transient failures, on the marker's own connection.
 */
static bool
mark_job(mongoc_client_t *client, void *arg, bson_error_t *error)
{
	const replay_mark_t *m = arg;
	const replay_session_t *s = m->s;
	mongoc_collection_t *staging =
		mongoc_client_get_collection(client, s->opts->db, s->opts->staging_coll);
	char *what = bson_strdup_printf("marking seq %" PRId64 "..%" PRId64
					" of '%s' done on the target",
					m->first_seq, m->last_seq, s->ns);
	retry_t retry;
	bool ok = true;

	retry_init(&retry, 0);
	while (!lease_hold(s->lease, error) ||
	       !replay_batch_mark_done(staging, s->ns, m->first_seq, m->last_seq, error)) {
		if (csm_error_is_transient(error, NULL) && retry_wait(&retry, what, error))
			continue;
		if (csm_error_is_stopped(error))
			csm_error_stopped(error,
					  "stopped before seq %" PRId64 "..%" PRId64
					  " could be marked done; they are applied and will be "
					  "applied again (harmlessly) on restart",
					  m->first_seq, m->last_seq);
		ok = false;
		break;
	}
	bson_free(what);
	mongoc_collection_destroy(staging);
	return ok;
}

/*
 * Waits for the mark on the way, if any, and counts its batch. A failure
 * ends the run (mark_job retried what could be retried): STEP_STOP when it
 * was a stop, STEP_FAIL otherwise.
 */
static step_t
flush_marks(replay_loop_t *loop, bson_error_t *error)
{
	if (!replay_pipe_busy(loop->s->marker))
		return STEP_NEXT;
	if (!replay_pipe_wait(loop->s->marker, error))
		return csm_error_is_stopped(error) ? STEP_STOP : STEP_FAIL;
	progress_batch_done(&loop->progress, &loop->mark);
	return STEP_NEXT;
}

/* Hands the applied batch to the marker: only now are its writes acknowledged. */
static void
mark_start(replay_loop_t *loop)
{
	const replay_batch_t *b = &loop->batch;
	const replay_event_t *last = &b->events[b->len - 1];

	loop->mark = (replay_mark_t){.s = loop->s,
				     .first_seq = b->events[0].first_seq,
				     .last_seq = last->last_seq,
				     .events = (int64_t)b->len,
				     .cluster_time = last->cluster_time,
				     .wall_ms = last->wall_ms};
	replay_pipe_start(loop->s->marker, mark_job, &loop->mark);
}

/* The reader's job (a replay_read_t), on the reader's own connection. */
static bool
read_job(mongoc_client_t *client, void *arg, bson_error_t *error)
{
	const replay_read_t *r = arg;
	const replay_session_t *s = r->s;
	mongoc_collection_t *staging =
		mongoc_client_get_collection(client, s->opts->db, s->opts->staging_coll);
	bool ok = replay_batch_read(staging, s->ns, r->after, s->opts->batch_size,
				    REPLAY_MAX_BATCH_BYTES, r->batch, error);

	mongoc_collection_destroy(staging);
	return ok;
}

/* Starts reading the batch past loop->read_after into loop->ahead. */
static void
read_start(replay_loop_t *loop)
{
	loop->read =
		(replay_read_t){.s = loop->s, .after = loop->read_after, .batch = &loop->ahead};
	replay_pipe_start(loop->s->reader, read_job, &loop->read);
}

/* The next batch into loop->batch: the one read ahead, or read now. */
static bool
take_batch(replay_loop_t *loop, bson_error_t *error)
{
	replay_batch_t read;
	bool ok;

	if (!replay_pipe_busy(loop->s->reader))
		read_start(loop);
	ok = replay_pipe_wait(loop->s->reader, error);
	read = loop->ahead;
	loop->ahead = loop->batch;
	loop->batch = read;
	return ok;
}

/* Forgets the batch read ahead: it stays pending. */
static void
drop_ahead(replay_loop_t *loop)
{
	bson_error_t ignored;

	replay_pipe_wait(loop->s->reader, &ignored);
	replay_batch_clear(&loop->ahead);
}

/*
 * Applies the batch read while the next one is read and the previous one
 * marked done; hands it to the marker once applied.
 */
static step_t
apply_batch(replay_loop_t *loop, bson_error_t *error)
{
	step_t step;

	if (!shardkey_batch_routable(loop->s->shard_key, loop->s->target_ns, &loop->batch, error))
		return STEP_FAIL;
	loop->read_after = loop->batch.events[loop->batch.len - 1].last_seq;
	read_start(loop);
	/* source transactions in target transactions, marked in them (the
	 * marker marks the whole batch again, harmlessly) */
	if (!replay_txn_apply(loop->s->txn, &loop->batch, NULL, NULL, error))
		return csm_error_is_stopped(error) ? STEP_STOP : STEP_FAIL;
	step = flush_marks(loop, error);
	if (step != STEP_NEXT)
		return step;
	mark_start(loop);
	loop->idle_ms = 0;
	return STEP_NEXT;
}

/* Builds the deferred unique indexes once the catch-up window is applied
 * (and marked done) and capture has passed the dump end
 * (replay_unique_decide). */
static step_t
maybe_create_unique(replay_loop_t *loop, bson_error_t *error)
{
	replay_session_t *s = loop->s;
	const replay_batch_t *b = &loop->batch;
	replay_unique_t verdict =
		replay_unique_decide(&loop->marker, b->has_head, b->head_time, NULL, false);
	checkpoint_t cp;
	bool found;
	step_t step;

	if (verdict == REPLAY_UNIQUE_ASK_CAPTURE) {
		checkpoint_init(&cp);
		if (!checkpoint_read(s->meta, s->ns, &cp, &found, error)) {
			checkpoint_cleanup(&cp);
			return retry_step(loop, "building the deferred unique indexes of",
					  s->target_ns, true, error);
		}
		verdict =
			replay_unique_decide(&loop->marker, b->has_head, b->head_time, &cp, found);
		checkpoint_cleanup(&cp);
	}
	if (verdict == REPLAY_UNIQUE_WAIT_CAPTURE && !loop->unique_waiting_logged) {
		log_info("deferred unique indexes of '%s' wait for capture to pass the dump end "
			 "(%u, %u)",
			 s->target_ns, loop->marker.dump_end.t, loop->marker.dump_end.i);
		loop->unique_waiting_logged = true;
	}
	if (verdict != REPLAY_UNIQUE_BUILD)
		return STEP_NEXT;
	step = flush_marks(loop, error);
	if (step != STEP_NEXT)
		return step;
	if (!lease_hold(s->lease, error) ||
	    !replay_marker_create_deferred(s->meta, s->target, s->target_ns, &loop->marker, false,
					   error))
		return retry_step(loop, "building the deferred unique indexes of", s->target_ns,
				  true, error);
	return STEP_NEXT;
}

/* The batch ended before an event replay cannot apply: error says which. */
static step_t
stop_event(replay_loop_t *loop, bson_error_t *error)
{
	const replay_event_t *ev = &loop->batch.stop_event;
	char *what = replay_event_describe(ev);

	if (ev->kind == APPLY_KIND_STOP)
		csm_error_set(error, CSM_EXIT_DDL,
			      "stopped at %s on '%s': every event before it is applied; a drop, "
			      "rename, dropDatabase or invalidate cannot be replayed as data: "
			      "migrate the collection again from init (the event stays pending)",
			      what, loop->s->ns);
	else
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "stopped at %s on '%s': unknown operationType '%s' that cdc-replay "
			      "cannot apply; every event before it is applied",
			      what, loop->s->ns, ev->operation_type);
	bson_free(what);
	return STEP_FAIL;
}

/*
 * Says that --drain waits, in the words of verdict: once for a missing
 * checkpoint; for a capture that does not run at once, then every
 * REPLAY_DRAIN_WARN_EVERY_MS, naming the command that restarts it.
 */
static void
drain_warn(replay_loop_t *loop, replay_drain_t verdict, const checkpoint_t *cp)
{
	const replay_opts_t *o = loop->s->opts;
	int64_t now = clock_mono_ms();
	char restart[512];

	if (verdict == REPLAY_DRAIN_NO_CAPTURE && !loop->drain_warned)
		log_warn("no capture checkpoint for '%s' in '%s': capture never ran; --drain "
			 "ends once nothing is pending",
			 loop->s->ns, mongoc_collection_get_name(loop->s->meta));
	loop->drain_warned = true;
	if ((verdict != REPLAY_DRAIN_PAUSED && verdict != REPLAY_DRAIN_SILENT) ||
	    !replay_drain_warn_due(loop->drain_warned_ms, now))
		return;
	loop->drain_warned_ms = now;
	bson_snprintf(restart, sizeof restart,
		      "restart it with: init_migration.sh --resume-capture --state-dir DIR%s%s - - "
		      "%s %s (DIR: the --state-dir init_migration.sh was given; SOURCE_URI and "
		      "TARGET_URI set)",
		      strcmp(o->staging_coll, STAGING_DEFAULT_COLL) ? " --staging-coll " : "",
		      strcmp(o->staging_coll, STAGING_DEFAULT_COLL) ? o->staging_coll : "", o->db,
		      o->coll);
	if (verdict == REPLAY_DRAIN_PAUSED)
		log_warn("capture of '%s' is '%s' and its checkpoint predates the drain: --drain "
			 "waits for capture to run again; %s",
			 loop->s->ns, cp->state, restart);
	else
		log_warn("capture of '%s' has not written its checkpoint for %" PRId64
			 " s (its state says '%s'; a running capture writes it every second): "
			 "capture is not running (killed, or its host is down), and --drain waits "
			 "for it; %s",
			 loop->s->ns, (clock_wall_ms() - cp->heartbeat_ms) / 1000,
			 cp->state[0] ? cp->state : CHECKPOINT_STATE_RUNNING, restart);
}

/* Sets *done when --drain is complete (replay_drain_decide, then nothing
 * pending once capture's checkpoint allows it); capture having lost its
 * resume point makes waiting useless (exit 3). */
static bool
drain_complete(replay_loop_t *loop, bool *done, bson_error_t *error)
{
	checkpoint_t cp;
	replay_drain_t verdict;
	int64_t pending;
	bool found;

	*done = false;
	checkpoint_init(&cp);
	if (!checkpoint_read(loop->s->meta, loop->s->ns, &cp, &found, error)) {
		checkpoint_cleanup(&cp);
		return false;
	}
	verdict = replay_drain_decide(&cp, found, loop->drain_start_ms, clock_wall_ms());
	if (verdict != REPLAY_DRAIN_CAUGHT_UP)
		drain_warn(loop, verdict, &cp);
	loop->drain_waits_for_capture =
		verdict != REPLAY_DRAIN_CAUGHT_UP && verdict != REPLAY_DRAIN_NO_CAPTURE;
	checkpoint_cleanup(&cp);
	if (verdict == REPLAY_DRAIN_HISTORY_LOST) {
		csm_error_set(error, CSM_EXIT_HISTORY_LOST,
			      "capture of '%s' lost its resume point and stopped: --drain cannot "
			      "complete; migrate this collection again from init",
			      loop->s->ns);
		return false;
	}
	if (loop->drain_waits_for_capture)
		return true;
	if (!count_pending(loop->s, 1, &pending, error))
		return false;
	*done = pending == 0;
	return true;
}

/* Everything is applied: whatever is still deferred can be built now,
 * unique ones first (TTL ones only at cutover). */
static step_t
finish_drain(replay_loop_t *loop, bson_error_t *error)
{
	replay_session_t *s = loop->s;

	if (!lease_hold(s->lease, error) ||
	    !replay_marker_create_deferred(s->meta, s->target, s->target_ns, &loop->marker, false,
					   error) ||
	    !lease_hold(s->lease, error) ||
	    !replay_marker_create_deferred(s->meta, s->target, s->target_ns, &loop->marker, true,
					   error))
		return retry_step(loop, "building the deferred indexes of", s->target_ns, false,
				  error);
	log_info("drained '%s': nothing pending and capture is past the drain start", s->ns);
	return STEP_STOP;
}

/* --max-wait has passed before the drain completed: 75, saying what it
 * waited for. */
static step_t
drain_out_of_time(replay_loop_t *loop, bson_error_t *error)
{
	csm_error_set(error, CSM_EXIT_TEMPFAIL,
		      "--drain of '%s' did not complete within --max-wait %" PRId64
		      " s (waiting for %s); every applied batch is marked done: run the same "
		      "command again to go on",
		      loop->s->ns, loop->s->opts->max_wait,
		      loop->drain_waits_for_capture
			      ? "capture to read the source past the drain start"
			      : "the pending events to be applied");
	return STEP_FAIL;
}

/* Caught up: wait for capture, without busy looping (replay_idle_next_ms). */
static void
idle_wait(replay_loop_t *loop)
{
	if (loop->batch.waiting_for_parts)
		log_debug("waiting for the remaining parts of a split event of '%s'", loop->s->ns);
	if (loop->idle_ms == 0)
		loop->idle_since_ms = clock_mono_ms();
	loop->idle_ms = replay_idle_next_ms(loop->idle_ms, clock_mono_ms() - loop->idle_since_ms);
	stop_sleep_ms(loop->idle_ms);
}

/*
 * SIGUSR1 turns a following replay into a draining one (cutover without
 * Ctrl-C): the drain starts now, so capture must read the source past this
 * moment, after the writes were stopped.
 */
static void
drain_on_signal(replay_loop_t *loop)
{
	if (loop->drain || !stop_drain_requested())
		return;
	loop->drain = true;
	loop->drain_start_ms = clock_wall_ms();
	log_info("drain requested (SIGUSR1): '%s' ends once nothing is pending and capture is "
		 "past this moment",
		 loop->s->ns);
}

/* One turn: take the batch read (ahead), then apply it, stop at its stop
 * event, end the drain or wait for more; all but applying wait for the
 * marks on the way first. */
static step_t
loop_step(replay_loop_t *loop, bson_error_t *error)
{
	replay_session_t *s = loop->s;
	bool drained = false;
	step_t step;

	/* First: a stop during the throttle's wait must end this turn. */
	replay_upkeep_turn(s->upkeep, loop->progress.applied);
	if (stop_requested()) {
		step = flush_marks(loop, error);
		if (step == STEP_NEXT)
			log_info("stop requested: every applied batch is marked done");
		return step == STEP_NEXT ? STEP_STOP : step;
	}
	drain_on_signal(loop);
	replay_txn_set_deadline(s->txn,
				loop->drain && s->opts->max_wait > 0
					? loop->progress.started_ms + s->opts->max_wait * 1000
					: 0);
	if (loop->drain && replay_drain_out_of_time(loop->progress.started_ms, clock_mono_ms(),
						    s->opts->max_wait)) {
		step = flush_marks(loop, error);
		return step == STEP_NEXT ? drain_out_of_time(loop, error) : step;
	}
	if (progress_due(&loop->progress))
		emit_status(loop, false);
	/* Every turn, idle ones too: a lost lease ends replay at once. */
	if (!lease_hold(s->lease, error))
		return retry_step(loop, "holding the lease of", s->target_ns, true, error);
	if (!take_batch(loop, error) || !replay_txn_hold_open(s->txn, &loop->batch, error))
		return retry_step(loop, "reading staged events of", s->ns, true, error);
	step = maybe_create_unique(loop, error);
	if (step != STEP_NEXT)
		return step;
	retry_reset(&loop->retry);
	if (loop->batch.len > 0)
		return apply_batch(loop, error);
	step = flush_marks(loop, error);
	if (step != STEP_NEXT)
		return step;
	if (loop->batch.has_stop)
		return stop_event(loop, error);
	if (loop->drain && !loop->batch.has_head && !drain_complete(loop, &drained, error))
		return retry_step(loop, "checking whether --drain is complete for", s->ns, true,
				  error);
	if (drained)
		return finish_drain(loop, error);
	idle_wait(loop);
	return STEP_NEXT;
}

/*
 * The loop has ended with step: the batch read ahead stays pending, the
 * mark on the way is waited for (a batch applied is marked done whenever
 * its mark can be written). A failing mark becomes the run's failure when
 * the loop's own end was not one, and is logged besides otherwise.
 */
static step_t
loop_settle(replay_loop_t *loop, step_t step, bson_error_t *error)
{
	bson_error_t mark_error = {0};
	step_t marked;

	drop_ahead(loop);
	marked = flush_marks(loop, &mark_error);
	if (marked == STEP_NEXT)
		return step;
	if (step == STEP_FAIL) {
		log_error("%s", mark_error.message);
		return step;
	}
	*error = mark_error;
	return marked;
}

int
replay_session_run(replay_session_t *s)
{
	replay_loop_t loop = {.s = s, .drain = s->opts->drain, .drain_start_ms = clock_wall_ms()};
	bson_error_t error = {0};
	step_t step;
	int rc = CSM_EXIT_OK;

	replay_batch_init(&loop.batch);
	replay_batch_init(&loop.ahead);
	replay_marker_init(&loop.marker);
	progress_init(&loop.progress, s->opts->status_interval);
	retry_init(&loop.retry, 0);
	step = load_marker(&loop, &error);
	while (step == STEP_NEXT)
		step = loop_step(&loop, &error);
	step = loop_settle(&loop, step, &error);
	if (step == STEP_FAIL) {
		log_error("%s", error.message);
		rc = csm_exit_code(&error);
	} else if (csm_error_is_stopped(&error)) {
		log_warn("%s", error.message);
	}
	emit_status(&loop, true);
	replay_marker_cleanup(&loop.marker);
	replay_batch_destroy(&loop.ahead);
	replay_batch_destroy(&loop.batch);
	return rc;
}
