/*
 * The staging collection writer (staging.h). Document layout:
 * staging_format.h.
 */
#include <string.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "staging.h"
#include "staging_format.h"

struct staging {
	mongoc_client_t *target; /* borrowed */
	mongoc_collection_t *coll;
	mongoc_collection_t *meta;
	mongoc_write_concern_t *wc;
	char *db;
	char *full_name; /* db.staging */
	char *ns;
	/* Carried to split fragments that lack them (see staging.h). */
	char carry_optype[64];
	optime_t carry_cluster_time;
	int64_t carry_wall_ms;
};

staging_t *
staging_new(mongoc_client_t *target, const char *db, const char *staging_coll, const char *ns,
	    bson_error_t *error)
{
	staging_t *st;
	char *meta_name;

	if (!db || !*db || strchr(db, '.') || strchr(db, '/') || strchr(db, ' ')) {
		csm_error_set(error, CSM_EXIT_USAGE, "invalid database name '%s'", db ? db : "");
		return NULL;
	}
	if (!staging_coll || !*staging_coll || strchr(staging_coll, '$')) {
		csm_error_set(error, CSM_EXIT_USAGE, "invalid staging collection name '%s'",
			      staging_coll ? staging_coll : "");
		return NULL;
	}
	st = bson_malloc0(sizeof *st);
	st->target = target;
	st->db = bson_strdup(db);
	st->ns = bson_strdup(ns);
	st->full_name = bson_strdup_printf("%s.%s", db, staging_coll);
	meta_name = bson_strdup_printf("%s%s", staging_coll, STAGING_META_SUFFIX);
	st->coll = mongoc_client_get_collection(target, db, staging_coll);
	st->meta = mongoc_client_get_collection(target, db, meta_name);
	bson_free(meta_name);
	st->wc = mongoc_write_concern_new();
	mongoc_write_concern_set_wmajority(st->wc, 0);
	mongoc_write_concern_set_journal(st->wc, true);
	return st;
}

void
staging_destroy(staging_t *st)
{
	if (!st)
		return;
	mongoc_write_concern_destroy(st->wc);
	mongoc_collection_destroy(st->meta);
	mongoc_collection_destroy(st->coll);
	bson_free(st->full_name);
	bson_free(st->ns);
	bson_free(st->db);
	bson_free(st);
}

const char *
staging_full_name(const staging_t *st)
{
	return st->full_name;
}

mongoc_collection_t *
staging_meta(const staging_t *st)
{
	return st->meta;
}

bool
staging_ensure_indexes(staging_t *st, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, opts = BSON_INITIALIZER, reply;
	bson_t indexes, index, key;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "createIndexes", mongoc_collection_get_name(st->coll));
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
	BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
	BSON_APPEND_INT32(&key, STAGED_F_NS, 1);
	BSON_APPEND_INT32(&key, STAGED_F_STATUS, 1);
	BSON_APPEND_INT32(&key, STAGED_F_SEQ, 1);
	bson_append_document_end(&index, &key);
	BSON_APPEND_UTF8(&index, "name", "ns_1_status_1_seq_1");
	bson_append_document_end(&indexes, &index);
	BSON_APPEND_DOCUMENT_BEGIN(&indexes, "1", &index);
	BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
	BSON_APPEND_INT32(&key, STAGED_F_NS, 1);
	BSON_APPEND_INT32(&key, STAGED_F_SEQ, 1);
	bson_append_document_end(&index, &key);
	BSON_APPEND_UTF8(&index, "name", "ns_1_seq_1");
	BSON_APPEND_BOOL(&index, "unique", true);
	bson_append_document_end(&indexes, &index);
	bson_append_array_end(&cmd, &indexes);
	mongoc_write_concern_append(st->wc, &opts);

	ok = mongoc_collection_write_command_with_opts(st->coll, &cmd, &opts, &reply, error);
	if (!ok)
		csm_error_prefix(error, "cannot create the indexes of staging collection '%s'",
				 st->full_name);
	bson_destroy(&reply);
	bson_destroy(&opts);
	bson_destroy(&cmd);
	return ok;
}

void
staging_last_init(staging_last_t *last)
{
	memset(last, 0, sizeof *last);
	bson_init(&last->token);
	last->chunk_index = -1;
}

void
staging_last_cleanup(staging_last_t *last)
{
	bson_destroy(&last->token);
	staging_last_init(last);
}

