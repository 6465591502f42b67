/*
 * cdc-replay: applies the pending staged events of one collection to the
 * target in seq order, marks them done, follows new ones and reports lag
 * (SPEC §2, §6). Killed at any point, the same command picks up where it
 * stopped: a batch applied but not marked is applied again, which converges
 * because every rule is idempotent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "replay_apply.h"
#include "replay_batch.h"
#include "replay_meta.h"
#include "replay_status.h"
#include "staging_format.h"
#include "stop.h"

/* A batch stops growing past this many staged bytes (one event may exceed
 * it): memory stays bounded by the batch size whatever the events weigh. */
#define REPLAY_MAX_BATCH_BYTES ((size_t)16 * 1024 * 1024)
#define REPLAY_DEFAULT_BATCH 1000
/* Measured on mongod-lite (2 cores): see the cdc-replay report. */
#define REPLAY_DEFAULT_WORKERS 1
#define REPLAY_IDLE_MAX_MS 1000

enum {
	OPT_DB = 0x2000,
	OPT_COLL,
	OPT_TO_DB,
	OPT_TO_COLL,
	OPT_STAGING_COLL,
	OPT_BATCH_SIZE,
	OPT_WORKERS,
	OPT_DRAIN,
	OPT_STATUS_INTERVAL,
	OPT_HELP,
};

static const char usage_text[] =
	"usage: cdc-replay --db DB --coll COLL [--to-db DB2] [--to-coll COLL2]\n"
	"                  [--staging-coll NAME] [--batch-size N] [--workers W]\n"
	"                  [--drain] [--status-interval S] [options]\n"
	"\n"
	"Applies the pending staged change events of DB.COLL, read from\n"
	"DB.NAME on the TARGET in seq order, to DB2.COLL2 on the target as ordered\n"
	"bulk writes, and marks each batch done. Keeps following new events until\n"
	"stopped (SIGINT/SIGTERM finish the current batch and exit 0). Restart it\n"
	"with the same command at any time: nothing is lost or applied out of\n"
	"order. Creates the indexes that dump-wrap restore deferred: the unique\n"
	"ones once every event up to the dump end is applied, the TTL ones when\n"
	"--drain completes.\n"
	"Exit status: 0 done or stopped, 4 stopped at a drop/rename/dropDatabase/\n"
	"invalidate event, 64 usage, 65 a real conflict or corrupt staged event,\n"
	"69 target unreachable.\n"
	"\n"
	"options:\n"
	"  --db DB                 source database of the staged events (required);\n"
	"                          the staging collection lives in DB on the target\n"
	"  --coll COLL             source collection (required)\n"
	"  --to-db DB2             target database (default: DB)\n"
	"  --to-coll COLL2         target collection (default: COLL)\n"
	"  --staging-coll NAME     staging collection (default: cdc)\n"
	"  --batch-size N          staged documents per batch, 1..100000 (default 1000)\n"
	"  --workers W             apply each batch in W parallel lanes split by\n"
	"                          documentKey, 1..64 (default 1)\n"
	"  --drain                 exit 0 once nothing is pending and capture has\n"
	"                          caught up past the moment cdc-replay started\n"
	"                          (cutover); creates the deferred TTL indexes\n"
	"  --status-interval S     status line every S seconds, 0 for none (default 10)\n"
	CONN_USAGE_TARGET CLI_USAGE_LOG
	"  --help                  print this help\n";

static void
usage(FILE *to)
{
	fputs(usage_text, to);
}

typedef struct replay_ctx {
	const char *ns;        /* "db.coll" of the source */
	const char *target_ns; /* "db2.coll2" */
	mongoc_collection_t *staging;
	mongoc_collection_t *meta;
	mongoc_collection_t *target;
} replay_ctx_t;

/* Server errors worth another try; our own errors never are. */
static bool
transient(const bson_error_t *error)
{
	return error->domain != CSM_ERROR_DOMAIN && csm_error_is_transient(error, NULL);
}

