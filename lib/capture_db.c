/* cdc-capture over a database (capture_db.h). */
#include "capture_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "capture_dbns.h"
#include "capture_dbtxn.h"
#include "capture_reader.h"
#include "catalog.h"
#include "clock.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "marker.h"
#include "staging_format.h"
#include "stop.h"

/* The position is rewritten at most this often while idle. */
#define POSITION_IDLE_EVERY_MS 1000

struct capture_db {
	const capture_config_t *config;
	const collset_t *colls;
	mongoc_client_t *source, *target;
	capture_source_t *src;
	capture_reader_t reader;
	bson_t match;
	dbns_set_t set;
	capture_dbtxn_t txn;       /* records of transactions across collections */
	mongoc_collection_t *meta; /* where they go; NULL until the first */
	/* The newest event read and handled: staged once the batches are. */
	bson_t read_token;
	optime_t read_time;
	size_t pending;           /* events in the batches */
	int64_t first_pending_ms; /* when the oldest came */
	int64_t last_pos_ms;
	int64_t last_status_ms;
	char what[300]; /* "database 'db' (stream)" for messages */
};

static void
all_status(capture_db_t *run, const char *state, bool final)
{
	optime_t source_time;
	bool caught_up = run->reader.idle && capture_source_op_time(run->src, &source_time);
	size_t i;

	for (i = 0; i < run->set.n; i++) {
		dbns_t *x = run->set.ns[i];

		if (x->state == DBNS_CAPTURING || x->state == DBNS_SKIPPING)
			capture_ns_status(&x->cns, state, caught_up ? &source_time : NULL, final);
	}
	run->last_status_ms = clock_mono_ms();
}

static void
maybe_status(capture_db_t *run)
{
	if (clock_mono_ms() - run->last_status_ms >= run->config->status_interval * 1000)
		all_status(run, run->reader.idle ? "idle" : "streaming", false);
}

/* The records of transactions across collections, before their events are
 * staged (capture_dbtxn.h), under every namespace's lease. */
static bool
flush_txn_records(capture_db_t *run, bson_error_t *error)
{
	if (!capture_dbtxn_due(&run->txn))
		return true;
	for (size_t i = 0; i < run->set.n; i++)
		if (run->set.ns[i]->state == DBNS_CAPTURING && run->set.ns[i]->lease &&
		    !lease_hold(run->set.ns[i]->lease, error))
			return false;
	if (!run->meta) {
		char *name = marker_meta_coll_name(run->config->staging_coll);
		run->meta = mongoc_client_get_collection(run->target, run->config->db, name);
		bson_free(name);
	}
	return capture_dbtxn_flush(&run->txn, run->meta, error);
}

/*
 * Stages every batch, then moves every namespace and the position file to
 * the newest event read: all before it is staged.
 */
static bool
flush_all(capture_db_t *run, bson_error_t *error)
{
	size_t i;

	if (!flush_txn_records(run, error))
		return false;
	for (i = 0; i < run->set.n; i++) {
		capture_ns_t *cns = &run->set.ns[i]->cns;

		if (cns->batch.n && !capture_ns_flush(cns, error))
			return false;
	}
	if (bson_empty(&run->read_token))
		return true;
	for (i = 0; i < run->set.n; i++) {
		dbns_t *x = run->set.ns[i];

		if (x->state != DBNS_CAPTURING)
			continue;
		capture_ns_advance(&x->cns, &run->read_token, run->read_time);
		if (capture_ns_checkpoint_due(&x->cns) &&
		    !capture_ns_checkpoint(&x->cns, CHECKPOINT_STATE_RUNNING, NULL, false, error))
			return false;
	}
	/* Idle: the position moves at most every second. */
	if (!run->pending && clock_mono_ms() - run->last_pos_ms < POSITION_IDLE_EVERY_MS)
		return true;
	run->pending = 0;
	run->last_pos_ms = clock_mono_ms();
	return dbns_write_position(&run->set, &run->read_token, run->read_time, error);
}

