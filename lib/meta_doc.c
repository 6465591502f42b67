/* One meta document by _id (meta_doc.h). */
#include "meta_doc.h"

#include "staging_format.h"

bool
meta_doc_read(mongoc_collection_t *meta, const char *id, bson_t *doc, bool *found,
	      bson_error_t *error)
{
	mongoc_read_concern_t *rc = mongoc_read_concern_new();
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *next;
	bool ok = true;

	bson_init(doc);
	*found = false;
	BSON_APPEND_UTF8(&filter, META_F_ID, id);
	BSON_APPEND_INT64(&opts, "limit", 1);
	mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
	mongoc_read_concern_append(rc, &opts);
	cursor = mongoc_collection_find_with_opts(meta, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &next)) {
		bson_destroy(doc);
		bson_copy_to(next, doc);
		*found = true;
	}
	if (mongoc_cursor_error(cursor, error)) {
		bson_reinit(doc);
		*found = false;
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	mongoc_read_concern_destroy(rc);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

void
meta_doc_durable(bson_t *opts)
{
	mongoc_write_concern_t *wc = mongoc_write_concern_new();

	mongoc_write_concern_set_wmajority(wc, 0);
	mongoc_write_concern_set_journal(wc, true);
	mongoc_write_concern_append(wc, opts);
	mongoc_write_concern_destroy(wc);
}
