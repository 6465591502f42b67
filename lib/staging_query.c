/* Reads of staged documents for operators and upkeep (staging_query.h). */
#include "staging_query.h"

#include "bsonfield.h"
#include "error.h"
#include "staging_format.h"

static void
append_filter(bson_t *filter, const char *ns, const char *status)
{
	BSON_APPEND_UTF8(filter, STAGED_F_NS, ns);
	if (status)
		BSON_APPEND_UTF8(filter, STAGED_F_STATUS, status);
}

bool
staging_query_edge(mongoc_collection_t *staging, const char *ns, const char *status, bool newest,
		   int64_t *seq, bson_t *doc, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, projection;
	mongoc_cursor_t *cursor;
	const bson_t *found;
	bool ok = true;

	*seq = 0;
	append_filter(&filter, ns, status);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, STAGED_F_SEQ, newest ? -1 : 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
	BSON_APPEND_INT32(&projection, STAGED_F_EVENT, 0);
	BSON_APPEND_INT32(&projection, STAGED_F_EVENT_BYTES, 0);
	bson_append_document_end(&opts, &projection);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(staging, &filter, &opts, NULL);
	/* A document without a seq counts as none (it is never copied). */
	if (mongoc_cursor_next(cursor, &found)) {
		*seq = bsonfield_int64(found, STAGED_F_SEQ, 0);
		if (doc && *seq > 0)
			bson_copy_to(found, doc);
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the staged events of '%s'", ns);
		if (doc && *seq)
			bson_destroy(doc);
		*seq = 0;
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
staging_query_count(mongoc_collection_t *staging, const char *ns, const char *status, int64_t *n,
		    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;

	append_filter(&filter, ns, status);
	*n = mongoc_collection_count_documents(staging, &filter, NULL, NULL, NULL, error);
	if (*n < 0)
		csm_error_prefix(error, "cannot count the staged events of '%s'", ns);
	bson_destroy(&filter);
	return *n >= 0;
}
