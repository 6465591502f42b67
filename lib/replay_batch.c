/*
 * Reading pending staged events in seq order and marking them done.
 */
#include "replay_batch.h"

#include <string.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "exitcodes.h"
#include "staging_format.h"

void
replay_batch_init(replay_batch_t *batch)
{
	memset(batch, 0, sizeof *batch);
}

void
replay_batch_clear(replay_batch_t *batch)
{
	for (size_t i = 0; i < batch->len; i++)
		bson_destroy(batch->events[i].event);
	batch->len = 0;
	batch->bytes = 0;
	batch->has_head = false;
	if (batch->has_stop)
		bson_destroy(batch->stop_event.event);
	batch->stop_event.event = NULL;
	batch->has_stop = false;
	batch->waiting_for_parts = false;
}

void
replay_batch_destroy(replay_batch_t *batch)
{
	replay_batch_clear(batch);
	bson_free(batch->events);
	memset(batch, 0, sizeof *batch);
}

/* The parts of the event being read; owned copies of staged documents. */
typedef struct part_group {
	bson_t **parts;
	size_t len;
	size_t cap;
	int32_t of;
	int64_t last_seq;
} part_group_t;

static void
group_clear(part_group_t *g)
{
	for (size_t i = 0; i < g->len; i++)
		bson_destroy(g->parts[i]);
	g->len = 0;
	g->of = 0;
}

static int64_t
staged_seq(const bson_t *staged)
{
	bson_iter_t iter;

	if (bson_iter_init_find(&iter, staged, STAGED_F_SEQ) &&
	    (BSON_ITER_HOLDS_INT64(&iter) || BSON_ITER_HOLDS_INT32(&iter)))
		return bson_iter_as_int64(&iter);
	return -1;
}

/* Fills ev's metadata (not event) from the first staged part. */
static void
event_meta_from_staged(replay_event_t *ev, const bson_t *staged, int64_t first_seq,
		       int64_t last_seq)
{
	bson_iter_t iter;

	ev->first_seq = first_seq;
	ev->last_seq = last_seq;
	ev->operation_type[0] = '\0';
	ev->cluster_time = OPTIME_ZERO;
	ev->wall_ms = 0;
	if (bson_iter_init_find(&iter, staged, STAGED_F_OPERATION_TYPE) &&
	    BSON_ITER_HOLDS_UTF8(&iter))
		bson_strncpy(ev->operation_type, bson_iter_utf8(&iter, NULL),
			     sizeof ev->operation_type);
	optime_from_doc(staged, STAGED_F_CLUSTER_TIME, &ev->cluster_time);
	if (bson_iter_init_find(&iter, staged, STAGED_F_WALL_TIME) &&
	    BSON_ITER_HOLDS_DATE_TIME(&iter))
		ev->wall_ms = bson_iter_date_time(&iter);
}

/* Sets ev's kind from its operationType (the event's when none was staged). */
static void
event_classify(replay_event_t *ev)
{
	if (ev->operation_type[0] == '\0') {
		bson_iter_t iter;

		if (bson_iter_init_find(&iter, ev->event, "operationType") &&
		    BSON_ITER_HOLDS_UTF8(&iter))
			bson_strncpy(ev->operation_type, bson_iter_utf8(&iter, NULL),
				     sizeof ev->operation_type);
	}
	ev->kind = apply_classify(ev->operation_type);
}

/*
 * Adds staged to the group; when it completes an event, reassembles it into
 * *done_ev (event initialized) and sets *complete. false + 65 on a part out
 * of place.
 */