bool
staging_read_last(staging_t *st, staging_last_t *last, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, child;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_iter_t it, sub;
	bool ok = true;

	staging_last_cleanup(last);
	BSON_APPEND_UTF8(&filter, STAGED_F_NS, st->ns);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &child);
	BSON_APPEND_INT32(&child, STAGED_F_SEQ, -1);
	bson_append_document_end(&opts, &child);
	BSON_APPEND_INT64(&opts, "limit", 1);
	/* The event itself may be 16 MiB: leave it on the server. */
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &child);
	BSON_APPEND_INT32(&child, STAGED_F_EVENT, 0);
	BSON_APPEND_INT32(&child, STAGED_F_EVENT_BYTES, 0);
	bson_append_document_end(&opts, &child);

	cursor = mongoc_collection_find_with_opts(st->coll, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		last->seq = bsonfield_int64(doc, STAGED_F_SEQ, 0);
		bsonfield_document(doc, STAGED_F_TOKEN, &last->token);
		optime_from_doc(doc, STAGED_F_CLUSTER_TIME, &last->cluster_time);
		last->wall_ms = bsonfield_date(doc, STAGED_F_WALL_TIME);
		last->staged_at_ms = bsonfield_date(doc, STAGED_F_STAGED_AT);
		bsonfield_utf8(doc, STAGED_F_OPERATION_TYPE, last->operation_type,
			       sizeof last->operation_type);
		if (bson_iter_init_find(&it, doc, STAGED_F_CHUNK) &&
		    BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub)) {
			while (bson_iter_next(&sub)) {
				if (!strcmp(bson_iter_key(&sub), STAGED_F_CHUNK_INDEX))
					last->chunk_index = (int32_t)bson_iter_as_int64(&sub);
				else if (!strcmp(bson_iter_key(&sub), STAGED_F_CHUNK_OF))
					last->chunk_of = (int32_t)bson_iter_as_int64(&sub);
			}
		}
		if (last->seq < 1) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "staging collection '%s' holds a document of '%s' without a "
				      "valid seq; fix or remove it",
				      st->full_name, st->ns);
			ok = false;
		}
	}
	if (ok && mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the highest staged seq of '%s' in '%s'",
				 st->ns, st->full_name);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
staging_repair_tail(staging_t *st, int64_t *removed, bson_error_t *error)
{
	staging_last_t last;
	bson_t selector = BSON_INITIALIZER, opts = BSON_INITIALIZER, reply, child;
	bson_iter_t it;
	bool ok;

	*removed = 0;
	staging_last_init(&last);
	ok = staging_read_last(st, &last, error);
	if (!ok || last.seq == 0 || last.chunk_index < 0 || last.chunk_index >= last.chunk_of - 1)
		goto done;
	BSON_APPEND_UTF8(&selector, STAGED_F_NS, st->ns);
	BSON_APPEND_DOCUMENT_BEGIN(&selector, STAGED_F_SEQ, &child);
	BSON_APPEND_INT64(&child, "$gte", last.seq - last.chunk_index);
	bson_append_document_end(&selector, &child);
	mongoc_write_concern_append(st->wc, &opts);
	ok = mongoc_collection_delete_many(st->coll, &selector, &opts, &reply, error);
	if (!ok)
		csm_error_prefix(error, "cannot remove the incomplete chunks of '%s' from '%s'",
				 st->ns, st->full_name);
	else if (bson_iter_init_find(&it, &reply, "deletedCount"))
		*removed = bson_iter_as_int64(&it);
	bson_destroy(&reply);
done:
	bson_destroy(&opts);
	bson_destroy(&selector);
	staging_last_cleanup(&last);
	return ok;
}

void
staging_batch_init(staging_batch_t *batch, int64_t next_seq)
{
	memset(batch, 0, sizeof *batch);
	bson_init(&batch->last_token);
	batch->first_seq = next_seq;
	batch->next_seq = next_seq;
}

void
staging_batch_reset(staging_batch_t *batch)
{
	size_t i;

	for (i = 0; i < batch->n; i++)
		bson_destroy(batch->docs[i]);
	batch->n = batch->done = batch->events = batch->bytes = 0;
	batch->first_seq = batch->next_seq;
	batch->first_added_ms = 0;
}

void
staging_batch_destroy(staging_batch_t *batch)
{
	staging_batch_reset(batch);
	bson_free(batch->docs);
	bson_destroy(&batch->last_token);
	memset(batch, 0, sizeof *batch);
}

