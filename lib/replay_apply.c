/*
 * Batch application: ordered bulk writes, parallel lanes, retries.
 */
#include "replay_apply.h"

#include <pthread.h>
#include <string.h>

#include "apply.h"
#include "apply_order.h"
#include "bsoncmp.h"
#include "bsonfield.h"
#include "catalog.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "retry.h"
#include "server_codes.h"
#include "shardkey.h"

typedef struct lane {
	replay_applier_t *applier;
	size_t *op_index; /* indexes into applier->ops, in batch order */
	size_t len;
	size_t cap;
	bool arrange;        /* send op_index arranged by document (apply_order.h) */
	apply_order_t order; /* the arrangement */
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
	apply_order_t order; /* the single-worker arrangement */
	int64_t fallbacks;
	bool has_window;
	optime_t window_end;
	int64_t window_skips;
	lease_t *lease;            /* borrowed; NULL: none */
	mongoc_collection_t *meta; /* borrowed; the marker's, NULL: none */
	const char *target_ns;     /* borrowed */
	replay_marker_t *marker;   /* borrowed; NULL: none */
	bool ops_failed;           /* the ops before an event failed, not the event */
	int capped;                /* the target is capped: 1, not: 0, not asked yet: -1 */
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
	a->capped = -1;
	a->workers = workers < 1 ? 1 : workers;
	a->lanes = bson_malloc0((size_t)a->workers * sizeof *a->lanes);
	apply_op_list_init(&a->ops);
	apply_order_init(&a->order);
	for (int i = 0; i < a->workers; i++)
		apply_order_init(&a->lanes[i].order);
	return a;
}

void
replay_applier_destroy(replay_applier_t *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->workers; i++) {
		bson_free(a->lanes[i].op_index);
		apply_order_destroy(&a->lanes[i].order);
	}
	bson_free(a->lanes);
	apply_op_list_destroy(&a->ops);
	apply_order_destroy(&a->order);
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
replay_applier_set_window(replay_applier_t *a, optime_t dump_end)
{
	a->has_window = true;
	a->window_end = dump_end;
}

void
replay_applier_set_marker(replay_applier_t *a, mongoc_collection_t *meta, const char *target_ns,
			  replay_marker_t *view)
{
	a->meta = meta;
	a->target_ns = target_ns;
	a->marker = view;
}

int64_t
replay_applier_window_skips(const replay_applier_t *a)
{
	return a->window_skips;
}

void
replay_applier_set_lease(replay_applier_t *a, lease_t *lease)
{
	a->lease = lease;
}

/* True when the lease (if any) allows a write now. */
static bool
lease_allows(replay_applier_t *a)
{
	bson_error_t ignored;

	return !a->lease || lease_hold(a->lease, &ignored);
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
	const size_t *order = lane->op_index;
	bson_t reply;
	bson_error_t error;

	if (lane->arrange) {
		apply_order_arrange(&lane->order, a->ops.ops, lane->op_index, lane->len);
		order = lane->order.order;
	}
	lane->ok = run_bulk(coll, &a->ops, order, 0, lane->len, &reply, &error);
	if (!lane->ok)
		log_debug("parallel lane failed: %s", error.message);
	bson_destroy(&reply);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(a->pool, client);
	return NULL;
}

/* True when every lane applied its part (arrange: each arranged by
 * document). */