static bool
stop_cleanly(capture_db_t *run, bson_error_t *error)
{
	size_t i, n = 0;

	capture_reader_close(&run->reader);
	run->pending = 1; /* the position is written whatever its age */
	if (!flush_all(run, error))
		return false;
	for (i = 0; i < run->set.n; i++) {
		dbns_t *x = run->set.ns[i];

		if (x->state != DBNS_CAPTURING && x->state != DBNS_SKIPPING)
			continue;
		n++;
		if (!capture_ns_checkpoint(&x->cns, CHECKPOINT_STATE_STOPPED, NULL, false, error))
			return false;
	}
	all_status(run, "stopped", true);
	csm_error_stopped(error,
			  "stopped on signal: %zu collections of %s staged, position in '%s'", n,
			  run->what, run->set.pos_path);
	return false;
}

/* True while a collection is still captured (or may come, --all-colls). */
static bool
any_left(const capture_db_t *run)
{
	size_t i;

	if (run->colls->all)
		return true;
	for (i = 0; i < run->set.n; i++)
		if (run->set.ns[i]->state == DBNS_CAPTURING ||
		    run->set.ns[i]->state == DBNS_SKIPPING)
			return true;
	return false;
}

/* x's drop or rename is in its batch: staged, x stops, the others go on. */
static bool
stop_ns(capture_db_t *run, dbns_t *x, const char *optype, bson_error_t *error)
{
	char detail[512];
	int64_t seq;

	run->pending++;
	if (!flush_all(run, error))
		return false;
	seq = capture_ns_staged_seq(&x->cns);
	snprintf(detail, sizeof detail, "'%s' event on '%s' staged as seq %" PRId64, optype,
		 x->cns.ns, seq);
	if (!capture_ns_checkpoint(&x->cns, CHECKPOINT_STATE_DDL, detail, true, error))
		return false;
	x->state = DBNS_STOPPED;
	capture_ns_status(&x->cns, "stopped", NULL, true);
	log_warn("stopped capturing '%s' at a '%s' event (staged as seq %" PRId64 "): its "
		 "cdc-replay applies every event before it and exits 4; migrate it again once the "
		 "source is settled; the other collections go on",
		 x->cns.ns, optype, seq);
	if (!dbns_write_position(&run->set, NULL, OPTIME_ZERO, error))
		return false;
	if (any_left(run))
		return true;
	csm_error_set(error, CSM_EXIT_DDL,
		      "every collection of %s stopped at a drop or rename (the last: '%s')",
		      run->what, x->cns.ns);
	return false;
}

/* dropDatabase or invalidate: everything is staged, every namespace stops. */
static bool
stop_all(capture_db_t *run, const char *optype, bson_error_t *error)
{
	size_t i;

	capture_reader_close(&run->reader);
	run->pending++;
	if (!flush_all(run, error))
		return false;
	for (i = 0; i < run->set.n; i++) {
		dbns_t *x = run->set.ns[i];

		if (x->state != DBNS_CAPTURING && x->state != DBNS_SKIPPING)
			continue;
		x->state = DBNS_STOPPED;
		if (!capture_ns_checkpoint(&x->cns, CHECKPOINT_STATE_DDL, optype, true, error))
			return false;
	}
	if (!dbns_write_position(&run->set, NULL, OPTIME_ZERO, error))
		return false;
	csm_error_set(error, CSM_EXIT_DDL,
		      "stopped at a '%s' event on %s: every collection stopped; migrate them "
		      "again once the source is settled",
		      optype, run->what);
	return false;
}

/* A string field at path of event into out ("" when absent). */
static void
event_str(const bson_t *event, const char *path, char *out, size_t size)
{
	bson_iter_t it;

	out[0] = '\0';
	if (bson_iter_init(&it, event) && bson_iter_find_descendant(&it, path, &it) &&
	    BSON_ITER_HOLDS_UTF8(&it))
		bson_strncpy(out, bson_iter_utf8(&it, NULL), size);
}

/* The namespace of coll; a new one when --all-colls (or a rename into it). */
static bool
ns_for(capture_db_t *run, const char *coll, bool take_new, dbns_t **x, bson_error_t *error)
{
	*x = NULL;
	if (!*coll)
		return true;
	if ((*x = dbns_find(&run->set, coll)) || !(take_new || run->colls->all))
		return true;
	if (!(*x = dbns_add(&run->set, coll, false, error)))
		return false;
	if ((*x)->state == DBNS_CAPTURING)
		log_info("capturing '%s' from its first event (a collection new to %s)",
			 (*x)->cns.ns, run->what);
	return dbns_write_position(&run->set, NULL, OPTIME_ZERO, error);
}