static void
batch_push(staging_batch_t *batch, bson_t *doc)
{
	if (batch->n == batch->cap) {
		batch->cap = batch->cap ? batch->cap * 2 : 64;
		batch->docs = bson_realloc(batch->docs, batch->cap * sizeof *batch->docs);
	}
	batch->docs[batch->n++] = doc;
	batch->bytes += doc->len;
	batch->next_seq++;
}

/* The fields every staged document of one event (or part) starts with. */
static bson_t *
staged_head(staging_t *st, int64_t seq, const bson_t *token, const char *optype,
	    optime_t cluster_time, int64_t wall_ms)
{
	bson_t *doc = bson_new();
	bson_oid_t oid;

	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(doc, STAGED_F_ID, &oid);
	BSON_APPEND_UTF8(doc, STAGED_F_NS, st->ns);
	BSON_APPEND_INT64(doc, STAGED_F_SEQ, seq);
	BSON_APPEND_DOCUMENT(doc, STAGED_F_TOKEN, token);
	if (cluster_time.t)
		optime_append(doc, STAGED_F_CLUSTER_TIME, cluster_time);
	if (wall_ms)
		BSON_APPEND_DATE_TIME(doc, STAGED_F_WALL_TIME, wall_ms);
	if (optype[0])
		BSON_APPEND_UTF8(doc, STAGED_F_OPERATION_TYPE, optype);
	return doc;
}

static void
staged_tail(bson_t *doc, int64_t staged_at)
{
	BSON_APPEND_UTF8(doc, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	BSON_APPEND_DATE_TIME(doc, STAGED_F_STAGED_AT, staged_at);
}

/*
 * Reads the event's operationType, clusterTime and wallTime; fragments
 * 2..n of a split event carry only the remaining fields, so what is
 * missing comes from the previous fragment.
 */
static void
event_header(staging_t *st, const bson_t *event, char *optype, size_t optype_size,
	     optime_t *cluster_time, int64_t *wall_ms)
{
	bsonfield_utf8(event, EVENT_F_OPERATION_TYPE, optype, optype_size);
	*cluster_time = OPTIME_ZERO;
	optime_from_doc(event, EVENT_F_CLUSTER_TIME, cluster_time);
	*wall_ms = bsonfield_date(event, EVENT_F_WALL_TIME);
	if (!optype[0])
		bson_strncpy(optype, st->carry_optype, optype_size);
	else
		bson_strncpy(st->carry_optype, optype, sizeof st->carry_optype);
	if (!cluster_time->t)
		*cluster_time = st->carry_cluster_time;
	else
		st->carry_cluster_time = *cluster_time;
	if (!*wall_ms)
		*wall_ms = st->carry_wall_ms;
	else
		st->carry_wall_ms = *wall_ms;
}

/* Too big with the staging fields: stages the event's bytes in parts. */
static void
push_chunks(staging_t *st, staging_batch_t *batch, const bson_t *event, const bson_t *token,
	    const char *optype, optime_t cluster_time, int64_t wall_ms, int64_t staged_at)
{
	uint32_t k = (event->len + STAGING_CHUNK_BYTES - 1) / STAGING_CHUNK_BYTES;
	uint32_t i, off, len;
	bson_t *doc, chunk;

	for (i = 0, off = 0; i < k; i++, off += len) {
		len = event->len - off < STAGING_CHUNK_BYTES ? event->len - off
							     : STAGING_CHUNK_BYTES;
		doc = staged_head(st, batch->next_seq, token, optype, cluster_time, wall_ms);
		BSON_APPEND_DOCUMENT_BEGIN(doc, STAGED_F_CHUNK, &chunk);
		BSON_APPEND_INT32(&chunk, STAGED_F_CHUNK_INDEX, (int32_t)i);
		BSON_APPEND_INT32(&chunk, STAGED_F_CHUNK_OF, (int32_t)k);
		bson_append_document_end(doc, &chunk);
		BSON_APPEND_BINARY(doc, STAGED_F_EVENT_BYTES, BSON_SUBTYPE_BINARY,
				   bson_get_data(event) + off, len);
		staged_tail(doc, staged_at);
		batch_push(batch, doc);
	}
}

bool
staging_batch_add_event(staging_t *st, staging_batch_t *batch, const bson_t *event,
			bson_error_t *error)
{
	bson_t token = BSON_INITIALIZER;
	char optype[64];
	optime_t cluster_time;
	int64_t wall_ms, staged_at = clock_wall_ms();
	bson_t *doc;

	if (!bsonfield_document(event, EVENT_F_ID, &token)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "change event of '%s' has no resume token (_id); a $project "
			      "stage must not remove it",
			      st->ns);
		bson_destroy(&token);
		return false;
	}
	event_header(st, event, optype, sizeof optype, &cluster_time, &wall_ms);
	if (batch->events == 0)
		batch->first_added_ms = clock_mono_ms();

	doc = staged_head(st, batch->next_seq, &token, optype, cluster_time, wall_ms);
	BSON_APPEND_DOCUMENT(doc, STAGED_F_EVENT, event);
	staged_tail(doc, staged_at);
	if (doc->len <= BSON_MAX_DOC_SIZE) {
		batch_push(batch, doc);
	} else {
		bson_destroy(doc);
		push_chunks(st, batch, event, &token, optype, cluster_time, wall_ms, staged_at);
	}
	batch->events++;
	bson_destroy(&batch->last_token);
	bson_steal(&batch->last_token, &token);
	batch->last_cluster_time = cluster_time;
	batch->last_wall_ms = wall_ms;
	return true;
}