static bool
apply_parallel(replay_applier_t *a, bool arrange)
{
	int started = 0;
	bool ok = true;

	for (int i = 0; i < a->workers; i++)
		a->lanes[i].len = 0;
	for (size_t i = 0; i < a->ops.len; i++) {
		lane_t *lane = &a->lanes[a->ops.ops[i].doc_hash % (uint32_t)a->workers];

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
		lane->arrange = arrange;
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

bool
replay_window_skippable(bool window_open, optime_t dump_end, optime_t event_time, int32_t code)
{
	if (!window_open || optime_is_zero(event_time))
		return false;
	if (code != SERVER_BAD_VALUE && code != SERVER_TYPE_MISMATCH &&
	    code != SERVER_PATH_NOT_VIABLE && code != SERVER_IMMUTABLE_FIELD)
		return false;
	return optime_cmp(event_time, dump_end) <= 0;
}

/* Whether the write of ops[op] that failed with werr (code) may be passed
 * over. */
static bool
superseded_in_window(const replay_applier_t *a, const replay_batch_t *batch, size_t op,
		     const bson_t *werr, int32_t code)
{
	if (op >= a->ops.len)
		return false;
	/* a newer shard key value in the dumped document: passed over as a
	 * replacement meeting a changed _id (66) is */
	if (shardkey_upsert_met_id(a->ops.ops[op].upsert, a->ops.ops[op].filter, werr))
		code = SERVER_IMMUTABLE_FIELD;
	return replay_window_skippable(a->has_window, a->window_end,
				       batch->events[a->ops.ops[op].event_index].cluster_time,
				       code);
}

/* The event of ops[op] for messages; "an event of the batch" when op is out
 * of range. The caller bson_free()s it. */
static char *
describe_op(const replay_applier_t *a, const replay_batch_t *batch, int64_t op)
{
	if (op >= 0 && (size_t)op < a->ops.len)
		return replay_event_describe(&batch->events[a->ops.ops[op].event_index]);
	return bson_strdup("an event of the batch");
}

/* Fills error (exit 65) for write error werr of the ordered bulk, whose
 * ops start at ops[first]. */
static void
refuse(replay_applier_t *a, mongoc_collection_t *coll, const replay_batch_t *batch, size_t first,
       const bson_t *werr, bson_error_t *error)
{
	bson_iter_t iter;
	int64_t index;
	int32_t code;
	const char *errmsg = "";
	bson_t key_value;
	bool has_key_value = false;
	char *what;

	write_error_index_code(werr, &index, &code);
	if (bson_iter_init_find(&iter, werr, "errmsg") && BSON_ITER_HOLDS_UTF8(&iter))
		errmsg = bson_iter_utf8(&iter, NULL);
	if (bson_iter_init_find(&iter, werr, "keyValue") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		has_key_value = bson_init_static(&key_value, data, len);
	}
	what = describe_op(a, batch, index >= 0 ? index + (int64_t)first : -1);
	if (code == SERVER_DUPLICATE_KEY) {
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

/* Counts and reports the write of ops[op], refused with code inside the
 * catch-up window, as passed over. */
static void
pass_over(replay_applier_t *a, const replay_batch_t *batch, size_t op, int32_t code)
{
	char *what = describe_op(a, batch, (int64_t)op);

	log_warn("passing over a write of %s inside the catch-up window: the dump copied a "
		 "newer version of the document (code %d); a later event writes the same path",
		 what, code);
	bson_free(what);
	a->window_skips++;
}

/*
 * What to do after the ordered bulk from ops[*first] failed with reply and
 * error: pass over a write refused inside the window (moves *first past it;
 * *applied when nothing is left), or refuse the batch (false, error set).
 * *write_error false when reply holds no write error (error is then the
 * command's).
 */
static bool
settle_write_error(replay_applier_t *a, mongoc_collection_t *coll, const replay_batch_t *batch,
		   const bson_t *reply, size_t *first, bool *write_error, bool *applied,
		   bson_error_t *error)
{
	bson_t werr;
	int64_t index;
	int32_t code;

	*applied = false;
	*write_error = first_write_error(reply, &werr);
	if (!*write_error)
		return true;
	write_error_index_code(&werr, &index, &code);
	if (index < 0 || !superseded_in_window(a, batch, *first + (size_t)index, &werr, code)) {
		refuse(a, coll, batch, *first, &werr, error);
		return false;
	}
	pass_over(a, batch, *first + (size_t)index, code);
	*first += (size_t)index + 1;
	*applied = *first >= a->ops.len;
	return true;
}

/* Adds to the stopped error that nothing of the batch is marked done. */
static void
keeps_pending(bson_error_t *error)
{
	char why[sizeof error->message];

	bson_strncpy(why, error->message, sizeof why);
	csm_error_stopped(error, "%s; the batch stays pending", why);
}

/*
 * Before each try of the ordered stream: true when the lease allows it.
 * Otherwise false with *done set unless the caller may try again (a lease
 * that cannot be renewed just now, after the backoff); a lost lease (73) or
 * a stop ends it.
 */
static bool
ordered_may_send(replay_applier_t *a, retry_t *retry, const char *what, bool *done,
		 bson_error_t *error)
{
	if (!a->lease || lease_hold(a->lease, error))
		return true;
	*done = true;
	if (csm_error_is_transient(error, NULL)) {
		if (retry_wait(retry, what, error))
			*done = false;
		else
			keeps_pending(error);
	}
	return false;
}

/* Applies all ops as one ordered stream, retrying transient errors. */
static bool
apply_ordered(replay_applier_t *a, const replay_batch_t *batch, bson_error_t *error)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(a->client, a->db, a->coll);
	int64_t first_seq = batch->events[0].first_seq;
	int64_t last_seq = batch->events[batch->len - 1].last_seq;
	char *what =
		bson_strdup_printf("applying seq %" PRId64 "..%" PRId64 " to '%s.%s' on the target",
				   first_seq, last_seq, a->db, a->coll);
	size_t first = 0; /* ops before it are applied */
	retry_t retry;
	bool ok = false, done = false;

	retry_init(&retry, 0);
	while (!done) {
		bson_t reply;
		bool write_error;

		if (!ordered_may_send(a, &retry, what, &done, error))
			continue;
		if (run_bulk(coll, &a->ops, NULL, first, a->ops.len - first, &reply, error)) {
			ok = done = true;
		} else if (!settle_write_error(a, coll, batch, &reply, &first, &write_error, &ok,
					       error)) {
			done = true;
		} else if (write_error) {
			/* A write passed over: the rest goes on, with a fresh backoff. */
			done = ok;
			retry_reset(&retry);
		} else if (!csm_error_is_transient(error, &reply)) {
			csm_error_prefix(error,
					 "cannot apply seq %" PRId64 "..%" PRId64 " to '%s.%s'",
					 first_seq, last_seq, a->db, a->coll);
			done = true;
		} else if (!retry_wait(&retry, what, error)) {
			keeps_pending(error);
			done = true;
		}
		bson_destroy(&reply);
	}
	bson_free(what);
	mongoc_collection_destroy(coll);
	return ok;
}

/*
 * Whether the ops may go out arranged by document (apply_order.h): no
 * event of the batch is inside the catch-up window, whose writes the
 * ordered path alone handles (it passes over what a newer dumped document
 * refuses, and such a document may be met by a write of another _id that
 * the target finds equal, under a collation).
 */
static bool
may_arrange(const replay_applier_t *a, const replay_batch_t *batch)
{
	for (size_t i = 0; a->has_window && i < batch->len; i++) {
		optime_t t = batch->events[i].cluster_time;

		if (!optime_is_zero(t) && optime_cmp(t, a->window_end) <= 0)
			return false;
	}
	return true;
}

/* The ops as one ordered bulk, arranged by document; true when it was
 * sent and succeeded. *tried false when arranging saves no command. */
static bool
apply_arranged(replay_applier_t *a, const replay_batch_t *batch, bool *tried)
{
	mongoc_collection_t *coll;
	bson_t reply;
	bson_error_t error;
	size_t runs = apply_order_runs(a->ops.ops, NULL, a->ops.len);
	bool ok;

	apply_order_arrange(&a->order, a->ops.ops, NULL, a->ops.len);
	*tried = a->order.runs < runs;
	if (!*tried)
		return false;
	log_debug("seq %" PRId64 "..%" PRId64 ": %zu writes arranged by document into %zu write "
		  "commands (%zu in the batch's order)",
		  batch->events[0].first_seq, batch->events[batch->len - 1].last_seq, a->ops.len,
		  a->order.runs, runs);
	coll = mongoc_client_get_collection(a->client, a->db, a->coll);
	ok = run_bulk(coll, &a->ops, a->order.order, 0, a->ops.len, &reply, &error);
	if (!ok)
		log_debug("the bulk arranged by document failed: %s", error.message);
	bson_destroy(&reply);
	mongoc_collection_destroy(coll);
	return ok;
}

/*
 * Applies the ops built so far: arranged by document into the fewest
 * write commands, in parallel lanes with --workers above 1 (each lane
 * arranged); else, or when that fails in any way, as one ordered stream
 * from the start (every rule is idempotent).
 */
/*
 * Whether the target collection is capped: there the order of inserts is
 * the collection's own (its natural order, and which documents it drops
 * first when full), so nothing may be reordered across documents. Asked
 * once, and again after a DDL event; a failed listing counts as capped
 * for this batch (the ordered stream is always right).
 */
static bool
target_capped(replay_applier_t *a)
{
	bson_t info;
	bson_iter_t iter;
	bson_error_t error;
	bool exists;

	if (a->capped >= 0)
		return a->capped == 1;
	if (!catalog_collection_info(a->client, a->db, a->coll, &exists, &info, &error)) {
		log_debug("cannot tell whether '%s.%s' is capped (%s): this batch goes out in "
			  "order",
			  a->db, a->coll, error.message);
		bson_destroy(&info);
		return true;
	}
	a->capped = exists && bson_iter_init(&iter, &info) &&
		    bson_iter_find_descendant(&iter, "options.capped", &iter) &&
		    bson_iter_as_bool(&iter);
	bson_destroy(&info);
	if (a->capped)
		log_info("'%s.%s' is capped on the target: its writes go out in the order of "
			 "the staged events%s",
			 a->db, a->coll,
			 a->workers > 1 ? ", in one lane (--workers is not used)" : "");
	return a->capped == 1;
}

static bool
apply_ops(replay_applier_t *a, const replay_batch_t *batch, bson_error_t *error)
{
	bool arrange, tried = true;

	if (a->ops.len == 0)
		return true;
	arrange = may_arrange(a, batch);
	/* Without the lease the ordered path waits for it or stops: nothing
	 * else is sent. */
	if (a->ops.len > 1 && (a->workers > 1 || arrange) && !target_capped(a) && lease_allows(a)) {
		bool ok;

		if (a->workers > 1) {
			log_debug("seq %" PRId64 "..%" PRId64 ": %zu writes in %d lanes%s",
				  batch->events[0].first_seq,
				  batch->events[batch->len - 1].last_seq, a->ops.len, a->workers,
				  arrange ? ", each arranged by document" : "");
			ok = apply_parallel(a, arrange);
		} else {
			ok = apply_arranged(a, batch, &tried);
		}
		if (ok)
			return true;
		if (tried) {
			a->fallbacks++;
			log_debug("seq %" PRId64 "..%" PRId64 ": %s failed; applying the batch "
				  "again as one ordered stream",
				  batch->events[0].first_seq,
				  batch->events[batch->len - 1].last_seq,
				  a->workers > 1 ? "a parallel lane" : "the arranged bulk");
		}
	}
	return apply_ordered(a, batch, error);
}

/* Reads into *doc (NULL: none; the caller destroys it) the target's
 * document of ev's documentKey, retrying transient errors. */
static bool
read_target(replay_applier_t *a, const replay_event_t *ev, bson_t **doc, bson_error_t *error)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(a->client, a->db, a->coll);
	bson_t opts = BSON_INITIALIZER, key;
	bson_iter_t iter;
	const uint8_t *data;
	uint32_t len;
	retry_t retry;
	bool ok = false;

	*doc = NULL;
	bson_iter_init_find(&iter, ev->event, "documentKey");
	bson_iter_document(&iter, &len, &data);
	bson_init_static(&key, data, len);
	BSON_APPEND_INT64(&opts, "limit", 1);
	retry_init(&retry, 0);
	for (;;) {
		mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &key, &opts, NULL);
		const bson_t *found, *reply = NULL;

		if (mongoc_cursor_next(cursor, &found))
			*doc = bson_copy(found);
		ok = !mongoc_cursor_error_document(cursor, error, &reply);
		if (!ok)
			csm_error_keep_transient(error, reply);
		mongoc_cursor_destroy(cursor);
		if (ok || !csm_error_is_transient(error, NULL) ||
		    !retry_wait(&retry, "reading a target document", error))
			break;
	}
	bson_destroy(&opts);
	mongoc_collection_destroy(coll);
	return ok;
}

/* Whether the target holds what the source held before ev: a window is
 * declared (a restore marker with its dump end) and ev is past it. */
static bool
settled(const replay_applier_t *a, const replay_event_t *ev)
{
	return a->has_window && !optime_is_zero(ev->cluster_time) &&
	       optime_cmp(ev->cluster_time, a->window_end) > 0;
}

/* The ops of ev (events[i] of batch). An event whose paths are read
 * against the target document first has the ops before it applied, then
 * the document read. */
static bool
event_ops(replay_applier_t *a, const replay_batch_t *batch, size_t i, bson_error_t *error)
{
	const replay_event_t *ev = &batch->events[i];
	bson_t *target = NULL;
	bool ok;

	if (!apply_event_ops(ev->event, i, &a->ops, error))
		return false;
	if (!a->ops.needs_target)
		return true;
	if (!apply_ops(a, batch, error)) {
		a->ops_failed = true;
		return false;
	}
	apply_op_list_clear(&a->ops);
	if (!read_target(a, ev, &target, error))
		return false;
	ok = apply_event_ops_read(ev->event, target, settled(a, ev), i, &a->ops, error);
	bson_destroy(target);
	return ok;
}

/* Runs cmd on the target database, waiting for the lease and retrying
 * transient errors; a server error with code ok_code is success. out (when
 * not NULL) receives the reply of a success. */
static bool
target_command_reply(replay_applier_t *a, const bson_t *cmd, int32_t ok_code, const char *what,
		     bson_t *out, bson_error_t *error)
{
	mongoc_database_t *db = mongoc_client_get_database(a->client, a->db);
	retry_t retry;
	bool ok = false, done = false;

	if (out)
		bson_init(out);
	retry_init(&retry, 0);
	while (!done) {
		bson_t reply;

		if (!ordered_may_send(a, &retry, what, &done, error))
			continue;
		ok = mongoc_database_command_simple(db, cmd, NULL, &reply, error) ||
		     csm_error_server_code(error, &reply) == ok_code;
		if (!ok)
			csm_error_keep_transient(error, &reply);
		else if (out) {
			bson_destroy(out);
			bson_copy_to(&reply, out);
		}
		done = ok || !csm_error_is_transient(error, NULL) ||
		       !retry_wait(&retry, what, error);
		bson_destroy(&reply);
	}
	mongoc_database_destroy(db);
	return ok;
}

static bool
target_command(replay_applier_t *a, const bson_t *cmd, int32_t ok_code, const char *what,
	       bson_error_t *error)
{
	return target_command_reply(a, cmd, ok_code, what, NULL, error);
}

/*
 * Whether a unique or TTL index of ev is deferred rather than built
 * (docs/DESIGN.md, "Replay rules"): only with a restore marker; a unique
 * one while ev is inside the catch-up window and the deferred unique ones
 * are not built, a TTL one until the cutover built the deferred TTL ones.
 */
static bool
index_waits(const replay_applier_t *a, const replay_event_t *ev, bool ttl)
{
	if (!a->marker || !a->marker->found)
		return false;
	if (ttl)
		return !a->marker->ttl_marked;
	return !a->marker->unique_marked && !settled(a, ev);
}

/*
 * Adds spec to the marker's deferred indexes (retime false), or sets the
 * expireAfterSeconds of the deferred one the index part spec of a modify
 * names (retime true; *deferred: whether one did), retrying transient
 * errors.
 */
static bool
marker_update(replay_applier_t *a, const replay_event_t *ev, const bson_t *spec, bool retime,
	      bool *deferred, bson_error_t *error)
{
	const char *what = "updating the deferred indexes of the restore marker";
	retry_t retry;
	bool ok = false, done = false;

	retry_init(&retry, 0);
	while (!done) {
		if (!ordered_may_send(a, &retry, what, &done, error))
			continue;
		ok = retime ? replay_marker_retime(a->meta, a->target_ns, a->marker, spec, deferred,
						   error)
			    : replay_marker_defer(a->meta, a->target_ns, a->marker, spec, error);
		done = ok || !csm_error_is_transient(error, NULL) ||
		       !retry_wait(&retry, what, error);
	}
	if (!ok && !csm_error_is_stopped(error))
		csm_error_prefix(error, "cannot replay seq %" PRId64 " (%s)", ev->first_seq,
				 ev->operation_type);
	return ok;
}

/* Adds spec (a unique or TTL index) to the marker's deferred indexes. */
static bool
defer_index(replay_applier_t *a, const replay_event_t *ev, const bson_t *spec, const char *name,
	    bool ttl, bson_error_t *error)
{
	if (!marker_update(a, ev, spec, false, NULL, error))
		return false;
	log_info("seq %" PRId64 ": %s index '%s' of '%s.%s' deferred: built %s", ev->first_seq,
		 ttl ? "TTL" : "unique", name, a->db, a->coll,
		 ttl ? "at the cutover (--drain)" : "with the deferred unique indexes");
	return true;
}

/* One index of a createIndexes or dropIndexes event, applied to the target:
 * built (a unique or TTL one may wait: index_waits) or dropped. */
static bool
apply_index(replay_applier_t *a, const replay_event_t *ev, const bson_t *spec, bool create,
	    bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, list;
	bson_iter_t iter;
	const char *name = "";
	char *what;
	bool ok = true, ttl = bson_has_field(spec, "expireAfterSeconds");

	if (bson_iter_init_find(&iter, spec, "name") && BSON_ITER_HOLDS_UTF8(&iter))
		name = bson_iter_utf8(&iter, NULL);
	if (create &&
	    (ttl || (bson_iter_init_find(&iter, spec, "unique") && bson_iter_as_bool(&iter))) &&
	    index_waits(a, ev, ttl))
		return defer_index(a, ev, spec, name, ttl, error);
	what = bson_strdup_printf("%s index '%s' of '%s.%s' on the target (seq %" PRId64 ")",
				  create ? "building" : "dropping", name, a->db, a->coll,
				  ev->first_seq);
	if (create) {
		BSON_APPEND_UTF8(&cmd, "createIndexes", a->coll);
		BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
		BSON_APPEND_DOCUMENT(&list, "0", spec);
		bson_append_array_end(&cmd, &list);
	} else {
		BSON_APPEND_UTF8(&cmd, "dropIndexes", a->coll);
		BSON_APPEND_UTF8(&cmd, "index", name);
	}
	ok = target_command(a, &cmd, create ? 0 : SERVER_INDEX_NOT_FOUND, what, error);
	if (!ok && !csm_error_is_stopped(error))
		csm_error_prefix(error, "cannot replay seq %" PRId64 " (%s)", ev->first_seq,
				 ev->operation_type);
	else if (ok)
		log_info("seq %" PRId64 ": %s", ev->first_seq, what);
	bson_free(what);
	bson_destroy(&cmd);
	return ok;
}

/*
 * The index part of a modify event the target mirrors: its name or
 * keyPattern and expireAfterSeconds, into cmd (*any set). An index still
 * deferred in the restore marker (TTL ones before the cutover) has its
 * spec there changed instead.
 */
static bool
modify_index(replay_applier_t *a, const replay_event_t *ev, bson_iter_t *index, bson_t *cmd,
	     bool *any, bson_error_t *error)
{
	bson_iter_t iter;
	bson_t sub, part = BSON_INITIALIZER;
	bool deferred = false, ok = true;

	if (!BSON_ITER_HOLDS_DOCUMENT(index) || !bson_iter_recurse(index, &iter) ||
	    !bson_iter_find(&iter, "expireAfterSeconds") || !bson_iter_recurse(index, &iter)) {
		log_info("seq %" PRId64 ": modify of '%s.%s': option 'index' without "
			 "expireAfterSeconds is not replayed",
			 ev->first_seq, a->db, a->coll);
		bson_destroy(&part);
		return true;
	}
	while (bson_iter_next(&iter)) {
		const char *k = bson_iter_key(&iter);

		if (strcmp(k, "expireAfterSeconds") == 0 || strcmp(k, "name") == 0 ||
		    strcmp(k, "keyPattern") == 0)
			bson_append_iter(&part, k, -1, &iter);
	}
	if (a->marker && a->marker->found && !a->marker->ttl_marked)
		ok = marker_update(a, ev, &part, true, &deferred, error);
	if (ok && deferred) {
		log_info("seq %" PRId64 ": modify of '%s.%s': deferred index's expireAfterSeconds "
			 "changed in the restore marker",
			 ev->first_seq, a->db, a->coll);
	} else if (ok) {
		BSON_APPEND_DOCUMENT_BEGIN(cmd, "index", &sub);
		bson_concat(&sub, &part);
		bson_append_document_end(cmd, &sub);
		*any = true;
	}
	bson_destroy(&part);
	return ok;
}

/*
 * A modify (collMod) event: the options the target must mirror (an
 * index's expireAfterSeconds, validator, validationLevel,
 * validationAction) run as one collMod on the target, in order; the
 * others are logged and skipped.
 */
static bool
apply_modify(replay_applier_t *a, const replay_event_t *ev, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, desc;
	bson_iter_t iter;
	const uint8_t *data;
	uint32_t len;
	bool any = false, ok;
	char *what;

	BSON_APPEND_UTF8(&cmd, "collMod", a->coll);
	bson_init(&desc);
	if (bson_iter_init_find(&iter, ev->event, "operationDescription") &&
	    BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		bson_iter_document(&iter, &len, &data);
		bson_destroy(&desc);
		bson_init_static(&desc, data, len);
	}
	bson_iter_init(&iter, &desc);
	while (bson_iter_next(&iter)) {
		const char *k = bson_iter_key(&iter);

		if (strcmp(k, "validator") == 0 || strcmp(k, "validationLevel") == 0 ||
		    strcmp(k, "validationAction") == 0)
			any = bson_append_iter(&cmd, k, -1, &iter);
		else if (strcmp(k, "index") == 0) {
			if (!modify_index(a, ev, &iter, &cmd, &any, error)) {
				bson_destroy(&desc);
				bson_destroy(&cmd);
				return false;
			}
		} else
			log_info("seq %" PRId64 ": modify of '%s.%s': option '%s' is not replayed",
				 ev->first_seq, a->db, a->coll, k);
	}
	bson_destroy(&desc);
	if (!any) {
		bson_destroy(&cmd);
		return true;
	}
	what = bson_strdup_printf("mirroring modify of '%s.%s' on the target (seq %" PRId64 ")",
				  a->db, a->coll, ev->first_seq);
	ok = target_command(a, &cmd, 0, what, error);
	if (!ok && !csm_error_is_stopped(error))
		csm_error_prefix(error, "cannot replay seq %" PRId64 " (modify)", ev->first_seq);
	else if (ok)
		log_info("seq %" PRId64 ": %s", ev->first_seq, what);
	bson_free(what);
	bson_destroy(&cmd);
	return ok;
}

/* The options of the target collection (listCollections) into *options;
 * *found false when it does not exist. */
static bool
target_options(replay_applier_t *a, const replay_event_t *ev, bool *found, bson_t *options,
	       bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, filter, reply;
	bson_iter_t it;
	char *what = bson_strdup_printf("listing '%s.%s' on the target (seq %" PRId64 ")", a->db,
					a->coll, ev->first_seq);
	bool ok;

	*found = false;
	BSON_APPEND_INT32(&cmd, "listCollections", 1);
	BSON_APPEND_DOCUMENT_BEGIN(&cmd, "filter", &filter);
	BSON_APPEND_UTF8(&filter, "name", a->coll);
	bson_append_document_end(&cmd, &filter);
	ok = target_command_reply(a, &cmd, 0, what, &reply, error);
	if (ok && bson_iter_init(&it, &reply) &&
	    bson_iter_find_descendant(&it, "cursor.firstBatch.0", &it) &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_t info;
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&it, &len, &data);
		*found = bson_init_static(&info, data, len);
		if (*found)
			bsonfield_document(&info, "options", options);
	}
	bson_destroy(&reply);
	bson_destroy(&cmd);
	bson_free(what);
	return ok;
}