/* Hands event to x; *stopped when it was x's drop or rename. */
static bool
feed(capture_db_t *run, dbns_t *x, const bson_t *event, const char *optype, bson_error_t *error)
{
	bson_iter_t it;

	if (!x || x->state == DBNS_STOPPED || x->state == DBNS_IGNORED)
		return true;
	if (x->state == DBNS_SKIPPING) {
		/* Staged before the crash; the next one is new. */
		if (bson_iter_init_find(&it, event, EVENT_F_ID) && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_t id;
			uint32_t len;
			const uint8_t *data;

			bson_iter_document(&it, &len, &data);
			if (bson_init_static(&id, data, len) &&
			    bson_equal(&id, &x->cns.last_staged_token))
				x->state = DBNS_CAPTURING;
		}
		return true;
	}
	int64_t first = x->cns.batch.first_seq + (int64_t)x->cns.batch.n;
	if (!capture_ns_add(&x->cns, event, error))
		return false;
	capture_dbtxn_part(&run->txn, x->cns.ns, first,
			   x->cns.batch.first_seq + (int64_t)x->cns.batch.n - 1);
	if (!run->pending++)
		run->first_pending_ms = clock_mono_ms();
	if (capture_is_ddl(optype))
		return stop_ns(run, x, optype, error);
	return true;
}

static void
note_read(capture_db_t *run, const bson_t *event)
{
	bson_iter_t it;
	uint32_t len;
	const uint8_t *data;
	bson_t token;

	if (!bson_iter_init_find(&it, event, EVENT_F_ID) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return;
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&token, data, len))
		return;
	bson_destroy(&run->read_token);
	bson_copy_to(&token, &run->read_token);
	if (!bson_iter_init_find(&it, event, EVENT_F_CLUSTER_TIME) ||
	    !BSON_ITER_HOLDS_TIMESTAMP(&it))
		return;
	bson_iter_timestamp(&it, &run->read_time.t, &run->read_time.i);
}

static bool
batch_due(const capture_db_t *run)
{
	size_t i;

	if (!run->pending)
		return false;
	if (run->pending >= (size_t)run->config->batch_size ||
	    clock_mono_ms() - run->first_pending_ms >= run->config->batch_ms)
		return true;
	for (i = 0; i < run->set.n; i++)
		if (run->set.ns[i]->cns.batch.n && capture_ns_batch_due(&run->set.ns[i]->cns))
			return true;
	return false;
}

static bool
take_event(capture_db_t *run, const bson_t *event, bson_error_t *error)
{
	char optype[64], coll[256], to_coll[256], to_db[256];
	dbns_t *x, *y = NULL;

	event_str(event, EVENT_F_OPERATION_TYPE, optype, sizeof optype);
	event_str(event, "ns.coll", coll, sizeof coll);
	event_str(event, "to.coll", to_coll, sizeof to_coll);
	event_str(event, "to.db", to_db, sizeof to_db);
	note_read(run, event);
	capture_dbtxn_read(&run->txn, event);
	if (!strcmp(optype, "dropDatabase") || !strcmp(optype, "invalidate"))
		return stop_all(run, optype, error);
	if (!ns_for(run, coll, false, &x, error))
		return false;
	/* A rename into a captured collection stops it too: it now holds
	 * documents no event brought. */
	if (!strcmp(optype, "rename") && !strcmp(to_db, run->config->db) &&
	    (!ns_for(run, to_coll, collset_has(run->colls, to_coll), &y, error)))
		return false;
	if (!feed(run, x, event, optype, error) || (y && !feed(run, y, event, optype, error)))
		return false;
	if (capture_reader_event_ends_mode(&run->reader)) {
		if (!flush_all(run, error))
			return false;
		capture_reader_close(&run->reader);
		return true;
	}
	if (batch_due(run) && !flush_all(run, error))
		return false;
	maybe_status(run);
	return true;
}

/* An empty getMore: stage what we have; the PBRT is every namespace's. */
static bool
batch_empty(capture_db_t *run, bson_error_t *error)
{
	const bson_t *pbrt;
	optime_t op_time;

	if (run->pending && !flush_all(run, error))
		return false;
	if (capture_reader_batch_empty(&run->reader, &pbrt) && pbrt && !bson_empty(pbrt)) {
		capture_source_idle_time(run->src, pbrt, &op_time);
		bson_destroy(&run->read_token);
		bson_copy_to(pbrt, &run->read_token);
		run->read_time = op_time;
		for (size_t i = 0; i < run->set.n; i++)
			capture_ns_caught_up(&run->set.ns[i]->cns, run->reader.asked_ms);
		if (!flush_all(run, error))
			return false;
	}
	maybe_status(run);
	return true;
}