static bool
group_add(part_group_t *g, const bson_t *staged, replay_event_t *done_ev, bool *complete,
	  bson_error_t *error)
{
	int32_t index, of;
	bool is_chunk;
	int64_t seq = staged_seq(staged);
	bson_t whole;

	*complete = false;
	if (seq < 1) {
		csm_error_set(error, CSM_EXIT_DATAERR, "staged document without an Int64 seq");
		return false;
	}
	if (g->len == 0 && apply_whole_event(staged, &whole)) {
		/* Nearly every event: one copy, no part bookkeeping. */
		event_meta_from_staged(done_ev, staged, seq, seq);
		done_ev->event = bson_copy(&whole);
		event_classify(done_ev);
		*complete = true;
		return true;
	}
	if (!apply_part_info(staged, &index, &of, &is_chunk, error)) {
		csm_error_prefix(error, "staged seq %" PRId64, seq);
		return false;
	}
	if (g->len == 0 && index != 0) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "staged seq %" PRId64 " is part %d of %d of an event whose "
			      "first part is not pending; the staging collection is corrupt",
			      seq, index + 1, of);
		return false;
	}
	if (g->len > 0 && ((size_t)index != g->len || of != g->of || seq != g->last_seq + 1)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "staged seq %" PRId64 " is part %d of %d where part %zu of %d "
			      "with seq %" PRId64
			      " was expected; the staging collection is corrupt",
			      seq, index + 1, of, g->len + 1, g->of, g->last_seq + 1);
		return false;
	}
	if (g->len == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 4;
		g->parts = bson_realloc(g->parts, g->cap * sizeof *g->parts);
	}
	g->parts[g->len++] = bson_copy(staged);
	g->of = of;
	g->last_seq = seq;
	if ((int32_t)g->len < of)
		return true;

	event_meta_from_staged(done_ev, g->parts[0], staged_seq(g->parts[0]), seq);
	done_ev->event = apply_reassemble((const bson_t *const *)g->parts, g->len, error);
	if (!done_ev->event) {
		csm_error_prefix(error, "staged seq %" PRId64, done_ev->first_seq);
		group_clear(g);
		return false;
	}
	event_classify(done_ev);
	group_clear(g);
	*complete = true;
	return true;
}

/* Takes one staged document into batch; *stop_reading when the batch is
 * full or ends before a stop event. */
static bool
take_staged(replay_batch_t *batch, part_group_t *g, const bson_t *staged, size_t max_bytes,
	    bool *stop_reading, bson_error_t *error)
{
	replay_event_t ev;
	bool complete;

	batch->bytes += staged->len;
	if (!group_add(g, staged, &ev, &complete, error))
		return false;
	if (!complete)
		return true;
	if (ev.kind == APPLY_KIND_STOP || ev.kind == APPLY_KIND_UNKNOWN) {
		batch->stop_event = ev;
		batch->has_stop = true;
		*stop_reading = true;
		return true;
	}
	if (batch->len == batch->cap) {
		batch->cap = batch->cap ? batch->cap * 2 : 256;
		batch->events = bson_realloc(batch->events, batch->cap * sizeof *batch->events);
	}
	batch->events[batch->len++] = ev;
	if (batch->bytes >= max_bytes)
		*stop_reading = true;
	return true;
}

