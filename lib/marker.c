#include "marker.h"

#include <string.h>

#include "error.h"
#include "staging_format.h"

void
restore_marker_init(restore_marker_t *marker)
{
	memset(marker, 0, sizeof *marker);
	bson_init(&marker->deferred_indexes);
}

void
restore_marker_cleanup(restore_marker_t *marker)
{
	bson_free(marker->ns);
	bson_free(marker->source_ns);
	bson_destroy(&marker->deferred_indexes);
	memset(marker, 0, sizeof *marker);
}

char *
marker_meta_coll_name(const char *staging)
{
	return bson_strdup_printf("%s%s", staging, STAGING_META_SUFFIX);
}

static void
marker_from_bson(const bson_t *doc, restore_marker_t *marker)
{
	bson_iter_t iter;

	restore_marker_init(marker);
	if (bson_iter_init_find(&iter, doc, "ns") && BSON_ITER_HOLDS_UTF8(&iter))
		marker->ns = bson_strdup(bson_iter_utf8(&iter, NULL));
	if (bson_iter_init_find(&iter, doc, "sourceNs") && BSON_ITER_HOLDS_UTF8(&iter))
		marker->source_ns = bson_strdup(bson_iter_utf8(&iter, NULL));
	if (bson_iter_init_find(&iter, doc, "completedAt") && BSON_ITER_HOLDS_DATE_TIME(&iter))
		marker->completed_at_ms = bson_iter_date_time(&iter);
	if (bson_iter_init_find(&iter, doc, "documents") && BSON_ITER_HOLDS_NUMBER(&iter))
		marker->documents = bson_iter_as_int64(&iter);
	if (bson_iter_init_find(&iter, doc, "dumpEndTime") && BSON_ITER_HOLDS_TIMESTAMP(&iter)) {
		bson_iter_timestamp(&iter, &marker->dump_end_t, &marker->dump_end_i);
		marker->has_dump_end = true;
	}
	if (bson_iter_init_find(&iter, doc, "deferredIndexes") && BSON_ITER_HOLDS_ARRAY(&iter)) {
		uint32_t len;
		const uint8_t *data;
		bson_t view;

		bson_iter_array(&iter, &len, &data);
		if (bson_init_static(&view, data, len)) {
			bson_destroy(&marker->deferred_indexes);
			bson_copy_to(&view, &marker->deferred_indexes);
		}
	}
}

bool
marker_find(mongoc_client_t *client, const char *db, const char *staging, const char *target_ns,
	    restore_marker_t *marker, bool *found, bson_error_t *error)
{
	char *coll_name = marker_meta_coll_name(staging);
	char *id = bson_strdup_printf("%s%s", STAGING_RESTORE_ID_PREFIX, target_ns);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, coll_name);
	mongoc_read_concern_t *read_concern = mongoc_read_concern_new();
	mongoc_cursor_t *cursor = NULL;
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	const bson_t *doc;
	bool ok = false;

	*found = false;
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_INT64(&opts, "limit", 1);
	/* A marker is only worth trusting once it is majority-committed. */
	mongoc_read_concern_set_level(read_concern, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
	mongoc_read_concern_append(read_concern, &opts);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		*found = true;
		if (marker != NULL)
			marker_from_bson(doc, marker);
	}
	if (mongoc_cursor_error(cursor, error)) {
		if (*found && marker != NULL)
			restore_marker_cleanup(marker);
		*found = false;
		goto cleanup;
	}
	ok = true;

cleanup:
	mongoc_cursor_destroy(cursor);
	mongoc_read_concern_destroy(read_concern);
	bson_destroy(&opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	bson_free(id);
	bson_free(coll_name);
	return ok;
}

bool
marker_write(mongoc_client_t *client, const char *db, const char *staging,
	     const restore_marker_t *marker, bson_error_t *error)
{
	char *coll_name = marker_meta_coll_name(staging);
	char *id = bson_strdup_printf("%s%s", STAGING_RESTORE_ID_PREFIX, marker->ns);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, coll_name);
	mongoc_write_concern_t *write_concern = mongoc_write_concern_new();
	bson_t selector = BSON_INITIALIZER;
	bson_t doc = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&selector, "_id", id);
	BSON_APPEND_UTF8(&doc, "_id", id);
	BSON_APPEND_UTF8(&doc, "ns", marker->ns);
	if (marker->source_ns != NULL)
		BSON_APPEND_UTF8(&doc, "sourceNs", marker->source_ns);
	BSON_APPEND_DATE_TIME(&doc, "completedAt", marker->completed_at_ms);
	BSON_APPEND_INT64(&doc, "documents", marker->documents);
	if (marker->has_dump_end)
		BSON_APPEND_TIMESTAMP(&doc, "dumpEndTime", marker->dump_end_t, marker->dump_end_i);
	BSON_APPEND_ARRAY(&doc, "deferredIndexes", &marker->deferred_indexes);
	mongoc_write_concern_set_wmajority(write_concern, 0);
	mongoc_write_concern_set_journal(write_concern, true);
	mongoc_write_concern_append(write_concern, &opts);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_replace_one(coll, &selector, &doc, &opts, NULL, error);
	bson_destroy(&opts);
	bson_destroy(&doc);
	bson_destroy(&selector);
	mongoc_write_concern_destroy(write_concern);
	mongoc_collection_destroy(coll);
	bson_free(id);
	bson_free(coll_name);
	return ok;
}
