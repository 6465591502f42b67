/*
 * Batch application: ordered bulk writes, parallel lanes, retries.
 */
#include "replay_apply.h"

#include <pthread.h>
#include <string.h>

#include "apply.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "stop.h"

#define DUPLICATE_KEY 11000

typedef struct lane {
	replay_applier_t *applier;
	size_t *op_index; /* indexes into applier->ops, in batch order */
	size_t len;
	size_t cap;
	bool ok;
	pthread_t thread;
} lane_t;

struct replay_applier {
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;
	char *db;
	char *coll;
	int workers;
	lane_t *lanes;
	apply_op_list_t ops;
	int64_t fallbacks;
	bool has_window;
	uint32_t window_t, window_i;
	int64_t window_skips;
};

replay_applier_t *
replay_applier_new(mongoc_client_pool_t *pool, mongoc_client_t *client, const char *db,
		   const char *coll, int workers)
{
	replay_applier_t *a = bson_malloc0(sizeof *a);

	a->pool = pool;
	a->client = client;
	a->db = bson_strdup(db);
	a->coll = bson_strdup(coll);
	a->workers = workers < 1 ? 1 : workers;
	a->lanes = bson_malloc0((size_t)a->workers * sizeof *a->lanes);
	apply_op_list_init(&a->ops);
	return a;
}

void
replay_applier_destroy(replay_applier_t *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->workers; i++)
		bson_free(a->lanes[i].op_index);
	bson_free(a->lanes);
	apply_op_list_destroy(&a->ops);
	bson_free(a->db);
	bson_free(a->coll);
	bson_free(a);
}

int64_t
replay_applier_fallbacks(const replay_applier_t *a)
{
	return a->fallbacks;
}

void
replay_applier_set_window(replay_applier_t *a, uint32_t dump_end_t, uint32_t dump_end_i)
{
	a->has_window = true;
	a->window_t = dump_end_t;
	a->window_i = dump_end_i;
}

int64_t
replay_applier_window_skips(const replay_applier_t *a)
{
	return a->window_skips;
}

bool
replay_backoff(unsigned attempt, const char *what, const bson_error_t *cause)
{
	long ms = 100;

	for (unsigned i = 0; i < attempt && ms < 5000; i++)
		ms *= 2;
	if (ms > 5000)
		ms = 5000;
	log_warn("%s: %s; retrying in %ld ms (attempt %u)", what, cause->message, ms,
		 attempt + 1);
	return stop_sleep_ms(ms);
}

/*
 * Runs ops (op_index[0..n), or ops[first..first+n) when op_index is NULL)
 * as one ordered bulk write on coll. false with error and reply filled on
 * failure.
 */
static bool
run_bulk(mongoc_collection_t *coll, const apply_op_list_t *ops, const size_t *op_index,
	 size_t first, size_t n, bson_t *reply, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER;
	mongoc_bulk_operation_t *bulk;
	bool ok = true;

	bson_init(reply);
	if (n == 0)
		return true;
	BSON_APPEND_BOOL(&opts, "ordered", true);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	for (size_t i = 0; i < n && ok; i++)
		ok = apply_op_to_bulk(bulk, &ops->ops[op_index ? op_index[i] : first + i], error);
	if (ok) {
		bson_destroy(reply);
		ok = mongoc_bulk_operation_execute(bulk, reply, error) != 0;
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	return ok;
}

static void *
lane_main(void *arg)
{
	lane_t *lane = arg;
	replay_applier_t *a = lane->applier;
	mongoc_client_t *client = mongoc_client_pool_pop(a->pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, a->db, a->coll);
	bson_t reply;
	bson_error_t error;

	lane->ok = run_bulk(coll, &a->ops, lane->op_index, 0, lane->len, &reply, &error);
	if (!lane->ok)
		log_debug("parallel lane failed: %s", error.message);
	bson_destroy(&reply);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(a->pool, client);
	return NULL;
}

/* True when every lane applied its part. */
static bool
apply_parallel(replay_applier_t *a)
{
	int started = 0;
	bool ok = true;

	for (int i = 0; i < a->workers; i++)
		a->lanes[i].len = 0;
	for (size_t i = 0; i < a->ops.len; i++) {
		lane_t *lane = &a->lanes[a->ops.ops[i].filter_hash % (uint32_t)a->workers];

		if (lane->len == lane->cap) {
			lane->cap = lane->cap ? lane->cap * 2 : 256;
			lane->op_index =
				bson_realloc(lane->op_index, lane->cap * sizeof *lane->op_index);
		}
		lane->op_index[lane->len++] = i;
	}
	for (int i = 0; i < a->workers; i++) {
		lane_t *lane = &a->lanes[i];

		lane->applier = a;
		lane->ok = false;
		if (lane->len == 0) {
			lane->ok = true;
			continue;
		}
		if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
			/* Out of threads: the ordered path will do it all. */
			lane->len = 0;
			ok = false;
			continue;
		}
		started++;
	}
	for (int i = 0; i < a->workers; i++) {
		if (a->lanes[i].len == 0)
			continue;
		pthread_join(a->lanes[i].thread, NULL);
		if (!a->lanes[i].ok)
			ok = false;
	}
	(void)started;
	return ok;
}