/* Runs find and feeds every document to take_staged until it says stop. */
static bool
read_into(mongoc_collection_t *staging, const bson_t *filter, int64_t limit, replay_batch_t *batch,
	  part_group_t *g, size_t max_bytes, bool *stop_reading, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER;
	bson_t sort;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	const bson_t *err_doc = NULL;
	bool ok = true;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, STAGED_F_SEQ, 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	BSON_APPEND_INT64(&opts, "batchSize", limit < 1000 ? limit : 1000);
	cursor = mongoc_collection_find_with_opts(staging, filter, &opts, NULL);
	while (!*stop_reading && mongoc_cursor_next(cursor, &doc)) {
		if (!batch->has_head) {
			batch->has_head = true;
			batch->head_time = OPTIME_ZERO;
			optime_from_doc(doc, STAGED_F_CLUSTER_TIME, &batch->head_time);
		}
		if (!take_staged(batch, g, doc, max_bytes, stop_reading, error)) {
			ok = false;
			break;
		}
	}
	if (ok && mongoc_cursor_error_document(cursor, error, &err_doc)) {
		csm_error_keep_transient(error, err_doc);
		csm_error_prefix(error, "cannot read staged events from '%s'",
				 mongoc_collection_get_name(staging));
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	return ok;
}

bool
replay_batch_read(mongoc_collection_t *staging, const char *ns, int64_t after_seq, int64_t max_docs,
		  size_t max_bytes, replay_batch_t *batch, bson_error_t *error)
{
	part_group_t g = {0};
	bson_t filter = BSON_INITIALIZER;
	bool stop_reading = false;
	bool ok = false;

	replay_batch_clear(batch);
	BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
	BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	if (after_seq > 0) {
		bson_t range;

		/* Batches before it are applied, their marks still on the way. */
		BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
		BSON_APPEND_INT64(&range, "$gt", after_seq);
		bson_append_document_end(&filter, &range);
	}
	if (!read_into(staging, &filter, max_docs, batch, &g, max_bytes, &stop_reading, error))
		goto done;
	if (g.len > 0) {
		/* The limit cut an event in parts: read the rest of it. */
		bson_t range;
		int64_t missing = g.of - (int64_t)g.len;

		bson_reinit(&filter);
		BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
		BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
		BSON_APPEND_INT64(&range, "$gt", g.last_seq);
		bson_append_document_end(&filter, &range);
		if (!read_into(staging, &filter, missing, batch, &g, max_bytes, &stop_reading,
			       error))
			goto done;
		if (g.len > 0) {
			/* Capture has not staged every part yet. */
			batch->waiting_for_parts = true;
			group_clear(&g);
		}
	}
	ok = true;
done:
	group_clear(&g);
	bson_free(g.parts);
	bson_destroy(&filter);
	if (!ok)
		replay_batch_clear(batch);
	return ok;
}

bool
replay_batch_mark_done(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
		       int64_t last_seq, bson_error_t *error)
{
	return replay_batch_mark_done_in(staging, ns, first_seq, last_seq, NULL, error);
}

bool
replay_batch_mark_done_in(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
			  int64_t last_seq, mongoc_client_session_t *session, bson_error_t *error)
{
	return replay_batch_claim_in(staging, ns, first_seq, last_seq, session, NULL, error);
}

bool
replay_batch_claim_in(mongoc_collection_t *staging, const char *ns, int64_t first_seq,
		      int64_t last_seq, mongoc_client_session_t *session, int64_t *marked,
		      bson_error_t *error)
{
	bson_t reply = BSON_INITIALIZER;
	bson_t filter = BSON_INITIALIZER;
	bson_t update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t range, set;
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bool ok;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
	BSON_APPEND_INT64(&range, "$gte", first_seq);
	BSON_APPEND_INT64(&range, "$lte", last_seq);
	bson_append_document_end(&filter, &range);
	if (marked)
		BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, STAGED_F_STATUS, STAGING_STATUS_DONE);
	BSON_APPEND_DATE_TIME(&set, STAGED_F_APPLIED_AT, clock_wall_ms());
	bson_append_document_end(&update, &set);
	/* Majority: once the mark survives an election, so do the writes it
	 * vouches for, which precede it in the oplog. In a transaction its
	 * commit carries the write concern. */
	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	if (session)
		ok = mongoc_client_session_append(session, &opts, error);
	else
		ok = mongoc_write_concern_append(wc, &opts);
	ok = ok && mongoc_collection_update_many(staging, &filter, &update, &opts, &reply, error);
	if (!ok)
		csm_error_keep_transient(error, &reply);
	if (ok && marked)
		*marked = bsonfield_int64(&reply, "modifiedCount", 0);
	bson_destroy(&reply);
	if (!ok)
		csm_error_prefix(error, "cannot mark seq %" PRId64 "..%" PRId64 " of '%s' done",
				 first_seq, last_seq, ns);
	mongoc_write_concern_destroy(wc);
	bson_destroy(&opts);
	bson_destroy(&update);
	bson_destroy(&filter);
	return ok;
}

char *
replay_event_describe(const replay_event_t *ev)
{
	bson_t key;
	bson_iter_t iter;
	char *key_json = NULL;
	char *text;

	if (ev->event && bson_iter_init_find(&iter, ev->event, "documentKey") &&
	    BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		if (bson_init_static(&key, data, len))
			key_json = bson_as_relaxed_extended_json(&key, NULL);
	}
	if (key_json)
		text = bson_strdup_printf("seq %" PRId64 " (%s of %s)", ev->first_seq,
					  ev->operation_type, key_json);
	else
		text = bson_strdup_printf("seq %" PRId64 " (%s)", ev->first_seq,
					  ev->operation_type);
	bson_free(key_json);
	return text;
}