/* Pending staged documents of the ns; -1 when the count fails. */
static int64_t
count_pending(const replay_ctx_t *ctx, int64_t limit)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;
	int64_t n;

	BSON_APPEND_UTF8(&filter, "ns", ctx->ns);
	BSON_APPEND_UTF8(&filter, "status", STAGING_STATUS_PENDING);
	if (limit > 0)
		BSON_APPEND_INT64(&opts, "limit", limit);
	n = mongoc_collection_count_documents(ctx->staging, &filter, &opts, NULL, NULL, &error);
	if (n < 0)
		log_debug("cannot count pending events of '%s': %s", ctx->ns, error.message);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return n;
}

static void
emit_status(const replay_ctx_t *ctx, replay_status_t *st, int64_t fallbacks, bool final)
{
	replay_checkpoint_t cp;
	bson_error_t error;
	int64_t pending = count_pending(ctx, 0);
	bool have_cp = replay_checkpoint_load(ctx->meta, ctx->ns, &cp, &error);

	replay_status_emit(st, ctx->ns, pending, have_cp ? &cp : NULL, fallbacks, final);
}

/* Marks the applied batch done, retrying transient failures. */
static bool
mark_batch(const replay_ctx_t *ctx, const replay_batch_t *batch, bson_error_t *error)
{
	int64_t first = batch->events[0].first_seq;
	int64_t last = batch->events[batch->len - 1].last_seq;

	for (unsigned attempt = 0;; attempt++) {
		bson_t reply;
		bool ok = replay_batch_mark_done(ctx->staging, ctx->ns, first, last, &reply, error);
		bool retry = !ok && error->domain != CSM_ERROR_DOMAIN &&
			     csm_error_is_transient(error, &reply);

		bson_destroy(&reply);
		if (ok)
			return true;
		if (!retry)
			return false;
		if (!replay_backoff(attempt, "marking a batch done failed", error)) {
			csm_error_set(error, CSM_EXIT_OK,
				      "stopped before seq %" PRId64 "..%" PRId64
				      " could be marked done; they are applied and will be applied "
				      "again (harmlessly) on restart",
				      first, last);
			return false;
		}
	}
}

/*
 * The catch-up window (SPEC §6): once no pending event is at or before the
 * dump end (head is the first pending one) and capture's checkpoint has
 * passed it, every event the dump may have raced with is applied: the
 * deferred unique indexes can be built.
 */
static bool
maybe_create_unique(const replay_ctx_t *ctx, replay_marker_t *marker, const replay_batch_t *batch,
		    bool *waiting_logged, bson_error_t *error)
{
	replay_checkpoint_t cp;

	if (marker->unique_created || !marker->has_dump_end)
		return true;
	if (batch->has_head && batch->head_time_t != 0 &&
	    replay_ts_cmp(batch->head_time_t, batch->head_time_i, marker->dump_end_t,
			  marker->dump_end_i) <= 0)
		return true;
	if (!replay_checkpoint_load(ctx->meta, ctx->ns, &cp, error))
		return false;
	if (!cp.found ||
	    replay_ts_cmp(cp.ct_t, cp.ct_i, marker->dump_end_t, marker->dump_end_i) < 0) {
		if (!*waiting_logged)
			log_info("deferred unique indexes of '%s' wait for capture to pass the "
				 "dump end (%u, %u)",
				 ctx->target_ns, marker->dump_end_t, marker->dump_end_i);
		*waiting_logged = true;
		return true;
	}
	return replay_marker_create_deferred(ctx->meta, ctx->target, ctx->target_ns, marker,
					     false, error);
}

/*
 * --drain: done when capture's checkpoint position (its clusterTime: the
 * source time it has read up to, which an idle stream's postBatchResumeToken
 * keeps advancing) is at or past drain_start_ms, and nothing is pending
 * after that was read: every event written before the drain began is then
 * staged and applied. heartbeatAt alone proves only that capture is alive
 * (it is written while capture works through a backlog too), so it counts
 * only for a checkpoint without a clusterTime. Sets *done; a capture that
 * lost its resume point makes waiting useless (exit 3).
 */