/* The first entry of reply's writeErrors into werr (a static view);
 * false when there is none. */
static bool
first_write_error(const bson_t *reply, bson_t *werr)
{
	bson_iter_t iter, child;

	if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
	    !bson_iter_recurse(&iter, &child) || !bson_iter_next(&child) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&child))
		return false;
	{
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&child, &len, &data);
		return bson_init_static(werr, data, len);
	}
}

char *
replay_key_holders(mongoc_collection_t *coll, const bson_t *key_value)
{
	bson_t opts = BSON_INITIALIZER;
	bson_t proj;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_string_t *text = bson_string_new(NULL);

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT64(&opts, "limit", 3);
	cursor = mongoc_collection_find_with_opts(coll, key_value, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		char *json = bson_as_relaxed_extended_json(doc, NULL);

		bson_string_append_printf(text, "%s%s", text->len ? ", " : "", json);
		bson_free(json);
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	if (text->len == 0)
		bson_string_append(text, "no document (any more)");
	return bson_string_free(text, false);
}

/* The bulk index and code of write error werr. */
static void
write_error_index_code(const bson_t *werr, int64_t *index, int32_t *code)
{
	bson_iter_t iter;

	*index = -1;
	*code = 0;
	if (bson_iter_init_find(&iter, werr, "index") && BSON_ITER_HOLDS_NUMBER(&iter))
		*index = bson_iter_as_int64(&iter);
	if (bson_iter_init_find(&iter, werr, "code") && BSON_ITER_HOLDS_NUMBER(&iter))
		*code = (int32_t)bson_iter_as_int64(&iter);
}

/*
 * Whether the write of ops[op] that failed with code may be passed over:
 * only inside the catch-up window (the event is at or before the dump
 * end), and only for errors about the document's shape (2 BadValue, e.g.
 * $push on a non-array; 14 TypeMismatch; 28 PathNotViable, e.g. $set
 * "a.b" where a is a number). The source accepted the write on the
 * document as it was then, so such an error means the dump copied a newer
 * version of the document, and a later event of the window, also
 * replayed, writes the path again.
 */
static bool
superseded_in_window(const replay_applier_t *a, const replay_batch_t *batch, size_t op,
		     int32_t code)
{
	const replay_event_t *ev;

	if (!a->has_window || op >= a->ops.len || (code != 2 && code != 14 && code != 28))
		return false;
	ev = &batch->events[a->ops.ops[op].event_index];
	return ev->cluster_time_t != 0 &&
	       (ev->cluster_time_t < a->window_t ||
		(ev->cluster_time_t == a->window_t && ev->cluster_time_i <= a->window_i));
}

/* Fills error (exit 65) for write error werr of the ordered bulk, whose
 * ops start at ops[first]. */
static void
refuse(replay_applier_t *a, mongoc_collection_t *coll, const replay_batch_t *batch,
       size_t first, const bson_t *werr, bson_error_t *error)
{
	bson_iter_t iter;
	int64_t index = -1;
	int32_t code = 0;
	const char *errmsg = "";
	bson_t key_value;
	bool has_key_value = false;
	char *what;

	if (bson_iter_init_find(&iter, werr, "index") && BSON_ITER_HOLDS_NUMBER(&iter))
		index = bson_iter_as_int64(&iter);
	if (bson_iter_init_find(&iter, werr, "code") && BSON_ITER_HOLDS_NUMBER(&iter))
		code = (int32_t)bson_iter_as_int64(&iter);
	if (bson_iter_init_find(&iter, werr, "errmsg") && BSON_ITER_HOLDS_UTF8(&iter))
		errmsg = bson_iter_utf8(&iter, NULL);
	if (bson_iter_init_find(&iter, werr, "keyValue") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		has_key_value = bson_init_static(&key_value, data, len);
	}
	if (index >= 0)
		index += (int64_t)first;
	if (index >= 0 && (size_t)index < a->ops.len)
		what = replay_event_describe(&batch->events[a->ops.ops[index].event_index]);
	else
		what = bson_strdup("an event of the batch");

	if (code == DUPLICATE_KEY) {
		char *key_json = has_key_value ? bson_as_relaxed_extended_json(&key_value, NULL)
					       : bson_strdup("(not reported)");
		char *holders = has_key_value ? replay_key_holders(coll, &key_value)
					      : bson_strdup("(unknown)");

		csm_error_set(error, CSM_EXIT_DATAERR,
			      "duplicate key in '%s.%s' replaying %s: key %s is already held "
			      "by %s (%s); applied in order this is a real conflict, not a "
			      "replay artefact: resolve it on the target and run cdc-replay "
			      "again",
			      a->db, a->coll, what, key_json, holders, errmsg);
		bson_free(key_json);
		bson_free(holders);
	} else {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "cannot apply %s to '%s.%s': %s (code %d); the event stays "
			      "pending: fix the target document and run cdc-replay again",
			      what, a->db, a->coll, errmsg, code);
	}
	bson_free(what);
}

