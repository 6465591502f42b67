/* Deleting old done staged events (staging_purge.h). */
#include "staging_purge.h"

#include "bsonfield.h"
#include "error.h"
#include "staging_format.h"
#include "staging_query.h"

/* The delete of [low, high) among the done documents applied before before_ms. */
static bool
delete_range(mongoc_collection_t *staging, const char *ns, int64_t low, int64_t high,
	     int64_t before_ms, int64_t *deleted, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, reply, range, older;
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bool ok;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
	BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, STAGING_STATUS_DONE);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
	BSON_APPEND_INT64(&range, "$gte", low);
	BSON_APPEND_INT64(&range, "$lt", high);
	bson_append_document_end(&filter, &range);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_APPLIED_AT, &older);
	BSON_APPEND_DATE_TIME(&older, "$lt", before_ms);
	bson_append_document_end(&filter, &older);
	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	mongoc_write_concern_append(wc, &opts);
	ok = mongoc_collection_delete_many(staging, &filter, &opts, &reply, error);
	if (ok)
		*deleted = bsonfield_int64(&reply, "deletedCount", 0);
	else
		csm_error_keep_transient(error, &reply);
	bson_destroy(&reply);
	mongoc_write_concern_destroy(wc);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
staging_purge_batch(mongoc_collection_t *staging, const char *ns, int64_t applied_before_ms,
		    int64_t *deleted, bool *more, bson_error_t *error)
{
	int64_t oldest, newest, high;

	*deleted = 0;
	*more = false;
	if (!staging_query_edge(staging, ns, STAGING_STATUS_DONE, true, &newest, NULL, error) ||
	    !staging_query_edge(staging, ns, STAGING_STATUS_DONE, false, &oldest, NULL, error))
		return false;
	if (oldest <= 0 || oldest >= newest)
		return true;
	high = newest - oldest > STAGING_PURGE_BATCH ? oldest + STAGING_PURGE_BATCH : newest;
	if (!delete_range(staging, ns, oldest, high, applied_before_ms, deleted, error)) {
		csm_error_prefix(error,
				 "cannot delete applied events of '%s' (seq %" PRId64 "..%" PRId64
				 ")",
				 ns, oldest, high - 1);
		return false;
	}
	*more = high<newest && * deleted> 0;
	return true;
}
