/* The restore marker codec (marker.h). */
#include "marker.h"

#include <string.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "meta_doc.h"
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

static char *
marker_id(const char *target_ns)
{
	return bson_strdup_printf("%s%s", STAGING_RESTORE_ID_PREFIX, target_ns);
}

static void
marker_from_bson(const bson_t *doc, restore_marker_t *marker)
{
	bson_iter_t iter;

	restore_marker_init(marker);
	marker->ns = bsonfield_utf8_dup(doc, META_F_NS);
	marker->source_ns = bsonfield_utf8_dup(doc, META_F_SOURCE_NS);
	marker->completed_at_ms = bsonfield_date(doc, META_F_COMPLETED_AT);
	if (bson_iter_init_find(&iter, doc, META_F_DOCUMENTS) && BSON_ITER_HOLDS_NUMBER(&iter))
		marker->documents = bson_iter_as_int64(&iter);
	optime_from_doc(doc, META_F_DUMP_END_TIME, &marker->dump_end);
	if (bson_iter_init_find(&iter, doc, META_F_DEFERRED_INDEXES) &&
	    BSON_ITER_HOLDS_ARRAY(&iter)) {
		uint32_t len;
		const uint8_t *data;
		bson_t view;

		bson_iter_array(&iter, &len, &data);
		if (bson_init_static(&view, data, len)) {
			bson_destroy(&marker->deferred_indexes);
			bson_copy_to(&view, &marker->deferred_indexes);
		}
	}
	marker->unique_created_ms = bsonfield_date(doc, META_F_UNIQUE_CREATED_AT);
	marker->ttl_created_ms = bsonfield_date(doc, META_F_TTL_CREATED_AT);
}

bool
marker_read(mongoc_collection_t *meta, const char *target_ns, restore_marker_t *marker, bool *found,
	    bson_error_t *error)
{
	char *id = marker_id(target_ns);
	bson_t doc;
	bool ok;

	ok = meta_doc_read(meta, id, &doc, found, error);
	if (ok && *found && marker != NULL)
		marker_from_bson(&doc, marker);
	bson_destroy(&doc);
	bson_free(id);
	return ok;
}

bool
marker_write(mongoc_collection_t *meta, const restore_marker_t *marker, bson_error_t *error)
{
	char *id = marker_id(marker->ns);
	bson_t selector = BSON_INITIALIZER;
	bson_t doc = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&selector, META_F_ID, id);
	BSON_APPEND_UTF8(&doc, META_F_ID, id);
	BSON_APPEND_UTF8(&doc, META_F_NS, marker->ns);
	if (marker->source_ns != NULL)
		BSON_APPEND_UTF8(&doc, META_F_SOURCE_NS, marker->source_ns);
	BSON_APPEND_DATE_TIME(&doc, META_F_COMPLETED_AT, marker->completed_at_ms);
	BSON_APPEND_INT64(&doc, META_F_DOCUMENTS, marker->documents);
	if (!optime_is_zero(marker->dump_end))
		optime_append(&doc, META_F_DUMP_END_TIME, marker->dump_end);
	BSON_APPEND_ARRAY(&doc, META_F_DEFERRED_INDEXES, &marker->deferred_indexes);
	if (marker->unique_created_ms)
		BSON_APPEND_DATE_TIME(&doc, META_F_UNIQUE_CREATED_AT, marker->unique_created_ms);
	if (marker->ttl_created_ms)
		BSON_APPEND_DATE_TIME(&doc, META_F_TTL_CREATED_AT, marker->ttl_created_ms);
	meta_doc_durable(&opts);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_replace_one(meta, &selector, &doc, &opts, NULL, error);
	bson_destroy(&opts);
	bson_destroy(&doc);
	bson_destroy(&selector);
	bson_free(id);
	return ok;
}

bool
marker_set_created(mongoc_collection_t *meta, const char *target_ns, bool ttl, bson_error_t *error)
{
	char *id = marker_id(target_ns);
	const char *field = ttl ? META_F_TTL_CREATED_AT : META_F_UNIQUE_CREATED_AT;
	bson_t filter = BSON_INITIALIZER;
	bson_t update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t set;
	bool ok;

	BSON_APPEND_UTF8(&filter, META_F_ID, id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, field, clock_wall_ms());
	bson_append_document_end(&update, &set);
	meta_doc_durable(&opts);
	ok = mongoc_collection_update_one(meta, &filter, &update, &opts, NULL, error);
	if (!ok)
		csm_error_prefix(error, "cannot set %s in the restore marker '%s'", field, id);
	bson_destroy(&opts);
	bson_destroy(&update);
	bson_destroy(&filter);
	bson_free(id);
	return ok;
}