static bool
drain_complete(const replay_ctx_t *ctx, int64_t drain_start_ms, bool *warned, bool *done,
	       bson_error_t *error)
{
	replay_checkpoint_t cp;
	int64_t pending;

	*done = false;
	if (!replay_checkpoint_load(ctx->meta, ctx->ns, &cp, error))
		return false;
	if (!cp.found) {
		if (!*warned)
			log_warn("no capture checkpoint for '%s' in '%s': capture never ran; "
				 "--drain ends once nothing is pending",
				 ctx->ns, mongoc_collection_get_name(ctx->meta));
		*warned = true;
	} else if (cp.ct_t ? (int64_t)cp.ct_t * 1000 < drain_start_ms
			   : cp.heartbeat_ms <= drain_start_ms) {
		if (strcmp(cp.state, "history-lost") == 0) {
			csm_error_set(error, CSM_EXIT_HISTORY_LOST,
				      "capture of '%s' lost its resume point and stopped: --drain "
				      "cannot complete; migrate this collection again from init",
				      ctx->ns);
			return false;
		}
		if (!*warned && strcmp(cp.state, "running") != 0 && cp.state[0])
			log_warn("capture of '%s' is '%s' and its checkpoint predates the "
				 "drain: --drain waits for capture to run again",
				 ctx->ns, cp.state);
		*warned = true;
		return true;
	}
	pending = count_pending(ctx, 1);
	if (pending < 0) {
		csm_error_set(error, CSM_EXIT_TEMPFAIL, "cannot count pending events");
		return false;
	}
	*done = pending == 0;
	return true;
}

