/* Collection lookups in a server's catalog (catalog.h). */
#include "catalog.h"

#include <string.h>

#include "error.h"

bool
catalog_collection_info(mongoc_client_t *client, const char *db, const char *coll, bool *exists,
			bson_t *info, bson_error_t *error)
{
	mongoc_database_t *database = mongoc_client_get_database(client, db);
	bson_t opts = BSON_INITIALIZER;
	bson_t filter;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_iter_t iter;
	bool ok = true;

	*exists = false;
	if (info != NULL)
		bson_init(info);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
	BSON_APPEND_UTF8(&filter, "name", coll);
	bson_append_document_end(&opts, &filter);
	cursor = mongoc_database_find_collections_with_opts(database, &opts);
	while (mongoc_cursor_next(cursor, &doc)) {
		/* Checked here too, in case a server ignores the filter. */
		if (*exists || !bson_iter_init_find(&iter, doc, "name") ||
		    !BSON_ITER_HOLDS_UTF8(&iter) || strcmp(bson_iter_utf8(&iter, NULL), coll) != 0)
			continue;
		*exists = true;
		if (info != NULL) {
			bson_destroy(info);
			bson_copy_to(doc, info);
		}
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot list the collections of '%s'", db);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	mongoc_database_destroy(database);
	return ok;
}

bool
catalog_source_collection(mongoc_client_t *client, const char *db, const char *coll, bson_t *info,
			  bson_error_t *error)
{
	bool exists = false;

	if (!catalog_collection_info(client, db, coll, &exists, info, error))
		return false;
	if (exists)
		return true;
	csm_error_set(error, CSM_EXIT_NOINPUT,
		      "no collection '%s.%s' on the source: check the database and collection "
		      "names",
		      db, coll);
	return false;
}

bool
catalog_list_collections(mongoc_client_t *client, const char *db, char ***names, size_t *n,
			 bson_error_t *error)
{
	mongoc_database_t *database = mongoc_client_get_database(client, db);
	mongoc_cursor_t *cursor = mongoc_database_find_collections_with_opts(database, NULL);
	const bson_t *doc;
	bson_iter_t name, type;
	bool ok = true;

	while (mongoc_cursor_next(cursor, &doc)) {
		if (!bson_iter_init_find(&name, doc, "name") || !BSON_ITER_HOLDS_UTF8(&name) ||
		    !strncmp(bson_iter_utf8(&name, NULL), "system.", 7))
			continue;
		if (bson_iter_init_find(&type, doc, "type") && BSON_ITER_HOLDS_UTF8(&type) &&
		    strcmp(bson_iter_utf8(&type, NULL), "collection") != 0)
			continue;
		*names = bson_realloc(*names, (*n + 2) * sizeof **names);
		(*names)[(*n)++] = bson_strdup(bson_iter_utf8(&name, NULL));
		(*names)[*n] = NULL;
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot list the collections of '%s'", db);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	mongoc_database_destroy(database);
	return ok;
}

bool
catalog_post_images(mongoc_client_t *client, const char *db, const char *coll, bool *exists,
		    bool *enabled, bson_error_t *error)
{
	bson_t info;
	bson_iter_t iter;
	bool ok = catalog_collection_info(client, db, coll, exists, &info, error);

	*enabled = ok && *exists && bson_iter_init(&iter, &info) &&
		   bson_iter_find_descendant(&iter, "options.changeStreamPreAndPostImages.enabled",
					     &iter) &&
		   BSON_ITER_HOLDS_BOOL(&iter) && bson_iter_bool(&iter);
	bson_destroy(&info);
	return ok;
}