/* Appends to names (", "-separated) each option of want that have lacks or
 * holds otherwise, and each one only have holds. */
static void
options_differ(const bson_t *want, const bson_t *have, bson_string_t *names)
{
	bson_iter_t it, other;

	if (bson_iter_init(&it, want))
		while (bson_iter_next(&it))
			if (!bson_iter_init_find(&other, have, bson_iter_key(&it)) ||
			    bsoncmp_value(bson_iter_value(&it), bson_iter_value(&other)) != 0)
				bson_string_append_printf(names, "%s%s", names->len ? ", " : "",
							  bson_iter_key(&it));
	if (bson_iter_init(&it, have))
		while (bson_iter_next(&it))
			if (!bson_has_field(want, bson_iter_key(&it)))
				bson_string_append_printf(names, "%s%s", names->len ? ", " : "",
							  bson_iter_key(&it));
}

/*
 * A create event: the target collection is created with the event's
 * options (operationDescription but idIndex) unless it exists (restored,
 * or created by an earlier run): then options that differ are named in a
 * warning, and replay goes on.
 */
static bool
apply_create(replay_applier_t *a, const replay_event_t *ev, bson_error_t *error)
{
	bson_t desc = BSON_INITIALIZER, want = BSON_INITIALIZER, have = BSON_INITIALIZER;
	bson_t cmd = BSON_INITIALIZER;
	bson_string_t *names = bson_string_new("");
	bson_iter_t it;
	bool found = false, ok;
	char *what = NULL;

	bsonfield_document(ev->event, "operationDescription", &desc);
	if (bson_iter_init(&it, &desc))
		while (bson_iter_next(&it))
			if (strcmp(bson_iter_key(&it), "idIndex") != 0)
				bson_append_iter(&want, NULL, 0, &it);
	ok = target_options(a, ev, &found, &have, error);
	if (ok && found) {
		options_differ(&want, &have, names);
		if (names->len)
			log_warn("seq %" PRId64 ": create of '%s.%s': the target collection exists "
				 "with other options (%s); it is kept as it is",
				 ev->first_seq, a->db, a->coll, names->str);
		else
			log_info("seq %" PRId64 ": create of '%s.%s': the target collection "
				 "exists with the same options",
				 ev->first_seq, a->db, a->coll);
	} else if (ok) {
		what = bson_strdup_printf("creating '%s.%s' on the target (seq %" PRId64 ")", a->db,
					  a->coll, ev->first_seq);
		BSON_APPEND_UTF8(&cmd, "create", a->coll);
		bson_concat(&cmd, &want);
		ok = target_command(a, &cmd, SERVER_NAMESPACE_EXISTS, what, error);
		if (ok)
			log_info("seq %" PRId64 ": %s", ev->first_seq, what);
	}
	if (!ok && !csm_error_is_stopped(error))
		csm_error_prefix(error, "cannot replay seq %" PRId64 " (create)", ev->first_seq);
	bson_string_free(names, true);
	bson_free(what);
	bson_destroy(&cmd);
	bson_destroy(&have);
	bson_destroy(&want);
	bson_destroy(&desc);
	return ok;
}