/* Applies all ops as one ordered stream, retrying transient errors. */
static bool
apply_ordered(replay_applier_t *a, const replay_batch_t *batch, bson_error_t *error)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(a->client, a->db, a->coll);
	size_t first = 0; /* ops before it are applied */
	bool ok = false;

	for (unsigned attempt = 0;; attempt++) {
		bson_t reply, werr;
		bson_error_t err;

		if (run_bulk(coll, &a->ops, NULL, first, a->ops.len - first, &reply, &err)) {
			bson_destroy(&reply);
			ok = true;
			break;
		}
		if (first_write_error(&reply, &werr)) {
			int64_t index;
			int32_t code;

			write_error_index_code(&werr, &index, &code);
			if (index >= 0 &&
			    superseded_in_window(a, batch, first + (size_t)index, code)) {
				char *what = replay_event_describe(
					&batch->events[a->ops.ops[first + (size_t)index].event_index]);

				log_warn("passing over a write of %s inside the catch-up window: "
					 "the dump copied a newer version of the document (code %d); "
					 "a later event writes the same path",
					 what, code);
				bson_free(what);
				a->window_skips++;
				first += (size_t)index + 1;
				attempt = 0;
				bson_destroy(&reply);
				if (first >= a->ops.len) {
					ok = true;
					break;
				}
				continue;
			}
			refuse(a, coll, batch, first, &werr, error);
			bson_destroy(&reply);
			break;
		}
		if (!csm_error_is_transient(&err, &reply)) {
			*error = err;
			csm_error_prefix(error, "cannot apply seq %" PRId64 "..%" PRId64
						" to '%s.%s'",
					 batch->events[0].first_seq,
					 batch->events[batch->len - 1].last_seq, a->db, a->coll);
			bson_destroy(&reply);
			break;
		}
		bson_destroy(&reply);
		if (!replay_backoff(attempt, "applying a batch to the target failed", &err)) {
			csm_error_set(error, CSM_EXIT_OK,
				      "stopped while retrying; the batch stays pending");
			break;
		}
	}
	mongoc_collection_destroy(coll);
	return ok;
}

bool
replay_applier_apply(replay_applier_t *a, const replay_batch_t *batch, bson_error_t *error)
{
	apply_op_list_clear(&a->ops);
	for (size_t i = 0; i < batch->len; i++) {
		const replay_event_t *ev = &batch->events[i];

		if (ev->kind == APPLY_KIND_NOOP) {
			log_info("seq %" PRId64 ": '%s' event changes no document; nothing to "
				 "apply (index and option changes are not replayed)",
				 ev->first_seq, ev->operation_type);
			continue;
		}
		if (!apply_event_ops(ev->event, i, &a->ops, error)) {
			char *what = replay_event_describe(ev);

			csm_error_prefix(error, "cannot replay %s", what);
			bson_free(what);
			return false;
		}
	}
	if (a->ops.len == 0)
		return true;
	if (a->workers > 1 && a->ops.len > 1) {
		if (apply_parallel(a))
			return true;
		a->fallbacks++;
		log_debug("seq %" PRId64 "..%" PRId64 ": a parallel lane failed; applying the "
			  "batch again as one ordered stream",
			  batch->events[0].first_seq, batch->events[batch->len - 1].last_seq);
	}
	return apply_ordered(a, batch, error);
}
