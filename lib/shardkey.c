/* Shard keys of target collections (shardkey.h). */
#include "shardkey.h"

#include <string.h>

#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "server_codes.h"

bson_t *
shardkey_read(mongoc_client_t *client, const char *db, const char *coll)
{
	mongoc_collection_t *config = mongoc_client_get_collection(client, "config", "collections");
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, projection;
	const bson_t *doc;
	bson_t *key = NULL;
	bson_error_t error;
	bson_iter_t it;
	char *ns = bson_strdup_printf("%s.%s", db, coll);
	mongoc_cursor_t *cursor = NULL;
	bson_t hello = BSON_INITIALIZER, reply;

	BSON_APPEND_UTF8(&filter, "_id", ns);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
	BSON_APPEND_INT32(&projection, "key", 1);
	bson_append_document_end(&opts, &projection);
	BSON_APPEND_INT32(&hello, "isMaster", 1);
	if (!mongoc_client_command_simple(client, "admin", &hello, NULL, &reply, NULL) ||
	    !bson_iter_init_find(&it, &reply, "msg") || !BSON_ITER_HOLDS_UTF8(&it) ||
	    strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") != 0)
		goto cleanup; /* no mongos: nothing is sharded */
	cursor = mongoc_collection_find_with_opts(config, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "key") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_iter_document(&it, &len, &data);
		key = bson_new_from_data(data, len);
	} else if (mongoc_cursor_error(cursor, &error)) {
		log_warn("cannot read the shard key of '%s' from config.collections: %s; "
			 "replaying without checking documentKeys against it",
			 ns, error.message);
	}
	mongoc_cursor_destroy(cursor);

cleanup:
	bson_destroy(&reply);
	bson_destroy(&hello);
	bson_destroy(&opts);
	bson_destroy(&filter);
	bson_free(ns);
	mongoc_collection_destroy(config);
	return key;
}

bool
shardkey_covered(const bson_t *key, const bson_t *document_key, const char *target_ns,
		 const char *what, bson_error_t *error)
{
	bson_iter_t field, found;
	char *key_json;

	bson_iter_init(&field, key);
	while (bson_iter_next(&field)) {
		if (bson_iter_init_find(&found, document_key, bson_iter_key(&field)))
			continue;
		key_json = bson_as_relaxed_extended_json(key, NULL);
		csm_error_set(
			error, CSM_EXIT_DATAERR,
			"cannot replay %s: the target '%s' is sharded on %s but the event's "
			"documentKey has no '%s' (the source is not sharded on that key, or the "
			"document lacks the field), so the target could not route the write; "
			"shard the target on the source's shard key, or only after the "
			"migration (README, \"Sharded clusters\")",
			what, target_ns, key_json, bson_iter_key(&field));
		bson_free(key_json);
		return false;
	}
	return true;
}

bool
shardkey_batch_routable(const bson_t *key, const char *target_ns, const replay_batch_t *batch,
			bson_error_t *error)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	bson_t document_key;

	for (size_t i = 0; key && i < batch->len; i++) {
		const replay_event_t *ev = &batch->events[i];
		if (ev->kind != APPLY_KIND_DATA ||
		    !bson_iter_init_find(&it, ev->event, "documentKey") ||
		    !BSON_ITER_HOLDS_DOCUMENT(&it))
			continue; /* apply_event_ops names what is wrong with it */
		bson_iter_document(&it, &len, &data);
		bson_init_static(&document_key, data, len);
		char *what = replay_event_describe(ev);
		bool ok = shardkey_covered(key, &document_key, target_ns, what, error);
		bson_free(what);
		if (!ok)
			return false;
	}
	return true;
}

bool
shardkey_upsert_met_id(bool upsert, const bson_t *filter, const bson_t *werr)
{
	bson_iter_t it, sub;

	if (!upsert || !bson_iter_init(&it, filter) || !bson_iter_next(&it) || !bson_iter_next(&it))
		return false; /* a filter of _id alone cannot meet another _id */
	if (!bson_iter_init_find(&it, werr, "code") || !BSON_ITER_HOLDS_NUMBER(&it) ||
	    bson_iter_as_int64(&it) != SERVER_DUPLICATE_KEY)
		return false;
	if (!bson_iter_init_find(&it, werr, "keyPattern") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &sub) || !bson_iter_next(&sub))
		return false;
	return strcmp(bson_iter_key(&sub), "_id") == 0 && !bson_iter_next(&sub);
}