/*
 * An expanded DDL event (docs/DESIGN.md, "Replay rules"): create,
 * createIndexes, dropIndexes and modify are applied in order, after every
 * write before them; any other is logged.
 */
static bool
apply_ddl(replay_applier_t *a, const replay_batch_t *batch, const replay_event_t *ev,
	  bson_error_t *error)
{
	bool create = strcmp(ev->operation_type, "createIndexes") == 0;
	bool modify = strcmp(ev->operation_type, "modify") == 0;
	bool coll = strcmp(ev->operation_type, "create") == 0;
	bson_iter_t iter, indexes;

	if (!create && !modify && !coll && strcmp(ev->operation_type, "dropIndexes") != 0) {
		log_info("seq %" PRId64 ": '%s' event changes no document; nothing to apply",
			 ev->first_seq, ev->operation_type);
		return true;
	}
	if (!apply_ops(a, batch, error))
		return false;
	apply_op_list_clear(&a->ops);
	a->capped = -1; /* a create may have made it, capped or not */
	if (modify)
		return apply_modify(a, ev, error);
	if (coll)
		return apply_create(a, ev, error);
	if (!bson_iter_init(&iter, ev->event) ||
	    !bson_iter_find_descendant(&iter, "operationDescription.indexes", &indexes) ||
	    !BSON_ITER_HOLDS_ARRAY(&indexes) || !bson_iter_recurse(&indexes, &iter)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "cannot replay seq %" PRId64 ": '%s' event without "
			      "operationDescription.indexes",
			      ev->first_seq, ev->operation_type);
		return false;
	}
	while (bson_iter_next(&iter)) {
		bson_t spec;
		const uint8_t *data;
		uint32_t len;

		if (!BSON_ITER_HOLDS_DOCUMENT(&iter))
			continue;
		bson_iter_document(&iter, &len, &data);
		if (!bson_init_static(&spec, data, len) ||
		    !apply_index(a, ev, &spec, create, error))
			return false;
	}
	return true;
}

bool
replay_applier_apply(replay_applier_t *a, const replay_batch_t *batch, bson_error_t *error)
{
	apply_op_list_clear(&a->ops);
	for (size_t i = 0; i < batch->len; i++) {
		const replay_event_t *ev = &batch->events[i];

		if (ev->kind == APPLY_KIND_NOOP) {
			if (!apply_ddl(a, batch, ev, error))
				return false;
			continue;
		}
		a->ops_failed = false;
		if (!event_ops(a, batch, i, error)) {
			char *what;

			/* A refused write names its own event. */
			if (a->ops_failed || csm_error_is_stopped(error) ||
			    csm_error_is_transient(error, NULL))
				return false;
			what = replay_event_describe(ev);
			csm_error_prefix(error, "cannot replay %s on '%s.%s'", what, a->db,
					 a->coll);
			bson_free(what);
			return false;
		}
	}
	return apply_ops(a, batch, error);
}