/* The follow loop; returns the exit code. */
static int
run(const replay_ctx_t *ctx, replay_applier_t *applier, int64_t batch_size, bool drain,
    int64_t status_interval)
{
	replay_batch_t batch;
	replay_marker_t marker;
	replay_status_t st;
	bson_error_t error = {0};
	int64_t drain_start_ms = replay_now_ms();
	unsigned attempt = 0;
	long idle_ms = 0;
	bool unique_waiting_logged = false, drain_warned = false;
	int rc = CSM_EXIT_SOFTWARE;

	replay_batch_init(&batch);
	replay_marker_init(&marker);
	replay_status_init(&st, status_interval);

	while (!replay_marker_load(ctx->meta, ctx->target_ns, &marker, &error)) {
		if (!transient(&error) ||
		    !replay_backoff(attempt++, "reading the restore marker failed", &error))
			goto fail;
	}
	attempt = 0;
	if (marker.found && marker.has_dump_end)
		replay_applier_set_window(applier, marker.dump_end_t, marker.dump_end_i);
	if (marker.found)
		log_info("restore marker of '%s': %zu deferred unique, %zu deferred TTL "
			 "index(es)%s",
			 ctx->target_ns, marker.n_unique, marker.n_ttl,
			 marker.has_dump_end ? "" : ", no dump end time");

	for (;;) {
		bool drained = false;

		if (stop_requested()) {
			log_info("stop requested: every applied batch is marked done");
			break;
		}
		if (replay_status_due(&st))
			emit_status(ctx, &st, replay_applier_fallbacks(applier), false);

		if (!replay_batch_read(ctx->staging, ctx->ns, batch_size, REPLAY_MAX_BATCH_BYTES,
				       &batch, &error) ||
		    !maybe_create_unique(ctx, &marker, &batch, &unique_waiting_logged, &error)) {
			if (transient(&error) &&
			    replay_backoff(attempt++, "reading staged events failed", &error))
				continue;
			if (stop_requested())
				break;
			goto fail;
		}
		attempt = 0;

		if (batch.len > 0) {
			if (!replay_applier_apply(applier, &batch, &error) ||
			    !mark_batch(ctx, &batch, &error)) {
				if (csm_exit_code(&error) == CSM_EXIT_OK) {
					log_warn("%s", error.message);
					break;
				}
				goto fail;
			}
			replay_status_batch_done(&st, &batch);
			idle_ms = 0;
			continue;
		}
		if (batch.has_stop) {
			char *what = replay_event_describe(&batch.stop_event);

			if (batch.stop_event.kind == APPLY_KIND_STOP) {
				csm_error_set(&error, CSM_EXIT_DDL,
					      "stopped at %s on '%s': every event before it is "
					      "applied; a drop, rename, dropDatabase or invalidate "
					      "cannot be replayed as data: migrate the collection "
					      "again from init (the event stays pending)",
					      what, ctx->ns);
			} else {
				csm_error_set(&error, CSM_EXIT_DATAERR,
					      "stopped at %s on '%s': unknown operationType '%s' "
					      "that cdc-replay cannot apply; every event before it "
					      "is applied",
					      what, ctx->ns, batch.stop_event.operation_type);
			}
			bson_free(what);
			goto fail;
		}
		if (drain && !batch.has_head) {
			if (!drain_complete(ctx, drain_start_ms, &drain_warned, &drained, &error)) {
				if (transient(&error) &&
				    replay_backoff(attempt++, "checking the drain failed", &error))
					continue;
				if (stop_requested())
					break;
				goto fail;
			}
		}
		if (drained) {
			/* Everything is applied: whatever is still deferred can be
			 * built now, unique ones first (TTL ones only at cutover). */
			if (!replay_marker_create_deferred(ctx->meta, ctx->target, ctx->target_ns,
							   &marker, false, &error) ||
			    !replay_marker_create_deferred(ctx->meta, ctx->target, ctx->target_ns,
							   &marker, true, &error)) {
				if (transient(&error) &&
				    replay_backoff(attempt++, "creating deferred indexes failed",
						   &error))
					continue;
				goto fail;
			}
			log_info("drained '%s': nothing pending and capture is past the drain "
				 "start",
				 ctx->ns);
			break;
		}
		if (batch.waiting_for_parts)
			log_debug("waiting for the remaining parts of a split event of '%s'",
				  ctx->ns);
		/* Caught up: wait for capture, without busy looping. */
		idle_ms = idle_ms ? idle_ms * 2 : 50;
		if (idle_ms > REPLAY_IDLE_MAX_MS)
			idle_ms = REPLAY_IDLE_MAX_MS;
		stop_sleep_ms(idle_ms);
	}
	rc = CSM_EXIT_OK;
	goto done;
fail:
	log_error("%s", error.message);
	rc = csm_exit_code(&error);
done:
	emit_status(ctx, &st, replay_applier_fallbacks(applier), true);
	replay_marker_cleanup(&marker);
	replay_batch_destroy(&batch);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"to-db", required_argument, NULL, OPT_TO_DB},
		{"to-coll", required_argument, NULL, OPT_TO_COLL},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"drain", no_argument, NULL, OPT_DRAIN},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		{"help", no_argument, NULL, OPT_HELP},
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_LOG,
		{NULL, 0, NULL, 0},
	};
	conn_opts_t conn = {0};
	cli_log_opts_t log_opts;
	const char *db = NULL, *coll = NULL, *to_db = NULL, *to_coll = NULL;
	const char *staging_name = STAGING_DEFAULT_COLL;
	int64_t batch_size = REPLAY_DEFAULT_BATCH, workers = REPLAY_DEFAULT_WORKERS;
	int64_t status_interval = 10;
	bool drain = false;
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client = NULL;
	replay_applier_t *applier = NULL;
	replay_ctx_t ctx = {0};
	char *ns = NULL, *target_ns = NULL, *meta_name = NULL;
	bson_error_t error = {0};
	bool mongoc_ready = false;
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_log_opts_init(&log_opts);
	log_init("cdc-replay", log_opts.level, log_opts.format);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		taken = conn_opts_take(&conn, opt, optarg, &error);
		if (taken == 0)
			taken = cli_take_log_opt(&log_opts, opt, optarg, &error);
		if (taken < 0)
			goto fail;
		if (taken > 0)
			continue;
		switch (opt) {
		case OPT_DB:
			db = optarg;
			break;
		case OPT_COLL:
			coll = optarg;
			break;
		case OPT_TO_DB:
			to_db = optarg;
			break;
		case OPT_TO_COLL:
			to_coll = optarg;
			break;
		case OPT_STAGING_COLL:
			staging_name = optarg;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &batch_size, &error))
				goto fail_usage;
			break;
		case OPT_WORKERS:
			if (!cli_parse_int("--workers", optarg, 1, 64, &workers, &error))
				goto fail_usage;
			break;
		case OPT_DRAIN:
			drain = true;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 0, 86400, &status_interval,
					   &error))
				goto fail_usage;
			break;
		case OPT_HELP:
			usage(stdout);
			rc = CSM_EXIT_OK;
			goto cleanup;
		default:
			usage(stderr);
			rc = CSM_EXIT_USAGE;
			goto cleanup;
		}
	}
	log_init("cdc-replay", log_opts.level, log_opts.format);
	if (optind < argc) {
		csm_error_set(&error, CSM_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		goto fail_usage;
	}
	if (!db || !*db || !coll || !*coll) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--db and --coll are required");
		goto fail_usage;
	}
	if ((to_db && !*to_db) || (to_coll && !*to_coll) || !*staging_name) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "--to-db, --to-coll and --staging-coll must not be empty");
		goto fail_usage;
	}
	if (!conn_opts_resolve(&conn, false, true, &error))
		goto fail_usage;

	ns = bson_strdup_printf("%s.%s", db, coll);
	target_ns = bson_strdup_printf("%s.%s", to_db ? to_db : db, to_coll ? to_coll : coll);
	meta_name = bson_strdup_printf("%s%s", staging_name, STAGING_META_SUFFIX);
	stop_install_handlers();
	conn_global_init();
	mongoc_ready = true;
	pool = conn_pool_new(conn.target_uri, "target", &error);
	if (!pool)
		goto fail;
	client = mongoc_client_pool_pop(pool);
	ctx.ns = ns;
	ctx.target_ns = target_ns;
	ctx.staging = mongoc_client_get_collection(client, db, staging_name);
	ctx.meta = mongoc_client_get_collection(client, db, meta_name);
	ctx.target = mongoc_client_get_collection(client, to_db ? to_db : db,
						  to_coll ? to_coll : coll);
	applier = replay_applier_new(pool, client, to_db ? to_db : db, to_coll ? to_coll : coll,
				     (int)workers);
	log_info("replaying '%s' from '%s.%s' onto '%s' (batch %" PRId64 ", workers %" PRId64
		 "%s)",
		 ns, db, staging_name, target_ns, batch_size, workers, drain ? ", drain" : "");
	rc = run(&ctx, applier, batch_size, drain, status_interval);
	goto cleanup;

fail_usage:
	log_error("%s", error.message);
	usage(stderr);
	rc = CSM_EXIT_USAGE;
	goto cleanup;
fail:
	log_error("%s", error.message);
	rc = csm_exit_code(&error);
cleanup:
	replay_applier_destroy(applier);
	mongoc_collection_destroy(ctx.target);
	mongoc_collection_destroy(ctx.meta);
	mongoc_collection_destroy(ctx.staging);
	if (client)
		mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	if (mongoc_ready)
		conn_global_cleanup();
	conn_opts_cleanup(&conn);
	bson_free(meta_name);
	bson_free(target_ns);
	bson_free(ns);
	if (fclose(stdout) != 0 && rc == CSM_EXIT_OK)
		rc = CSM_EXIT_IOERR;
	return rc;
}