static bool
stream_failed(capture_db_t *run, const bson_error_t *cause, const bson_t *reply,
	      bson_error_t *error)
{
	bson_error_t said;
	capture_verdict_t verdict;
	size_t i;

	/* What was read before the error is good: stage it first. */
	if (!flush_all(run, error))
		return false;
	if (stop_requested())
		return stop_cleanly(run, error);
	verdict = capture_reader_verdict(&run->reader, cause, reply, run->what, &said);
	if (verdict == CAPTURE_VERDICT_HISTORY_LOST)
		for (i = 0; i < run->set.n; i++)
			if (run->set.ns[i]->state == DBNS_CAPTURING)
				capture_ns_checkpoint(&run->set.ns[i]->cns,
						      CHECKPOINT_STATE_HISTORY_LOST, cause->message,
						      false, error);
	switch (capture_reader_after(&run->reader, verdict, &said, run->what, error)) {
	case CAPTURE_AFTER_READ_ON:
		return true;
	case CAPTURE_AFTER_STOP:
		return stop_cleanly(run, error);
	default:
		return false;
	}
}

bool
capture_db_next(capture_db_t *run, bson_error_t *error)
{
	const bson_t *event, *reply = NULL;
	bson_error_t cause;

	if (stop_requested())
		return stop_cleanly(run, error);
	if (!run->reader.stream) {
		if (capture_reader_open(&run->reader, &run->set.pos.resume_token, &cause, &reply))
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

/* Every collection of the selection, and those the position file knows. */
static bool
open_namespaces(capture_db_t *run, bson_error_t *error)
{
	collset_t found;
	bson_iter_t it;
	size_t i;
	bool ok = true;

	collset_init(&found);
	found.all = run->colls->all;
	for (i = 0; i < run->colls->n; i++)
		collset_add(&found, run->colls->names[i], error);
	if (found.all && !collset_resolve(&found, run->source, run->config->db, error))
		ok = false;
	for (i = 0; ok && i < found.n; i++)
		if (!dbns_known(&run->set, found.names[i]) && !found.all)
			ok = catalog_source_collection(run->source, run->config->db, found.names[i],
						       NULL, error);
	ok = ok && collset_check_staging(&found, run->config->db, run->config->staging_coll, error);
	/* And those seen before (one named like the staging: ignored again). */
	if (ok && bson_iter_init(&it, &run->set.pos.namespaces))
		while (bson_iter_next(&it))
			collset_add(&found, bson_iter_key(&it), error);
	for (i = 0; ok && i < found.n; i++)
		ok = dbns_add(&run->set, found.names[i], true, error) != NULL;
	collset_cleanup(&found);
	if (ok && !any_left(run)) {
		csm_error_set(error, CSM_EXIT_DDL,
			      "every collection of %s already stopped at a drop or rename: nothing "
			      "to capture",
			      run->what);
		ok = false;
	}
	return ok;
}

/*
 * --full-document required|whenAvailable: post-images are kept per
 * collection and the stream's option applies to all, so each collection
 * captured must keep them (required: 64 naming those that do not, before
 * anything is staged; whenAvailable: a warning naming them, their updates
 * are staged with their description). One created later is the server's
 * to refuse ("Database mode").
 */
static bool
check_post_images(capture_db_t *run, bson_error_t *error)
{
	bson_string_t *without = bson_string_new(NULL);
	size_t i, n = 0;
	bool ok = true, exists, enabled;

	for (i = 0; ok && i < run->set.n; i++) {
		const dbns_t *x = run->set.ns[i];

		if (x->state != DBNS_CAPTURING && x->state != DBNS_SKIPPING)
			continue;
		ok = catalog_post_images(run->source, run->config->db, x->coll, &exists, &enabled,
					 error);
		/* One gone meanwhile stops at its drop, which the stream holds. */
		if (ok && exists && !enabled)
			bson_string_append_printf(without, "%s%s", n++ ? ", " : "", x->coll);
	}
	if (ok && n && strcmp(run->config->post_image, "required") == 0) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "--full-document required needs post-images, and these collections "
			      "of '%s' on the source do not keep them: %s; enable them with "
			      "collMod changeStreamPreAndPostImages: {enabled: true} (MongoDB "
			      "6.0+), or capture with --full-document default",
			      run->config->db, without->str);
		ok = false;
	} else if (ok && n) {
		log_warn("these collections of '%s' on the source keep no post-images: with "
			 "--full-document whenAvailable their updates are staged with their "
			 "description only: %s",
			 run->config->db, without->str);
	}
	bson_string_free(without, true);
	return ok;
}