bool
staging_batch_insert(staging_t *st, staging_batch_t *batch, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER, reply;
	char cause[sizeof error->message];
	bool ok;

	if (batch->done >= batch->n)
		return true;
	BSON_APPEND_BOOL(&opts, "ordered", true);
	/* The documents are built here from events the server sent; the
	 * driver's key validation was over half of capture's CPU (bench). */
	BSON_APPEND_BOOL(&opts, "validate", false);
	mongoc_write_concern_append(st->wc, &opts);
	ok = mongoc_collection_insert_many(st->coll, (const bson_t **)(batch->docs + batch->done),
					   batch->n - batch->done, &opts, &reply, error);
	if (ok) {
		batch->done = batch->n;
	} else if (error->domain == MONGOC_ERROR_WRITE_CONCERN) {
		/*
		 * A write concern error means the documents are written but not
		 * yet known to be majority-committed: retrying (after resync)
		 * is always right, whatever its code.
		 */
		bson_strncpy(cause, error->message, sizeof cause);
		csm_error_set(error, CSM_EXIT_TEMPFAIL, "cannot stage events of '%s' into '%s': %s",
			      st->ns, st->full_name, cause);
	} else {
		/* Only this reply shows the retry labels. */
		csm_error_keep_transient(error, &reply);
		csm_error_prefix(error, "cannot stage events of '%s' into '%s'", st->ns,
				 st->full_name);
	}
	bson_destroy(&reply);
	bson_destroy(&opts);
	return ok;
}

static bool
doc_token_equals(const bson_t *doc, const bson_t *token)
{
	bson_t mine = BSON_INITIALIZER;
	bool same;

	same = bsonfield_document(doc, STAGED_F_TOKEN, &mine) && bson_equal(&mine, token);
	bson_destroy(&mine);
	return same;
}

bool
staging_batch_resync(staging_t *st, staging_batch_t *batch, bson_error_t *error)
{
	staging_last_t last;
	int64_t last_in_batch = batch->first_seq + (int64_t)batch->n - 1;
	bool ok = false;

	staging_last_init(&last);
	if (!staging_read_last(st, &last, error))
		goto done;
	if (last.seq < batch->first_seq - 1) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "staged events of '%s' up to seq %" PRId64 " are missing from '%s' "
			      "(highest is %" PRId64 "); were they deleted or rolled back? "
			      "migrate this collection again from init",
			      st->ns, batch->first_seq - 1, st->full_name, last.seq);
		goto done;
	}
	if (last.seq > last_in_batch ||
	    (last.seq >= batch->first_seq &&
	     !doc_token_equals(batch->docs[last.seq - batch->first_seq], &last.token))) {
		csm_error_set(error, CSM_EXIT_CANTCREAT,
			      "seq %" PRId64 " of '%s' in '%s' holds an event this capture did not "
			      "stage; is another cdc-capture running for '%s'? stop it",
			      last.seq, st->ns, st->full_name, st->ns);
		goto done;
	}
	batch->done = (size_t)(last.seq - (batch->first_seq - 1));
	ok = true;
done:
	staging_last_cleanup(&last);
	return ok;
}

void
staging_set_carry(staging_t *st, const staging_last_t *last)
{
	bson_strncpy(st->carry_optype, last->operation_type, sizeof st->carry_optype);
	st->carry_cluster_time = last->cluster_time;
	st->carry_wall_ms = last->wall_ms;
}