static bool
open_source(capture_db_t *run, bson_error_t *error)
{
	const capture_config_t *config = run->config;
	capture_stream_opts_t opts = {0};

	if (!(run->src = capture_source_new(run->source, config->db, NULL, error)))
		return false;
	opts.update_lookup = config->update_lookup;
	opts.post_image = config->post_image;
	opts.split_events = !config->split_never && capture_source_has_split_stage(run->src);
	opts.expanded_events = capture_source_has_expanded_events(run->src);
	opts.batch_size = (int32_t)config->batch_size;
	opts.max_await_ms = config->batch_ms;
	if (collset_match(run->colls, &run->match))
		opts.match = &run->match;
	capture_reader_init(&run->reader, run->src, &opts);
	return true;
}

capture_db_t *
capture_db_new(const capture_config_t *config, const collset_t *colls, const char *source_uri,
	       const char *target_uri, bson_error_t *error)
{
	capture_db_t *run = bson_malloc0(sizeof *run);
	capture_ns_limits_t limits = {config->batch_size, config->batch_ms,
				      config->status_interval * 1000};

	run->config = config;
	run->colls = colls;
	bson_init(&run->match);
	bson_init(&run->read_token);
	snprintf(run->what, sizeof run->what, "database '%s' (one stream)", config->db);
	if (!dbns_set_init(&run->set, config->db, config->state_dir, error) ||
	    !collset_check_staging(colls, config->db, config->staging_coll, error))
		goto fail;
	run->set.staging_coll = config->staging_coll;
	run->set.target_uri = target_uri;
	run->set.limits = limits;
	if (!(run->target = conn_client_new(target_uri, "cdc-capture-target", error)) ||
	    !(run->source = conn_client_new(source_uri, "cdc-capture-source", error)))
		goto fail;
	run->set.target = run->target;
	if (!open_source(run, error) || !open_namespaces(run, error) ||
	    (config->post_image && !check_post_images(run, error)) ||
	    !dbns_write_position(&run->set, NULL, OPTIME_ZERO, error))
		goto fail;
	run->last_status_ms = run->last_pos_ms = clock_mono_ms();
	log_info("capturing %zu collections of %s into '%s.%s' from '%s', source %s%s", run->set.n,
		 run->what, config->db, config->staging_coll, run->set.pos_path,
		 capture_source_version(run->src),
		 run->reader.opts.split_events ? ", splitting large events" : "");
	return run;
fail:
	capture_db_destroy(run);
	return NULL;
}

void
capture_db_destroy(capture_db_t *run)
{
	if (!run)
		return;
	dbns_set_cleanup(&run->set);
	capture_reader_cleanup(&run->reader);
	capture_source_destroy(run->src);
	bson_destroy(&run->match);
	bson_destroy(&run->read_token);
	capture_dbtxn_cleanup(&run->txn);
	mongoc_collection_destroy(run->meta);
	mongoc_client_destroy(run->source);
	mongoc_client_destroy(run->target);
	bson_free(run);
}

bool
capture_db_list(const char *state_dir, const char *db, FILE *out, bson_error_t *error)
{
	dbns_set_t set;
	bson_iter_t it, child;

	if (!dbns_set_init(&set, db, state_dir, error)) {
		dbns_set_cleanup(&set);
		return false;
	}
	if (bson_iter_init(&it, &set.pos.namespaces))
		while (bson_iter_next(&it)) {
			const char *state = "capturing";

			if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &child) &&
			    bson_iter_find(&child, "state") && BSON_ITER_HOLDS_UTF8(&child))
				state = bson_iter_utf8(&child, NULL);
			fprintf(out, "%s\t%s\n", bson_iter_key(&it), state);
		}
	dbns_set_cleanup(&set);
	return true;
}
